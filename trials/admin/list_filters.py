"""The trial list's filters in the admin: mechanism, diabetes type, staleness, integrity problems; and the field
filters' counting.

Their counts (the admin's facets, `?_facets=True`) are Django's: each filter counts its choices among the trials the
other filters leave. Django asks one query per filter, and its SimpleListFilter counts each choice as `pk IN (the
list filtered by that choice)`, a pass over the trials per choice. Here:
- the filters whose choices are conditions on the trial's own columns (the field filters, staleness) are counted
  together: one query for all of them that count over the same trials (`CountedTogether`), read from a narrow index
  of those columns (trial_admin_counts_idx), not from the wide rows;
- the filters through linked rows (mechanism, diabetes type, problem) count every choice in one grouped query of
  those rows (`counts_by_choice`, `ProblemFilter.get_facet_queryset`).
"""

from django.contrib import admin
from django.db.models import Count, Q
from django.utils import timezone

from mechanisms.models import Mechanism
from trials import integrity, stored_problems
from trials.models import Trial, TrialMechanism, TrialProblem
from trials.status import record_stale_q, status_stale_q
from trials.vocabularies import DiabetesType


def trials_counted(list_filter, changelist):
    """The trials `list_filter` counts its choices among: those the other filters leave (Django's
    `get_facet_queryset`). A filter not in use changes nothing, so these are the list's own (`changelist.queryset`,
    already made), not made again."""
    if not list_filter.used_parameters:
        return changelist.queryset
    return changelist.get_queryset(list_filter.request, exclude_parameters=list_filter.expected_parameters())


class CountedTogether:
    """Mixed into a filter whose choices are conditions on the trial's own columns (its `get_facet_counts`: a Count
    with a condition per choice, as Django's field filters have). The filters not in use all count over the same
    trials, the list's own: they are counted in one query together. A filter in use counts over the trials the other
    filters leave, in a query of its own (Django's)."""

    def get_facet_queryset(self, changelist):
        if self.used_parameters:
            return super().get_facet_queryset(changelist)
        if not hasattr(changelist, "counted_together"):
            changelist.counted_together = count_together(changelist)
        return changelist.counted_together[tuple(self.expected_parameters())]


class ColumnChoicesFilter(CountedTogether, admin.ChoicesFieldListFilter):
    """Django's filter of a field with choices, counted together with the others (`CountedTogether`)."""


def count_together(changelist):
    """{a CountedTogether filter's parameters: its facet counts} for every such filter of the list not in use, in one
    query over the list's trials."""
    specs = [spec for spec in changelist.filter_specs if isinstance(spec, CountedTogether) and not spec.used_parameters]
    row = changelist.queryset.aggregate(
        **{
            f"f{n}_{name}": count
            for n, spec in enumerate(specs)
            for name, count in spec.get_facet_counts(changelist.pk_attname, changelist.queryset).items()
        }
    )
    return {
        tuple(spec.expected_parameters()): {
            name.removeprefix(f"f{n}_"): value for name, value in row.items() if name.startswith(f"f{n}_")
        }
        for n, spec in enumerate(specs)
    }


def counts_by_choice(list_filter, changelist, rows, choice):
    """The facet counts of `list_filter` ({"<i>__c": count} in its lookups' order) from `rows`, a queryset of the
    rows linking a trial (`trial`) to a choice (`choice`, the lookup's value), at most one row per trial and choice
    (a unique constraint): the rows of the trials the other filters leave, counted per choice in one grouped query.
    With no other filter, every row counts (its trial exists: a foreign key), and the trials are not read at all."""
    filtered = trials_counted(list_filter, changelist)
    if filtered.query.where:
        rows = rows.filter(trial__in=filtered.order_by().values("pk"))
    counted = dict(rows.order_by().values_list(choice).annotate(trials=Count("pk")))
    return {f"{i}__c": counted.get(lookup, 0) for i, (lookup, _title) in enumerate(list_filter.lookup_choices)}


class MechanismFilter(admin.SimpleListFilter):
    title = "mechanism"
    parameter_name = "mechanism"

    def lookups(self, request, model_admin):
        # The change list makes every filter again for each filter's counts: the mechanisms are read once a request.
        if not hasattr(request, "_admin_mechanisms"):
            request._admin_mechanisms = list(Mechanism.objects.values_list("slug", "name"))
        return request._admin_mechanisms

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(mechanism_links__mechanism__slug=self.value())
        return queryset

    def get_facet_queryset(self, changelist):
        return counts_by_choice(self, changelist, TrialMechanism.objects.all(), "mechanism__slug")


class DiabetesTypeFilter(admin.SimpleListFilter):
    title = "diabetes type"
    parameter_name = "diabetes_type"

    def lookups(self, request, model_admin):
        return DiabetesType.choices

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(diabetes_types__code=self.value())
        return queryset

    def get_facet_queryset(self, changelist):
        # The type's code is its term's primary key: the links hold it.
        return counts_by_choice(self, changelist, Trial.diabetes_types.through.objects.all(), "diabetestypeterm")


class StalenessFilter(CountedTogether, admin.SimpleListFilter):
    title = "staleness"
    parameter_name = "stale"

    def lookups(self, request, model_admin):
        return [
            ("review", "Review overdue (over 12 months, or never)"),
            ("status", "Status unknown (active status not confirmed for over 2 years)"),
            ("any", "Either"),
            ("fresh", "Up to date"),
        ]

    @staticmethod
    def condition(value):
        """The trials a choice selects, as a condition on the trial's own columns (None: not a choice)."""
        stale = record_stale_q() | status_stale_q()
        return {"review": record_stale_q(), "status": status_stale_q(), "any": stale, "fresh": ~stale}.get(value)

    def queryset(self, request, queryset):
        condition = self.condition(self.value())
        return queryset if condition is None else queryset.filter(condition)

    def get_facet_counts(self, pk_attname, filtered_qs):
        """Every choice counted in one pass over the trials: its condition as the count's filter."""
        return {
            f"{i}__c": Count(pk_attname, filter=self.condition(lookup))
            for i, (lookup, _title) in enumerate(self.lookup_choices)
        }


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
        filtered = trials_counted(self, changelist)
        problems = TrialProblem.objects.holding_on(timezone.localdate())
        if filtered.query.where:  # with no other filter, every stored problem's trial is listed
            problems = problems.filter(trial__in=filtered.order_by().values("pk"))
        counts = {}
        for i, (lookup, _title) in enumerate(self.lookup_choices):
            if lookup in {"any", "blocking"}:  # trials: one row per problem, several per trial
                counts[f"{i}__c"] = Count(
                    "trial", distinct=True, filter=Q(blocking=True) if lookup == "blocking" else None
                )
            else:  # one row per trial and rule
                counts[f"{i}__c"] = Count("pk", filter=Q(rule=lookup))
        return problems.aggregate(**counts)
