"""Free-text search of the public list, the same on both databases: the words of a query, expanded with the
field's synonyms and abbreviations (trials/synonyms.py), matched against each trial's indexed text
(trials/search_index.py: SQLite's FTS5, PostgreSQL's search entries, both with stemming), and ranked with
title and product matches first.

A query is a list of groups, each a list of equivalent phrases: a trial matches when, for every group, its text
holds one of the group's phrases. "MSC type 2" is [[msc | mscs | mesenchymal], [t2d | type 2 | ...]].
Product codes match with or without their dash or space: "VX-880", "VX 880" and "vx880" all ask for the
phrase "vx 880" or the word "vx880" (the index holds the product's code without dash or space too).
"""

import re
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, reduce
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connections, transaction
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    Expression,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.expressions import OrderBy, RawSQL
from django.db.models.functions import Coalesce

from trials.database import is_postgresql
from trials.models import RegistryIdentifier, SearchEntry
from trials.search_index import BM25_WEIGHTS, FTS_TABLE
from trials.synonyms import GROUPS

Phrase = tuple[str, ...]
Group = list[Phrase]

WORD = re.compile(r"[^\W_]+")
CODE = re.compile(r"^([a-z]+)(\d+)$")  # "vx880"
# Words too common to narrow a search (both engines would otherwise differ on them: PostgreSQL drops them).
STOP_WORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "into", "is", "it", "its",
    "of", "on", "or", "s", "t", "that", "the", "their", "this", "to", "was", "were", "which", "will", "with", "who",
})  # fmt: skip


def words(text: str) -> list[str]:
    """The words of `text` as the indexes see them: lower case, accents removed, split at anything not a letter
    or digit."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(char for char in text if not unicodedata.combining(char))
    return WORD.findall(text.lower())


@cache
def synonym_phrases() -> dict[Phrase, int]:
    """Each phrase of trials/synonyms.py, as words, and its group's number."""
    return {tuple(words(phrase)): number for number, group in enumerate(GROUPS) for phrase in group}


@cache
def longest_phrase() -> int:
    return max(len(phrase) for phrase in synonym_phrases())


def code_alternatives(letters: str, digits: str) -> Group:
    return [(letters, digits), (letters + digits,)]


@dataclass
class Query:
    """What a search asks: every group matched, no excluded phrase present."""

    groups: list[Group] = field(default_factory=list)
    excluded: list[Phrase] = field(default_factory=list)


PIECE = re.compile(r'(-?)"([^"]*)"?|(\S+)')  # a quoted phrase (perhaps excluded), or a run of other characters
OR = "|"  # the marker of the word "or" between two groups


def parse(text: str) -> Query:
    """The query's groups: synonyms' phrases (longest first), product codes, quoted phrases, the other words one
    by one; "or" between two groups makes them one; a word or quoted phrase after a minus sign is excluded."""
    query = Query()
    stream: list[str | Group] = []  # words, fixed groups (quoted phrases) and OR markers
    for match in PIECE.finditer(text):
        minus, quoted, bare = match.groups()
        if quoted is not None or (bare.startswith("-") and len(bare) > 1):
            phrase = tuple(words(quoted if quoted is not None else bare[1:]))
            if phrase and (minus or quoted is None):
                query.excluded.append(phrase)
            elif phrase:
                stream.append([phrase])
        elif bare.lower() == "or":
            stream.append(OR)
        else:
            stream.extend(words(bare))
    groups: list[Group] = []
    merge = False
    i = 0
    while i < len(stream):
        item = stream[i]
        group: Group | None = None
        if item == OR:
            merge = bool(groups)
            i += 1
            continue
        if isinstance(item, list):
            group, i = item, i + 1
        else:
            group, i = word_group(stream, i)
        if group is None:
            continue
        if merge:
            groups[-1] = groups[-1] + [phrase for phrase in group if phrase not in groups[-1]]
            merge = False
        elif group not in groups:
            groups.append(group)
    query.groups = groups
    return query


def word_group(stream: list[str | Group], i: int) -> tuple[Group | None, int]:
    """The group that starts with the word at stream[i] (None for a stop word), and where the next one starts."""
    run = []
    for item in stream[i : i + longest_phrase()]:
        if not isinstance(item, str) or item == OR:
            break
        run.append(item)
    phrases = synonym_phrases()
    for length in range(len(run), 0, -1):
        number = phrases.get(tuple(run[:length]))
        if number is not None:
            return [tuple(words(phrase)) for phrase in GROUPS[number]], i + length
    token, following = run[0], run[1] if len(run) > 1 else ""
    code = CODE.match(token)
    if code:
        return code_alternatives(*code.groups()), i + 1
    if token.isalpha() and len(token) <= 4 and following.isdigit() and token not in STOP_WORDS:
        return code_alternatives(token, following), i + 2  # "VX 880", "VX-880"
    if token in STOP_WORDS:
        return None, i + 1
    return [(token,)], i + 1


def fts5_match(query: Query) -> str:
    """SQLite: the FTS5 MATCH expression of `query` (every word quoted: no word is read as an operator)."""

    def alternatives(group: Group) -> str:
        return "(" + " OR ".join('"' + " ".join(phrase) + '"' for phrase in group) + ")"

    match = "(" + " AND ".join(alternatives(group) for group in query.groups) + ")"
    if query.excluded:
        match += " NOT " + alternatives(query.excluded)
    return match


def postgresql_query(query: Query) -> SearchQuery:
    """PostgreSQL: the tsquery of `query`, each phrase through phraseto_tsquery ('english', as the document)."""

    def phrase(words_: Phrase) -> SearchQuery:
        return SearchQuery(" ".join(words_), search_type="phrase", config="english")

    def alternatives(group: Group) -> SearchQuery:
        return reduce(lambda a, b: a | b, map(phrase, group))

    result = reduce(lambda a, b: a & b, map(alternatives, query.groups))
    if query.excluded:
        result = result & ~alternatives(query.excluded)
    return result


def text_matches(text: str, db: str) -> Q:
    """A condition on trials: their indexed text matches the query `text`, or one of their identifiers contains
    it. Builds no query; the condition is one subquery."""
    query = parse(text)
    if is_postgresql(db):
        # Identifiers through a trigram index (migration 0006), as an array of ids, so that PostgreSQL reads two
        # indexes of the search entries (trials/models/search.py) rather than testing the OR row by row (PkInArray).
        identifiers = identifier_trial_ids(text)
        if not query.groups:
            return Q(PkInArray(identifiers))
        return Q(PkInArray(identifiers, "search_entry__pk")) | Q(search_entry__document=postgresql_query(query))
    condition = Q(identifier_matches(text))
    if query.groups:
        indexed = RawSQL(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s", (fts5_match(query),))
        condition |= Q(pk__in=indexed)
    return condition


def matching_ids(text: str, db: str) -> list[int]:
    """The ids of the trials, published or not, that `text_matches` finds, read from the index and the identifiers
    alone, never from the trials' own rows (one query): what the facets count a search's list within, as the set
    of published trials does the rest (trials/facets.py)."""
    query = parse(text)
    identifiers = identifier_trial_ids(text, db=db)
    if not query.groups:
        return list(identifiers.values_list("trial_id", flat=True))
    if is_postgresql(db):
        with index_scans(db):
            return entry_ids(matching_entries(text, query, db), db)
    sql, params = identifiers.query.sql_with_params()
    with connections[db].cursor() as cursor:
        cursor.execute(
            f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s UNION {sql}", (fts5_match(query), *params)
        )
        return [pk for (pk,) in cursor.fetchall()]


def relevance(text: str, db: str) -> list[OrderBy]:
    """How to order the trials matching `text`, best first: a trial with an identifier equal to it, then title and
    product matches, then the rest of the text's; trials found by part of an identifier only come after the indexed
    matches. One subquery on SQLite, whose MATCH runs once whatever the number of trials."""
    query = parse(text)
    if is_postgresql(db) and query.groups:
        return postgresql_ranking(text, query, db, entry="search_entry__")
    exact = identifier_matches(text, "iexact", db)
    first = Case(When(exact, then=Value(1)), default=Value(0)).desc()
    if not query.groups:
        return [first]
    # Each matching trial's place in one ranking of all the matches: by bm25 with the title's weights only, then
    # with every column's (lower is better), equal ranks sharing a place (dense_rank), so that the list's own
    # tie-breakers still apply. The window makes SQLite compute the subquery once and look trials up in it (an
    # automatic index), where a per-trial bm25 subquery ran the MATCH again for every matching trial.
    weights = ", ".join(map(str, BM25_WEIGHTS))
    return [
        first,
        RawSQL(
            f"(SELECT ranked.position FROM (SELECT rowid AS id, dense_rank() OVER (ORDER BY "
            f"bm25({FTS_TABLE}, 1.0, 0.0, 0.0), bm25({FTS_TABLE}, {weights})) AS position "
            f"FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s) AS ranked "
            f'WHERE ranked.id = "trials_trial"."id")',
            (fts5_match(query),),
            output_field=IntegerField(),
        ).asc(nulls_last=True),
    ]


def postgresql_ranking(text: str, query: Query, db: str, entry: str = "") -> list[OrderBy]:
    """PostgreSQL: `relevance` before the list's tie-breakers, for trials (`entry`, the path to their search entry:
    "search_entry__") or for the search entries themselves (""): a trial with an identifier equal to `text`, then
    text matches by their ranks, then trials found by part of an identifier alone.

    The ranks read the heading alone, where a trial whose body matches ranks 0, as one found by an identifier alone:
    the document is read for the few trials an identifier found, to put those whose text does not match after every
    text match. One key for these places, read from both tables, so that PostgreSQL sorts the matches once joined:
    with a key of the trial's alone first, it sorted every published trial by it and then read their entries one by
    one (0.9 s at 100,000 trials, instead of 0.07)."""
    exact = identifier_matches(text, "iexact", db)  # the key of either table is the trial's id
    found_by_identifier = identifier_matches(text, db=db)
    matches = Q(**{f"{entry}document": postgresql_query(query)})
    place = Case(
        When(exact, then=Value(2)),
        When(Q(found_by_identifier) & ~matches, then=Value(0)),
        default=Value(1),
    )
    ranks = [Coalesce(text_rank(query, title_only, entry), Value(0.0)).desc() for title_only in (True, False)]
    return [place.desc(), *ranks]


def best_matches(text: str, db: str, number: int) -> list[int] | None:
    """PostgreSQL: the ids of the `number` search entries, published or not, that rank best for `text` by
    `postgresql_ranking`, with every entry that ranks equal to the last of them (FETCH ... WITH TIES), so that
    the best published trials by the list's whole order are among them as long as enough of them are published.
    Read from the search entries alone (one query): every match is ranked there, and no trial's row is read.
    None on SQLite and for a query of no words (an identifier's part alone), where the list orders them itself."""
    query = parse(text)
    if not (is_postgresql(db) and query.groups):
        return None
    ranked = matching_entries(text, query, db).order_by(*postgresql_ranking(text, query, db))
    with index_scans(db):
        return entry_ids(ranked, db, f" FETCH FIRST {int(number)} ROWS WITH TIES")


@contextmanager
def index_scans(db: str) -> Iterator[None]:
    """PostgreSQL: the statements run within, in one transaction, find a search's matches through the search entries'
    GIN index rather than by reading the whole table (`enable_seqscan` off for them). A search that matches most
    of the registry ("stem cells", "insulin") otherwise makes PostgreSQL read every entry and test its document,
    which lies out of line (TOAST): the index answers the same for words without reading a single document, and
    a phrase rechecks only its matches. At 100,000 trials, "stem cells" (99,569 matches) took 344 ms to rank and
    412 ms to list the matches by scanning the table, 150 and 63 ms through the index (bench/RESULTS.md).
    On SQLite, nothing changes."""
    if not is_postgresql(db):
        yield
        return
    with transaction.atomic(using=db), connections[db].cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        yield
        cursor.execute("SET LOCAL enable_seqscan TO DEFAULT")  # a caller's transaction goes on as before


def matching_entries(text: str, query: Query, db: str) -> "QuerySet[SearchEntry]":
    """PostgreSQL: the search entries of the trials `text` finds (`query`, its words): by their document, or by one
    of their identifiers."""
    condition = Q(PkInArray(identifier_trial_ids(text, db=db))) | Q(document=postgresql_query(query))
    return SearchEntry.objects.using(db).filter(condition)


def entry_ids(entries: "QuerySet[SearchEntry]", db: str, tail: str = "") -> list[int]:
    """PostgreSQL: the ids of `entries` (their SQL followed by `tail`), as one value, an array, rather than a row
    for each: a third of a large registry can match a search."""
    sql, params = entries.values("pk").query.sql_with_params()
    with connections[db].cursor() as cursor:
        cursor.execute(f"SELECT ARRAY({sql}{tail})", params)
        return cursor.fetchone()[0]


def text_rank(query: Query, title_only: bool = False, entry: str = "search_entry__") -> SearchRank:
    """PostgreSQL: how well a matching trial's title and tags match `query` (higher is better; title and product
    count most), or, with `title_only`, how well its title and product do (0.0 when they do not). Read from the
    entry's heading (a few hundred bytes in the row), not from the whole document, which would be read out of line
    for every match: a body's words find a trial, and its title and tags rank it."""
    # weights of D, C, B, A: the title (A) far above the tags (B)
    classes = [0.0, 0.0, 0.0, 1.0] if title_only else [0.0, 0.0, 0.2, 1.0]
    return SearchRank(F(f"{entry}heading"), postgresql_query(query), weights=classes)


def identifier_matches(text: str, lookup: str = "icontains", db: str = "default") -> "Exists | PkInArray":
    """A condition on trials: one of their identifiers matches `text`. On PostgreSQL the identifiers are looked up
    once for the whole query (PkInArray), not once for each trial it reads."""
    identifiers = identifier_trial_ids(text, lookup, db)
    if is_postgresql(db):
        return PkInArray(identifiers)
    return Exists(identifiers.filter(trial=OuterRef("pk")))


def identifier_trial_ids(text: str, lookup: str = "icontains", db: str = "default") -> "QuerySet[Any]":
    """The trials (their ids, unordered) with an identifier that matches `text` (`lookup`: icontains or iexact),
    through the trigram index of migration 0006: the subquery of every identifier condition above."""
    return RegistryIdentifier.objects.using(db).filter(**{f"value__{lookup}": text}).order_by().values("trial_id")


class PkInArray(Expression):
    """`pk = ANY(ARRAY(subquery))` (PostgreSQL): the subquery runs once, before the trials are read, and its ids
    are looked up in the primary key's index. So an OR of this and an indexed condition (the search entry's
    document) is a BitmapOr of two index scans; with EXISTS or IN, PostgreSQL checks the OR row by row over every
    trial. `pk` names the key to look up ("search_entry__pk": the trial's search entry's, so that both conditions
    of the OR read the entries' table)."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, queryset: QuerySet[Any], pk: str = "pk") -> None:
        super().__init__()
        self.pk, self.subquery = F(pk), Subquery(queryset)

    def get_source_expressions(self) -> list[Any]:
        return [self.pk, self.subquery]

    def set_source_expressions(self, expressions: Sequence[Any]) -> None:
        self.pk, self.subquery = expressions

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        pk_sql, pk_params = compiler.compile(self.pk)
        subquery_sql, subquery_params = compiler.compile(self.subquery)
        return f"{pk_sql} = ANY(ARRAY{subquery_sql})", (*pk_params, *subquery_params)
