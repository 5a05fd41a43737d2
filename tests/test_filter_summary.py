"""Around the list (trials/filter_summary.py, trials/filters.py): the filters in force, each removable in one
click, and an inverted start-date range answered with the list's 400 page."""

import re

import pytest
from django.urls import reverse

from tests.factories import SourceFactory, TrialFactory


@pytest.fixture
def trials():
    SourceFactory(trial=TrialFactory(brief_title="Islets in a pouch", phase="PHASE1"))
    SourceFactory(trial=TrialFactory(brief_title="Stromal cells", phase="PHASE2"))


def get(client, query):
    return client.get(reverse("trials:list") + "?" + query)


def in_force(html):
    """[(text, address)] of the summary's links."""
    block = html.split('<div class="in-force">', 1)[1].split("</div>", 1)[0]
    return [
        (re.sub(r"<[^>]+>", "", text).replace("×", "").strip(), href.replace("&amp;", "&"))
        for href, text in re.findall(r'<a href="([^"]*)">(.*?)</a>', block)
    ]


@pytest.mark.django_db
def test_every_filter_in_force_is_named_with_a_link_that_removes_only_it(client, trials):
    html = get(client, "q=islets&phase=PHASE1&phase=PHASE2&started_after=2000-01-01&sort=title").content.decode()
    assert in_force(html) == [
        ("Remove Search: “islets”", "?phase=PHASE1&phase=PHASE2&started_after=2000-01-01&sort=title"),
        ("Remove Phase: Phase 1", "?q=islets&phase=PHASE2&started_after=2000-01-01&sort=title"),
        ("Remove Phase: Phase 2", "?q=islets&phase=PHASE1&started_after=2000-01-01&sort=title"),
        ("Remove Started on or after: 2000-01-01", "?q=islets&phase=PHASE1&phase=PHASE2&sort=title"),
    ]


@pytest.mark.django_db
def test_no_summary_without_filters(client, trials):
    assert 'class="in-force"' not in get(client, "sort=title").content.decode()


@pytest.mark.django_db
def test_an_inverted_date_range_is_a_400_that_says_so(client, trials):
    response = get(client, "started_after=2022-01-01&started_before=2020-01-01")
    assert response.status_code == 400
    html = response.content.decode()
    assert "is earlier than “on or after” (2022-01-01): no trial can start in that range" in html
    assert "Islets in a pouch" not in html


@pytest.mark.django_db
def test_an_impossible_date_is_a_400(client, trials):
    response = get(client, "started_before=2024-02-30")
    assert response.status_code == 400 and "Enter a date as YYYY-MM-DD" in response.content.decode()
