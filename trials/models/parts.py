"""What a trial links to: registry identifiers, mechanism links, publications, sources, sites, published outcomes
and related trials."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from mechanisms.models import Mechanism
from trials.constraints import in_choices
from trials.models.lookups import Country
from trials.models.revisions import Revisioned
from trials.models.trial import Trial
from trials.vocabularies import (
    IDENTIFIER_FORMATS,
    DatePrecision,
    MechanismRole,
    OutcomeMeasure,
    PublicationKind,
    Registry,
    SourceKind,
    TrialRelationKind,
    identifier_error,
    normalize_identifier,
)


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

    history = HistoricalRecords(bases=[Revisioned])

    class Meta:
        ordering = ["-is_primary", "registry", "value"]
        verbose_name = "registry identifier"
        constraints = [
            models.UniqueConstraint(
                fields=["value"],
                name="identifier_value_unique",
                violation_error_message="This identifier is already in the registry, on another trial: each identifier "
                "belongs to one trial.",
            ),
            models.UniqueConstraint(
                fields=["trial"],
                condition=Q(is_primary=True),
                name="identifier_one_primary_per_trial",
                violation_error_message="Mark exactly one identifier as primary: the one used in the trial's address.",
            ),
            models.CheckConstraint(
                condition=in_choices("registry", Registry),
                name="identifier_registry_valid",
                violation_error_message="Choose the registry that issued the identifier from the list.",
            ),
            models.CheckConstraint(
                condition=~Q(value=""),
                name="identifier_value_not_empty",
                violation_error_message="Give the identifier, exactly as the registry writes it.",
            ),
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

    history = HistoricalRecords(bases=[Revisioned])

    class Meta:
        ordering = ["mechanism__position"]
        verbose_name = "mechanism link"
        constraints = [
            models.UniqueConstraint(
                fields=["trial", "mechanism"],
                name="trial_mechanism_unique",
                violation_error_message="This mechanism is already linked to the trial: link each mechanism once.",
            ),
            models.CheckConstraint(
                condition=in_choices("role", MechanismRole),
                name="trial_mechanism_role_valid",
                violation_error_message="Choose the mechanism's role from the list (primary or contributing).",
            ),
            models.CheckConstraint(
                condition=~Q(rationale=""),
                name="trial_mechanism_rationale_not_empty",
                violation_error_message="Say why the trial tests this mechanism, in a sentence from its sources.",
            ),
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

    history = HistoricalRecords(bases=[Revisioned])

    class Meta:
        ordering = ["-year", "citation"]
        constraints = [
            models.CheckConstraint(
                condition=Q(pmid="") | Q(pmid__regex=r"^[0-9]{1,9}$"),
                name="publication_pmid_digits",
                violation_error_message="A PubMed identifier (PMID) is digits only, e.g. 39361425.",
            ),
            models.CheckConstraint(
                condition=Q(doi="") | Q(doi__startswith="10."),
                name="publication_doi_format",
                violation_error_message="A DOI starts with 10., e.g. 10.1056/NEJMoa2506549 (without https://doi.org/).",
            ),
            models.CheckConstraint(
                condition=Q(year__isnull=True) | Q(year__gte=1900),
                name="publication_year_valid",
                violation_error_message="Give the year of publication, e.g. 2025.",
            ),
            models.CheckConstraint(
                condition=in_choices("kind", PublicationKind, blank=True),
                name="publication_kind_valid",
                violation_error_message="Choose the publication's kind from the list.",
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

    history = HistoricalRecords(bases=[Revisioned])

    class Meta:
        ordering = ["-source_date", "url"]
        constraints = [
            models.CheckConstraint(
                condition=in_choices("kind", SourceKind, blank=True),
                name="source_kind_valid",
                violation_error_message="Choose the source's kind from the list.",
            ),
            models.CheckConstraint(
                condition=Q(source_date__isnull=True, date_precision="")
                | (Q(source_date__isnull=False) & in_choices("date_precision", DatePrecision)),
                name="source_date_precision_given",
                violation_error_message="A source's date needs its precision (day, month or year), and a precision "
                "needs its date.",
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

    history = HistoricalRecords(bases=[Revisioned])

    class Meta:
        ordering = ["country__name", "city", "facility"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(facility=""),
                name="site_facility_not_empty",
                violation_error_message="Give the site's hospital or institution.",
            )
        ]

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

    history = HistoricalRecords(bases=[Revisioned])

    class Meta:
        ordering = ["id"]
        verbose_name = "published outcome"
        constraints = [
            models.CheckConstraint(
                condition=in_choices("measure", OutcomeMeasure),
                name="outcome_measure_valid",
                violation_error_message="Choose the outcome's measure from the list.",
            ),
            models.CheckConstraint(
                condition=~Q(result=""),
                name="outcome_result_not_empty",
                violation_error_message="Say what was found, as reported.",
            ),
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

    history = HistoricalRecords(bases=[Revisioned])

    class Meta:
        ordering = ["id"]
        verbose_name = "related trial"
        constraints = [
            models.UniqueConstraint(
                fields=["trial", "related"],
                name="trial_relation_unique",
                violation_error_message="This trial is already listed as related: list each related trial once.",
            ),
            models.CheckConstraint(
                condition=~Q(trial=models.F("related")),
                name="trial_relation_not_itself",
                violation_error_message="A trial cannot be related to itself: choose another trial.",
            ),
            models.CheckConstraint(
                condition=in_choices("relation", TrialRelationKind),
                name="trial_relation_kind_valid",
                violation_error_message="Choose the relation from the list.",
            ),
        ]

    def __str__(self):
        return f"{self.get_relation_display()}: {self.related}"
