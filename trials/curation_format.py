"""The curation's exchange format (version 2) mapped onto the registry's data format.

A curation (`curated-trials.json`, described by its SCHEMA.md: free-text pathway fields, typed and dated
sources, sites, outcomes, related trials) becomes `trials/data/initial_trials.json`, the file
`load_initial_data` reads (its format: trials/data/README.md). `manage.py convert_curation` runs it.

What the curation leaves null stays unknown here: no date gets a day it does not have, no status or
date type is guessed. Free text is mapped onto the registry's vocabularies by the rules below and kept
whole in the notes fields beside each code; `CODE_DECISIONS` holds the few choices a rule cannot make,
each with its reason. Facts the curation does not carry at all (sponsor class, plain-language summary,
follow-up in months, gene editing when the text does not say) are kept from the previous data file.
The curation writes its vocabularies' codes in lower case (`registry_copy`, `c_peptide`); the registry
stores them in upper case, as all its codes. Pure: no database.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

DATA_FORMAT_VERSION = 2

Record = dict[str, Any]

MECHANISMS = {
    "beta_cell_replacement": "beta-cell-regeneration",
    "immunomodulation": "immune-regulation",
    "angiogenesis": "angiogenesis",
    "paracrine_support": "trophic-support",
}
ROLES = {"primary": "PRIMARY", "contributing": "CONTRIBUTING"}
ORIGINS = {"allogeneic": "ALLOGENEIC", "autologous": "AUTOLOGOUS", "both": "BOTH"}
SOURCE_KINDS = {"registry", "registry_copy", "publication", "sponsor", "news", "other"}
PUBLICATION_KINDS = {"results", "interim_results", "protocol", "background"}
OUTCOME_MEASURES = {
    "insulin_independence",
    "c_peptide",
    "hba1c",
    "severe_hypoglycaemia",
    "insulin_dose",
    "safety",
    "other",
}
RELATIONS = {"predecessor", "successor", "same_programme", "follow_up"}

# Choices no rule can make from the text, per trial: {slug: {field: (value, reason)}}.
CODE_DECISIONS: dict[str, dict[str, tuple[Any, str]]] = {
    "vx264": {
        "programme_discontinued_on": (
            "2025-03",
            "the sponsor stopped developing VX-264 in March 2025 (public caveats, key results, news source of "
            "2025-04-01)",
        ),
    },
    "musc-msc-islet-tpiat": {"routes": ([], "only the earlier pilot names a route (portal vein)")},
    "shanghai-e-islets-t2d": {"cell_source": ("OTHER", "endoderm stem cells; reprogramming is only in news reports")},
    "zhongshan-app-islets": {
        "differentiation": ("DIFFERENTIATED", "islet-like cells differentiated from adult pancreatic progenitors")
    },
    "kyoto-ips-islet-sheet": {
        "routes": (["OTHER"], "cell sheets placed under the skin of the abdomen: not a device"),
    },
    "seraxis-sr02": {
        "cell_source": ("IPSC", "a stem cell line reprogrammed from donor pancreas tissue"),
    },
}


class FormatError(ValueError):
    """A record that does not fit the curation's format; the message names it."""


# --- Dates ------------------------------------------------------------------------------------


def partial_date(value: str | None) -> tuple[str, str] | None:
    """'2021-03-29' | '2021-03' | '2021' → (ISO date with the 1st for what is not given, precision)."""
    if not value:
        return None
    parts = value.split("-")
    precision = {1: "YEAR", 2: "MONTH", 3: "DAY"}.get(len(parts))
    if precision is None:
        raise FormatError(f"{value!r} is not a date (YYYY-MM-DD, YYYY-MM or YYYY)")
    year, month, day = (int(p) for p in [*parts, "1", "1"][:3])
    return date(year, month, day).isoformat(), precision


def precise_date(value: str | None, kind: str | None) -> dict[str, str] | None:
    given = partial_date(value)
    if given is None:
        return None
    return {"date": given[0], "precision": given[1], "type": kind or ""}


# --- Identifiers and countries -----------------------------------------------------------------

IDENTIFIER_PATTERNS = [
    ("NCT", re.compile(r"NCT\d{8}")),
    ("CHICTR", re.compile(r"ChiCTR(\d{10}|-[A-Z]{2,5}-\d{8})")),
    ("IRCT", re.compile(r"IRCT\d{8,14}N\d{1,3}")),
    ("ISRCTN", re.compile(r"ISRCTN\d{8}")),
    ("JRCT", re.compile(r"jRCT([a-z]\d{9}|\d{10})")),
    ("CTRI", re.compile(r"CTRI/\d{4}/\d{2,3}/\d{6}")),
    ("ANZCTR", re.compile(r"ACTRN\d{14}")),
    ("DRKS", re.compile(r"DRKS\d{8}")),
    ("EUCT", re.compile(r"\d{4}-5\d{5}-\d{2}-\d{2}")),
]
# The EU Clinical Trials Register writes EudraCT numbers as EUCTR<number>-<country>.
EUCTR = re.compile(r"EUCTR(\d{4}-\d{6}-\d{2})(-[A-Z]{2})?")


def identifier(value: str) -> dict[str, str]:
    """{registry, value} of a registry identifier as the curation writes it."""
    if match := EUCTR.fullmatch(value):
        return {"registry": "EUDRACT", "value": match.group(1)}
    for registry, pattern in IDENTIFIER_PATTERNS:
        if pattern.fullmatch(value):
            return {"registry": registry, "value": value}
    raise FormatError(f"{value!r} is not an identifier of a known registry")


def identifiers(record: Record) -> list[dict[str, Any]]:
    """Every registry identifier, the first NCT number (else the first one) primary; the sponsor's own
    study number as an OTHER identifier, as the registry keeps it."""
    found = []
    for value in record["registry_ids"]:
        item = identifier(value)
        if item["value"] not in {i["value"] for i in found}:
            found.append(item)
    if record.get("org_study_id"):
        found.append({"registry": "OTHER", "value": record["org_study_id"].strip()})
    registered = [item for item in found if item["registry"] != "OTHER"]
    primary = next((i for i in registered if i["registry"] == "NCT"), registered[0] if registered else None)
    return [dict(item, primary=item is primary) for item in found]


def country_code(name: str, countries: dict[str, str]) -> str:
    code = countries.get(name.strip().lower())
    if code is None:
        raise FormatError(f"unknown country {name!r}")
    return code


# --- Cells, route, immunosuppression: free text onto vocabularies ------------------------------


def _has(text: str, *patterns: str) -> bool:
    return any(re.search(p, text, re.I) for p in patterns)


def cell_source(text: str | None) -> str:
    """The main source of the cells: the kind of cell named first, then, for mesenchymal cells, the tissue
    named first. OTHER (or MSC_OTHER) when the text names no kind (or no tissue)."""
    if not text:
        return ""
    kinds = [
        ("ESC", r"embryonic"),
        ("IPSC", r"induced pluripotent|\biPS\b|CiPSC|reprogrammed"),
        ("PSC", r"pluripotent|stem cell-derived islet"),
        ("CORD_BLOOD", r"cord blood"),
        ("HSC", r"haematopoietic|hematopoietic|blood-forming"),
        ("MSC", r"mesenchymal|\bMSCs?\b|stromal"),
        ("BM_MNC", r"bone marrow mononuclear|buffy coat"),
    ]
    found = [(m.start(), code) for code, pattern in kinds if (m := re.search(pattern, text, re.I))]
    if not found:
        return "OTHER"
    kind = min(found)[1]
    if kind != "MSC":
        return kind
    tissues = [
        ("MSC_UC", r"umbilical|wharton|\bcord\b"),
        ("MSC_AD", r"adipose|fat tissue"),
        ("MSC_BM", r"bone[- ]marrow|mesenchymal precursor"),
    ]
    found = [(m.start(), code) for code, pattern in tissues if (m := re.search(pattern, text, re.I))]
    return min(found)[1] if found else "MSC_OTHER"


def differentiation(differentiated: bool | None, product_form: str | None) -> str:
    if differentiated is None:
        return ""
    if not differentiated:
        return "UNDIFFERENTIATED"
    if _has(product_form or "", r"progenitor|endoderm cells"):
        return "PROGENITOR"
    return "DIFFERENTIATED"


def encapsulation(text: str | None) -> str:
    if text is None:
        return ""
    if text.strip().lower() == "none":
        return "NONE"
    if text.lower().startswith("immunoprotective"):
        return "IMMUNOPROTECTIVE"
    if text.lower().startswith("open device"):
        return "OPEN_DEVICE"
    return "OTHER"


def routes(text: str | None) -> list[str]:
    """Every route the text names (none when it says the route is not stated)."""
    if not text:
        return []
    rules = [
        ("INTRAVENOUS", r"intravenous|\bIV\b|into a vein"),
        ("PORTAL_VEIN", r"portal vein"),
        ("PANCREATIC_ARTERY", r"pancreatic arter|splenic artery|intra-arterial|dorsal artery|blood supply by catheter"),
        ("INTRAPANCREATIC", r"intrapancreatic|into the pancreas"),
        ("DEVICE", r"device|implanted unit|subcutaneous"),
        ("INTRAMUSCULAR", r"rectus|muscle"),
        ("OMENTUM", r"omentum"),
        ("EXTRACORPOREAL", r"extracorporeal"),
    ]
    found = [code for code, pattern in rules if re.search(pattern, text, re.I)]
    # Cells into the pancreas through its artery: one route. A device behind a muscle: one route.
    for general, specific in (("INTRAPANCREATIC", "PANCREATIC_ARTERY"), ("INTRAMUSCULAR", "DEVICE")):
        if general in found and specific in found:
            found.remove(general)
    return found


def immunosuppression(text: str | None) -> str:
    if not text:
        return "UNKNOWN"
    lowered = text.strip().lower()
    if _has(lowered, r"^none (described|stated|listed|mentioned)"):
        return "UNKNOWN"  # not said is not none
    if lowered.startswith(("none", "not used", "intended to be unnecessary")):
        return "NONE"
    if _has(text, r"conditioning|immunoablat|immune ablation|high-dose immunosuppression|chemotherapy"):
        return "SHORT_COURSE"
    if _has(text, r"^required|maintenance"):
        return "CHRONIC"
    return "UNKNOWN"


def gene_edited(record: Record, previous: Record) -> bool | None:
    text = f"{record.get('cell_source') or ''} {record.get('product_form') or ''}"
    if _has(text, r"gene-edited|genetically modified|gene-modified|CRISPR"):
        return True
    return previous.get("gene_edited")


def _keep_specific(code: str, previous: str | None) -> str:
    """The previous file's more specific cell source where the text now names only the kind (or nothing)."""
    if code == "OTHER" and previous not in (None, "", "OTHER"):
        return previous
    if code == "MSC_OTHER" and (previous or "").startswith("MSC_"):
        return previous or code
    return code


def cell_notes(record: Record) -> str:
    parts = []
    if record.get("cell_source"):
        parts.append(record["cell_source"].rstrip(".") + ".")
    if record.get("product_form"):
        parts.append(f"Product form: {record['product_form'].rstrip('.')}.")
    if record.get("encapsulation") and record["encapsulation"].strip().lower() != "none":
        parts.append(f"Encapsulation: {record['encapsulation'].rstrip('.')}.")
    return " ".join(parts)


# --- Sources, publications, outcomes, sites, related trials --------------------------------------


def source(item: Record) -> Record:
    if item["kind"] not in SOURCE_KINDS:
        raise FormatError(f"source kind {item['kind']!r}")
    given = partial_date(item.get("date"))
    return {
        "url": item["url"],
        "title": item.get("title") or "",
        "publisher": item.get("publisher") or "",
        "kind": item["kind"].upper(),
        "date": given[0] if given else None,
        "date_precision": given[1] if given else "",
        "used_for": item.get("used_for") or "",
    }


def publication(item: Record) -> Record:
    if item["kind"] not in PUBLICATION_KINDS:
        raise FormatError(f"publication kind {item['kind']!r}")
    return {
        "citation": item["citation"],
        "doi": item.get("doi") or "",
        "pmid": item.get("pmid") or "",
        "journal": item.get("journal") or "",
        "year": item.get("year"),
        "kind": item["kind"].upper(),
    }


def outcome(item: Record) -> Record:
    if item["measure"] not in OUTCOME_MEASURES:
        raise FormatError(f"outcome measure {item['measure']!r}")
    return {
        "measure": item["measure"].upper(),
        "result": item["result"],
        "n": item.get("n"),
        "timepoint": item.get("timepoint") or "",
        "publication": item.get("publication"),
        "source": item.get("source"),
    }


def site(item: Record, countries: dict[str, str]) -> Record:
    return {
        "facility": item.get("facility") or "",
        "city": item.get("city") or "",
        "country": country_code(item["country"], countries) if item.get("country") else "",
    }


def related(item: Record) -> Record:
    if item["relation"] not in RELATIONS:
        raise FormatError(f"relation {item['relation']!r}")
    return {"slug": item["id"], "relation": item["relation"].upper()}


# --- A whole record ------------------------------------------------------------------------------


def convert_record(
    record: Record, *, countries: dict[str, str], previous: Record | None = None, reviewed_on: str
) -> Record:
    """One trial of the curation in the registry's data format. `previous`: the same trial in the registry's
    previous data file (for the facts the curation does not carry), or None for a new trial."""
    previous = previous or {}
    slug = record["id"]
    try:
        status = record.get("overall_status") or ""
        confirmed = partial_date(record.get("status_as_of")) if status else None
        enrollment = record.get("enrollment") or {}
        population = record.get("population_notes") or ""
        if record.get("condition"):
            population = f"{record['condition'].rstrip('.')}. {population}".strip()
        converted: Record = {
            "slug": slug,
            "identifiers": identifiers(record),
            "registry_search_note": record.get("registry_search_note") or "",
            "brief_title": record["brief_title"],
            "official_title": record.get("official_title") or "",
            "acronym": record.get("acronym") or "",
            "summary": previous.get("summary", ""),
            "sponsor": record.get("sponsor") or "",
            "sponsor_class": previous.get("sponsor_class", ""),
            "collaborators": list(record.get("collaborators") or []),
            "product_name": record.get("product_name") or "",
            "diabetes_types": list(record.get("diabetes_types") or []),
            "population_notes": population,
            "study_type": record.get("study_type") or "",
            "phase": (record.get("phase") or "").replace("/", "_"),
            "overall_status": status,
            "status_confirmed_on": confirmed[0] if confirmed else None,
            "status_confirmed_on_precision": confirmed[1] if confirmed else "",
            "status_source": record.get("status_source") if status else None,
            "why_stopped": record.get("why_stopped") or "",
            "last_reviewed_on": reviewed_on,
            "start_date": precise_date(record.get("start_date"), record.get("start_date_type")),
            "primary_completion_date": precise_date(
                record.get("primary_completion_date"), record.get("primary_completion_date_type")
            ),
            "completion_date": precise_date(record.get("completion_date"), record.get("completion_date_type")),
            "enrollment": enrollment.get("count"),
            "enrollment_type": (enrollment.get("type") or "") if enrollment.get("count") is not None else "",
            "enrollment_notes": "",
            "countries": sorted({country_code(name, countries) for name in record.get("countries") or []}),
            "sites": [site(item, countries) for item in record.get("locations") or []],
            "cell_source": _keep_specific(cell_source(record.get("cell_source")), previous.get("cell_source")),
            "cell_origin": ORIGINS.get(record.get("autologous_or_allogeneic") or "", ""),
            "differentiation": differentiation(record.get("differentiated_in_vitro"), record.get("product_form")),
            "cell_notes": cell_notes(record),
            "encapsulation": encapsulation(record.get("encapsulation")),
            "gene_edited": gene_edited(record, previous),
            "routes": routes(record.get("route")),
            "route_notes": record.get("route") or "",
            "immunosuppression": immunosuppression(record.get("immunosuppression")),
            "immunosuppression_notes": record.get("immunosuppression") or "",
            "follow_up_months": previous.get("follow_up_months"),
            "mechanisms": [
                {"mechanism": MECHANISMS[m["mechanism"]], "role": ROLES[m["role"]], "rationale": m["rationale"]}
                for m in record.get("mechanisms") or []
            ],
            "key_results": record.get("key_results") or "",
            "outcomes": [outcome(item) for item in record.get("outcomes") or []],
            "publications": [publication(item) for item in record.get("publications") or []],
            "sources": [source(item) for item in record.get("sources") or []],
            "related": [related(item) for item in record.get("related") or []],
            "programme": record.get("programme") or "",
            "programme_discontinued_on": None,
            "public_caveats": record.get("public_caveats") or "",
            "curator_notes": record.get("curator_notes") or "",
            "curation_state": "PUBLISHED",
        }
    except (KeyError, TypeError, ValueError) as error:
        raise FormatError(f"record {slug!r}: {error}") from None
    for name, (value, _reason) in CODE_DECISIONS.get(slug, {}).items():
        converted[name] = precise_date(value, "") if name == "programme_discontinued_on" else value
    if converted["programme_discontinued_on"]:
        converted["programme_discontinued_on"].pop("type")
    return converted


def convert(
    records: list[Record], *, countries: dict[str, str], previous: list[Record] = (), reviewed_on: str
) -> dict[str, Any]:
    """The registry's data file for a whole curation. Checks that related trials exist and that indexes
    into sources and publications point at one."""
    earlier = {item["slug"]: item for item in previous}
    trials = [
        convert_record(record, countries=countries, previous=earlier.get(record["id"]), reviewed_on=reviewed_on)
        for record in records
    ]
    slugs = {trial["slug"] for trial in trials}
    for trial in trials:
        for link in trial["related"]:
            if link["slug"] not in slugs:
                raise FormatError(f"record {trial['slug']!r}: related trial {link['slug']!r} is not in the file")
        if trial["status_source"] is not None and not 0 <= trial["status_source"] < len(trial["sources"]):
            raise FormatError(f"record {trial['slug']!r}: status_source points at no source")
        for item in trial["outcomes"]:
            for key, within in (("publication", trial["publications"]), ("source", trial["sources"])):
                if item[key] is not None and not 0 <= item[key] < len(within):
                    raise FormatError(f"record {trial['slug']!r}: an outcome's {key} points at none")
    return {"format": DATA_FORMAT_VERSION, "version": reviewed_on, "trials": trials}
