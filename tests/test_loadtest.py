"""bench/loadtest.py, the driver of `make loadtest`: a short run end to end, and its section of bench/RESULTS.md.

The short run is the real thing at a small scale (a fresh SQLite database with the curated trials and 300
synthetic ones, gunicorn on a free port of 127.0.0.1, wrk for a few seconds): it fails on any error, 5xx or traceback.
"""

import contextlib
import importlib.util
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from tests.conftest import IN_CI
from tests.pgserver import free_port

BASE_DIR = Path(__file__).resolve().parent.parent
SCRIPT = BASE_DIR / "bench" / "loadtest.py"


def load_driver():
    spec = importlib.util.spec_from_file_location("loadtest", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(
    shutil.which("wrk") is None and not IN_CI,
    reason="wrk is not installed: apt-get install wrk (make loadtest and CI install it)",
)
def test_a_short_load_test_passes(tmp_path):
    environment = {
        **{key: value for key, value in os.environ.items() if key != "DATABASE_URL"},
        "LOADTEST_DATABASE_URL": f"sqlite:///{tmp_path / 'registry_loadtest.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--synthetic", "300", "--duration", "3", "--kind-duration", "1"]
        + ["--connections", "8", "--workers", "2", "--threads", "2", "--port", str(free_port()), "--no-results"],
        cwd=BASE_DIR,
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    verdict = next(line for line in lines if "PASS:" in line or "FAIL:" in line)
    assert "PASS:" in verdict and " 0 errors, 0 answers 5xx, 0 tracebacks" in verdict, verdict
    # The last line sums it up: the floor's rate, the pages mix's rate and p99, the errors.
    assert re.fullmatch(r"loadtest trials=\d+ floor_rps=\d+ pages_rps=\d+ pages_p99_ms=[\d.]+ errors=0", lines[-1]), (
        lines[-1]
    )


def test_its_section_of_the_results_file_replaces_only_itself(tmp_path, monkeypatch):
    driver = load_driver()
    results = tmp_path / "RESULTS.md"
    others = "# Benchmark results\n\n<!-- bench:start -->\n## Benchmark\n\n| a | b |\n<!-- bench:end -->\n"
    results.write_text(others)
    monkeypatch.setattr(driver, "RESULTS", results)

    def section(size, words):
        return f"{driver.START.format(size=size)}\n## Load test\n\n{words}\n{driver.END.format(size=size)}\n"

    driver.write_results(section(10_000, "first"), 10_000)
    driver.write_results(section(100_000, "large"), 100_000)
    driver.write_results(section(10_000, "second"), 10_000)

    text = results.read_text()
    assert text.startswith(others)  # the benchmark's section, as it was
    assert text.count(driver.START.format(size=10_000)) == 1 and "second" in text and "first" not in text
    assert "large" in text  # each size keeps its own section


def test_it_drops_and_remakes_only_an_sqlite_file_it_made(tmp_path):
    driver = load_driver()
    path = tmp_path / "registry_loadtest.sqlite3"
    driver.fresh_database(f"sqlite:///{path}")
    with contextlib.closing(sqlite3.connect(path)) as database, database:
        database.execute("CREATE TABLE left_from_last_run (x)")
    driver.fresh_database(f"sqlite:///{path}")  # its own: remade, empty but for the marker
    with contextlib.closing(sqlite3.connect(path)) as database:
        tables = [row[0] for row in database.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert tables == [driver.MARKER_TABLE]

    other = tmp_path / "scratch_registry.sqlite3"
    with contextlib.closing(sqlite3.connect(other)) as database, database:
        database.execute("CREATE TABLE trials_trial (id INTEGER)")
    before = other.read_bytes()
    with pytest.raises(SystemExit, match="refusing to drop .* the load test did not make it"):
        driver.fresh_database(f"sqlite:///{other}")
    assert other.read_bytes() == before


@pytest.mark.postgres
def test_it_drops_and_remakes_only_a_postgres_database_it_made():
    driver = load_driver()
    settings = connection.settings_dict
    server = f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT'] or 5432}"
    name = f"{settings['NAME']}_loadtest_{secrets.token_hex(4)}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        try:
            admin.execute(f'CREATE DATABASE "{name}"')  # someone else's, e.g. a copy of the registry
            with pytest.raises(SystemExit, match="refusing to drop .* the load test did not make it"):
                driver.fresh_database(f"{server}/{name}")
            assert admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()

            admin.execute(f'DROP DATABASE "{name}"')
            driver.fresh_database(f"{server}/{name}")  # made by the load test ...
            driver.fresh_database(f"{server}/{name}")  # ... so dropped and made again
            comment = admin.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [name]
            ).fetchone()
            assert comment == (driver.MARKER,)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
