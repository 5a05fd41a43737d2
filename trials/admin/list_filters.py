"""The trial list's filters in the admin: mechanism, diabetes type, staleness, integrity problems."""

from django.contrib import admin
from django.db.models import Count, Q
from django.utils import timezone

from mechanisms.models import Mechanism
from trials import integrity, stored_problems
from trials.models import TrialProblem
from trials.status import record_stale_q, status_stale_q
from trials.vocabularies import DiabetesType


class MechanismFilter(admin.SimpleListFilter):
    title = "mechanism"
    parameter_name = "mechanism"

    def lookups(self, request, model_admin):
        return list(Mechanism.objects.values_list("slug", "name"))

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(mechanism_links__mechanism__slug=self.value())
        return queryset


class DiabetesTypeFilter(admin.SimpleListFilter):
    title = "diabetes type"
    parameter_name = "diabetes_type"

    def lookups(self, request, model_admin):
        return DiabetesType.choices

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(diabetes_types__code=self.value())
        return queryset


class StalenessFilter(admin.SimpleListFilter):
    title = "staleness"
    parameter_name = "stale"

    def lookups(self, request, model_admin):
        return [
            ("review", "Review overdue (over 12 months, or never)"),
            ("status", "Status unknown (active status not confirmed for over 2 years)"),
            ("any", "Either"),
            ("fresh", "Up to date"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "review":
            return queryset.filter(record_stale_q())
        if value == "status":
            return queryset.filter(status_stale_q())
        if value == "any":
            return queryset.filter(record_stale_q() | status_stale_q())
        if value == "fresh":
            return queryset.exclude(record_stale_q() | status_stale_q())
        return queryset


class ProblemFilter(admin.SimpleListFilter):
    """Trials with an integrity problem (trials/integrity.py): any, blocking, or one rule. Read from the stored
    problems that hold today (trials/stored_problems.py): a condition in SQL, and the counts in one query."""

    title = "problem"
    parameter_name = "problem"

    def lookups(self, request, model_admin):
        return [
            ("any", "Any problem"),
            ("blocking", "A blocking problem"),
            *[(rule.name, rule.title) for rule in integrity.RULES],
        ]

    def queryset(self, request, queryset):
        if not self.value() or self.value() not in dict(self.lookup_choices):
            return queryset
        stored_problems.recheck_pending()
        return queryset.filter(TrialProblem.objects.trials_having(self.value(), timezone.localdate()))

    def get_facet_queryset(self, changelist):
        """The counts beside each lookup (the admin's facets), in one query over the stored problems of the trials
        the other filters leave."""
        stored_problems.recheck_pending()
        filtered = changelist.get_queryset(self.request, exclude_parameters=self.expected_parameters())
        problems = TrialProblem.objects.holding_on(timezone.localdate()).filter(
            trial__in=filtered.order_by().values("pk")
        )
        counts = {}
        for i, (lookup, _title) in enumerate(self.lookup_choices):
            if lookup in {"any", "blocking"}:  # trials: one row per problem, several per trial
                counts[f"{i}__c"] = Count(
                    "trial", distinct=True, filter=Q(blocking=True) if lookup == "blocking" else None
                )
            else:  # one row per trial and rule
                counts[f"{i}__c"] = Count("pk", filter=Q(rule=lookup))
        return problems.aggregate(**counts)
