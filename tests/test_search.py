"""Search (trials/search.py, trials/synonyms.py, trials/search_index.py): the query's groups, and the index kept in
step with every table that feeds it, on both databases."""

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from tests.factories import PublicationFactory, RegistryIdentifierFactory, TrialFactory, TrialMechanismFactory
from trials.filters import filtered_trials
from trials.models import Country, Site, Trial
from trials.search import fts5_match, index_scans, matching_entries, parse


def found(q):
    data = QueryDict(mutable=True)
    data["q"] = q
    return list(filtered_trials(data)[1].values_list("brief_title", flat=True))


def test_synonyms_expand_both_ways():
    assert parse("MSC").groups == parse("mesenchymal").groups
    assert ("mesenchymal",) in parse("msc").groups[0] and ("msc",) in parse("Mesenchymal").groups[0]
    assert parse("T2D").groups == parse("type 2 diabetes").groups == parse("type II diabetes").groups
    assert parse("HSCT").groups == parse("haematopoietic stem cell transplantation").groups
    assert ("hematopoietic",) in parse("haematopoietic").groups[0]


def test_product_codes_with_or_without_dash_or_space():
    assert parse("vx880").groups == parse("VX 880").groups == parse("VX-880").groups == [[("vx", "880"), ("vx880",)]]


def test_stop_words_quotes_exclusions_and_or():
    query = parse('the islets -device "cord blood" or teeth')
    assert query.groups == [[("islets",)], [("cord", "blood"), ("teeth",)]]
    assert query.excluded == [("device",)]
    assert fts5_match(query) == '(("islets") AND ("cord blood" OR "teeth")) NOT ("device")'


@pytest.mark.django_db
def test_the_index_follows_every_table_that_feeds_it():
    trial = TrialFactory(brief_title="Cells", summary="Nothing yet.")
    assert found("liraglutide") == []
    trial.summary = "With liraglutide."
    trial.save()
    assert found("liraglutide") == ["Cells"]

    sweden = Country.objects.get_or_create(code="SE", defaults={"name": "Sweden"})[0]
    site = Site.objects.create(trial=trial, facility="Akademiska sjukhuset", city="Uppsala", country=sweden)
    assert found("uppsala") == found("akademiska") == ["Cells"]
    trial.countries.add(sweden)
    assert found("sweden") == ["Cells"]
    Country.objects.filter(code="SE").update(name="Konungariket Sverige")
    assert found("sverige") == ["Cells"] and found("sweden") == []
    site.delete()
    assert found("uppsala") == []

    TrialMechanismFactory(trial=trial, rationale="Paracrine signals from the stroma.")
    assert found("paracrine") == ["Cells"]
    PublicationFactory(trial=trial, citation="Doe J. Omentum pouches. Cell Rep 2024")
    assert found("omentum pouches") == ["Cells"]
    identifier = RegistryIdentifierFactory(trial=trial, value="NCT01234567")
    assert found("NCT01234567") == ["Cells"]
    identifier.delete()
    assert found("NCT01234567") == []
    trial.delete()
    assert found("liraglutide") == []


@pytest.mark.django_db
def test_drafts_are_indexed_but_never_found():
    TrialFactory(brief_title="Secret draft", summary="Zanzibar", curation_state="DRAFT")
    assert found("zanzibar") == []


@pytest.mark.django_db
@pytest.mark.sqlite  # SQLite's FTS5 table
def test_sqlite_reads_the_index_by_match_alone_never_trial_by_trial():
    """The relevance order's plan: each read of the FTS5 table is one MATCH over the index (the filter's list and the
    ranking, each run once), never a MATCH for one trial's rowid, as a per-trial bm25 subquery was (1.3 s for a
    search of 2,000 trials)."""
    TrialFactory(brief_title="Islet cells", summary="Pancreatic islets.")
    _, queryset = filtered_trials(QueryDict("q=pancreatic islet"))
    sql, params = queryset.values_list("pk", flat=True).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = [row[-1] for row in cursor.fetchall()]
    reads = [step for step in plan if "trial_search VIRTUAL TABLE INDEX" in step]
    assert len(reads) == 2, plan
    assert not [step for step in reads if "=" in step.rsplit(" ", 1)[1]], plan  # "0:M3", not "0:=M3" (rowid = ?)
    assert list(queryset.values_list("brief_title", flat=True)) == ["Islet cells"]


@pytest.mark.django_db
@pytest.mark.postgres  # PostgreSQL's search entries
def test_postgresql_matches_through_the_entries_and_ranks_by_their_headings():
    """The search reads the narrow entries' table (trials/models/search.py), never the trial's wide row: the match
    through the document's GIN index, the ranking from the heading, kept in the row while the document is kept out
    of line (read only for the trials an identifier found)."""
    TrialFactory(brief_title="Islet cells", summary="Pancreatic islets.")
    _, queryset = filtered_trials(QueryDict("q=pancreatic islet"))
    sql = str(queryset.query)
    assert '"trial_search_entry"."document" @@' in sql
    assert sql.count("ts_rank(") == 2 and sql.count('"trial_search_entry"."heading", ') == 2
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, attstorage FROM pg_attribute WHERE attrelid = 'trial_search_entry'::regclass "
            "AND attname IN ('heading', 'document')"
        )
        assert dict(cursor.fetchall()) == {"heading": "m", "document": "e"}  # main: in the row; external: out
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'trial_search_entry'")
        assert cursor.fetchone()[0] == ["toast_tuple_target=512"]
    assert list(queryset.values_list("brief_title", flat=True)) == ["Islet cells"]


@pytest.mark.django_db
@pytest.mark.postgres  # PostgreSQL's search entries
def test_postgresql_rewrites_an_entry_only_when_its_text_changes_and_removes_it_with_its_trial():
    def entry_version(trial):  # xmin: the transaction that last wrote the row
        with connection.cursor() as cursor:
            cursor.execute("SELECT xmin::text FROM trial_search_entry WHERE trial_id = %s", [trial.pk])
            row = cursor.fetchone()
        return row and row[0]

    trial = TrialFactory(brief_title="Islet cells")
    written = entry_version(trial)
    assert written
    with transaction.atomic():
        Trial.objects.filter(pk=trial.pk).update(curator_notes="Checked again.")  # no searchable text changed
    assert entry_version(trial) == written
    with transaction.atomic():
        Trial.objects.filter(pk=trial.pk).update(brief_title="Beta cells")
    assert entry_version(trial) != written and found("beta") == ["Beta cells"] and found("islet") == []
    pk = trial.pk
    trial.delete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM trial_search_entry WHERE trial_id = %s", [pk])
        assert cursor.fetchone()[0] == 0


@pytest.mark.django_db
@pytest.mark.postgres  # PostgreSQL's search entries
def test_postgresql_finds_a_broad_search_s_matches_through_the_index_never_by_reading_every_document(client):
    """A search that matches (nearly) every trial: left to itself, PostgreSQL scans the whole entries' table and tests
    every document, kept out of line; within `index_scans`, the GIN index finds them (trials/search.py). The list's
    statements that read the matches run within it, and a caller's transaction goes on with its own settings."""
    for number in range(30):
        TrialFactory(brief_title=f"Stem cells {number}", summary="Stem cells for diabetes.", phase="PHASE1")
    query = parse("stem cells")
    sql, params = matching_entries("stem cells", query, "default").values("pk").query.sql_with_params()

    def plan():
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + sql, params)
            return "\n".join(row[0] for row in cursor.fetchall())

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE trial_search_entry")  # statistics that say every entry matches, whatever ran before
        # A planner that prefers to scan the table, as PostgreSQL does for a large table that nearly every entry of
        # matches: here the table is small, but its size on disk depends on the tests that ran before.
        cursor.execute("SET LOCAL seq_page_cost = 0.01")
        cursor.execute("SET LOCAL random_page_cost = 1000")
    assert "Seq Scan on trial_search_entry" in plan()  # the premise of this test
    with transaction.atomic():
        with index_scans("default"):
            indexed = plan()
        with connection.cursor() as cursor:
            cursor.execute("SHOW enable_seqscan")
            assert cursor.fetchone()[0] == "on"
    assert "Seq Scan on trial_search_entry" not in indexed and "Bitmap Index Scan on" in indexed, indexed

    # A page's: the matches for the facets, and the page's ids (its best matches, or the whole filtered list's
    # order). The API's: its count, then its page.
    urls = {"/trials/?q=stem+cells": 2, "/trials/?q=stem+cells&phase=PHASE1": 2, "/trials/?q=stem+cells&sort=title": 2}
    urls["/api/v1/trials/?q=stem+cells"] = 1
    for url, expected in urls.items():
        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        statements = [query["sql"] for query in queries.captured_queries]
        within = [statements[i + 1] for i, sql in enumerate(statements) if sql == "SET LOCAL enable_seqscan = off"]
        assert len(within) == expected, (url, statements)
        assert all('"trial_search_entry"."document" @@' in sql for sql in within), (url, within)
