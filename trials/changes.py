"""What changed in a trial's public facts, and when: its public change log, read from its history
(django-simple-history) and that of its parts (identifiers, mechanism links, publications, sources, sites,
published outcomes). The change-log page and the Atom feeds (trials/feeds.py) both read it from here.

Only what readers could see counts: a version saved while the trial was published, or its publication. Changes
made while it was a draft or in review reach readers when it is published (again), as the difference from what
they saw last. The fields compared are listed below (an allowlist): curator notes, the curation state, the data
file's version and fingerprint and the history's users and reasons are never read. Fields are named by their
verbose names and values shown by their labels.

One save is one change: the history records that share a revision (trials/models/revisions.py: a request, an
action). Records older than revisions carry none: there the records of one user less than GROUPING apart make one
change (an admin save writes the trial and its parts within milliseconds).
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db import models
from django.utils.dateformat import format as format_date
from django.utils.text import capfirst

from mechanisms.models import Mechanism
from trials.models import (
    Country,
    Outcome,
    Publication,
    RegistryIdentifier,
    Site,
    Source,
    Trial,
    TrialMechanism,
    TrialRelation,
)
from trials.templatetags.registry import precise_date
from trials.vocabularies import CurationState, DiabetesType, Route

GROUPING = timedelta(seconds=10)

# The trial's public fields, in the order of its page. A date with a precision is shown at its precision.
TRIAL_FIELDS = [
    "brief_title",
    "official_title",
    "acronym",
    "summary",
    "overall_status",
    "status_confirmed_on",
    "why_stopped",
    "phase",
    "study_type",
    "population_notes",
    "enrollment",
    "enrollment_type",
    "enrollment_notes",
    "sponsor",
    "sponsor_class",
    "collaborators",
    "product_name",
    "start_date",
    "start_date_type",
    "primary_completion_date",
    "primary_completion_date_type",
    "completion_date",
    "completion_date_type",
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
    "programme_discontinued_on",
    "last_reviewed_on",
]
PRECISIONS = {
    "status_confirmed_on": "status_confirmed_on_precision",
    "start_date": "start_date_precision",
    "primary_completion_date": "primary_completion_date_precision",
    "completion_date": "completion_date_precision",
    "programme_discontinued_on": "programme_discontinued_on_precision",
}
M2M_FIELDS = {"diabetes_types": "diabetestypeterm", "routes": "routeterm", "countries": "country"}


@dataclass(frozen=True)
class Change:
    """One public fact that changed: what (a field, or a part added or removed), its value before and after ("" when
    there was none)."""

    what: str
    before: str
    after: str

    @property
    def empty(self) -> str:
        """What an empty value says: a fact was not recorded; a part added or removed had no other side."""
        return "—" if self.what.endswith((" added", " removed")) else "Not recorded"


@dataclass
class PublicChange:
    """A moment the trial's public facts changed: its first publication ("published"), a publication after a time
    out of the public's sight ("republished"), or a change while published ("changed")."""

    trial_id: int
    when: datetime
    kind: str
    changes: list[Change] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        """Its fragment on the change-log page, stable as the history is."""
        return f"change-{int(self.when.timestamp() * 1_000_000)}"

    @property
    def title(self) -> str:
        if self.kind == "published":
            return "Published in the registry"
        if self.kind == "republished":
            return "Published again"
        names = list(dict.fromkeys(change.what.split(":")[0] for change in self.changes))
        shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
        return f"Changed: {shown}"


# --- Values as readers see them -------------------------------------------------------------------


def model_field(model: type[models.Model], name: str) -> models.Field:
    found = model._meta.get_field(name)
    assert isinstance(found, models.Field)  # a concrete field, not a relation's other side
    return found


def shown(model: type[models.Model], name: str, row: dict[str, Any]) -> str:
    """The value of `name` in `row` (a history record's values) as a page shows it: a label, a date at its
    precision, Yes/No; "" when there is none."""
    value = row[name]
    if value is None or value == "":
        return ""
    if name in PRECISIONS:
        return precise_date(value, row[PRECISIONS[name]])
    if (choices := model_field(model, name).flatchoices) and value in dict(choices):
        return str(dict(choices)[value])
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, date):
        return format_date(value, "j F Y")
    return str(value)


def label_of(model: type[models.Model], name: str) -> str:
    return capfirst(str(model_field(model, name).verbose_name))


Record = tuple[datetime, int, int | None, dict[str, Any]]  # (when, part's index or -1 for the trial, user, values)
Names = dict[str, dict[Any, str]]  # "mechanism" / "country" / "publication" / "source" → {id: label}


@dataclass(frozen=True)
class Part:
    """A kind of row a trial lists publicly: its model, the fields readers see, and how a row is named."""

    model: type[models.Model]
    fields: tuple[str, ...]
    name: Callable[[dict[str, Any], Names], str]
    foreign: dict[str, str] = field(default_factory=dict)  # field → key of Names that labels its value
    shown_if: Callable[[dict[str, Any], Names], bool] = lambda row, names: True  # whether readers see the row


PARTS = [
    Part(RegistryIdentifier, ("registry", "value", "is_primary"), lambda r, n: r["value"]),
    Part(
        TrialMechanism,
        ("mechanism", "role", "rationale"),
        lambda r, n: n["mechanism"].get(r["mechanism"], "a mechanism"),
        {"mechanism": "mechanism"},
    ),
    Part(Publication, ("citation", "doi", "pmid", "journal", "year", "kind"), lambda r, n: r["citation"][:120]),
    Part(
        Source,
        ("url", "title", "publisher", "kind", "source_date", "date_precision", "date_notes", "used_for"),
        lambda r, n: r["title"] or r["url"],
    ),
    Part(
        Site,
        ("facility", "city", "country"),
        lambda r, n: ", ".join(p for p in (r["facility"], r["city"], n["country"].get(r["country"], "")) if p),
        {"country": "country"},
    ),
    Part(
        Outcome,
        ("measure", "result", "n", "timepoint", "publication", "source"),
        lambda r, n: f"{shown(Outcome, 'measure', r)}: {r['result'][:80]}",
        {"publication": "publication", "source": "source"},
    ),
    # A related trial shows only while it is published itself (as on the trial's page).
    Part(
        TrialRelation,
        ("relation", "related"),
        lambda r, n: n["trial"][r["related"]],
        {"related": "trial"},
        lambda r, n: r["related"] in n["trial"],
    ),
]


def part_value(part: Part, name: str, row: dict[str, Any], names: Names) -> str:
    if name in part.foreign:
        return names[part.foreign[name]].get(row[name], "") if row[name] is not None else ""
    if part.model is Source and name == "source_date":
        return precise_date(row[name], row["date_precision"]) if row[name] else ""
    return shown(part.model, name, row)


# --- Snapshots of what readers saw, and their differences -------------------------------------------


@dataclass
class Snapshot:
    facts: dict[str, str]  # field label → value shown
    rows: dict[tuple[int, int], tuple[str, dict[str, str]]]  # (part's index, row id) → (row's name, values)


def snapshot(trial_row: dict[str, Any], m2m: dict[str, str], rows: dict, names: Names) -> Snapshot:
    facts = {label_of(Trial, name): shown(Trial, name, trial_row) for name in TRIAL_FIELDS}
    facts[label_of(Trial, "status_source")] = names["source"].get(trial_row["status_source"], "")
    for name, value in m2m.items():
        facts[label_of(Trial, name)] = value
    public_rows = {}
    for (index, row_id), row in rows.items():
        part = PARTS[index]
        if row is None or not part.shown_if(row, names):
            continue
        values = {label_of(part.model, name): part_value(part, name, row, names) for name in part.fields}
        if part.model is Source:
            values.pop(label_of(Source, "date_precision"))
        public_rows[(index, row_id)] = (part.name(row, names), values)
    return Snapshot(facts, public_rows)


def differences(old: Snapshot, new: Snapshot) -> list[Change]:
    changes = [Change(what, old.facts.get(what, ""), value) for what, value in new.facts.items()]
    changes = [change for change in changes if change.before != change.after]
    for key in sorted(old.rows.keys() | new.rows.keys()):
        kind = capfirst(str(PARTS[key[0]].model._meta.verbose_name))
        if key not in new.rows:
            changes.append(Change(f"{kind} removed", old.rows[key][0], ""))
        elif key not in old.rows:
            changes.append(Change(f"{kind} added", "", new.rows[key][0]))
        else:
            before, after = old.rows[key][1], new.rows[key][1]
            for what, value in after.items():
                if before.get(what, "") != value:
                    changes.append(Change(f"{kind}: {new.rows[key][0]}: {what}", before.get(what, ""), value))
    return changes


# --- Reading the history --------------------------------------------------------------------------


def m2m_labels(trial_ids: Iterable[int], countries: dict[str, str]) -> dict[int, dict[str, str]]:
    """{trial history id: {field: its labels, joined}} of these trials' many-to-many fields. Three queries."""
    vocabularies: dict[str, Any] = {"diabetes_types": DiabetesType, "routes": Route}
    result: dict[int, dict[str, str]] = defaultdict(lambda: dict.fromkeys(M2M_FIELDS, ""))
    for name, target in M2M_FIELDS.items():
        through = Trial.history.model.__dict__[name].model  # simple-history's table of the field's versions
        codes = defaultdict(list)
        rows = through.objects.filter(history__id__in=trial_ids).values_list("history_id", target)
        for history_id, code in rows:
            codes[history_id].append(code)
        for history_id, values in codes.items():
            if name in vocabularies:
                labels = sorted(vocabularies[name](code).label for code in values)
            else:
                labels = sorted(countries.get(code, code) for code in values)
            result[history_id][name] = "; ".join(labels)
    return result


def public_changes(trial_ids: Iterable[int]) -> dict[int, list[PublicChange]]:
    """{trial id: its public changes, oldest first} for these trials. Queries: thirteen, whatever their number (the
    trials' history, three for its many-to-many fields, one per kind of part, and the names of mechanisms and
    countries), and one more for the titles of the related trials when their records name any. `trial_ids` may be
    a queryset of ids (read as a subquery)."""
    trial_fields = ["id", "history_id", "history_date", "history_user_id", "revision", "curation_state"]
    trial_fields += ["status_source"]
    trial_fields += TRIAL_FIELDS
    trial_fields += list(PRECISIONS.values())
    trial_records = list(
        Trial.history.filter(id__in=trial_ids).order_by("history_date", "history_id").values(*trial_fields)
    )
    names: Names = {"mechanism": dict(Mechanism.objects.values_list("pk", "name"))}
    names["country"] = dict(Country.objects.values_list("code", "name"))
    m2m = m2m_labels(trial_ids, names["country"])
    events: dict[int, list[Record]] = defaultdict(list)
    for record in trial_records:
        events[record["id"]].append((record["history_date"], -1, record["history_user_id"], record))
    related: set[int] = set()  # the trials the related trials' records name
    for index, part in enumerate(PARTS):
        values = ["id", "trial_id", "history_id", "history_date", "history_user_id", "revision", "history_type"]
        values += part.fields
        records = part.model.history.filter(trial_id__in=trial_ids).order_by("history_date", "history_id")  # type: ignore[attr-defined]
        for record in records.values(*values):
            events[record["trial_id"]].append((record["history_date"], index, record["history_user_id"], record))
            if part.model is TrialRelation:
                related.add(record["related"])
    # The titles of those of them that are published (a related trial shows only while it is): not every
    # published trial's, which took 70-80 ms at 100,000 trials for each change log.
    names["trial"] = dict(Trial.objects.published().filter(pk__in=related).values_list("pk", "brief_title"))
    return {trial_id: trial_changes(trial_id, in_order(records), m2m, names) for trial_id, records in events.items()}


def in_order(records: list[Record]) -> list[Record]:
    """The records in the order they were written, each revision's together (two saves may share a timestamp):
    by the time the revision began, then the order of its trial record in the trial's history, then time, the
    trial before its parts."""
    began: dict[str, datetime] = {}
    trial_record: dict[str, int] = {}
    for when, index, _user, values in records:
        if revision := values["revision"]:
            began[revision] = min(when, began.get(revision, when))
            if index == -1:
                trial_record[revision] = min(values["history_id"], trial_record.get(revision, values["history_id"]))

    def key(record: Record) -> tuple:
        revision = record[3]["revision"]
        return (began.get(revision, record[0]), trial_record.get(revision, 0), revision, record[0], record[1])

    return sorted(records, key=key)


def same_save(before: Record, record: Record) -> bool:
    revisions = before[3]["revision"], record[3]["revision"]
    if any(revisions):
        return revisions[0] == revisions[1]
    return before[2] == record[2] and record[0] - before[0] < GROUPING


def moments(records: list[Record]) -> Iterator[list[Record]]:
    """The records in groups, one a save: those of one revision; without one, one user's records, each less than
    GROUPING after the one before."""
    group: list[Record] = []
    for record in records:
        if group and not same_save(group[-1], record):
            yield group
            group = []
        group.append(record)
    if group:
        yield group


def trial_changes(
    trial_id: int, records: list[Record], m2m: dict[int, dict[str, str]], names: Names
) -> list[PublicChange]:
    trial_row: dict[str, Any] | None = None
    rows: dict[tuple[int, int], dict[str, Any] | None] = {}
    seen: Snapshot | None = None  # what readers saw last
    hidden = False  # whether the trial has been out of their sight since
    result = []
    for group in moments(records):
        for _when, index, _user, record in group:
            if index == -1:
                trial_row = record
            else:
                rows[(index, record["id"])] = None if record["history_type"] == "-" else record
                if PARTS[index].model is Publication:
                    names.setdefault("publication", {})[record["id"]] = record["citation"][:120]
                if PARTS[index].model is Source:
                    names.setdefault("source", {})[record["id"]] = record["title"] or record["url"]
        if trial_row is None:
            continue
        if trial_row["curation_state"] != CurationState.PUBLISHED:
            hidden = seen is not None or hidden
            continue
        names.setdefault("publication", {})
        names.setdefault("source", {})
        now = snapshot(trial_row, m2m[trial_row["history_id"]], rows, names)
        when = group[-1][0]
        if seen is None:
            result.append(PublicChange(trial_id, when, "published"))
        elif hidden:
            result.append(PublicChange(trial_id, when, "republished", differences(seen, now)))
        elif changes := differences(seen, now):
            result.append(PublicChange(trial_id, when, "changed", changes))
        seen, hidden = now, False
    return result
