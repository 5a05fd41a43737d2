"""ClinicalTrials.gov API v2: read a study record, compare it with a curated trial, fetch it.

No database writes here; those live in trials/actions.py ("ClinicalTrials.gov import").

- `read_studies(text, label)` splits a JSON document (one study, or a page {"studies": [...]})
  into studies; `study_to_record(study)` maps one study onto the registry's data format
  (trials/data/README.md), the format `actions.create_trial` takes. It copies what the registry
  says and never guesses what a curator decides (mechanisms, the cell pathway).
- `registry_changes(trial, record)` lists the registry facts on which a curated trial and the
  registry's record differ, field by field; `apply_registry_values` sets accepted ones.
- `CtgovClient` fetches one study over HTTP (standard library only): timeouts, retries with
  backoff, 429 and Retry-After, a rate limiter under the API's ~50 requests per minute per IP.
"""

import json
import re
import threading
import time
import unicodedata
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from urllib.error import HTTPError, URLError
from urllib.parse import quote
from urllib.request import Request, urlopen

from django.conf import settings
from django.utils import timezone

from .models import (
    IDENTIFIER_FORMATS,
    Country,
    CurationState,
    DatePrecision,
    DateType,
    DiabetesType,
    EnrollmentType,
    Immunosuppression,
    OverallStatus,
    Phase,
    Registry,
    SponsorClass,
    StudyType,
    Trial,
)

DEFAULT_API_URL = "https://clinicaltrials.gov/api/v2"
STUDY_URL = "https://clinicaltrials.gov/study/{id}"
NCT_PATTERN = re.compile(r"NCT\d{8}")


class CtgovError(Exception):
    """A study record that cannot be read or mapped, or a fetch that failed. The message says why."""


def api_url():
    """The API's base URL: the CTGOV_API_URL setting (tests point it at a local server)."""
    return (getattr(settings, "CTGOV_API_URL", "") or DEFAULT_API_URL).rstrip("/")


def normalize_nct_id(value):
    """An NCT number in canonical form, or CtgovError when it is not one."""
    value = (value or "").strip().upper()
    if not NCT_PATTERN.fullmatch(value):
        raise CtgovError(f"{value or '(empty)'!r} is not an NCT number: NCT followed by 8 digits, e.g. NCT04786262.")
    return value


# --- Reading JSON -------------------------------------------------------------------------------


def read_studies(text, label):
    """The studies of a JSON document: [(label, study or CtgovError)], one per study.

    A document is one study record or a page {"studies": [...]}. Raises CtgovError when the whole
    document is unusable (not JSON, not a study); a page's bad element becomes that element's error.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CtgovError(f"{label}: not UTF-8 text; expected ClinicalTrials.gov API v2 JSON.") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise CtgovError(
            f"{label}: malformed JSON ({error.msg} at line {error.lineno}, column {error.colno})."
        ) from None
    if isinstance(data, dict) and isinstance(data.get("studies"), list):
        items = []
        for position, study in enumerate(data["studies"], start=1):
            item_label = f"{label}, study {position}"
            if problem := study_shape_error(study):
                items.append((item_label, CtgovError(f"{item_label}: {problem}")))
            else:
                items.append((item_label, study))
        return items
    if problem := study_shape_error(data):
        raise CtgovError(f"{label}: {problem}")
    return [(label, data)]


def study_shape_error(study):
    """Why `study` is not an API v2 study record, or None."""
    if not isinstance(study, dict):
        return "not a ClinicalTrials.gov study: expected a JSON object with a protocolSection."
    protocol = study.get("protocolSection")
    if not isinstance(protocol, dict):
        return "not a ClinicalTrials.gov API v2 study: it has no protocolSection."
    if not isinstance(protocol.get("identificationModule"), dict):
        return "the study has no identificationModule (needed for its NCT number and title)."
    return None


def study_nct_id(study):
    """The study's NCT number as written, or '' (never raises)."""
    try:
        return str(study["protocolSection"]["identificationModule"]["nctId"]).strip()
    except (KeyError, TypeError):
        return ""


# --- Mapping a study onto the registry's data format -------------------------------------------

# ClinicalTrials.gov codes the registry has no value for: mapped to "" with a note for the curator.
SPONSOR_CLASSES_WITHOUT_EQUIVALENT = {"AMBIG": "ambiguous"}
EXPANDED_ACCESS_STATUSES = {
    "AVAILABLE",
    "NO_LONGER_AVAILABLE",
    "TEMPORARILY_NOT_AVAILABLE",
    "APPROVED_FOR_MARKETING",
    "WITHHELD",
}
PHASES = {
    (): "",
    ("NA",): Phase.NA,
    ("EARLY_PHASE1",): Phase.EARLY_PHASE1,
    ("PHASE1",): Phase.PHASE1,
    ("PHASE2",): Phase.PHASE2,
    ("PHASE3",): Phase.PHASE3,
    ("PHASE4",): Phase.PHASE4,
    ("PHASE1", "PHASE2"): Phase.PHASE1_PHASE2,
    ("PHASE2", "PHASE3"): Phase.PHASE2_PHASE3,
}
# Secondary identifier types that name their registry outright.
SECONDARY_ID_TYPES = {"EUDRACT_NUMBER": Registry.EUDRACT, "CTIS": Registry.EUCT}
# Registries recognised by the format of a secondary identifier (OTHER matches anything: left out).
RECOGNISED_REGISTRIES = [r for r in IDENTIFIER_FORMATS if r not in (Registry.CTGOV, Registry.OTHER)]

# ClinicalTrials.gov's country names that differ from the registry's (ISO 3166-1 common names).
COUNTRY_ALIASES = {
    "korea, republic of": "KR",
    "korea, democratic people's republic of": "KP",
    "iran, islamic republic of": "IR",
    "turkey": "TR",
    "czech republic": "CZ",
    "macedonia, the former yugoslav republic of": "MK",
    "moldova, republic of": "MD",
    "syrian arab republic": "SY",
    "lao people's democratic republic": "LA",
    "tanzania, united republic of": "TZ",
    "venezuela, bolivarian republic of": "VE",
    "bolivia, plurinational state of": "BO",
    "viet nam": "VN",
    "swaziland": "SZ",
    "palestinian territory, occupied": "PS",
    "palestinian territories, occupied": "PS",
    "libyan arab jamahiriya": "LY",
    "taiwan, province of china": "TW",
    "congo, democratic republic of the": "CD",
    "the democratic republic of the congo": "CD",
    "russia": "RU",
    "united states of america": "US",
    "great britain": "GB",
}

LEFT_FOR_CURATORS = (
    "the mechanisms and their rationale; the cell pathway (cell source, autologous or allogeneic, "
    "differentiation, encapsulation, gene editing, routes, immunosuppression, follow-up); a plain-language "
    "summary (the summary is the registry's brief summary as written); the diabetes types where the "
    "conditions do not name them; key results; and the review date"
)


def _fold(text):
    """Lower case, accents and punctuation removed: for matching names."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def country_lookup():
    """{folded name: ISO code} for ClinicalTrials.gov's country names. One query."""
    lookup = {_fold(name): code for code, name in Country.objects.values_list("code", "name")}
    lookup.update({_fold(alias): code for alias, code in COUNTRY_ALIASES.items()})
    return lookup


_T1D = re.compile(
    r"type\s*-?\s*(1|i|one)\b|\bt1dm?\b|\biddm\b|(?<!non)(?<!non-)(?<!non )insulin[\s-]*dependent|juvenile", re.I
)
_T2D = re.compile(r"type\s*-?\s*(2|ii|two)\b|\bt2dm?\b|\bniddm\b|non[\s-]*insulin[\s-]*dependent", re.I)
_LADA = re.compile(r"\blada\b|latent autoimmune", re.I)
_OTHER = re.compile(
    r"cystic fibrosis|\bcfrd\b|gestational|\bmody\b|maturity[\s-]*onset|monogenic|neonatal|pancreatogenic|"
    r"type\s*3c?\b|pancreatectomy|post[\s-]*transplant|after transplant|steroid[\s-]*induced|secondary|wolfram|"
    r"mitochondrial",
    re.I,
)
_PREDIABETES = re.compile(r"pre[\s-]*diabet", re.I)


def diabetes_types(conditions):
    """(types, unrecognised): the DiabetesType codes the conditions name, and the conditions that
    mention diabetes without saying which type (left for the curator). Never guesses."""
    found, unrecognised = set(), []
    for condition in conditions:
        text = _PREDIABETES.sub("", condition)
        if "insipidus" in text.lower():
            continue
        names_diabetes = "diabet" in text.lower()
        hits = set()
        if _LADA.search(text):
            hits.add(DiabetesType.LADA)
        if _T2D.search(text) and (names_diabetes or re.search(r"\b(t2dm?|niddm)\b", text, re.I)):
            hits.add(DiabetesType.TYPE_2)
        if _T1D.search(_T2D.sub("", text)) and (names_diabetes or re.search(r"\b(t1dm?|iddm)\b", text, re.I)):
            hits.add(DiabetesType.TYPE_1)
        if not hits and names_diabetes and _OTHER.search(text):
            hits.add(DiabetesType.OTHER)
        if not hits and names_diabetes:
            unrecognised.append(condition)
        found |= hits
    return [code for code in DiabetesType.values if code in found], unrecognised


def _module(protocol, name, notes):
    module = protocol.get(name)
    if module is None:
        notes.append(f"The record has no {name}.")
        return {}
    if not isinstance(module, dict):
        raise CtgovError(f"{name} is not a JSON object.")
    return module


def _text(value, what):
    if value is None:
        return ""
    if not isinstance(value, str):
        raise CtgovError(f"{what} should be text; got {value!r}.")
    return value.strip()


def _code(value, vocabulary, what):
    """A vocabulary code from the record: '' when absent; CtgovError naming the value when unknown."""
    value = _text(value, what)
    if value and value not in vocabulary.values:
        raise CtgovError(f"unknown {what} {value!r}; the registry knows {', '.join(vocabulary.values)}.")
    return value


def parse_partial_date(value, what):
    """'2021', '2021-03' or '2021-03-29' → (date of the first day, precision). CtgovError otherwise."""
    value = _text(value, what)
    for pattern, precision, fill in (
        (r"\d{4}-\d{2}-\d{2}", DatePrecision.DAY, ""),
        (r"\d{4}-\d{2}", DatePrecision.MONTH, "-01"),
        (r"\d{4}", DatePrecision.YEAR, "-01-01"),
    ):
        if re.fullmatch(pattern, value):
            try:
                return date.fromisoformat(value + fill), precision
            except ValueError:
                break
    raise CtgovError(f"{what} {value!r} is not a date (YYYY, YYYY-MM or YYYY-MM-DD).")


def _precise_date(struct, what):
    if not struct:
        return None
    if not isinstance(struct, dict):
        raise CtgovError(f"{what} is not a JSON object.")
    if not struct.get("date"):
        return None
    day, precision = parse_partial_date(struct["date"], what)
    return {
        "date": day.isoformat(),
        "precision": precision,
        "type": _code(struct.get("type"), DateType, f"{what} type"),
    }


def _secondary_identifiers(identification, nct_id, notes):
    identifiers, others = [], []
    for info in identification.get("secondaryIdInfos") or []:
        if not isinstance(info, dict) or not info.get("id"):
            continue
        value = str(info["id"]).strip()
        registry = SECONDARY_ID_TYPES.get(info.get("type"))
        if registry is None:
            matching = [r for r in RECOGNISED_REGISTRIES if IDENTIFIER_FORMATS[r].matches(value)]
            registry = matching[0] if len(matching) == 1 else None
        if registry and IDENTIFIER_FORMATS[registry].matches(value) and value.upper() != nct_id:
            identifiers.append({"registry": str(registry), "value": value, "primary": False})
        else:
            kind = " ".join(str(part) for part in (info.get("type"), info.get("domain")) if part)
            others.append(f"{value} ({kind})" if kind else value)
    org_id = (identification.get("orgStudyIdInfo") or {}).get("id")
    if org_id:
        notes.append(f"Sponsor's study ID on the registry: {org_id} (not added as an identifier).")
    if others:
        notes.append(f"Other IDs on the registry, of no registry the database knows: {'; '.join(others)}.")
    return identifiers


def _interventions(module):
    """(product name, notes listing every intervention as registered)."""
    interventions = [i for i in module.get("interventions") or [] if isinstance(i, dict) and i.get("name")]
    lines = []
    for item in interventions:
        kind = str(item.get("type") or "other").replace("_", " ").capitalize()
        line = f"- {kind}: {item['name'].strip()}"
        if item.get("otherNames"):
            line += f" (other names: {', '.join(map(str, item['otherNames']))})"
        if item.get("description"):
            line += f". {str(item['description']).strip()}"
        lines.append(line)
    real = [i for i in interventions if not re.search(r"placebo|sham|standard (of )?care", i["name"], re.I)]
    preferred = [i for i in real if i.get("type") in {"BIOLOGICAL", "GENETIC", "COMBINATION_PRODUCT"}] or real
    product = ""
    if preferred:
        first = preferred[0]
        product = first["name"].strip()
        if first.get("otherNames"):
            product += f" ({', '.join(map(str, first['otherNames']))})"
        if len(product) > 200:
            product = product[:199] + "…"
    notes = "Interventions on ClinicalTrials.gov:\n" + "\n".join(lines) if lines else ""
    return product, notes


def _publications(module, notes):
    publications, background = [], []
    for reference in module.get("references") or []:
        if not isinstance(reference, dict):
            continue
        pmid = str(reference.get("pmid") or "").strip()
        citation = _text(reference.get("citation"), "reference citation")
        if not pmid or not citation:
            continue
        if not re.fullmatch(r"\d{1,9}", pmid):
            raise CtgovError(f"reference PMID {pmid!r} is not a PubMed identifier (digits only).")
        doi = re.search(r"\bdoi:\s*(10\.\S+?)\.?(?:\s|$)", citation, re.I)
        year = re.search(r"\.\s((?:19|20)\d{2})\b", citation)
        publications.append(
            {
                "citation": citation,
                "doi": doi.group(1) if doi else "",
                "pmid": pmid,
                "journal": "",
                "year": int(year.group(1)) if year else None,
            }
        )
        if reference.get("type") not in {"RESULT", "DERIVED"}:
            background.append(pmid)
    if background:
        notes.append(
            "References the registry lists as background, not results of this trial (added as publications; "
            f"remove those that do not belong): PMID {', '.join(background)}."
        )
    return publications


def study_to_record(study, *, countries=None, today=None):
    """One API v2 study as a record of the registry's data format: a draft for `create_trial`.

    Copies what the registry says; leaves to curators what it cannot say (see LEFT_FOR_CURATORS) and
    writes that, with anything it could not map, into the curator's notes. Raises CtgovError (naming the
    field and value) for a record it cannot read: no NCT number, an unknown code, a malformed date.
    `countries` is a `country_lookup()` (queried when not given).
    """
    if problem := study_shape_error(study):
        raise CtgovError(problem)
    today = today or timezone.localdate()
    countries = country_lookup() if countries is None else countries
    notes = []
    protocol = study["protocolSection"]
    identification = protocol["identificationModule"]
    nct_id = normalize_nct_id(_text(identification.get("nctId"), "nctId"))
    status = _module(protocol, "statusModule", notes)
    sponsors = _module(protocol, "sponsorCollaboratorsModule", notes)
    conditions_module = _module(protocol, "conditionsModule", notes)
    design = _module(protocol, "designModule", notes)
    description = protocol.get("descriptionModule") or {}
    arms = protocol.get("armsInterventionsModule") or {}
    eligibility = protocol.get("eligibilityModule") or {}
    locations = (protocol.get("contactsLocationsModule") or {}).get("locations") or []
    references = protocol.get("referencesModule") or {}

    brief_title = _text(identification.get("briefTitle"), "briefTitle")
    if not brief_title:
        raise CtgovError("the record has no briefTitle.")

    lead = sponsors.get("leadSponsor") or {}
    sponsor_class = _text(lead.get("class"), "sponsor class")
    if sponsor_class in SPONSOR_CLASSES_WITHOUT_EQUIVALENT:
        notes.append(f"The registry gives the sponsor's class as {sponsor_class} (no equivalent here).")
        sponsor_class = ""
    sponsor_class = _code(sponsor_class, SponsorClass, "sponsor class")

    overall_status = _text(status.get("overallStatus"), "overallStatus")
    if overall_status in EXPANDED_ACCESS_STATUSES:
        notes.append(f"Expanded-access status on the registry: {overall_status} (no equivalent here).")
        overall_status = ""
    overall_status = _code(overall_status, OverallStatus, "overallStatus")
    if overall_status == OverallStatus.UNKNOWN:
        last_known = _code(status.get("lastKnownStatus"), OverallStatus, "lastKnownStatus")
        if last_known:
            notes.append(
                f"ClinicalTrials.gov shows the status as unknown; the last known status was "
                f"“{OverallStatus(last_known).label}” (status verified {status.get('statusVerifiedDate') or 'never'})."
            )
    if why := _text(status.get("whyStopped"), "whyStopped"):
        notes.append(f"Why stopped, per the registry: {why}")
    verified = None
    if status.get("statusVerifiedDate"):
        verified = parse_partial_date(status["statusVerifiedDate"], "statusVerifiedDate")[0].isoformat()

    phases = design.get("phases") or []
    if not isinstance(phases, list):
        raise CtgovError(f"phases should be a list; got {phases!r}.")
    key = tuple(sorted(str(p) for p in phases))
    if key not in PHASES:
        raise CtgovError(f"unknown phase combination {list(phases)!r}; the registry knows {', '.join(Phase.values)}.")
    enrollment_info = design.get("enrollmentInfo") or {}
    enrollment = enrollment_info.get("count")
    if enrollment is not None and (not isinstance(enrollment, int) or isinstance(enrollment, bool) or enrollment < 0):
        raise CtgovError(f"enrollment count should be a whole number; got {enrollment!r}.")

    conditions = [str(c) for c in conditions_module.get("conditions") or []]
    types, unrecognised = diabetes_types(conditions)
    if unrecognised:
        notes.append(f"Conditions naming diabetes without its type: {'; '.join(unrecognised)}.")

    country_codes, unknown_countries = set(), []
    for location in locations:
        name = str((location or {}).get("country") or "").strip()
        if not name:
            continue
        if code := countries.get(_fold(name)):
            country_codes.add(code)
        elif name not in unknown_countries:
            unknown_countries.append(name)
    if unknown_countries:
        notes.append(f"Countries not recognised, to add by hand: {', '.join(unknown_countries)}.")

    product_name, cell_notes = _interventions(arms)
    updated = (status.get("lastUpdatePostDateStruct") or {}).get("date") or ""
    source_date, source_date_notes = None, ""
    if updated:
        day, precision = parse_partial_date(updated, "lastUpdatePostDate")
        source_date, source_date_notes = (
            (day.isoformat(), "") if precision == DatePrecision.DAY else (None, f"last updated {updated}")
        )
    identifiers = [{"registry": str(Registry.CTGOV), "value": nct_id, "primary": True}]
    identifiers += _secondary_identifiers(identification, nct_id, notes)
    publications = _publications(references, notes)

    population = []
    if conditions:
        population.append(f"Conditions on the registry: {'; '.join(conditions)}.")
    youngest, oldest = eligibility.get("minimumAge"), eligibility.get("maximumAge")
    if youngest or oldest:
        ages = (
            f"{youngest} to {oldest}"
            if youngest and oldest
            else f"{youngest} and older"
            if youngest
            else f"up to {oldest}"
        )
        population.append(f"Ages: {ages}.")
    if eligibility.get("sex"):
        population.append(f"Sex: {str(eligibility['sex']).lower()}.")

    curator_notes = (
        f"Imported from ClinicalTrials.gov on {today.isoformat()}"
        + (f" (registry record last updated {updated})" if updated else "")
        + f". This draft holds only what the registry says. Left for the curator: {LEFT_FOR_CURATORS}."
    )
    if notes:
        curator_notes += "\n\n" + "\n".join(notes)

    return {
        "slug": nct_id.lower(),
        "identifiers": identifiers,
        "brief_title": brief_title,
        "official_title": _text(identification.get("officialTitle"), "officialTitle"),
        "acronym": _text(identification.get("acronym"), "acronym"),
        "summary": _text(description.get("briefSummary"), "briefSummary"),
        "sponsor": _text(lead.get("name"), "lead sponsor name"),
        "sponsor_class": sponsor_class,
        "collaborators": [
            _text(c.get("name"), "collaborator name") for c in sponsors.get("collaborators") or [] if c.get("name")
        ],
        "product_name": product_name,
        "diabetes_types": types,
        "population_notes": " ".join(population),
        "study_type": _code(design.get("studyType"), StudyType, "studyType"),
        "phase": str(PHASES[key]),
        "overall_status": overall_status,
        "status_confirmed_on": verified,
        "last_reviewed_on": None,
        "start_date": _precise_date(status.get("startDateStruct"), "startDate"),
        "primary_completion_date": _precise_date(status.get("primaryCompletionDateStruct"), "primaryCompletionDate"),
        "completion_date": _precise_date(status.get("completionDateStruct"), "completionDate"),
        "enrollment": enrollment,
        "enrollment_type": _code(enrollment_info.get("type"), EnrollmentType, "enrollment type"),
        "enrollment_notes": "",
        "countries": sorted(country_codes),
        "cell_source": "",
        "cell_origin": "",
        "differentiation": "",
        "cell_notes": cell_notes,
        "encapsulation": "",
        "gene_edited": None,
        "routes": [],
        "route_notes": "",
        "immunosuppression": str(Immunosuppression.UNKNOWN),
        "immunosuppression_notes": "",
        "follow_up_months": None,
        "mechanisms": [],
        "key_results": "",
        "publications": publications,
        "sources": [
            {
                "url": STUDY_URL.format(id=nct_id),
                "date": source_date,
                "date_notes": source_date_notes,
                "used_for": "ClinicalTrials.gov registry record (imported through its API v2): identifiers, titles, "
                "sponsor, conditions, design, status and dates, enrollment, countries, interventions, references",
            }
        ],
        "curator_notes": curator_notes,
        "curation_state": str(CurationState.DRAFT),
    }


# --- Comparing with a curated trial ------------------------------------------------------------

# The facts the registry is the authority on: an import proposes changes to these, and only these.
COMPARED_FIELDS = [
    "brief_title",
    "official_title",
    "acronym",
    "sponsor",
    "sponsor_class",
    "collaborators",
    "study_type",
    "phase",
    "overall_status",
    "status_confirmed_on",
    "start_date",
    "primary_completion_date",
    "completion_date",
    "enrollment",
    "enrollment_type",
    "countries",
]
PRECISE_DATES = ("start_date", "primary_completion_date", "completion_date")
CODED_FIELDS = {
    "sponsor_class": SponsorClass,
    "study_type": StudyType,
    "phase": Phase,
    "overall_status": OverallStatus,
    "enrollment_type": EnrollmentType,
}


def field_label(name):
    return str(Trial._meta.get_field(name).verbose_name)


def current_values(trial):
    """The trial's values of COMPARED_FIELDS, in the registry's data format. Queries its countries once."""
    values = {}
    for name in COMPARED_FIELDS:
        if name == "collaborators":
            values[name] = [line.strip() for line in trial.collaborators.splitlines() if line.strip()]
        elif name == "countries":
            values[name] = sorted(trial.countries.values_list("code", flat=True))
        elif name == "status_confirmed_on":
            values[name] = trial.status_confirmed_on.isoformat() if trial.status_confirmed_on else None
        elif name in PRECISE_DATES:
            day = getattr(trial, name)
            values[name] = (
                {
                    "date": day.isoformat(),
                    "precision": getattr(trial, f"{name}_precision"),
                    "type": getattr(trial, f"{name}_type"),
                }
                if day
                else None
            )
        else:
            values[name] = getattr(trial, name)
    return values


def registry_changes(trial, record):
    """{field: {"old": trial's value, "new": registry's value}} where the registry's record differs.

    The registry never erases: a fact the record does not give is not proposed. A status-verified date
    is proposed only when newer than the one the trial has.
    """
    current = current_values(trial)
    changes = {}
    for name in COMPARED_FIELDS:
        new, old = record.get(name), current[name]
        if new in (None, "", []):
            continue
        if name == "countries":
            new = sorted(new)
        if name == "status_confirmed_on" and old and new <= old:
            continue
        if new != old:
            changes[name] = {"old": old, "new": new}
    return changes


def apply_registry_values(trial, values):
    """Set registry values (data format, e.g. from a RegistryUpdate) on the trial, without saving.

    Countries are many-to-many: returned, for the caller to set after saving.
    """
    countries = None
    for name, value in values.items():
        if name not in COMPARED_FIELDS:
            raise CtgovError(f"{name!r} is not a field a registry update may change.")
        if name == "countries":
            countries = value
        elif name == "collaborators":
            trial.collaborators = "\n".join(value or [])
        elif name == "status_confirmed_on":
            trial.status_confirmed_on = date.fromisoformat(value) if value else None
        elif name in PRECISE_DATES:
            value = value or {}
            setattr(trial, name, date.fromisoformat(value["date"]) if value.get("date") else None)
            setattr(trial, f"{name}_precision", value.get("precision", ""))
            setattr(trial, f"{name}_type", value.get("type", ""))
        else:
            setattr(trial, name, "" if value is None and name != "enrollment" else value)
    return countries


def display_value(name, value):
    """A value of a compared field in words, for curators."""
    if value in (None, "", []):
        return "—"
    if name in CODED_FIELDS:
        try:
            return str(CODED_FIELDS[name](value).label)
        except ValueError:
            return str(value)
    if name in PRECISE_DATES:
        day = value["date"]
        precision = value.get("precision")
        shown = day[:4] if precision == DatePrecision.YEAR else day[:7] if precision == DatePrecision.MONTH else day
        kind = DateType(value["type"]).label.lower() if value.get("type") else "type not stated"
        return f"{shown} ({kind})"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


# --- Fetching over HTTP ------------------------------------------------------------------------


class FetchError(CtgovError):
    """A fetch that failed. `kind`: not_found, rate_limited, server, timeout, unreachable or bad_response."""

    def __init__(self, message, kind):
        super().__init__(message)
        self.kind = kind


class RateLimiter:
    """A token bucket: bursts of `burst` requests, then `per_minute` a minute (so never more than
    burst + per_minute in any minute). Thread-safe; the clock and sleep are injectable for tests."""

    def __init__(self, per_minute=40, burst=5, *, clock=time.monotonic, sleep=time.sleep):
        self.interval = 60.0 / per_minute
        self.burst = burst
        self.clock = clock
        self.sleep = sleep
        self._tokens = float(burst)
        self._updated = clock()
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def acquire(self, deadline=None):
        """Wait for a slot. Raises FetchError when the wait would pass `deadline` (a clock time)."""
        with self._lock:
            now = self.clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) / self.interval)
            self._updated = now
            wait = max((1 - self._tokens) * self.interval, self._blocked_until - now, 0.0)
            if deadline is not None and now + wait > deadline:
                raise FetchError(
                    f"the rate limit (under the API's ~50 requests a minute) asks to wait {wait:.0f} s; "
                    "try again later.",
                    "rate_limited",
                )
            if wait > 0:
                self.sleep(wait)
                now = self.clock()
                self._tokens = min(self.burst, self._tokens + (now - self._updated) / self.interval)
                self._updated = now
            self._tokens = max(self._tokens - 1, 0.0)

    def block_for(self, seconds):
        """The server asked us to wait (429): no request leaves before then."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self.clock() + seconds)


# One limiter per process: the admin and the commands share it.
LIMITER = RateLimiter()


def retry_after_seconds(value, now=None):
    """Seconds asked for by a Retry-After header (seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = now or datetime.now(tz=when.tzinfo)
    return max((when - now).total_seconds(), 0.0)


class CtgovClient:
    """Fetches study records from the ClinicalTrials.gov API v2.

    `timeout`: seconds for connecting and for each read; `retries`: further attempts after a 429, a 5xx
    answer or a timeout, waiting `backoff` × 2^attempt seconds (or what Retry-After asks, up to
    `max_wait`); `deadline`: seconds one fetch may take in all, waits included (None: no limit).
    A 404 or another 4xx fails at once; so does a server that cannot be reached at all (no retry can
    help within seconds, and a page must not hang on it).
    """

    def __init__(
        self,
        base_url=None,
        *,
        timeout=15.0,
        retries=3,
        backoff=2.0,
        max_wait=120.0,
        deadline=None,
        limiter=None,
        clock=time.monotonic,
        sleep=time.sleep,
        opener=urlopen,
    ):
        self.base_url = (base_url or api_url()).rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.deadline = deadline
        self.limiter = limiter or LIMITER
        self.clock = clock
        self.sleep = sleep
        self.opener = opener

    @classmethod
    def for_web_request(cls, **kwargs):
        """A client for an admin page: short timeouts, one retry, never more than a few seconds."""
        return cls(**{"timeout": 3.0, "retries": 1, "backoff": 1.0, "max_wait": 3.0, "deadline": 6.0, **kwargs})

    def study_url(self, nct_id):
        return f"{self.base_url}/studies/{quote(nct_id)}?format=json"

    def fetch_study(self, nct_id):
        """The study record (a dict) of one NCT number. Raises CtgovError / FetchError with a clear message."""
        nct_id = normalize_nct_id(nct_id)
        url = self.study_url(nct_id)
        request = Request(url, headers={"Accept": "application/json", "User-Agent": user_agent()})
        deadline = self.clock() + self.deadline if self.deadline is not None else None
        problem, wait = "", 0.0
        for attempt in range(self.retries + 1):
            if attempt:
                wait = min(wait, self.max_wait)
                if deadline is not None and self.clock() + wait >= deadline:
                    break
                self.sleep(wait)
            try:
                self.limiter.acquire(deadline)
            except FetchError as error:
                raise FetchError(f"{nct_id}: {error}", error.kind) from None
            timeout = self.timeout if deadline is None else max(min(self.timeout, deadline - self.clock()), 0.1)
            try:
                with self.opener(request, timeout=timeout) as response:
                    body = response.read(MAX_BODY + 1)
            except HTTPError as error:
                error.close()
                if error.code == 404:
                    raise FetchError(
                        f"{nct_id}: no such study on ClinicalTrials.gov (HTTP 404).", "not_found"
                    ) from None
                if error.code == 429:
                    asked = retry_after_seconds(error.headers.get("Retry-After"))
                    wait = asked if asked is not None else self.backoff * 2**attempt
                    self.limiter.block_for(min(wait, self.max_wait))
                    problem = "too many requests (HTTP 429)" + (f", asked to wait {asked:.0f} s" if asked else "")
                    if asked is not None and asked > self.max_wait:
                        break
                    continue
                if error.code >= 500:
                    wait = self.backoff * 2**attempt
                    problem = f"ClinicalTrials.gov answered HTTP {error.code} (a server error)"
                    continue
                raise FetchError(f"{nct_id}: ClinicalTrials.gov answered HTTP {error.code}.", "bad_response") from None
            except (TimeoutError, URLError, OSError) as error:
                reason = getattr(error, "reason", error)
                if isinstance(reason, TimeoutError) or "timed out" in str(reason):
                    wait = self.backoff * 2**attempt
                    problem = f"no answer within {timeout:.1f} s (timeout)"
                    continue
                raise FetchError(
                    f"{nct_id}: cannot reach ClinicalTrials.gov at {self.base_url} ({reason}). "
                    "This server may have no internet access: upload the study's JSON file instead.",
                    "unreachable",
                ) from None
            return self._parse(nct_id, body)
        kind = "rate_limited" if "429" in problem else "timeout" if "timeout" in problem else "server"
        raise FetchError(f"{nct_id}: {problem}; gave up after {attempt + 1} attempt(s).", kind)

    def _parse(self, nct_id, body):
        if len(body) > MAX_BODY:
            raise FetchError(f"{nct_id}: the answer is larger than {MAX_BODY // 1_000_000} MB.", "bad_response")
        try:
            study = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise FetchError(f"{nct_id}: ClinicalTrials.gov's answer is not JSON.", "bad_response") from None
        if problem := study_shape_error(study):
            raise FetchError(f"{nct_id}: {problem}", "bad_response")
        if study_nct_id(study).upper() != nct_id:
            raise FetchError(f"{nct_id}: the answer is the record of {study_nct_id(study)!r}.", "bad_response")
        return study


MAX_BODY = 10_000_000


def user_agent():
    return f"stem-cell-diabetes-registry (+{getattr(settings, 'SITE_URL', '')})"
