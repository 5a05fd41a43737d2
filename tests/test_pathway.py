"""The pathway as one story (issue 15, point 6): the source document's three steps on every page that shows a
pathway, each with what varies between the trials, counted, linked to the trials it counts (trials/pathway.py)."""

import re

import pytest
from django.http import QueryDict
from django.urls import reverse

from mechanisms.content import PATHWAY_STEPS
from tests.factories import trial_with
from trials.filters import filtered_trials
from trials.vocabularies import CurationState

pytestmark = pytest.mark.django_db

STEP_NAMES = [step["name"] for step in PATHWAY_STEPS]


@pytest.fixture
def trials():
    trial_with(cell_source="MSC_UC", routes=["INTRAVENOUS"], immunosuppression="NONE", mechanisms=["immune-regulation"])
    trial_with(cell_source="MSC_UC", routes=["INTRAVENOUS", "PANCREATIC_ARTERY"], immunosuppression="NONE")
    trial_with(cell_source="PSC", routes=["PORTAL_VEIN"], immunosuppression="CHRONIC", follow_up_months=60)
    trial_with(cell_source="PSC", routes=["PORTAL_VEIN"], curation_state=CurationState.DRAFT)  # never counted


def links(html):
    """{href: count} of the pathway's links: each names a value and how many trials have it."""
    found = re.findall(r'<a href="(/trials/\?[^"]+)">[^<]+</a> <span class="n">(\d+)</span>', html)
    return {href.replace("&amp;", "&"): int(count) for href, count in found}


def test_mechanisms_page_shows_the_three_steps_with_counts_that_lead_to_the_trials(client, trials):
    html = client.get(reverse("mechanisms:list")).content.decode()
    assert [name for name in re.findall(r"<h3>([^<]+)</h3>", html) if name in STEP_NAMES] == STEP_NAMES
    found = links(html)
    assert found["/trials/?cell_source=MSC_UC"] == 2 and found["/trials/?cell_source=PSC"] == 1
    assert found["/trials/?route=INTRAVENOUS"] == 2 and found["/trials/?route=PORTAL_VEIN"] == 1
    assert found["/trials/?immunosuppression=CHRONIC"] == 1
    assert "Trials that give it</span>" not in html and "Trials that give it <span" in html
    for href, count in found.items():  # each link finds exactly the trials it counts
        _, listed = filtered_trials(QueryDict(href.split("?", 1)[1]))
        assert listed.count() == count, href


def test_a_mechanisms_page_counts_its_own_trials_and_keeps_the_mechanism_in_its_links(client, trials):
    html = client.get(reverse("mechanisms:detail", args=["immune-regulation"])).content.decode()
    found = links(html)
    assert found == {
        "/trials/?mechanism=immune-regulation&cell_source=MSC_UC": 1,
        "/trials/?mechanism=immune-regulation&route=INTRAVENOUS": 1,
        "/trials/?mechanism=immune-regulation&immunosuppression=NONE": 1,
    }


def test_a_trials_page_shows_the_same_three_steps_and_links_its_values(client, trials):
    trial = trial_with(cell_source="PSC", routes=["PORTAL_VEIN"], immunosuppression="CHRONIC")
    html = client.get(trial.get_absolute_url()).content.decode()
    assert [name for name in re.findall(r"<h3>([^<]+)</h3>", html) if name in STEP_NAMES] == STEP_NAMES
    for href in (
        'href="/trials/?cell_source=PSC"',
        'href="/trials/?route=PORTAL_VEIN"',
        'href="/trials/?immunosuppression=CHRONIC"',
    ):
        assert href in html
