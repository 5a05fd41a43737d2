"""The public list's filters: one FilterSet for /trials/ and /trials/export.csv, so the file equals the page.

Query values are the stored codes (phase=PHASE1_PHASE2, status=RECRUITING, country=SE, mechanism=immune-regulation).
Several values of one parameter combine with OR, different parameters with AND. A value that is not understood
makes the form invalid: callers answer 400 and say which value it was, never a wider list.

Entry points:
- `filtered_trials(data)` -> (filterset, queryset): the published trials matching `data` (request.GET), in the order
  asked for; queryset is None when the filterset is invalid (then `filterset.errors` says why).
- `facet_counts(filterset)`: for each filter, its options with the number of matching trials, counted over the list
  filtered by the other parameters (one aggregate query per facet).
"""

from hashlib import sha256

from django import forms
from django.core.cache import cache
from django.db import connections
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    Expression,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_filters import CharFilter, DateFilter, Filter, FilterSet

from mechanisms.models import Mechanism

from .models import (
    ACTIVE_STATUSES,
    CellSource,
    Country,
    DiabetesType,
    DiabetesTypeTerm,
    Immunosuppression,
    OverallStatus,
    Phase,
    RegistryIdentifier,
    Route,
    RouteTerm,
    SponsorClass,
    Trial,
    TrialMechanism,
    phase_rank,
    status_stale_q,
)

NOT_RECORDED = "NOT_RECORDED"  # the status filter's value for trials with no status recorded
STATUS_CHOICES = [*OverallStatus.choices, (NOT_RECORDED, "Status not recorded")]

PAGE_SIZE_DEFAULT = 25
PAGE_SIZE_MIN = 10
PAGE_SIZE_MAX = 100
Q_MAX_LENGTH = 200
OPEN_FACETS = {"mechanism", "status", "phase"}  # shown unfolded on the list page

SORT_CHOICES = [
    ("relevance", "Best match (with a search)"),
    ("-reviewed", "Most recently reviewed"),
    ("reviewed", "Least recently reviewed"),
    ("-start", "Start date, newest first"),
    ("start", "Start date, oldest first"),
    ("phase", "Phase, earliest first"),
    ("-phase", "Phase, latest first"),
    ("status", "Status"),
    ("title", "Title, A to Z"),
    ("-title", "Title, Z to A"),
]


# --- Fields -----------------------------------------------------------------------------------


class CodeListField(forms.Field):
    """Several codes of one vocabulary (a repeated query parameter); every one must be known.

    `known(values)` returns the set of the given values that exist: a fixed set for a vocabulary, or one
    query for a table (mechanisms, countries), however many values are given.
    """

    widget = forms.MultipleHiddenInput

    def __init__(self, *, known, normalize=str.strip, noun="value", **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.known, self.normalize, self.noun = known, normalize, noun

    def to_python(self, value):
        if value in (None, ""):
            return []
        values = value if isinstance(value, list | tuple) else [value]
        cleaned = []
        for item in values:
            item = self.normalize(str(item))
            if item and item not in cleaned:
                cleaned.append(item)
        return cleaned

    def validate(self, value):
        super().validate(value)
        if not value:
            return
        # No code holds a NUL character, and PostgreSQL refuses one in a query: such a value is unknown unasked.
        known = self.known([item for item in value if "\x00" not in item])
        unknown = [item for item in value if item not in known]
        if unknown:
            raise forms.ValidationError(
                "%(values)s is not a %(noun)s this registry knows.",
                code="invalid_choice",
                params={"values": ", ".join(f"“{item}”" for item in unknown), "noun": self.noun},
            )


def vocabulary(choices):
    codes = frozenset(code for code, _ in choices)
    return lambda values: codes.intersection(values)


def known_mechanisms(values):
    """Query: the mechanism slugs among `values`."""
    return set(Mechanism.objects.filter(slug__in=values).values_list("slug", flat=True))


def known_countries(values):
    """Query: the country codes among `values`."""
    return set(Country.objects.filter(code__in=values).values_list("code", flat=True))


class CodeFilter(Filter):
    field_class = CodeListField


class ListForm(forms.Form):
    """The list's form: the filters (added by the FilterSet) plus the list's own sort and paging."""

    sort = forms.ChoiceField(choices=SORT_CHOICES, required=False)
    page = forms.IntegerField(min_value=1, required=False)
    page_size = forms.IntegerField(min_value=PAGE_SIZE_MIN, max_value=PAGE_SIZE_MAX, required=False)

    def clean_q(self):
        return " ".join((self.cleaned_data.get("q") or "").split())


# --- The FilterSet ----------------------------------------------------------------------------


def is_postgresql(queryset):
    return connections[queryset.db].vendor == "postgresql"


def search_vector():
    """What PostgreSQL's search reads: Trial.search_document holds this, kept by a trigger (migration 0005)."""
    from django.contrib.postgres.search import SearchVector

    return (
        SearchVector("brief_title", "acronym", weight="A", config="english")
        + SearchVector("official_title", "product_name", weight="B", config="english")
        + SearchVector("sponsor", weight="C", config="english")
        + SearchVector("summary", weight="D", config="english")
    )


def search_query(text):
    from django.contrib.postgres.search import SearchQuery

    return SearchQuery(text, search_type="websearch", config="english")


def identifier_matches(text, lookup="icontains"):
    return Exists(RegistryIdentifier.objects.filter(trial=OuterRef("pk"), **{f"value__{lookup}": text}))


class PkInArray(Expression):
    """`pk = ANY(ARRAY(subquery))` (PostgreSQL): the subquery runs once, before the trials are read, and its ids
    are looked up in the primary key's index. So an OR of this and an indexed condition (the search document)
    is a BitmapOr of two index scans; with EXISTS or IN, PostgreSQL checks the OR row by row over every trial."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, queryset):
        super().__init__()
        self.pk, self.subquery = F("pk"), Subquery(queryset)

    def get_source_expressions(self):
        return [self.pk, self.subquery]

    def set_source_expressions(self, expressions):
        self.pk, self.subquery = expressions

    def as_sql(self, compiler, connection):
        pk_sql, pk_params = compiler.compile(self.pk)
        subquery_sql, subquery_params = compiler.compile(self.subquery)
        return f"{pk_sql} = ANY(ARRAY{subquery_sql})", (*pk_params, *subquery_params)


SEARCH_FIELDS = ["brief_title", "official_title", "acronym", "summary", "product_name", "sponsor"]


def search_words(text):
    return [word for word in (part.strip("\"'()") for part in text.split()) if word and word != "-"]


class TrialFilter(FilterSet):
    """The public list's filters. Every filter narrows by a WHERE clause: no joins, no DISTINCT."""

    q = CharFilter(method="filter_search", label="Search", max_length=Q_MAX_LENGTH)
    mechanism = CodeFilter(method="filter_mechanism", label="Mechanism", known=known_mechanisms, noun="mechanism")
    status = CodeFilter(
        method="filter_status", label="Status", known=vocabulary(STATUS_CHOICES), noun="status", normalize=str.upper
    )
    phase = CodeFilter(
        method="filter_in", field_name="phase", label="Phase", known=vocabulary(Phase.choices), noun="phase"
    )
    diabetes_type = CodeFilter(
        method="filter_diabetes_type",
        label="Diabetes type",
        known=vocabulary(DiabetesType.choices),
        noun="diabetes type",
        normalize=lambda v: v.strip().upper(),
    )
    cell_source = CodeFilter(
        method="filter_in", field_name="cell_source", label="Cell source", known=vocabulary(CellSource.choices),
        noun="cell source",
    )  # fmt: skip
    route = CodeFilter(method="filter_route", label="Route", known=vocabulary(Route.choices), noun="route")
    country = CodeFilter(
        method="filter_country",
        label="Country",
        known=known_countries,
        noun="country code",
        normalize=lambda v: v.strip().upper(),
    )
    sponsor_class = CodeFilter(
        method="filter_in",
        field_name="sponsor_class",
        label="Sponsor type",
        known=vocabulary(SponsorClass.choices),
        noun="sponsor type",
    )
    immunosuppression = CodeFilter(
        method="filter_in",
        field_name="immunosuppression",
        label="Immunosuppression",
        known=vocabulary(Immunosuppression.choices),
        noun="immunosuppression value",
    )
    started_after = DateFilter(field_name="start_date", lookup_expr="gte", label="Started on or after")
    started_before = DateFilter(field_name="start_date", lookup_expr="lte", label="Started on or before")

    class Meta:
        model = Trial
        fields = []
        form = ListForm

    def __init__(self, data=None, *args, today=None, **kwargs):
        self.today = today or timezone.localdate()
        super().__init__(data, *args, **kwargs)
        for name in ("started_after", "started_before"):
            field = self.form.fields[name]
            field.input_formats = ["%Y-%m-%d"]
            field.error_messages["invalid"] = "Enter a date as YYYY-MM-DD, e.g. 2024-03-01."

    # Filtering, with the list's own fields (sort, page, page_size) left out; `exclude` serves the facets.
    def filter_queryset(self, queryset, exclude=()):
        for name, value in self.form.cleaned_data.items():
            if name in self.filters and name not in exclude:
                queryset = self.filters[name].filter(queryset, value)
        return queryset

    def filter_in(self, queryset, name, value):
        return queryset.filter(**{f"{name}__in": value})

    def filter_status(self, queryset, name, value):
        """The status as shown to readers: stale active statuses count as unknown (see StatusDisplay)."""
        stale = status_stale_q(self.today)
        condition = Q(pk__in=[])
        for code in value:
            if code == NOT_RECORDED:
                condition |= Q(overall_status="")
            elif code == OverallStatus.UNKNOWN:
                condition |= Q(overall_status=OverallStatus.UNKNOWN) | stale
            elif code in ACTIVE_STATUSES:
                condition |= Q(overall_status=code) & ~stale
            else:
                condition |= Q(overall_status=code)
        return queryset.filter(condition)

    def filter_mechanism(self, queryset, name, value):
        return queryset.filter(Exists(TrialMechanism.objects.filter(trial=OuterRef("pk"), mechanism__slug__in=value)))

    def filter_diabetes_type(self, queryset, name, value):
        through = Trial.diabetes_types.through
        return queryset.filter(Exists(through.objects.filter(trial=OuterRef("pk"), diabetestypeterm__in=value)))

    def filter_route(self, queryset, name, value):
        through = Trial.routes.through
        return queryset.filter(Exists(through.objects.filter(trial=OuterRef("pk"), routeterm__in=value)))

    def filter_country(self, queryset, name, value):
        through = Trial.countries.through
        return queryset.filter(Exists(through.objects.filter(trial=OuterRef("pk"), country__in=value)))

    def filter_search(self, queryset, name, value):
        """Full-text search on PostgreSQL; on other databases every word must appear in one of the fields."""
        if is_postgresql(queryset):
            # search_document is search_vector() stored by a trigger and GIN-indexed (migration 0005); identifiers
            # are matched through a trigram index (migration 0006).
            identifiers = RegistryIdentifier.objects.filter(value__icontains=value).values("trial_id")
            return queryset.filter(Q(search_document=search_query(value)) | PkInArray(identifiers))
        for word in search_words(value):
            matches = Q(identifier_matches(word))
            for field in SEARCH_FIELDS:
                matches |= Q(**{f"{field}__icontains": word})
            queryset = queryset.filter(matches)
        return queryset

    # What the reader asked for, after validation.
    @property
    def search_text(self):
        return self.form.cleaned_data.get("q") or ""

    @property
    def sort(self):
        sort = self.form.cleaned_data.get("sort") or ""
        if sort == "relevance" and not self.search_text:
            sort = ""
        return sort or ("relevance" if self.search_text else "-reviewed")

    @property
    def page_size(self):
        return self.form.cleaned_data.get("page_size") or PAGE_SIZE_DEFAULT

    @property
    def is_filtered(self):
        return any(self.form.cleaned_data.get(name) not in (None, "", []) for name in self.filters)


# --- Ordering ---------------------------------------------------------------------------------


def shown_status(today=None):
    """An expression: the status code readers see (UNKNOWN for a stale active status, '' when not recorded)."""
    return Case(When(status_stale_q(today), then=Value(OverallStatus.UNKNOWN)), default=F("overall_status"))


def status_rank():
    """Order of statuses as shown: the vocabulary's order, 'not recorded' last."""
    ranks = [When(shown=code, then=Value(rank)) for rank, code in enumerate(OverallStatus.values)]
    return Case(*ranks, default=Value(len(ranks)), output_field=IntegerField())


def order_trials(queryset, sort, text=""):
    """Order `queryset` by one of SORT_CHOICES, with the primary key last so that pages are stable."""
    if sort == "relevance" and text:
        if is_postgresql(queryset):
            from django.contrib.postgres.search import SearchRank

            rank = SearchRank(F("search_document"), search_query(text))
        else:
            rank = Case(
                When(Q(brief_title__icontains=text) | Q(acronym__iexact=text), then=Value(1.0)),
                default=Value(0.0),
                output_field=FloatField(),
            )
        exact = Case(When(identifier_matches(text, "iexact"), then=Value(1)), default=Value(0))
        return queryset.alias(exact_identifier=exact, rank=Coalesce(rank, Value(0.0))).order_by(
            "-exact_identifier", "-rank", F("last_reviewed_on").desc(nulls_last=True), "pk"
        )
    if sort == "status":
        return queryset.alias(shown=shown_status()).alias(status_rank=status_rank()).order_by("status_rank", "pk")
    if sort in ("phase", "-phase"):
        rank = F("phase_rank").asc() if sort == "phase" else F("phase_rank").desc()
        unknown_last = Case(When(phase__in=["", Phase.NA], then=Value(1)), default=Value(0))
        return queryset.alias(phase_unknown=unknown_last, phase_rank=phase_rank()).order_by(
            "phase_unknown", rank, "brief_title", "pk"
        )
    field = {"reviewed": "last_reviewed_on", "start": "start_date", "title": "brief_title"}[sort.lstrip("-")]
    expression = F(field).desc(nulls_last=True) if sort.startswith("-") else F(field).asc(nulls_last=True)
    return queryset.order_by(expression, "pk")


def filtered_trials(data, today=None):
    """Validate `data` and return (filterset, queryset): published trials matching it, in the order asked for.

    The queryset is None when the data is invalid. It carries the `primary_identifier` annotation; callers add
    the select_related/prefetch_related their page or file needs. Builds querysets only (validating a mechanism
    or a country runs one query for it).
    """
    filterset = TrialFilter(data, queryset=Trial.objects.published(), today=today)
    if not filterset.is_valid():
        return filterset, None
    queryset = filterset.filter_queryset(Trial.objects.published().with_primary_identifier())
    return filterset, order_trials(queryset, filterset.sort, filterset.search_text)


# --- Counts ---------------------------------------------------------------------------------


def count_by(queryset, field, choices):
    """One query: [(code, label, count)] for every code of a vocabulary, zero included."""
    counts = dict(queryset.order_by().values_list(field).annotate(n=Count("pk")).values_list(field, "n"))
    return [(code, label, counts.get(code, 0)) for code, label in choices]


def count_by_status(queryset, today=None):
    """One query: [(code, label, count)] by status as readers see it (stale active statuses count as unknown),
    with NOT_RECORDED for trials whose status is not recorded."""
    counts = dict(
        queryset.order_by()
        .annotate(shown=shown_status(today))
        .values_list("shown")
        .annotate(n=Count("pk"))
        .values_list("shown", "n")
    )
    counts[NOT_RECORDED] = counts.pop("", 0)
    return [(code, label, counts.get(code, 0)) for code, label in STATUS_CHOICES]


# --- Facets -----------------------------------------------------------------------------------


def facet_counts(filterset):
    """The options of every filter with the number of matching trials, each counted over the list filtered by
    the other parameters (as faceted search does). Queries: one per facet (nine), whatever the data size.

    Returns a list of dicts: {"name", "label", "options": [{"value", "label", "count", "selected"}]}.
    Works on an invalid filterset too (counted over its valid parameters), so a 400 page keeps its form.
    """
    cleaned = getattr(filterset.form, "cleaned_data", {})
    published = Trial.objects.published()

    def others(name):
        return filterset.filter_queryset(published, exclude={name}) if cleaned else published

    def selected(name):
        if name in cleaned:
            return set(cleaned[name])
        # The raw values of an invalid parameter: no option holds a NUL character (nor may a PostgreSQL query).
        return {v for v in filterset.form[name].value() or [] if "\x00" not in v} if filterset.is_bound else set()

    def options(name, rows):
        chosen = selected(name)
        return [
            {"value": value, "label": label, "count": count, "selected": value in chosen}
            for value, label, count in rows
            if count or value in chosen
        ]

    facets = []

    # Meta.ordering does not apply to aggregate queries: order explicitly.
    # only(): the mechanisms' long texts would be carried through the join, one copy per link.
    mechanisms = (
        Mechanism.objects.only("slug", "name", "position")
        .annotate(n=Count("trial_links", filter=Q(trial_links__trial__in=others("mechanism"))))
        .order_by("position")
    )
    facets.append(("mechanism", [(m.slug, m.name, m.n) for m in mechanisms]))

    facets.append(("status", count_by_status(others("status"), filterset.today)))
    facets.append(("phase", count_by(others("phase"), "phase", Phase.choices)))

    terms = DiabetesTypeTerm.objects.annotate(n=Count("trials", filter=Q(trials__in=others("diabetes_type")))).order_by(
        "position"
    )
    facets.append(("diabetes_type", [(t.code, t.label, t.n) for t in terms]))

    facets.append(("cell_source", count_by(others("cell_source"), "cell_source", CellSource.choices)))

    terms = RouteTerm.objects.annotate(n=Count("trials", filter=Q(trials__in=others("route")))).order_by("position")
    facets.append(("route", [(t.code, t.label, t.n) for t in terms]))

    # Countries no trial has are left out by options(), not by a HAVING clause, which would count twice.
    countries = Country.objects.annotate(n=Count("trials", filter=Q(trials__in=others("country")))).order_by("name")
    facets.append(("country", [(c.code, c.name, c.n) for c in countries]))

    facets.append(("sponsor_class", count_by(others("sponsor_class"), "sponsor_class", SponsorClass.choices)))
    facets.append(
        ("immunosuppression", count_by(others("immunosuppression"), "immunosuppression", Immunosuppression.choices))
    )

    return [
        {
            "name": name,
            "label": filterset.filters[name].label,
            "options": options(name, rows),
            "open": name in OPEN_FACETS or bool(selected(name)),
        }
        for name, rows in facets
    ]


# --- Cached counts ----------------------------------------------------------------------------
# Counting 100,000 trials per facet takes far longer than reading one page of them, and the counts only change
# when the registry does. So they are cached under a key that includes `data_version()`, which changes with
# anything the counts read: a trial added, saved (by a curator in the admin, a workflow step such as publishing,
# an import: each sets updated_at and writes a history record), its many-to-many fields changed (a history record
# too, even without a save) or deleted; a mechanism link or a registry identifier added, changed or deleted on its
# own (each has its own history). The next reader then counts afresh. The timeout is a backstop for what the
# version does not see (a mechanism renamed: its facet label).

COUNTS_CACHE_SECONDS = 300


def latest(model, field):
    """A subquery: the largest `field` of `model` (an index lookup)."""
    return Subquery(model._default_manager.order_by(f"-{field}").values(field)[:1])


def data_version():
    """One query, index lookups only: a value that changes whenever the published lists' counts may (see above):
    the largest trial id and updated_at, and the last history record of trials, mechanism links and registry
    identifiers. Changes made without the ORM (raw SQL, queryset.update()) are not seen."""
    version = (
        Trial.objects.order_by("-pk")
        .annotate(
            changed=latest(Trial, "updated_at"),
            trial_record=latest(Trial.history.model, "history_id"),
            link_record=latest(TrialMechanism.history.model, "history_id"),
            identifier_record=latest(RegistryIdentifier.history.model, "history_id"),
        )
        .values_list("pk", "changed", "trial_record", "link_record", "identifier_record")
        .first()
    )
    return repr(version)


def cached_counts(name, key, compute):
    """`compute()`, or its value cached under (`name`, `key`, today, the data version) if counted already.

    One query (the data version) when cached. The value must be picklable (lists, dicts, model instances)."""
    parts = (name, key, timezone.localdate().isoformat(), data_version())
    cache_key = "trials:counts:" + sha256(repr(parts).encode()).hexdigest()
    value = cache.get(cache_key)
    if value is None:
        value = compute()
        cache.set(cache_key, value, COUNTS_CACHE_SECONDS)
    return value


def list_counts(filterset, queryset):
    """(facets, total): `facet_counts(filterset)` and the number of trials in `queryset` (None when the filterset
    is invalid, which is counted but never cached). Queries: 1 when cached (the data version), 11 otherwise."""
    if queryset is None:
        return facet_counts(filterset), None
    asked = sorted(
        (name, repr(value)) for name, value in filterset.form.cleaned_data.items() if name in filterset.filters
    )
    return cached_counts(
        "list", (asked, filterset.today.isoformat()), lambda: (facet_counts(filterset), queryset.count())
    )
