"""Mapping one API v2 study onto the registry's data format (trials/data/README.md), the format
`actions.create_trial` takes. It copies what the registry says and never guesses what a curator decides
(mechanisms, the cell pathway). No database writes."""

import re
import unicodedata
from datetime import date
from typing import Any

from django.db.models import TextChoices
from django.utils import timezone

from trials.ctgov import CtgovError, Record, Study
from trials.ctgov.limits import cut
from trials.ctgov.reading import STUDY_URL, normalize_nct_id, study_shape_error
from trials.models import Country
from trials.vocabularies import (
    IDENTIFIER_FORMATS,
    PRECISE_DATES,
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
)

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
SECONDARY_ID_TYPES: dict[str, str] = {"EUDRACT_NUMBER": Registry.EUDRACT, "CTIS": Registry.EUCT}
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

IS_IT_OURS = "check that the trial belongs in this registry"
LEFT_FOR_CURATORS = (
    "the mechanisms and their rationale; the cell pathway (cell source, autologous or allogeneic, "
    "differentiation, encapsulation, gene editing, routes, immunosuppression, follow-up); a plain-language "
    "summary (the summary is the registry's brief summary as written); the diabetes types where the "
    "conditions do not name them; key results; and the review date"
)


def _fold(text: str) -> str:
    """Lower case, accents and punctuation removed: for matching names."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def country_lookup() -> dict[str, str]:
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


def diabetes_types(conditions: list[str]) -> tuple[list[str], list[str]]:
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


def _module(protocol: Study, name: str, notes: list[str]) -> Study:
    module = protocol.get(name)
    if module is None:
        notes.append(f"The record has no {name}.")
        return {}
    if not isinstance(module, dict):
        raise CtgovError(f"{name} is not a JSON object.")
    return module


def _text(value: object, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise CtgovError(f"{what} should be text; got {value!r}.")
    return value.strip()


def _code(value: object, vocabulary: type[TextChoices], what: str) -> str:
    """A vocabulary code from the record: '' when absent; CtgovError naming the value when unknown."""
    value = _text(value, what)
    if value and value not in vocabulary.values:
        raise CtgovError(f"unknown {what} {value!r}; the registry knows {', '.join(vocabulary.values)}.")
    return value


def parse_partial_date(value: object, what: str) -> tuple[date, str]:
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


def _precise_date(struct: object, what: str) -> dict[str, str] | None:
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


def _secondary_identifiers(identification: Study, nct_id: str, notes: list[str]) -> list[dict[str, Any]]:
    identifiers, others = [], []
    for info in identification.get("secondaryIdInfos") or []:
        if not isinstance(info, dict) or not info.get("id"):
            continue
        value = str(info["id"]).strip()
        registry: str | None = SECONDARY_ID_TYPES.get(str(info.get("type")))
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


def _interventions(module: Study) -> tuple[str, str]:
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


def _publications(module: Study, notes: list[str]) -> list[dict[str, Any]]:
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


def _sponsors(module: Study, notes: list[str]) -> dict[str, Any]:
    """sponsorCollaboratorsModule: the lead sponsor, its class and the collaborators."""
    lead = module.get("leadSponsor") or {}
    sponsor_class = _text(lead.get("class"), "sponsor class")
    if sponsor_class in SPONSOR_CLASSES_WITHOUT_EQUIVALENT:
        notes.append(f"The registry gives the sponsor's class as {sponsor_class} (no equivalent here).")
        sponsor_class = ""
    return {
        "sponsor": _text(lead.get("name"), "lead sponsor name"),
        "sponsor_class": _code(sponsor_class, SponsorClass, "sponsor class"),
        "collaborators": [
            _text(c.get("name"), "collaborator name") for c in module.get("collaborators") or [] if c.get("name")
        ],
    }


def _status(module: Study, notes: list[str]) -> dict[str, Any]:
    """statusModule: the overall status (and the last known one behind UNKNOWN), when it was verified, the three
    dates with their precision and type, and when the registry last updated the record (for the source)."""
    overall_status = _text(module.get("overallStatus"), "overallStatus")
    if overall_status in EXPANDED_ACCESS_STATUSES:
        notes.append(f"Expanded-access status on the registry: {overall_status} (no equivalent here).")
        overall_status = ""
    overall_status = _code(overall_status, OverallStatus, "overallStatus")
    if overall_status == OverallStatus.UNKNOWN:
        last_known = _code(module.get("lastKnownStatus"), OverallStatus, "lastKnownStatus")
        if last_known:
            notes.append(
                f"ClinicalTrials.gov shows the status as unknown; the last known status was "
                f"“{OverallStatus(last_known).label}” (status verified {module.get('statusVerifiedDate') or 'never'})."
            )
    if why := _text(module.get("whyStopped"), "whyStopped"):
        notes.append(f"Why stopped, per the registry: {why}")
    verified, verified_precision = None, ""
    if module.get("statusVerifiedDate"):
        verified, verified_precision = parse_partial_date(module["statusVerifiedDate"], "statusVerifiedDate")
    return {
        "overall_status": overall_status,
        "status_confirmed_on": verified.isoformat() if verified else None,
        "status_confirmed_on_precision": str(verified_precision),
        "start_date": _precise_date(module.get("startDateStruct"), "startDate"),
        "primary_completion_date": _precise_date(module.get("primaryCompletionDateStruct"), "primaryCompletionDate"),
        "completion_date": _precise_date(module.get("completionDateStruct"), "completionDate"),
    }


def _last_updated(module: Study) -> tuple[str, str | None, str]:
    """statusModule's lastUpdatePostDate: (as written, ISO date when it gives a day, notes when it does not)."""
    updated = (module.get("lastUpdatePostDateStruct") or {}).get("date") or ""
    if not updated:
        return "", None, ""
    day, precision = parse_partial_date(updated, "lastUpdatePostDate")
    if precision == DatePrecision.DAY:
        return updated, day.isoformat(), ""
    return updated, None, f"last updated {updated}"


def _design(module: Study) -> dict[str, Any]:
    """designModule: study type, phase (a combination such as ["PHASE1", "PHASE2"] is one phase), enrollment."""
    phases = module.get("phases") or []
    if not isinstance(phases, list):
        raise CtgovError(f"phases should be a list; got {phases!r}.")
    key = tuple(sorted(str(p) for p in phases))
    if key not in PHASES:
        raise CtgovError(f"unknown phase combination {list(phases)!r}; the registry knows {', '.join(Phase.values)}.")
    enrollment_info = module.get("enrollmentInfo") or {}
    enrollment = enrollment_info.get("count")
    if enrollment is not None and (not isinstance(enrollment, int) or isinstance(enrollment, bool) or enrollment < 0):
        raise CtgovError(f"enrollment count should be a whole number; got {enrollment!r}.")
    return {
        "study_type": _code(module.get("studyType"), StudyType, "studyType"),
        "phase": str(PHASES[key]),
        "enrollment": enrollment,
        "enrollment_type": _code(enrollment_info.get("type"), EnrollmentType, "enrollment type"),
    }


def _conditions(module: Study, notes: list[str], warnings: list[str]) -> tuple[list[str], list[str]]:
    """conditionsModule: (the conditions as registered, the diabetes types they name); a warning when none."""
    conditions = [str(c) for c in module.get("conditions") or []]
    types, unrecognised = diabetes_types(conditions)
    if unrecognised:
        notes.append(f"Conditions naming diabetes without its type: {'; '.join(unrecognised)}.")
    if not types and not unrecognised:
        listed = f"conditions: {cut('; '.join(conditions), 300)}" if conditions else "it lists none"
        warnings.append(f"none of the registry's conditions names a form of diabetes ({listed}): {IS_IT_OURS}")
    return conditions, types


def _countries(module: Study, countries: dict[str, str], notes: list[str]) -> list[str]:
    """contactsLocationsModule: the ISO codes of the sites' countries (`countries` is a `country_lookup()`)."""
    codes, unknown = set(), []
    for location in module.get("locations") or []:
        name = str((location or {}).get("country") or "").strip()
        if not name:
            continue
        if code := countries.get(_fold(name)):
            codes.add(code)
        elif name not in unknown:
            unknown.append(name)
    if unknown:
        notes.append(f"Countries not recognised, to add by hand: {', '.join(unknown)}.")
    return sorted(codes)


def _population(conditions: list[str], eligibility: Study) -> str:
    """conditionsModule and eligibilityModule: who takes part, in words, for the population notes."""
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
    return " ".join(population)


def study_to_record(study: Study, *, countries: dict[str, str] | None = None, today: date | None = None) -> Record:
    """One API v2 study as a record of the registry's data format: a draft for `create_trial`.

    Copies what the registry says, one API module at a time (a function each, above); leaves to curators what it
    cannot say (see LEFT_FOR_CURATORS) and writes that, with anything it could not map, into the curator's notes.
    Raises CtgovError (naming the field and value) for a record it cannot read: no NCT number, an unknown code, a
    malformed date (a record of the wrong shape is refused before, by `validation.study_problems`). `countries` is
    a `country_lookup()` (queried when not given). `warnings`: what the curator should check first, in words.
    """
    if problem := study_shape_error(study):
        raise CtgovError(problem)
    today = today or timezone.localdate()
    countries = country_lookup() if countries is None else countries
    notes: list[str] = []
    warnings: list[str] = []
    protocol = study["protocolSection"]
    identification = protocol["identificationModule"]
    nct_id = normalize_nct_id(_text(identification.get("nctId"), "nctId"))
    status_module = _module(protocol, "statusModule", notes)
    sponsors_module = _module(protocol, "sponsorCollaboratorsModule", notes)
    conditions_module = _module(protocol, "conditionsModule", notes)
    design_module = _module(protocol, "designModule", notes)

    brief_title = _text(identification.get("briefTitle"), "briefTitle")
    if not brief_title:
        raise CtgovError("the record has no briefTitle.")
    sponsors = _sponsors(sponsors_module, notes)
    status = _status(status_module, notes)
    design = _design(design_module)
    conditions, types = _conditions(conditions_module, notes, warnings)
    country_codes = _countries(protocol.get("contactsLocationsModule") or {}, countries, notes)
    product_name, cell_notes = _interventions(protocol.get("armsInterventionsModule") or {})
    updated, source_date, source_date_notes = _last_updated(status_module)
    identifiers = [{"registry": str(Registry.CTGOV), "value": nct_id, "primary": True}]
    identifiers += _secondary_identifiers(identification, nct_id, notes)
    publications = _publications(protocol.get("referencesModule") or {}, notes)

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
        "summary": _text((protocol.get("descriptionModule") or {}).get("briefSummary"), "briefSummary"),
        **sponsors,
        "product_name": product_name,
        "diabetes_types": types,
        "population_notes": _population(conditions, protocol.get("eligibilityModule") or {}),
        "study_type": design["study_type"],
        "phase": design["phase"],
        "overall_status": status["overall_status"],
        **{name: status[name] for name in ("status_confirmed_on", "status_confirmed_on_precision")},
        "last_reviewed_on": None,
        **{name: status[name] for name in PRECISE_DATES},
        "enrollment": design["enrollment"],
        "enrollment_type": design["enrollment_type"],
        "enrollment_notes": "",
        "countries": country_codes,
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
        "warnings": warnings,  # for the curator, in plain words: the import writes them at the top of the notes
    }
