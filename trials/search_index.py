"""The search index, kept in step with the trials by database triggers, the same fields on both databases.

Each trial's searchable text is three parts, built by one SQL expression per part (`document_parts`):
- title: brief and official titles, acronym, product (and its code without dash or space: "VX-880" as "VX880");
- tags: identifiers, sponsor, collaborators, programme, mechanisms' names, diabetes types, cell source, origin,
  differentiation and encapsulation, routes, immunosuppression (the vocabularies' labels);
- body: summary, population, cell, route and immunosuppression notes, mechanisms' rationales, countries, sites,
  publications' citations.

SQLite: an FTS5 table (`trial_search`, porter stemming, diacritics removed), rowid = the trial's id, with
columns title, tags, body. PostgreSQL: a table of search entries (`trial_search_entry`, trials/models/search.py),
one per trial: `document`, a tsvector ('english' configuration: stemming) weighted A (title), B (tags), C (body),
GIN-indexed and kept out of line, and `heading`, the title and tags alone, which the ranking reads; a slash is read
as a space, as SQLite does, rather than PostgreSQL's reading of "zimislecel/VX-880" as one file name. The entries
live apart from the trial's wide row, so that a search that matches a third of a large registry reads a few
thousand narrow pages, not the trials' own (migration 0018 moved them there from `trials_trial.search_document`).

Triggers keep them in step, whoever writes: on the trial (after each write), and on every table that feeds the
text (identifiers, mechanisms' links and names, publications, sites, countries, routes, diabetes types), which
rebuild the text of the trials they touch (PostgreSQL: one function, `trials_search_refresh(ids)`, which rewrites
an entry only when it differs). `install` puts them in place after each `migrate` (the post_migrate signal, as for
the data version) and brings every trial's text up to date, since a migration may have remade a table without its
triggers. Migration 0012 makes the FTS5 table and, undone, removes the triggers and the table (`create_index`,
`remove_index`); migration 0018 makes PostgreSQL's entries (`create_entries`, `remove_entries`).
"""

from django.apps import apps
from django.db import connections, transaction
from django.db.models import TextChoices

from trials import vocabularies as v

FTS_TABLE = "trial_search"
PREFIX = "trials_search"  # the triggers' (and on PostgreSQL the functions') names start with it
PG_TABLE = "trial_search_entry"  # PostgreSQL's search entries (trials/models/search.py)
PG_REFRESH = f"{PREFIX}_refresh"  # the function rebuilding the entries of some trials
PG_TRIAL_FUNCTION = "trials_trial_search_document"  # migration 0005's trigger, which wrote the trial's own document
BM25_WEIGHTS = (10.0, 3.0, 1.0)  # SQLite's rank: title, tags, body


def table(model_label: str) -> str:
    return apps.get_model(model_label)._meta.db_table


def through(field: str) -> tuple[str, str]:
    """The table of Trial's many-to-many `field` and its column naming the other side."""
    model = apps.get_model("trials.Trial")._meta.get_field(field).remote_field.through
    other = next(f.column for f in model._meta.fields if f.is_relation and f.column != "trial_id")
    return model._meta.db_table, other


def label(column: str, choices: type[TextChoices]) -> str:
    """SQL: the label of the code in `column` ('' for none)."""
    cases = " ".join(f"WHEN '{code}' THEN '{text.replace(chr(39), chr(39) * 2)}'" for code, text in choices.choices)
    return f"(CASE {column} {cases} ELSE '' END)"


def joined(parts: list[str]) -> str:
    return " || ' ' || ".join(f"COALESCE({part}, '')" for part in parts)


def document_parts(vendor: str, trial: str) -> tuple[str, str, str]:
    """SQL expressions (title, tags, body) of the trial whose columns are `trial`.<column> (a table alias, or
    NEW in a PostgreSQL trigger)."""
    aggregate = "string_agg({0}, ' ' ORDER BY {0})" if vendor == "postgresql" else "group_concat({0}, ' ')"

    def each(expression: str, source: str) -> str:
        return f"(SELECT {aggregate.format(expression)} FROM {source})"

    identifiers, links = table("trials.RegistryIdentifier"), table("trials.TrialMechanism")
    mechanisms = table("mechanisms.Mechanism")
    publications, sites, countries = table("trials.Publication"), table("trials.Site"), table("trials.Country")
    country_links, country_column = through("countries")
    route_links, route_column = through("routes")
    type_links, type_column = through("diabetes_types")
    title = joined(
        [
            f"{trial}.brief_title",
            f"{trial}.acronym",
            f"{trial}.official_title",
            f"{trial}.product_name",
            f"replace(replace({trial}.product_name, '-', ''), ' ', '')",
        ]
    )
    tags = joined(
        [
            each("i.value", f"{identifiers} i WHERE i.trial_id = {trial}.id"),
            f"{trial}.sponsor",
            f"{trial}.collaborators",
            f"{trial}.programme",
            each("m.name", f"{links} l JOIN {mechanisms} m ON m.id = l.mechanism_id WHERE l.trial_id = {trial}.id"),
            each(label(f"d.{type_column}", v.DiabetesType), f"{type_links} d WHERE d.trial_id = {trial}.id"),
            label(f"{trial}.cell_source", v.CellSource),
            label(f"{trial}.cell_origin", v.CellOrigin),
            label(f"{trial}.differentiation", v.DifferentiationStage),
            label(f"{trial}.encapsulation", v.Encapsulation),
            each(label(f"r.{route_column}", v.Route), f"{route_links} r WHERE r.trial_id = {trial}.id"),
            label(f"{trial}.immunosuppression", v.Immunosuppression),
        ]
    )
    body = joined(
        [
            f"{trial}.summary",
            f"{trial}.population_notes",
            f"{trial}.cell_notes",
            f"{trial}.route_notes",
            f"{trial}.immunosuppression_notes",
            each("l.rationale", f"{links} l WHERE l.trial_id = {trial}.id"),
            each(
                "c.name",
                f"{country_links} x JOIN {countries} c ON c.code = x.{country_column} WHERE x.trial_id = {trial}.id",
            ),  # fmt: skip
            each("s.facility || ' ' || s.city", f"{sites} s WHERE s.trial_id = {trial}.id"),
            each("p.citation", f"{publications} p WHERE p.trial_id = {trial}.id"),
        ]
    )
    return title, tags, body


def touched_trials() -> list[tuple[str, str]]:
    """(table, SQL selecting the ids of the trials whose text a row of that table feeds), for every
    table that feeds the text but the trial's own. `{row}` stands for NEW or OLD."""
    rows = [
        (table(label_), "SELECT {row}.trial_id")
        for label_ in ("trials.RegistryIdentifier", "trials.TrialMechanism", "trials.Publication", "trials.Site")
    ]
    rows += [(through(field)[0], "SELECT {row}.trial_id") for field in ("countries", "routes", "diabetes_types")]
    links, sites = table("trials.TrialMechanism"), table("trials.Site")
    country_links, country_column = through("countries")
    rows.append((table("mechanisms.Mechanism"), f"SELECT trial_id FROM {links} WHERE mechanism_id = {{row}}.id"))
    rows.append(
        (
            table("trials.Country"),
            f"SELECT trial_id FROM {country_links} WHERE {country_column} = {{row}}.code "
            f"UNION SELECT trial_id FROM {sites} WHERE country_id = {{row}}.code",
        )
    )
    return rows


# --- SQLite -------------------------------------------------------------------------------------------


def sqlite_reindex(ids: str) -> list[str]:
    """Statements rebuilding the index rows of the trials whose ids `ids` (SQL: a list or a subquery) gives."""
    title, tags, body = document_parts("sqlite", "t")
    trials = table("trials.Trial")
    return [
        f"DELETE FROM {FTS_TABLE} WHERE rowid IN ({ids})",
        f"INSERT INTO {FTS_TABLE} (rowid, title, tags, body) SELECT t.id, {title}, {tags}, {body} "
        f"FROM {trials} t WHERE t.id IN ({ids})",
    ]


def sqlite_statements() -> list[str]:
    trials = table("trials.Trial")
    statements = []

    def trigger(name: str, event: str, on: str, body: list[str]) -> str:
        return f"CREATE TRIGGER {PREFIX}_{name} AFTER {event} ON {on} BEGIN {'; '.join(body)}; END"

    statements.append(trigger(f"insert_{trials}", "INSERT", trials, sqlite_reindex("NEW.id")))
    statements.append(trigger(f"update_{trials}", "UPDATE", trials, sqlite_reindex("NEW.id")))
    statements.append(trigger(f"delete_{trials}", "DELETE", trials, [f"DELETE FROM {FTS_TABLE} WHERE rowid = OLD.id"]))
    for name, ids in touched_trials():
        new, old = ids.format(row="NEW"), ids.format(row="OLD")
        statements.append(trigger(f"insert_{name}", "INSERT", name, sqlite_reindex(new)))
        statements.append(trigger(f"delete_{name}", "DELETE", name, sqlite_reindex(old)))
        statements.append(trigger(f"update_{name}", "UPDATE", name, sqlite_reindex(f"{old} UNION {new}")))
    statements += sqlite_reindex(f"SELECT id FROM {trials}")
    return statements


def sqlite_drop(cursor) -> None:
    cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s", [f"{PREFIX}_%"])
    for (name,) in cursor.fetchall():
        cursor.execute(f'DROP TRIGGER IF EXISTS "{name}"')


# --- PostgreSQL ------------------------------------------------------------------------------------------


def postgresql_vector(part: str, weight: str) -> str:
    return f"setweight(to_tsvector('english'::regconfig, translate({part}, '/', ' ')), '{weight}')"


def postgresql_statements() -> list[str]:
    """The refresh function, the triggers that call it, and every trial's entry brought up to date."""
    trials = table("trials.Trial")
    title, tags, body = document_parts("postgresql", "t")
    statements = [
        # The entries of the trials `ids`, computed afresh; rewritten only when they differ (so rebuilding every
        # entry after a migrate writes nothing for a trial whose text is the same), removed for a trial that is gone.
        f"""
        CREATE OR REPLACE FUNCTION {PG_REFRESH}(ids bigint[]) RETURNS void LANGUAGE sql AS $$
            INSERT INTO {PG_TABLE} AS entry (trial_id, heading, document)
            SELECT t.id, parts.heading, parts.heading || {postgresql_vector(body, "C")}
            FROM {trials} t,
                LATERAL (SELECT {postgresql_vector(title, "A")} || {postgresql_vector(tags, "B")} AS heading) parts
            WHERE t.id = ANY(ids)
            ON CONFLICT (trial_id) DO UPDATE SET heading = EXCLUDED.heading, document = EXCLUDED.document
            WHERE (entry.heading, entry.document) IS DISTINCT FROM (EXCLUDED.heading, EXCLUDED.document);
            DELETE FROM {PG_TABLE} entry
            WHERE entry.trial_id = ANY(ids) AND NOT EXISTS (SELECT FROM {trials} t WHERE t.id = entry.trial_id);
        $$
        """,
        f"""
        CREATE OR REPLACE FUNCTION {PREFIX}_{trials}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'TRUNCATE' THEN
                TRUNCATE {PG_TABLE};
            ELSIF TG_OP = 'DELETE' THEN
                PERFORM {PG_REFRESH}(ARRAY[OLD.id]);
            ELSE
                PERFORM {PG_REFRESH}(ARRAY[NEW.id]);
            END IF;
            RETURN NULL;
        END
        $$
        """,
        f"DROP TRIGGER IF EXISTS {PREFIX}_{trials} ON {trials}",
        f"CREATE TRIGGER {PREFIX}_{trials} AFTER INSERT OR UPDATE OR DELETE ON {trials} "
        f"FOR EACH ROW EXECUTE FUNCTION {PREFIX}_{trials}()",
        # A truncated registry (a test database flushed) leaves no entry behind.
        f"DROP TRIGGER IF EXISTS {PREFIX}_truncate_{trials} ON {trials}",
        f"CREATE TRIGGER {PREFIX}_truncate_{trials} AFTER TRUNCATE ON {trials} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {PREFIX}_{trials}()",
    ]
    for name, ids in touched_trials():
        function = f"{PREFIX}_{name}"
        new, old = ids.format(row="NEW"), ids.format(row="OLD")
        statements += [
            f"""
            CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP <> 'INSERT' THEN
                    PERFORM {PG_REFRESH}(ARRAY({old}));
                END IF;
                IF TG_OP <> 'DELETE' THEN
                    PERFORM {PG_REFRESH}(ARRAY({new}));
                END IF;
                RETURN NULL;
            END
            $$
            """,
            f"DROP TRIGGER IF EXISTS {function} ON {name}",
            f"CREATE TRIGGER {function} AFTER INSERT OR UPDATE OR DELETE ON {name} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()",
        ]
    statements += [
        f"SELECT {PG_REFRESH}(ARRAY(SELECT id FROM {trials}))",
        f"DELETE FROM {PG_TABLE} entry WHERE NOT EXISTS (SELECT FROM {trials} t WHERE t.id = entry.trial_id)",
    ]
    return statements


def create_entries(connection) -> None:
    """PostgreSQL (migration 0018): the entries' table, in place of the trial's own search document and the
    triggers that wrote it (install() then adds the new ones and fills the table)."""
    if connection.vendor != "postgresql":
        return
    trials = table("trials.Trial")
    with connection.cursor() as cursor:
        drop_postgresql_functions(cursor)
        cursor.execute(f"DROP TRIGGER IF EXISTS {PG_TRIAL_FUNCTION} ON {trials}")
        cursor.execute(f"DROP FUNCTION IF EXISTS {PG_TRIAL_FUNCTION}()")
        # toast_tuple_target: a row longer than this has its document moved out of line, so that the table's own
        # pages hold the trial's id and its heading alone (about 700 bytes) and a search's scan of them stays small.
        cursor.execute(
            f"CREATE TABLE {PG_TABLE} (trial_id bigint PRIMARY KEY, heading tsvector NOT NULL, "
            "document tsvector NOT NULL) WITH (toast_tuple_target = 512)"
        )
        cursor.execute(f"ALTER TABLE {PG_TABLE} ALTER COLUMN document SET STORAGE EXTERNAL")
        cursor.execute(f"ALTER TABLE {PG_TABLE} ALTER COLUMN heading SET STORAGE MAIN")
        cursor.execute(f"CREATE INDEX {PG_TABLE}_document_idx ON {PG_TABLE} USING gin (document)")


def remove_entries(connection) -> None:
    """Undo `create_entries` and `install` on PostgreSQL (migration 0018 undone): the triggers, their functions and
    the table. The code of that earlier release puts its own triggers back when it migrates."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        drop_postgresql_functions(cursor)
        cursor.execute(f"DROP TABLE IF EXISTS {PG_TABLE}")


def drop_postgresql_functions(cursor) -> None:
    """Every function whose name starts with PREFIX, and with them (CASCADE) the triggers that call them."""
    cursor.execute("SELECT proname FROM pg_proc WHERE proname LIKE %s", [f"{PREFIX}\\_%"])
    for (name,) in cursor.fetchall():
        cursor.execute(f"DROP FUNCTION IF EXISTS {name} CASCADE")


# PostgreSQL: the trial's trigger function as migration 0005 made it (the trial's own columns), put back when the
# index is removed (migration 0012 undone), since migrations 0005 and 0008 name the function.
PG_FIRST_FUNCTION = f"""
    CREATE OR REPLACE FUNCTION {PG_TRIAL_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.search_document :=
            setweight(to_tsvector('english'::regconfig, COALESCE(NEW.brief_title, '') || ' ' || COALESCE(NEW.acronym, '')), 'A')
            || setweight(to_tsvector('english'::regconfig, COALESCE(NEW.official_title, '') || ' ' || COALESCE(NEW.product_name, '')), 'B')
            || setweight(to_tsvector('english'::regconfig, COALESCE(NEW.sponsor, '')), 'C')
            || setweight(to_tsvector('english'::regconfig, COALESCE(NEW.summary, '')), 'D');
        RETURN NEW;
    END
    $$
"""  # noqa: E501


# --- Installing -------------------------------------------------------------------------------------------


def create_index(connection) -> None:
    """SQLite: the FTS5 table (migration 0012); the triggers and its rows come with `install`."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(title, tags, body, "
                "tokenize = 'porter unicode61 remove_diacritics 2')"
            )


def remove_index(connection) -> None:
    """Undo `create_index` and `install` (migration 0012 undone): the triggers, and the FTS5 table (SQLite) or the
    related tables' functions (PostgreSQL, whose trial function goes back to migration 0005's)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            sqlite_drop(cursor)
            cursor.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
        elif connection.vendor == "postgresql":
            drop_postgresql_functions(cursor)
            cursor.execute(PG_FIRST_FUNCTION)


def needed_tables() -> set[str]:
    return {table("trials.Trial")} | {name for name, _ in touched_trials()}


def install(using: str = "default", **kwargs) -> None:
    """Put the triggers in place and bring every trial's text up to date (post_migrate, and migrations 0012 and
    0018). Idempotent. Does nothing before the migration that makes the index's table (SQLite's FTS5 table in 0012,
    PostgreSQL's entries in 0018)."""
    connection = connections[using]
    if connection.vendor not in ("sqlite", "postgresql"):
        return
    index_table = FTS_TABLE if connection.vendor == "sqlite" else PG_TABLE
    with connection.cursor() as cursor:
        existing = set(connection.introspection.table_names(cursor))
    if not needed_tables() | {index_table} <= existing:
        return  # migrated part of the way: the next migrate installs them
    with transaction.atomic(using=using), connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            sqlite_drop(cursor)
            for statement in sqlite_statements():
                cursor.execute(statement)
        else:
            # Bringing every trial's text up to date takes longer than a page's statement timeout on a large registry
            # (DATABASE_STATEMENT_TIMEOUT): this is a migration's step, not a reader's, so none applies to it.
            cursor.execute("SET LOCAL statement_timeout = 0")
            for statement in postgresql_statements():
                cursor.execute(statement)
