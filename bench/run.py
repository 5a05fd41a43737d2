"""The registry's benchmark: request times, SQL queries per page and the CSV export against PostgreSQL's COPY.

    .venv/bin/python bench/run.py                      # full run: PostgreSQL at 1,000, 10,000 and 100,000 trials,
                                                       # SQLite at 10,000; writes bench/RESULTS.md
    .venv/bin/python bench/run.py --sizes 2000         # quick run (what `make bench BENCH_SIZES=2000` does)

Every size gets a database of its own, filled with synthetic trials by `manage.py make_synthetic_trials`:
PostgreSQL databases `bench_<size>` on the local server (BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432)
and SQLite files `/tmp/bench_<size>.sqlite3`. The registry's own databases are never touched.

The measuring itself runs in a child process per database (Django reads DATABASE_URL once, at start):
`run.py measure` times the pages through the full Django stack (the test Client: middleware, URL routing,
views, templates; DEBUG off) and counts their SQL queries; `run.py export-memory` exports the whole CSV once,
in a fresh process, and reports the process's peak resident memory. The last line printed sums up the targets.
"""

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
LAST_RUN = ROOT / "bench" / "last-run.md"
PG_SERVER = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
DEFAULT_SIZES = [1000, 10_000, 100_000]
SQLITE_SIZE = 10_000
STATIC_ROOT = Path("/tmp/bench_static")
FLOOR_PATH = "/bench/floor"  # bench/floor.py: a trivial view through the same middleware

# The pages measured: (name, path, query string). {trial} and {mechanism} are filled in from the database.
PAGES = [
    ("home", "/", ""),
    ("list", "/trials/", ""),
    ("list_two_filters", "/trials/", "mechanism=immune-regulation&country=US"),
    ("list_search", "/trials/", "q=pancreatic+islet"),
    ("list_sorted", "/trials/", "sort=title"),
    ("trial_page", "/trials/{trial}/", ""),
    ("mechanism_page", "/mechanisms/{mechanism}/", ""),
]
LIST_PAGES = {"list", "list_two_filters", "list_search", "list_sorted"}

# The targets at 100,000 trials on PostgreSQL (issue 17; see bench/RESULTS.md).
TARGETS = {
    "warm_p95_ms": 5,  # list, search, trial and mechanism pages, in-process
    "warm_vs_floor": 3,  # ... and at most this many times the floor
    "first_reader_p95_ms": 100,  # the first reader after a change
    "search_uncached_p95_ms": 50,
    "search_vs_sql": 1.5,
    "csv_vs_copy": 0.9,
    "csv_first_byte_ms": 300,
    "csv_mem_growth_mb": 50,
    "admin_list_counts_p95_ms": 200,  # at 10,000 trials
}
ADMIN_SIZE = 10_000  # the size the admin list's target is judged at
ADMIN_LISTS = [("admin_list", ""), ("admin_list_counts", "?_facets=True")]
WARM_PAGES = ("list", "list_two_filters", "list_sorted", "list_search", "trial_page", "mechanism_page")

MARK_START = "<!-- bench:start (written by bench/run.py; other sections of this file are kept) -->"
MARK_END = "<!-- bench:end -->"


# --- The child processes: run inside one bench database ------------------------------------------------


def django_setup():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def percentile(values, fraction):
    """The nearest-rank percentile of `values` (fraction 0.5 for the median, 0.95 for p95)."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def page_urls():
    """The measured pages' paths, with a real trial (one from the middle of the table) and a mechanism."""
    from mechanisms.models import Mechanism
    from trials.models import Trial

    published = Trial.objects.published().with_primary_identifier().order_by("pk")
    count = published.count()
    trial = published[count // 2]
    mechanism = Mechanism.objects.get(slug="immune-regulation")
    urls = []
    for name, path, query in PAGES:
        path = path.format(trial=trial.public_key, mechanism=mechanism.slug)
        urls.append((name, path + (f"?{query}" if query else "")))
    return urls


def time_page(client, url, repetitions, warmup=3):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(warmup):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    queries = len(captured.captured_queries)  # read now: the next request empties the connection's log
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    return {
        "p50_ms": round(percentile(times, 0.5), 2),
        "p95_ms": round(percentile(times, 0.95), 2),
        "queries": queries,
        "repetitions": repetitions,
        "bytes": len(response.content),
    }


def time_export(client, url="/trials/export.csv"):
    """One full export through the stack: time to the first byte (the header), to the first trial's row, and
    rows per second over the whole file."""
    start = time.perf_counter()
    response = client.get(url)
    assert response.status_code == 200 and response.streaming
    first_byte = first_row = None
    lines = 0
    size = 0
    for chunk in response.streaming_content:
        now = time.perf_counter()
        if first_byte is None:
            first_byte = now
        lines += chunk.count(b"\r\n")
        size += len(chunk)
        if first_row is None and lines >= 2:
            first_row = now
    total = time.perf_counter() - start
    response.close()
    rows = lines - 1  # the header
    return {
        "rows": rows,
        "seconds": total,
        "rows_per_s": rows / total if total else 0,
        "first_byte_ms": (first_byte - start) * 1000,
        "first_row_ms": ((first_row or time.perf_counter()) - start) * 1000,
        "megabytes": size / 1e6,
    }


def time_copy():
    """PostgreSQL's own limit: COPY (the export's query, parameters bound) TO STDOUT WITH CSV, read to the end."""
    from django.db import connection

    from trials.export_query import export_values
    from trials.filters import filtered_trials

    _, trials = filtered_trials({})
    sql, params = export_values(trials)[0].query.sql_with_params()
    connection.ensure_connection()
    import psycopg

    raw = connection.connection
    bound = psycopg.ClientCursor(raw).mogrify(sql, params)
    start = time.perf_counter()
    size = 0
    rows = 0
    with raw.cursor() as cursor, cursor.copy(f"COPY ({bound}) TO STDOUT WITH CSV") as copy:
        for data in copy:
            size += len(data)
            rows += 1
    total = time.perf_counter() - start
    return {"rows": rows, "seconds": total, "rows_per_s": rows / total, "megabytes": size / 1e6}


def time_sql_alone(client, url, repetitions):
    """The SQL of `url` with nothing cached, run alone: every query the request made, replayed in order on the
    same connection (the data version and the cache aside, the page's own reads), timed together."""
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from trials.facets import current_facet_index

    cache.clear()
    current_facet_index()
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    statements = [query["sql"] for query in captured.captured_queries]
    times = []
    with connection.cursor() as cursor:
        for _ in range(repetitions):
            start = time.perf_counter()
            for sql in statements:
                cursor.execute(sql)
                if cursor.description is not None:  # not BEGIN, SET or COMMIT (a search's index_scans)
                    cursor.fetchall()
            times.append((time.perf_counter() - start) * 1000)
    return {"p95_ms": round(percentile(times, 0.95), 2), "queries": len(statements)}


def time_admin(repetitions):
    """The curators' trial list, signed in as a superuser, without and with its filters' counts (`_facets`, which
    Django's admin counts when asked)."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    url = reverse("admin:trials_trial_changelist")
    return {
        name: {"url": url + query, **time_page(client, url + query, repetitions, warmup=1)}
        for name, query in ADMIN_LISTS
    }


def measure(args):
    """Child: time every page and the export on the database DATABASE_URL names; print JSON."""
    django_setup()
    from bench.floor import use_floor_urls

    use_floor_urls()
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client

    from trials.facets import current_facet_index
    from trials.models import Trial

    client = Client()
    result = {
        "vendor": connection.vendor,
        "trials": Trial.objects.count(),
        "published": Trial.objects.published().count(),
        "pages": {},
    }
    from trials import data_version

    result["floor"] = time_page(client, FLOOR_PATH, args.repetitions)
    cold_repetitions = max(5, args.repetitions // 4)
    for name, url in page_urls():
        page = result["pages"][name] = {"url": url, **time_page(client, url, args.repetitions)}
        # The first reader after a change: a write commits (bump(): the counts are counted on commit, as after a
        # curator's save), then the page is built afresh, its counts read from the cache.
        first, writes = [], []
        for _ in range(cold_repetitions):
            start = time.perf_counter()
            data_version.bump()
            writes.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            response = client.get(url)
            first.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200 and response["X-Page-Cache"] == "miss", url
        page["first_p95_ms"] = round(percentile(first, 0.95), 2)
        page["write_recount_p95_ms"] = round(percentile(writes, 0.95), 2)
        # Nothing cached (the cache emptied before each request): the page and its counts built afresh, with what
        # is counted on write (the facet index, trials/facet_index.py) counted again first, as a write does.
        cold = []
        for _ in range(cold_repetitions):
            cache.clear()
            current_facet_index()
            start = time.perf_counter()
            client.get(url)
            cold.append((time.perf_counter() - start) * 1000)
        page["cold_p95_ms"] = round(percentile(cold, 0.95), 2)
        page["cold_p50_ms"] = round(percentile(cold, 0.5), 2)
    result["search_sql"] = time_sql_alone(client, dict(page_urls())["list_search"], cold_repetitions)
    result["admin"] = time_admin(min(args.repetitions, 15))

    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        time_export(client)
    export_queries = len(captured.captured_queries)
    exports = [time_export(client) for _ in range(args.export_repetitions)]
    export = {
        "rows": exports[0]["rows"],
        "rows_per_s": statistics.median(e["rows_per_s"] for e in exports),
        "first_byte_ms": statistics.median(e["first_byte_ms"] for e in exports),
        "first_row_ms": statistics.median(e["first_row_ms"] for e in exports),
        "megabytes": exports[0]["megabytes"],
        "queries": export_queries,
    }
    if connection.vendor == "postgresql":
        copies = [time_copy() for _ in range(args.export_repetitions)]
        assert copies[0]["rows"] == export["rows"], (copies[0]["rows"], export["rows"])
        export["copy_rows_per_s"] = statistics.median(c["rows_per_s"] for c in copies)
        export["copy_megabytes"] = copies[0]["megabytes"]
        export["vs_copy"] = export["rows_per_s"] / export["copy_rows_per_s"]
    result["export"] = export
    print(json.dumps(result))


def export_memory(args):
    """Child: the peak resident memory of this process before and after one full CSV export (in MB)."""
    import resource

    django_setup()
    from django.test import Client

    client = Client()
    # Imports, templates, the connection: everything but the export itself. Not the home page, which builds the
    # facet index (trials/facet_index.py), whose memory is not the export's (at 100,000 trials it made the process
    # 65 MB larger before the export began).
    client.get("/about/")
    client.get("/trials/export.csv?page_size=10&q=nothing-matches-this")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    export = time_export(client)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": export["rows"], "before_mb": before, "peak_mb": after, "growth_mb": after - before}))


# --- The parent: databases, data, children, report --------------------------------------------------------


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def python():
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv if venv.exists() else sys.executable)


def child_env(database_url):
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "DEBUG": "0",
            "SECRET_KEY": "bench-only-secret-key-not-used-anywhere-else-0123456789",
            "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "0",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            # DEBUG off serves hashed static files from a manifest, as production does (collected once per run).
            "STATIC_ROOT": str(STATIC_ROOT),
        }
    )
    # Filling and analyzing 100,000 trials runs statements longer than a page's timeout (DATABASE_STATEMENT_TIMEOUT).
    env.setdefault("DATABASE_STATEMENT_TIMEOUT", "0")
    return env


def run(command, database_url, capture=False):
    result = subprocess.run(
        command, cwd=ROOT, env=child_env(database_url), check=False, text=True, capture_output=capture
    )
    if result.returncode != 0:
        if capture:
            sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"bench: {' '.join(map(str, command))} failed (exit {result.returncode})")
    return result.stdout if capture else None


def manage(database_url, *arguments, capture=False):
    return run([python(), "manage.py", *arguments], database_url, capture=capture)


def pg_admin(*statements):
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement)


def pg_count_trials(database_url):
    import psycopg

    try:
        with psycopg.connect(database_url) as connection:
            row = connection.execute("SELECT count(*) FROM trials_trial").fetchone()
            return row[0]
    except psycopg.Error:
        return None


def prepare(engine, size, reuse):
    """A database of its own holding `size` synthetic trials, migrated and analysed; returns its URL."""
    if engine == "postgresql":
        name = f"bench_{size}"
        url = f"{PG_SERVER}/{name}"
        if reuse and pg_count_trials(url) == size:
            log(f"{name}: reusing ({size} trials); migrating, then VACUUM ANALYZE")
            manage(url, "migrate", "--noinput", "-v0")
            # A migration that rewrites rows (as one that fills a new column does) clears the visibility map: until
            # a vacuum, the narrow indexes' index-only scans read the heap (the default list's ids took 300 ms
            # instead of 59). Autovacuum catches up within minutes in use.
            import psycopg

            with psycopg.connect(url, autocommit=True) as connection:
                connection.execute("VACUUM ANALYZE")
            return url, 0.0
        pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    else:
        path = Path(f"/tmp/bench_{size}.sqlite3")
        url = f"sqlite:///{path}"
        if reuse and path.exists():
            log(f"{path}: reusing; migrating")
            manage(url, "migrate", "--noinput", "-v0")
            return url, 0.0
        path.unlink(missing_ok=True)
    log(f"{engine} {size}: migrating")
    manage(url, "migrate", "--noinput", "-v0")
    log(f"{engine} {size}: generating {size} synthetic trials")
    start = time.perf_counter()
    manage(url, "make_synthetic_trials", str(size))
    seconds = time.perf_counter() - start
    if engine == "postgresql":
        import psycopg

        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE")
    log(f"{engine} {size}: generated in {seconds:.1f} s")
    return url, seconds


def measure_database(url, size, args):
    load_before = os.getloadavg()
    log(f"measuring {url.rsplit('/', 1)[-1]} (load average {load_before[0]:.2f}, {load_before[1]:.2f})")
    command = [python(), __file__, "measure", "--repetitions", str(args.repetitions)]
    command += ["--export-repetitions", str(args.export_repetitions)]
    result = json.loads(run(command, url, capture=True).strip().splitlines()[-1])
    assert result["trials"] == size, f"expected {size} trials, found {result['trials']}"
    memory = json.loads(run([python(), __file__, "export-memory"], url, capture=True).strip().splitlines()[-1])
    result["export"]["memory"] = memory
    # The machine is shared: the load average (1 and 5 minutes) around the measuring says how quiet it was.
    result["load"] = (load_before, os.getloadavg())
    return result


def machine():
    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        match = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        cpu = match.group(1).strip() if match else ""
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        match = re.search(r"MemTotal:\s*(\d+) kB", meminfo.read_text())
        memory = f"{int(match.group(1)) / 1024 / 1024:.0f} GiB" if match else ""
    try:
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres") as connection:
            server = connection.execute("SHOW server_version").fetchone()[0]
    except Exception:  # noqa: BLE001 - only for the report
        server = "?"
    import sqlite3

    import django

    return {
        "cpu": cpu or platform.processor(),
        "cores": os.cpu_count(),
        "memory": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "postgresql": server,
        "sqlite": sqlite3.sqlite_version,
    }


# --- Report ----------------------------------------------------------------------------------------------


def fmt(value, digits=1):
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def summary(results, sizes):
    """The figures the targets are judged on, at the largest PostgreSQL size (100,000 in a full run)."""
    largest = max(sizes)
    pg = results[("postgresql", largest)]
    pages = pg["pages"]
    memory = {size: results[("postgresql", size)]["export"]["memory"]["peak_mb"] for size in sizes}
    smallest_for_memory = 10_000 if 10_000 in sizes and largest > 10_000 else min(sizes)
    growth = memory[largest] - memory[smallest_for_memory] if largest != smallest_for_memory else None
    queries_same = all(
        len({results[("postgresql", size)]["pages"][name]["queries"] for size in sizes}) == 1 for name in pages
    )
    export_queries_same = len({results[("postgresql", size)]["export"]["queries"] for size in sizes}) == 1
    lists = ("list", "list_two_filters", "list_sorted")
    floor = pg["floor"]["p95_ms"]
    return {
        "size": largest,
        "floor_p95_ms": floor,
        "list_p95_ms": max(pages[name]["p95_ms"] for name in lists),
        "trial_p95_ms": pages["trial_page"]["p95_ms"],
        "mechanism_p95_ms": pages["mechanism_page"]["p95_ms"],
        "search_p95_ms": pages["list_search"]["p95_ms"],
        "warm_p95_ms": max(pages[name]["p95_ms"] for name in WARM_PAGES),
        "warm_vs_floor": max(pages[name]["p95_ms"] for name in WARM_PAGES) / floor,
        # The first reader after a change: the counts counted on write, the page built afresh.
        "list_cold_p95_ms": max(pages[name]["first_p95_ms"] for name in lists),
        "first_reader_p95_ms": max(page["first_p95_ms"] for page in pages.values()),
        "write_recount_p95_ms": max(page["write_recount_p95_ms"] for page in pages.values()),
        # Nothing cached: the page and its counts built afresh.
        "list_uncached_p95_ms": max(pages[name]["cold_p95_ms"] for name in lists),
        "search_uncached_p95_ms": pages["list_search"]["cold_p95_ms"],
        "search_sql_p95_ms": pg["search_sql"]["p95_ms"],
        "search_vs_sql": pages["list_search"]["cold_p95_ms"] / pg["search_sql"]["p95_ms"],
        "csv_vs_copy": pg["export"]["vs_copy"],
        "csv_first_byte_ms": pg["export"]["first_row_ms"],
        "csv_mem_growth_mb": growth,
        "memory_from": smallest_for_memory,
        "queries_constant": queries_same and export_queries_same,
        "admin_list_counts_p95_ms": (
            results[("postgresql", ADMIN_SIZE)]["admin"]["admin_list_counts"]["p95_ms"]
            if ("postgresql", ADMIN_SIZE) in results
            else None
        ),
    }


def target_rows(figures):
    label = {100_000: "100k"}.get(figures["size"], f"{figures['size']:,}")
    rows = []

    def row(what, value, target, ok, unit=""):
        shown = "n/a" if value is None else f"{fmt(value, 2 if unit == '×' else 1)}{unit}"
        verdict = "n/a" if value is None else ("met" if ok else "**missed**")
        rows.append(f"| {what} | {shown} | {target} | {verdict} |")

    t = TARGETS
    floor = fmt(figures["floor_p95_ms"], 2)
    rows.append(f"| floor p95 at {label}: a trivial view through the same middleware | {floor} ms | (yardstick) | |")
    row(f"warm p95 at {label}, worst of list (3 kinds), search, trial and mechanism pages", figures["warm_p95_ms"],
        f"≤ {t['warm_p95_ms']} ms", figures["warm_p95_ms"] <= t["warm_p95_ms"], " ms")  # fmt: skip
    row("… that worst ÷ the floor", figures["warm_vs_floor"], f"≤ {t['warm_vs_floor']}×",
        figures["warm_vs_floor"] <= t["warm_vs_floor"], "×")  # fmt: skip
    row(f"first reader after a change p95 at {label} (worst page; counts counted on write)",
        figures["first_reader_p95_ms"], f"≤ {t['first_reader_p95_ms']} ms",
        figures["first_reader_p95_ms"] <= t["first_reader_p95_ms"], " ms")  # fmt: skip
    recount = fmt(figures["write_recount_p95_ms"])
    rows.append(f"| … the writer's recount after its commit, p95 | {recount} ms | (the writer's) | for information |")
    row(f"search p95 at {label} with nothing cached", figures["search_uncached_p95_ms"],
        f"≤ {t['search_uncached_p95_ms']} ms", figures["search_uncached_p95_ms"] <= t["search_uncached_p95_ms"],
        " ms")  # fmt: skip
    row("… ÷ its own SQL run alone", figures["search_vs_sql"], f"≤ {t['search_vs_sql']}×",
        figures["search_vs_sql"] <= t["search_vs_sql"], "×")  # fmt: skip
    row(f"CSV export rows/s ÷ COPY rows/s at {label}", figures["csv_vs_copy"], f"≥ {t['csv_vs_copy']:.2f}",
        figures["csv_vs_copy"] >= t["csv_vs_copy"], "×")  # fmt: skip
    row(f"CSV time to the first trial's row at {label}", figures["csv_first_byte_ms"], "< 300 ms",
        figures["csv_first_byte_ms"] < t["csv_first_byte_ms"], " ms")  # fmt: skip
    growth = figures["csv_mem_growth_mb"]
    row(f"CSV peak memory growth, {figures['memory_from']:,} → {figures['size']:,} rows", growth, "≤ 50 MB",
        growth is not None and growth <= t["csv_mem_growth_mb"], " MB")  # fmt: skip
    row(f"admin trial list with its filters' counts p95 at {ADMIN_SIZE:,}, signed in",
        figures["admin_list_counts_p95_ms"], f"≤ {t['admin_list_counts_p95_ms']} ms",
        (figures["admin_list_counts_p95_ms"] or 0) <= t["admin_list_counts_p95_ms"], " ms")  # fmt: skip
    rows.append(
        f"| same number of SQL queries per page at every size | {'yes' if figures['queries_constant'] else 'no'} "
        f"| yes | {'met' if figures['queries_constant'] else '**missed**'} |"
    )
    return rows


def report(results, sizes, sqlite_size, info, generation, elapsed):
    lines = [
        MARK_START,
        "## Benchmark (`make bench`)",
        "",
        f"Run on {info['date']} in {elapsed / 60:.1f} minutes: {info['cpu']}, {info['cores']} cores, "
        f"{info['memory']} memory; {info['os']}; Python {info['python']}, Django {info['django']}, "
        f"PostgreSQL {info['postgresql']}, SQLite {info['sqlite']}. Sizes: PostgreSQL "
        f"{', '.join(f'{s:,}' for s in sizes)} trials; SQLite {sqlite_size:,}. Synthetic trials "
        "(`manage.py make_synthetic_trials`), in databases of their own.",
        "",
        "Request times are in-process (Django's test Client through the whole stack: middleware, routing, view, "
        "template; DEBUG off; persistent database connection; the per-process cache). *Warm*: p50 and p95 over "
        "the repetitions after 3 warm-up requests (served by the pages' cache). *First reader*: a write commits "
        "before each request (`data_version.bump()`, which recounts as a curator's save does), then the page is "
        "built afresh. *Nothing cached*: every cache emptied before each request. The *floor* is a trivial view "
        "(`bench/floor.py`) through the same middleware; each ratio is of figures measured in the same run.",
        "",
        "### Targets",
        "",
        "| target | measured | target | |",
        "| --- | ---: | --- | --- |",
        *target_rows(summary(results, sizes)),
        "",
        "### Pages: warm p50 / p95 in ms (first reader p95; nothing cached p95), SQL queries when warm",
        "",
    ]
    columns = [("postgresql", size) for size in sizes] + [("sqlite", sqlite_size)]
    header = "| page | " + " | ".join(f"{'PostgreSQL' if e == 'postgresql' else 'SQLite'} {s:,}" for e, s in columns)
    lines += [header + " |", "| --- |" + " ---: |" * len(columns)]
    first = results[columns[0]]["pages"]
    for name in first:
        cells = []
        for key in columns:
            page = results[key]["pages"].get(name)
            if page is None:
                cells.append("")
                continue
            cells.append(
                f"{fmt(page['p50_ms'])} / {fmt(page['p95_ms'])} ({fmt(page['first_p95_ms'])}; "
                f"{fmt(page['cold_p95_ms'])}), {page['queries']} q"
            )
        lines.append(f"| {name} `{first[name]['url']}` | " + " | ".join(cells) + " |")
    floors = [results[key]["floor"] for key in columns]
    lines.append(
        f"| floor `{FLOOR_PATH}` | "
        + " | ".join(f"{fmt(f['p50_ms'], 2)} / {fmt(f['p95_ms'], 2)}, {f['queries']} q" for f in floors)
        + " |"
    )
    lines.append(
        "| search's own SQL alone (nothing cached), p95 | "
        + " | ".join(
            f"{fmt(results[key]['search_sql']['p95_ms'])} ({results[key]['search_sql']['queries']} q)"
            for key in columns
        )
        + " |"
    )
    for name, _ in ADMIN_LISTS:
        url = results[columns[0]]["admin"][name]["url"]
        lines.append(
            f"| {name} `{url}` (signed in; warm = p50 / p95 of repeated requests) | "
            + " | ".join(
                f"{fmt(results[key]['admin'][name]['p50_ms'])} / {fmt(results[key]['admin'][name]['p95_ms'])}, "
                f"{results[key]['admin'][name]['queries']} q"
                for key in columns
            )
            + " |"
        )
    lines += [
        "",
        "### CSV export (`/trials/export.csv`, every published trial)",
        "",
        "| | " + " | ".join(f"{'PostgreSQL' if e == 'postgresql' else 'SQLite'} {s:,}" for e, s in columns) + " |",
        "| --- |" + " ---: |" * len(columns),
    ]

    def export_row(label, get):
        cells = []
        for key in columns:
            try:
                cells.append(get(results[key]["export"]))
            except (KeyError, TypeError):
                cells.append("")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    export_row("rows", lambda e: fmt(e["rows"]))
    export_row("export rows/s", lambda e: fmt(e["rows_per_s"], 0))
    export_row("COPY (same query) TO STDOUT rows/s", lambda e: fmt(e["copy_rows_per_s"], 0))
    export_row("export ÷ COPY", lambda e: fmt(e["vs_copy"], 2))
    export_row("first byte (header), ms", lambda e: fmt(e["first_byte_ms"]))
    export_row("first trial's row, ms", lambda e: fmt(e["first_row_ms"]))
    export_row("file size, MB (COPY's)", lambda e: f"{fmt(e['megabytes'])} ({fmt(e.get('copy_megabytes'))})")
    export_row("peak RSS of an exporting process, MB", lambda e: fmt(e["memory"]["peak_mb"]))
    export_row("… of which the export added, MB", lambda e: fmt(e["memory"]["growth_mb"]))
    export_row("SQL queries", lambda e: str(e["queries"]))
    lines += [
        "",
        "Load average of the machine (1 min, 5 min; 2 cores, shared with other work) before → after measuring: "
        + "; ".join(
            f"{'PostgreSQL' if e == 'postgresql' else 'SQLite'} {s:,}: {before[0]:.2f}, {before[1]:.2f} → "
            f"{after[0]:.2f}, {after[1]:.2f}"
            for (e, s), (before, after) in ((key, results[key]["load"]) for key in columns)
        )
        + ".",
        "",
        "Generation of the synthetic trials (seconds): "
        + ", ".join(f"{e} {s:,}: {fmt(t)}" for (e, s), t in generation.items())
        + " (0 when a database was reused).",
        MARK_END,
    ]
    return "\n".join(lines) + "\n"


def write_results(path, section):
    """Replace this script's section of `path`, keeping every other section (e.g. the load test's)."""
    old = path.read_text() if path.exists() else "# Benchmark results\n\n"
    if MARK_START in old and MARK_END in old:
        before, rest = old.split(MARK_START, 1)
        after = rest.split(MARK_END, 1)[1].lstrip("\n")
        new = before + section + ("\n" + after if after else "")
    else:
        new = old.rstrip("\n") + "\n\n" + section
    path.write_text(new)


def last_line(figures):
    def value(name):
        x = figures[name]
        return "n/a" if x is None else (f"{x:.2f}" if isinstance(x, float) else str(x))

    names = ["floor_p95_ms", "list_p95_ms", "list_cold_p95_ms", "search_p95_ms", "search_uncached_p95_ms"]
    names += ["search_sql_p95_ms", "trial_p95_ms", "csv_vs_copy"]
    return f"bench size={figures['size']} " + " ".join(f"{name}={value(name)}" for name in names)


def main_run(args):
    started = time.perf_counter()
    sizes = sorted(args.sizes)
    sqlite_size = args.sqlite_size or (SQLITE_SIZE if SQLITE_SIZE in sizes else min(max(sizes), SQLITE_SIZE))
    info = machine()
    info["date"] = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    results, generation = {}, {}
    manage("sqlite:////tmp/bench_static.sqlite3", "collectstatic", "--noinput", "-v0")
    plan = [("postgresql", size) for size in sizes] + [("sqlite", sqlite_size)]
    for engine, size in plan:
        url, seconds = prepare(engine, size, args.reuse)
        generation[(engine, size)] = seconds
        results[(engine, size)] = measure_database(url, size, args)
        pages = results[(engine, size)]["pages"]
        log(
            f"{engine} {size}: floor p95 {results[(engine, size)]['floor']['p95_ms']:.2f} ms, "
            + ", ".join(
                f"{name} p95 {page['p95_ms']:.1f} ms (first reader {page['first_p95_ms']:.0f}, nothing cached "
                f"{page['cold_p95_ms']:.0f}; {page['queries']} q)"
                for name, page in pages.items()
            )
        )
        export = results[(engine, size)]["export"]
        log(
            f"{engine} {size}: export {export['rows_per_s']:.0f} rows/s"
            + (f", COPY {export['copy_rows_per_s']:.0f} rows/s" if "copy_rows_per_s" in export else "")
            + f", first row {export['first_row_ms']:.0f} ms, peak {export['memory']['peak_mb']:.0f} MB"
        )
    elapsed = time.perf_counter() - started
    section = report(results, sizes, sqlite_size, info, generation, elapsed)
    LAST_RUN.write_text("# Last benchmark run\n\n" + section)
    if set(DEFAULT_SIZES) <= set(sizes):
        write_results(RESULTS, section)
        log(f"wrote {RESULTS.relative_to(ROOT)} (and {LAST_RUN.relative_to(ROOT)})")
    else:
        log(f"quick run: wrote {LAST_RUN.relative_to(ROOT)} ({RESULTS.relative_to(ROOT)} holds full runs only)")
    (ROOT / "bench" / "last-run.json").write_text(
        json.dumps({f"{e}_{s}": r for (e, s), r in results.items()}, indent=1)
    )
    log(f"done in {elapsed:.0f} s")
    print(last_line(summary(results, sizes)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    child = sub.add_parser("measure", help="(internal) measure the database DATABASE_URL names")
    child.add_argument("--repetitions", type=int, default=30)
    child.add_argument("--export-repetitions", type=int, default=3)
    sub.add_parser("export-memory", help="(internal) peak memory of one full export")
    parser.add_argument(
        "--sizes",
        default=os.environ.get("BENCH_SIZES", ""),
        help="comma- or space-separated numbers of trials (default 1000,10000,100000)",
    )
    parser.add_argument("--sqlite-size", type=int, default=0, help="SQLite size (default 10000, or the largest)")
    parser.add_argument("--repetitions", type=int, default=30, help="timed requests per page (default 30)")
    parser.add_argument("--export-repetitions", type=int, default=3, help="full exports and COPYs timed (default 3)")
    parser.add_argument("--reuse", action="store_true", help="reuse bench databases that hold the right count")
    args = parser.parse_args()
    if args.command == "measure":
        measure(args)
    elif args.command == "export-memory":
        export_memory(args)
    else:
        args.sizes = [int(s) for s in re.split(r"[,\s]+", args.sizes.strip()) if s] or DEFAULT_SIZES
        main_run(args)


if __name__ == "__main__":
    main()
