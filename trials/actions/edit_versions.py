"""No lost update. Every save of a trial, or of one of its rows, raises the trial's `edit_version` by one; a page
that writes (the trial's form, the change list's actions, a registry update's review) carries the version it showed,
and a write from an older version is refused with who saved what and when since (from the history), nothing saved.

`current_version` locks the trial's row until the transaction ends, so two saves of the same version cannot both
pass the check on PostgreSQL.
"""

from dataclasses import dataclass

from django.core.exceptions import FieldDoesNotExist
from django.db import transaction
from django.utils import timezone
from django.utils.text import capfirst

from trials import versions as trial_versions
from trials.models import Outcome, Publication, RegistryIdentifier, Site, Source, Trial, TrialMechanism, TrialRelation

ROW_MODELS = [RegistryIdentifier, TrialMechanism, Publication, Source, Outcome, Site, TrialRelation]
MAX_SAVES_NAMED = 3
MAX_ROWS_POSTED = 1000  # a formset's rows read from a stale page, at most (Django's own cap on a formset)


def parse_version(value):
    """The version a page posted, as an int; None when it posted none (a page without the check)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def current_version(trial_id):
    """The trial's edit version, its row locked until the transaction ends (select_for_update). One query."""
    return Trial.objects.select_for_update().filter(pk=trial_id).values_list("edit_version", flat=True).first()


def bump(trial):
    """Raise the version of `trial` (an instance about to be saved) by one."""
    trial.edit_version = (trial.edit_version or 0) + 1


@transaction.atomic
def bump_saved(trial_id, *, user, reason):
    """Raise the version of a saved trial whose row (an identifier, a source...) was saved on a page of its own, with
    an entry in the trial's history naming `user` and `reason`."""
    trial = Trial.objects.select_for_update().filter(pk=trial_id).first()
    if trial is None:
        return
    bump(trial)
    trial._history_user = user
    trial._change_reason = reason
    trial.save(update_fields=["edit_version", "updated_at"])


def _changed_fields(newer, older):
    m2m = {field.name for field in Trial.history.model._history_m2m_fields}
    skip = {"edit_version", "updated_at", "created_at", "data_version", "data_fingerprint", *m2m}
    delta = newer.diff_against(older, excluded_fields=skip, foreign_keys_are_objs=False)
    return [str(Trial._meta.get_field(change.field).verbose_name) for change in delta.changes]


def saves_since(trial_id, seen):
    """The saves of the trial after version `seen`, oldest first: [{"user", "date", "what": [labels]}]. Each names the
    trial's fields it changed and the kinds of rows ("sources") the same save changed: the admin saves the trial,
    then its rows, so a row's change belongs to the last save of the trial before it. A save that changed neither is
    named by its reason ("Published", "Source deleted on its own page"). Queries 2 + 7 times."""
    records = list(
        Trial.history.filter(id=trial_id, edit_version__gt=seen)
        .select_related("history_user")
        .order_by("history_date", "history_id")
    )
    if not records:
        return []
    older = Trial.history.filter(id=trial_id, edit_version__lte=seen).order_by("-history_date", "-history_id").first()
    saves = []
    for record in records:
        what = _changed_fields(record, older) if older is not None else []
        older = record
        saves.append({"user": record.history_user, "date": record.history_date, "what": what, "record": record})
    for model in ROW_MODELS:
        kind = str(model._meta.verbose_name_plural)
        dates = model.history.filter(trial_id=trial_id, history_date__gte=records[0].history_date).values_list(
            "history_date", flat=True
        )
        for date in dates:
            save = [s for s in saves if s["date"] <= date][-1]
            if kind not in save["what"]:
                save["what"].append(kind)
    for save in saves:
        record = save.pop("record")
        if not save["what"] and record.history_change_reason:
            save["what"] = [record.history_change_reason]
    return saves


def conflict_message(trial_id, seen):
    """Why a write from version `seen` of the trial is refused: who saved what and when since, in plain words."""
    saves = saves_since(trial_id, seen)
    if not saves:
        return (
            "Someone else saved this trial after you opened this page. Nothing of yours was saved: check the "
            "trial as it is now, then apply your changes again."
        )
    parts = []
    for save in saves[-MAX_SAVES_NAMED:]:
        who = save["user"].get_username() if save["user"] else "an import or command"
        when = timezone.localtime(save["date"])
        what = ", ".join(save["what"]) or "no field of the trial"
        parts.append(f"{who} on {when:%-d %B %Y at %H:%M} ({capfirst(what)})")
    earlier = len(saves) - MAX_SAVES_NAMED
    more = f", and {earlier} earlier save(s)" if earlier > 0 else ""
    return (
        f"This trial was saved by someone else after you opened this page: by {'; then by '.join(parts)}{more}. "
        "Nothing of yours was saved, so that their changes are not lost. Check the trial as it is now (its history "
        "shows each change), then apply yours again."
    )


def stale_problem(trial_id, seen):
    """The conflict message when the trial moved past version `seen` (locking its row), else None. None too when the
    page posted no version (`seen` None)."""
    if seen is None:
        return None
    current = current_version(trial_id)
    if current is None or current == seen:
        return None
    return conflict_message(trial_id, seen)


def as_posted(value):
    """A field's value as a form posts it (for comparing, and for putting a value back on a page)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "pk"):
        return str(value.pk)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def taken_over(trial_id, seen, posted):
    """The trial's own fields that a page opened at version `seen` left as they were, but someone else changed since:
    {name: the value now}. `posted`: {field name: the page's value}. Fields both changed keep the page's value.
    Two queries."""
    old = Trial.history.filter(id=trial_id, edit_version__lte=seen).order_by("-history_date", "-history_id").first()
    if old is None:
        return {}
    now = Trial.objects.get(pk=trial_id)
    result = {}
    for name, value in posted.items():
        attname = Trial._meta.get_field(name).attname
        before, after = as_posted(getattr(old, attname)), getattr(now, attname)
        if as_posted(value) == before and as_posted(after) != before:
            result[name] = after
    return result


def seen_state(trial_id, seen):
    """The trial's record (fields and rows, trials/versions.py) at version `seen`, when the trial moved past it since
    (locking its row, as `stale_problem`); None when it did not, or when the page posted no version."""
    if seen is None:
        return None
    current = current_version(trial_id)
    if current is None or current == seen:
        return None
    return trial_versions.state_at(trial_id, seen)


def row_taken_over(fields, data, files, prefix, seen, now):
    """One inline row as a page opened at an older version of the trial posted it: the fields it left as they were
    there but someone else changed since ({name: the value now}), and the fields both changed, differently ([names];
    the page's value is kept). `fields`: the row form's {name: form field}; `data`, `files`: the POST, the row's
    fields named "`prefix`-name"; `seen`, `now`: the row's {field name: value} then and now. A field counts as left
    as it was when its form field says it has not changed (Field.has_changed, what the widget posted)."""
    taken, both = {}, []
    for name, field in fields.items():
        if name not in seen or name not in now or field.disabled or seen[name] == now[name]:
            continue
        posted = field.widget.value_from_datadict(data, files, f"{prefix}-{name}")
        if not field.has_changed(seen[name], posted):
            taken[name] = now[name]
        elif field.has_changed(now[name], posted):
            both.append(name)
    return taken, both


@dataclass
class RowNote:
    """A posted row whose fields were changed by someone else since the page was shown: `taken` (field labels) now
    show the other's values, `kept` were changed by both and keep the page's."""

    row: str
    taken: list[str]
    kept: list[str]


def take_over_rows(*, trial_id, state, model, fields, data, files, prefix):
    """The rows of `model` a stale trial page posted (its formset's initial forms, named `prefix`), compared with
    `state`, the record at the version the page showed (`seen_state`): returns `data` (a mutable copy of the POST)
    with every field the page left as it was but someone else changed since written as the value now, in the form a
    page posts it, and a RowNote for each row concerned. Rows deleted since are left alone (RowForm.STALE_ROW names
    them); rows added since are not on the page. One query."""
    try:
        count = min(int(data.get(f"{prefix}-INITIAL_FORMS", 0)), MAX_ROWS_POSTED)
    except (TypeError, ValueError):
        count = 0
    posted = {}  # row id → its form's prefix
    for index in range(max(count, 0)):
        row_id = str(data.get(f"{prefix}-{index}-id", ""))
        if row_id.isdigit():
            posted[int(row_id)] = f"{prefix}-{index}"
    named_by = [f.name for f in model._meta.concrete_fields if f.is_relation and f.name != "trial"]  # for str(row)
    rows_now = model.objects.filter(trial_id=trial_id, pk__in=posted).select_related(*named_by) if posted else []
    names = {name: model._meta.get_field(name) for name in fields if _is_model_field(model, name)}
    notes = []
    for row in rows_now:
        then = state.rows.get((model._meta.label, row.pk))
        if then is None:
            continue
        seen = {name: then[f.attname] for name, f in names.items() if f.attname in then}
        now = {name: getattr(row, f.attname) for name, f in names.items()}
        taken, both = row_taken_over(fields, data, files, posted[row.pk], seen, now)
        for name, value in taken.items():
            data[f"{posted[row.pk]}-{name}"] = as_posted(value)
        if taken or both:
            label = f"{model._meta.verbose_name} “{row}”"
            notes.append(
                RowNote(label, [str(names[n].verbose_name) for n in taken], [str(names[n].verbose_name) for n in both])
            )
    return data, notes


def _is_model_field(model, name):
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True
