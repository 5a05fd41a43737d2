"""The review conversation: a comment on a trial by a curator or an editor (never public)."""

from django.core.exceptions import PermissionDenied
from django.utils import timezone

from trials.models import Comment


def add_comment(*, trial, user, text, now=None):
    """Add `user`'s comment to the trial's review conversation; None when `text` is blank. Raises PermissionDenied
    for a user who may not change trials."""
    if not user.has_perm("trials.change_trial"):
        raise PermissionDenied
    if not text.strip():
        return None
    return Comment.objects.create(trial_id=trial.pk, author=user, text=text.strip(), created_at=now or timezone.now())
