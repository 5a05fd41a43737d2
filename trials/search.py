"""Free-text search of the public list: PostgreSQL's full-text search over the stored search document
(`Trial.search_document`, built by a trigger: migration 0005) and identifiers through a trigram index
(migration 0006); elsewhere every word must appear in one of the fields.
"""

from collections.abc import Sequence
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db.models import BooleanField, Exists, Expression, F, OuterRef, QuerySet, Subquery
from django.db.models.expressions import CombinedExpression

from trials.models import RegistryIdentifier


def search_vector() -> CombinedExpression:
    """What PostgreSQL's search reads: Trial.search_document holds this, kept by a trigger (migration 0005)."""
    return (
        SearchVector("brief_title", "acronym", weight="A", config="english")
        + SearchVector("official_title", "product_name", weight="B", config="english")
        + SearchVector("sponsor", weight="C", config="english")
        + SearchVector("summary", weight="D", config="english")
    )


def search_query(text: str) -> SearchQuery:
    return SearchQuery(text, search_type="websearch", config="english")


def identifier_matches(text: str, lookup: str = "icontains") -> Exists:
    return Exists(RegistryIdentifier.objects.filter(trial=OuterRef("pk"), **{f"value__{lookup}": text}))


class PkInArray(Expression):
    """`pk = ANY(ARRAY(subquery))` (PostgreSQL): the subquery runs once, before the trials are read, and its ids
    are looked up in the primary key's index. So an OR of this and an indexed condition (the search document)
    is a BitmapOr of two index scans; with EXISTS or IN, PostgreSQL checks the OR row by row over every trial."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, queryset: QuerySet[Any]) -> None:
        super().__init__()
        self.pk, self.subquery = F("pk"), Subquery(queryset)

    def get_source_expressions(self) -> list[Any]:
        return [self.pk, self.subquery]

    def set_source_expressions(self, expressions: Sequence[Any]) -> None:
        self.pk, self.subquery = expressions

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        pk_sql, pk_params = compiler.compile(self.pk)
        subquery_sql, subquery_params = compiler.compile(self.subquery)
        return f"{pk_sql} = ANY(ARRAY{subquery_sql})", (*pk_params, *subquery_params)


SEARCH_FIELDS = ["brief_title", "official_title", "acronym", "summary", "product_name", "sponsor"]


def search_words(text: str) -> list[str]:
    return [word for word in (part.strip("\"'()") for part in text.split()) if word and word != "-"]
