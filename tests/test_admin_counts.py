"""The admin trial list's counts (`?_facets=True`): each filter's counts are the rows its links list, with other filters
in use too; a fixed number of queries whatever the number of trials; and the rows drawn as Django draws them."""

import datetime
import re
from urllib.parse import urlencode

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import SourceFactory, TrialFactory, publishable_trial, trial_with
from tests.test_admin import signed_in
from trials import stored_problems
from trials.models import Trial, TrialProblem
from trials.vocabularies import CurationState, OverallStatus

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]

DRAFT, REVIEW, PUBLISHED = CurationState.DRAFT, CurationState.REVIEW, CurationState.PUBLISHED
LIST = "admin:trials_trial_changelist"


def varied_trials():
    """Trials in every curation state, several statuses, phases, cell sources, mechanisms and diabetes types, stale
    and fresh, with and without integrity problems (blocking or not)."""
    old = datetime.date(2020, 1, 1)
    trial_with(mechanisms=["angiogenesis"], diabetes_types=["T1D"], curation_state=DRAFT, cell_source="ESC")
    trial_with(
        mechanisms=["angiogenesis", "immune-regulation"],
        diabetes_types=["T1D", "T2D"],
        curation_state=REVIEW,
        overall_status=OverallStatus.RECRUITING,
        status_confirmed_on=old,
        phase="PHASE2",
    )
    trial_with(diabetes_types=["T2D"], curation_state=PUBLISHED, last_reviewed_on=None, cell_source="IPSC")
    trial_with(
        mechanisms=["immune-regulation"],
        curation_state=DRAFT,
        overall_status=OverallStatus.RECRUITING,
        status_confirmed_on=datetime.date(2026, 11, 1),
        last_reviewed_on=old,
        phase="",
    )
    publishable_trial(overall_status="TERMINATED", curation_state=REVIEW)  # no reason why it stopped: a problem
    publishable_trial(overall_status="", curation_state=PUBLISHED)
    trial = TrialFactory(key_results="", curation_state=DRAFT, overall_status=OverallStatus.ACTIVE_NOT_RECRUITING)
    SourceFactory(trial=trial, kind="")
    stored_problems.recheck_pending()  # what their commit does (trials/stored_problems.py)


def counted_choices(response):
    """[(filter title, choice's query string, its count)] for every choice with a count on the list's page."""
    changelist = response.context["cl"]
    shown = []
    for spec in changelist.filter_specs:
        for choice in spec.choices(changelist):
            count = re.search(r"\((\d+)\)$", str(choice["display"]))
            if count:
                shown.append((spec.title, choice["query_string"], int(count.group(1))))
    return shown


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"curation_state__exact": DRAFT},
        {"mechanism": "angiogenesis"},
        {"stale": "any", "diabetes_type": "T1D"},
        {"problem": "any", "phase__exact": "PHASE1_PHASE2"},
        {"q": "study 1"},
    ],
)
def test_each_count_is_the_number_of_trials_its_link_lists(client, curator, params):
    varied_trials()
    signed_in(client, curator)
    url = reverse(LIST)
    page = client.get(url, {**params, "_facets": "True"})
    shown = counted_choices(page)
    titles = {title for title, _query, _count in shown}
    assert titles == {
        "curation state",
        "overall status",
        "phase",
        "mechanism",
        "diabetes type",
        "cell source",
        "staleness",
        "problem",
    }
    assert any(count for _title, _query, count in shown)  # something to count, so that a count can be wrong
    for title, query, count in shown:
        listed = client.get(url + query).context["cl"]
        assert listed.result_count == count, (title, query)
        assert len(listed.result_list) == count  # one page: no trial listed twice


def test_counts_cover_every_curation_state(client, curator):
    varied_trials()
    signed_in(client, curator)
    shown = {query: count for title, query, count in counted_choices(client.get(reverse(LIST), {"_facets": "True"}))}
    states = {state: shown[f"?_facets=True&curation_state__exact={state}"] for state in (DRAFT, REVIEW, PUBLISHED)}
    assert states == {state: Trial.objects.filter(curation_state=state).count() for state in states}
    assert TrialProblem.objects.filter(trial__curation_state=DRAFT).exists()  # problems counted beyond published


def count_queries(client, params):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse(LIST), params).status_code == 200
    return len(queries)


# The session, its user, the user's permissions (two), the mechanisms (once a request), the page's rows and their
# problems, the two totals; with
# the counts: one query for the field and staleness filters not in use, one per filter through linked rows
# (mechanism, diabetes type, problem), and one per field or staleness filter in use.
@pytest.mark.parametrize(
    ("params", "expected"),
    [({}, 9), ({"_facets": "True"}, 13), ({"_facets": "True", "stale": "any", "curation_state__exact": DRAFT}, 15)],
)
def test_the_list_runs_a_fixed_number_of_queries_whatever_the_number_of_trials(client, editor, params, expected):
    signed_in(client, editor)
    counts = []
    for size in (7, 40):
        while Trial.objects.count() < size:
            varied_trials()
        count_queries(client, params)  # the content types' cache
        counts.append(count_queries(client, params))
    assert counts == [expected, expected]


def test_row_checkbox_is_djangos():
    trial = TrialFactory(brief_title='Cells & "islets" <one>')
    model_admin = admin.site.get_model_admin(Trial)
    assert model_admin.action_checkbox(trial) == admin.ModelAdmin.action_checkbox(model_admin, trial)


def test_row_links_carry_the_lists_filters(client, curator):
    trial = TrialFactory(curation_state=DRAFT)
    signed_in(client, curator)
    params = {"curation_state__exact": DRAFT, "_facets": "True"}
    page = client.get(reverse(LIST), params).content.decode()
    change = reverse("admin:trials_trial_change", args=[trial.pk])
    link = f"{change}?{urlencode({'_changelist_filters': urlencode(params)})}"
    assert page.count(f'href="{link.replace("&", "&amp;")}"') == 2  # the identifier's and the title's
    plain = client.get(reverse(LIST)).content.decode()
    assert plain.count(f'href="{change}"') == 2


@pytest.mark.parametrize(("length", "shown"), [(70, "x" * 70), (71, "x" * 69 + "…")])
def test_title_column_cuts_long_titles(client, curator, length, shown):
    TrialFactory(brief_title="x" * length)
    page = signed_in(client, curator).get(reverse(LIST)).content.decode()
    assert f">{shown}</a>" in page
