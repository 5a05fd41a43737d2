"""History pages: the trial's own changes with its many-to-many fields in words, and its inlines' changes."""

from django.urls import reverse
from django.utils.text import capfirst
from simple_history.template_utils import HistoricalRecordContextHelper

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
from trials.versions import m2m_codes_by_record
from trials.vocabularies import DiabetesType, Route

M2M_LABELS = {"diabetes_types": DiabetesType, "routes": Route}


class TrialHistoryHelper(HistoricalRecordContextHelper):
    """Shows choice fields by their labels rather than their codes."""

    def prepare_delta_change_value(self, change, value):
        field = self.model._meta.get_field(change.field)
        if field.choices and value not in (None, ""):
            return dict(field.flatchoices).get(value, value)
        return super().prepare_delta_change_value(change, value)


def m2m_values_by_record(records):
    """{field name: {history_id: sorted labels}} for the trial's many-to-many fields. One query each (+1)."""
    result = {}
    country_names = None
    for name, rows in m2m_codes_by_record([record.history_id for record in records]).items():
        field = Trial._meta.get_field(name)
        if field.name in M2M_LABELS:
            vocabulary = M2M_LABELS[field.name]
            labels = {code: vocabulary(code).label for code in vocabulary.values}
        else:
            if country_names is None:
                codes = {code for values in rows.values() for code in values}
                country_names = dict(Country.objects.filter(code__in=codes).values_list("code", "name"))
            labels = country_names
        result[field.name] = {hid: sorted(labels.get(code, code) for code in codes) for hid, codes in rows.items()}
    return result


INLINE_HISTORIES = [
    (RegistryIdentifier, lambda r, mechanisms: r.value),
    (TrialMechanism, lambda r, mechanisms: mechanisms.get(r.mechanism_id, "?")),
    (Publication, lambda r, mechanisms: r.citation[:80]),
    (Source, lambda r, mechanisms: r.url),
    (Outcome, lambda r, mechanisms: f"{r.measure}: {r.result[:70]}"),
    (Site, lambda r, mechanisms: r.facility[:80]),
    (TrialRelation, lambda r, mechanisms: f"{r.relation} (trial {r.related_id})"),
]
INLINE_HISTORY_LIMIT = 100  # newest entries per inline model shown on the trial's history page


def inline_history(trial_id):
    """The history entries of a trial's identifiers, mechanism links, publications and sources, newest first.

    Each entry: date, user, kind, the row's label, its changed fields (old → new) and the link to revert it.
    Five queries whatever the number of entries (one per model, one for the mechanisms' names).
    """
    mechanisms = dict(Mechanism.objects.values_list("pk", "name"))
    entries = []
    for model, label in INLINE_HISTORIES:
        records = list(
            model.history.filter(trial_id=trial_id)
            .select_related("history_user")
            .order_by("-history_date", "-history_id")[:INLINE_HISTORY_LIMIT]
        )
        older = {}  # row id → the record just before, walking from the oldest
        for record in reversed(records):
            previous = older.get(record.id)
            changes = []
            if previous is not None and record.history_type == "~":
                delta = record.diff_against(previous, foreign_keys_are_objs=False)
                for change in delta.changes:
                    if change.field == "mechanism":
                        old, new = mechanisms.get(change.old, change.old), mechanisms.get(change.new, change.new)
                    else:
                        old, new = change.old, change.new
                    changes.append(
                        {"field": capfirst(model._meta.get_field(change.field).verbose_name), "old": old, "new": new}
                    )
            older[record.id] = record
            entries.append(
                {
                    "date": record.history_date,
                    "user": record.history_user,
                    "kind": record.get_history_type_display(),
                    "model": capfirst(model._meta.verbose_name),
                    "label": label(record, mechanisms),
                    "changes": changes,
                    "reason": record.history_change_reason,
                    "url": reverse(
                        f"admin:trials_{model._meta.model_name}_simple_history", args=[record.id, record.history_id]
                    ),
                }
            )
    entries.sort(key=lambda entry: entry["date"], reverse=True)
    return entries
