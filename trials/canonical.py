"""A trial as a record of the registry's data format (trials/data/README.md): its canonical form, its
fingerprint, and the differences between two versions of it.

The loader keeps, per trial, the fingerprint of the record it last wrote (`Trial.data_fingerprint`). A trial
whose own record (`record_of`) still has that fingerprint is untouched since: it may take a newer version
of the file's record. One a curator changed keeps the curator's values and gets the differences as a
proposal, field by field.

The canonical form is what makes two versions comparable: every field the file can give, in one order,
lists sorted where the database keeps no order, links between items (an outcome's publication or source,
the status's source) by their content rather than by position, dates with their precision, and empty
values ("", None, []) left out, so that a field added later with an empty default changes no fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from trials import vocabularies

Record = dict[str, Any]

# The trial's own fields, in the order the differences are shown.
SCALARS = [
    "slug",
    "brief_title",
    "official_title",
    "acronym",
    "summary",
    "sponsor",
    "sponsor_class",
    "product_name",
    "population_notes",
    "study_type",
    "phase",
    "overall_status",
    "why_stopped",
    "enrollment",
    "enrollment_type",
    "enrollment_notes",
    "cell_source",
    "cell_origin",
    "differentiation",
    "cell_notes",
    "encapsulation",
    "gene_edited",
    "route_notes",
    "immunosuppression",
    "immunosuppression_notes",
    "follow_up_months",
    "key_results",
    "registry_search_note",
    "programme",
    "public_caveats",
    "curator_notes",
]
DATES = ["status_confirmed_on", "last_reviewed_on"]
PRECISE_DATES = list(vocabularies.PRECISE_DATES)  # named once, in trials/vocabularies.py
LISTS = ["collaborators", "diabetes_types", "countries", "routes"]
ITEMS = {
    "identifiers": ["registry", "value", "primary"],
    "mechanisms": ["mechanism", "role", "rationale"],
    "publications": ["citation", "doi", "pmid", "journal", "year", "kind"],
    "sources": ["url", "title", "publisher", "kind", "date", "date_precision", "date_notes", "used_for"],
    "sites": ["facility", "city", "country"],
    "outcomes": ["measure", "result", "n", "timepoint", "publication", "source"],
    "related": ["slug", "relation"],
}
# Fields of a record in the order a curator reads them (the differences follow it).
FIELDS = [
    *SCALARS[:12],
    "status_confirmed_on",
    "status_source",
    *SCALARS[12:],
    "last_reviewed_on",
    *PRECISE_DATES,
    "programme_discontinued_on",
    *LISTS,
    *ITEMS,
]
# Never compared or proposed: whether a trial is published is an editor's decision, not the file's.
NOT_COMPARED = {"curation_state"}

EMPTY = ("", None, [], {})


def _clean(item: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    return {key: item.get(key) for key in keys if item.get(key) not in EMPTY}


def _sorted(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda item: json.dumps(item, sort_keys=True, ensure_ascii=False))


def canonical(record: Record) -> Record:
    """The record's canonical form (see the module's docstring). Works on the file's records, old and new, and
    on `record_of`'s."""
    sources = record.get("sources") or []
    publications = record.get("publications") or []
    out: Record = {}
    for name in SCALARS:
        out[name] = record.get(name)
    for name in DATES:
        out[name] = record.get(name)
    if record.get("status_confirmed_on"):
        out["status_confirmed_on_precision"] = record.get("status_confirmed_on_precision") or "DAY"
    status_source = record.get("status_source")
    if isinstance(status_source, int):  # the file's index into its sources: the source's address instead
        status_source = sources[status_source]["url"] if 0 <= status_source < len(sources) else None
    out["status_source"] = status_source
    for name in PRECISE_DATES:
        given = record.get(name) or {}
        if given.get("date"):
            out[name] = _clean(given, ["date", "precision", "type"])
    stopped = record.get("programme_discontinued_on") or {}
    if stopped.get("date"):
        out["programme_discontinued_on"] = _clean(stopped, ["date", "precision"])
    for name in LISTS:
        values = record.get(name) or []
        out[name] = values if name == "collaborators" else sorted(values)
    for name, keys in ITEMS.items():
        items = []
        for item in record.get(name) or []:
            item = dict(item)
            if name == "sources" and item.get("date"):
                item["date_precision"] = item.get("date_precision") or "DAY"
            if name == "outcomes":
                for key, within, by in (("publication", publications, "citation"), ("source", sources, "url")):
                    if isinstance(item.get(key), int):
                        item[key] = within[item[key]][by] if 0 <= item[key] < len(within) else None
            if name == "identifiers":
                item["primary"] = bool(item.get("primary"))
            items.append(_clean(item, keys))
        out[name] = _sorted(items)
    if out.get("immunosuppression") == "UNKNOWN":
        out["immunosuppression"] = None  # the model's default: the same as not given
    return {name: value for name, value in out.items() if value not in EMPTY}


def fingerprint(record: Record) -> str:
    """A short, stable digest of the record's canonical form."""
    text = json.dumps(canonical(record), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def differences(current: Record, new: Record) -> dict[str, dict[str, Any]]:
    """{field: {"old": current value, "new": new value}} for each field that differs, in FIELDS' order.

    Values are the canonical ones (an outcome names its publication by citation and its source by address;
    the status's source is its address). A field one version lacks is compared as empty.
    """
    old, wanted = canonical(current), canonical(new)
    changes = {}
    for name in FIELDS:
        if name in NOT_COMPARED:
            continue
        before, after = old.get(name), wanted.get(name)
        if name == "status_confirmed_on":
            before = _with_precision(before, old.get("status_confirmed_on_precision"))
            after = _with_precision(after, wanted.get("status_confirmed_on_precision"))
        if before != after:
            changes[name] = {"old": before, "new": after}
    return changes


def compared_values(record: Record) -> Record:
    """The record's values as `differences` shows them (the status's confirmation date with its precision)."""
    values = canonical(record)
    values["status_confirmed_on"] = _with_precision(
        values.get("status_confirmed_on"), values.get("status_confirmed_on_precision")
    )
    return values


def _with_precision(day, precision):
    return {"date": day, "precision": precision} if day else None


def record_of(trial) -> Record:
    """The trial as a record of the data format, from the database. Reads each relation once (prefetch them
    for a list: identifiers, mechanism_links__mechanism, publications, sources, sites, outcomes, related_links,
    diabetes_types, countries, routes)."""
    sources = list(trial.sources.all())
    publications = list(trial.publications.all())
    record: Record = {name: getattr(trial, name) for name in SCALARS}
    record["collaborators"] = [line.strip() for line in trial.collaborators.splitlines() if line.strip()]
    for name in DATES:
        value = getattr(trial, name)
        record[name] = value.isoformat() if value else None
    record["status_confirmed_on_precision"] = trial.status_confirmed_on_precision
    status_source = next((s for s in sources if s.pk == trial.status_source_id), None)
    record["status_source"] = status_source.url if status_source else None
    for name in PRECISE_DATES:
        value = getattr(trial, name)
        record[name] = (
            {
                "date": value.isoformat(),
                "precision": getattr(trial, f"{name}_precision"),
                "type": getattr(trial, f"{name}_type"),
            }
            if value
            else None
        )
    record["programme_discontinued_on"] = (
        {
            "date": trial.programme_discontinued_on.isoformat(),
            "precision": trial.programme_discontinued_on_precision,
        }
        if trial.programme_discontinued_on
        else None
    )
    record["diabetes_types"] = [term.code for term in trial.diabetes_types.all()]
    record["countries"] = [country.code for country in trial.countries.all()]
    record["routes"] = [term.code for term in trial.routes.all()]
    record["identifiers"] = [
        {"registry": i.registry, "value": i.value, "primary": i.is_primary} for i in trial.identifiers.all()
    ]
    record["mechanisms"] = [
        {"mechanism": link.mechanism.slug, "role": link.role, "rationale": link.rationale}
        for link in trial.mechanism_links.all()
    ]
    record["publications"] = [
        {
            "citation": p.citation,
            "doi": p.doi,
            "pmid": p.pmid,
            "journal": p.journal,
            "year": p.year,
            "kind": p.kind,
        }
        for p in publications
    ]
    record["sources"] = [
        {
            "url": s.url,
            "title": s.title,
            "publisher": s.publisher,
            "kind": s.kind,
            "date": s.source_date.isoformat() if s.source_date else None,
            "date_precision": s.date_precision,
            "date_notes": s.date_notes,
            "used_for": s.used_for,
        }
        for s in sources
    ]
    by_pk = {p.pk: p.citation for p in publications}
    urls = {s.pk: s.url for s in sources}
    record["outcomes"] = [
        {
            "measure": o.measure,
            "result": o.result,
            "n": o.n,
            "timepoint": o.timepoint,
            "publication": by_pk.get(o.publication_id),
            "source": urls.get(o.source_id),
        }
        for o in trial.outcomes.all()
    ]
    record["sites"] = [
        {"facility": s.facility, "city": s.city, "country": s.country_id or ""} for s in trial.sites.all()
    ]
    record["related"] = [{"slug": r.related.slug, "relation": r.relation} for r in trial.related_links.all()]
    return record


# --- For curators reviewing a proposal ---------------------------------------------------------------

LABELS = {
    "status_confirmed_on": "status confirmed on",
    "status_source": "the status's source",
    "last_reviewed_on": "last reviewed on",
    "programme_discontinued_on": "programme stopped by its sponsor on",
    "diabetes_types": "diabetes types",
    "identifiers": "registry identifiers",
    "mechanisms": "mechanism links",
    "related": "related trials",
}


def field_label(name: str) -> str:
    """A field of the data format as curators read it."""
    return LABELS.get(name, name.replace("_", " "))


def _item_text(name: str, item: dict[str, Any]) -> str:
    from .vocabularies import OutcomeMeasure, PublicationKind, SourceKind, TrialRelationKind

    def label(vocabulary, code):
        return str(vocabulary(code).label) if code in vocabulary.values else (code or "")

    if name == "sources":
        kind = label(SourceKind, item.get("kind")) or "No kind"
        when = (
            f", {item['date'][: {'YEAR': 4, 'MONTH': 7}.get(item.get('date_precision'), 10)]}"
            if item.get("date")
            else ""
        )
        return f"{kind}: {item.get('url')}{when}" + (f" ({item['used_for']})" if item.get("used_for") else "")
    if name == "publications":
        kind = label(PublicationKind, item.get("kind"))
        return f"{item.get('citation')}" + (f" [{kind}]" if kind else "")
    if name == "outcomes":
        parts = [label(OutcomeMeasure, item.get("measure")), item.get("result")]
        parts += [f"n={item['n']}" for _ in [0] if item.get("n") is not None]
        parts += [item[key] for key in ("timepoint",) if item.get(key)]
        return ": ".join(parts[:2]) + "".join(f", {part}" for part in parts[2:])
    if name == "related":
        return f"{label(TrialRelationKind, item.get('relation'))}: {item.get('slug')}"
    if name == "identifiers":
        return f"{item.get('value')}" + (" (primary)" if item.get("primary") else "")
    if name == "mechanisms":
        return f"{item.get('mechanism')} ({(item.get('role') or '').lower()}): {item.get('rationale')}"
    if name == "sites":
        return ", ".join(part for part in (item.get("facility"), item.get("city"), item.get("country")) if part)
    return json.dumps(item, ensure_ascii=False)


# The fields whose values are codes of a vocabulary: shown by their labels, never the codes.
CODED = {
    "sponsor_class": vocabularies.SponsorClass,
    "study_type": vocabularies.StudyType,
    "phase": vocabularies.Phase,
    "overall_status": vocabularies.OverallStatus,
    "enrollment_type": vocabularies.EnrollmentType,
    "cell_source": vocabularies.CellSource,
    "cell_origin": vocabularies.CellOrigin,
    "differentiation": vocabularies.DifferentiationStage,
    "encapsulation": vocabularies.Encapsulation,
    "immunosuppression": vocabularies.Immunosuppression,
    "diabetes_types": vocabularies.DiabetesType,
    "routes": vocabularies.Route,
}


def _label(name: str, code: Any) -> str:
    vocabulary = CODED.get(name)
    return str(vocabulary(code).label) if vocabulary and code in vocabulary.values else str(code)


def display(name: str, value: Any) -> str:
    """A value of a record's field in words, for curators (one line per item of a list of items); a code of a
    vocabulary by its label."""
    if value in EMPTY:
        return "—"
    if name in ITEMS:
        return "\n".join(_item_text(name, item) for item in value)
    if isinstance(value, dict):
        precision = value.get("precision")
        shown = value["date"][: {"YEAR": 4, "MONTH": 7}.get(precision, 10)]
        return shown + (f" ({value['type'].lower()})" if value.get("type") else "")
    if isinstance(value, list):
        return ", ".join(_label(name, code) for code in value)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return _label(name, value)
