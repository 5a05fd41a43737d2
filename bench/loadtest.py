"""The load test: the registry served by gunicorn on 127.0.0.1, driven by wrk for a bounded time.

    .venv/bin/python bench/loadtest.py                  # what `make loadtest` runs
    .venv/bin/python bench/loadtest.py --duration 10    # shorter

1. A database of its own (LOADTEST_DATABASE_URL; default an SQLite file in /tmp, or a PostgreSQL database
   such as postgres://postgres@127.0.0.1:5432/registry_loadtest, dropped and created afresh, but only if the load
   test made it: it marks the databases it makes, and refuses to drop any other) is migrated and
   filled with the curated trials plus 10,000 synthetic ones (`make_synthetic_trials --alongside-curated`).
2. gunicorn serves it on 127.0.0.1:8016 in production mode (DEBUG off, whitenoise, the security headers;
   plain HTTP on the loopback, so the HTTPS redirect is switched off as behind a TLS-terminating proxy).
3. wrk (Debian's package) sends a weighted mix of pages (list, filters, search, trial pages, home, mechanisms,
   about, evidence when the site has it) from 32 connections for 30 seconds; then the floor (bench/floor.py: a
   trivial view through the same middleware) under the same settings; then each kind alone for a few seconds,
   the CSV exports too. Traffic goes to 127.0.0.1 only. The last line printed sums it up:
   `loadtest trials=N floor_rps=.. pages_rps=.. pages_p99_ms=.. errors=N`.
4. The figures go to bench/RESULTS.md (its own section; the rest of the file is kept). Exit status 1 if any
   request failed or answered anything but 200, or if gunicorn logged a traceback.
"""

import argparse
import contextlib
import datetime
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import freshness  # noqa: E402  (the project's root on the path first)

PY = sys.executable
RESULTS = ROOT / "bench" / "RESULTS.md"
LUA = ROOT / "bench" / "loadtest.lua"
# Each size has its own section in bench/RESULTS.md, between these marks.
START = "<!-- loadtest {size}:start (written by bench/loadtest.py; the rest of this file is kept) -->"
END = "<!-- loadtest {size}:end -->"
HOST = "127.0.0.1"


def log(message):
    print(f"[loadtest] {message}", flush=True)


def manage(env, *args):
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True)


# Written into every database the load test makes (a comment on a PostgreSQL database, a table in an SQLite file):
# it drops only a database that carries it, never one it did not make.
MARKER = "made by bench/loadtest.py: dropped and made afresh by each load test"
MARKER_TABLE = "loadtest_made_here"


class NotOurs(Exception):
    """The database exists and the load test did not make it."""


def fresh_database(url, template=None):
    """Drop and create the load test's own database (PostgreSQL; a copy of `template` when given), or its SQLite
    file, marked as the load test's.

    Refuses (exit status 1, nothing dropped) a name without 'loadtest', 'bench' or 'scratch', and a database that
    exists without the load test's marker.
    """
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not re.search(r"loadtest|bench|scratch", Path(name).name):
        sys.exit(f"refusing {url}: the load test's database name must contain 'loadtest', 'bench' or 'scratch'")
    try:
        if parts.scheme == "sqlite":
            fresh_sqlite_file(Path(parts.path[1:]))
        else:
            fresh_postgres_database(parts._replace(path="/postgres").geturl(), name, template)
    except NotOurs:
        sys.exit(
            f"refusing to drop {url}: it exists and the load test did not make it (it carries no marker). "
            "Drop it yourself if it is a load test's, or choose another LOADTEST_DATABASE_URL."
        )


def fresh_sqlite_file(path):
    import sqlite3

    if path.exists():
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as database:
            try:
                marked = database.execute(f"SELECT note FROM {MARKER_TABLE}").fetchone() == (MARKER,)
            except sqlite3.DatabaseError:
                marked = False
        if not marked:
            raise NotOurs
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with contextlib.closing(sqlite3.connect(path)) as database, database:
        database.execute(f"CREATE TABLE {MARKER_TABLE} (note TEXT)")
        database.execute(f"INSERT INTO {MARKER_TABLE} VALUES (?)", [MARKER])


def fresh_postgres_database(server, name, template=None):
    import psycopg
    from psycopg import sql

    with psycopg.connect(server, autocommit=True) as connection:
        found = connection.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if found is not None and found[0] != MARKER:
            raise NotOurs
        database = sql.Identifier(name)
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))
        if template:
            connection.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(database, sql.Identifier(template)))
        else:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(database))
        connection.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(database, sql.Literal(MARKER)))


def holds_load_test_data(env, synthetic):
    """Whether the database is one the load test made (its marker) holding the curated trials and `synthetic`
    synthetic ones, so that --reuse may skip making it again."""
    import psycopg

    parts = urlsplit(env["DATABASE_URL"])
    try:
        if parts.scheme == "sqlite":
            fresh = not Path(parts.path[1:]).exists()
        else:
            with psycopg.connect(parts._replace(path="/postgres").geturl()) as connection:
                found = connection.execute(
                    "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                    [parts.path.lstrip("/")],
                ).fetchone()
            fresh = found is None or found[0] != MARKER
        if fresh:
            return False
        counts = sample(
            env,
            "from trials.models import Trial; "
            "print(json.dumps(Trial.objects.filter(slug__startswith='synthetic-').count()))",
        )
    except (OSError, psycopg.Error, subprocess.CalledProcessError, ValueError):  # not reachable, not migrated
        return False
    return counts == synthetic


def bench_database(env, synthetic):
    """The name of `make bench`'s database of `synthetic` trials on the same PostgreSQL server (bench/run.py makes
    `bench_<size>`: synthetic trials only), when it exists with that many and nobody is connected to it: the load
    test copies it (seconds) rather than generating the trials again (many minutes at 100,000). Else None."""
    import psycopg

    parts = urlsplit(env["DATABASE_URL"])
    if parts.scheme == "sqlite":
        return None
    name = f"bench_{synthetic}"
    try:
        with psycopg.connect(parts._replace(path=f"/{name}").geturl()) as connection:
            trials, others = connection.execute(
                "SELECT count(*) FILTER (WHERE slug LIKE 'synthetic-%'), count(*) FILTER (WHERE slug NOT LIKE "
                "'synthetic-%') FROM trials_trial"
            ).fetchone()
    except psycopg.Error:
        return None
    return name if (trials, others) == (synthetic, 0) else None


def cache_answers(url):
    """Whether a Redis or Valkey server answers PING at `url` (redis://host:port/db)."""
    import socket

    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or HOST, parts.port or 6379), timeout=2) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def warm(port, paths):
    """Ask for every page of the mix once, as readers would before the measured minutes: the shared cache (or the
    worker that answers) then holds them. Returns the seconds it took."""
    started = time.monotonic()
    for path in sorted({path for kind in WEIGHTS for path in paths[kind]}):
        answers(port, path)
    return time.monotonic() - started


def sample(env, code):
    """Run `code` (which prints JSON) inside Django against the load test database."""
    result = subprocess.run(
        [PY, "-c", "import django, json; django.setup(); " + code],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def vacuum_analyze(env):
    """Planner statistics and the visibility map for the rows just written (VACUUM ANALYZE; SQLite: ANALYZE)."""
    sample(
        env,
        "from django.db import connection; "
        "connection.cursor().execute('VACUUM ANALYZE' if connection.vendor == 'postgresql' else 'ANALYZE'); "
        "print(json.dumps(connection.vendor))",
    )


def request_mix(env):
    """The paths of each kind of request, from what the database holds."""
    data = sample(
        env,
        "from trials.models import Trial, RegistryIdentifier as R; "
        "published = Trial.objects.published(); "
        "keys = list(R.objects.filter(is_primary=True, trial__in=published).order_by('?')"
        ".values_list('value', flat=True)[:400]); "
        "curated = list(R.objects.filter(is_primary=True, trial__in=published.exclude(slug__startswith='synthetic-'))"
        ".values_list('value', flat=True)); "
        "print(json.dumps({'keys': keys, 'curated': curated}))",
    )
    filters = [
        {"mechanism": "immune-regulation"},
        {"mechanism": "beta-cell-regeneration", "status": "RECRUITING"},
        {"phase": ["PHASE1", "PHASE1_PHASE2"], "country": "CN"},
        {"cell_source": "MSC_UC", "sort": "start"},
        {"route": "INTRAVENOUS", "diabetes_type": "T1D", "page": "3"},
        {"status": "COMPLETED", "sponsor_class": "INDUSTRY", "page_size": "50"},
        {"started_after": "2018-01-01", "immunosuppression": "NONE"},
        {"mechanism": ["angiogenesis", "trophic-support"], "sort": "title", "page": "2"},
    ]
    searches = ["islet", "mesenchymal stromal", "umbilical cord", "beta cells", "VX-880", "encapsulation device"]
    return {
        "list": ["/trials/", "/trials/?page=2", "/trials/?sort=title&page=10"],
        "filter": ["/trials/?" + urlencode(f, doseq=True) for f in filters],
        "search": ["/trials/?" + urlencode({"q": q}) for q in searches],
        "trial": [f"/trials/{quote(key, safe='')}/" for key in data["keys"] + data["curated"]],
        "export": [
            "/trials/export.csv?" + urlencode(f, doseq=True)
            for f in [
                {"mechanism": "angiogenesis", "status": "RECRUITING"},
                {"q": "VX-880"},
                {"country": "SE"},
                {"phase": "PHASE3", "cell_source": "ESC"},
            ]
        ],
        "pages": ["/", "/mechanisms/", "/mechanisms/immune-regulation/", "/about/"],
    }


# How often each kind of page appears in the pages mix (per 100 requests). Exports are measured on their own: one
# export streams every matching trial, and would measure the database's reading speed, not how many pages a server
# holds. The floor (bench/floor.py: a trivial view through the same middleware) runs alone, under the same settings.
WEIGHTS = {"list": 20, "filter": 25, "search": 15, "trial": 25, "pages": 15}
ALONE = ["export"]
FLOOR_PATH = "/bench/floor"
OPTIONAL_PAGES = ["/evidence/"]  # in the mix when the site has them


def write_paths(paths, weights, path):
    lines = []
    for kind, weight in weights.items():
        for i in range(weight * 10):
            options = paths[kind]
            lines.append(options[i % len(options)])
    random.Random(2026).shuffle(lines)  # interleave the kinds: every connection sees the mix
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def ensure_wrk():
    """wrk, from Debian's package: installed with apt-get when missing (as .ci/run installs Chromium)."""
    if shutil.which("wrk"):
        return
    log("wrk is missing: installing Debian's package (apt-get install wrk)")
    apt = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(["apt-get", "update", "-qq"], env=apt, stdin=subprocess.DEVNULL, check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=apt, stdin=subprocess.DEVNULL, check=True)
    except (OSError, subprocess.CalledProcessError) as error:
        sys.exit(f"could not install wrk ({error}): install it yourself with apt-get install wrk (as root)")
    if not shutil.which("wrk"):
        sys.exit("wrk is still missing after apt-get install wrk")


def answers(port, path):
    """Whether the server answers `path` with a 200."""
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=10) as response:
            return response.status == 200
    except OSError:
        return False


def wait_until_up(port, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"gunicorn did not answer /healthz on {HOST}:{port} within {timeout} s")


def run_wrk(port, paths_file, duration, connections, threads):
    command = [
        "wrk",
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={duration}s",
        "--timeout=10s",
        f"--script={LUA}",
        f"http://{HOST}:{port}",
    ]
    result = subprocess.run(
        command,
        env={**os.environ, "LOADTEST_PATHS": str(paths_file)},
        capture_output=True,
        text=True,
        timeout=duration + 60,
    )
    match = re.search(r"^LOADTEST_JSON (.*)$", result.stdout, re.MULTILINE)
    if result.returncode != 0 or not match:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stdout}\n{result.stderr}")
    figures = json.loads(match.group(1))
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    figures["failed"] = (
        sum(figures["errors"].values())
        - figures["errors"]["status"]
        + sum(count for status, count in figures["statuses"].items() if status != "200")
    )
    figures["5xx"] = sum(count for status, count in figures["statuses"].items() if status.startswith("5"))
    return figures


def ms(microseconds):
    return f"{microseconds / 1000:.1f}"


def results_section(setup, mixed, kinds, verdict):
    rows = [("pages mix (weights below)", mixed), *((kind, figures) for kind, figures in kinds.items())]
    lines = [
        START.format(size=setup["synthetic"]),
        f"## Load test (`make loadtest`): {setup['synthetic']:,} synthetic trials",
        "",
        f"Run on {setup['date']}: {setup['machine']}; load average {setup['load']} just before the run (other work "
        f"on the machine shows here). Database: {setup['engine']} holding {setup['trials']:,} trials "
        f"({setup['curated']:,} curated + {setup['synthetic']:,} synthetic, marked “[SYNTHETIC]”), analyzed. "
        f"Server: gunicorn, {setup['workers']} workers × {setup['threads']} threads (gthread), DEBUG off, on "
        f"{HOST}:{setup['port']}; pages' cache: {setup['cache']}, every page asked for once before the measuring. "
        f"Load: wrk, {setup['connections']} connections on {setup['wrk_threads']} threads; "
        f"the mix for {setup['duration']} s, then each kind alone for {setup['kind_duration']} s. "
        "wrk and gunicorn share the machine's cores.",
        "",
        "| requests | count | errors (non-200 or socket) | 5xx | req/s | mean ms | p50 ms | p90 ms | p99 ms | max ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, f in rows:
        lat = f["latency_us"]
        lines.append(
            f"| {name} | {f['requests']} | {f['failed']} | {f['5xx']} | {f['rps']:.1f} | {ms(lat['mean'])} | "
            f"{ms(lat['p50'])} | {ms(lat['p90'])} | {ms(lat['p99'])} | {ms(lat['max'])} |"
        )
    lines += [
        "",
        f"Pages mix ÷ floor (requests a second, measured in this run): {mixed['rps'] / kinds['floor']['rps']:.2f}."
        if "floor" in kinds
        else "",
        "",
        "Mix per 100 requests: " + ", ".join(f"{kind} {weight}" for kind, weight in WEIGHTS.items()) + ". "
        "list: the first pages and a sorted deep page; filter: eight combinations of filters with sorts and pages; "
        "search: six free-text searches; trial: 400 random published trials' pages plus every curated one; "
        "pages: home, mechanisms, a mechanism, about (and evidence when the site has it). Alone, not in the mix: "
        "export: four filtered CSV exports; floor: a trivial view through the same middleware (`bench/floor.py`).",
        "",
        f"Freshness of the cached pages, during the floor's run (`bench/freshness.py`): {setup['freshness']}.",
        "",
        f"Verdict: {verdict}",
        END.format(size=setup["synthetic"]),
    ]
    return "\n".join(lines) + "\n"


def write_results(section, size):
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
    start, end = START.format(size=size), END.format(size=size)
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + section.rstrip("\n") + after
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=30, help="Seconds of the mixed run (default 30).")
    parser.add_argument("--kind-duration", type=int, default=5, help="Seconds of each kind alone (0: skip).")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--synthetic", type=int, default=10_000, help="Synthetic trials (default 10,000).")
    parser.add_argument("--port", type=int, default=int(os.environ.get("LOADTEST_PORT", 8016)))
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 2) * 2 + 1)
    parser.add_argument("--threads", type=int, default=4, help="Threads per gunicorn worker.")
    parser.add_argument("--no-results", action="store_true", help="Do not write bench/RESULTS.md.")
    parser.add_argument(
        "--reuse", action="store_true", help="Reuse the load test's database when it holds the same trials."
    )
    parser.add_argument(
        "--cache-url",
        default=os.environ.get("LOADTEST_CACHE_URL", ""),
        help="A Redis or Valkey for the workers' shared cache (CACHE_URL), as deployed with several workers; "
        "default LOADTEST_CACHE_URL, else each worker keeps its own.",
    )
    args = parser.parse_args()
    ensure_wrk()

    database_url = os.environ.get("LOADTEST_DATABASE_URL", "sqlite:////tmp/registry_loadtest.sqlite3")
    static_root = Path(tempfile.mkdtemp(prefix="loadtest-static-"))
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": HOST,
        "SECURE_SSL_REDIRECT": "0",  # plain HTTP on the loopback, as behind a TLS-terminating proxy
        "STATIC_ROOT": str(static_root),
        "LOG_LEVEL": "WARNING",
    }
    cache_url = args.cache_url if args.cache_url and cache_answers(args.cache_url) else ""
    if args.cache_url and not cache_url:
        log(f"no cache server answers at {args.cache_url}: each gunicorn worker keeps its own cache")
    if cache_url:
        # A prefix of this run's own: the cache server may hold other sites' keys, and an earlier run's pages.
        env.update({"CACHE_URL": cache_url, "CACHE_KEY_PREFIX": f"loadtest-{secrets.token_hex(4)}"})
    started = time.monotonic()
    if args.reuse and holds_load_test_data(env, args.synthetic):
        log(f"database {database_url}: reused (the load test's own, curated + {args.synthetic} synthetic)")
        manage(env, "migrate", "--noinput", "-v0")
        vacuum_analyze(env)  # after a migration that rewrote rows: as autovacuum would within minutes
    else:
        template = bench_database(env, args.synthetic)
        made = f"a copy of {template}" if template else "fresh"
        log(f"database {database_url}: {made}, migrated, curated trials + {args.synthetic} synthetic, analyzed")
        fresh_database(database_url, template)
        manage(env, "migrate", "--noinput", "-v0")
        manage(env, "load_initial_data")
        if not template:
            manage(env, "make_synthetic_trials", str(args.synthetic), "--alongside-curated")
        # Planner statistics for the bulk-loaded rows, as autovacuum would gather them within minutes: without them
        # PostgreSQL plans the facet counts for empty tables, and a list page takes seconds instead of milliseconds.
        vacuum_analyze(env)
    manage(env, "collectstatic", "--noinput", "-v0")
    log(f"setup took {time.monotonic() - started:.0f} s")
    counts = sample(
        env,
        "from django.db import connection; from trials.models import Trial; "
        "s = Trial.objects.filter(slug__startswith='synthetic-').count(); "
        "print(json.dumps({'trials': Trial.objects.count(), 'synthetic': s, 'engine': connection.vendor}))",
    )
    paths = request_mix(env)
    load = "{:.2f}, {:.2f}, {:.2f} (1, 5, 15 min)".format(*os.getloadavg())

    server_log = Path(tempfile.mkstemp(prefix="loadtest-gunicorn-", suffix=".log")[1])
    gunicorn = subprocess.Popen(
        [
            str(Path(PY).parent / "gunicorn"),
            "bench.floor:wsgi_application()",  # the site's own URLs, plus the floor view
            f"--bind={HOST}:{args.port}",
            f"--workers={args.workers}",
            "--worker-class=gthread",
            f"--threads={args.threads}",
            "--access-logfile=-",
            "--access-logformat=%(s)s %(r)s",
            "--graceful-timeout=5",
            "--no-control-socket",  # gunicorn 27's is at one path shared by every instance on the machine
        ],
        cwd=ROOT,
        env=env,
        stdout=server_log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until_up(args.port)
        for path in OPTIONAL_PAGES:
            if answers(args.port, path):
                paths["pages"].append(path)
        with tempfile.TemporaryDirectory() as folder:
            mixed_file = Path(folder) / "mixed.txt"
            write_paths(paths, WEIGHTS, mixed_file)
            log(f"every page once took {warm(args.port, paths):.1f} s; then 5 s of the mix to warm up")
            run_wrk(args.port, mixed_file, 5, args.connections, args.wrk_threads)  # each worker fills its cache
            log(f"the mix for {args.duration} s at {args.connections} connections")
            mixed = run_wrk(args.port, mixed_file, args.duration, args.connections, args.wrk_threads)
            log(f"pages mix: {mixed['requests']} requests, {mixed['rps']:.1f}/s, {mixed['failed']} failed")
            kinds = {}
            floor_file = Path(folder) / "floor.txt"
            floor_file.write_text(FLOOR_PATH + "\n")
            # The floor under the same wrk settings and duration as the pages mix; meanwhile, on PostgreSQL (where
            # each worker learns of changes from notifications), how fresh the cached pages stay after commits.
            probe, fresh_pages = None, "not measured (SQLite: every request reads the data version)"
            if database_url.startswith(("postgres://", "postgresql://")):
                probe = freshness.Probe(database_url, args.port, rounds=max(1, int(args.duration // 3)))
                probe.start()
            kinds["floor"] = run_wrk(args.port, floor_file, args.duration, args.connections, args.wrk_threads)
            f = kinds["floor"]
            log(f"floor: {f['requests']} requests, {f['rps']:.1f}/s, {f['failed']} failed")
            if probe is not None:
                probe.join()
                fresh_pages = probe.error or freshness.describe(probe.result)
                log(f"freshness: {fresh_pages}")
                # Its commits made every cached page old: each kind alone is measured on cached pages again.
                log(f"every page once again (after the probe's commits) took {warm(args.port, paths):.1f} s")
            for kind in [*WEIGHTS, *ALONE] if args.kind_duration else ALONE:
                kind_file = Path(folder) / f"{kind}.txt"
                kind_file.write_text("\n".join(paths[kind]) + "\n")
                duration = args.kind_duration or 3
                kinds[kind] = run_wrk(args.port, kind_file, duration, args.connections, args.wrk_threads)
                f = kinds[kind]
                log(f"{kind}: {f['requests']} requests, {f['rps']:.1f}/s, {f['failed']} failed, {f['statuses']}")
    finally:
        os.killpg(gunicorn.pid, signal.SIGTERM)
        gunicorn.wait(timeout=30)
        shutil.rmtree(static_root, ignore_errors=True)

    server_output = server_log.read_text()
    tracebacks = server_output.count("Traceback")
    failed = mixed["failed"] + sum(f["failed"] for f in kinds.values())
    fives = mixed["5xx"] + sum(f["5xx"] for f in kinds.values())
    total = mixed["requests"] + sum(f["requests"] for f in kinds.values())
    ok = failed == 0 and fives == 0 and tracebacks == 0
    verdict = (
        f"{'PASS' if ok else 'FAIL'}: {total} requests, {failed} errors, {fives} answers 5xx, "
        f"{tracebacks} tracebacks in the server's log."
    )
    setup = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}",
        "load": load,
        "engine": {"postgresql": "PostgreSQL", "sqlite": "SQLite"}.get(counts["engine"], counts["engine"]),
        "trials": counts["trials"],
        "synthetic": counts["synthetic"],
        "curated": counts["trials"] - counts["synthetic"],
        "workers": args.workers,
        "threads": args.threads,
        "port": args.port,
        "connections": args.connections,
        "wrk_threads": args.wrk_threads,
        "duration": args.duration,
        "kind_duration": args.kind_duration,
        "cache": f"a shared Redis ({cache_url})" if cache_url else "each worker's own (no CACHE_URL)",
        "freshness": fresh_pages,
    }
    if not args.no_results:
        write_results(results_section(setup, mixed, kinds, verdict), setup["synthetic"])
        log(f"wrote {RESULTS.relative_to(ROOT)}")
    log(verdict)
    print(
        f"loadtest trials={counts['trials']} floor_rps={kinds['floor']['rps']:.0f} pages_rps={mixed['rps']:.0f} "
        f"pages_p99_ms={mixed['latency_us']['p99'] / 1000:.1f} errors={failed + fives}"
    )
    if tracebacks:
        print(server_output[-5000:])
    else:
        server_log.unlink()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
