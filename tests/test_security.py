"""Security headers, the sign-in lockout, session expiry, the 503 page and /healthz."""

import contextlib
import datetime
import re
import socket
import threading
from unittest import mock

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import OperationalError, close_old_connections, connection, connections
from django.db.backends.utils import CursorWrapper
from django.urls import reverse

from tests.factories import RegistryIdentifierFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a long curator passphrase"


@pytest.fixture
def curator():
    return get_user_model().objects.create_user("curator", password=PASSWORD, is_staff=True, is_superuser=True)


# --- Headers -----------------------------------------------------------------------------------


def test_every_answer_carries_the_security_headers(client):
    response = client.get(reverse("home"))
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["img-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in response.headers["Permissions-Policy"]


def test_error_pages_carry_the_headers_too(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle=", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


def assert_nothing_inline(html, where):
    """What the CSP would block: inline scripts, inline styles, event-handler attributes."""
    assert not INLINE_SCRIPT.search(html), f"inline <script> on {where}"
    assert not INLINE_STYLE.search(html), f"inline style on {where}"
    assert not EVENT_HANDLER.search(html), f"event-handler attribute on {where}"


def test_public_pages_have_nothing_the_policy_would_block(client):
    trial = RegistryIdentifierFactory(value="NCT01234567").trial
    pages = [
        reverse("home"),
        reverse("about"),
        reverse("trials:list"),
        reverse("trials:detail", args=["NCT01234567"]),
        reverse("mechanisms:list"),
        reverse("mechanisms:detail", args=["immune-regulation"]),
    ]
    assert trial.public_key == "NCT01234567"
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_nothing_inline(response.content.decode(), url)


def test_admin_pages_have_nothing_the_policy_would_block(client, curator):
    client.force_login(curator)
    pages = [
        reverse("admin:index"),
        reverse("admin:auth_user_changelist"),
        reverse("admin:auth_user_add"),
        reverse("admin:auth_user_change", args=[curator.pk]),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_nothing_inline(response.content.decode(), url)


# --- Curators' accounts ----------------------------------------------------------------------


def sign_in(client, username, password):
    return client.post(
        reverse("admin:login"), {"username": username, "password": password, "next": reverse("admin:index")}
    )


def test_sign_in_is_locked_after_five_failures_then_unlocked_after_the_cooloff(client, curator):
    for _ in range(4):
        assert sign_in(client, "curator", "wrong").status_code == 200  # the form again, with an error
    assert sign_in(client, "curator", "wrong").status_code == 429
    # Locked: even the right password is refused now.
    response = sign_in(client, "curator", PASSWORD)
    assert response.status_code == 429
    assert "locked" in response.content.decode().lower()
    assert "_auth_user_id" not in client.session
    with time_machine.travel(datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=31)):
        response = sign_in(client, "curator", PASSWORD)
    assert response.status_code == 302 and response.url == reverse("admin:index")


def test_a_successful_sign_in_resets_the_failure_count(client, curator):
    for _ in range(4):
        sign_in(client, "curator", "wrong")
    assert sign_in(client, "curator", PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        assert sign_in(client, "curator", "wrong").status_code == 200
    assert sign_in(client, "curator", PASSWORD).status_code == 302


def test_the_lockout_is_per_user_and_address(client, curator):
    for _ in range(5):
        sign_in(client, "curator", "wrong")
    other = get_user_model().objects.create_user("other", password=PASSWORD, is_staff=True)
    assert sign_in(client, other.username, PASSWORD).status_code == 302


def test_sessions_expire_after_eight_hours(client, curator):
    start = datetime.datetime.now(datetime.UTC)
    with time_machine.travel(start, tick=False):
        assert sign_in(client, "curator", PASSWORD).status_code == 302
        assert client.get(reverse("admin:index")).status_code == 200
    with time_machine.travel(start + datetime.timedelta(hours=7, minutes=59), tick=False):
        assert client.get(reverse("admin:index")).status_code == 200
    with time_machine.travel(start + datetime.timedelta(hours=16), tick=False):
        response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))


def test_session_cookie_is_http_only_and_ends_with_the_browser(client, curator):
    response = sign_in(client, "curator", PASSWORD)
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"] is True
    assert cookie["expires"] == ""  # a browser-session cookie


# --- The database going away -------------------------------------------------------------------


def failing_execute(*args, **kwargs):
    raise OperationalError("server closed the connection unexpectedly")


def test_a_database_failure_mid_request_gives_a_503_page_and_the_site_recovers(client):
    RegistryIdentifierFactory(value="NCT01234567")
    with mock.patch.object(CursorWrapper, "execute", failing_execute):
        response = client.get(reverse("trials:list"))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    body = response.content.decode()
    assert "temporarily unavailable" in body
    assert "Traceback" not in body and "OperationalError" not in body and "server closed" not in body
    # The database is back: the next request is served as usual, with no restart.
    response = client.get(reverse("trials:list"))
    assert response.status_code == 200
    assert "NCT01234567" in response.content.decode()


def test_other_errors_are_not_disguised_as_503(client):
    with mock.patch.object(CursorWrapper, "execute", side_effect=ZeroDivisionError):
        client.raise_request_exception = False
        response = client.get(reverse("trials:list"))
    assert response.status_code == 500


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "vendor": connection.vendor,
        "data_version": "read per request",  # the tests read it per request (tests/conftest.py)
    }
    assert "no-cache" in response.headers["Cache-Control"]
    with mock.patch.object(CursorWrapper, "execute", failing_execute):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"


class TcpProxy:
    """A TCP forwarder on 127.0.0.1 that can be cut and restored, standing in for the database server."""

    def __init__(self, target_port, port=0):
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", port))
        self.port = self.listener.getsockname()[1]
        self.sockets = []
        self.lock = threading.Lock()
        self.cut_off = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                if self.cut_off:  # accepted just as the proxy was cut
                    client.close()
                    upstream.close()
                    return
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self):
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread, frees the port
        self.listener.close()
        with self.lock:
            self.cut_off = True
            sockets, self.sockets = self.sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # may be shut down already by a pipe's end
            sock.close()  # always: an unclosed socket is a ResourceWarning, an error in this suite


def get_as_a_server_would(client, url):
    """A request with the connection upkeep Django's WSGI handler does around every request (the
    test client turns it off): an unusable or health-check-failing connection is closed at the
    start and the end, so the next query reconnects.
    """
    close_old_connections()
    try:
        return client.get(url)
    finally:
        close_old_connections()


class ProxiedDatabase:
    """PostgreSQL as the site reaches it through a TcpProxy that a test cuts and restores."""

    def __init__(self, real_port):
        self.real_port = real_port
        self.proxy = TcpProxy(real_port)

    def cut(self):
        self.proxy.cut()

    def restore(self):
        self.proxy = TcpProxy(self.real_port, port=self.proxy.port)


@pytest.fixture
def proxied_database():
    real_port = int(connection.settings_dict["PORT"] or 5432)
    database = ProxiedDatabase(real_port)
    connection.close()
    connection.settings_dict["PORT"] = str(database.proxy.port)
    try:
        yield database
    finally:
        database.cut()
        connection.close()
        connection.settings_dict["PORT"] = str(real_port)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_postgres_going_away_gives_503_and_the_site_recovers_when_it_returns(client, proxied_database):
    """A real outage: the site talks to PostgreSQL through a proxy that is cut, then restored."""
    RegistryIdentifierFactory(value="NCT01234567")
    assert get_as_a_server_would(client, reverse("trials:list")).status_code == 200
    proxied_database.cut()
    response = get_as_a_server_would(client, reverse("trials:list"))
    assert response.status_code == 503
    assert "temporarily unavailable" in response.content.decode()
    assert get_as_a_server_would(client, "/healthz").status_code == 503
    proxied_database.restore()  # the database is back
    response = get_as_a_server_would(client, reverse("trials:list"))
    assert response.status_code == 200
    assert "NCT01234567" in response.content.decode()
    assert get_as_a_server_would(client, "/healthz").status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_connection_dropped_while_idle_is_replaced_within_the_request_with_no_round_trip_of_its_own(
    client, proxied_database
):
    """The data version's query is also the connection's health check (trials/data_version.py): a request on a
    connection the server dropped while it was idle is answered as usual, and a healthy connection's request sends
    no SELECT 1 of its own."""
    RegistryIdentifierFactory(value="NCT01234567")
    assert get_as_a_server_would(client, reverse("trials:list")).status_code == 200
    with mock.patch.object(type(connections["default"]), "is_usable", side_effect=AssertionError("a SELECT 1")):
        assert get_as_a_server_would(client, reverse("trials:list"))["X-Page-Cache"] == "hit"
    proxied_database.cut()  # the server drops the idle connection, and is back at once
    proxied_database.restore()
    response = get_as_a_server_would(client, reverse("trials:list"))
    assert response.status_code == 200
    assert "NCT01234567" in response.content.decode()
