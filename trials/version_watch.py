"""The data version without a query per request (PostgreSQL): each process listens for its changes.

The public pages' cache keys every page by the registry's data version (trials/data_version.py). Reading it is one
query, by primary key, and on a cached page that query was a third of the request's time and the only work left
for the database. So on PostgreSQL each server process keeps the version in memory and learns of every change:

- the function that changes the version also sends a notification (`pg_notify`), which PostgreSQL delivers only
  when the writer's transaction commits, whoever wrote: the site, a command, another host, psql;
- a thread of the process listens on a connection of its own. On a notification it first forgets the version
  (requests ask the database again), then reads the new one. Every few seconds it reads the version anyway, which
  also proves the connection alive;
- a write of the process itself through the ORM (any that sends Django's signals, and `data_version.bump()`)
  forgets the version when it commits (trials/data_version.py, `PendingRefresh`), so the writer's next request
  never sees the version before it, even before the notification arrives.

The version in memory is used only where it is certainly current enough: outside a transaction (a request inside
one, as every test's, must see its own writes: it reads the database), while the thread holds its connection.
Anything else (the thread starting, its connection lost, SQLite, DATA_VERSION_LISTEN off) reads the database as
before. A page of another process can be answered from the version before a write only for as long as the commit's
notification takes to arrive there (bench/RESULTS.md gives the figures).
"""

import logging
import os
import threading
import time

import psycopg
from django.conf import settings
from django.db import DatabaseError, connections

from trials import data_version

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5  # the longest the thread waits without reading the version
RETRY_SECONDS = (1, 2, 4, 8)  # after its connection failed once, twice, ... (then the last, until it listens again)


class Watcher:
    """One process's listener (see the module's docstring)."""

    def __init__(self, using="default"):
        self.using = using
        self.lock = threading.Lock()
        self.version = None  # the committed version, while listening; None: ask the database
        self.generation = 0  # counts every forgetting, so a value read before one is not kept after it
        self.pid = None
        self.stopping = threading.Event()
        self.thread = None

    def current(self):
        """The data version: from memory when listening and outside a transaction, else by a query (kept in
        memory for the next request when nothing changed meanwhile)."""
        connection = connections[self.using]
        if connection.in_atomic_block:
            return data_version.current(self.using)
        self.start()
        version = self.version
        if version is not None and self.confirmed():
            return version
        generation = self.generation
        version = data_version.current(self.using)
        if self.listening:
            self.keep(version, generation)
        return version

    def confirmed(self):
        """Whether the thread read the version lately: a connection that stopped answering without an error (a
        network that drops its packets) is not trusted past two heartbeats."""
        return self.listening and time.monotonic() - self.read_at < 2 * self.heartbeat + 1

    def forget(self):
        """A change committed: ask the database until the version is read again."""
        with self.lock:
            self.generation += 1
            self.version = None

    def keep(self, version, generation):
        with self.lock:
            if self.generation == generation:
                self.version = version

    # --- The listening thread ------------------------------------------------------------------------

    listening = False  # the thread holds its connection and has read the version since
    backend_pid = None  # its connection's server process
    read_at = 0.0  # when it last read the version (time.monotonic())
    heartbeat = HEARTBEAT_SECONDS

    def start(self):
        """Start the thread in this process (again after a fork: a thread does not survive one)."""
        if self.pid == os.getpid():
            return
        with self.lock:
            if self.pid == os.getpid():
                return
            self.pid = os.getpid()
            self.version = None
            self.listening = False
            self.stopping = threading.Event()
            self.thread = threading.Thread(target=self.run, name="data-version-watcher", daemon=True)
            self.thread.start()

    def stop(self):
        """End the thread and close its connection (tests; a process that ends needs nothing)."""
        self.stopping.set()
        if self.thread is not None:
            waker = connections.create_connection(self.using)  # a notification ends its wait at once
            try:
                with waker.cursor() as cursor:
                    cursor.execute("SELECT pg_notify(%s, '')", [data_version.NOTIFY_CHANNEL])
            finally:
                waker.close()
            self.thread.join(RETRY_SECONDS[-1] + 5)
        self.pid = None

    def run(self):
        failures = 0
        while not self.stopping.is_set():
            connection = connections.create_connection(self.using)
            try:
                connection.ensure_connection()
                self.backend_pid = connection.connection.info.backend_pid
                connection.connection.execute(f"LISTEN {data_version.NOTIFY_CHANNEL}")
                if failures:
                    logger.warning("Listening for data changes again after %d failed attempt(s).", failures)
                failures = 0
                self.listen(connection)
            except (DatabaseError, psycopg.Error) as error:  # Django's, or the raw connection's while it waits
                if not failures:  # once per outage, not once per attempt
                    logger.warning("Not listening for data changes (%s); reading the version per request.", error)
                failures += 1
            finally:
                self.listening = False
                self.forget()
                connection.close()
            self.stopping.wait(RETRY_SECONDS[min(failures, len(RETRY_SECONDS)) - 1] if failures else 0)

    def listen(self, connection):
        self.read(connection)
        self.listening = True
        raw = connection.connection
        while not self.stopping.is_set():
            notified = list(raw.notifies(timeout=self.heartbeat, stop_after=1))
            if notified:
                self.forget()
            self.read(connection)

    def read(self, connection):
        generation = self.generation
        self.keep(data_version.current_on(connection), generation)
        self.read_at = time.monotonic()


watcher = Watcher()


def enabled(using="default"):
    return settings.DATA_VERSION_LISTEN and connections[using].vendor == "postgresql"


def current(using="default"):
    """Query (one, by primary key) or none: the data version now (trials/data_version.py `current`)."""
    if using == "default" and enabled(using):
        return watcher.current()
    return data_version.current(using)


def forget():
    """This process committed a change (trials/data_version.py)."""
    watcher.forget()


def state(using="default"):
    """How this process knows the data version, for /healthz: "listening" (in memory, told of changes),
    "not listening" (the listener is on but has no connection now: each request reads it) or "read per request"
    (SQLite, or DATA_VERSION_LISTEN off)."""
    if not (using == "default" and enabled(using)):
        return "read per request"
    watcher.start()
    return "listening" if watcher.confirmed() else "not listening"
