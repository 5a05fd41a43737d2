"""What the browser tests share: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

`MARKS` skip a test, with the reason, when Playwright or Chromium is missing (CI installs both and fails on any
skip), and give it a live server's database. The `browser` fixture (tests/conftest.py) starts Chromium with
`chromium()`.
"""

import os
import shutil
from contextlib import contextmanager

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    expect = sync_playwright = None


def chromium_path():
    return CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")


MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        sync_playwright is None, reason="Playwright is not installed: pip install -r requirements-dev.txt"
    ),
    pytest.mark.skipif(
        chromium_path() is None, reason=f"Chromium is not installed at {CHROMIUM}: apt-get install chromium (Debian)"
    ),
    # The live server reads what the test wrote, so the data must be committed; the mechanisms and
    # vocabularies loaded by migrations are restored after each test.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@contextmanager
def chromium():
    """A headless Chromium with the flags this closed, root-run machine needs.

    Start it after the test's database is set up and stop it before it is torn down (the `browser` fixture is
    per test, requested after the database fixtures): Playwright's sync API keeps an event loop running in this
    thread, and while it runs Django gives the thread other database connections (per context, not per thread),
    so the database's setup and teardown, which restore the migrations' data, must happen outside it. Django's
    guard against database work inside an event loop is lifted meanwhile (the work stays synchronous).
    """
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path(),
                args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking"],
            )
            try:
                yield browser
            finally:
                browser.close()
    finally:
        if previous is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
