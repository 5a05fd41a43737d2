"""A trial's versions: its history read one save at a time (trials/models/revisions.py groups the records), each
version the whole record as it stood after that save (its fields, many-to-many fields and inline rows), and the
differences between any two, in labels rather than codes, long texts whole with the changed words marked.

Reads only; restoring a version is `trials.actions.restore_version`.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
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
from trials.vocabularies import DiabetesType, Route

# The trial's inline rows, in the order a version shows them; rows a version restores in this order too (outcomes
# point at publications and sources).
PARTS = [RegistryIdentifier, TrialMechanism, Publication, Source, Site, TrialRelation, Outcome]
# Bookkeeping, never a difference a curator made.
NOT_CONTENT = {"id", "created_at", "updated_at", "edit_version", "data_version", "data_fingerprint"}
LONG_TEXT = 80  # characters: longer texts are shown whole with the changed words marked
M2M_FIELDS = ("countries", "diabetes_types", "routes")


def content_fields(model) -> list:
    return [f for f in model._meta.concrete_fields if f.name not in NOT_CONTENT and f.name != "trial"]


@dataclass
class State:
    """The whole record after a save."""

    fields: dict[str, Any] = field(default_factory=dict)
    m2m: dict[str, list] = field(default_factory=dict)
    rows: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)  # (model label, row id) → values

    def copy(self) -> State:
        return State(dict(self.fields), {k: list(v) for k, v in self.m2m.items()}, dict(self.rows))


@dataclass
class Version:
    number: int
    date: datetime
    user: Any
    reasons: list[str]
    state: State
    edit_version: int | None = None  # the trial's edit version after this save (trials/actions/edit_versions.py)
    changes: list[dict] = field(default_factory=list)


def m2m_codes_by_record(history_ids):
    """{field name: {history_id: [codes]}} of the trial's many-to-many fields in these versions. One query each."""
    result = {}
    for m2m_field in Trial.history.model._history_m2m_fields:
        through = Trial.history.model.__dict__[m2m_field.name].model
        target = next(
            f.attname for f in through._meta.fields if f.name not in {"id", "trial", "history"} and f.is_relation
        )
        rows = defaultdict(list)
        for history_id, code in through.objects.filter(history_id__in=history_ids).values_list("history_id", target):
            rows[history_id].append(code)
        result[m2m_field.name] = rows
    return result


def _group_key(record) -> str:
    return record.revision or f"{record.history_user_id}@{record.history_date:%Y%m%d%H%M%S}"


def versions(trial_id: int) -> list[Version]:
    """Every version of the trial, oldest first (number 1). 2 queries per model, whatever the history's length."""
    records = []
    trial_records = list(Trial.history.filter(id=trial_id).select_related("history_user"))
    m2m = m2m_codes_by_record([record.history_id for record in trial_records])
    records += [(Trial, record) for record in trial_records]
    for model in PARTS:
        records += [(model, r) for r in model.history.filter(trial_id=trial_id).select_related("history_user")]
    # In time order; at the same instant the trial's own record first (each table numbers its records apart).
    records.sort(key=lambda item: (item[1].history_date, item[0] is not Trial, item[1].history_id))

    groups: dict[str, list] = {}
    for item in records:
        groups.setdefault(_group_key(item[1]), []).append(item)
    state, found, edit_version = State(), [], None
    for items in groups.values():  # in order of their first record
        reasons = []
        for model, record in items:
            if record.history_change_reason and record.history_change_reason not in reasons:
                reasons.append(record.history_change_reason)
            values = {f.attname: getattr(record, f.attname) for f in content_fields(model)}
            if model is Trial:
                state.fields = values
                edit_version = record.edit_version  # a save of rows alone keeps the version before it
                state.m2m = {name: sorted(m2m[name].get(record.history_id, [])) for name in M2M_FIELDS}
            elif record.history_type == "-":
                state.rows.pop((model._meta.label, record.id), None)
            else:
                state.rows[(model._meta.label, record.id)] = values
        last = items[-1][1]
        user = next((record.history_user for _, record in items if record.history_user_id), None)
        found.append(Version(len(found) + 1, last.history_date, user, reasons, state.copy(), edit_version))
    labels = Labels(found)
    for before, version in zip([None, *found], found, strict=False):
        version.changes = differences(before.state if before else State(), version.state, labels)
    return found


def state_at(trial_id: int, edit_version: int) -> State | None:
    """The whole record as it stood at the trial's edit version `edit_version` (after the last save that left it
    there), or None when the history does not reach back that far. Queries as `versions`."""
    found = [v for v in versions(trial_id) if v.edit_version is not None and v.edit_version <= edit_version]
    return found[-1].state if found else None


class Labels:
    """Words for codes: choices' labels, mechanisms', countries' and related trials' names."""

    def __init__(self, found):
        self.mechanisms = dict(Mechanism.objects.values_list("pk", "name"))
        related = {values.get("related_id") for v in found for (label, _), values in v.state.rows.items()}
        self.trials = dict(Trial.objects.filter(pk__in=related - {None}).values_list("pk", "brief_title"))
        self.countries = dict(Country.objects.values_list("code", "name"))
        self.m2m = {
            "countries": self.countries,
            "diabetes_types": {code: DiabetesType(code).label for code in DiabetesType.values},
            "routes": {code: Route(code).label for code in Route.values},
        }

    def value(self, model, attname, value):
        if value in (None, ""):
            return "—"
        model_field = next(f for f in model._meta.concrete_fields if f.attname == attname)
        if model_field.choices:
            return str(dict(model_field.flatchoices).get(value, value))
        if attname == "mechanism_id":
            return self.mechanisms.get(value, value)
        if attname == "related_id":
            return self.trials.get(value, f"trial {value} (deleted)")
        if attname == "country_id":
            return self.countries.get(value, value)
        if isinstance(value, bool):
            return "Yes" if value else "No"
        return str(value)

    def row(self, model, values) -> str:
        """A row's name: its identifier, mechanism, citation, URL, facility, measure or related trial."""
        if model is TrialMechanism:
            return self.mechanisms.get(values.get("mechanism_id"), "?")
        if model is TrialRelation:
            return self.value(model, "related_id", values.get("related_id"))
        if model is Outcome:
            return f"{self.value(model, 'measure', values.get('measure'))}: {str(values.get('result', ''))[:60]}"
        for name in ("value", "citation", "url", "facility"):
            if name in values:
                return str(values[name])[:80]
        return "?"


def marked(old: str, new: str) -> SafeString:
    """`new` whole, with the words removed from `old` struck out and the words added marked."""
    a, b = old.split(), new.split()
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(escape(" ".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(format_html("<del>{}</del>", " ".join(a[i1:i2])))
        if j2 > j1:
            out.append(format_html("<ins>{}</ins>", " ".join(b[j1:j2])))
    return mark_safe(" ".join(out))  # noqa: S308 (each piece escaped above)


def differences(a: State, b: State, labels: Labels) -> list[dict]:
    """What changed from `a` to `b`: one entry per field, many-to-many field and inline row field, in words."""
    found = []
    for f in content_fields(Trial):
        old, new = a.fields.get(f.attname), b.fields.get(f.attname)
        if old != new and not (old in (None, "") and new in (None, "")):
            found.append(_change("Trial", "", capfirst(f.verbose_name), Trial, f.attname, old, new, labels))
    for name in M2M_FIELDS:
        old, new = a.m2m.get(name, []), b.m2m.get(name, [])
        if old != new:
            words = labels.m2m[name]
            found.append(
                {
                    "part": "Trial",
                    "row": "",
                    "field": capfirst(Trial._meta.get_field(name).verbose_name),
                    "old": "; ".join(words.get(code, code) for code in old) or "—",
                    "new": "; ".join(words.get(code, code) for code in new) or "—",
                    "kind": "changed",
                }
            )
    for model in PARTS:
        part = capfirst(model._meta.verbose_name)
        ids = sorted({key[1] for key in (*a.rows, *b.rows) if key[0] == model._meta.label})
        for row_id in ids:
            old_row, new_row = a.rows.get((model._meta.label, row_id)), b.rows.get((model._meta.label, row_id))
            if old_row == new_row:
                continue
            if old_row is None or new_row is None:
                kind = "added" if old_row is None else "removed"
                found.append(
                    {
                        "part": part,
                        "row": labels.row(model, new_row or old_row),
                        "field": "",
                        "old": "",
                        "new": "",
                        "kind": kind,
                    }
                )
                continue
            for f in content_fields(model):
                old, new = old_row.get(f.attname), new_row.get(f.attname)
                if old != new:
                    row = labels.row(model, new_row)
                    found.append(_change(part, row, capfirst(f.verbose_name), model, f.attname, old, new, labels))
    return found


def _change(part, row, name, model, attname, old, new, labels) -> dict:
    change = {
        "part": part,
        "row": row,
        "field": name,
        "old": labels.value(model, attname, old),
        "new": labels.value(model, attname, new),
        "kind": "changed",
    }
    if isinstance(old, str) and isinstance(new, str) and max(len(old), len(new)) > LONG_TEXT:
        change["marked"] = marked(old, new)
    return change


def compare(trial_id: int, first: int, second: int) -> tuple[Version, Version, list[dict]]:
    """Versions `first` and `second` of the trial and what changed from one to the other. IndexError if either
    does not exist."""
    found = versions(trial_id)
    if not (1 <= first <= len(found) and 1 <= second <= len(found)):
        raise IndexError(f"The trial has versions 1 to {len(found)}.")
    a, b = found[first - 1], found[second - 1]
    return a, b, differences(a.state, b.state, Labels(found))
