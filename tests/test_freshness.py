"""bench/freshness.py, the load test's measure of how fresh a server's cached pages stay after commits made
elsewhere: it counts as stale exactly the answers that hold the page from before a commit."""

from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test import override_settings

from bench import freshness
from tests.factories import trial_with
from trials import data_version, version_watch

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def database_url():
    settings = connection.settings_dict
    return f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT'] or 5432}/{settings['NAME']}"


def run_probe(live_server):
    trial_with(identifier="NCT01234567")
    port = urlsplit(live_server.url).port
    return freshness.probe(database_url(), port, path="/about/", rounds=2, polls=3, pause=0)


def test_a_server_that_reads_the_version_per_request_is_never_stale(live_server):
    result = run_probe(live_server)
    assert result["answers"] == 6 and result["stale"] == 0 and result["latest_stale_ms"] is None


def test_a_server_that_never_learns_of_the_commits_is_stale_every_time(live_server):
    watcher = version_watch.watcher
    with override_settings(DATA_VERSION_LISTEN=True):
        watcher.pid = version_watch.os.getpid()  # as if listening, with no thread to be told of anything
        watcher.listening, watcher.read_at = True, version_watch.time.monotonic()
        watcher.keep(data_version.current(), watcher.generation)
        try:
            result = run_probe(live_server)
        finally:
            watcher.listening, watcher.pid = False, None
            watcher.forget()
    assert result["answers"] == 6 and result["stale"] == 6 and result["latest_stale_ms"] >= 0
    assert "6 of the 6 answers" in freshness.describe(result)
