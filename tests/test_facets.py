"""The public lists' counts cache (trials/facets.py: `cached_counts`, `data_version`, `list_counts`): cached until
anything a reader could see changes, whatever path the change takes."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mechanisms.models import Mechanism
from tests.factories import RegistryIdentifierFactory, SourceFactory, TrialMechanismFactory, trial_with
from trials import actions
from trials.models import Trial, TrialMechanism
from trials.vocabularies import CurationState, OverallStatus, Phase, Registry

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


@pytest.fixture
def trials():
    """Two published trials in different countries and mechanisms, and a draft (never counted)."""
    trial_with(
        brief_title="Alpha",
        identifier="NCT00000001",
        mechanisms=["immune-regulation"],
        diabetes_types=["T1D"],
        routes=["INTRAVENOUS"],
        countries=["SE"],
        phase=Phase.PHASE1,
        overall_status=OverallStatus.COMPLETED,
        last_reviewed_on=datetime.date(2026, 1, 1),
    )
    trial_with(
        brief_title="Bravo",
        identifier="NCT00000002",
        mechanisms=["beta-cell-regeneration"],
        countries=["US", "CA"],
        phase=Phase.PHASE3,
        overall_status=OverallStatus.RECRUITING,
        status_confirmed_on=datetime.date(2026, 4, 20),
        last_reviewed_on=datetime.date(2026, 11, 1),
    )
    trial_with(
        brief_title="Echo draft",
        mechanisms=["immune-regulation"],
        countries=["SE"],
        curation_state=CurationState.DRAFT,
    )


def test_list_counts_are_cached_until_a_trial_is_saved_added_or_deleted(client, trials):
    url = reverse("trials:list") + "?country=SE"

    def get(extra=""):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url + extra)
        assert response.status_code == 200
        return response, len(queries)

    first, counted = get()
    again, cached = get("&page=1")  # another page of the list (the same page would come from the pages' cache)
    assert cached < counted  # the facets and the total come from the cache
    assert again.context["total"] == first.context["total"]

    trial = Trial.objects.published().get(brief_title="Alpha")
    trial.countries.clear()
    trial.save()  # what a curator's save in the admin does
    saved, queries = get()
    assert queries > cached  # counted afresh
    assert saved.context["total"] == first.context["total"] - 1

    trial_with(brief_title="Added", countries=["SE"])
    added, _ = get()
    assert added.context["total"] == first.context["total"]

    Trial.objects.get(brief_title="Added").delete()
    deleted, _ = get()
    assert deleted.context["total"] == first.context["total"] - 1


def list_counts_seen(client, query=""):
    """The list's total and its facets' counts ({facet: {value: count}}), as a reader gets them (cached or not)."""
    response = client.get(reverse("trials:list") + query)
    assert response.status_code == 200
    facets = {f["name"]: {o["value"]: o["count"] for o in f["options"]} for f in response.context["facets"]}
    return response.context["total"], facets


def test_cached_counts_follow_mechanism_links_saved_on_their_own(client, trials):
    """TrialMechanism has a history of its own: a link added, changed or deleted without saving its trial (an
    inline, an action) must show in the counts at once, not after the cache's timeout."""

    def mechanism_counts():
        return list_counts_seen(client)[1]["mechanism"]

    before = mechanism_counts()
    alpha = Trial.objects.get(brief_title="Alpha")
    angiogenesis = Mechanism.objects.get(slug="angiogenesis")
    TrialMechanismFactory(trial=alpha, mechanism=angiogenesis)
    assert mechanism_counts().get("angiogenesis", 0) == before.get("angiogenesis", 0) + 1

    link = TrialMechanism.objects.get(trial=alpha, mechanism=angiogenesis)
    link.mechanism = Mechanism.objects.get(slug="trophic-support")
    link.save()
    changed = mechanism_counts()
    assert changed.get("angiogenesis", 0) == before.get("angiogenesis", 0)
    assert changed.get("trophic-support", 0) == before.get("trophic-support", 0) + 1

    link.delete()
    assert mechanism_counts() == before


def test_cached_counts_follow_many_to_many_changes_without_a_save(client, trials):
    def country_counts():
        return list_counts_seen(client)[1]["country"]

    before = country_counts()
    Trial.objects.get(brief_title="Alpha").countries.add("FR")
    assert country_counts().get("FR", 0) == before.get("FR", 0) + 1
    Trial.objects.get(brief_title="Alpha").countries.remove("SE")
    assert country_counts().get("SE", 0) == before.get("SE", 0) - 1


def test_cached_counts_follow_identifiers_for_a_search(client, trials):
    query = "?q=ISRCTN1234"
    assert list_counts_seen(client, query)[0] == 0
    identifier = RegistryIdentifierFactory(
        trial=Trial.objects.get(brief_title="Alpha"), registry=Registry.OTHER, value="ISRCTN12345678", is_primary=False
    )
    assert list_counts_seen(client, query)[0] == 1
    identifier.delete()
    assert list_counts_seen(client, query)[0] == 0


def test_cached_counts_follow_publishing_and_unpublishing(client, trials, editor):
    total = list_counts_seen(client)[0]
    actions.unpublish(trial=Trial.objects.get(brief_title="Alpha"), user=editor)
    assert list_counts_seen(client)[0] == total - 1
    trial = Trial.objects.get(brief_title="Alpha")
    SourceFactory(trial=trial)  # what publishing needs
    actions.send_to_review(trial=trial, user=editor)
    actions.publish(trial=trial, user=editor)
    assert list_counts_seen(client)[0] == total
