"""The integrity problems of each trial, stored (trials/stored_problems.py keeps them in step with the records), so
that the admin's problem filter, its counts and the curators' start page are counted in SQL."""

from datetime import date

from django.db import models
from django.db.models import Exists, OuterRef, Q

from trials.models.trial import Trial


class TrialProblemQuerySet(models.QuerySet):
    def holding_on(self, today: date):
        """The problems that hold on `today` (a problem that depends on the date holds between its days)."""
        return self.filter(
            Q(holds_from__isnull=True) | Q(holds_from__lte=today),
            Q(holds_until__isnull=True) | Q(holds_until__gte=today),
        )

    def selected_by(self, lookup: str):
        """The problems a filter's value selects: "any", "blocking", or a rule's name."""
        if lookup == "any":
            return self
        if lookup == "blocking":
            return self.filter(blocking=True)
        return self.filter(rule=lookup)

    def trials_having(self, lookup: str, today: date) -> Exists:
        """An expression for a trial queryset's filter: the trial has a problem `lookup` selects on `today`."""
        return Exists(self.holding_on(today).selected_by(lookup).filter(trial=OuterRef("pk")))


class TrialProblem(models.Model):
    """One problem of a trial (a rule of trials/integrity.py that finds one), and the days on which it holds. Never
    edited: counted from the trial's record whenever it or one of its rows changes."""

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="stored_problems")
    rule = models.CharField(max_length=50, help_text="The rule's name in trials/integrity.py.")
    blocking = models.BooleanField(help_text="A blocking problem stops publication.")
    holds_from = models.DateField(null=True, help_text="The first day it holds (none: no bound).")
    holds_until = models.DateField(null=True, help_text="The last day it holds (none: no bound).")

    objects = TrialProblemQuerySet.as_manager()

    class Meta:
        verbose_name = "stored integrity problem"
        constraints = [
            models.UniqueConstraint(
                fields=["trial", "rule"],
                name="trial_problem_one_per_rule",
                violation_error_message="A trial's problem under one rule is stored once: recheck the trial.",
            ),
        ]
        indexes = [models.Index(fields=["rule", "trial"], name="trial_problem_rule")]

    def __str__(self):
        return f"{self.rule} ({self.trial_id})"
