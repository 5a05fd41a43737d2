"""The public lists' counts cache (trials/facets.py: `cached_counts`, `list_counts`, `refresh_counts`): cached under
the registry's data version until anything a reader could see changes, whatever path the change takes, and counted
again as soon as a change commits, so that the first reader does not wait."""

import datetime
import re

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mechanisms.models import Mechanism
from tests.factories import (
    RegistryIdentifierFactory,
    SourceFactory,
    TrialMechanismFactory,
    UserFactory,
    publishable_trial,
    trial_with,
)
from trials import actions, data_version, facet_index
from trials.facets import DEEPEST_FROM_BEST_MATCHES, listed_ids
from trials.filters import TrialFilter, filtered_trials
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


def test_a_search_s_counts_hold_its_published_matches_by_text_or_identifier_and_never_a_draft(client, trials):
    """A search alone is counted from the index's matches (trials/search.py: matching_ids), drafts among them: the
    facets keep the published ones, as the list does."""
    Trial.objects.filter(brief_title="Echo draft").update(summary="Zanzibar cells.")
    Trial.objects.filter(brief_title="Alpha").update(summary="Zanzibar islets.")
    total, facets = list_counts_seen(client, "?q=zanzibar")
    assert total == 1 and facets["country"] == {"SE": 1} and facets["mechanism"] == {"immune-regulation": 1}
    total, facets = list_counts_seen(client, "?q=NCT0000000")  # part of an identifier: both published trials
    assert total == 2 and facets["phase"] == {Phase.PHASE1: 1, Phase.PHASE3: 1}


def test_cached_counts_follow_publishing_and_unpublishing(client, trials, editor):
    total = list_counts_seen(client)[0]
    actions.unpublish(trial=Trial.objects.get(brief_title="Alpha"), user=editor, reason="Withdrawn by its sponsor.")
    assert list_counts_seen(client)[0] == total - 1
    trial = Trial.objects.get(brief_title="Alpha")
    SourceFactory(trial=trial)  # what publishing needs
    actions.send_to_review(trial=trial, user=editor)
    actions.publish(trial=trial, user=editor)
    assert list_counts_seen(client)[0] == total


# --- Counting on write (refresh_counts): the first reader after a change does not count -------------------

# The queries of a page whose counts are cached but whose HTML is not (the first reader after a change): the data
# version, then the page's own reads. With the counts not cached, the list reads the facet index (10 queries) too.
FIRST_READER_QUERIES = {
    "/trials/": 6,  # version, the page's rows (their ids from the facet index), 4 prefetches
    "/": 6,  # version, recent trials, 4 prefetches
    # version, mechanism, trials' rows (their ids from the facet index), 3 prefetches + links, pathway steps,
    # outcomes + their mechanism links
    "/mechanisms/immune-regulation/": 10,
}


def first_reader(client, url, django_assert_max_num_queries):
    with django_assert_max_num_queries(FIRST_READER_QUERIES[url]):
        response = client.get(url)
    assert response.status_code == 200 and response["X-Page-Cache"] == "miss"
    return response.content.decode()


@pytest.mark.parametrize("url", list(FIRST_READER_QUERIES))
def test_the_first_reader_after_a_save_does_not_count(
    client, url, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # as if committed
        trial = trial_with(identifier="NCT01234567", mechanisms=["immune-regulation"], countries=["SE"])
    client.get(url)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        trial.brief_title = "Saved by a curator"
        trial.save()
        trial.countries.add("FR")
    assert len(callbacks) == 1  # one recount per transaction, however many writes
    first_reader(client, url, django_assert_max_num_queries)


def test_the_first_reader_after_publishing_sees_the_new_counts(
    client, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # as if committed
        trial = publishable_trial(brief_title="Just published")
        editor = UserFactory(role="Editor")
        actions.unpublish(trial=trial, user=editor, reason="Checking the sponsor's results again.")
    before = Trial.objects.published().count()
    client.get("/trials/")
    with django_capture_on_commit_callbacks(execute=True):
        actions.send_to_review(trial=trial, user=editor)
    with django_capture_on_commit_callbacks(execute=True):
        trial.refresh_from_db()
        actions.publish(trial=trial, user=editor)
    page = first_reader(client, "/trials/", django_assert_max_num_queries)
    assert "Just published" in page and f"{before + 1} trial" in page


def test_a_bulk_write_counts_at_once_when_bumped(
    client, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # as if committed
        trial_with(identifier="NCT01234567")
    client.get(reverse("trials:list"))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        Trial.objects.update(brief_title="Changed in bulk")  # no signal: the trigger changes the version
        data_version.bump()  # and counts once it commits
    assert len(callbacks) == 1
    assert "Changed in bulk" in first_reader(client, "/trials/", django_assert_max_num_queries)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_counts_are_ready_when_the_write_commits(client, django_assert_max_num_queries):
    trial = trial_with(identifier="NCT01234567", mechanisms=["immune-regulation"])
    client.get("/trials/")
    trial.brief_title = "Committed for real"
    trial.save()  # autocommit: counted right after
    assert "Committed for real" in first_reader(client, "/trials/", django_assert_max_num_queries)


def test_a_mechanisms_page_shows_the_first_trials_of_its_list_in_the_default_order(client, db):
    """The mechanism's page takes its trials' ids from the facet index's order: the same trials, in the same order,
    as the first page of the list filtered by that mechanism."""
    statuses = [
        OverallStatus.COMPLETED,
        OverallStatus.RECRUITING,
        OverallStatus.ACTIVE_NOT_RECRUITING,
        OverallStatus.NOT_YET_RECRUITING,
        OverallStatus.TERMINATED,
    ]
    for n in range(40):
        trial_with(
            identifier=f"NCT{70000000 + n:08d}",
            mechanisms=["immune-regulation"] if n % 4 else ["angiogenesis"],
            overall_status=statuses[n % len(statuses)],
            status_confirmed_on=datetime.date(2015 + n % 11, 1 + n % 12, 1),  # some too old to be current
            start_date=datetime.date(2010 + n % 7, 6, 1),
            start_date_precision="DAY",
            curation_state=CurationState.PUBLISHED if n % 9 else CurationState.DRAFT,
        )

    def shown(url):
        return list(dict.fromkeys(re.findall(r'href="/trials/(NCT\d{8})/"', client.get(url).content.decode())))

    on_its_page = shown("/mechanisms/immune-regulation/")
    assert len(on_its_page) == 20  # of its 27 published trials (40: 30 of this mechanism, 3 of them drafts)
    assert on_its_page == shown("/trials/?mechanism=immune-regulation&page_size=20")


@pytest.mark.parametrize(
    "query", ["", "status=RECRUITING&status=STALE", "phase=PHASE1&phase=NOT_RECORDED", "sort=active"]
)
def test_a_default_ordered_list_s_pages_from_the_facet_index_are_the_database_s(client, query):
    """In the default order and narrowed by facets alone, a page's trials come from the facet index's order
    (trials/facets.py: listed_ids), not from a query: page after page, the same trials in the same order as the
    database's (trials/filters.py: in_active_order), stale statuses, missing dates and ties included."""
    statuses = [OverallStatus.RECRUITING, OverallStatus.NOT_YET_RECRUITING, OverallStatus.ACTIVE_NOT_RECRUITING]
    statuses += [OverallStatus.COMPLETED, OverallStatus.TERMINATED, ""]
    confirmed = [datetime.date(2026, 9, 1), datetime.date(2023, 1, 5), None, datetime.date(2026, 9, 1)]
    started = [datetime.date(2020, 1, 1), None, datetime.date(2024, 6, 1)]
    for n in range(27):
        trial_with(
            brief_title=f"Trial {n}",
            overall_status=statuses[n % 6],
            status_confirmed_on=confirmed[n % 4],
            status_confirmed_on_precision="DAY" if confirmed[n % 4] else "",
            start_date=started[n % 3],
            start_date_precision="DAY" if started[n % 3] else "",
            phase=[Phase.PHASE1, "", Phase.PHASE2][n % 3],
        )
    trial_with(brief_title="A draft", overall_status=OverallStatus.RECRUITING, curation_state=CurationState.DRAFT)
    for page in (1, 2, 3):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("trials:list") + f"?{query}&page_size=10&page={page}")
        shown = [trial.pk for trial in response.context["trials"]]
        number = response.context["page"].number  # a page past the last shows the last
        _, trials = filtered_trials(QueryDict(query))
        assert shown and shown == list(trials.values_list("pk", flat=True)[(number - 1) * 10 : number * 10]), page
        page_ids = [q for q in queries if "LIMIT" in q["sql"] and '"trials_trial"."id" AS "pk"' in q["sql"]]
        assert page_ids == []  # (the index's own query, when it is built, reads every id in order: no LIMIT)


def searched_pages(client, q, pages, page_size=10):
    """[(the page's trial ids, those of the database's order, whether the best matches were read)] for `pages`."""
    result = []
    for page in pages:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("trials:list"), {"q": q, "page_size": page_size, "page": page})
        number = response.context["page"].number
        _, trials = filtered_trials(QueryDict(f"q={q}"))
        expected = list(trials.values_list("pk", flat=True)[(number - 1) * page_size : number * page_size])
        best = any("WITH TIES" in query["sql"] for query in queries)
        result.append(([trial.pk for trial in response.context["trials"]], expected, best))
    return result


@pytest.mark.django_db
def test_a_search_s_pages_from_its_best_matches_are_the_database_s(client):
    """A search alone, in relevance order: on PostgreSQL a page's trials are the best matches ranked in the search
    entries alone (trials/search.py: best_matches), then ordered among the trials (trials/facets.py: listed_ids).
    Page after page they are those of ordering every match (trials/filters.py: order_trials): equal ranks broken by
    the review date (missing dates last), drafts among the best, a trial whose identifier is the query first, and
    one found by part of an identifier alone last."""
    reviewed = [datetime.date(2026, 9, 1), None, datetime.date(2025, 1, 5)]
    for n in range(24):  # three ranks, each shared by eight trials
        trial_with(brief_title="Islet transplant " + "alpha " * (n % 3), last_reviewed_on=reviewed[n // 3 % 3])
    for _ in range(3):
        trial_with(brief_title="Islet transplant", curation_state=CurationState.DRAFT)
    trial_with(brief_title="Pancreas study", summary="Islet transplant in the liver.", identifier="NCT05550001")
    trial_with(brief_title="Another pancreas study", identifier="NCT05550002")
    for q in ("islet transplant", "NCT05550001", "NCT0555"):
        pages = searched_pages(client, q, [1, 2, 3, 4])
        for shown, expected, best in pages:
            assert shown == expected, q
            assert best == (connection.vendor == "postgresql"), q
        if q == "NCT05550001":
            assert pages[0][0][0] == Trial.objects.get(identifiers__value=q).pk
    deep = TrialFilter(QueryDict("q=islet"), queryset=Trial.objects.published())
    assert deep.is_valid() and listed_ids(deep, DEEPEST_FROM_BEST_MATCHES, 10) is None  # ordered in SQL down there


@pytest.mark.django_db
def test_a_search_with_too_many_drafts_among_its_best_matches_is_ordered_in_full(client):
    """When fewer of the best matches kept than the page needs are published, the page orders every match
    instead, the same trials in the same order."""
    for n in range(25):  # drafts that rank above every published trial: the words together, more often
        trial_with(brief_title="Islet transplant " * (n % 15 + 2), curation_state=CurationState.DRAFT)
    for n in range(30):  # published trials, each ranked lower than the last (the words further apart)
        trial_with(brief_title="Islet " + "alpha " * n + "transplant")
    pages = searched_pages(client, "islet transplant", [1, 2, 3])
    for shown, expected, _ in pages:
        assert shown == expected
    filterset = TrialFilter(QueryDict("q=islet+transplant"), queryset=Trial.objects.published())
    assert filterset.is_valid()
    if connection.vendor == "postgresql":
        assert listed_ids(filterset, 0, 10) is None  # 5 of the best 30 are published: too few for 10


@pytest.mark.parametrize(
    "ids",
    [[], [0], [1], [7, 8, 9], [100_003, 5, 64, 63, 5], list(range(1, 3000, 7)), iter([2, 4, 1 << 17])],
)
def test_a_set_of_keys_holds_each_key_as_one_bit_and_nothing_else(ids):
    ids = list(ids)
    found = facet_index.as_set(iter(ids) if ids else [])  # any iterable, in any order, repeats allowed
    assert found == sum(1 << pk for pk in set(ids))
    assert found.bit_count() == len(set(ids))
