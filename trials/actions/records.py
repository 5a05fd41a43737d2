"""Records of the registry's data format (trials/data/README.md): write a trial and everything it links to from a
record (`write_record`), for a new trial (`create_trial`), for one taking a newer version of the curated data, and
for a proposal a curator accepts, alike. Loading the curated data file: trials/actions/initial_data.py.
"""

from datetime import date

from django.core.exceptions import ValidationError
from django.db.models import Prefetch

from mechanisms.models import Mechanism
from trials import canonical as records
from trials.actions import edit_versions
from trials.models import (
    Country,
    DiabetesTypeTerm,
    Outcome,
    Publication,
    RegistryIdentifier,
    RouteTerm,
    Site,
    Source,
    Trial,
    TrialMechanism,
    TrialRelation,
)
from trials.models.revisions import revision
from trials.vocabularies import PRECISE_DATES, CurationState, Immunosuppression

REASON_LENGTH = 100  # the history's change reason holds this many characters

# What reading a trial's whole record (trials/canonical.py `record_of`) needs, in one query per relation.
RECORD_PREFETCH = [
    "identifiers",
    Prefetch("mechanism_links", queryset=TrialMechanism.objects.select_related("mechanism")),
    "publications",
    "sources",
    "sites",
    "outcomes",
    Prefetch("related_links", queryset=TrialRelation.objects.select_related("related")),
    "diabetes_types",
    "countries",
    "routes",
]

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
    "status_confirmed_on_precision",
    "why_stopped",
    "enrollment",
    "enrollment_type",
    "enrollment_notes",
    "registry_search_note",
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
    "public_caveats",
    "programme",
    "curator_notes",
    "curation_state",
]
DATE_FIELDS = ["status_confirmed_on", "last_reviewed_on"]


def _parse_date(value):
    return date.fromisoformat(value) if value else None


_date = _parse_date

_TEXT_FIELDS = {
    f.name for f in Trial._meta.concrete_fields if f.get_internal_type() in {"CharField", "TextField", "SlugField"}
}


def trial_fields(record):
    """The Trial model's own field values of a record (scalars and dates; no relations)."""
    values = {name: record.get(name) for name in SCALAR_FIELDS if name in record}
    for name in ("official_title", "acronym", "summary", "sponsor", "sponsor_class", "product_name"):
        values[name] = values.get(name) or ""
    values["collaborators"] = "\n".join(record.get("collaborators") or [])
    for name in DATE_FIELDS:
        values[name] = _parse_date(record.get(name))
    if values["status_confirmed_on"] and not values.get("status_confirmed_on_precision"):
        values["status_confirmed_on_precision"] = "DAY"  # the first data file gave days only
    for name in PRECISE_DATES:
        given = record.get(name) or {}
        values[name] = _parse_date(given.get("date"))
        values[f"{name}_precision"] = given.get("precision", "")
        values[f"{name}_type"] = given.get("type", "")
    stopped = record.get("programme_discontinued_on") or {}
    values["programme_discontinued_on"] = _parse_date(stopped.get("date"))
    values["programme_discontinued_on_precision"] = stopped.get("precision", "") if stopped.get("date") else ""
    return {name: ("" if value is None and name in _TEXT_FIELDS else value) for name, value in values.items()}


def _reason(text):
    return text if len(text) <= REASON_LENGTH else text[: REASON_LENGTH - 1] + "…"


class RecordError(Exception):
    """A record of a data file that cannot be saved; the message names the record."""


def _date(value):
    return date.fromisoformat(value) if value else None


def _messages(error):
    if hasattr(error, "message_dict"):
        return [f"{name}: {' '.join(msgs)}" for name, msgs in error.message_dict.items()]
    return error.messages


def _save(instance, label, reason, exclude=None, constraints=True, user=None):
    if user is not None:
        instance._history_user = user  # the history names who wrote the row (a command has no request)
    try:
        instance.full_clean(exclude=exclude, validate_unique=constraints, validate_constraints=constraints)
    except ValidationError as error:
        raise RecordError(f"{label}: {'; '.join(_messages(error))}") from None
    instance._change_reason = reason
    instance.save()


def _set_scalars(trial, values):
    """Set the trial's own fields among `values` (canonical or file values). Returns the m2m and item fields."""
    rest = {}
    for name, value in values.items():
        if name in records.SCALARS:
            if name == "immunosuppression" and not value:
                value = Immunosuppression.UNKNOWN
            setattr(trial, name, "" if value is None and name in _TEXT_FIELDS else value)
        elif name == "last_reviewed_on":
            trial.last_reviewed_on = _date(value)
        elif name == "status_confirmed_on":
            # a file record gives the date and its precision apart; a proposal gives {"date", "precision"}
            if isinstance(value, dict) or value is None:
                value = value or {}
                trial.status_confirmed_on = _date(value.get("date"))
                trial.status_confirmed_on_precision = value.get("precision", "") if value.get("date") else ""
            else:
                trial.status_confirmed_on = _date(value)
                trial.status_confirmed_on_precision = values.get("status_confirmed_on_precision") or "DAY"
        elif name in records.PRECISE_DATES:
            value = value or {}
            setattr(trial, name, _date(value.get("date")))
            setattr(trial, f"{name}_precision", value.get("precision", "") if value.get("date") else "")
            setattr(trial, f"{name}_type", value.get("type", "") if value.get("date") else "")
        elif name == "programme_discontinued_on":
            value = value or {}
            trial.programme_discontinued_on = _date(value.get("date"))
            trial.programme_discontinued_on_precision = value.get("precision", "") if value.get("date") else ""
        elif name == "collaborators":
            trial.collaborators = "\n".join(value or [])
        elif name in ("status_confirmed_on_precision", "curation_state"):
            continue
        else:
            rest[name] = value
    return rest


def _replace(trial, model, rows, reason, user=None):
    """Make the trial's rows of `model` exactly `rows` (unsaved instances): rows equal to a kept one stay as they
    are (their links and history too), the others are deleted or created."""
    compare = [f.name for f in model._meta.concrete_fields if f.name not in ("id", "trial")]
    existing = list(model.objects.filter(trial=trial))
    kept = []
    for row in rows:
        same = next(
            (old for old in existing if old not in kept and all(getattr(old, n) == getattr(row, n) for n in compare)),
            None,
        )
        kept.append(same or row)
    for old in existing:
        if old not in kept:
            old._change_reason = reason
            if user is not None:
                old._history_user = user
            old.delete()
    return kept


def _write_items(trial, name, items, *, label, reason, slugs=None, user=None):
    """Write one list field of a record (identifiers, mechanisms, publications, sources, sites, outcomes,
    related) onto a saved trial. Items are in the file's form or the canonical one: an outcome names its
    publication and source by index into the record's lists (file) or by citation and address (canonical)."""
    if name == "identifiers":
        rows = [
            RegistryIdentifier(trial=trial, registry=i["registry"], value=i["value"], is_primary=bool(i.get("primary")))
            for i in items
        ]
        # Delete before creating: an identifier moving between rows must not collide with itself.
        kept = _replace(trial, RegistryIdentifier, rows, reason, user)
        for row in kept:
            if row.pk is None:
                _save(row, label, reason, user=user)
        return
    if name == "mechanisms":
        mechanisms = {m.slug: m for m in Mechanism.objects.all()}
        rows = []
        for item in items:
            if item["mechanism"] not in mechanisms:
                raise RecordError(f"{label}: unknown mechanism {item['mechanism']!r}")
            rows.append(
                TrialMechanism(
                    trial=trial,
                    mechanism=mechanisms[item["mechanism"]],
                    role=item.get("role") or "PRIMARY",
                    rationale=item.get("rationale") or "",
                )
            )
        model = TrialMechanism
    elif name == "publications":
        rows = [
            Publication(
                trial=trial,
                citation=item["citation"],
                doi=item.get("doi") or "",
                pmid=item.get("pmid") or "",
                journal=item.get("journal") or "",
                year=item.get("year"),
                kind=item.get("kind") or "",
            )
            for item in items
        ]
        model = Publication
    elif name == "sources":
        rows = [
            Source(
                trial=trial,
                url=item["url"],
                title=item.get("title") or "",
                publisher=item.get("publisher") or "",
                kind=item.get("kind") or "",
                source_date=_date(item.get("date")),
                date_precision=(item.get("date_precision") or "DAY") if item.get("date") else "",
                date_notes=item.get("date_notes") or "",
                used_for=item.get("used_for") or "",
            )
            for item in items
        ]
        model = Source
    elif name == "sites":
        codes = {item.get("country") for item in items if item.get("country")}
        countries = {c.code: c for c in Country.objects.filter(code__in=codes)}
        if unknown := codes - set(countries):
            raise RecordError(f"{label}: unknown country codes {sorted(unknown)} in its sites")
        rows = [
            Site(
                trial=trial,
                facility=item.get("facility") or "",
                city=item.get("city") or "",
                country=countries.get(item.get("country")),
            )
            for item in items
        ]
        model = Site
    elif name == "outcomes":
        publications = list(Publication.objects.filter(trial=trial))  # not a prefetched list: it may be stale
        sources = list(Source.objects.filter(trial=trial))
        rows = []
        for item in items:
            links = {}
            for key, within, by in (("publication", publications, "citation"), ("source", sources, "url")):
                ref = item.get(key)
                if ref is None or ref == "":
                    links[key] = None
                    continue
                match = next((row for row in within if getattr(row, by) == ref), None)
                if match is None:
                    raise RecordError(
                        f"{label}: an outcome's {key} ({ref}) is not among the trial's {key}s; accept those too."
                    )
                links[key] = match
            rows.append(
                Outcome(
                    trial=trial,
                    measure=item["measure"],
                    result=item["result"],
                    n=item.get("n"),
                    timepoint=item.get("timepoint") or "",
                    **links,
                )
            )
        model = Outcome
    elif name == "related":
        wanted = {item["slug"] for item in items}
        others = {t.slug: t for t in Trial.objects.filter(slug__in=wanted)}
        if missing := wanted - set(others):
            raise RecordError(f"{label}: related trials {sorted(missing)} are not in the registry")
        rows = [TrialRelation(trial=trial, related=others[item["slug"]], relation=item["relation"]) for item in items]
        model = TrialRelation
    else:
        raise RecordError(f"{label}: {name!r} is not a field of a record")
    for row in _replace(trial, model, rows, reason, user):
        if row.pk is None:
            # Fields are validated (formats, vocabularies through their choices); the database enforces the named
            # constraints, which full_clean would check again with one query each.
            _save(
                row,
                label,
                reason,
                exclude=["trial"] if model is TrialRelation else None,
                constraints=False,
                user=user,
            )


M2M = {"diabetes_types": DiabetesTypeTerm, "routes": RouteTerm, "countries": Country}


@revision()
def write_record(trial, values, *, reason, user=None, file_indexes=None, skip_related=False):
    """Write `values` (fields of a record: a whole file record, or some canonical fields of a proposal) onto
    `trial`, new or saved, validated; one history entry for the trial (`reason`, `user`). Returns the trial.

    `file_indexes`: the whole file record, when `values` is one (its outcomes and status source point at its
    sources and publications by position). Call inside a transaction.
    """
    label = f"record {values.get('slug') or trial.slug!r}"
    items = _set_scalars(trial, values)
    status_source = items.pop("status_source", ...)
    if file_indexes is not None:  # a file record: positions become the items they point at
        canonical = records.canonical(file_indexes)
        items["outcomes"] = canonical.get("outcomes", [])
        status_source = canonical.get("status_source")
    trial.skip_history_when_saving = True
    try:
        _save(trial, label, reason, exclude=["status_source"])
        for name, model in M2M.items():
            if name in items:
                codes = set(items.pop(name) or [])
                terms = list(model.objects.filter(code__in=codes))
                if unknown := codes - {term.code for term in terms}:
                    raise RecordError(f"{label}: unknown {name} codes {sorted(unknown)}")
                getattr(trial, name).set(terms)
        for name in ("identifiers", "mechanisms", "publications", "sources", "sites", "outcomes", "related"):
            if name in items and not (skip_related and name == "related"):
                _write_items(trial, name, items.pop(name) or [], label=label, reason=reason, user=user)
        items.pop("related", None)
        if items:
            raise RecordError(f"{label}: {sorted(items)} are not fields of a record")
        if status_source is not ...:
            match = None
            if status_source:
                match = Source.objects.filter(trial=trial, url=status_source).order_by("pk").first()
                if match is None:
                    raise RecordError(f"{label}: the status's source {status_source} is not among the trial's sources.")
            trial.status_source = match
    finally:
        del trial.skip_history_when_saving
    trial._history_user = user
    edit_versions.bump(trial)
    # Its own fields were validated, constraints included, by the first save; now its links (the status's source).
    _save(trial, label, reason, constraints=False)
    return trial


@revision()
def create_trial(record, *, change_reason="Created", user=None):
    """Create a trial and everything it links to from one record of the registry's data format (related trials
    included, which must exist). Every row is validated before it is saved; a bad record raises RecordError
    naming it. `user`, when given, is named in the trial's history (a command has no request to take it from).
    Call inside a transaction (the loaders do)."""
    trial = Trial(slug=record.get("slug") or "")
    values = {name: value for name, value in record.items() if name != "curation_state"}
    trial.curation_state = record.get("curation_state") or CurationState.DRAFT
    return write_record(trial, values, reason=change_reason, user=user, file_indexes=record)


# What `records.record_of` reads, to prefetch for a list of trials.
