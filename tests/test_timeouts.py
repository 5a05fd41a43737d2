"""Timeouts on the database: PostgreSQL's own (statement, lock, idle transaction, connection) from settings, and
`/healthz` answering 503 within 2 s while the server hangs (a PostgreSQL of the test's own, frozen with SIGSTOP).
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import OperationalError, connection, transaction
from django.db.models.expressions import RawSQL

from config.middleware import is_unavailable_error
from config.settings import database_from_url
from tests.factories import RegistryIdentifierFactory
from tests.pgserver import free_port, postgres_server
from trials.export_query import stream_rows
from trials.models import Trial

BASE_DIR = Path(__file__).resolve().parent.parent
URL = "postgres://registry@db.example.org:5432/registry"


def test_postgres_timeouts_have_defaults(monkeypatch):
    for name in ["DATABASE_CONNECT_TIMEOUT", "DATABASE_STATEMENT_TIMEOUT", "DATABASE_LOCK_TIMEOUT"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT", raising=False)
    options = database_from_url(URL)["OPTIONS"]
    assert options == {
        "connect_timeout": "5",
        "options": "-c jit=off -c statement_timeout=30000 -c lock_timeout=10000 "
        "-c idle_in_transaction_session_timeout=60000",
    }


def test_postgres_timeouts_come_from_the_environment_and_the_url_wins(monkeypatch):
    monkeypatch.setenv("DATABASE_CONNECT_TIMEOUT", "3")
    monkeypatch.setenv("DATABASE_STATEMENT_TIMEOUT", "0")  # none
    monkeypatch.setenv("DATABASE_LOCK_TIMEOUT", "2")
    monkeypatch.setenv("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT", "600")
    options = database_from_url(URL)["OPTIONS"]
    assert options["connect_timeout"] == "3"
    assert options["options"].split(" -c ")[1:] == [
        "statement_timeout=0",
        "lock_timeout=2000",
        "idle_in_transaction_session_timeout=600000",
    ]
    options = database_from_url(URL + "?connect_timeout=9&options=-c%20statement_timeout%3D5s")["OPTIONS"]
    assert options["connect_timeout"] == "9"
    assert (
        options["options"]
        == "-c statement_timeout=5s -c lock_timeout=2000 -c idle_in_transaction_session_timeout=600000"
    )


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_connections_carry_the_timeouts_and_a_cancelled_statement_is_an_unavailable_database():
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone() == ("30s",)
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone() == ("10s",)
        cursor.execute("SHOW idle_in_transaction_session_timeout")
        assert cursor.fetchone() == ("1min",)
    # A statement over the limit is cancelled: the same error as a lost connection, so pages answer 503.
    with pytest.raises(OperationalError) as cancelled, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 50")
        cursor.execute("SELECT pg_sleep(2)")
    assert "statement timeout" in str(cancelled.value)
    assert is_unavailable_error(cancelled.value)


def get(url, timeout=10):
    """(status, JSON body, seconds taken) of a GET."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    return status, json.loads(body), time.monotonic() - started


@pytest.mark.postgres
def test_healthz_answers_503_within_2_s_while_postgres_is_frozen_and_200_once_it_thaws(tmp_path):
    """The registry served by gunicorn over a PostgreSQL of its own; the server's processes are stopped with
    SIGSTOP (they accept TCP connections through the kernel but never answer), then continued."""
    port = free_port()
    with postgres_server() as database:
        environment = {key: value for key, value in os.environ.items() if not key.startswith("DATABASE_")}
        environment.update(
            DEBUG="0",
            SECRET_KEY=secrets.token_urlsafe(50),
            ALLOWED_HOSTS="127.0.0.1",
            DATABASE_URL=database.url,
            SECURE_SSL_REDIRECT="0",
            LOG_LEVEL="ERROR",
        )
        log = (tmp_path / "gunicorn.log").open("w")
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", f"--bind=127.0.0.1:{port}", "--workers=1"]
            + ["--worker-class=gthread", "--threads=4", "--no-control-socket", "--graceful-timeout=1"],
            cwd=BASE_DIR,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        healthz = f"http://127.0.0.1:{port}/healthz"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    status, body, _ = get(healthz)
                    break
                except OSError:
                    assert server.poll() is None and time.monotonic() < deadline, (
                        tmp_path / "gunicorn.log"
                    ).read_text()
                    time.sleep(0.3)
            assert (status, body["database"], body["vendor"]) == (200, "ok", "postgresql")

            database.freeze()
            try:
                for _ in range(3):  # the first probe hangs; the next checks wait for it, never longer
                    status, body, seconds = get(healthz)
                    assert status == 503 and body["database"] == "unavailable", body
                    assert seconds < 2, f"/healthz took {seconds:.2f} s while the database was frozen"
            finally:
                database.thaw()

            deadline = time.monotonic() + 15
            while (status := get(healthz)[0]) != 200 and time.monotonic() < deadline:
                time.sleep(0.3)
            assert status == 200, "/healthz did not recover once the database thawed"
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
            log.close()


@pytest.mark.postgres
@pytest.mark.django_db
def test_an_export_outlasts_the_pages_statement_timeout_and_leaves_it_as_it_was():
    """The export's one statement lasts as long as the download: it has a timeout of its own, so a slow reader's
    file is not cut off at the pages' 30 s; the connection's own timeout is back for the next query."""
    RegistryIdentifierFactory(value="NCT01234567")
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 100")  # 100 ms: as if every page had that
    slow = Trial.objects.annotate(wait=RawSQL("pg_sleep(0.3)", ())).values_list("slug", "wait")
    with pytest.raises(OperationalError, match="statement timeout"), transaction.atomic():
        list(slow)  # a page's query over the limit
    assert [slug for slug, _ in stream_rows(slow)] == [Trial.objects.get().slug]
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone() == ("30s",)  # the connection's own, from the settings
