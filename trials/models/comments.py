"""The review conversation: comments on a trial between its curators and editors (never public)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from trials.models.trial import Trial


class Comment(models.Model):
    """A comment on a trial in its review: a question, an answer, the reason it was sent back. Never public."""

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    text = models.TextField(help_text="Seen by curators and editors only, on the trial's page.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["trial", "created_at"], name="comment_trial_idx")]

    def __str__(self):
        return f"{self.author} on {self.trial_id}: {self.text[:60]}"
