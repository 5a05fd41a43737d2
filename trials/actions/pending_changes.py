"""Every public change is approved. A curator's change of a published trial does not reach readers: it is kept as a
pending change (a RegistryUpdate of origin "curator's change": the differences between the trial's record before and
after the change, every field and row, trials/canonical.py), and readers keep seeing the approved version. An editor
approves it (`resolve_registry_update` writes it through `write_record`) or sends it back with a reason. An editor's
own change is saved at once; either way a published trial keeps what publishing needs
(`published_problems`, trials/actions/workflow.py).
"""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from trials import canonical
from trials.actions.comments import add_comment
from trials.actions.records import RECORD_PREFETCH, RecordError, write_record
from trials.actions.workflow import PUBLISH_PERMISSION
from trials.models import RegistryUpdate, RegistryUpdateOrigin, RegistryUpdateStatus, Trial
from trials.vocabularies import CurationState

# Fields readers never see: a curator's change of them alone needs no approval.
PRIVATE_FIELDS = {"curator_notes"}


def needs_approval(*, trial_id, user):
    """Whether a change of the trial by `user` waits for an editor: the trial is published and the user may not
    publish. One query."""
    state = Trial.objects.filter(pk=trial_id).values_list("curation_state", flat=True).first()
    return state == CurationState.PUBLISHED and not user.has_perm(PUBLISH_PERMISSION)


def record_now(trial_id):
    """The trial's record (trials/canonical.py) as the database holds it now. Queries once per relation."""
    return canonical.record_of(Trial.objects.prefetch_related(*RECORD_PREFETCH).get(pk=trial_id))


def public_changes(before, after):
    """The differences between two records of a trial, or {} when only private fields (curator notes) differ."""
    changes = canonical.differences(before, after)
    return changes if set(changes) - PRIVATE_FIELDS else {}


def waiting_change(trial_id):
    """The trial's pending change by a curator, or None. One query."""
    return (
        RegistryUpdate.objects.pending()
        .filter(trial_id=trial_id, origin=RegistryUpdateOrigin.CURATOR)
        .select_related("proposed_by")
        .first()
    )


def propose_change(*, trial, changes, user, now=None, source=""):
    """Keep `changes` ({field: {"old", "new"}}, canonical values) of the published `trial` for an editor's approval.
    `source` says what the change is, as messages and the history name it ("change by ana" when not given).
    The trial itself does not change. Raises RecordError when a change already waits for approval (approve or send
    it back first: a second one would be reviewed against values it does not show). Returns the pending change."""
    now = now or timezone.now()
    with transaction.atomic():
        Trial.objects.select_for_update().filter(pk=trial.pk).first()
        if waiting := waiting_change(trial.pk):
            who = waiting.proposed_by.get_username() if waiting.proposed_by else "a curator"
            raise RecordError(
                f"A change by {who} of {timezone.localtime(waiting.created_at):%-d %B %Y at %H:%M} already waits for "
                "an editor's approval: nothing of yours was saved. Ask an editor to approve it or send it back, then "
                "make your change again."
            )
        return RegistryUpdate.objects.create(
            trial=trial,
            origin=RegistryUpdateOrigin.CURATOR,
            changes=changes,
            source=(source or f"change by {user.get_username()}")[:200],
            proposed_by=user,
            created_at=now,
        )


def send_back(*, update, user, reason, now=None):
    """Refuse a curator's pending change, saying why (`reason`, required): the trial does not change. Editors only.
    Raises PermissionDenied, or RecordError when the reason is empty or the change no longer waits."""
    if not user.has_perm(PUBLISH_PERMISSION):
        raise PermissionDenied
    if not reason.strip():
        raise RecordError("Say why you send the change back: the curator reads it on the trial's page.")
    with transaction.atomic():
        update = RegistryUpdate.objects.select_for_update().get(pk=update.pk)
        if update.status != RegistryUpdateStatus.PENDING:
            raise RecordError(f"This change is already {update.get_status_display().lower()}.")
        update.status = RegistryUpdateStatus.DISMISSED
        update.resolution_note = reason.strip()
        update.resolved_by = user
        update.resolved_at = now or timezone.now()
        update.save(update_fields=["status", "resolution_note", "resolved_by", "resolved_at"])
        who = update.proposed_by.get_username() if update.proposed_by else "a curator"
        names = ", ".join(canonical.field_label(name) for name in update.field_names)
        add_comment(trial=update.trial, user=user, text=f"Sent back the change by {who} ({names}): {reason.strip()}")
    return update


def previewed(*, trial_id, change=None, render):
    """`render()`'s result with the trial as readers would see it published, `change` (a pending change) applied:
    inside a transaction that is rolled back, so nothing of it is kept, written or counted. Raises RecordError when
    the change no longer applies."""
    with transaction.atomic():
        trial = Trial.objects.select_for_update().get(pk=trial_id)
        if change is not None:
            values = {name: value["new"] for name, value in change.changes.items()}
            write_record(trial, values, reason="Preview (rolled back)")
        Trial.objects.filter(pk=trial_id).update(curation_state=CurationState.PUBLISHED)
        result = render()
        transaction.set_rollback(True)
    return result


def propose_review_dates(*, trials, user, today=None):
    """ "Mark reviewed today" by a curator on published trials: each a pending change of its review date for an
    editor. Returns (how many proposed, [refusals in words]) (one waits already: see `propose_change`)."""
    today = today or timezone.localdate()
    proposed, refused = 0, []
    for trial in trials:
        if trial.last_reviewed_on == today:
            continue
        old = trial.last_reviewed_on.isoformat() if trial.last_reviewed_on else None
        try:
            propose_change(trial=trial, changes={"last_reviewed_on": {"old": old, "new": today.isoformat()}}, user=user)
        except RecordError as error:
            refused.append(f"{trial}: {error}")
        else:
            proposed += 1
    return proposed, refused
