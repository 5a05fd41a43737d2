"""The registry's models: trials, their registry identifiers, mechanism links, publications and sources, the
lookup tables of multi-valued vocabularies, and the registry updates found on ClinicalTrials.gov.

The database enforces every vocabulary (trials/vocabularies.py), the order of dates and non-negative enrollment
with named constraints. Reusable reads are QuerySet methods.
"""

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from mechanisms.models import Mechanism
from trials.constraints import TRIAL_CONSTRAINTS, in_choices
from trials.status import StatusDisplay
from trials.vocabularies import (
    IDENTIFIER_FORMATS,
    CellOrigin,
    CellSource,
    CurationState,
    DatePrecision,
    DateType,
    DiabetesType,
    DifferentiationStage,
    Encapsulation,
    EnrollmentType,
    Immunosuppression,
    MechanismRole,
    OutcomeMeasure,
    OverallStatus,
    Phase,
    PublicationKind,
    Registry,
    Route,
    SourceKind,
    SponsorClass,
    StudyType,
    TrialRelationKind,
    identifier_error,
    normalize_identifier,
)

# --- Lookup tables for multi-valued vocabularies -----------------------------------------------


class Country(models.Model):
    """A country (ISO 3166-1), loaded by a data migration."""

    code = models.CharField("ISO code", max_length=2, primary_key=True, help_text="ISO 3166-1 alpha-2, e.g. SE.")
    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "countries"
        constraints = [models.CheckConstraint(condition=Q(code__regex=r"^[A-Z]{2}$"), name="country_code_format")]

    def __str__(self):
        return self.name


class VocabularyTerm(models.Model):
    """A row per code of a multi-valued vocabulary, so trials can link to several (loaded by migration)."""

    vocabulary = None  # the TextChoices

    class Meta:
        abstract = True
        ordering = ["position"]

    def __str__(self):
        return self.label

    @property
    def label(self):
        return self.vocabulary(self.code).label


class DiabetesTypeTerm(VocabularyTerm):
    vocabulary = DiabetesType
    code = models.CharField(max_length=10, primary_key=True, choices=DiabetesType.choices)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta(VocabularyTerm.Meta):
        verbose_name = "diabetes type"
        constraints = [models.CheckConstraint(condition=in_choices("code", DiabetesType), name="diabetes_type_valid")]


class RouteTerm(VocabularyTerm):
    vocabulary = Route
    code = models.CharField(max_length=20, primary_key=True, choices=Route.choices)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta(VocabularyTerm.Meta):
        verbose_name = "route"
        constraints = [models.CheckConstraint(condition=in_choices("code", Route), name="route_valid")]


# --- The trial --------------------------------------------------------------------------------


class TrialQuerySet(models.QuerySet):
    def published(self):
        """Trials the public may see. Every public page, count and export starts here."""
        return self.filter(curation_state=CurationState.PUBLISHED)

    def with_primary_identifier(self):
        """Annotate `primary_identifier` (a correlated subquery, no extra query)."""
        primary = RegistryIdentifier.objects.filter(trial=OuterRef("pk"), is_primary=True)
        return self.annotate(primary_identifier=Subquery(primary.values("value")[:1]))

    def by_public_key(self, key):
        """Filter to the trial whose primary identifier, or else whose slug, is `key` (one query when evaluated).

        Shaped for the indexes: both lookups are uncorrelated subqueries, run once, then the trial is read by its
        primary key (an OR of an EXISTS and the slug would scan every trial).
        """
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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # PostgreSQL's full-text search document (titles, acronym, product, sponsor, summary, weighted A to D), kept up
    # to date by a database trigger (migration 0005) and GIN-indexed, so a search neither re-parses every trial nor
    # ranks from scratch. Never edited in Python; empty on SQLite, whose search matches words with icontains.
    search_document = SearchVectorField(null=True, editable=False)

    history = HistoricalRecords(m2m_fields=[countries, diabetes_types, routes], excluded_fields=["search_document"])

    objects = TrialQuerySet.as_manager()

    class Meta:
        ordering = ["brief_title"]
        constraints = TRIAL_CONSTRAINTS
        indexes = [
            models.Index(fields=["curation_state", "last_reviewed_on"], name="trial_state_reviewed_idx"),
            models.Index(fields=["curation_state", "start_date"], name="trial_state_start_idx"),
            # The cache key of the public lists' counts reads max(updated_at): see trials.facets.data_version.
            models.Index(fields=["updated_at"], name="trial_updated_idx"),
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


class RegistryIdentifier(models.Model):
    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="identifiers")
    registry = models.CharField(max_length=10, choices=Registry.choices, help_text="Which registry issued it.")
    value = models.CharField(
        "identifier",
        max_length=100,
        help_text="Exactly as the registry writes it, e.g. NCT04786262, 2017-002766-50, ChiCTR2300072200.",
    )
    is_primary = models.BooleanField(
        "primary",
        default=False,
        help_text="The identifier used in the trial's address. Prefer the NCT number when there is one.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["-is_primary", "registry", "value"]
        verbose_name = "registry identifier"
        constraints = [
            models.UniqueConstraint(fields=["value"], name="identifier_value_unique"),
            models.UniqueConstraint(
                fields=["trial"], condition=Q(is_primary=True), name="identifier_one_primary_per_trial"
            ),
            models.CheckConstraint(condition=in_choices("registry", Registry), name="identifier_registry_valid"),
            models.CheckConstraint(condition=~Q(value=""), name="identifier_value_not_empty"),
        ]
        indexes = [models.Index(fields=["trial", "is_primary"], name="identifier_trial_primary_idx")]

    def __str__(self):
        return self.value

    def clean(self):
        self.value = normalize_identifier(self.registry, self.value)
        if message := identifier_error(self.registry, self.value):
            raise ValidationError({"value": message})

    @property
    def url(self):
        fmt = IDENTIFIER_FORMATS.get(self.registry)
        return fmt.url.format(id=self.value) if fmt and fmt.url else ""


class TrialMechanism(models.Model):
    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="mechanism_links")
    mechanism = models.ForeignKey(Mechanism, on_delete=models.PROTECT, related_name="trial_links")
    role = models.CharField(
        max_length=15,
        choices=MechanismRole.choices,
        default=MechanismRole.PRIMARY,
        help_text="Primary: what the trial is designed to test. Contributing: an effect it may also rely on.",
    )
    rationale = models.TextField(
        help_text="Why this trial tests this mechanism, in a sentence or two, from its sources."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["mechanism__position"]
        verbose_name = "mechanism link"
        constraints = [
            models.UniqueConstraint(fields=["trial", "mechanism"], name="trial_mechanism_unique"),
            models.CheckConstraint(condition=in_choices("role", MechanismRole), name="trial_mechanism_role_valid"),
            models.CheckConstraint(condition=~Q(rationale=""), name="trial_mechanism_rationale_not_empty"),
        ]

    def __str__(self):
        return f"{self.mechanism} ({self.get_role_display().lower()})"


class Publication(models.Model):
    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="publications")
    citation = models.TextField(help_text="Authors, title, journal, year, volume and pages.")
    doi = models.CharField(
        "DOI", max_length=200, blank=True, help_text="Without the https://doi.org/ prefix, e.g. 10.1056/NEJMoa2506549."
    )
    pmid = models.CharField("PMID", max_length=10, blank=True, help_text="PubMed identifier: digits only.")
    journal = models.CharField(max_length=200, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    kind = models.CharField(
        max_length=20,
        choices=PublicationKind.choices,
        blank=True,
        help_text="Results (final), interim results, the protocol or design, or background (not this trial's results).",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["-year", "citation"]
        constraints = [
            models.CheckConstraint(
                condition=Q(pmid="") | Q(pmid__regex=r"^[0-9]{1,9}$"), name="publication_pmid_digits"
            ),
            models.CheckConstraint(condition=Q(doi="") | Q(doi__startswith="10."), name="publication_doi_format"),
            models.CheckConstraint(condition=Q(year__isnull=True) | Q(year__gte=1900), name="publication_year_valid"),
            models.CheckConstraint(
                condition=in_choices("kind", PublicationKind, blank=True), name="publication_kind_valid"
            ),
        ]

    def __str__(self):
        return self.citation[:80]

    @property
    def doi_url(self):
        return f"https://doi.org/{self.doi}" if self.doi else ""

    @property
    def pubmed_url(self):
        return f"https://pubmed.ncbi.nlm.nih.gov/{self.pmid}/" if self.pmid else ""


class Source(models.Model):
    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="sources")
    url = models.URLField("URL", max_length=500, help_text="Where the fact can be checked.")
    title = models.CharField(max_length=300, blank=True, help_text="The page's or document's title.")
    publisher = models.CharField(
        max_length=200, blank=True, help_text="Who publishes it, e.g. ClinicalTrials.gov, the sponsor, a journal."
    )
    kind = models.CharField(
        max_length=20,
        choices=SourceKind.choices,
        blank=True,
        help_text="Registry record: the registry's own page. Copy of a registry record: a third party's dated copy "
        "(also list the registry's own address). Publication, sponsor (its site or press release), news, or "
        "other (blogs, slides: never the only support of a fact). Never cite content farms or forums.",
    )
    source_date = models.DateField(
        "date",
        null=True,
        blank=True,
        help_text="Date of the source's content (last update, publication, release). A month or year: the 1st.",
    )
    date_precision = models.CharField(
        "precision", max_length=5, choices=DatePrecision.choices, blank=True, help_text="Required with a date."
    )
    date_notes = models.CharField(max_length=100, blank=True, help_text="A partial date, e.g. '2024 (data as of May)'.")
    used_for = models.TextField(help_text="What this source supports in the record.")

    history = HistoricalRecords()

    class Meta:
        ordering = ["-source_date", "url"]
        constraints = [
            models.CheckConstraint(condition=in_choices("kind", SourceKind, blank=True), name="source_kind_valid"),
            models.CheckConstraint(
                condition=Q(source_date__isnull=True, date_precision="")
                | (Q(source_date__isnull=False) & in_choices("date_precision", DatePrecision)),
                name="source_date_precision_given",
            ),
        ]

    def __str__(self):
        return self.title or self.url


class Site(models.Model):
    """A place where the trial runs, as its registry record (or a copy of it) lists it. Never a person."""

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="sites")
    facility = models.CharField(
        max_length=300,
        help_text="The hospital or institution, as the registry names it. Never a person's name, telephone "
        "number or e-mail address.",
    )
    city = models.CharField(max_length=100, blank=True)
    country = models.ForeignKey(Country, on_delete=models.PROTECT, related_name="+")

    history = HistoricalRecords()

    class Meta:
        ordering = ["country__name", "city", "facility"]
        constraints = [models.CheckConstraint(condition=~Q(facility=""), name="site_facility_not_empty")]

    def __str__(self):
        return ", ".join(part for part in (self.facility, self.city) if part)


class Outcome(models.Model):
    """A published result of the trial, for one measure: what was found, in how many, when, and where it says so."""

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="outcomes")
    measure = models.CharField(max_length=25, choices=OutcomeMeasure.choices)
    result = models.TextField(
        help_text="What was found, in plain words and as reported, e.g. “10 of 12 insulin-independent”."
    )
    n = models.PositiveIntegerField(
        "participants", null=True, blank=True, help_text="How many participants the result is about."
    )
    timepoint = models.CharField(max_length=100, blank=True, help_text="When it was measured, e.g. “day 365”.")
    publication = models.ForeignKey(
        Publication,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="outcomes",
        help_text="The publication that reports it (listed above); or give a source.",
    )
    source = models.ForeignKey(
        Source,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="outcomes",
        help_text="The source that reports it, when no publication does.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["id"]
        verbose_name = "published outcome"
        constraints = [
            models.CheckConstraint(condition=in_choices("measure", OutcomeMeasure), name="outcome_measure_valid"),
            models.CheckConstraint(condition=~Q(result=""), name="outcome_result_not_empty"),
        ]

    def __str__(self):
        return f"{self.get_measure_display()}: {self.result[:60]}"


class TrialRelation(models.Model):
    """Another trial related to this one: `related` is this trial's predecessor, successor, follow-up, or a trial of
    the same programme."""

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="related_links")
    related = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="+", verbose_name="related trial")
    relation = models.CharField(
        max_length=20,
        choices=TrialRelationKind.choices,
        help_text="What the related trial is to this one: its predecessor, its successor, a follow-up study of it, "
        "or a trial of the same programme.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["id"]
        verbose_name = "related trial"
        constraints = [
            models.UniqueConstraint(fields=["trial", "related"], name="trial_relation_unique"),
            models.CheckConstraint(condition=~Q(trial=models.F("related")), name="trial_relation_not_itself"),
            models.CheckConstraint(
                condition=in_choices("relation", TrialRelationKind), name="trial_relation_kind_valid"
            ),
        ]

    def __str__(self):
        return f"{self.get_relation_display()}: {self.related}"


# --- ClinicalTrials.gov import ----------------------------------------------------------------
# What an import or the daily check found different on ClinicalTrials.gov for a curated trial
# (see trials/ctgov/ and trials/actions/registry_updates.py). Curators accept
# it field by field or dismiss it; the trial's history says who changed what.


class RegistryUpdateStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    ACCEPTED = "ACCEPTED", "Accepted"
    DISMISSED = "DISMISSED", "Dismissed"
    SUPERSEDED = "SUPERSEDED", "Superseded by a newer check"


class RegistryUpdateOrigin(models.TextChoices):
    CTGOV = "CTGOV", "ClinicalTrials.gov"
    CURATED_DATA = "CURATED_DATA", "Curated data file"


class RegistryUpdateQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(status=RegistryUpdateStatus.PENDING)


class RegistryUpdate(models.Model):
    """Differences found for a curated trial, proposed field by field: from its ClinicalTrials.gov record (an
    import or the daily check), or from a newer version of the registry's curated data file for a trial a curator
    changed since it was loaded (trials/actions/initial_data.py)."""

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="registry_updates")
    origin = models.CharField(
        max_length=15,
        choices=RegistryUpdateOrigin.choices,
        default=RegistryUpdateOrigin.CTGOV,
        help_text="Where the differences come from.",
    )
    identifier = models.CharField(
        "NCT number",
        max_length=20,
        blank=True,
        help_text="The ClinicalTrials.gov record the differences come from (empty for the curated data file).",
    )
    changes = models.JSONField(
        help_text='Field by field: {"overall_status": {"old": "RECRUITING", "new": "COMPLETED"}}, values in the '
        "registry's data format (trials/data/README.md)."
    )
    source = models.CharField(max_length=200, help_text="Where the record was read: a file's name or the API.")
    registry_last_updated = models.DateField(
        null=True, blank=True, help_text="When ClinicalTrials.gov last updated its record."
    )
    status = models.CharField(max_length=10, choices=RegistryUpdateStatus.choices, default=RegistryUpdateStatus.PENDING)
    accepted_fields = models.JSONField(default=list, blank=True, help_text="The fields a curator accepted.")
    created_at = models.DateTimeField("found on", default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = RegistryUpdateQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "registry update"
        constraints = [
            models.CheckConstraint(
                condition=in_choices("status", RegistryUpdateStatus), name="registry_update_status_valid"
            ),
            models.CheckConstraint(
                condition=in_choices("origin", RegistryUpdateOrigin), name="registry_update_origin_valid"
            ),
            models.UniqueConstraint(
                fields=["trial", "origin"],
                condition=Q(status=RegistryUpdateStatus.PENDING),
                name="registry_update_one_pending_per_trial",
            ),
            models.CheckConstraint(
                condition=Q(status=RegistryUpdateStatus.PENDING, resolved_at__isnull=True)
                | (~Q(status=RegistryUpdateStatus.PENDING) & Q(resolved_at__isnull=False)),
                name="registry_update_resolved_when_not_pending",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="registry_update_status_idx")]

    def __str__(self):
        return f"{self.identifier or self.get_origin_display()}: {', '.join(self.changes)}"

    @property
    def field_names(self):
        """The fields that differ, in a curator's order (a JSON object's keys have none on PostgreSQL)."""
        from trials.canonical import FIELDS

        order = {field.name: position for position, field in enumerate(Trial._meta.get_fields())}
        fields = {name: position for position, name in enumerate(FIELDS)}
        return sorted(self.changes, key=lambda name: (order.get(name, len(order)), fields.get(name, len(fields))))

    @property
    def field_labels(self):
        """The names of the fields that differ, as curators read them."""
        from trials.canonical import field_label

        return [field_label(name) for name in self.field_names]
