"""The record integrity rules on plain objects: each rule fires on its contradiction and only there."""

from datetime import date
from types import SimpleNamespace

import pytest

from trials import integrity

TODAY = date(2026, 11, 30)


def facts(**changes):
    """A consistent record: completed, confirmed and reviewed in the past, resting on its registry record."""
    values = {
        "overall_status": "COMPLETED",
        "status_confirmed_on": date(2026, 9, 1),
        "start_date": date(2021, 3, 1),
        "start_date_precision": "MONTH",
        "completion_date": date(2025, 6, 30),
        "completion_date_precision": "DAY",
        "last_reviewed_on": date(2026, 11, 30),
        "key_results": "",
        "why_stopped": "",
        "programme_discontinued_on": None,
        "programme_discontinued_on_precision": "",
        "sources": [SimpleNamespace(kind="REGISTRY")],
        "publications": [],
        "outcomes": [],
    }
    values.update(changes)
    return SimpleNamespace(**values)


def names(record):
    return [problem.rule for problem in integrity.problems(record, TODAY)]


def test_a_consistent_record_has_no_problem():
    assert integrity.problems(facts(), TODAY) == []


def test_every_rule_is_registered_once_with_a_title():
    assert len(integrity.RULES_BY_NAME) == len(integrity.RULES) >= 10
    assert all(rule.title for rule in integrity.RULES)


@pytest.mark.parametrize(
    ("completion", "precision", "expected"),
    [
        (date(2026, 3, 1), "MONTH", True),  # March 2026 is over
        (date(2026, 11, 1), "MONTH", False),  # November 2026 is not
        (date(2026, 1, 1), "YEAR", False),  # nor is 2026
        (date(2026, 11, 29), "DAY", True),
        (date(2026, 11, 30), "DAY", False),
        (None, "", False),
    ],
)
def test_active_status_after_completion(completion, precision, expected):
    record = facts(overall_status="RECRUITING", completion_date=completion, completion_date_precision=precision)
    assert ("active_after_completion" in names(record)) is expected


def test_active_after_completion_says_it_to_readers_in_plain_words():
    record = facts(overall_status="RECRUITING", completion_date=date(2026, 3, 1), completion_date_precision="MONTH")
    (problem,) = integrity.problems(record, TODAY)
    assert problem.public == "The registry still says recruiting, but its completion date, March 2026, has passed."
    assert not problem.blocking


def test_a_completed_trial_past_its_completion_date_is_fine():
    assert names(facts(overall_status="COMPLETED", completion_date=date(2020, 1, 1))) == []


@pytest.mark.parametrize(
    ("start", "precision", "expected"),
    [(date(2026, 10, 1), "MONTH", True), (date(2026, 11, 1), "MONTH", False), (date(2027, 1, 5), "DAY", False)],
)
def test_not_yet_recruiting_after_the_start_date(start, precision, expected):
    record = facts(overall_status="NOT_YET_RECRUITING", start_date=start, start_date_precision=precision)
    assert ("not_yet_recruiting_after_start" in names(record)) is expected


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [(["REGISTRY"], True), (["REGISTRY_COPY", "NEWS"], True), (["PUBLICATION"], False)],
)
def test_no_status_while_a_registry_source_exists(kinds, expected):
    record = facts(overall_status="", status_confirmed_on=None, sources=[SimpleNamespace(kind=kind) for kind in kinds])
    assert ("no_status_with_registry_source" in names(record)) is expected


@pytest.mark.parametrize(
    ("key_results", "publications", "outcomes", "expected"),
    [
        ("", ["RESULTS"], [], True),
        ("", ["INTERIM_RESULTS"], [], True),
        ("", [], [object()], True),
        ("", ["BACKGROUND", "PROTOCOL"], [], False),
        ("Ten of twelve were insulin-independent.", ["RESULTS"], [object()], False),
    ],
)
def test_no_results_while_results_are_listed(key_results, publications, outcomes, expected):
    record = facts(
        key_results=key_results,
        publications=[SimpleNamespace(kind=kind) for kind in publications],
        outcomes=outcomes,
    )
    assert ("no_results_with_results" in names(record)) is expected


def test_a_programme_stopped_by_its_sponsor_while_the_registry_says_active():
    record = facts(
        overall_status="ACTIVE_NOT_RECRUITING",
        completion_date=date(2027, 5, 29),
        programme_discontinued_on=date(2025, 3, 1),
        programme_discontinued_on_precision="MONTH",
    )
    (problem,) = integrity.problems(record, TODAY)
    assert problem.rule == "discontinued_but_active"
    assert "March 2025" in problem.public and "active, not recruiting" in problem.public
    assert names(dict_update(record, overall_status="TERMINATED", why_stopped="Sponsor decision")) == []


def dict_update(record, **changes):
    return SimpleNamespace(**{**vars(record), **changes})


def test_a_stopped_trial_without_its_reason():
    assert "stopped_without_reason" in names(facts(overall_status="TERMINATED"))
    assert "stopped_without_reason" not in names(facts(overall_status="TERMINATED", why_stopped="Funding"))


def test_a_source_without_a_kind():
    record = facts(sources=[SimpleNamespace(kind="REGISTRY"), SimpleNamespace(kind="")])
    assert names(record) == ["source_without_kind"]


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"status_confirmed_on": date(2026, 12, 1)}, "status_confirmed_in_future"),
        ({"last_reviewed_on": date(2026, 12, 1)}, "reviewed_in_future"),
        ({"sources": [SimpleNamespace(kind="NEWS"), SimpleNamespace(kind="OTHER")]}, "no_evidence_source"),
        ({"sources": []}, "no_evidence_source"),
    ],
)
def test_blocking_rules(changes, rule):
    found = integrity.blocking_problems(facts(**changes), TODAY)
    assert [problem.rule for problem in found] == [rule]
    assert found[0].blocking


@pytest.mark.parametrize("kind", ["REGISTRY", "REGISTRY_COPY", "PUBLICATION", "SPONSOR"])
def test_one_registry_publication_or_sponsor_source_is_enough(kind):
    assert integrity.blocking_problems(facts(sources=[SimpleNamespace(kind=kind)]), TODAY) == []


def test_a_listed_publication_is_evidence_too():
    record = facts(sources=[SimpleNamespace(kind="NEWS")], publications=[SimpleNamespace(kind="BACKGROUND")])
    assert integrity.blocking_problems(record, TODAY) == []


def test_blocking_problems_come_first():
    record = facts(overall_status="TERMINATED", last_reviewed_on=date(2027, 1, 1))
    assert names(record) == ["reviewed_in_future", "stopped_without_reason"]


@pytest.mark.parametrize(
    ("day", "precision", "end"),
    [
        (date(2026, 2, 1), "MONTH", date(2026, 2, 28)),
        (date(2024, 2, 1), "MONTH", date(2024, 2, 29)),
        (date(2026, 12, 1), "MONTH", date(2026, 12, 31)),
        (date(2026, 1, 1), "YEAR", date(2026, 12, 31)),
        (date(2026, 5, 17), "DAY", date(2026, 5, 17)),
    ],
)
def test_end_of_a_partial_date(day, precision, end):
    assert integrity.end_of(day, precision) == end


def test_every_message_is_a_sentence():
    bad = facts(
        overall_status="RECRUITING",
        completion_date=date(2025, 1, 1),
        status_confirmed_on=date(2027, 1, 1),
        last_reviewed_on=date(2027, 1, 1),
        sources=[SimpleNamespace(kind="")],
        programme_discontinued_on=date(2025, 3, 1),
        programme_discontinued_on_precision="MONTH",
    )
    found = integrity.problems(bad, TODAY)
    assert len(found) == 6
    for problem in found:
        assert problem.message[0].isupper() and problem.message.endswith(".")
        assert not problem.public or problem.public.endswith(".")
