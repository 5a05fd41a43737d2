"""Changes of the mechanisms' and pathway steps' public wording: a curator's change waits for an editor, who approves
it (the wording changes, readers see it) or sends it back with a reason. Editors' own changes are saved at once."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from .models import Mechanism, WordingChange, WordingChangeStatus

APPROVE_PERMISSION = "mechanisms.approve_wordingchange"


class WordingError(Exception):
    """A change of wording that cannot be made; the message says why in plain words."""


def _concept_field(concept):
    return "mechanism" if isinstance(concept, Mechanism) else "pathway_step"


def waiting_change(concept):
    """The concept's change of wording waiting for an editor, or None. One query."""
    return WordingChange.objects.filter(
        **{_concept_field(concept): concept}, status=WordingChangeStatus.PENDING
    ).first()


def propose_wording(*, concept, changes, user, now=None):
    """Keep `changes` ({field: {"old", "new"}}) of a mechanism or pathway step for an editor; the wording does not
    change. Raises WordingError when a change waits already."""
    with transaction.atomic():
        type(concept).objects.select_for_update().filter(pk=concept.pk).first()
        if waiting := waiting_change(concept):
            who = waiting.proposed_by.get_username() if waiting.proposed_by else "a curator"
            raise WordingError(
                f"A change by {who} already waits for an editor's approval: nothing of yours was saved. Ask an editor "
                "to approve it or send it back, then make your change again."
            )
        return WordingChange.objects.create(
            **{_concept_field(concept): concept}, changes=changes, proposed_by=user, created_at=now or timezone.now()
        )


def _resolve(change, user, now):
    if not user.has_perm(APPROVE_PERMISSION):
        raise PermissionDenied
    change = (
        WordingChange.objects.select_for_update(of=("self",))
        .select_related("mechanism", "pathway_step")
        .get(pk=change.pk)
    )
    if change.status != WordingChangeStatus.PENDING:
        raise WordingError(f"This change is already {change.get_status_display().lower()}.")
    change.resolved_by, change.resolved_at = user, now or timezone.now()
    return change


def approve_wording(*, change, user, now=None):
    """Apply a pending change of wording (editors): readers see it from now on."""
    with transaction.atomic():
        change = _resolve(change, user, now)
        concept = change.concept
        for name, value in change.changes.items():
            setattr(concept, name, value["new"])
        concept.full_clean()
        concept.save(update_fields=list(change.changes))
        change.status = WordingChangeStatus.APPROVED
        change.save(update_fields=["status", "resolved_by", "resolved_at"])
    return change


def send_back_wording(*, change, user, reason, now=None):
    """Refuse a pending change of wording (editors), saying why: `reason` is required."""
    if not reason.strip():
        raise WordingError("Say why you send the change back: the curator reads it.")
    with transaction.atomic():
        change = _resolve(change, user, now)
        change.status = WordingChangeStatus.SENT_BACK
        change.reason = reason.strip()
        change.save(update_fields=["status", "reason", "resolved_by", "resolved_at"])
    return change
