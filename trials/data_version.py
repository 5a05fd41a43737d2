"""The registry's data version: one row that changes whenever anything a public page shows may have changed.

Public pages and their counts are cached under it (trials/page_cache.py, trials/facets.py), so a cached page is
never stale: the first read after a write sees a new version and misses the cache.

Every write path changes it, by construction rather than by care:
- `bump()` is the one function that changes it, in the caller's transaction;
- a database trigger on every table of the project's apps (mechanisms, trials, and any app added beside them)
  does the same for every INSERT, UPDATE, DELETE (and TRUNCATE on PostgreSQL), whoever writes: the admin, an
  action, a command, bulk_create, queryset.update(), loaddata, raw SQL. `install_triggers` puts them on every
  such table after each `migrate` (the post_migrate signal), so a new model is covered with no code;
- after a transaction that changed the registry through the ORM commits, the public counts are counted afresh
  (`refresh_counts`), so that no reader waits for them.

The version is a counter and the time of the change (to the microsecond on PostgreSQL); the time makes it unique
even when a rolled-back transaction or a database made afresh counts the same number again. On PostgreSQL the
row is updated once per transaction (updating one row thousands of times in a transaction slows each update);
the statements after the first count in a transaction-local setting, which only that transaction sees, so
its own reads still see a new version after each of its writes.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections, transaction

TABLE = "registry_data_version"
TRIGGER = "registry_data_changed"
BUMP_FUNCTION = "registry_bump_data_version"
LOCAL_SETTING = "registry.data_changes"  # PostgreSQL: statements that changed data in this transaction
NOTIFY_CHANNEL = "registry_data_version"  # PostgreSQL: told of every commit that changed it (trials/version_watch.py)

CREATE_TABLE = {
    "postgresql": [
        f"CREATE TABLE IF NOT EXISTS {TABLE} (id integer PRIMARY KEY CHECK (id = 1), counter bigint NOT NULL, "
        "changed_at timestamptz NOT NULL)",
        f"INSERT INTO {TABLE} (id, counter, changed_at) VALUES (1, 1, clock_timestamp()) ON CONFLICT (id) DO NOTHING",
    ],
    "sqlite": [
        f"CREATE TABLE IF NOT EXISTS {TABLE} (id integer PRIMARY KEY CHECK (id = 1), counter integer NOT NULL, "
        "changed_at text NOT NULL)",
        f"INSERT OR IGNORE INTO {TABLE} (id, counter, changed_at) VALUES (1, 1, strftime('%Y-%m-%d %H:%M:%f', 'now'))",
    ],
}

# PostgreSQL: the bump as a function (the triggers' and bump()'s), and the statement-level trigger function.
POSTGRESQL_FUNCTIONS = [
    f"""
    CREATE OR REPLACE FUNCTION {BUMP_FUNCTION}() RETURNS void LANGUAGE plpgsql AS $$
    DECLARE changes integer := coalesce(nullif(current_setting('{LOCAL_SETTING}', true), ''), '0')::integer;
    BEGIN
        IF changes = 0 THEN
            UPDATE {TABLE} SET counter = counter + 1, changed_at = clock_timestamp() WHERE id = 1;
            -- Delivered when the transaction commits, to every process listening (trials/version_watch.py).
            PERFORM pg_notify('{NOTIFY_CHANNEL}', '');
        END IF;
        PERFORM set_config('{LOCAL_SETTING}', (changes + 1)::text, true);
    END $$
    """,
    f"""
    CREATE OR REPLACE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM {BUMP_FUNCTION}();
        RETURN NULL;
    END $$
    """,
]

BUMP = {
    "postgresql": f"SELECT {BUMP_FUNCTION}()",
    "sqlite": f"UPDATE {TABLE} SET counter = counter + 1, changed_at = strftime('%Y-%m-%d %H:%M:%f', 'now') "
    "WHERE id = 1",
}

READ = {
    "postgresql": f"SELECT counter, changed_at, current_setting('{LOCAL_SETTING}', true) FROM {TABLE} WHERE id = 1",
    "sqlite": f"SELECT counter, changed_at, '' FROM {TABLE} WHERE id = 1",
}


@dataclass(frozen=True)
class Version:
    tag: str  # unique to this state of the data: part of every cache key
    changed_at: datetime  # when it changed (UTC): the pages' Last-Modified


def current(using="default"):
    """Query (one, by primary key): the data version now, or None if the database has none (not migrated).

    Public requests on PostgreSQL mostly need no query: trials/version_watch.py keeps the version in memory."""
    return version_of(read_checking_health(connections[using]))


def current_on(connection):
    """Query: the data version on a connection of the caller's own (trials/version_watch.py); errors are raised."""
    return version_of(read_row(connection))


def version_of(row):
    if row is None:
        return None
    counter, changed_at, local = row
    if isinstance(changed_at, str):
        changed_at = datetime.fromisoformat(changed_at).replace(tzinfo=UTC)
    return Version(tag=f"{counter}.{changed_at.timestamp():.6f}.{local or 0}", changed_at=changed_at)


def read_checking_health(connection):
    """The version's row. Its query is also the connection's health check (CONN_HEALTH_CHECKS), which would
    otherwise cost every request a round trip of its own (Django's SELECT 1) before this one: a reused connection
    that fails it is closed, as Django's check would close it, and the query runs once more on a new one."""
    if connection.health_check_enabled and not connection.health_check_done and not connection.in_atomic_block:
        connection.health_check_done = True  # this query is the check
        try:
            return read_row(connection)
        except (OperationalError, InterfaceError):
            connection.close()
    return read_row(connection)


def read_row(connection):
    with connection.cursor() as cursor:
        cursor.execute(READ[connection.vendor])
        return cursor.fetchone()


def bump(using="default"):
    """Change the data version, in the current transaction, and count the public counts afresh once it commits.

    The triggers call the same SQL for every write, so this is needed only where the triggers cannot see the
    change (none today) or to recount after a bulk write, which sends no signal."""
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(BUMP[connection.vendor])
    schedule_refresh(using)


# --- Triggers ---------------------------------------------------------------------------------------


def project_apps():
    """The project's own apps (a folder beside manage.py), not Django's or a package's."""
    return [app for app in apps.get_app_configs() if Path(app.path).parent == Path(settings.BASE_DIR)]


@cache
def project_app_labels():
    return frozenset(app.label for app in project_apps())


def covered_tables():
    """Every table of the project's apps' models (their many-to-many and history tables included)."""
    tables = set()
    for app in project_apps():
        for model in app.get_models(include_auto_created=True):
            if model._meta.managed and not model._meta.proxy:
                tables.add(model._meta.db_table)
    return sorted(tables)


def trigger_sql(vendor, table):
    quoted = f'"{table}"'
    if vendor == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {TRIGGER} ON {quoted}",
            f"CREATE TRIGGER {TRIGGER} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {quoted} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {TRIGGER}()",
        ]
    # SQLite has row-level triggers only; an update of one row is cheap there (no row versions).
    return [
        f"CREATE TRIGGER IF NOT EXISTS {TRIGGER}_{event.lower()}_{table} AFTER {event} ON {quoted} "
        f"BEGIN {BUMP['sqlite']}; END"
        for event in ("INSERT", "UPDATE", "DELETE")
    ]


def create_table(connection):
    """The version's table and its row (migration 0007), and on PostgreSQL the bump's functions."""
    with connection.cursor() as cursor:
        for statement in CREATE_TABLE[connection.vendor]:
            cursor.execute(statement)
        if connection.vendor == "postgresql":
            for statement in POSTGRESQL_FUNCTIONS:
                cursor.execute(statement)


def drop_table(connection):
    """Undo `create_table` (and every trigger, which would call the functions)."""
    tables = set(connection.introspection.table_names())
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP FUNCTION IF EXISTS {TRIGGER}() CASCADE")
            cursor.execute(f"DROP FUNCTION IF EXISTS {BUMP_FUNCTION}()")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s", [f"{TRIGGER}_%"])
            for (name,) in cursor.fetchall():
                cursor.execute(f'DROP TRIGGER IF EXISTS "{name}"')
        if TABLE in tables:
            cursor.execute(f"DROP TABLE {TABLE}")


def install_triggers(using="default", **kwargs):
    """Put the trigger on every covered table that exists (post_migrate: after every `migrate` and `flush`, which
    may have made or remade tables). Idempotent."""
    connection = connections[using]
    if connection.vendor not in BUMP:
        return
    with connection.cursor() as cursor:
        existing = set(connection.introspection.table_names(cursor))
    if TABLE not in existing:
        return  # migrated part of the way: the next migrate installs them
    with transaction.atomic(using=using):
        create_table(connection)  # the functions may have changed with the code
        with connection.cursor() as cursor:
            for table in covered_tables():
                if table in existing:
                    for statement in trigger_sql(connection.vendor, table):
                        cursor.execute(statement)


def tables_with_triggers(using="default"):
    """Query: the tables that have the trigger now (for tests and checks)."""
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT DISTINCT event_object_table FROM information_schema.triggers WHERE trigger_name = %s",
                [TRIGGER],
            )
            return {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT tbl_name FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s", [f"{TRIGGER}_%"])
        return {row[0] for row in cursor.fetchall()}


# --- Counting on write ----------------------------------------------------------------------------


class PendingRefresh:
    """What a transaction's commit does, once however many writes it makes: recheck the stored problems of the
    trials it touched (trials/stored_problems.py), then count the public counts afresh."""

    def __init__(self, using):
        self.using = using
        self.trial_ids: set[int] = set()  # every trial the transaction touched
        self.unchecked: set[int] = set()  # those its own reads did not recheck yet

    def add(self, trial_ids):
        self.trial_ids.update(trial_ids)
        self.unchecked.update(trial_ids)

    def __call__(self):
        from trials import stored_problems, version_watch

        connections[self.using].registry_refresh = None
        version_watch.forget()  # this process's next request must see the version this commit made
        if self.trial_ids:
            stored_problems.recheck(self.trial_ids, self.using)
        refresh_counts()


def pending_refresh(using="default"):
    """The refresh waiting for the current transaction's commit on this connection, or None."""
    connection = connections[using]
    pending = getattr(connection, "registry_refresh", None)
    if (
        pending is not None
        and connection.in_atomic_block
        and any(entry[1] is pending for entry in connection.run_on_commit)
    ):
        return pending
    return None


def schedule_refresh(using="default", trial_ids=()):
    """Recheck the stored problems of `trial_ids` and count the public counts afresh once the current transaction
    commits (at once outside a transaction). Once per transaction, however many writes it makes."""
    connection = connections[using]
    if not connection.in_atomic_block:
        refresh = PendingRefresh(using)
        refresh.add(trial_ids)
        refresh()
        return
    pending = pending_refresh(using)
    if pending is None:
        pending = connection.registry_refresh = PendingRefresh(using)
        transaction.on_commit(pending, using=using, robust=True)
    pending.add(trial_ids)


def trials_touched(sender, instance, kwargs) -> set[int]:
    """The trials a write touched: the trial itself, a row's trial, or the trials of a many-to-many change."""
    from trials.models import Trial

    if isinstance(instance, Trial):
        return {instance.pk} if instance.pk else set()
    if kwargs.get("model") is Trial and kwargs.get("pk_set"):
        return set(kwargs["pk_set"])
    trial_id = getattr(instance, "trial_id", None)
    return {trial_id} if isinstance(trial_id, int) else set()


def registry_written(sender, using="default", instance=None, **kwargs):
    """post_save, post_delete and m2m_changed of any model of the project's apps: recheck the trials it touched and
    recount after the commit. Not the stored problems themselves (written by that recheck)."""
    from trials.models import TrialProblem

    # Not the historical models of a migration: its data is not the registry's yet.
    if sender._meta.apps is apps and sender._meta.app_label in project_app_labels() and sender is not TrialProblem:
        schedule_refresh(using, trials_touched(sender, instance, kwargs))


def refresh_counts():
    """The home page's, the unfiltered list's and each mechanism's counts, counted now under the data version
    (trials/facets.py), so that the first reader after a change does not wait for them."""
    from trials.facets import refresh_counts as count

    if current() is not None:
        count()
