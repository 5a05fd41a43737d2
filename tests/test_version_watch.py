"""The data version kept in memory on PostgreSQL (trials/version_watch.py): a cached page needs no query, and no
page outlives the notification of a commit, whoever made it; without its connection, a process asks the database."""

import time

import psycopg
import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from tests.factories import trial_with
from trials import data_version, version_watch
from trials.models import Trial

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def wait_for(condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.005)


@pytest.fixture
def watcher():
    """The process's watcher, listening, with a heartbeat longer than any test: what it learns, it learns from
    notifications."""
    watch = version_watch.watcher
    watch.heartbeat = 60
    with override_settings(DATA_VERSION_LISTEN=True):
        watch.start()
        wait_for(lambda: watch.listening and watch.version is not None)
        yield watch
        watch.stop()
    del watch.heartbeat


def another_session():
    """A session of its own on the test database, as another process or host would have."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None), params.pop("context", None)
    return psycopg.connect(**params, autocommit=True)


def test_the_bump_notifies_listeners_when_its_transaction_commits_and_never_when_it_rolls_back(db):
    trial = trial_with(identifier="NCT01234567")
    with another_session() as listener:
        listener.execute(f"LISTEN {data_version.NOTIFY_CHANNEL}")
        with pytest.raises(RuntimeError), transaction.atomic():
            Trial.objects.filter(pk=trial.pk).update(brief_title="Never committed")
            raise RuntimeError
        assert list(listener.notifies(timeout=0.3, stop_after=1)) == []
        with transaction.atomic():
            Trial.objects.filter(pk=trial.pk).update(brief_title="First")
            Trial.objects.filter(pk=trial.pk).update(brief_title="Second")
        notified = list(listener.notifies(timeout=2, stop_after=2))
        assert [n.channel for n in notified] == [data_version.NOTIFY_CHANNEL]  # one for the transaction


def test_a_listening_process_knows_the_version_without_a_query(watcher):
    with CaptureQueriesContext(connection) as captured:
        known = version_watch.current()
    assert captured.captured_queries == []
    assert known == data_version.current()


def test_another_sessions_commit_reaches_the_process_at_once(watcher):
    before = version_watch.current()
    with another_session() as writer:
        writer.execute(f"SELECT {data_version.BUMP_FUNCTION}()")
        committed = time.monotonic()
    wait_for(lambda: version_watch.current() != before, seconds=2)
    elapsed = time.monotonic() - committed
    assert version_watch.current() == data_version.current()
    assert elapsed < 1, elapsed  # a notification's delay, not the heartbeat's


def test_the_processs_own_commit_is_seen_by_its_next_request_before_any_notification(watcher):
    trial = trial_with(identifier="NCT01234567")
    watcher.stop()  # nothing will be notified: only the writer's own forgetting can change what it knows
    watcher.pid = version_watch.os.getpid()  # as if still running, without a thread
    watcher.listening, watcher.read_at = True, version_watch.time.monotonic()
    watcher.keep(data_version.current(), watcher.generation)
    before = version_watch.current()
    trial.brief_title = "Changed"
    trial.save()  # its commit's refresh (trials/data_version.py) forgets the version
    assert version_watch.current() != before
    assert version_watch.current() == data_version.current()
    watcher.listening = False


def test_a_thread_that_stopped_reading_is_not_trusted_past_two_heartbeats(watcher):
    with another_session() as writer:
        writer.execute(f"SELECT {data_version.BUMP_FUNCTION}()")
        wait_for(lambda: watcher.version == data_version.current(), seconds=2)
    watcher.read_at -= 2 * watcher.heartbeat + 1  # as if its connection had hung since
    with CaptureQueriesContext(connection) as captured:
        known = version_watch.current()
    assert len(captured.captured_queries) == 1 and known == data_version.current()


def test_inside_a_transaction_the_version_is_read_from_the_database(watcher):
    trial = trial_with(identifier="NCT01234567")
    with transaction.atomic():
        Trial.objects.filter(pk=trial.pk).update(brief_title="Not committed yet")
        with CaptureQueriesContext(connection) as captured:
            inside = version_watch.current()
        assert len(captured.captured_queries) == 1
        assert inside == data_version.current() != watcher.version  # its own write is seen


def test_a_lost_connection_means_asking_the_database_until_it_listens_again(watcher, caplog):
    caplog.set_level("WARNING", logger="trials.version_watch")
    backend = watcher.backend_pid
    with another_session() as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [backend])
        wait_for(lambda: watcher.backend_pid != backend or not watcher.listening, seconds=2)
        admin.execute(f"SELECT {data_version.BUMP_FUNCTION}()")  # a change while it may not listen
    assert version_watch.current() == data_version.current()
    wait_for(lambda: watcher.listening and watcher.backend_pid not in (None, backend), seconds=5)
    assert version_watch.current() == data_version.current()
    said = [record.getMessage() for record in caplog.records]
    assert len(said) == 2 and said[0].startswith("Not listening for data changes (")
    assert said[1] == "Listening for data changes again after 1 failed attempt(s)."


def test_a_cached_page_needs_no_query_and_no_page_outlives_a_commit_elsewhere(client, watcher):
    trial = trial_with(identifier="NCT01234567", brief_title="Cells for type 1 diabetes")
    url = f"/trials/{trial.public_key}/"
    assert client.get(url)["X-Page-Cache"] == "miss"
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response["X-Page-Cache"] == "hit" and captured.captured_queries == []
    with another_session() as writer:
        writer.execute("UPDATE trials_trial SET brief_title = 'Renamed elsewhere' WHERE id = %s", [trial.pk])
    wait_for(lambda: watcher.version is None or watcher.version == data_version.current(), seconds=2)
    response = client.get(url)
    assert response["X-Page-Cache"] == "miss" and "Renamed elsewhere" in response.content.decode()


def test_healthz_says_whether_the_process_listens(client, watcher):
    assert client.get("/healthz").json()["data_version"] == "listening"
    watcher.read_at -= 2 * watcher.heartbeat + 1  # as if its connection had hung since
    assert client.get("/healthz").json()["data_version"] == "not listening"
    with override_settings(DATA_VERSION_LISTEN=False):
        assert client.get("/healthz").json()["data_version"] == "read per request"
