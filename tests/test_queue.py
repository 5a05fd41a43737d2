"""The curators' start page (trials/queue.py, templates/admin/index.html): each count equals the filtered admin list it
links to."""

import re

import pytest
from django.urls import reverse
from django.utils.html import escape

from mechanisms.models import Mechanism, WordingChange
from tests.factories import TrialFactory, UserFactory, publishable_trial
from trials import actions
from trials.models import RegistryUpdate, RegistryUpdateOrigin
from trials.queue import queue
from trials.vocabularies import CurationState

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


@pytest.fixture
def registry():
    ana = UserFactory(role="Curator", username="ana")
    reviewed = "2026-11-01"
    in_review = [publishable_trial(curation_state=CurationState.REVIEW, last_reviewed_on=reviewed) for _ in range(2)]
    published = publishable_trial(curation_state=CurationState.PUBLISHED, last_reviewed_on=reviewed)
    overdue = publishable_trial(curation_state=CurationState.DRAFT, last_reviewed_on="2024-01-01")
    never = TrialFactory(curation_state=CurationState.DRAFT, last_reviewed_on=None)  # no source: a problem too
    actions.propose_change(trial=published, changes={"acronym": {"old": "", "new": "NEW"}}, user=ana)
    RegistryUpdate.objects.create(trial=overdue, identifier="NCT00000001", changes={"acronym": {}}, source="t")
    RegistryUpdate.objects.create(
        trial=in_review[0], origin=RegistryUpdateOrigin.CURATED_DATA, changes={"acronym": {}}, source="t"
    )
    WordingChange.objects.create(
        mechanism=Mechanism.objects.first(), changes={"summary": {"old": "a", "new": "b"}}, proposed_by=ana
    )
    return {"never": never}


def test_the_counts(registry):
    counts = {item.label: item.count for item in queue()}
    assert counts == {
        "Trials in review": 2,
        "Changes to published trials waiting for approval": 1,
        "Changes of mechanisms' wording waiting for approval": 1,
        "Registry updates to review (ClinicalTrials.gov)": 1,
        "Registry updates to review (curated data file)": 1,
        "Reviews overdue (not reviewed for over 12 months, or never)": 2,
        "Trials with an integrity problem": counts["Trials with an integrity problem"],
        "… of which blocking (cannot be published)": counts["… of which blocking (cannot be published)"],
    }
    assert counts["… of which blocking (cannot be published)"] >= 1  # the trial without a source


def test_each_count_is_a_link_to_the_list_that_shows_as_many(client, registry):
    editor = UserFactory(role="Editor")
    client.force_login(editor)
    page = client.get(reverse("admin:index")).content.decode()
    assert "Waiting for curators and editors" in page
    for item in queue():
        assert f'<a href="{escape(item.url)}">{escape(item.label)}</a>' in page
        listing = client.get(item.url)
        assert listing.status_code == 200, item.url
        shown = listing.context["cl"].result_count
        assert shown == item.count, item.label
        assert not re.search(r"[?&]e=1", listing.get("Location", ""))


def test_the_start_page_is_bounded(client, registry, django_assert_max_num_queries):
    client.force_login(UserFactory(role="Curator"))
    with django_assert_max_num_queries(25):
        assert client.get(reverse("admin:index")).status_code == 200
