"""When a search finds nothing: "did you mean", from the published trials' own words, and the same search without
the other filters.

PostgreSQL: trigram similarity (pg_trgm, installed by migration 0006) between each word of the query and the
words of the published trials' indexed text. SQLite: the same comparison by difflib over the same words, read from
the search index (trials/search_index.py) and cached under the registry's data version. Only published trials'
words are read: a draft's words are never suggested.
"""

import difflib
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.http import QueryDict

from trials.search import STOP_WORDS, words
from trials.search_index import FTS_TABLE, document_parts
from trials.vocabularies import CurationState

MIN_LENGTH = 4  # shorter words are left as they are: abbreviations are too close to one another
MAX_WORDS = 6  # words of one query corrected, at most
SIMILARITY = 0.4  # pg_trgm's similarity, and difflib's ratio (0.75), below which no word is suggested
RATIO = 0.75


@dataclass
class Suggestion:
    text: str  # the corrected search
    count: int  # the trials it finds with the other filters


def published_words(using: str = "default") -> frozenset[str]:
    """Query (one): the words of the published trials' indexed text (SQLite)."""
    from trials.models import Trial

    ids = Trial.objects.using(using).published().values_list("pk", flat=True)
    sql, params = ids.query.sql_with_params()
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT title || ' ' || tags || ' ' || body FROM {FTS_TABLE} WHERE rowid IN ({sql})", params)
        return frozenset(word for (text,) in cursor.fetchall() for word in words(text or "") if len(word) >= MIN_LENGTH)


def closest_sqlite(word: str, vocabulary: frozenset[str]) -> str:
    if word in vocabulary:
        return word
    matches = difflib.get_close_matches(word, vocabulary, n=1, cutoff=RATIO)
    return matches[0] if matches else word


def closest_postgresql(word: str, using: str = "default") -> str:
    """Query (one): the published trials' word most similar to `word` by trigrams, or `word` itself."""
    title, tags, body = document_parts("postgresql", "t")
    sql = f"""
        SELECT w FROM (
            SELECT DISTINCT regexp_split_to_table(lower({title} || ' ' || {tags} || ' ' || {body}), '[^[:alnum:]]+')
                AS w
            FROM trials_trial t WHERE t.curation_state = %s
        ) vocabulary
        WHERE length(w) >= %s AND similarity(w, %s) >= %s
        ORDER BY w = %s DESC, similarity(w, %s) DESC, w LIMIT 1
    """
    with connections[using].cursor() as cursor:
        cursor.execute(sql, [CurationState.PUBLISHED, MIN_LENGTH, word, SIMILARITY, word, word])
        row = cursor.fetchone()
    return row[0] if row else word


def corrected(text: str, using: str = "default") -> str:
    """`text` with each word of the query that the published trials do not have replaced by their closest word
    (the text itself when none is). Queries: one per word on PostgreSQL; one, cached, on SQLite."""
    candidates = [w for w in words(text) if len(w) >= MIN_LENGTH and w not in STOP_WORDS and w.isalpha()]
    candidates = candidates[:MAX_WORDS]
    if not candidates:
        return text
    if connections[using].vendor == "postgresql":
        replacements = {word: closest_postgresql(word, using) for word in candidates}
    else:
        from trials.facets import cached_counts

        vocabulary = cached_counts("vocabulary", "", lambda: published_words(using))
        replacements = {word: closest_sqlite(word, vocabulary) for word in candidates}
    return " ".join(replacements.get(word, word) for word in words(text))


def suggest(filterset: Any) -> dict[str, Any]:
    """For a search that found nothing: {"did_you_mean": Suggestion | None, "search_alone": count | None (the
    same search without the other filters, when there were some)}. A few queries; only on an empty page."""
    from trials.filters import filtered_trials

    text = filterset.search_text
    asked = filterset.data.copy() if isinstance(filterset.data, QueryDict) else QueryDict(mutable=True)
    result: dict[str, Any] = {"did_you_mean": None, "search_alone": None}
    better = corrected(text)
    if better != " ".join(words(text)):
        asked["q"] = better
        asked.pop("page", None)
        _, queryset = filtered_trials(asked, today=filterset.today)
        if queryset is not None:
            count = queryset.count()
            if count:
                result["did_you_mean"] = Suggestion(better, count)
    if filterset.others_asked:
        alone = QueryDict(mutable=True)
        alone["q"] = text
        _, queryset = filtered_trials(alone, today=filterset.today)
        if queryset is not None:
            result["search_alone"] = queryset.count()
    return result
