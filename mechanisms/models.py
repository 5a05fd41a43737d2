"""The document's four mechanisms and three pathway steps.

Both are fixed by the source document and loaded by a data migration; curators may edit
the wording in the admin, but not add or remove entries, and their changes wait for an editor (WordingChange).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone


class ExplainedConcept(models.Model):
    """Plain-language fields shared by mechanisms and pathway steps."""

    slug = models.SlugField(unique=True, help_text="Stable address of the page; part of the public contract.")
    name = models.CharField(max_length=120, help_text="Short name shown to readers.")
    position = models.PositiveSmallIntegerField(default=0, help_text="Order in lists (smallest first).")
    summary = models.CharField(max_length=300, help_text="One sentence in plain words.")
    idea = models.TextField(help_text="The idea in plain words, as the source document puts it.")
    for_patients = models.TextField(
        "what it would mean for a patient",
        help_text="What a therapy built on this would mean for a person with diabetes, if it worked.",
    )
    caveats = models.TextField(help_text="The document's own caveats, in plain words.")
    unproven = models.TextField("what is still unproven", help_text="What the evidence has not shown yet.")
    source_quote = models.TextField(
        blank=True, help_text="The passage of the source document this explanation is built on."
    )

    class Meta:
        abstract = True
        ordering = ["position", "name"]

    def __str__(self):
        return self.name


class MechanismQuerySet(models.QuerySet):
    def with_trial_count(self, trials):
        """Annotate `trial_count`: how many of `trials` (a Trial queryset, e.g. the published ones) link to each
        mechanism. Counted in the same query; order explicitly, as Meta.ordering does not apply to aggregates."""
        return self.annotate(trial_count=models.Count("trial_links", filter=models.Q(trial_links__trial__in=trials)))


class Mechanism(ExplainedConcept):
    """A biological mechanism by which stem cells may help in diabetes."""

    document_term = models.CharField(
        max_length=200, help_text="The document's own name for the mechanism, for readers who know it."
    )

    objects = MechanismQuerySet.as_manager()

    class Meta(ExplainedConcept.Meta):
        verbose_name = "mechanism"

    def get_absolute_url(self):
        return reverse("mechanisms:detail", args=[self.slug])


class PathwayStep(ExplainedConcept):
    """A step of the treatment pathway: preparation, transplantation, monitoring."""

    what_varies = models.TextField(help_text="What differs between trials at this step.")

    class Meta(ExplainedConcept.Meta):
        verbose_name = "pathway step"


class WordingChangeStatus(models.TextChoices):
    PENDING = "PENDING", "Waiting for an editor"
    APPROVED = "APPROVED", "Approved"
    SENT_BACK = "SENT_BACK", "Sent back"


class WordingChange(models.Model):
    """A curator's change of the public wording of a mechanism or a pathway step: readers keep the approved wording
    until an editor approves it (mechanisms/actions.py)."""

    mechanism = models.ForeignKey(
        Mechanism, on_delete=models.CASCADE, null=True, blank=True, related_name="wording_changes"
    )
    pathway_step = models.ForeignKey(
        PathwayStep, on_delete=models.CASCADE, null=True, blank=True, related_name="wording_changes"
    )
    changes = models.JSONField(help_text='Field by field: {"summary": {"old": "...", "new": "..."}}.')
    status = models.CharField(max_length=10, choices=WordingChangeStatus.choices, default=WordingChangeStatus.PENDING)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    reason = models.TextField(
        blank=True, help_text="Why an editor sends the change back (required then); the curator reads it."
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    resolved_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "change of wording"
        verbose_name_plural = "changes of wording"
        permissions = [("approve_wordingchange", "Can approve or send back wording changes")]
        constraints = [
            models.CheckConstraint(
                condition=Q(mechanism__isnull=False, pathway_step__isnull=True)
                | Q(mechanism__isnull=True, pathway_step__isnull=False),
                name="wording_change_one_concept",
                violation_error_message="A change of wording is of one mechanism or one pathway step.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=WordingChangeStatus.values),
                name="wording_change_status_valid",
                violation_error_message="A change of wording waits, is approved or is sent back.",
            ),
            models.UniqueConstraint(
                fields=["mechanism"],
                condition=Q(status="PENDING"),
                name="wording_change_one_pending_mechanism",
                violation_error_message="A change of this mechanism's wording already waits for an editor.",
            ),
            models.UniqueConstraint(
                fields=["pathway_step"],
                condition=Q(status="PENDING"),
                name="wording_change_one_pending_step",
                violation_error_message="A change of this step's wording already waits for an editor.",
            ),
        ]

    def __str__(self):
        return f"{self.concept}: {', '.join(self.changes)}"

    @property
    def concept(self):
        return self.mechanism or self.pathway_step
