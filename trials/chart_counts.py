"""The counts the charts draw (trials/charts/): trials by mechanism and phase, by status, by year of start, by
cell source and by country, over all published trials or one mechanism's, cached under the registry's data
version like the facets (trials/facets.py: `cached_counts`; counted again after each write by `refresh_counts`).
"""

from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import ExtractYear

from mechanisms.models import Mechanism
from trials.facets import Row, cached_counts, count_by, count_by_status, mechanism_trials
from trials.models import Country, Trial, TrialMechanism
from trials.vocabularies import CellSource, Phase

NOT_RECORDED = ("", "Not recorded")
PHASES = [*Phase.choices, NOT_RECORDED]


def by_mechanism_and_phase(trials: QuerySet[Trial]) -> list[dict[str, Any]]:
    """Two queries: [{"slug", "name", "phases": [(code, label, count)] for every phase, zeros included}] for
    every mechanism, in the mechanisms' order."""
    pairs = (
        TrialMechanism.objects.filter(trial__in=trials)
        .order_by()
        .values_list("mechanism_id", "trial__phase")
        .annotate(n=Count("trial_id"))
    )
    counts = {(mechanism, phase): n for mechanism, phase, n in pairs}
    mechanisms = Mechanism.objects.only("pk", "slug", "name", "position").order_by("position")
    return [
        {
            "slug": mechanism.slug,
            "name": mechanism.name,
            "phases": [(code, label, counts.get((mechanism.pk, code), 0)) for code, label in PHASES],
        }
        for mechanism in mechanisms
    ]


def by_start_year(trials: QuerySet[Trial]) -> dict[str, Any]:
    """One query: {"years": [(year, count)] from the first year to the last, zeros included, "not_recorded": n}."""
    rows = dict(
        trials.order_by()
        .annotate(year=ExtractYear("start_date"))
        .values_list("year")
        .annotate(n=Count("pk"))
        .values_list("year", "n")
    )
    not_recorded = rows.pop(None, 0)
    years = [(year, rows.get(year, 0)) for year in range(min(rows), max(rows) + 1)] if rows else []
    return {"years": years, "not_recorded": not_recorded}


def by_country(trials: QuerySet[Trial]) -> list[Row]:
    """One query: [(ISO code, name, trials with a site there)] for the countries with at least one, by name."""
    countries = Country.objects.annotate(n=Count("trials", filter=Q(trials__in=trials))).filter(n__gt=0)
    return [(country.code, country.name, country.n) for country in countries.order_by("name")]


def nonzero(rows: list[Row]) -> list[Row]:
    return [row for row in rows if row[2]]


def chart_counts(trials: QuerySet[Trial]) -> dict[str, Any]:
    """Every chart's counts over `trials` (published ones: callers pass a queryset of published()): 7 queries."""
    return {
        "mechanism_phase": by_mechanism_and_phase(trials),
        "phase": nonzero(count_by(trials, "phase", PHASES)),
        "status": nonzero(count_by_status(trials)),
        "start_year": by_start_year(trials),
        "cell_source": nonzero(count_by(trials, "cell_source", [*CellSource.choices, NOT_RECORDED])),
        "country": by_country(trials),
    }


def home_chart_counts() -> dict[str, Any]:
    """The home page's charts' counts: every published trial. Cached until the registry changes."""
    return cached_counts("charts", "", lambda: chart_counts(Trial.objects.published()))


def mechanism_chart_counts(mechanism: Mechanism) -> dict[str, Any]:
    """A mechanism's page's charts' counts: its published trials. Cached until the registry changes."""
    return cached_counts("charts", mechanism.slug, lambda: chart_counts(mechanism_trials(mechanism)))
