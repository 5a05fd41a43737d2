"""`make serve`, the production command, as an operator runs it: gunicorn on 127.0.0.1 with settings from the
environment alone, over a fresh SQLite file (collectstatic and migrate first), then stopped."""

import json
import os
import re
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
PORT = 8017
ROOT_URL = f"http://127.0.0.1:{PORT}"
# Variables of the developer's shell or .env that would change what is tested; set explicitly below.
OVERRIDDEN = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "STATIC_ROOT", "BIND", "WORKERS", "THREADS"}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


opener = urllib.request.build_opener(NoRedirect)


def get(path, **headers):
    """(status, headers, body) of a GET to the server, redirects not followed."""
    request = urllib.request.Request(ROOT_URL + path, headers=headers)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.fixture
def served(tmp_path):
    environment = {key: value for key, value in os.environ.items() if key not in OVERRIDDEN}
    environment.update(
        {
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'registry.sqlite3'}",
            "STATIC_ROOT": str(tmp_path / "static"),
            "BEHIND_PROXY": "1",  # as behind a proxy that terminates TLS and says so in X-Forwarded-Proto
            "BIND": f"127.0.0.1:{PORT}",
            "WORKERS": "1",
            "THREADS": "2",
            "LOG_LEVEL": "WARNING",
        }
    )
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        ["make", "--no-print-directory", "serve"],
        cwd=BASE_DIR,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: make, gunicorn and its workers stop together
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, "make serve stopped:\n" + (tmp_path / "serve.log").read_text()
            try:
                if get("/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "no answer within 120 s:\n" + (tmp_path / "serve.log").read_text()
            time.sleep(0.5)
        yield tmp_path
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def test_make_serve_runs_the_registry_in_production_mode(served):
    status, headers, body = get("/healthz")
    assert status == 200
    assert json.loads(body) == {
        "status": "ok",
        "database": "ok",
        "vendor": "sqlite",
        "data_version": "read per request",
    }

    # Plain HTTP is sent to HTTPS; over "HTTPS" (the proxy's header) the page is served with HSTS and the CSP.
    status, headers, _ = get("/")
    assert status == 301 and headers["Location"] == f"https://127.0.0.1:{PORT}/"
    status, headers, body = get("/", **{"X-Forwarded-Proto": "https"})
    assert status == 200
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert b"Investigational therapies only." in body
    # Migrated: the mechanisms come from a data migration.
    assert get("/mechanisms/immune-regulation/", **{"X-Forwarded-Proto": "https"})[0] == 200

    # Static files: collected with content-hashed names, compressed, cacheable for ever (whitenoise).
    stylesheet = re.search(rb'href="(/static/css/site\.[0-9a-f]{12}\.css)"', body)
    assert stylesheet, "the stylesheet's address carries no content hash"
    status, headers, css = get(
        stylesheet.group(1).decode(), **{"X-Forwarded-Proto": "https", "Accept-Encoding": "gzip"}
    )
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert "max-age=315360000" in headers["Cache-Control"] and "immutable" in headers["Cache-Control"]
    assert (served / "static" / "staticfiles.json").is_file()
    # The admin's own files are served too.
    status, _, _ = get("/static/admin/css/base.css", **{"X-Forwarded-Proto": "https"})
    assert status == 200

    status, _, body = get("/trials/?phase=NOT-A-PHASE", **{"X-Forwarded-Proto": "https"})
    assert status == 400 and b"Traceback" not in body  # DEBUG is off: no error details
