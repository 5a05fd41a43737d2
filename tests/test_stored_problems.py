"""Stored integrity problems (trials/stored_problems.py): after every kind of write they equal the rules run afresh,
they stay true as days pass, the admin's filter and counts and the start page read them in a fixed number of
queries."""

import datetime
import random
from types import SimpleNamespace

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import (
    PublicationFactory,
    SourceFactory,
    TrialFactory,
    UserFactory,
    publishable_trial,
)
from tests.test_admin import change_url, form_data, post_change, signed_in
from tests.test_ctgov import changed_record, import_studies, study
from trials import actions, integrity, stored_problems
from trials.actions.versions import restore_version
from trials.models import Outcome, Source, Trial, TrialProblem
from trials.queue import problem_counts
from trials.versions import versions

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 11, 24)


@pytest.fixture(autouse=True)
def frozen_today():
    with time_machine.travel(datetime.datetime(2026, 11, 24, 12, 0, tzinfo=datetime.UTC), tick=False):
        yield


def recomputed(today=TODAY):
    """{(trial id, rule)} the rules find now, over every trial."""
    trials = Trial.objects.prefetch_related(*integrity.PREFETCH)
    return {(t.pk, p.rule) for t in trials for p in integrity.problems(integrity.facts_of(t), today)}


def stored(today=TODAY):
    """{(trial id, rule)} stored and holding `today`, read as they are (no recheck first)."""
    return set(TrialProblem.objects.holding_on(today).values_list("trial_id", "rule"))


def assert_in_step():
    assert stored() == recomputed()


def outcome_of(trial):
    return Outcome.objects.create(trial=trial, measure="SAFETY", result="No serious adverse events")


def committed(django_capture_on_commit_callbacks, write):
    """Run `write` and the callbacks its commit runs (the recheck among them)."""
    with django_capture_on_commit_callbacks(execute=True):
        return write()


# --- The rules' days --------------------------------------------------------------------------


def random_facts(rng):
    day = lambda: rng.choice([None, datetime.date(2026, 11, rng.randint(20, 28)), datetime.date(2026, 1, 1)])  # noqa: E731
    return SimpleNamespace(
        overall_status=rng.choice(["", "RECRUITING", "NOT_YET_RECRUITING", "COMPLETED", "TERMINATED"]),
        status_confirmed_on=day(),
        start_date=day(),
        start_date_precision=rng.choice(["DAY", "MONTH", "YEAR"]),
        completion_date=day(),
        completion_date_precision=rng.choice(["DAY", "MONTH", "YEAR"]),
        last_reviewed_on=day(),
        key_results=rng.choice(["", "Ten of twelve."]),
        why_stopped="",
        programme_discontinued_on=None,
        programme_discontinued_on_precision="",
        sources=[SimpleNamespace(kind=rng.choice(["REGISTRY", "NEWS", ""])) for _ in range(rng.randint(0, 2))],
        publications=[SimpleNamespace(kind="RESULTS")] * rng.randint(0, 1),
        outcomes=[],
    )


def test_dated_problems_hold_on_exactly_the_days_the_rules_find_them():
    rng = random.Random(17)
    days = [datetime.date(2026, 11, 18) + datetime.timedelta(days=n) for n in range(15)] + [datetime.date(2027, 2, 1)]
    for _ in range(300):
        facts = random_facts(rng)
        dated = integrity.dated_problems(facts, TODAY)
        for day in days:
            assert {p.rule for p in dated if p.holds_on(day)} == {p.rule for p in integrity.problems(facts, day)}


# --- After each kind of write -------------------------------------------------------------------


def test_a_trial_saved_on_its_own_is_rechecked_at_once():
    trial = publishable_trial()
    stored_problems.recheck_pending()
    assert_in_step()
    assert not stored()
    trial.overall_status, trial.completion_date = "RECRUITING", datetime.date(2025, 1, 1)
    trial.completion_date_precision = "DAY"
    trial.save()
    stored_problems.recheck_pending()  # what a read in the same transaction does
    assert stored() == {(trial.pk, "active_after_completion")}


def test_admin_field_save_inline_rows_and_a_source_deleted_on_its_own_page(
    client, curator, editor, django_capture_on_commit_callbacks
):
    trial = committed(django_capture_on_commit_callbacks, lambda: publishable_trial(curation_state="DRAFT"))
    assert_in_step()
    signed_in(client, curator)
    # A field saved: a stopped trial without its reason.
    response = committed(
        django_capture_on_commit_callbacks, lambda: post_change(client, trial, overall_status="TERMINATED")
    )
    assert response.status_code == 302
    assert_in_step()
    assert (trial.pk, "stopped_without_reason") in stored()
    # An inline row added: a results publication beside empty key results.
    data = form_data(client.get(change_url(trial)))
    data.update(
        {
            "publications-TOTAL_FORMS": int(data["publications-TOTAL_FORMS"]) + 1,
            "publications-0-kind": "RESULTS",
            "publications-0-citation": "Results 2026",
            "publications-0-url": "https://example.org/results",
        }
    )
    response = committed(django_capture_on_commit_callbacks, lambda: client.post(change_url(trial), data))
    assert response.status_code == 302, response.context["errors"] if response.context else response
    assert_in_step()
    assert (trial.pk, "no_results_with_results") in stored()
    # The same row deleted inline.
    data = form_data(client.get(change_url(trial)))
    data["publications-0-DELETE"] = "on"
    response = committed(django_capture_on_commit_callbacks, lambda: client.post(change_url(trial), data))
    assert response.status_code == 302
    assert_in_step()
    assert (trial.pk, "no_results_with_results") not in stored()
    # The only source deleted on its own page (an editor may): the record rests on nothing.
    source = trial.sources.get()
    signed_in(client, editor)
    url = reverse("admin:trials_source_delete", args=[source.pk])
    response = committed(django_capture_on_commit_callbacks, lambda: client.post(url, {"post": "yes"}))
    assert response.status_code == 302
    assert not Source.objects.filter(pk=source.pk).exists()
    assert_in_step()
    assert (trial.pk, "no_evidence_source") in stored()


def test_rows_written_by_factories_and_deleted_on_their_own(django_capture_on_commit_callbacks):
    trial = committed(django_capture_on_commit_callbacks, lambda: TrialFactory(key_results=""))
    assert stored() == {(trial.pk, "no_evidence_source")}
    outcome = committed(django_capture_on_commit_callbacks, lambda: outcome_of(trial))
    committed(django_capture_on_commit_callbacks, lambda: SourceFactory(trial=trial, kind=""))
    assert_in_step()
    assert stored() == {
        (trial.pk, rule) for rule in ("no_evidence_source", "no_results_with_results", "source_without_kind")
    }
    committed(django_capture_on_commit_callbacks, outcome.delete)
    committed(django_capture_on_commit_callbacks, lambda: PublicationFactory(trial=trial, kind="BACKGROUND"))
    assert_in_step()
    assert stored() == {(trial.pk, "source_without_kind")}
    committed(django_capture_on_commit_callbacks, trial.delete)
    assert not TrialProblem.objects.exists()


def test_an_accepted_registry_update(django_capture_on_commit_callbacks):
    (trial,) = committed(django_capture_on_commit_callbacks, lambda: import_studies(study("NCT03475563")).created)
    assert_in_step()
    (update,) = committed(django_capture_on_commit_callbacks, lambda: import_studies(changed_record()).updates)
    editor = UserFactory(role="Editor")
    committed(
        django_capture_on_commit_callbacks,
        lambda: actions.resolve_registry_update(
            update=update, accept=["overall_status", "completion_date", "status_confirmed_on"], user=editor
        ),
    )
    trial.refresh_from_db()
    assert trial.overall_status == "COMPLETED"
    assert_in_step()


def test_a_restored_version(editor, django_capture_on_commit_callbacks):
    trial = committed(django_capture_on_commit_callbacks, lambda: publishable_trial(curation_state="DRAFT"))
    committed(django_capture_on_commit_callbacks, lambda: SourceFactory(trial=trial, kind=""))
    assert (trial.pk, "source_without_kind") in stored()
    number = len(versions(trial.pk)) - 1  # before the source without a kind
    committed(django_capture_on_commit_callbacks, lambda: restore_version(trial=trial, number=number, user=editor))
    assert trial.sources.count() == 1
    assert_in_step()
    assert (trial.pk, "source_without_kind") not in stored()


def test_load_initial_data_and_a_migration_s_fill(django_capture_on_commit_callbacks):
    committed(django_capture_on_commit_callbacks, lambda: call_command("load_initial_data", stdout=None))
    assert Trial.objects.count() == 72
    assert_in_step()
    assert stored()  # the curated data has its problems
    TrialProblem.objects.all().delete()
    stored_problems.recheck_all(Trial, TrialProblem)  # what migration 0015 runs, with its own models
    assert_in_step()


def test_synthetic_trials_written_in_bulk(django_capture_on_commit_callbacks):
    committed(django_capture_on_commit_callbacks, lambda: call_command("make_synthetic_trials", "30", stdout=None))
    assert Trial.objects.count() == 30
    assert_in_step()
    assert len({trial_id for trial_id, _rule in stored()}) >= 1


# --- Days passing -------------------------------------------------------------------------------


def test_problems_that_depend_on_the_day_come_and_go_without_a_write(django_capture_on_commit_callbacks):
    ending = committed(
        django_capture_on_commit_callbacks,
        lambda: publishable_trial(
            overall_status="RECRUITING", completion_date=datetime.date(2026, 11, 30), completion_date_precision="DAY"
        ),
    )
    reviewed_ahead = committed(
        django_capture_on_commit_callbacks, lambda: publishable_trial(last_reviewed_on=datetime.date(2026, 11, 26))
    )
    assert stored() == recomputed() == {(reviewed_ahead.pk, "reviewed_in_future")}
    later = datetime.date(2026, 12, 1)
    assert stored(later) == recomputed(later) == {(ending.pk, "active_after_completion")}


# --- The filter, its counts, the start page -----------------------------------------------------


def varied_trials():
    publishable_trial()
    publishable_trial(overall_status="TERMINATED")
    publishable_trial(
        overall_status="RECRUITING", completion_date=datetime.date(2025, 3, 1), completion_date_precision="MONTH"
    )
    publishable_trial(last_reviewed_on=datetime.date(2026, 12, 24), overall_status="NOT_YET_RECRUITING")
    TrialFactory(key_results="")
    trial = TrialFactory(key_results="")
    SourceFactory(trial=trial, kind="")
    outcome_of(trial)


def test_the_filter_and_its_counts_give_the_trials_the_rules_find(client, curator):
    varied_trials()
    live = recomputed()
    blocking = {
        t.pk
        for t in Trial.objects.prefetch_related(*integrity.PREFETCH)
        if integrity.blocking_problems(integrity.facts_of(t), TODAY)
    }
    expected = {"any": {pk for pk, _rule in live}, "blocking": blocking}
    expected.update({rule.name: {pk for pk, name in live if name == rule.name} for rule in integrity.RULES})
    signed_in(client, curator)
    url = reverse("admin:trials_trial_changelist")
    page = client.get(url, {"_facets": "True"})
    problem_filter = next(
        spec for spec in page.context["cl"].filter_specs if getattr(spec, "parameter_name", None) == "problem"
    )
    for lookup, shown in expected.items():
        response = client.get(url, {"problem": lookup})
        assert {trial.pk for trial in response.context["cl"].result_list} == shown, lookup
    facets = {
        choice["query_string"].split("problem=")[1].split("&")[0]: choice["display"]
        for choice in problem_filter.choices(page.context["cl"])
        if "problem=" in choice["query_string"]
    }
    for lookup, shown in expected.items():
        assert facets[lookup].endswith(f"({len(shown)})"), (lookup, facets[lookup])
    assert problem_counts(TODAY) == (len(expected["any"]), len(expected["blocking"]))
    assert expected["blocking"] and expected["any"] > expected["blocking"]


def count_queries(client, url, params=None):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, params or {}).status_code == 200
    return len(queries)


def test_the_admin_list_with_facets_and_the_start_page_run_a_fixed_number_of_queries(
    client, editor, django_assert_max_num_queries
):
    signed_in(client, editor)
    lists = reverse("admin:trials_trial_changelist")
    pages = [(lists, {}), (lists, {"_facets": "True"}), (lists, {"problem": "any", "_facets": "True"})]
    counts = []
    for size in (3, 60):
        while Trial.objects.count() < size:
            varied_trials()
        for url, params in pages:
            count_queries(client, url, params)  # the pending recheck, the content types' cache
        counts.append(
            [count_queries(client, url, params) for url, params in pages]
            + [count_queries(client, reverse("admin:index"))]
        )
        with CaptureQueriesContext(connection) as queries:
            problem_counts(TODAY)
        assert len(queries) == 1
    assert counts[0] == counts[1], counts
    with django_assert_max_num_queries(30):
        client.get(lists, {"_facets": "True"})
