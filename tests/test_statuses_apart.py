"""The registry's own "Unknown status" and this site's "not confirmed for over 2 years" are two facet values with
two labels (trials/status.py); the integrity flags that change what a reader should believe show on the list's
cards (trials/card_flags.py)."""

import datetime

import pytest
from django.http import QueryDict
from django.urls import reverse

from tests.factories import SourceFactory, TrialFactory
from trials.facets import facet_counts
from trials.filters import filtered_trials
from trials.vocabularies import OverallStatus

TODAY = datetime.date(2026, 11, 30)


@pytest.fixture
def statuses(time_machine):
    time_machine.move_to(datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.UTC))
    for title, status, confirmed in [
        ("Registry says unknown", OverallStatus.UNKNOWN, datetime.date(2026, 1, 10)),
        ("Recruiting, unconfirmed since 2020", OverallStatus.RECRUITING, datetime.date(2020, 6, 1)),
        ("Recruiting, confirmed", OverallStatus.RECRUITING, datetime.date(2026, 10, 1)),
    ]:
        SourceFactory(trial=TrialFactory(brief_title=title, overall_status=status, status_confirmed_on=confirmed))


def titles(query):
    return sorted(filtered_trials(QueryDict(query), today=TODAY)[1].values_list("brief_title", flat=True))


@pytest.mark.django_db
def test_two_unknowns_are_two_values(statuses):
    assert titles("status=UNKNOWN") == ["Registry says unknown"]
    assert titles("status=STALE") == ["Recruiting, unconfirmed since 2020"]
    assert titles("status=RECRUITING") == ["Recruiting, confirmed"]
    facets = facet_counts(filtered_trials(QueryDict(""), today=TODAY)[0])
    status = {o["value"]: (o["label"], o["count"]) for f in facets if f["name"] == "status" for o in f["options"]}
    assert status["UNKNOWN"] == ("Unknown status", 1)
    assert status["STALE"] == ("Not confirmed for over 2 years", 1)
    assert status["RECRUITING"] == ("Recruiting", 1)


@pytest.mark.django_db
def test_the_list_labels_them_apart(client, statuses):
    html = client.get(reverse("trials:list")).content.decode()
    assert "Not confirmed for over 2 years (last confirmed on 1 June 2020)" in html
    assert "<strong>Unknown status</strong>" in html


@pytest.mark.django_db
def test_cards_carry_the_integrity_flags(client, time_machine):
    time_machine.move_to(datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.UTC))
    SourceFactory(
        trial=TrialFactory(
            brief_title="Past its end",
            overall_status=OverallStatus.RECRUITING,
            status_confirmed_on=datetime.date(2026, 6, 1),
            completion_date=datetime.date(2025, 3, 1),
            completion_date_precision="MONTH",
        )
    )
    SourceFactory(
        trial=TrialFactory(
            brief_title="Programme stopped",
            overall_status=OverallStatus.ACTIVE_NOT_RECRUITING,
            status_confirmed_on=datetime.date(2026, 6, 1),
            programme_discontinued_on=datetime.date(2025, 9, 1),
            programme_discontinued_on_precision="MONTH",
        )
    )
    SourceFactory(trial=TrialFactory(brief_title="Nothing to flag", overall_status=OverallStatus.COMPLETED))
    html = client.get(reverse("trials:list") + "?sort=title").content.decode()
    assert html.count('class="integrity-note"') == 2
    assert "The registry still says recruiting, but its completion date, March 2025, has passed." in html
    assert "The sponsor stopped this programme (September 2025)" in html
