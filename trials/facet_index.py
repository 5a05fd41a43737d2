"""The facet index: which published trials have each option of each facet of the list, as bit sets, so that the
counts of any combination of filters are a few hundred AND and popcount operations in memory instead of nine SQL
aggregates over the whole registry.

A trial is the bit numbered by its primary key. For each facet (mechanism, status as shown, phase, diabetes type,
cell source, route, country, sponsor type, immunosuppression) each option has the set of published trials that
have it, and NOT_RECORDED the set of those that have none. The filters' meaning carries over exactly
(trials/filters.py): a facet's selected options match the union of their sets; the list is the intersection of the
facets' unions (and of what the search and the start dates match, read from the database); an option's count over
the list filtered by the other facets is popcount(others & option).

It is counted on write: under the registry's data version and the day (the status shown depends on the day), built
once when a change commits (trials/data_version.py `refresh_counts`), in 10 queries, and kept in the cache (shared
by every worker when CACHE_URL names a server). At 100,000 trials the sets take about 2 MB.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from mechanisms.models import Mechanism
from trials.filters import in_active_order
from trials.models import Country, DiabetesTypeTerm, RouteTerm, Trial, TrialMechanism
from trials.status import NOT_RECORDED, STATUS_CHOICES, shown_status
from trials.vocabularies import CellSource, Immunosuppression, Phase, SponsorClass

NOT_RECORDED_LABEL = "Not recorded"
# Part of the index's cache key: changed whenever FacetIndex's fields change, so that an index a previous release
# pickled into a shared cache (Redis outlives a deployment) is never read by code that expects other fields.
FORMAT = 2

# The trial's own fields the list filters by, with their vocabularies (a trial has one value or none).
FIELDS = {
    "phase": Phase.choices,
    "cell_source": CellSource.choices,
    "sponsor_class": SponsorClass.choices,
    "immunosuppression": Immunosuppression.choices,
}
# The list's facets, in the order the page shows them.
FACETS = (
    "mechanism",
    "status",
    "phase",
    "diabetes_type",
    "cell_source",
    "route",
    "country",
    "sponsor_class",
    "immunosuppression",
)


@dataclass
class Facet:
    """One facet: its options in the order shown, [(code, label)], and the set of trials of each (NOT_RECORDED
    last: the trials with no value)."""

    options: list[tuple[str, str]]
    sets: dict[str, int] = field(default_factory=dict)

    def matching(self, codes: Iterable[str]) -> int:
        """The trials a filter by these codes keeps: the union of their sets."""
        union = 0
        for code in codes:
            union |= self.sets.get(code, 0)
        return union


@dataclass
class FacetIndex:
    published: int  # the set of every published trial
    facets: dict[str, Facet]
    years: dict[int | None, int] = field(default_factory=dict)  # the trials that started in each year (None: unknown)
    in_order: array = field(default_factory=lambda: array("q"))  # the published trials in the list's default order

    def first(self, among: int, number: int, offset: int = 0) -> list[int]:
        """The first `number` trials of the set `among` after its first `offset`, in the list's default order
        (trials/filters.py: in_active_order)."""
        bits = among.to_bytes((among.bit_length() >> 3) + 1, "little")
        size, found, skipped = len(bits), [], 0
        if number <= 0:
            return found
        for pk in self.in_order:
            byte = pk >> 3
            if byte < size and bits[byte] >> (pk & 7) & 1:
                if skipped < offset:
                    skipped += 1
                    continue
                found.append(pk)
                if len(found) == number:
                    break
        return found

    def listed(self, selected: dict[str, Any]) -> int:
        """The published trials a list filtered by `selected` ({facet: codes}) holds."""
        listed = self.published
        for name, codes in selected.items():
            if codes:
                listed &= self.facets[name].matching(codes)
        return listed

    def count(self, *sets: int) -> int:
        """How many published trials are in every one of `sets`."""
        both = self.published
        for other in sets:
            both &= other
        return both.bit_count()

    def counts(self, selected: dict[str, Any], base: int | None = None) -> tuple[dict[str, list], int]:
        """({facet: [(code, label, count)]}, total) for a list filtered by `selected` ({facet: codes}, the facets
        the reader chose) within `base` (the trials the other filters keep; all published ones when None). Each
        facet's options are counted over the list filtered by the other facets, as faceted search does."""
        base = self.published if base is None else base & self.published
        unions = {name: self.facets[name].matching(codes) for name, codes in selected.items() if codes}
        total = base & self.listed(selected)
        counts = {}
        for name, facet in self.facets.items():
            others = base
            for other, union in unions.items():
                if other != name:
                    others &= union
            counts[name] = [
                (code, label, (others & facet.sets.get(code, 0)).bit_count()) for code, label in facet.options
            ]
        return counts, total.bit_count()


def as_set(ids: Iterable[int]) -> int:
    """The set of these primary keys (each a bit).

    Written as binary digits, one byte per key up to the largest, then read by int() in one step: a search can match
    a third of a large registry, and setting one byte for each key is 3-4 times faster than or-ing bits into bytes
    (38,000 keys: about 2 ms instead of 6-14)."""
    ids = ids if isinstance(ids, list) else list(ids)
    if not ids:
        return 0
    digits = bytearray(b"0") * (max(ids) + 1)  # digits[pk] is the bit of pk: lowest first
    for pk in ids:
        digits[pk] = 49  # b"1"
    return int(digits[::-1], 2)  # int() reads the highest digit first; base 2 has no limit on their number


class _Sets:
    """Collects the primary keys of each option into byte buffers (setting bits of a Python int one at a time
    would copy it each time), then turns them into ints."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.buffers: dict[str, bytearray] = {}

    def add(self, code: str, pk: int) -> None:
        buffer = self.buffers.get(code)
        if buffer is None:
            buffer = self.buffers[code] = bytearray(self.size)
        buffer[pk >> 3] |= 1 << (pk & 7)

    def ints(self) -> dict[str, int]:
        return {code: int.from_bytes(buffer, "little") for code, buffer in self.buffers.items()}


def _own(choices: Iterable[tuple[str, str]], sets: _Sets) -> Facet:
    """A facet of one of the trial's own fields: its vocabulary, then NOT_RECORDED."""
    return Facet([*choices, (NOT_RECORDED, NOT_RECORDED_LABEL)], sets.ints())


def _linked(options: list[tuple[str, str]], links: Iterable[tuple[int, str]], published: int, size: int) -> Facet:
    """A many-to-many facet from its (trial id, code) links; NOT_RECORDED: the published trials with no link."""
    sets = _Sets(size)
    for pk, code in links:
        sets.add(code, pk)
    facet = Facet([*options, (NOT_RECORDED, NOT_RECORDED_LABEL)], sets.ints())
    facet.sets[NOT_RECORDED] = published & ~facet.matching(list(facet.sets))
    return facet


def build(today: date) -> FacetIndex:
    """The index of the published trials as the database holds them now (and the years they started, for the
    charts: trials/chart_counts.py), and their order in the list by default. Queries: 10."""
    trials = Trial.objects.published().order_by()
    rows = list(trials.annotate(shown=shown_status(today)).values_list("pk", "start_date", "shown", *FIELDS))
    size = (max((row[0] for row in rows), default=0) >> 3) + 1
    every, status, own = bytearray(size), _Sets(size), {name: _Sets(size) for name in FIELDS}
    years: dict[int | None, bytearray] = {}
    for pk, start, shown, *values in rows:
        every[pk >> 3] |= 1 << (pk & 7)
        year = years.setdefault(start.year if start else None, bytearray(size))
        year[pk >> 3] |= 1 << (pk & 7)
        status.add(shown or NOT_RECORDED, pk)
        for name, value in zip(FIELDS, values, strict=True):
            own[name].add(value or NOT_RECORDED, pk)
    published = int.from_bytes(every, "little")

    ids = trials.values("pk")
    types, routes, countries = Trial.diabetes_types.through, Trial.routes.through, Trial.countries.through
    facets = {
        "mechanism": _linked(
            list(Mechanism.objects.order_by("position").values_list("slug", "name")),
            TrialMechanism.objects.filter(trial__in=ids).values_list("trial_id", "mechanism__slug"),
            published,
            size,
        ),
        "status": Facet(list(STATUS_CHOICES), status.ints()),
        "diabetes_type": _linked(
            [(term.code, term.label) for term in DiabetesTypeTerm.objects.order_by("position")],
            types.objects.filter(trial__in=ids).values_list("trial_id", "diabetestypeterm_id"),
            published,
            size,
        ),
        "route": _linked(
            [(term.code, term.label) for term in RouteTerm.objects.order_by("position")],
            routes.objects.filter(trial__in=ids).values_list("trial_id", "routeterm_id"),
            published,
            size,
        ),
        "country": _linked(
            list(Country.objects.order_by("name").values_list("code", "name")),
            countries.objects.filter(trial__in=ids).values_list("trial_id", "country_id"),
            published,
            size,
        ),
        **{name: _own(choices, own[name]) for name, choices in FIELDS.items()},
    }
    return FacetIndex(
        in_order=array("q", in_active_order(trials, today).values_list("pk", flat=True)),
        published=published,
        facets={name: facets[name] for name in FACETS},
        years={year: int.from_bytes(buffer, "little") for year, buffer in years.items()},
    )
