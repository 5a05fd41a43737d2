"""The counts the charts draw (trials/charts/): trials by mechanism and phase, by status, by year of start, by
cell source and by country, over all published trials or one mechanism's. Counted from the facet index
(trials/facet_index.py), which is made when the registry changes: no query of their own.
"""

from typing import Any

from mechanisms.models import Mechanism
from trials.facet_index import FacetIndex
from trials.facets import Row, current_facet_index
from trials.status import NOT_RECORDED as NOT_RECORDED_CODE
from trials.vocabularies import CellSource, Phase

NOT_RECORDED = ("", "Not recorded")
PHASES = [*Phase.choices, NOT_RECORDED]


def _set(index: FacetIndex, facet: str, code: str) -> int:
    """The trials of one option of a facet; code "" is the trials with no value (the index's NOT_RECORDED)."""
    return index.facets[facet].sets.get(code or NOT_RECORDED_CODE, 0)


def by_mechanism_and_phase(index: FacetIndex, within: int) -> list[dict[str, Any]]:
    """[{"slug", "name", "phases": [(code, label, count)] for every phase, zeros included}] for every mechanism, in
    the mechanisms' order."""
    mechanisms = index.facets["mechanism"]
    return [
        {
            "slug": slug,
            "name": name,
            "phases": [
                (code, label, index.count(within, mechanisms.sets.get(slug, 0), _set(index, "phase", code)))
                for code, label in PHASES
            ],
        }
        for slug, name in mechanisms.options
        if slug != NOT_RECORDED_CODE
    ]


def by_option(index: FacetIndex, within: int, facet: str, choices: list[tuple[str, str]]) -> list[Row]:
    """[(code, label, count)] of the options of `facet` that count at least one trial, in the order of `choices`."""
    rows = [(code, label, index.count(within, _set(index, facet, code))) for code, label in choices]
    return [row for row in rows if row[2]]


def by_start_year(index: FacetIndex, within: int) -> dict[str, Any]:
    """{"years": [(year, count)] from the first year to the last, zeros included, "not_recorded": n}."""
    counts = {year: index.count(within, trials) for year, trials in index.years.items()}
    not_recorded = counts.pop(None, 0)
    known = [year for year, n in counts.items() if n and year is not None]
    years = [(year, counts.get(year, 0)) for year in range(min(known), max(known) + 1)] if known else []
    return {"years": years, "not_recorded": not_recorded}


def chart_counts(mechanism: Mechanism | None = None) -> dict[str, Any]:
    """Every chart's counts over the published trials, or over those linked to `mechanism`. Queries: none when the
    facet index is counted (on write), else its own."""
    index = current_facet_index()
    within = index.published if mechanism is None else index.facets["mechanism"].sets.get(mechanism.slug, 0)
    countries = [option for option in index.facets["country"].options if option[0] != NOT_RECORDED_CODE]
    return {
        "mechanism_phase": by_mechanism_and_phase(index, within),
        "phase": by_option(index, within, "phase", PHASES),
        "status": by_option(index, within, "status", index.facets["status"].options),
        "start_year": by_start_year(index, within),
        "cell_source": by_option(index, within, "cell_source", [*CellSource.choices, NOT_RECORDED]),
        "country": by_option(index, within, "country", countries),
    }
