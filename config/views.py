"""Operational endpoints that belong to no app."""

import contextlib
import threading

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from trials import version_watch
from trials.page_cache import not_cached

PROBE_SECONDS = 1.5  # /healthz answers within this (and a little): a load balancer's probe waits 2 s or more


class DatabaseProbe:
    """`SELECT 1` over a new connection of its own, in a thread of its own, so that the answer can be awaited for
    a bounded time: a frozen or unreachable server makes a query wait for ever, whatever PostgreSQL's own
    timeouts say (a stopped server enforces none), and the connection timeout cannot be set below 2 s.
    """

    def __init__(self):
        self.finished = threading.Event()
        self.error = "no answer"
        threading.Thread(target=self.run, name="healthz-database-probe", daemon=True).start()

    def run(self):
        database = connections.create_connection(DEFAULT_DB_ALIAS)
        try:
            with database.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
            self.error = None
        except DatabaseError as error:
            self.error = type(error).__name__
        finally:
            with contextlib.suppress(DatabaseError):
                database.close()
            self.finished.set()


_probe = None
_probe_lock = threading.Lock()


def database_error(timeout=PROBE_SECONDS):
    """None if the database answers a query within `timeout` seconds, else what went wrong, in a word or two.

    At most one probe per process waits on the database at a time: while one hangs, later checks wait for that
    one (never longer than `timeout`), so a long outage cannot pile up threads or connections.
    """
    global _probe
    with _probe_lock:
        if _probe is None or _probe.finished.is_set():
            _probe = DatabaseProbe()
        probe = _probe
    if not probe.finished.wait(timeout):
        return f"no answer within {timeout:g} s"
    return probe.error


@not_cached
@never_cache
@require_GET
def healthz(request):
    """Liveness and the database's state, for a load balancer or a monitor: 200 when the database answers a
    query within 1.5 s, 503 when it does not (it is down, refuses connections, or hangs). Runs one query
    (`SELECT 1`) over a connection of its own; no other work. Says too how this process knows the data version
    (trials/version_watch.py `state`): "not listening" for long is worth a look (a pooler in transaction mode?).
    """
    error = database_error()
    if error:
        return JsonResponse({"status": "unavailable", "database": "unavailable", "error": error}, status=503)
    return JsonResponse(
        {"status": "ok", "database": "ok", "vendor": connection.vendor, "data_version": version_watch.state()}
    )
