"""The trial list's filters in the admin: mechanism, diabetes type, staleness, integrity problems."""

from django.contrib import admin
from django.utils import timezone

from mechanisms.models import Mechanism
from trials import integrity
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
    """Trials with an integrity problem (trials/integrity.py): any, blocking, or one rule. The rules run in Python
    over the trials the other filters leave (their sources, publications and outcomes read in three queries)."""

    title = "problem"
    parameter_name = "problem"

    def lookups(self, request, model_admin):
        return [
            ("any", "Any problem"),
            ("blocking", "A blocking problem"),
            *[(rule.name, rule.title) for rule in integrity.RULES],
        ]

    def matching(self, queryset):
        """{lookup: [pks of the trials it selects]} for every lookup, from one pass over `queryset`."""
        today = timezone.localdate()
        found = {lookup: [] for lookup, _title in self.lookup_choices}
        for trial in queryset.prefetch_related(*integrity.PREFETCH):
            problems = integrity.problems(integrity.facts_of(trial), today)
            if problems:
                found["any"].append(trial.pk)
            if any(problem.blocking for problem in problems):
                found["blocking"].append(trial.pk)
            for name in {problem.rule for problem in problems}:
                found[name].append(trial.pk)
        return found

    def queryset(self, request, queryset):
        if not self.value() or self.value() not in dict(self.lookup_choices):
            return queryset
        return queryset.filter(pk__in=self.matching(queryset)[self.value()])

    def get_facet_queryset(self, changelist):
        """The counts beside each lookup (the admin's facets), from one pass instead of one per lookup."""
        filtered = changelist.get_queryset(self.request, exclude_parameters=self.expected_parameters())
        found = self.matching(filtered)
        return {f"{i}__c": len(found[lookup]) for i, (lookup, _title) in enumerate(self.lookup_choices)}
