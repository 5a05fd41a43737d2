"""For crawlers and browsers: /robots.txt and /favicon.ico. (/sitemap.xml is trials/sitemaps.py's.)"""

import functools

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.views.decorators.http import require_safe

from trials.page_cache import not_cached

# What crawlers should not fetch: files and data for programs (the exports, the API), and the list's endless
# combinations of filters (the unfiltered list and every trial's page stay open; the sitemap lists them).
DISALLOWED = ["/trials/export.csv", "/evidence/export.csv", "/api/", "/trials/?"]
DEFAULT_ADMIN_URL = "admin/"


def robots_lines():
    lines = ["User-agent: *"]
    # The admin at its usual address: kept off. Moved elsewhere (ADMIN_URL), it is not named, here or anywhere.
    if settings.ADMIN_URL == DEFAULT_ADMIN_URL:
        lines.append(f"Disallow: /{DEFAULT_ADMIN_URL}")
    lines += [f"Disallow: {path}" for path in DISALLOWED]
    return [*lines, "", f"Sitemap: {settings.SITE_URL}/sitemap.xml"]


@not_cached  # no query to save: it reads the settings alone
@require_safe
def robots_txt(request):
    return HttpResponse("\n".join(robots_lines()) + "\n", content_type="text/plain; charset=utf-8")


@functools.cache
def favicon_bytes():
    with open(finders.find("favicon.ico"), "rb") as file:
        return file.read()


@not_cached  # a file: its own Cache-Control
@require_safe
def favicon(request):
    """/favicon.ico, where browsers and feed readers look for it without asking the page (the pages name the SVG
    and this file in their <link rel="icon">)."""
    response = HttpResponse(favicon_bytes(), content_type="image/x-icon")
    response["Cache-Control"] = "public, max-age=86400"
    return response
