"""Validation in plain words (issue 14, point 3): dates still to come refused where they would hide staleness, one
message per mistake, every database constraint with a curator's message, a stale inline row's error next to it."""

import re

import pytest
from django.apps import apps

from tests.factories import publishable_trial
from tests.test_admin import add_errors, change_url, form_data, signed_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


def errors(page):
    """Every error message the page shows, in order."""
    return [
        re.sub(r"<[^>]+>", "", item).strip()
        for block in re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', page, re.S)
        for item in re.findall(r"<li>(.*?)</li>", block, re.S)
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"status_confirmed_on": "2027-01-05", "status_confirmed_on_precision": "DAY"},
            "5 January 2027 is still to come: give the date of the source that confirmed the status, today "
            "(24 November 2026) or earlier.",
        ),
        (
            {"status_confirmed_on": "2099-03-01", "status_confirmed_on_precision": "MONTH"},
            "1 March 2099 is still to come",
        ),
        (
            {"last_reviewed_on": "2026-11-25"},
            "25 November 2026 is still to come: give the day you checked the record against its sources",
        ),
    ],
)
def test_dates_still_to_come_are_refused_where_they_would_hide_staleness(client, curator, changes, message):
    page = add_errors(signed_in(client, curator), **changes)
    assert message in page
    assert sum("still to come" in error for error in errors(page)) == 1


def test_today_is_not_in_the_future(client, curator):
    page = add_errors(signed_in(client, curator), slug="", last_reviewed_on="2026-11-24")  # refused for the slug only
    assert not any("still to come" in error for error in errors(page))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"start_date": "2024-02-30", "start_date_precision": "MONTH"}, "start date"),
        ({"status_confirmed_on": "2020-10", "status_confirmed_on_precision": "MONTH"}, "confirmation date"),
    ],
)
def test_an_impossible_date_gets_one_message(client, curator, changes, field):
    page = add_errors(signed_in(client, curator), **changes)
    assert errors(page) == ["Enter a valid date."], f"the {field}: one message, not a second about its precision"


def test_every_database_constraint_has_a_message_in_words():
    for model in apps.get_app_config("trials").get_models():
        for constraint in model._meta.constraints:
            message = str(constraint.violation_error_message)
            assert message != str(constraint.default_violation_error_message), f"{model.__name__}: {constraint.name}"
            assert constraint.name not in message and "Constraint" not in message


def test_a_row_deleted_by_someone_else_shows_its_error_next_to_the_row(client, curator):
    trial = publishable_trial()
    signed_in(client, curator)
    data = form_data(client.get(change_url(trial)))  # the page as the curator opened it
    trial.mechanism_links.get().delete()  # ...then another curator deleted the mechanism link
    data["mechanism_links-0-rationale"] = "My better rationale."
    response = client.post(change_url(trial), data)
    assert response.status_code == 200
    page = response.content.decode()
    assert errors(page) == [
        "A mechanism link on this page was deleted by someone else after you opened it, so your changes to it were "
        "not saved. What you typed in it: Mechanism “Immune regulation”; Role “Primary”; Rationale “My better "
        "rationale.”. Copy what you need, then reload the page."
    ]
