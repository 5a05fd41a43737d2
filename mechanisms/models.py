"""The document's four mechanisms and three pathway steps.

Both are fixed by the source document and loaded by a data migration; curators may edit
the wording in the admin, but not add or remove entries.
"""

from django.db import models
from django.urls import reverse


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
