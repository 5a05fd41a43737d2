"""The site's own URLs plus the benchmark's floor, `/bench/floor` (see bench/floor.py)."""

from django.http import HttpResponse
from django.urls import include, path

from trials.page_cache import not_cached

FLOOR_PATH = "/bench/floor"


@not_cached  # the floor is the stack alone: not even the data version's query
def floor(request):
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path(FLOOR_PATH.lstrip("/"), floor), path("", include("config.urls"))]
