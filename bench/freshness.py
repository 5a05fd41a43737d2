"""How fresh a running server's cached pages are: after a commit made elsewhere, does any worker still answer with
the page from before it, and for how long? (bench/loadtest.py runs it while the floor's load keeps every worker
busy, so that a worker's thread that listens for changes (trials/version_watch.py) waits for the CPU as in use.)

Each round asks for one page, commits a change of the data version in a session of its own (as any write does:
the trigger's function), then asks for the page again over new connections, which the workers take in turn. A
page's ETag holds the data version, so an answer with the ETag from before the commit is the page from before it.
"""

import http.client
import threading
import time

import psycopg

from trials.data_version import BUMP_FUNCTION

HOST = "127.0.0.1"


def etag(port, path):
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.getheader("ETag") if response.status == 200 else None
    finally:
        connection.close()


def probe(database_url, port, path="/about/", rounds=10, polls=20, pause=1.0):
    """The answers after `rounds` commits: how many, how many stale, and how long after its commit the latest stale
    one was asked for (ms; None if none was stale)."""
    answers = stale = 0
    latest_stale_ms = None
    with psycopg.connect(database_url, autocommit=True) as session:
        for _ in range(rounds):
            before = etag(port, path)
            session.execute(f"SELECT {BUMP_FUNCTION}()")
            committed = time.perf_counter()
            for _ in range(polls):
                asked = (time.perf_counter() - committed) * 1000
                answers += 1
                if etag(port, path) == before:
                    stale += 1
                    latest_stale_ms = max(latest_stale_ms or 0.0, asked)
            time.sleep(pause)
    return {"path": path, "rounds": rounds, "answers": answers, "stale": stale, "latest_stale_ms": latest_stale_ms}


class Probe(threading.Thread):
    """`probe` in a thread of its own, while something else loads the server."""

    def __init__(self, database_url, port, **options):
        super().__init__(name="freshness-probe", daemon=True)
        self.arguments = (database_url, port)
        self.options = options
        self.result = None
        self.error = None

    def run(self):
        try:
            self.result = probe(*self.arguments, **self.options)
        except (OSError, psycopg.Error) as error:
            self.error = f"{type(error).__name__}: {error}"


def describe(result):
    if result is None:
        return "not measured"
    latest = result["latest_stale_ms"]
    return (
        f"after {result['rounds']} commits made in a session of their own, {result['stale']} of the "
        f"{result['answers']} answers for {result['path']} that followed were the page from before the commit"
        + (f" (the latest asked for {latest:.1f} ms after its commit)" if latest is not None else "")
    )
