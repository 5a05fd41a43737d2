"""The list's filters in the API: django-filter's DRF backend over the list's own FilterSet (trials/filters.py), so
/api/v1/trials/ answers for exactly the trials /trials/ and /trials/export.csv show for the same parameters.

- `TrialFilterBackend`: validates the query with TrialFilter through `filtered_trials`, the one path the page and
  the CSV take; a value it does not understand is `NotUnderstood` (400), naming the parameter. Parameters the
  list does not read are ignored, as the list ignores them (the public pages' cache keys a page by the parameters
  its view reads, and no others: trials/page_cache.py).
- `TrialFilterSchema`: the parameters in the OpenAPI schema, with their vocabularies.
"""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.extensions import OpenApiFilterExtension
from rest_framework import status
from rest_framework.exceptions import APIException

from trials.filters import (
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    PAGE_SIZE_MIN,
    Q_MAX_LENGTH,
    SORT_CHOICES,
    TrialFilter,
    filtered_trials,
)
from trials.status import STATUS_CHOICES
from trials.vocabularies import CellSource, DiabetesType, Immunosuppression, Phase, Route, SponsorClass


class NotUnderstood(APIException):
    """400: {"detail": ..., "errors": {parameter: [what was not understood, ...]}}, as the list's 400 page says."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "not_understood"

    def __init__(self, errors):
        names = ", ".join(sorted(errors))
        super().__init__({"detail": f"Some query parameters were not understood: {names}.", "errors": errors})


class TrialFilterBackend(DjangoFilterBackend):
    """django-filter's backend, taking the list's path: `filtered_trials` validates the query with TrialFilter,
    starts from the published trials and orders them as the list does. The view's queryset is not used (it is
    the same one). The validated filterset is left on the view (its page and page size serve the paginator)."""

    def get_filterset_class(self, view, queryset=None):
        return TrialFilter

    def filter_queryset(self, request, queryset, view):
        filterset, trials = filtered_trials(request.query_params, today=view.today)
        if trials is None:
            raise NotUnderstood({name: list(messages) for name, messages in filterset.errors.items()})
        view.filterset = filterset
        return trials


def codes(choices):
    return [code for code, _ in choices]


# The repeatable parameters' vocabularies (mechanism and country are checked against their tables).
VOCABULARIES = {
    "status": codes(STATUS_CHOICES),
    "phase": Phase.values,
    "diabetes_type": DiabetesType.values,
    "cell_source": CellSource.values,
    "route": Route.values,
    "sponsor_class": SponsorClass.values,
    "immunosuppression": Immunosuppression.values,
    "mechanism": None,
    "country": None,
}
REPEATABLE = " Repeat the parameter for several values: they combine with OR; different parameters with AND."


def parameter(name, schema, description, many=False):
    if many:
        schema = {"type": "array", "items": schema}
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description + (REPEATABLE if many else ""),
        "schema": schema,
        **({"style": "form", "explode": True} if many else {}),
    }


def list_parameters():
    """The OpenAPI parameters of /api/v1/trials/: the list's filters, sort and paging."""
    filters = TrialFilter.base_filters
    found = [
        parameter("q", {"type": "string", "maxLength": Q_MAX_LENGTH}, "Free text: title, acronym, identifiers, "
                  "sponsor, product, summary."),
    ]  # fmt: skip
    for name, codes_ in VOCABULARIES.items():
        label = filters[name].label
        if codes_ is not None:
            found.append(parameter(name, {"type": "string", "enum": codes_}, f"{label}: one of its codes.", True))
        elif name == "mechanism":
            found.append(parameter(name, {"type": "string"}, "Mechanism: its slug, e.g. immune-regulation.", True))
        else:
            found.append(parameter(name, {"type": "string"}, "Country with a site: ISO 3166-1 alpha-2, e.g. SE.", True))
    found += [
        parameter("started_after", {"type": "string", "format": "date"}, "Started on or after (YYYY-MM-DD)."),
        parameter("started_before", {"type": "string", "format": "date"}, "Started on or before (YYYY-MM-DD)."),
        parameter(
            "sort",
            {"type": "string", "enum": codes(SORT_CHOICES)},
            "Order: " + "; ".join(f"{code} ({label})" for code, label in SORT_CHOICES) + ".",
        ),
        parameter("page", {"type": "integer", "minimum": 1}, "Page number, from 1."),
        parameter(
            "page_size",
            {"type": "integer", "minimum": PAGE_SIZE_MIN, "maximum": PAGE_SIZE_MAX},
            f"Trials per page (default {PAGE_SIZE_DEFAULT}).",
        ),
    ]
    return found


class TrialFilterSchema(OpenApiFilterExtension):
    """drf-spectacular: the backend's parameters, written out with their vocabularies (rather than guessed from
    the FilterSet's custom filters)."""

    target_class = "trials.api.filtering.TrialFilterBackend"
    priority = 1  # before drf-spectacular's own extension for DjangoFilterBackend

    def get_schema_operation_parameters(self, auto_schema, *args, **kwargs):
        return list_parameters()
