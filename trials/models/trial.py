"""The trial: its fields, invariants and QuerySet (what the public may see, a trial by its address)."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import OuterRef, Q, Subquery
from django.urls import reverse
from simple_history.models import HistoricalRecords

from trials.constraints import TRIAL_CONSTRAINTS
from trials.models.lookups import Country, DiabetesTypeTerm, RouteTerm
from trials.models.revisions import Revisioned
from trials.status import StatusDisplay
from trials.vocabularies import (
    CellOrigin,
    CellSource,
    CurationState,
    DatePrecision,
    DateType,
    DifferentiationStage,
    Encapsulation,
    EnrollmentType,
    Immunosuppression,
    OverallStatus,
    Phase,
    SponsorClass,
    StudyType,
)

# --- The trial --------------------------------------------------------------------------------


class TrialQuerySet(models.QuerySet):
    def published(self):
        """Trials the public may see. Every public page, count and export starts here."""
        return self.filter(curation_state=CurationState.PUBLISHED)

    def with_primary_identifier(self):
        """Annotate `primary_identifier` (a correlated subquery, no extra query)."""
        from trials.models.parts import RegistryIdentifier  # defined after Trial, which it links to

        primary = RegistryIdentifier.objects.filter(trial=OuterRef("pk"), is_primary=True)
        return self.annotate(primary_identifier=Subquery(primary.values("value")[:1]))

    def by_public_key(self, key):
        """Filter to the trial whose primary identifier, or else whose slug, is `key` (one query when evaluated).

        Shaped for the indexes: both lookups are uncorrelated subqueries, run once, then the trial is read by its
        primary key (an OR of an EXISTS and the slug would scan every trial).
        """
        from trials.models.parts import RegistryIdentifier  # defined after Trial, which it links to

        primary = RegistryIdentifier.objects.filter(is_primary=True, value=key).values("trial_id")[:1]
        by_slug = Trial.objects.filter(slug=key).values("pk")[:1]
        return self.filter(Q(pk=Subquery(primary)) | Q(pk=Subquery(by_slug)))


class Trial(models.Model):
    # Who and what
    slug = models.SlugField(
        max_length=80,
        unique=True,
        help_text="Stable short name, used in the address while the trial has no registry identifier "
        "(e.g. vctx210). Never change it once published.",
    )
    brief_title = models.CharField(max_length=300, help_text="The registry's brief title, or a plain one.")
    official_title = models.TextField(blank=True, help_text="The full scientific title, as registered.")
    acronym = models.CharField(max_length=60, blank=True, help_text="e.g. FORWARD. Leave empty if none.")
    summary = models.TextField(
        blank=True,
        help_text="Plain-language summary for readers: what is tested, in whom, how. No promises of a cure.",
    )
    sponsor = models.CharField(max_length=300, blank=True, help_text="Lead sponsor, as the registry names it.")
    sponsor_class = models.CharField(
        max_length=20,
        choices=SponsorClass.choices,
        blank=True,
        help_text="ClinicalTrials.gov's class of the lead sponsor. Leave empty if not known.",
    )
    collaborators = models.TextField(blank=True, help_text="Collaborating organisations, one per line.")
    product_name = models.CharField(
        max_length=200, blank=True, help_text="The cell product's name or code, e.g. zimislecel (VX-880)."
    )
    # Who takes part
    diabetes_types = models.ManyToManyField(
        DiabetesTypeTerm, blank=True, related_name="trials", help_text="Every type of diabetes the trial enrols."
    )
    population_notes = models.TextField(blank=True, help_text="Who can take part: age, disease stage, criteria.")

    # Design and status
    study_type = models.CharField(
        max_length=20, choices=StudyType.choices, blank=True, help_text="As the registry gives it."
    )
    phase = models.CharField(
        max_length=20,
        choices=Phase.choices,
        blank=True,
        help_text="ClinicalTrials.gov phase; a combined phase (1/2, 2/3) is one value. Empty if no source gives it.",
    )
    overall_status = models.CharField(
        max_length=30,
        choices=OverallStatus.choices,
        blank=True,
        help_text="Recruitment status as the newest source gives it. Leave empty if no source gives one: "
        'readers then see "Status not recorded". Never guess.',
    )
    status_confirmed_on = models.DateField(
        null=True,
        blank=True,
        help_text="Date the status was last confirmed by a source (the registry's 'status verified' date, "
        "or the date of the newest source that gave the status). Not the date you reviewed the record. "
        "A month or a year only: give the 1st and its precision.",
    )
    status_confirmed_on_precision = models.CharField(
        "precision",
        max_length=5,
        choices=DatePrecision.choices,
        blank=True,
        help_text="How precise the confirmation date is (a source dated “March 2023” is a month). Required with a "
        "date.",
    )
    status_source = models.ForeignKey(
        "Source",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="the status's source",
        help_text="The source (listed below) that gave the status and its date. Save new sources first.",
    )
    why_stopped = models.CharField(
        max_length=300,
        blank=True,
        help_text="For a suspended, terminated or withdrawn trial: the reason its registry or sponsor gives.",
    )
    start_date = models.DateField(null=True, blank=True, help_text="Study start. Month or year precision: use the 1st.")
    start_date_precision = models.CharField(max_length=5, choices=DatePrecision.choices, blank=True)
    start_date_type = models.CharField(max_length=10, choices=DateType.choices, blank=True)
    primary_completion_date = models.DateField(
        null=True, blank=True, help_text="When the last participant is examined for the primary outcome."
    )
    primary_completion_date_precision = models.CharField(max_length=5, choices=DatePrecision.choices, blank=True)
    primary_completion_date_type = models.CharField(max_length=10, choices=DateType.choices, blank=True)
    completion_date = models.DateField(
        null=True, blank=True, help_text="Study completion (last visit of the last participant)."
    )
    completion_date_precision = models.CharField(max_length=5, choices=DatePrecision.choices, blank=True)
    completion_date_type = models.CharField(max_length=10, choices=DateType.choices, blank=True)
    enrollment = models.PositiveIntegerField(
        null=True, blank=True, help_text="Number of participants (actual or anticipated). Empty if not known."
    )
    enrollment_type = models.CharField(max_length=10, choices=EnrollmentType.choices, blank=True)
    enrollment_notes = models.CharField(
        max_length=300, blank=True, help_text="e.g. conflicting counts between sources."
    )
    countries = models.ManyToManyField(
        Country, blank=True, related_name="trials", help_text="Countries with at least one site."
    )
    registry_search_note = models.TextField(
        blank=True,
        help_text="For a trial without a registry identifier: which registries and sources were searched, so "
        "readers know it is not an oversight.",
    )

    # Cells, route, immunosuppression
    cell_source = models.CharField(
        max_length=20,
        choices=CellSource.choices,
        blank=True,
        help_text="Main source of the cells. Empty if not known; give combinations in the notes.",
    )
    cell_origin = models.CharField("autologous or allogeneic", max_length=20, choices=CellOrigin.choices, blank=True)
    differentiation = models.CharField(
        "differentiation stage",
        max_length=20,
        choices=DifferentiationStage.choices,
        blank=True,
        help_text="How far the cells are differentiated in the laboratory before they are given.",
    )
    cell_notes = models.TextField(
        blank=True, help_text="The cells as the sources describe them: line, tissue, dose, product form."
    )
    encapsulation = models.CharField(max_length=20, choices=Encapsulation.choices, blank=True)
    gene_edited = models.BooleanField(
        null=True,
        blank=True,
        help_text="Are the cells gene-edited (e.g. to evade the immune system)? Empty if unknown.",
    )
    routes = models.ManyToManyField(
        RouteTerm,
        blank=True,
        related_name="trials",
        help_text="How the cells are given; several if the trial uses several.",
    )
    route_notes = models.TextField(blank=True, help_text="The route as the sources describe it: dose, number of doses.")
    immunosuppression = models.CharField(
        max_length=20, choices=Immunosuppression.choices, default=Immunosuppression.UNKNOWN
    )
    immunosuppression_notes = models.TextField(blank=True, help_text="Agents and schedule, as the sources give them.")
    follow_up_months = models.PositiveSmallIntegerField(
        "follow-up (months)", null=True, blank=True, help_text="Planned follow-up of each participant, in months."
    )

    # Evidence
    key_results = models.TextField(
        blank=True, help_text="Results reported so far, with their source. Empty means no results reported."
    )
    public_caveats = models.TextField(
        blank=True,
        help_text="Shown to readers: conflicts between sources they should know about (e.g. “the paper reports 91 "
        "participants; the registry 103”). Working notes go in the curator notes.",
    )
    programme = models.CharField(
        max_length=200, blank=True, help_text="The programme or group of trials this one belongs to, if any."
    )
    programme_discontinued_on = models.DateField(
        "programme stopped by its sponsor on",
        null=True,
        blank=True,
        help_text="When the sponsor announced it stopped developing the product or programme, from a listed "
        "sponsor or news source. A month or a year only: give the 1st and its precision.",
    )
    programme_discontinued_on_precision = models.CharField(
        "precision", max_length=5, choices=DatePrecision.choices, blank=True
    )

    # Curation
    curation_state = models.CharField(max_length=10, choices=CurationState.choices, default=CurationState.DRAFT)
    last_reviewed_on = models.DateField(
        null=True,
        blank=True,
        help_text="Date a curator last checked the whole record against its sources.",
    )
    curator_notes = models.TextField(
        blank=True,
        help_text="Never shown to the public (not on any page, in the export or in a feed): what you checked, "
        "doubts, to-dos. Conflicts readers should see go in the public caveats.",
    )
    data_version = models.CharField(
        max_length=20,
        blank=True,
        editable=False,
        help_text="The version of the curated data file this record last took (see trials/data/README.md).",
    )
    data_fingerprint = models.CharField(
        max_length=32,
        blank=True,
        editable=False,
        help_text="The fingerprint of the data file's record this trial last took: it tells the loader whether a "
        "curator changed the trial since (trials/canonical.py).",
    )
    edit_version = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text="Goes up at every save of the trial or of one of its rows: a form opened at an older version cannot "
        "overwrite a newer save (trials/actions/edit_versions.py).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(m2m_fields=[countries, diabetes_types, routes], bases=[Revisioned])

    objects = TrialQuerySet.as_manager()

    class Meta:
        ordering = ["brief_title"]
        constraints = TRIAL_CONSTRAINTS
        indexes = [
            models.Index(fields=["curation_state", "last_reviewed_on"], name="trial_state_reviewed_idx"),
            models.Index(fields=["curation_state", "start_date"], name="trial_state_start_idx"),
            # The cache key of the public lists' counts reads max(updated_at): see trials.facets.data_version.
            models.Index(fields=["updated_at"], name="trial_updated_idx"),
            # The public lists' default order (sort=active) and the columns their filters and sorts read, for the
            # published trials alone: the page's ids come from this narrow index, not from the wide rows
            # (trials/views.py rows_in_order).
            models.Index(
                fields=["overall_status", "status_confirmed_on", "start_date", "id"],
                condition=models.Q(curation_state="PUBLISHED"),
                name="trial_published_order_idx",
            ),
            # The admin's trial list (every curation state): its default order, so that a page is read from the
            # index instead of sorting every wide row; and every column its filters' counts read, so that each
            # count reads this narrow index instead of the table (trials/admin/list_filters.py).
            models.Index(fields=["brief_title", "-id"], name="trial_title_order_idx"),
            models.Index(
                fields=[
                    "curation_state",
                    "overall_status",
                    "phase",
                    "cell_source",
                    "last_reviewed_on",
                    "status_confirmed_on",
                    "id",
                ],
                name="trial_admin_counts_idx",
            ),
        ]
        # Publishing is a separate right from editing: curators edit, editors publish (see setup_roles).
        permissions = [("publish_trial", "Can publish and unpublish trials")]

    def __str__(self):
        return self.brief_title

    def get_absolute_url(self):
        return reverse("trials:detail", args=[self.public_key])

    def clean(self):
        if self.status_source_id and self.status_source.trial_id != self.pk:
            raise ValidationError({"status_source": "Choose one of this trial's own sources."})

    @property
    def public_key(self):
        """The key of the trial's address: its primary identifier, or its slug when it has none.

        Uses the `primary_identifier` annotation when present (see TrialQuerySet); else queries.
        """
        if hasattr(self, "primary_identifier"):
            return self.primary_identifier or self.slug
        primary = self.identifiers.filter(is_primary=True).values_list("value", flat=True).first()
        return primary or self.slug

    def status_display(self, today=None):
        """The status as readers see it, after the staleness rule (see `StatusDisplay.for_trial`)."""
        return StatusDisplay.for_trial(self, today)

    @property
    def has_results(self):
        return bool(self.key_results.strip())
