"""The trials of a public list's cards (templates/includes/trial_card.html: the list, a mechanism's page, the home
page's "Recruiting now"): full rows, each with what its card shows of its relations as plain lists.

Read in one narrow query per relation rather than through Django's prefetching: for the twenty cards of a page, the
related managers and querysets that prefetching builds, and that the template then walks, cost more Python than the
queries take (at 100,000 trials, the rows of a page took 23-25 ms that way, of which 5 ms were SQL).
"""

from collections.abc import Sequence

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
    by_pk = {trial.pk: trial for trial in trials}
    for trial in trials:
        trial.diabetes_labels, trial.route_labels, trial.country_names = [], [], []
        if mechanism is None:
            trial.mechanism_names = []
        else:
            trial.links_here = []
    if not trials:
        return trials
    links = TrialMechanism.objects.filter(trial_id__in=by_pk)
    if mechanism is None:
        for pk, name in links.order_by("mechanism__position", "mechanism__name").values_list(
            "trial_id", "mechanism__name"
        ):
            by_pk[pk].mechanism_names.append(name)
    else:
        for link in links.filter(mechanism=mechanism).order_by("pk"):
            by_pk[link.trial_id].links_here.append(link)
    types, routes, countries = Trial.diabetes_types.through, Trial.routes.through, Trial.countries.through
    for pk, code in (
        types.objects.filter(trial_id__in=by_pk)
        .order_by("diabetestypeterm__position")
        .values_list("trial_id", "diabetestypeterm_id")
    ):
        by_pk[pk].diabetes_labels.append(DiabetesType(code).label)
    for pk, code in (
        routes.objects.filter(trial_id__in=by_pk)
        .order_by("routeterm__position")
        .values_list("trial_id", "routeterm_id")
    ):
        by_pk[pk].route_labels.append(Route(code).label)
    for pk, name in (
        countries.objects.filter(trial_id__in=by_pk).order_by("country__name").values_list("trial_id", "country__name")
    ):
        by_pk[pk].country_names.append(name)
    return trials
