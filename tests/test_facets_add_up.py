"""Every facet's counts add up to the list's total (trials/facets.py), on the curated trials: each single-valued
facet's options, "not recorded" included, sum to it; a multi-valued facet (a trial may have several routes)
counts every trial at least once, and its "not recorded" plus the trials with a value make the total."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.http import QueryDict

from trials.facets import counted_facets, facet_counts
from trials.filters import filtered_trials
from trials.models import Trial
from trials.status import NOT_RECORDED

MULTI_VALUED = {"mechanism", "diabetes_type", "route", "country"}


@pytest.fixture
def curated():
    call_command("load_initial_data", stdout=StringIO())


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["", "q=islet", "q=type 2", "status=COMPLETED", "started_after=2015-01-01"])
def test_every_facet_adds_up_to_the_total(curated, query):
    filterset, trials = filtered_trials(QueryDict(query))
    total = trials.count()
    assert total
    for facet in facet_counts(filterset):
        if facet["name"] in filterset.data:
            continue  # a facet's own options are counted without its own filter (as faceted search does)
        counts = {option["value"]: option["count"] for option in facet["options"]}
        if facet["name"] in MULTI_VALUED:
            without_value = counts.get(NOT_RECORDED, 0)
            relation = {"mechanism": "mechanism_links", "diabetes_type": "diabetes_types"}.get(
                facet["name"], facet["name"] + "s" if facet["name"] != "country" else "countries"
            )
            with_value = trials.filter(**{f"{relation}__isnull": False}).distinct().count()
            assert without_value + with_value == total, facet["name"]
            assert sum(counts.values()) >= total, facet["name"]
        else:
            assert sum(counts.values()) == total, facet["name"]


@pytest.mark.django_db
def test_not_recorded_finds_the_trials_with_no_value(curated):
    published = Trial.objects.published()
    cases = {
        "phase": published.filter(phase=""),
        "sponsor_class": published.filter(sponsor_class=""),
        "cell_source": published.filter(cell_source=""),
        "route": published.filter(routes__isnull=True),
        "country": published.filter(countries__isnull=True),
    }
    for name, expected in cases.items():
        _, trials = filtered_trials(QueryDict(f"{name}={NOT_RECORDED}"))
        assert set(trials.values_list("pk", flat=True)) == set(expected.values_list("pk", flat=True)), name
    _, trials = filtered_trials(QueryDict(f"country={NOT_RECORDED}&country=SE"))
    assert trials.count() == published.filter(countries__isnull=True).count() + 4


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "",
        "q=islet",
        "mechanism=immune-regulation&country=US",
        "status=COMPLETED&status=RECRUITING&phase=PHASE1",
        f"country={NOT_RECORDED}&diabetes_type=T1D&started_after=2012-01-01",
        "route=INTRAVENOUS&route=INTRAPANCREATIC&cell_source=MSC_UC",
    ],
)
def test_every_option_counts_the_trials_its_link_would_list(curated, query):
    """The facet index (trials/facet_index.py) counts as the SQL filters filter: each option's count is the number
    of trials the list holds once that option alone is chosen for its facet, the other parameters kept."""
    filterset, trials = filtered_trials(QueryDict(query))
    facets, total = counted_facets(filterset)
    assert total == trials.count()
    checked = 0
    for facet in facets:
        for option in facet["options"]:
            data = QueryDict(query, mutable=True)
            data.setlist(facet["name"], [option["value"]])
            assert filtered_trials(data)[1].count() == option["count"], (facet["name"], option["value"])
            checked += 1
    assert checked > 20


@pytest.mark.django_db
def test_counting_a_new_combination_reads_no_trial(curated, django_assert_num_queries):
    """Once the index is counted (on write), the counts of any combination of facets cost no query: one more when
    the search or the dates narrow the list (the trials they keep)."""
    counted_facets(filtered_trials(QueryDict(""))[0])  # counts the index, as a write's refresh does
    filterset = filtered_trials(QueryDict("mechanism=angiogenesis&phase=PHASE2&country=CN"))[0]
    with django_assert_num_queries(1):  # the data version (a page's request has read it already)
        counted_facets(filterset)
    filterset = filtered_trials(QueryDict("q=islet&status=COMPLETED"))[0]
    # On PostgreSQL the search's matches are read in a transaction (here a savepoint) that sets, then resets,
    # enable_seqscan (trials/search.py: index_scans): four statements more.
    with django_assert_num_queries(2 + (4 if connection.vendor == "postgresql" else 0)):
        counted_facets(filterset)
