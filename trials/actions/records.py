"""Records of the registry's data format (trials/data/README.md): create a trial and everything it links to,
load a data file (the initial curated trials).
"""

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction

from mechanisms.models import Mechanism
from trials.models import (
    Country,
    DiabetesTypeTerm,
    Publication,
    RegistryIdentifier,
    RouteTerm,
    Source,
    Trial,
    TrialMechanism,
)
from trials.vocabularies import PRECISE_DATES

INITIAL_DATA = Path(__file__).resolve().parent.parent / "data" / "initial_trials.json"

# Scalar fields of a record in the registry's data format (see trials/data/README.md).
SCALAR_FIELDS = [
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
    "curator_notes",
    "curation_state",
]
DATE_FIELDS = ["status_confirmed_on", "last_reviewed_on"]


class RecordError(Exception):
    """A record of a data file that cannot be saved; the message names the record."""


@dataclass
class LoadSummary:
    created: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    kept: list = field(default_factory=list)  # present, differing from the file: the curators' version is kept

    def __str__(self):
        return (
            f"{len(self.created)} created, {len(self.unchanged)} already up to date, "
            f"{len(self.kept)} changed by curators since and left as they are"
        )


_TEXT_FIELDS = {
    f.name for f in Trial._meta.concrete_fields if f.get_internal_type() in {"CharField", "TextField", "SlugField"}
}


def _parse_date(value):
    return date.fromisoformat(value) if value else None


def trial_fields(record):
    """The Trial model's field values of a record (scalars and dates; no relations)."""
    values = {name: record.get(name) for name in SCALAR_FIELDS if name in record}
    for name in ("official_title", "acronym", "summary", "sponsor", "sponsor_class", "product_name"):
        values[name] = values.get(name) or ""
    values["collaborators"] = "\n".join(record.get("collaborators") or [])
    for name in DATE_FIELDS:
        values[name] = _parse_date(record.get(name))
    for name in PRECISE_DATES:
        given = record.get(name) or {}
        values[name] = _parse_date(given.get("date"))
        values[f"{name}_precision"] = given.get("precision", "")
        values[f"{name}_type"] = given.get("type", "")
    return {name: ("" if value is None and name in _TEXT_FIELDS else value) for name, value in values.items()}


def _clean_and_save(instance, label, exclude=None, user=None):
    if user is not None:
        instance._history_user = user  # the history names who made the row (no request to take it from)
    try:
        instance.full_clean(exclude=exclude)
    except ValidationError as error:
        raise RecordError(f"{label}: {'; '.join(_messages(error))}") from None
    instance.save()


def _messages(error):
    if hasattr(error, "message_dict"):
        return [f"{name}: {' '.join(msgs)}" for name, msgs in error.message_dict.items()]
    return error.messages


def create_trial(record, *, change_reason="Created", user=None):
    """Create a trial and everything it links to from one record of the registry's data format.

    Every row is validated (formats, vocabularies, date order) before it is saved; a bad record raises
    RecordError naming it. `user`, when given, is named in the history of every row (a command has no
    request to take it from). Call inside a transaction (the loaders do).
    """
    label = f"record {record.get('slug') or record.get('brief_title')!r}"
    trial = Trial(**trial_fields(record))
    trial._change_reason = change_reason
    _clean_and_save(trial, label, user=user)

    for name, model in (("diabetes_types", DiabetesTypeTerm), ("routes", RouteTerm), ("countries", Country)):
        codes = set(record.get(name, []))
        terms = list(model.objects.filter(code__in=codes))
        if unknown := codes - {term.code for term in terms}:
            raise RecordError(f"{label}: unknown {name} codes {sorted(unknown)}")
        getattr(trial, name).set(terms)

    for item in record.get("identifiers", []):
        identifier = RegistryIdentifier(
            trial=trial, registry=item["registry"], value=item["value"], is_primary=item.get("primary", False)
        )
        _clean_and_save(identifier, label, user=user)
    mechanisms = {m.slug: m for m in Mechanism.objects.all()}
    for item in record.get("mechanisms", []):
        if item["mechanism"] not in mechanisms:
            raise RecordError(f"{label}: unknown mechanism {item['mechanism']!r}")
        link = TrialMechanism(
            trial=trial,
            mechanism=mechanisms[item["mechanism"]],
            role=item.get("role", "PRIMARY"),
            rationale=item["rationale"],
        )
        _clean_and_save(link, label, user=user)
    for item in record.get("publications", []):
        publication = Publication(
            trial=trial,
            citation=item["citation"],
            doi=item.get("doi") or "",
            pmid=item.get("pmid") or "",
            journal=item.get("journal") or "",
            year=item.get("year"),
        )
        _clean_and_save(publication, label, user=user)
    for item in record.get("sources", []):
        source = Source(
            trial=trial,
            url=item["url"],
            source_date=_parse_date(item.get("date")),
            date_notes=item.get("date_notes") or "",
            used_for=item.get("used_for") or "",
        )
        _clean_and_save(source, label, user=user)
    return trial


def read_records(path=INITIAL_DATA):
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return data["trials"]


def load_trials(records, *, dry_run=False):
    """Create every record whose slug is not in the registry yet; never touch one that is.

    Idempotent: a second run creates nothing. A trial already present is reported as up to date when
    its fields equal the record's, and as kept when a curator changed it since (it is not overwritten).
    All or nothing: one transaction, rolled back on any error or when `dry_run` is set.
    """
    summary = LoadSummary()
    with transaction.atomic():
        existing = {trial.slug: trial for trial in Trial.objects.filter(slug__in=[r["slug"] for r in records])}
        for record in records:
            trial = existing.get(record["slug"])
            if trial is None:
                create_trial(record, change_reason="Loaded from the initial curated data")
                summary.created.append(record["slug"])
            elif all(getattr(trial, name) == value for name, value in trial_fields(record).items()):
                summary.unchanged.append(record["slug"])
            else:
                summary.kept.append(record["slug"])
        if dry_run:
            transaction.set_rollback(True)
    return summary
