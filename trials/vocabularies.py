"""The registry's vocabularies and identifier formats, with no database access.

Vocabularies are TextChoices whose stored values are stable codes (ClinicalTrials.gov's own, where it has one)
and whose labels are the plain words readers see. The database enforces each one with a named constraint
(trials/constraints.py). Registry identifiers: each registry's format, its canonical spelling and the message for
an identifier that does not fit.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.db import models

# --- Vocabularies -------------------------------------------------------------------------


class OverallStatus(models.TextChoices):
    """ClinicalTrials.gov's overall recruitment status (API v2 codes)."""

    NOT_YET_RECRUITING = "NOT_YET_RECRUITING", "Not yet recruiting"
    RECRUITING = "RECRUITING", "Recruiting"
    ENROLLING_BY_INVITATION = "ENROLLING_BY_INVITATION", "Enrolling by invitation"
    ACTIVE_NOT_RECRUITING = "ACTIVE_NOT_RECRUITING", "Active, not recruiting"
    SUSPENDED = "SUSPENDED", "Suspended"
    TERMINATED = "TERMINATED", "Terminated"
    COMPLETED = "COMPLETED", "Completed"
    WITHDRAWN = "WITHDRAWN", "Withdrawn"
    UNKNOWN = "UNKNOWN", "Unknown status"


class Phase(models.TextChoices):
    """ClinicalTrials.gov's phases; combined phases are single values."""

    EARLY_PHASE1 = "EARLY_PHASE1", "Early phase 1"
    PHASE1 = "PHASE1", "Phase 1"
    PHASE1_PHASE2 = "PHASE1_PHASE2", "Phase 1/2"
    PHASE2 = "PHASE2", "Phase 2"
    PHASE2_PHASE3 = "PHASE2_PHASE3", "Phase 2/3"
    PHASE3 = "PHASE3", "Phase 3"
    PHASE4 = "PHASE4", "Phase 4"
    NA = "NA", "Not applicable"


PHASE_ORDER: dict[str, int] = {code: position for position, code in enumerate(Phase.values)}


class StudyType(models.TextChoices):
    INTERVENTIONAL = "INTERVENTIONAL", "Interventional"
    OBSERVATIONAL = "OBSERVATIONAL", "Observational"
    EXPANDED_ACCESS = "EXPANDED_ACCESS", "Expanded access"


class SponsorClass(models.TextChoices):
    """ClinicalTrials.gov's agency classes of the lead sponsor."""

    INDUSTRY = "INDUSTRY", "Industry"
    NIH = "NIH", "US National Institutes of Health"
    FED = "FED", "Other US federal agency"
    OTHER_GOV = "OTHER_GOV", "Other government"
    NETWORK = "NETWORK", "Network"
    INDIV = "INDIV", "Individual"
    OTHER = "OTHER", "Other (university, hospital, foundation)"
    UNKNOWN = "UNKNOWN", "Unknown"


class DiabetesType(models.TextChoices):
    TYPE_1 = "T1D", "Type 1 diabetes"
    TYPE_2 = "T2D", "Type 2 diabetes"
    LADA = "LADA", "LADA (latent autoimmune diabetes in adults)"
    OTHER = "OTHER", "Other diabetes"


class CellSource(models.TextChoices):
    EMBRYONIC = "ESC", "Embryonic stem cells"
    INDUCED_PLURIPOTENT = "IPSC", "Induced pluripotent stem cells"
    PLURIPOTENT_UNSPECIFIED = "PSC", "Pluripotent stem cells (type not stated)"
    MSC_UMBILICAL_CORD = "MSC_UC", "Mesenchymal stromal cells: umbilical cord / Wharton's jelly"
    MSC_BONE_MARROW = "MSC_BM", "Mesenchymal stromal cells: bone marrow"
    MSC_ADIPOSE = "MSC_AD", "Mesenchymal stromal cells: adipose tissue"
    MSC_OTHER = "MSC_OTHER", "Mesenchymal stromal cells: other tissue"
    HAEMATOPOIETIC = "HSC", "Haematopoietic stem cells"
    CORD_BLOOD = "CORD_BLOOD", "Umbilical cord blood cells"
    BONE_MARROW_MONONUCLEAR = "BM_MNC", "Bone-marrow mononuclear cells"
    OTHER = "OTHER", "Other cells"


class CellOrigin(models.TextChoices):
    AUTOLOGOUS = "AUTOLOGOUS", "Autologous (the patient's own cells)"
    ALLOGENEIC = "ALLOGENEIC", "Allogeneic (donor cells)"
    BOTH = "BOTH", "Both autologous and allogeneic"


class DifferentiationStage(models.TextChoices):
    UNDIFFERENTIATED = "UNDIFFERENTIATED", "Undifferentiated (stem or stromal cells as they are)"
    PROGENITOR = "PROGENITOR", "Progenitor (partly differentiated, meant to mature in the body)"
    DIFFERENTIATED = "DIFFERENTIATED", "Fully differentiated (insulin-producing islet-like cells)"


class Encapsulation(models.TextChoices):
    NONE = "NONE", "None"
    IMMUNOPROTECTIVE_DEVICE = "IMMUNOPROTECTIVE", "Immunoprotective device (shields cells from the immune system)"
    OPEN_DEVICE = "OPEN_DEVICE", "Open device (lets blood vessels grow in; not immunoprotective)"
    OTHER = "OTHER", "Other encapsulation"


class Route(models.TextChoices):
    INTRAVENOUS = "INTRAVENOUS", "Intravenous infusion"
    INTRAPANCREATIC = "INTRAPANCREATIC", "Direct injection into the pancreas"
    PANCREATIC_ARTERY = "PANCREATIC_ARTERY", "Pancreatic artery (catheter)"
    HEPATIC_PORTAL_VEIN = "PORTAL_VEIN", "Hepatic portal vein (into the liver)"
    IMPLANTED_DEVICE = "DEVICE", "Implanted device (under the skin or in the abdominal wall)"
    INTRAMUSCULAR = "INTRAMUSCULAR", "Into or beneath a muscle"
    OMENTUM = "OMENTUM", "Omentum (abdominal fat tissue)"
    EXTRACORPOREAL = "EXTRACORPOREAL", "Extracorporeal (blood treated outside the body)"
    OTHER = "OTHER", "Other route"


class Immunosuppression(models.TextChoices):
    NONE = "NONE", "None"
    SHORT_COURSE = "SHORT_COURSE", "Short course or conditioning"
    CHRONIC = "CHRONIC", "Chronic (long-term)"
    UNKNOWN = "UNKNOWN", "Unknown"


class DatePrecision(models.TextChoices):
    DAY = "DAY", "Day"
    MONTH = "MONTH", "Month"
    YEAR = "YEAR", "Year"


class DateType(models.TextChoices):
    ACTUAL = "ACTUAL", "Actual"
    ESTIMATED = "ESTIMATED", "Estimated"


# The trial's three dates that carry a precision (`<name>_precision`) and a type (`<name>_type`), in the order they
# must follow, with their name in words for messages.
PRECISE_DATES: dict[str, str] = {
    "start_date": "start",
    "primary_completion_date": "primary completion",
    "completion_date": "completion",
}


class EnrollmentType(models.TextChoices):
    ACTUAL = "ACTUAL", "Actual"
    ESTIMATED = "ESTIMATED", "Anticipated"


class CurationState(models.TextChoices):
    DRAFT = "DRAFT", "Draft"
    REVIEW = "REVIEW", "In review"
    PUBLISHED = "PUBLISHED", "Published"


class MechanismRole(models.TextChoices):
    PRIMARY = "PRIMARY", "Primary"
    CONTRIBUTING = "CONTRIBUTING", "Contributing"


class SourceKind(models.TextChoices):
    """What a source is. A registry record is the authority on a trial's registered facts; a copy of one is
    dated evidence of what it said; "other" (blogs, slides) never supports a fact alone."""

    REGISTRY = "REGISTRY", "Registry record"
    REGISTRY_COPY = "REGISTRY_COPY", "Copy of a registry record"
    PUBLICATION = "PUBLICATION", "Publication"
    SPONSOR = "SPONSOR", "Sponsor or institution"
    NEWS = "NEWS", "News or trade press"
    OTHER = "OTHER", "Other"


class PublicationKind(models.TextChoices):
    RESULTS = "RESULTS", "Results"
    INTERIM_RESULTS = "INTERIM_RESULTS", "Interim results"
    PROTOCOL = "PROTOCOL", "Protocol or design"
    BACKGROUND = "BACKGROUND", "Background"


class OutcomeMeasure(models.TextChoices):
    INSULIN_INDEPENDENCE = "INSULIN_INDEPENDENCE", "Insulin independence"
    C_PEPTIDE = "C_PEPTIDE", "C-peptide (the body's own insulin production)"
    HBA1C = "HBA1C", "HbA1c (average blood sugar)"
    SEVERE_HYPOGLYCAEMIA = "SEVERE_HYPOGLYCAEMIA", "Severe low blood sugar (hypoglycaemia)"
    INSULIN_DOSE = "INSULIN_DOSE", "Insulin dose"
    SAFETY = "SAFETY", "Safety"
    OTHER = "OTHER", "Other"


class TrialRelationKind(models.TextChoices):
    """How another trial relates to this one: it is this trial's predecessor, successor, follow-up, or a
    trial of the same programme."""

    PREDECESSOR = "PREDECESSOR", "Predecessor"
    SUCCESSOR = "SUCCESSOR", "Successor"
    SAME_PROGRAMME = "SAME_PROGRAMME", "Same programme"
    FOLLOW_UP = "FOLLOW_UP", "Follow-up study"


class Registry(models.TextChoices):
    CTGOV = "NCT", "ClinicalTrials.gov"
    EUCT = "EUCT", "EU CT (CTIS)"
    EUDRACT = "EUDRACT", "EudraCT"
    ISRCTN = "ISRCTN", "ISRCTN"
    CHICTR = "CHICTR", "ChiCTR (China)"
    JRCT = "JRCT", "jRCT (Japan)"
    CTRI = "CTRI", "CTRI (India)"
    ANZCTR = "ANZCTR", "ANZCTR (Australia and New Zealand)"
    IRCT = "IRCT", "IRCT (Iran)"
    DRKS = "DRKS", "DRKS (Germany)"
    OTHER = "OTHER", "Other registry or sponsor number"


# --- Registry identifier formats ------------------------------------------------------------


@dataclass(frozen=True)
class IdentifierFormat:
    pattern: str  # a full-match regular expression, case-insensitive
    description: str  # the format in words, for validation messages
    example: str
    url: str = ""  # the public record, with {id}

    def matches(self, value: str) -> bool:
        return re.fullmatch(self.pattern, value, flags=re.IGNORECASE) is not None


WHO_ICTRP = "https://trialsearch.who.int/Trial2.aspx?TrialID={id}"

IDENTIFIER_FORMATS: dict[str, IdentifierFormat] = {
    Registry.CTGOV: IdentifierFormat(
        r"NCT\d{8}", "NCT followed by 8 digits", "NCT04786262", "https://clinicaltrials.gov/study/{id}"
    ),
    Registry.EUCT: IdentifierFormat(
        r"\d{4}-5\d{5}-\d{2}-\d{2}",
        "year, a 6-digit number starting with 5, and two 2-digit parts",
        "2023-503456-12-00",
        "https://euclinicaltrials.eu/search-for-clinical-trials/?lang=en&EUCT={id}",
    ),
    Registry.EUDRACT: IdentifierFormat(
        r"\d{4}-\d{6}-\d{2}",
        "year, a 6-digit number and a 2-digit check number",
        "2017-002766-50",
        "https://www.clinicaltrialsregister.eu/ctr-search/search?query={id}",
    ),
    Registry.ISRCTN: IdentifierFormat(
        r"ISRCTN\d{8}", "ISRCTN followed by 8 digits", "ISRCTN12345678", "https://www.isrctn.com/{id}"
    ),
    Registry.CHICTR: IdentifierFormat(
        r"ChiCTR(\d{10}|-[A-Z]{2,5}-\d{8})",
        "ChiCTR followed by 10 digits, or the older ChiCTR-XXX-8 digits",
        "ChiCTR2300072200",
        WHO_ICTRP,
    ),
    Registry.JRCT: IdentifierFormat(
        r"jRCT([a-z]\d{9}|\d{10})", "jRCT and 10 digits, or a letter and 9 digits", "jRCT2033200000", WHO_ICTRP
    ),
    Registry.CTRI: IdentifierFormat(
        r"CTRI/\d{4}/\d{2,3}/\d{6}", "CTRI/year/month/6 digits", "CTRI/2020/05/025215", WHO_ICTRP
    ),
    Registry.ANZCTR: IdentifierFormat(
        r"ACTRN\d{14}",
        "ACTRN followed by 14 digits",
        "ACTRN12619000123456",
        "https://www.anzctr.org.au/{id}.aspx",
    ),
    Registry.IRCT: IdentifierFormat(
        r"IRCT\d{8,14}N\d{1,3}", "IRCT, 8 to 14 digits, N and a number", "IRCT2016070428786N1", WHO_ICTRP
    ),
    Registry.DRKS: IdentifierFormat(
        r"DRKS\d{8}", "DRKS followed by 8 digits", "DRKS00012345", "https://drks.de/search/en/trial/{id}"
    ),
    Registry.OTHER: IdentifierFormat(r"\S(.*\S)?", "any text without leading or trailing spaces", "VX20-880-101"),
}

# Registries whose identifiers mix cases: (prefix as written, how the rest is written).
MIXED_CASE: dict[str, tuple[str, Callable[[str], str]]] = {
    Registry.CHICTR: ("ChiCTR", str.upper),
    Registry.JRCT: ("jRCT", str.lower),
}


def normalize_identifier(registry: str, value: str | None) -> str:
    """The canonical spelling of an identifier: trimmed, in the registry's own case."""
    value = (value or "").strip()
    if registry in MIXED_CASE:
        prefix, rest = MIXED_CASE[registry]
        if value.lower().startswith(prefix.lower()):
            return prefix + rest(value[len(prefix) :])
        return value
    if registry == Registry.OTHER:
        return value
    return value.upper()


def identifier_error(registry: str, value: str) -> str | None:
    """The message for an identifier that does not fit its registry's format, or None when it fits."""
    fmt = IDENTIFIER_FORMATS.get(registry)
    if fmt is None:
        return f"Unknown registry {registry!r}."
    if fmt.matches(value):
        return None
    label = Registry(registry).label
    return f"A {label} identifier is {fmt.description}, e.g. {fmt.example}; got {value!r}."
