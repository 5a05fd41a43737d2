"""The relevance set (tests/relevance.json): reader queries over the curated trials, each with the trials that must
be in its first 25 results and, for some, trials that must not be in its first 10. Runs on whichever database the
suite runs on (CI runs both)."""

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.http import QueryDict

from trials.filters import filtered_trials

RELEVANCE = json.loads((Path(__file__).parent / "relevance.json").read_text())["queries"]


def ranked(q):
    data = QueryDict(mutable=True)
    data["q"] = q
    _, queryset = filtered_trials(data)
    return list(queryset.values_list("slug", flat=True)[:25])


def misses(queries):
    """[(query, missing from the first 25, unwanted in the first 10)] for each query that fails, and the recall."""
    failures, found, wanted = [], 0, 0
    for query in queries:
        slugs = ranked(query["q"])
        missing = [slug for slug in query["top25"] if slug not in slugs]
        unwanted = [slug for slug in query.get("not_top10", []) if slug in slugs[:10]]
        found, wanted = found + len(query["top25"]) - len(missing), wanted + len(query["top25"])
        if missing or unwanted:
            failures.append((query["q"], missing, unwanted))
    return failures, found / wanted


def test_the_set_has_at_least_40_queries_about_curated_trials():
    slugs = {trial["slug"] for trial in json.loads(Path("trials/data/initial_trials.json").read_text())["trials"]}
    assert len(RELEVANCE) >= 40
    for query in RELEVANCE:
        assert query["top25"] and set(query["top25"]) | set(query.get("not_top10", [])) <= slugs, query["q"]
    assert any(query.get("not_top10") for query in RELEVANCE if "2" in query["q"])  # type 2 not topped by type 1


@pytest.mark.django_db
def test_every_reader_query_finds_its_trials(capsys):
    call_command("load_initial_data", stdout=StringIO())
    failures, recall = misses(RELEVANCE)
    assert failures == [], f"recall {recall:.3f}; failing (query, missing from 25, unwanted in 10): {failures}"
    assert recall == 1.0
