"""Restoring a whole version of a trial (trials/versions.py): its fields, many-to-many fields and inline rows, in one
step and one history entry, "Restored from version N by …". The curation state is never restored: a restore is an
edit, and a published trial stays publishable (an editor's move, as every public change)."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from trials import versions as trial_versions
from trials.actions import edit_versions
from trials.actions.workflow import PUBLISH_PERMISSION, publication_problems
from trials.models import Trial
from trials.models.revisions import revision
from trials.vocabularies import CurationState

NEVER_RESTORED = {"curation_state"}


class RestoreError(Exception):
    """A version that cannot be restored as it stands; the message says why, in plain words."""


def restore_problem(*, trial, user):
    """Why `user` may not restore a version of `trial`, or None."""
    if not user.has_perm("trials.change_trial"):
        return "You may not change trials."
    if trial.curation_state == CurationState.PUBLISHED and not user.has_perm(PUBLISH_PERMISSION):
        return "Only an editor restores a version of a published trial: readers would see it at once."
    return None


@revision()
def restore_version(*, trial, number, user):
    """Make `trial` what it was at version `number`: one revision, every row's history naming `user` and the
    version. Raises PermissionDenied, IndexError (no such version) or RestoreError (nothing changed)."""
    if problem := restore_problem(trial=trial, user=user):
        raise PermissionDenied(problem)
    found = trial_versions.versions(trial.pk)
    if not 1 <= number <= len(found):
        raise IndexError(f"The trial has versions 1 to {len(found)}.")
    state = found[number - 1].state
    reason = f"Restored from version {number} by {user.get_username()}"
    with transaction.atomic():
        trial = Trial.objects.select_for_update().get(pk=trial.pk)
        status_source = state.fields.get("status_source_id")
        for f in trial_versions.content_fields(Trial):
            if f.name not in NEVER_RESTORED and f.attname != "status_source_id":
                setattr(trial, f.attname, state.fields.get(f.attname))
        trial.status_source_id = None  # set again once the sources are back
        edit_versions.bump(trial)  # a page opened before the restore cannot overwrite it
        _save(trial, user, reason)
        for name in trial_versions.M2M_FIELDS:
            trial.skip_history_when_saving = True
            getattr(trial, name).set(state.m2m.get(name, []))
            del trial.skip_history_when_saving
        for model in reversed(trial_versions.PARTS):  # outcomes first: they point at publications and sources
            wanted = {row_id for (label, row_id) in state.rows if label == model._meta.label}
            for row in model.objects.filter(trial=trial).exclude(pk__in=wanted):
                row._history_user, row._change_reason = user, reason
                row.delete()
        for model in trial_versions.PARTS:
            current = {row.pk: row for row in model.objects.filter(trial=trial)}
            for (label, row_id), values in state.rows.items():
                if label != model._meta.label:
                    continue
                if model is trial_versions.TrialRelation and not Trial.objects.filter(pk=values["related_id"]).exists():
                    continue  # the related trial itself was deleted since
                row = current.get(row_id) or model(pk=row_id, trial=trial)
                if current.get(row_id) and all(getattr(row, k) == v for k, v in values.items()):
                    continue
                for attname, value in values.items():
                    setattr(row, attname, value)
                _save(row, user, reason)
        if status_source and trial.sources.filter(pk=status_source).exists():
            trial.status_source_id = status_source
            _save(trial, user, reason)
        if trial.curation_state == CurationState.PUBLISHED and (
            problems := publication_problems(trial, timezone.localdate())
        ):
            raise RestoreError(
                f"Version {number} cannot be restored while the trial is published: {' '.join(problems)}"
            )
    return trial


def _save(instance, user, reason):
    instance._history_user, instance._change_reason = user, reason
    instance.full_clean(exclude=["trial"] if hasattr(instance, "trial_id") else None, validate_unique=False)
    instance.save()
