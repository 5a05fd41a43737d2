"""The evidence side by side: every published outcome of every published trial, filtered by measure, mechanism
and cell source (/evidence/, /evidence/export.csv, and each mechanism's part of it on its page).

- `filtered_outcomes(data)` -> (filterset, queryset): the outcomes matching `data` (request.GET), ordered by
  measure (the vocabulary's order), then trial; queryset is None when a value was not understood (then
  `filterset.errors` says which, and callers answer 400).
- `outcome_rows(queryset)`: the queryset with what a row of the table shows (two queries when evaluated).
- `EVIDENCE_COLUMNS` and `evidence_rows(queryset)`: the CSV's columns and its rows, streamed from one query.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db.models import Case, CharField, Exists, F, OuterRef, Prefetch, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.http import RFC3986_SUBDELIMS
from django_filters import FilterSet

from trials.export_query import joined, stream_rows
from trials.exports import safe_cell
from trials.filters import CodeFilter, known_mechanisms, vocabulary
from trials.models import Outcome, RegistryIdentifier, Trial, TrialMechanism
from trials.vocabularies import CellSource, OutcomeMeasure

MEASURE_ORDER = {code: rank for rank, code in enumerate(OutcomeMeasure.values)}


class EvidenceFilter(FilterSet):
    """The evidence table's filters. Several values of one parameter combine with OR, parameters with AND."""

    measure = CodeFilter(
        method="filter_in",
        field_name="measure",
        label="Measure",
        known=vocabulary(OutcomeMeasure.choices),
        noun="measure",
        normalize=lambda v: v.strip().upper(),
    )
    mechanism = CodeFilter(method="filter_mechanism", label="Mechanism", known=known_mechanisms, noun="mechanism")
    cell_source = CodeFilter(
        method="filter_in",
        field_name="trial__cell_source",
        label="Cell source",
        known=vocabulary(CellSource.choices),
        noun="cell source",
    )

    class Meta:
        model = Outcome
        fields: list[str] = []

    def filter_in(self, queryset, name, value):
        return queryset.filter(**{f"{name}__in": value})

    def filter_mechanism(self, queryset, name, value):
        links = TrialMechanism.objects.filter(trial=OuterRef("trial"), mechanism__slug__in=value)
        return queryset.filter(Exists(links))

    @property
    def is_filtered(self) -> bool:
        return any(self.form.cleaned_data.get(name) for name in self.filters)


EVIDENCE_PARAMETERS = frozenset(EvidenceFilter.base_filters)  # all repeatable: read as sets by the page cache


def published_outcomes() -> QuerySet[Outcome]:
    """The outcomes of published trials, in the table's order: measure, trial title, then as entered."""
    measure_rank = Case(*[When(measure=code, then=Value(rank)) for code, rank in MEASURE_ORDER.items()])
    return (
        Outcome.objects.filter(trial__in=Trial.objects.published())
        .alias(measure_rank=measure_rank)
        .order_by("measure_rank", "trial__brief_title", "trial_id", "pk")
    )


def filtered_outcomes(data: Any) -> tuple[EvidenceFilter, QuerySet[Outcome] | None]:
    """Validate `data` and return (filterset, queryset): the published outcomes matching it, or None when a value
    was not understood. Builds querysets only (validating a mechanism runs one query for it)."""
    filterset = EvidenceFilter(data, queryset=published_outcomes())
    if not filterset.is_valid():
        return filterset, None
    return filterset, filterset.qs


def filter_options(filterset: EvidenceFilter) -> list[dict[str, Any]]:
    """The form's choices (one query, for the mechanisms): [{"name", "label", "open", "options": [{"value", "label",
    "selected"}]}], with what was asked for selected (the raw values when the form is invalid)."""
    from mechanisms.models import Mechanism

    mechanisms = Mechanism.objects.only("slug", "name", "position").order_by("position")
    choices = {
        "measure": OutcomeMeasure.choices,
        "mechanism": [(m.slug, m.name) for m in mechanisms],
        "cell_source": CellSource.choices,
    }
    cleaned = getattr(filterset.form, "cleaned_data", {})
    groups = []
    for name, options in choices.items():
        chosen = set(cleaned[name]) if name in cleaned else set(filterset.form[name].value() or [])
        groups.append(
            {
                "name": name,
                "label": filterset.filters[name].label,
                "options": [{"value": v, "label": label, "selected": v in chosen} for v, label in options],
                "open": bool(chosen) or name in filterset.errors,
            }
        )
    return groups


def mechanism_outcomes(mechanism: Any) -> QuerySet[Outcome]:
    """The published outcomes of the published trials linked to `mechanism`, rows as `outcome_rows` makes them."""
    links = TrialMechanism.objects.filter(trial=OuterRef("trial"), mechanism=mechanism)
    return outcome_rows(published_outcomes().filter(Exists(links)))


def with_trial_key(queryset: QuerySet[Outcome]) -> QuerySet[Outcome]:
    """Annotate `trial_key`, the key of the trial's address (its primary identifier, or else its slug)."""
    primary = RegistryIdentifier.objects.filter(trial=OuterRef("trial"), is_primary=True).values("value")[:1]
    return queryset.annotate(trial_key=Coalesce(Subquery(primary), F("trial__slug"), output_field=CharField()))


def outcome_rows(queryset: QuerySet[Outcome]) -> QuerySet[Outcome]:
    """What a row of the evidence table shows: the outcome, its trial (not its long texts), publication, source
    and the trial's mechanisms. Two queries when evaluated, whatever the number of rows."""
    links = TrialMechanism.objects.select_related("mechanism").only(
        "trial_id", "role", "mechanism__slug", "mechanism__name", "mechanism__position"
    )
    return (
        with_trial_key(queryset)
        .select_related("trial", "publication", "source")
        .only(
            "measure",
            "result",
            "n",
            "timepoint",
            "trial__brief_title",
            "trial__acronym",
            "trial__slug",
            "trial__cell_source",
            "trial__phase",
            "publication__citation",
            "publication__doi",
            "publication__pmid",
            "publication__year",
            "source__url",
            "source__title",
            "source__publisher",
        )
        .prefetch_related(Prefetch("trial__mechanism_links", queryset=links))
    )


# --- The CSV: /evidence/export.csv -----------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceColumn:
    name: str  # the header: a public contract, documented in the README
    meaning: str
    field: str  # the value list's name this column reads


EVIDENCE_COLUMNS = [
    EvidenceColumn("trial", "The trial's main registry identifier (or its slug when it has none).", "trial_key"),
    EvidenceColumn("trial_title", "The trial's brief title.", "trial__brief_title"),
    EvidenceColumn("trial_url", "The trial's page on this site.", "trial_url"),
    EvidenceColumn("mechanisms", "The trial's mechanisms (slugs), separated by “; ”.", "mechanism_list"),
    EvidenceColumn("cell_source", f"The trial's cell source: {', '.join(CellSource.values)}.", "trial__cell_source"),
    EvidenceColumn("measure", f"What was measured: {', '.join(OutcomeMeasure.values)}.", "measure"),
    EvidenceColumn("result", "What was found, in plain words and as reported.", "result"),
    EvidenceColumn("participants", "How many participants the result is about; empty if not reported.", "n"),
    EvidenceColumn("timepoint", "When it was measured, as reported.", "timepoint"),
    EvidenceColumn(
        "publication", "The publication that reports it (its citation); empty if a source does.", "citation"
    ),
    EvidenceColumn("doi", "The publication's DOI.", "publication__doi"),
    EvidenceColumn("pmid", "The publication's PubMed identifier.", "publication__pmid"),
    EvidenceColumn("source_url", "The source that reports it, when no publication does.", "source__url"),
]


def evidence_values(queryset: QuerySet[Outcome]) -> QuerySet[Any]:
    """The CSV's one query: a values_list of the columns' fields, in EVIDENCE_COLUMNS order."""
    mechanisms = joined(
        TrialMechanism.objects.all(),
        F("mechanism__slug"),
        ["mechanism__position", "mechanism__slug"],
        outer="trial",
    )
    names = [column.field for column in EVIDENCE_COLUMNS if column.field != "trial_url"]
    return (
        with_trial_key(queryset)
        .annotate(mechanism_list=mechanisms, citation=F("publication__citation"))
        .values_list(*names)
    )


def evidence_rows(queryset: QuerySet[Outcome]) -> Iterator[list[Any]]:
    """The header, then one row of safe cells per outcome of `queryset`, streamed from one query."""
    yield [column.name for column in EVIDENCE_COLUMNS]
    address = settings.SITE_URL + reverse("trials:detail", args=["KEY"]).replace("KEY", "{key}")
    for values in stream_rows(evidence_values(queryset)):
        row = dict(zip([c.field for c in EVIDENCE_COLUMNS if c.field != "trial_url"], values, strict=True))
        row["trial_url"] = address.format(key=quote(row["trial_key"], safe=RFC3986_SUBDELIMS + "/~:@"))
        yield [safe_cell(row[column.field]) for column in EVIDENCE_COLUMNS]
