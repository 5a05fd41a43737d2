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

from django import forms
from django.db.models import Case, Exists, F, OuterRef, Q, Value, When
from django.utils import timezone
from django_filters import CharFilter, DateFilter, Filter, FilterSet

from mechanisms.models import Mechanism
from trials.models import Country, Trial, TrialMechanism
from trials.search import relevance, text_matches
from trials.status import (
    ACTIVE_STATUSES,
    NOT_RECORDED,
    STALE,
    STATUS_CHOICES,
    activity_rank,
    shown_status,
    status_rank,
    status_stale_q,
)
from trials.vocabularies import (
    PHASE_ORDER,
    CellSource,
    DiabetesType,
    Immunosuppression,
    Phase,
    Route,
    SponsorClass,
)

PAGE_SIZE_DEFAULT = 25
PAGE_SIZE_MIN = 10
PAGE_SIZE_MAX = 100
Q_MAX_LENGTH = 200
# With no search, the list opens on what helps a reader most (every record may share one review date): trials open
# to participants first, then those still active, then the rest, each by the date its status was last confirmed.
DEFAULT_SORT = "active"

SORT_CHOICES = [
    ("relevance", "Best match (with a search)"),
    ("active", "Recruiting and active first"),
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
    """The codes of `choices` and NOT_RECORDED (the trials with no value)."""
    codes = frozenset(code for code, _ in choices) | {NOT_RECORDED}
    return lambda values: codes.intersection(values)


def known_mechanisms(values):
    """Query: the mechanism slugs among `values` (and NOT_RECORDED)."""
    return set(Mechanism.objects.filter(slug__in=values).values_list("slug", flat=True)) | {NOT_RECORDED} & set(values)


def known_countries(values):
    """Query: the country codes among `values` (and NOT_RECORDED)."""
    return set(Country.objects.filter(code__in=values).values_list("code", flat=True)) | {NOT_RECORDED} & set(values)


def linked(links, value):
    """A condition on trials: linked by `links` (a queryset of link rows filtered to the values asked for), or, if
    NOT_RECORDED is among `value`, with no link at all (`links.model`'s rows of the trial)."""
    condition = Exists(links.filter(trial=OuterRef("pk")))
    if NOT_RECORDED in value:
        condition = Q(condition) | ~Exists(links.model.objects.filter(trial=OuterRef("pk")))
    return condition


class CodeFilter(Filter):
    field_class = CodeListField


class ListForm(forms.Form):
    """The list's form: the filters (added by the FilterSet) plus the list's own sort and paging."""

    sort = forms.ChoiceField(choices=SORT_CHOICES, required=False)
    page = forms.IntegerField(min_value=1, required=False)
    page_size = forms.IntegerField(min_value=PAGE_SIZE_MIN, max_value=PAGE_SIZE_MAX, required=False)

    def clean_q(self):
        return " ".join((self.cleaned_data.get("q") or "").split())

    def clean(self):
        cleaned = super().clean()
        after, before = cleaned.get("started_after"), cleaned.get("started_before")
        if after and before and after > before:
            self.add_error(
                "started_before",
                forms.ValidationError(
                    "“On or before” (%(before)s) is earlier than “on or after” (%(after)s): no trial can start in "
                    "that range. Swap the two dates or remove one.",
                    code="inverted_range",
                    params={"before": before.isoformat(), "after": after.isoformat()},
                ),
            )
        return cleaned


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
        condition = Q(**{f"{name}__in": value})
        if NOT_RECORDED in value:
            condition |= Q(**{name: ""})
        return queryset.filter(condition)

    def filter_status(self, queryset, name, value):
        """The status as shown to readers: stale active statuses are STALE, not their stored status, nor the
        registry's own "Unknown status" (see StatusDisplay)."""
        stale = status_stale_q(self.today)
        condition = Q(pk__in=[])
        for code in value:
            if code == NOT_RECORDED:
                condition |= Q(overall_status="")
            elif code == STALE:
                condition |= stale
            elif code in ACTIVE_STATUSES:
                condition |= Q(overall_status=code) & ~stale
            else:
                condition |= Q(overall_status=code)
        return queryset.filter(condition)

    def filter_mechanism(self, queryset, name, value):
        return queryset.filter(linked(TrialMechanism.objects.filter(mechanism__slug__in=value), value))

    def filter_diabetes_type(self, queryset, name, value):
        through = Trial.diabetes_types.through
        return queryset.filter(linked(through.objects.filter(diabetestypeterm__in=value), value))

    def filter_route(self, queryset, name, value):
        through = Trial.routes.through
        return queryset.filter(linked(through.objects.filter(routeterm__in=value), value))

    def filter_country(self, queryset, name, value):
        through = Trial.countries.through
        return queryset.filter(linked(through.objects.filter(country__in=value), value))

    def filter_search(self, queryset, name, value):
        """The trials whose indexed text matches the query, synonyms expanded (trials/search.py), or one of whose
        identifiers contains it."""
        return queryset.filter(text_matches(value, queryset.db))

    # What the reader asked for, after validation.
    @property
    def search_text(self):
        return self.form.cleaned_data.get("q") or ""

    @property
    def sort(self):
        sort = self.form.cleaned_data.get("sort") or ""
        if sort == "relevance" and not self.search_text:
            sort = ""
        return sort or ("relevance" if self.search_text else DEFAULT_SORT)

    @property
    def page_size(self):
        return self.form.cleaned_data.get("page_size") or PAGE_SIZE_DEFAULT

    @property
    def others_asked(self):
        """Whether filters other than the search were given."""
        return any(self.form.cleaned_data.get(name) not in (None, "", []) for name in self.filters if name != "q")

    @property
    def is_filtered(self):
        return any(self.form.cleaned_data.get(name) not in (None, "", []) for name in self.filters)


def phase_rank():
    """An expression ordering trials by phase (earliest first, unknown last), for sorting in SQL."""
    return Case(*[When(phase=code, then=Value(rank)) for code, rank in PHASE_ORDER.items()], default=Value(99))


def in_active_order(queryset, today=None):
    """The list's default order (sort=active): trials open to participants first, then active ones, then the rest,
    each by the date its status was last confirmed, then started (newest first)."""
    return queryset.alias(activity=activity_rank(today)).order_by(
        "activity", F("status_confirmed_on").desc(nulls_last=True), F("start_date").desc(nulls_last=True), "pk"
    )


def order_trials(queryset, sort, text=""):
    """Order `queryset` by one of SORT_CHOICES, with the primary key last so that pages are stable."""
    if sort == "relevance" and text:
        return queryset.order_by(*relevance(text, queryset.db), F("last_reviewed_on").desc(nulls_last=True), "pk")
    if sort == "active":
        return in_active_order(queryset)
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


# The query parameters the list reads, for the public pages' cache key (trials/page_cache.py): the repeatable
# codes (read as a set) and the others (read as one value: the last one given). Other parameters are ignored.
LIST_MULTI_PARAMETERS = frozenset(
    name for name, item in TrialFilter.base_filters.items() if isinstance(item, CodeFilter)
)
LIST_SINGLE_PARAMETERS = frozenset(TrialFilter.base_filters) - LIST_MULTI_PARAMETERS | set(ListForm.base_fields)


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
