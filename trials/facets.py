"""Counts of the public lists: by vocabulary, by status as shown, the list's facets, and their cache keyed by
the registry's data version.
"""

from collections.abc import Callable, Iterable
from contextlib import nullcontext
from datetime import date
from functools import partial
from hashlib import sha256
from typing import Any, TypeVar

from django.db.models import Count, Exists, OuterRef, QuerySet
from django.http import QueryDict
from django.utils import timezone

from mechanisms.models import Mechanism
from trials import data_version, facet_index
from trials.filters import DEFAULT_SORT, TrialFilter, filtered_trials, order_trials
from trials.models import Trial, TrialMechanism
from trials.search import best_matches, index_scans, matching_ids
from trials.status import NOT_RECORDED, STATUS_CHOICES, shown_status
from trials.vocabularies import Phase

Row = tuple[str, str, int]  # (code, label, count)
Facet = dict[str, Any]  # {"name", "label", "options", "open"}
T = TypeVar("T")

OPEN_FACETS = {"mechanism", "status", "phase"}  # shown unfolded on the list page
# How far into a search's list its pages come from its best matches (listed_ids); deeper pages, which few readers
# reach, order every match in SQL, rather than send the database thousands of ids.
DEEPEST_FROM_BEST_MATCHES = 1000


# --- Counts ---------------------------------------------------------------------------------


def count_by(queryset: QuerySet[Any], field: str, choices: Iterable[tuple[str, str]]) -> list[Row]:
    """One query: [(code, label, count)] for every code of a vocabulary, zero included."""
    counts = dict(queryset.order_by().values_list(field).annotate(n=Count("pk")).values_list(field, "n"))
    return [(code, label, counts.get(code, 0)) for code, label in choices]


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


def selected_codes(filterset: TrialFilter) -> dict[str, set[str]]:
    """{facet: the codes asked for}: the valid ones, or, for a parameter that did not validate, its raw values (no
    option holds a NUL character)."""
    cleaned = getattr(filterset.form, "cleaned_data", {})
    chosen = {}
    for name in facet_index.FACETS:
        if name in cleaned:
            chosen[name] = set(cleaned[name])
        elif filterset.is_bound:
            chosen[name] = {v for v in filterset.form[name].value() or [] if "\x00" not in v}
        else:
            chosen[name] = set()
    return chosen


def current_facet_index(today: date | None = None) -> facet_index.FacetIndex:
    """The facet index of the registry now (trials/facet_index.py): counted when a change commits
    (`refresh_counts`), read from the cache after that."""
    today = today or timezone.localdate()
    key = (today.isoformat(), facet_index.FORMAT)
    return cached_counts("facet-index", key, partial(facet_index.build, today))


def counted_facets(filterset: TrialFilter) -> tuple[list[Facet], int]:
    """(facets, total): the options of every facet with the number of matching trials, each counted over the list
    filtered by the other parameters (as faceted search does), and the number of trials the list holds.

    Counted from the facet index (trials/facet_index.py, counted on write): no query for the facets, one when
    the search or the start dates narrow the list (the trials they keep). Works on an invalid filterset too
    (counted over its valid parameters), so a 400 page keeps its form.

    Returns a list of dicts: {"name", "label", "options": [{"value", "label", "count", "selected"}], "open"}.
    """
    cleaned = getattr(filterset.form, "cleaned_data", {})
    index = current_facet_index(filterset.today)
    base = None
    others = [name for name in filterset.filters if name not in facet_index.FACETS and cleaned.get(name)]
    if others == ["q"]:  # a search alone: its matches from the index, published or not (counts() keeps the published)
        base = facet_index.as_set(matching_ids(cleaned["q"], Trial.objects.db))
    elif others:
        rest = filterset.filter_queryset(Trial.objects.published(), exclude=facet_index.FACETS)
        with index_scans(rest.db) if cleaned.get("q") else nullcontext():
            base = facet_index.as_set(rest.order_by().values_list("pk", flat=True))
    chosen = selected_codes(filterset)
    counts, total = index.counts({name: cleaned[name] for name in facet_index.FACETS if cleaned.get(name)}, base)
    facets = [
        {
            "name": name,
            "label": filterset.filters[name].label,
            "options": [
                {"value": value, "label": label, "count": count, "selected": value in chosen[name]}
                for value, label, count in counts[name]
                if count or value in chosen[name]
            ],
            "open": name in OPEN_FACETS or bool(chosen[name]),
        }
        for name in facet_index.FACETS
    ]
    return facets, total


def listed_ids(filterset: TrialFilter, offset: int, number: int) -> list[int] | None:
    """The ids of the list's trials from `offset` on, at most `number`, when they can be found without ordering the
    whole list in SQL; None otherwise, when the page reads them from the list's queryset.

    - In the default order, narrowed by facets alone: from the facet index (counted on write: no query).
    - A search alone, in relevance order, on PostgreSQL: from its best matches (`searched_ids`)."""
    cleaned = filterset.form.cleaned_data
    others = [name for name in filterset.filters if name not in facet_index.FACETS and cleaned.get(name)]
    if filterset.sort == "relevance" and others == ["q"] and not any(cleaned.get(name) for name in facet_index.FACETS):
        return searched_ids(filterset.search_text, offset, number)
    if filterset.sort != DEFAULT_SORT or others:
        return None
    index = current_facet_index(filterset.today)
    return index.first(index.listed({name: cleaned.get(name) for name in facet_index.FACETS}), number, offset)


def searched_ids(text: str, offset: int, number: int) -> list[int] | None:
    """The ids of the published trials matching the search `text` in relevance order, from `offset` on, at most
    `number`: its best matches ranked in the search entries alone (trials/search.py: best_matches), then those of them
    that are published, in the list's whole order (two queries), as far as the first DEEPEST_FROM_BEST_MATCHES
    trials. None on SQLite, deeper in the list, and when too many drafts were among the best matches, where the
    queryset's answer may differ."""
    wanted = offset + number
    if wanted > DEEPEST_FROM_BEST_MATCHES:
        return None
    kept = wanted + max(wanted // 2, 20)  # room for drafts among the best matches
    best = best_matches(text, Trial.objects.db, kept)
    if best is None:
        return None
    trials = order_trials(Trial.objects.published().filter(pk__in=best), "relevance", text)
    published = list(trials.values_list("pk", flat=True)[:wanted])
    if len(published) < wanted and len(best) >= kept:  # more matches than were kept, too few of them published
        return None
    return published[offset:]


def facet_counts(filterset: TrialFilter) -> list[Facet]:
    """The facets of `counted_facets` without the total."""
    return counted_facets(filterset)[0]


# --- Cached counts ----------------------------------------------------------------------------
# Counting 100,000 trials per facet takes far longer than reading one page of them, and the counts only change
# when the registry does. So they are cached under the registry's data version (trials/data_version.py), which
# every write changes (a trigger on every table), and counted afresh right after a write commits
# (`refresh_counts`), so that readers do not wait for them.


def cached_counts(name: str, key: Any, compute: Callable[[], T]) -> T:
    """`compute()`, or its value cached under (`name`, `key`, today, the data version) if counted already.

    At most one query (the data version) when cached: none if the public pages' cache read it for this request.
    The value must be picklable (lists, dicts, model instances)."""
    from trials import page_cache

    version = page_cache.request_version.get() or data_version.current()
    if version is None:
        return compute()
    parts = (name, key, timezone.localdate().isoformat(), version.tag)
    cache_key = "trials:counts:" + sha256(repr(parts).encode()).hexdigest()
    value = page_cache.get(cache_key)
    if value is None:
        value = compute()
        page_cache.store(cache_key, value)
    return value


def list_counts(filterset: TrialFilter, queryset: QuerySet[Any] | None) -> tuple[list[Facet], int | None]:
    """(facets, total): `counted_facets(filterset)`; the total is None when the filterset is invalid (`queryset` is
    None), which is counted but never cached. Queries: 0 or 1 when cached (the data version); otherwise none more,
    or one when the search or the start dates narrow the list (the facet index, counted on write)."""
    if queryset is None:
        return facet_counts(filterset), None
    asked = sorted(
        (name, repr(value)) for name, value in filterset.form.cleaned_data.items() if name in filterset.filters
    )
    return cached_counts("list", (asked, filterset.today.isoformat()), partial(counted_facets, filterset))


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
    """Count, under the data version now, what the first readers would otherwise wait for: the facet index (which
    answers every filtered list's counts and the charts'), the home page's, the unfiltered list's, each mechanism's
    and the pathway's counts (about 45 queries), and draw the home page's and each mechanism's charts (no query).
    Run after each commit that changed the registry (trials/data_version.py); a value already counted for this
    version is not counted again."""
    from trials.charts.figures import drawn_charts  # they read this module
    from trials.pathway import published_pathway

    current_facet_index()  # the list's facets and the charts are counted from it
    cached_counts("home", "", home_counts)
    list_counts(*filtered_trials(QueryDict()))
    published_pathway()
    drawn_charts()
    for mechanism in Mechanism.objects.only("pk", "slug", "position"):
        cached_counts("mechanism", mechanism.slug, partial(mechanism_counts, mechanism))
        published_pathway(mechanism)
        drawn_charts(mechanism)
