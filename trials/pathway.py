"""The treatment pathway as one story: the source document's three steps (preparation, transplantation,
monitoring), each with what varies between the trials at that step, counted, and the list's parameter that finds
them. Used by every page that shows the pathway (/mechanisms/, a mechanism's page, a trial's page).
"""

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from trials.facets import Row, cached_counts, count_by
from trials.models import RouteTerm, Trial
from trials.vocabularies import CellSource, DifferentiationStage, Immunosuppression

NOT_RECORDED = ("", "Not recorded")


@dataclass(frozen=True)
class Variation:
    """One thing that varies at a step: its label, the list's parameter for it ("" when the list has none) and
    [(code, label, count)] over the trials, zeros left out."""

    label: str
    parameter: str
    rows: list[Row]


def pathway_counts(trials: QuerySet[Trial]) -> dict[str, list[Variation]]:
    """{step slug: [Variation]} over `trials` (five queries)."""
    routes = RouteTerm.objects.annotate(n=Count("trials", filter=Q(trials__in=trials))).order_by("position")
    followed = trials.filter(follow_up_months__isnull=False).count()
    return {
        "preparation": [
            Variation("Cell source", "cell_source", _kept(count_by(trials, "cell_source", _with_none(CellSource)))),
            Variation(
                "Differentiation", "", _kept(count_by(trials, "differentiation", _with_none(DifferentiationStage)))
            ),
        ],
        "transplantation": [Variation("Route", "route", _kept([(r.code, r.label, r.n) for r in routes]))],
        "monitoring": [
            Variation(
                "Immunosuppression",
                "immunosuppression",
                _kept(count_by(trials, "immunosuppression", Immunosuppression.choices)),
            ),
            Variation("Follow-up length recorded", "", [("", "Trials that give it", followed)] if followed else []),
        ],
    }


def published_pathway(mechanism=None) -> dict[str, list[Variation]]:
    """The pathway's counts over the published trials (of one mechanism), cached until the registry changes."""
    from trials.facets import mechanism_trials

    trials = mechanism_trials(mechanism) if mechanism else Trial.objects.published()
    return cached_counts("pathway", mechanism.slug if mechanism else "", lambda: pathway_counts(trials))


def steps_with_counts(steps, mechanism=None) -> list[tuple]:
    """[(step, [Variation])] in the steps' order, for the pathway's template (includes/pathway.html)."""
    counts = published_pathway(mechanism)
    return [(step, counts.get(step.slug, [])) for step in steps]


def _with_none(vocabulary) -> list[tuple[str, str]]:
    return [*vocabulary.choices, NOT_RECORDED]


def _kept(rows: list[Row]) -> list[Row]:
    return [row for row in rows if row[2]]
