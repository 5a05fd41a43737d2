"""The CSV export of trial lists: its columns (a public contract, documented in the README), safe cells and the
streaming writer. Used by /trials/export.csv, `manage.py export_trials` and the admin's CSV action.

- `COLUMNS`: the ordered columns, each (name, meaning and format, value). The header, the rows and the README's
  table all come from this one list.
- `export_rows(queryset, extra_columns=(), today=None)`: the header, then one row of safe cells per trial, in the
  queryset's order. Runs ONE query, whatever the number of trials: the multi-valued cells are aggregated in SQL
  by correlated subqueries, and rows are streamed as the database makes them (`stream_rows`), so memory stays flat.
  It exports whatever the queryset holds: public callers pass `filtered_trials(...)`, which starts from published().
- `csv_lines(rows, bom=False)`: RFC 4180 lines (CRLF, minimal quoting), one string per row; `in_chunks(lines)`
  groups them for a streamed response.
- `safe_cell(value)`: a text cell a spreadsheet will never run as a formula.
"""

import csv
import functools
import itertools
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.http import RFC3986_SUBDELIMS

from trials.export_query import SEPARATOR, export_values, stream_rows
from trials.models import TrialQuerySet
from trials.status import StatusDisplay
from trials.vocabularies import (
    IDENTIFIER_FORMATS,
    CellOrigin,
    CellSource,
    DatePrecision,
    DiabetesType,
    DifferentiationStage,
    Immunosuppression,
    Phase,
    Route,
    SponsorClass,
    StudyType,
)

REGULATORY_STATUS = "investigational"
FILENAME_STEM = "stem-cell-diabetes-trials"
CHUNK_LINES = 100  # lines of CSV per chunk of a streamed response

# A text cell starting with one of these may be run as a formula by a spreadsheet (OWASP, "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")

# A cell as the columns give it; a column's value is value(row, today), where row is an ExportRow (see export_rows).
Cell = str | int | None
Value = Callable[[Any, date], Cell]


def safe_cell(value: Cell) -> str | int:
    """The cell as written to the file: text that a spreadsheet could run as a formula gets a leading single
    quote (OWASP's advice). A plain signed number ("-12", "+3.5") is data, not a formula, and is left as it is;
    None becomes an empty cell; numbers are written as they are."""
    if value is None:
        return ""
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


# --- Columns ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str  # the header: stable, part of the public contract
    meaning: str  # meaning and format, for the README
    value: Value  # value(trial, today); `trial` is an ExportRow of export_queryset (see export_rows)
    fields: tuple[str, ...] = ()  # trial fields `value` reads beyond EXPORT_FIELDS (e.g. "curator_notes" for the admin)


def field(name: str) -> Value:
    """The value of the trial's field or annotation `name`, as it is (export_rows reads it straight from the row)."""

    def value(trial: Any, today: date) -> Cell:
        return getattr(trial, name)

    setattr(value, "field_name", name)  # noqa: B010 (a function's attribute, which mypy would not allow)
    return value


def iso_date(name: str) -> Value:
    def value(trial: Any, today: date) -> Cell:
        day = getattr(trial, name)
        return day.isoformat() if day else ""

    return value


def date_at_precision(name: str) -> Value:
    """A stored date written at its precision: 2024 (year), 2024-03 (month), 2024-03-15 (day)."""

    def value(trial: Any, today: date) -> Cell:
        day = getattr(trial, name)
        if day is None:
            return ""
        precision = getattr(trial, precision_name)
        if precision == DatePrecision.YEAR:
            return day.isoformat()[:4]
        if precision == DatePrecision.MONTH:
            return day.isoformat()[:7]
        return day.isoformat()

    precision_name = f"{name}_precision"
    return value


@functools.cache
def address_template(site_url: str, script_prefix: str, urlconf: str | None) -> str:
    """SITE_URL and a trial's address with {key} for its public key: one reverse() per export, not per row."""
    return site_url + reverse("trials:detail", args=["KEY"]).replace("KEY", "{key}")


def trial_url(trial: Any, today: date) -> str:
    """SITE_URL + the trial's get_absolute_url(), quoted as reverse() quotes it (the row carries the address
    template, looked up once per export)."""
    return trial.address_template.format(key=quote(trial.public_key, safe=RFC3986_SUBDELIMS + "/~:@"))


def registry_url(trial: Any, today: date) -> str:
    fmt = IDENTIFIER_FORMATS.get(trial.primary_registry)
    if not (fmt and fmt.url and trial.primary_identifier):
        return ""
    return fmt.url.format(id=trial.primary_identifier)


def date_columns(name: str, words: str) -> list[Column]:
    return [
        Column(
            name,
            f"{words}, at the precision the sources give: YYYY, YYYY-MM or YYYY-MM-DD; empty if not known.",
            date_at_precision(name),
        ),
        Column(f"{name}_precision", f"Precision of {name}: DAY, MONTH or YEAR.", field(f"{name}_precision")),
        Column(
            f"{name}_type",
            f"ACTUAL ({name} has passed) or ESTIMATED (planned); empty if the sources do not say.",
            field(f"{name}_type"),
        ),
    ]


MULTI = f'Several values are separated by "{SEPARATOR}".'


def codes(vocabulary: type[Any]) -> str:
    return ", ".join(vocabulary.values)


COLUMNS = [
    Column(
        "primary_identifier",
        "The trial's main registry identifier (e.g. NCT04786262), used in its address; empty if it has none.",
        field("primary_identifier"),
    ),
    Column(
        "identifiers",
        f"Every registry identifier of the trial, the primary one first. {MULTI}",
        field("identifier_list"),
    ),
    Column("brief_title", "The registry's brief title, or a plain one.", field("brief_title")),
    Column("acronym", "The trial's acronym, e.g. FORWARD; empty if none.", field("acronym")),
    Column(
        "overall_status",
        "Recruitment status as the newest source gives it: a ClinicalTrials.gov code (RECRUITING, COMPLETED, ...); "
        "empty if no source gives one.",
        field("overall_status"),
    ),
    Column(
        "status_shown",
        "The status as the site shows it to readers, in words, after the staleness rule: an active status not "
        "confirmed for over 2 years reads “Not confirmed for over 2 years (last confirmed on …)”.",
        lambda trial, today: StatusDisplay.for_trial(trial, today).label,
    ),
    Column("phase", f"ClinicalTrials.gov phase code: {codes(Phase)}; empty if not known.", field("phase")),
    Column(
        "study_type",
        f"ClinicalTrials.gov study type: {codes(StudyType)}.",
        field("study_type"),
    ),
    Column(
        "diabetes_types",
        f"Types of diabetes enrolled: {codes(DiabetesType)}. {MULTI}",
        field("diabetes_type_list"),
    ),
    Column(
        "mechanisms",
        "Mechanisms the trial relies on, by slug (beta-cell-regeneration, immune-regulation, angiogenesis, "
        f"trophic-support), as on /mechanisms/. {MULTI}",
        field("mechanism_list"),
    ),
    Column(
        "cell_source",
        f"Main source of the cells: {codes(CellSource)}.",
        field("cell_source"),
    ),
    Column(
        "cell_origin", f"Autologous (own cells) or allogeneic (donor cells): {codes(CellOrigin)}.", field("cell_origin")
    ),
    Column(
        "differentiation",
        f"How far the cells are differentiated before they are given: {codes(DifferentiationStage)}.",
        field("differentiation"),
    ),
    Column(
        "routes",
        f"How the cells are given: {codes(Route)}. {MULTI}",
        field("route_list"),
    ),
    Column(
        "immunosuppression",
        f"Immunosuppression given with the cells: {codes(Immunosuppression)} (SHORT_COURSE includes conditioning).",
        field("immunosuppression"),
    ),
    Column("sponsor", "Lead sponsor, as the registry names it.", field("sponsor")),
    Column(
        "sponsor_class",
        f"ClinicalTrials.gov class of the lead sponsor: {codes(SponsorClass)}.",
        field("sponsor_class"),
    ),
    Column(
        "countries", f"Countries with at least one site, as ISO 3166-1 alpha-2 codes. {MULTI}", field("country_list")
    ),
    Column("enrollment", "Number of participants (a whole number); empty if not known.", field("enrollment")),
    Column("enrollment_type", "ACTUAL or ESTIMATED (anticipated).", field("enrollment_type")),
    *date_columns("start_date", "Study start"),
    *date_columns("primary_completion_date", "Primary completion (last participant examined for the primary outcome)"),
    *date_columns("completion_date", "Study completion"),
    Column(
        "status_confirmed_on",
        "Date a source last confirmed the status, YYYY-MM-DD; empty if never.",
        iso_date("status_confirmed_on"),
    ),
    Column(
        "last_reviewed_on",
        "Date a curator last checked the whole record against its sources, YYYY-MM-DD; empty if never.",
        iso_date("last_reviewed_on"),
    ),
    Column(
        "url",
        "The trial's page on this site.",
        trial_url,
    ),
    Column("registry_url", "The primary identifier's public registry record; empty if not known.", registry_url),
    Column(
        "publications",
        f"Publications with a DOI or a PubMed identifier, newest first, each as “doi:DOI PMID:number”. {MULTI}",
        field("publication_list"),
    ),
    Column(
        "regulatory_status",
        "Always “investigational”: no therapy in this registry is an approved treatment.",
        lambda trial, today: REGULATORY_STATUS,
    ),
]


# --- Rows and lines -----------------------------------------------------------------------------


def export_rows(
    queryset: TrialQuerySet, extra_columns: Sequence[Column] = (), today: date | None = None
) -> Iterator[list[Any]]:
    """Yield the header, then one row of safe cells per trial of `queryset`, in its order.

    One query, read in chunks, whatever the number of trials. `extra_columns` (Column objects) come after the
    public ones, e.g. the admin's curation state; each names in `fields` the trial fields it reads beyond
    EXPORT_FIELDS (else reading one would cost a query per row). Exports whatever `queryset` holds: public
    callers must pass published trials only (`filters.filtered_trials` does).

    Rows are read as tuples, not model instances (building a Trial costs more than writing its row): a column's
    `value(trial, today)` gets an ExportRow, with the fields and annotations of `export_queryset` as attributes
    and `public_key`. A column must not query the database: on PostgreSQL the rows are still arriving (see
    `stream_rows`), and a query then raises.
    """
    columns = [*COLUMNS, *extra_columns]
    today = today or timezone.localdate()
    yield [column.name for column in columns]
    rows, names = export_values(queryset, [name for column in extra_columns for name in column.fields])
    make_row = row_class(names, address_template(settings.SITE_URL, get_script_prefix(), get_urlconf()))
    # A column that shows a field as it is (field()) takes it from the row by position: no call per cell.
    index = {name: position for position, name in enumerate(names)}
    plan = [(index.get(getattr(column.value, "field_name", "")), column.value) for column in columns]
    for row in stream_rows(rows):
        trial = make_row(row)
        cells = [value(trial, today) if position is None else row[position] for position, value in plan]
        # safe_cell, inlined for the common case: only None and text starting like a formula go through it.
        yield [
            safe_cell(cell) if cell is None or (type(cell) is str and cell.startswith(FORMULA_STARTS)) else cell
            for cell in cells
        ]


class ExportRow(tuple):
    """One trial as the export reads it (a named tuple made by `row_class`), with the model's `public_key` and
    the export's `address_template` (see trial_url)."""

    __slots__ = ()
    address_template = ""
    # Among the attributes row_class gives it (the fields and annotations of export_queryset):
    primary_identifier: str | None
    slug: str

    @property
    def public_key(self) -> str:
        return self.primary_identifier or self.slug


@functools.cache
def row_class(names: tuple[str, ...], address_template: str) -> Callable[[tuple[Any, ...]], ExportRow]:
    """An ExportRow class whose attributes are `names`; calling it on a tuple of values makes a row."""
    attributes: dict[str, Any] = {name: property(operator.itemgetter(index)) for index, name in enumerate(names)}
    attributes["address_template"] = address_template
    cls = type("TrialRow", (ExportRow,), {"__slots__": (), **attributes})
    return functools.partial(tuple.__new__, cls)


class Echo:
    """A file-like object whose write returns what it is given, so csv.writer produces lines one at a time."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Sequence[Any]], bom: bool = False) -> Iterator[str]:
    """RFC 4180 text (CRLF line ends, fields quoted when needed), one string per row; with `bom`, the first
    line starts with a UTF-8 byte-order mark, which Excel needs to read the file as UTF-8."""
    writer = csv.writer(Echo())
    for number, row in enumerate(rows):
        line = writer.writerow(row)
        yield "\ufeff" + line if bom and number == 0 else line


def in_chunks(lines: Iterable[str], size: int = CHUNK_LINES) -> Iterator[str]:
    """The first line (the header) alone, so that it leaves at once, then `size` lines at a time: a streaming
    response writes every chunk it is given separately, and a write per row costs more than making the row."""
    rest = iter(lines)
    yield from itertools.islice(rest, 1)
    while chunk := "".join(itertools.islice(rest, size)):
        yield chunk


def export_filename(today: date | None = None) -> str:
    """stem-cell-diabetes-trials-2026-11-24.csv"""
    return f"{FILENAME_STEM}-{(today or timezone.localdate()).isoformat()}.csv"
