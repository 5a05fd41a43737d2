"""The export's one query: the fields the columns read, every multi-valued cell aggregated in SQL, and the rows
streamed as the database makes them.
"""

import contextlib
import itertools
from collections.abc import Iterator, Sequence
from typing import Any

from django.db import connections
from django.db.models import (
    Aggregate,
    Case,
    CharField,
    Expression,
    F,
    OuterRef,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
    Window,
)
from django.db.models.expressions import RowRange
from django.db.models.functions import Concat

from trials.database import is_postgresql
from trials.models import Publication, RegistryIdentifier, Trial, TrialMechanism, TrialQuerySet
from trials.vocabularies import PRECISE_DATES

SEPARATOR = "; "  # between the values of a multi-valued cell
CHUNK_SIZE = 1000  # rows read from the database at a time


class GroupConcat(Aggregate):
    """SQLite's GROUP_CONCAT(value, separator). Used as a window function, so the order is the window's."""

    function = "GROUP_CONCAT"
    output_field = TextField()


def joined(
    related: QuerySet[Any],
    value: Expression | F,
    order_by: Sequence[Any],
    trial_field: str = "trial",
    outer: str = "pk",
) -> Subquery:
    """A correlated subquery: the `value`s of the `related` rows of each trial (the outer row's `outer` field: its
    own key when the outer rows are trials), in `order_by` order, joined by SEPARATOR (NULL when there are none).
    PostgreSQL aggregates with STRING_AGG(... ORDER BY ...); SQLite, whose GROUP_CONCAT takes no ORDER BY before
    3.44, with GROUP_CONCAT as a window function over the ordered rows."""
    related = related.filter(**{trial_field: OuterRef(outer)}).order_by()
    if is_postgresql(related.db):
        from django.contrib.postgres.aggregates import StringAgg

        aggregate = StringAgg(value, delimiter=SEPARATOR, order_by=order_by)
        rows = related.values(trial_field).annotate(joined=aggregate).values("joined")
    else:
        whole = RowRange(start=None, end=None)
        window = Window(GroupConcat(value, Value(SEPARATOR)), order_by=order_by, frame=whole)
        rows = related.annotate(joined=window).values("joined")[:1]
    return Subquery(rows, output_field=TextField())


def publication_reference() -> Case:
    """One publication as "doi:10.1056/X PMID:12345678" (either part alone when the other is missing)."""
    doi = Concat(Value("doi:"), F("doi"), output_field=CharField())
    pmid = Concat(Value("PMID:"), F("pmid"), output_field=CharField())
    return Case(
        When(pmid="", then=doi),
        When(doi="", then=pmid),
        default=Concat(doi, Value(" "), pmid, output_field=CharField()),
        output_field=CharField(),
    )


# The trial fields the columns read (plus the annotations below); long texts and the search document are not read.
EXPORT_FIELDS = [
    "slug",  # the address of a trial without a registry identifier
    "brief_title",
    "acronym",
    "overall_status",
    "status_confirmed_on",
    "last_reviewed_on",
    "phase",
    "study_type",
    "cell_source",
    "cell_origin",
    "differentiation",
    "immunosuppression",
    "sponsor",
    "sponsor_class",
    "enrollment",
    "enrollment_type",
    *[f"{name}{part}" for name in PRECISE_DATES for part in ("", "_precision", "_type")],
]


def export_queryset(queryset: TrialQuerySet, fields: Sequence[str] = ()) -> QuerySet[Any]:
    """`queryset` reading only EXPORT_FIELDS and `fields`, with every multi-valued cell annotated: still one query
    when evaluated."""
    countries = Trial.countries.through.objects.all()
    diabetes_types = Trial.diabetes_types.through.objects.all()
    routes = Trial.routes.through.objects.all()
    primary = RegistryIdentifier.objects.filter(trial=OuterRef("pk"), is_primary=True)
    if "primary_identifier" not in queryset.query.annotations:
        queryset = queryset.with_primary_identifier()
    return queryset.only(*EXPORT_FIELDS, *fields).annotate(
        primary_registry=Subquery(primary.values("registry")[:1]),
        identifier_list=joined(
            RegistryIdentifier.objects.all(), F("value"), [F("is_primary").desc(), "registry", "value"]
        ),
        mechanism_list=joined(
            TrialMechanism.objects.all(), F("mechanism__slug"), ["mechanism__position", "mechanism__slug"]
        ),
        diabetes_type_list=joined(
            diabetes_types, F("diabetestypeterm_id"), ["diabetestypeterm__position", "diabetestypeterm_id"]
        ),
        route_list=joined(routes, F("routeterm_id"), ["routeterm__position", "routeterm_id"]),
        country_list=joined(countries, F("country_id"), ["country_id"]),
        publication_list=joined(
            Publication.objects.exclude(doi="", pmid=""),
            publication_reference(),
            [F("year").desc(nulls_last=True), "citation", "pk"],
        ),
    )


def export_values(queryset: TrialQuerySet, fields: Sequence[str] = ()) -> tuple[QuerySet[Any], tuple[str, ...]]:
    """(values, names): export_queryset(queryset, fields) as a values_list() of `names`, the fields and annotations
    the columns read. Its query is the export's one query (bench/run.py times PostgreSQL's COPY of it)."""
    exported = export_queryset(queryset, fields)
    names = tuple(dict.fromkeys([*EXPORT_FIELDS, *fields, *exported.query.annotation_select]))
    return exported.values_list(*names), names


EXPORT_STATEMENT_TIMEOUT = 15 * 60  # seconds: the longest a CSV export may take to download


def stream_rows(queryset: QuerySet[Any]) -> Iterator[tuple[Any, ...]]:
    """The rows of a values_list() `queryset`, one query, read as the database makes them.

    On PostgreSQL the query is streamed (psycopg's Cursor.stream, by chunks where libpq allows): the server goes
    on computing rows while the caller writes the previous ones, so an export takes about as long as the slower
    of the two, not their sum. Django's iterator() uses a server-side cursor, which computes the next chunk only
    when asked for it (and, outside a transaction, WITH HOLD: every row before the first is sent). The
    connection is busy until the last row: a query made meanwhile raises instead of waiting forever for it.
    Elsewhere, iterator() in chunks.
    """
    if not is_postgresql(queryset.db):
        yield from queryset.iterator(chunk_size=CHUNK_SIZE)
        return
    import psycopg

    connection = connections[queryset.db]
    compiler = queryset.query.get_compiler(queryset.db)
    sql, params = compiler.as_sql()
    size = CHUNK_SIZE if psycopg.pq.version() >= 170000 else 1  # chunked streaming needs libpq 17

    def busy(*args: Any) -> None:
        raise RuntimeError("The database connection is streaming an export's rows: no query until the last row.")

    with connection.cursor() as cursor, connection.wrap_database_errors:
        # Logged like any query (connection.queries, django_assert_num_queries) when queries are logged.
        logged = cursor.debug_sql(sql, params) if hasattr(cursor, "debug_sql") else contextlib.nullcontext()
        with logged, connection.execute_wrapper(busy):
            # The one statement lasts as long as the download: a slow reader must not meet the statement timeout
            # meant for pages (DATABASE_STATEMENT_TIMEOUT), so this statement has EXPORT_STATEMENT_TIMEOUT instead.
            cursor.cursor.execute(f"SET statement_timeout = {EXPORT_STATEMENT_TIMEOUT * 1000}")
            stream = cursor.cursor.stream(sql, params, size=size)
            try:
                chunks = iter(lambda: list(itertools.islice(stream, size)), [])
                # results_iter applies the fields' converters, as iterator() would.
                yield from compiler.results_iter(results=chunks, tuple_expected=True)
            finally:
                stream.close()  # a download cut short: psycopg cancels the statement
                with contextlib.suppress(psycopg.Error):  # a lost connection: Django discards it
                    cursor.cursor.execute("RESET statement_timeout")  # the connection's own, from the settings
