"""Counts of the public lists: by vocabulary, by status as shown, the list's facets, and their cache keyed by
the registry's data version.
"""

from collections.abc import Callable, Iterable
from datetime import date
from functools import partial
from hashlib import sha256
from typing import Any, TypeVar

from django.core.cache import cache
from django.db.models import Count, Exists, F, Func, OuterRef, Q, QuerySet, Subquery
from django.http import QueryDict
from django.utils import timezone

from mechanisms.models import Mechanism
from trials import data_version
from trials.filters import TrialFilter, filtered_trials
from trials.models import Country, DiabetesTypeTerm, RouteTerm, Trial, TrialMechanism
from trials.status import NOT_RECORDED, STATUS_CHOICES, shown_status
from trials.vocabularies import CellSource, Immunosuppression, Phase, SponsorClass

Row = tuple[str, str, int]  # (code, label, count)
Facet = dict[str, Any]  # {"name", "label", "options", "open"}
T = TypeVar("T")

OPEN_FACETS = {"mechanism", "status", "phase"}  # shown unfolded on the list page


# --- Counts ---------------------------------------------------------------------------------


NOT_RECORDED_LABEL = "Not recorded"


def count_by(queryset: QuerySet[Any], field: str, choices: Iterable[tuple[str, str]]) -> list[Row]:
    """One query: [(code, label, count)] for every code of a vocabulary, zero included."""
    counts = dict(queryset.order_by().values_list(field).annotate(n=Count("pk")).values_list(field, "n"))
    return [(code, label, counts.get(code, 0)) for code, label in choices]


def count_by_recorded(queryset: QuerySet[Any], field: str, choices: Iterable[tuple[str, str]]) -> list[Row]:
    """One query: `count_by`, and last (NOT_RECORDED, "Not recorded", the trials with no value)."""
    rows = count_by(queryset, field, [*choices, ("", NOT_RECORDED_LABEL)])
    return [*rows[:-1], (NOT_RECORDED, NOT_RECORDED_LABEL, rows[-1][2])]


def unlinked_count(trials: QuerySet[Any], links: Any) -> Subquery:
    """An expression, computed once within the query that holds it: how many of `trials` have no row in `links`
    (a model with a `trial` foreign key). Adds no query to the facet's."""
    missing = trials.order_by().filter(~Exists(links.objects.filter(trial=OuterRef("pk"))))
    return Subquery(missing.annotate(n=Func(F("pk"), function="COUNT")).values("n")[:1])


def with_not_recorded(rows: list[Any], code: str, label: str, count: str) -> list[Row]:
    """[(code, label, count)] of `rows` (objects with those attributes) and a last NOT_RECORDED row, its count read
    from the rows' `missing` (the same on each row)."""
    missing = rows[0].missing if rows else 0
    return [(getattr(r, code), getattr(r, label), getattr(r, count)) for r in rows] + [
        (NOT_RECORDED, NOT_RECORDED_LABEL, missing or 0)
    ]


def count_by_status(queryset: QuerySet[Any], today: date | None = None) -> list[Row]:
    """One query: [(code, label, count)] by status as readers see it (stale active statuses count as unknown),
    with NOT_RECORDED for trials whose status is not recorded."""
    counts = dict(
        queryset.order_by()
        .annotate(shown=shown_status(today))
        .values_list("shown")
        .annotate(n=Count("pk"))
        .values_list("shown", "n")
    )
    counts[NOT_RECORDED] = counts.pop("", 0)
    return [(code, label, counts.get(code, 0)) for code, label in STATUS_CHOICES]


# --- Facets -----------------------------------------------------------------------------------


def facet_counts(filterset: TrialFilter) -> list[Facet]:
    """The options of every filter with the number of matching trials, each counted over the list filtered by
    the other parameters (as faceted search does). Queries: one per facet (nine), whatever the data size.

    Returns a list of dicts: {"name", "label", "options": [{"value", "label", "count", "selected"}]}.
    Works on an invalid filterset too (counted over its valid parameters), so a 400 page keeps its form.
    """
    cleaned = getattr(filterset.form, "cleaned_data", {})
    published = Trial.objects.published()

    def others(name: str) -> QuerySet[Any]:
        return filterset.filter_queryset(published, exclude={name}) if cleaned else published

    def selected(name: str) -> set[str]:
        if name in cleaned:
            return set(cleaned[name])
        # The raw values of an invalid parameter: no option holds a NUL character (nor may a PostgreSQL query).
        return {v for v in filterset.form[name].value() or [] if "\x00" not in v} if filterset.is_bound else set()

    def options(name: str, rows: Iterable[Row]) -> list[dict[str, Any]]:
        chosen = selected(name)
        return [
            {"value": value, "label": label, "count": count, "selected": value in chosen}
            for value, label, count in rows
            if count or value in chosen
        ]

    facets = []

    # Meta.ordering does not apply to aggregate queries: order explicitly.
    # only(): the mechanisms' long texts would be carried through the join, one copy per link.
    mechanisms = (
        Mechanism.objects.only("slug", "name", "position")
        .with_trial_count(others("mechanism"))
        .annotate(missing=unlinked_count(others("mechanism"), TrialMechanism))
        .order_by("position")
    )
    facets.append(("mechanism", with_not_recorded(list(mechanisms), "slug", "name", "trial_count")))

    facets.append(("status", count_by_status(others("status"), filterset.today)))
    facets.append(("phase", count_by_recorded(others("phase"), "phase", Phase.choices)))

    through = Trial.diabetes_types.through
    types = DiabetesTypeTerm.objects.annotate(
        n=Count("trials", filter=Q(trials__in=others("diabetes_type"))),
        missing=unlinked_count(others("diabetes_type"), through),
    ).order_by("position")
    facets.append(("diabetes_type", with_not_recorded(list(types), "code", "label", "n")))

    facets.append(("cell_source", count_by_recorded(others("cell_source"), "cell_source", CellSource.choices)))

    routes = RouteTerm.objects.annotate(
        n=Count("trials", filter=Q(trials__in=others("route"))),
        missing=unlinked_count(others("route"), Trial.routes.through),
    ).order_by("position")
    facets.append(("route", with_not_recorded(list(routes), "code", "label", "n")))

    # Countries no trial has are left out by options(), not by a HAVING clause, which would count twice.
    countries = Country.objects.annotate(
        n=Count("trials", filter=Q(trials__in=others("country"))),
        missing=unlinked_count(others("country"), Trial.countries.through),
    ).order_by("name")
    facets.append(("country", with_not_recorded(list(countries), "code", "name", "n")))

    facets.append(("sponsor_class", count_by_recorded(others("sponsor_class"), "sponsor_class", SponsorClass.choices)))
    facets.append(
        (
            "immunosuppression",
            count_by_recorded(others("immunosuppression"), "immunosuppression", Immunosuppression.choices),
        )
    )

    return [
        {
            "name": name,
            "label": filterset.filters[name].label,
            "options": options(name, rows),
            "open": name in OPEN_FACETS or bool(selected(name)),
        }
        for name, rows in facets
    ]


# --- Cached counts ----------------------------------------------------------------------------
# Counting 100,000 trials per facet takes far longer than reading one page of them, and the counts only change
# when the registry does. So they are cached under the registry's data version (trials/data_version.py), which
# every write changes (a trigger on every table), and counted afresh right after a write commits
# (`refresh_counts`), so that readers do not wait for them.


def cached_counts(name: str, key: Any, compute: Callable[[], T]) -> T:
    """`compute()`, or its value cached under (`name`, `key`, today, the data version) if counted already.

    At most one query (the data version) when cached: none if the public pages' cache read it for this request.
    The value must be picklable (lists, dicts, model instances)."""
    from trials.page_cache import request_version

    version = request_version.get() or data_version.current()
    if version is None:
        return compute()
    parts = (name, key, timezone.localdate().isoformat(), version.tag)
    cache_key = "trials:counts:" + sha256(repr(parts).encode()).hexdigest()
    value = cache.get(cache_key)
    if value is None:
        value = compute()
        cache.set(cache_key, value)
    return value


def list_counts(filterset: TrialFilter, queryset: QuerySet[Any] | None) -> tuple[list[Facet], int | None]:
    """(facets, total): `facet_counts(filterset)` and the number of trials in `queryset` (None when the filterset
    is invalid, which is counted but never cached). Queries: 0 or 1 when cached (the data version), 11 otherwise."""
    if queryset is None:
        return facet_counts(filterset), None
    asked = sorted(
        (name, repr(value)) for name, value in filterset.form.cleaned_data.items() if name in filterset.filters
    )
    return cached_counts(
        "list", (asked, filterset.today.isoformat()), lambda: (facet_counts(filterset), queryset.count())
    )


def home_counts() -> dict[str, Any]:
    """The home page's counts (three queries): published trials, by mechanism and by status as shown."""
    published = Trial.objects.published()
    mechanisms = (
        Mechanism.objects.only("slug", "name", "summary", "position")  # not the long texts, once per link
        .with_trial_count(published)
        .order_by("position")  # Meta.ordering does not apply to aggregate queries
    )
    return {
        "trial_count": published.count(),
        "mechanisms": list(mechanisms),
        "statuses": [row for row in count_by_status(published) if row[2]],
    }


def mechanism_trials(mechanism: Mechanism) -> QuerySet[Trial]:
    """The published trials linked to `mechanism` (a queryset)."""
    links = TrialMechanism.objects.filter(mechanism=mechanism)
    return Trial.objects.published().filter(Exists(links.filter(trial=OuterRef("pk"))))


def mechanism_counts(mechanism: Mechanism) -> tuple[list[Row], list[Row]]:
    """A mechanism's page's counts (two queries): (by phase, by status as shown), each [(code, label, count)]
    without the zeros."""
    trials = mechanism_trials(mechanism)
    by_phase = count_by(trials, "phase", [*Phase.choices, ("", "Phase not recorded")])
    return [row for row in by_phase if row[2]], [row for row in count_by_status(trials) if row[2]]


def refresh_counts() -> None:
    """Count, under the data version now, what the first readers would otherwise wait for: the home page's, the
    unfiltered list's, each mechanism's, their charts' and the pathway's counts (about 65 queries). Run after each
    commit that changed the registry (trials/data_version.py); a value already counted for this version is not
    counted again."""
    from trials.chart_counts import home_chart_counts, mechanism_chart_counts  # it reads this module
    from trials.pathway import published_pathway  # so does this one

    cached_counts("home", "", home_counts)
    home_chart_counts()
    list_counts(*filtered_trials(QueryDict()))
    published_pathway()
    for mechanism in Mechanism.objects.only("pk", "slug", "position"):
        cached_counts("mechanism", mechanism.slug, partial(mechanism_counts, mechanism))
        mechanism_chart_counts(mechanism)
        published_pathway(mechanism)
