"""The API's views: thin, as the pages' are. Reads in trials/api/queries.py, filters in trials/api/filtering.py.

Answers are JSON only (one renderer: the public pages' cache keys a page by its address and parameters, not by
its Accept header), for anyone (no sign-in), rate-limited per client (throttling.py) and, as public pages,
served from the pages' cache when they can be (trials/page_cache.py; an answer from the cache costs no throttle).
"""

from contextlib import nullcontext

from django.conf import settings
from django.http import HttpResponsePermanentRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from drf_spectacular.renderers import OpenApiJsonRenderer
from drf_spectacular.utils import OpenApiParameter, extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from mechanisms.models import Mechanism
from trials.api.filtering import TrialFilterBackend
from trials.api.queries import trial_records
from trials.api.serializers import (
    DetailSerializer,
    MechanismPageSerializer,
    NotUnderstoodSerializer,
    TrialPageSerializer,
    TrialSerializer,
)
from trials.filters import LIST_MULTI_PARAMETERS, LIST_SINGLE_PARAMETERS
from trials.models import Trial
from trials.page_cache import cache_parameters
from trials.search import index_scans
from trials.trial_page import former_address

NOT_FOUND = "No published trial has this address."
ERRORS = {404: DetailSerializer, 429: DetailSerializer}


def page_address(request, number):
    """The list's address at page `number`, absolute (SITE_URL, as the CSV's links: a cached answer is shared by
    every reader, whatever host they asked), with the other parameters as given."""
    query = request.query_params.copy()
    query["page"] = str(number)
    return f"{settings.SITE_URL}{request.path}?{urlencode(sorted(query.lists()), doseq=True)}"


class TrialList(GenericAPIView):
    """The published trials matching the list's parameters, in its order, a page at a time."""

    filter_backends = [TrialFilterBackend]
    queryset = Trial.objects.published()  # the backend starts from published trials itself (filtered_trials)
    serializer_class = TrialSerializer

    @extend_schema(
        operation_id="trials_list",
        filters=True,
        responses={200: TrialPageSerializer, 400: NotUnderstoodSerializer, **ERRORS},
        description="The published trials /trials/ shows for the same parameters (and /trials/export.csv exports), "
        "in the same order, a page at a time. A value not understood answers 400 and names its parameter; a page "
        "past the last answers 404. Queries: 5 (one more for each of mechanism and country, whose values are checked), "
        "whatever the page size; one more for the pages' cache; on PostgreSQL, a search's transaction and its "
        "setting.",
    )
    def get(self, request):
        self.today = timezone.localdate()
        trials = self.filter_queryset(self.get_queryset())
        page_size, number = self.filterset.page_size, self.filterset.form.cleaned_data.get("page") or 1
        # A search's matches through the search index (trials/search.py: index_scans), as the list's page reads them.
        with index_scans(trials.db) if self.filterset.search_text else nullcontext():
            count = trials.count()
            last = max(1, -(-count // page_size))
            if number > last:
                raise NotFound(f"Page {number} is past the last page ({last}).")
            start = (number - 1) * page_size
            results = trial_records(trials, self.today, slice(start, start + page_size))
        return Response(
            {
                "count": count,
                "next": page_address(request, number + 1) if number < last else None,
                "previous": page_address(request, number - 1) if number > 1 else None,
                "results": TrialSerializer(results, many=True).data,
            }
        )


class TrialDetail(APIView):
    """One published trial, at the key of its page (/trials/<key>/): its primary identifier, or its slug."""

    @extend_schema(
        operation_id="trials_retrieve",
        parameters=[
            OpenApiParameter(
                "key", str, OpenApiParameter.PATH, description="The primary identifier, or the slug when it has none."
            )
        ],
        responses={200: TrialSerializer, 301: None, **ERRORS},
        description="Another identifier of a published trial, or a former slug or identifier, answers 301 to the "
        "trial's address. Queries: 4, and one for the pages' cache.",
    )
    def get(self, request, key):
        if "\x00" in key:  # in no identifier or slug, and PostgreSQL refuses it in a query
            raise NotFound(NOT_FOUND)
        found = trial_records(
            Trial.objects.published().with_primary_identifier().by_public_key(key), timezone.localdate()
        )
        if found:
            return Response(TrialSerializer(found[0]).data)
        # Another identifier of a published trial, a former slug or identifier: its address, as its page does.
        moved = former_address(key)
        if moved is None:
            raise NotFound(NOT_FOUND)
        return HttpResponsePermanentRedirect(reverse("api:trial", args=[moved.public_key]))


class MechanismList(APIView):
    """The source document's mechanisms, each with its number of published trials."""

    @extend_schema(operation_id="mechanisms_list", responses={200: MechanismPageSerializer, 429: DetailSerializer})
    def get(self, request):
        mechanisms = Mechanism.objects.with_trial_count(Trial.objects.published()).order_by("position", "name")
        results = [
            {
                "slug": mechanism.slug,
                "name": mechanism.name,
                "document_term": mechanism.document_term,
                "summary": mechanism.summary,
                "trial_count": mechanism.trial_count,
                "url": settings.SITE_URL + mechanism.get_absolute_url(),
                "trials_url": f"{settings.SITE_URL}{reverse('api:trials')}?{urlencode({'mechanism': mechanism.slug})}",
            }
            for mechanism in mechanisms
        ]
        return Response({"count": len(results), "next": None, "previous": None, "results": results})


class Index(APIView):
    """/api/v1/: where the rest is."""

    @extend_schema(exclude=True)
    def get(self, request):
        return Response(
            {name: settings.SITE_URL + reverse(f"api:{name}") for name in ("trials", "mechanisms", "schema")}
        )


class NoSuchAddress(APIView):
    """Any other address under /api/v1/: a 404 in JSON, as the API's others (not the site's HTML page)."""

    @extend_schema(exclude=True)
    def get(self, request, rest=""):
        raise NotFound("No such address in this API. /api/v1/ lists them.")


trial_list = cache_parameters(single=LIST_SINGLE_PARAMETERS, multi=LIST_MULTI_PARAMETERS)(TrialList.as_view())
trial_detail = TrialDetail.as_view()
mechanism_list = MechanismList.as_view()
index = Index.as_view()
no_such_address = NoSuchAddress.as_view()
# JSON only (see the module's docstring).
schema = SpectacularAPIView.as_view(renderer_classes=[OpenApiJsonRenderer])
