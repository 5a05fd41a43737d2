"""The trials of a public list's cards (templates/includes/trial_card.html: the list, a mechanism's page, the home
page's "Recruiting now"): full rows, each with what its card shows of its relations as plain lists.

Read in one narrow query per relation rather than through Django's prefetching: for the twenty cards of a page, the
related managers and querysets that prefetching builds, and that the template then walks, cost more Python than the
queries take (at 100,000 trials, the rows of a page took 23-25 ms that way, of which 5 ms were SQL).
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from mechanisms.models import Mechanism
from trials.models import Trial, TrialMechanism
from trials.vocabularies import DiabetesType, Route


def card_rows(ids: Sequence[int], mechanism: Mechanism | None = None) -> list[Trial]:
    """The published trials whose primary keys are `ids`, in that order (a trial unpublished since its id was read
    is left out), each with `mechanism_names`, `diabetes_labels`, `route_labels` and `country_names`: lists in the
    order the trial's own page shows them. With `mechanism` (its page), `links_here` instead of the mechanisms'
    names: the trial's links to it, which say why the trial tests it. Queries: 5 (1 when no trial is found)."""
    found = Trial.objects.published().with_primary_identifier().in_bulk(ids)
    trials = [found[pk] for pk in ids if pk in found]
    if not trials:
        return trials
    pks = [trial.pk for trial in trials]

    def linked(field: str, target: str, order: str) -> Any:
        """(trial id, value) of the many-to-many `field`, in `order`."""
        through = getattr(Trial, field).through.objects.filter(trial_id__in=pks)
        return through.order_by(order).values_list("trial_id", target)

    links = TrialMechanism.objects.filter(trial_id__in=pks)
    if mechanism is None:
        ordered = links.order_by("mechanism__position", "mechanism__name")
        relations = {"mechanism_names": by_trial(ordered.values_list("trial_id", "mechanism__name"))}
    else:
        relations = {"links_here": by_trial((link.trial_id, link) for link in links.filter(mechanism=mechanism))}
    relations["diabetes_labels"] = by_trial(
        linked("diabetes_types", "diabetestypeterm_id", "diabetestypeterm__position"), DiabetesType
    )
    relations["route_labels"] = by_trial(linked("routes", "routeterm_id", "routeterm__position"), Route)
    relations["country_names"] = by_trial(linked("countries", "country__name", "country__name"))
    for trial in trials:
        for attribute, lists in relations.items():
            setattr(trial, attribute, lists[trial.pk])
    return trials


def by_trial(rows: Iterable[tuple[int, Any]], vocabulary: Callable[[str], Any] | None = None) -> defaultdict:
    """{trial id: its values, in the rows' order} from (trial id, value) rows (a trial with none: an empty list);
    with `vocabulary`, each value (a code) as its label."""
    lists: defaultdict = defaultdict(list)
    for pk, value in rows:
        lists[pk].append(vocabulary(value).label if vocabulary else value)
    return lists
