"""Shared fixtures and the rules for tests that need PostgreSQL or a browser.

Tests marked `postgres` run only on PostgreSQL (DATABASE_URL=postgres://...), and those marked `sqlite` only on
SQLite. Elsewhere they are skipped with the reason, except in CI (CI=true), which runs the suite on both databases:
there they are deselected on the other database, and any skip that remains fails the run (CI must not lose a test
quietly).
"""

import datetime
import os

import pytest
from django.db import connection

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


ONLY_ON = {
    "postgres": (
        "postgresql",
        "needs PostgreSQL: run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry "
        "(CI runs the whole suite on PostgreSQL too)",
    ),
    "sqlite": ("sqlite", "about SQLite only: run without DATABASE_URL (CI runs the whole suite on SQLite too)"),
}


def pytest_collection_modifyitems(config, items):
    deselected, kept = [], []
    for item in items:
        for marker, (vendor, reason) in ONLY_ON.items():
            if item.get_closest_marker(marker) and connection.vendor != vendor:
                if IN_CI:
                    deselected.append(item)
                    break
                item.add_marker(pytest.mark.skip(reason=reason))
        else:
            kept.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"Skipped in CI, where every test is required: {reason}"


@pytest.fixture(scope="session", autouse=True)
def data_version_read_per_request():
    """Tests read the data version from the database, as every request inside a transaction does; the process's
    listener (trials/version_watch.py) is tested on its own, in tests/test_version_watch.py. Servers a test starts
    in processes of their own inherit the environment."""
    from django.test import override_settings

    os.environ["DATA_VERSION_LISTEN"] = "0"
    with override_settings(DATA_VERSION_LISTEN=False):
        yield


@pytest.fixture
def frozen_today(time_machine):
    """The tests' today, where dates matter (staleness counts from today): 24 November 2026 at noon UTC, the clock
    standing still. Returns the date. A module that needs it throughout says so in its `pytestmark`."""
    time_machine.move_to(datetime.datetime(2026, 11, 24, 12, tzinfo=datetime.UTC), tick=False)
    return datetime.date(2026, 11, 24)


@pytest.fixture(autouse=True)
def empty_cache():
    """The public pages' cached counts (trials.facets.cached_counts) must not pass from one test to the next."""
    from django.conf import settings
    from django.core.cache import caches

    for alias in settings.CACHES:
        caches[alias].clear()


@pytest.fixture
def browser():
    """Headless Chromium for one test (tests/browser.py says why per test); request it after the database
    fixtures and live_server."""
    from tests.browser import chromium

    with chromium() as browser:
        yield browser


@pytest.fixture
def curator():
    """A staff user in the Curator group (made by setup_roles)."""
    from tests.factories import UserFactory

    return UserFactory(role="Curator")


@pytest.fixture
def editor():
    """A staff user in the Editor group (made by setup_roles)."""
    from tests.factories import UserFactory

    return UserFactory(role="Editor")


@pytest.fixture(scope="session", autouse=True)
def no_session_left_on_the_test_database(django_db_setup, django_db_blocker):
    """Before the test database is dropped, end any session still on it (PostgreSQL only): a server a test started
    and stopped, or a connection of another thread, would make DROP DATABASE fail ("being accessed by other
    users") after every test has passed."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
