"""The public pages' cache: anonymous GET and HEAD requests answered from a cache keyed by the normalised request
and the registry's data version (trials/data_version.py), so a page is never stale and needs no expiry.

What is cached: a 200 answer to an anonymous GET or HEAD of any page outside the admin that sets no cookie, uses
no session or CSRF token, is not streamed, says nothing against it (Cache-Control: private, no-cache, no-store)
and is not larger than PAGE_CACHE_MAX_BYTES. A new page is covered with no code. A view says which query
parameters it reads with `@cache_parameters(...)` (the key holds only those, normalised: a repeated parameter
read as a set is sorted and de-duplicated, one read as a single value keeps its last value); a view that declares
none is cached only when asked without a query string. `@not_cached` opts a view out (streamed exports, health).
Answers the view refuses (400 for a filter it does not understand, 404) are never cached, so random query
strings cannot fill the cache with them; what the filters accept fills a size-capped cache (settings.CACHES).

Who bypasses it: any request with a session cookie (signed-in curators and editors see pages as they are, and
their answers are marked private) or an Authorization header, and every method but GET and HEAD.

Browsers and proxies revalidate: cached answers carry `Cache-Control: public, max-age=0, must-revalidate`, an ETag
(the key's hash: the version, the day and the request) and Last-Modified (the data's last change, or midnight,
as a status shown depends on the day); a matching If-None-Match, or an If-Modified-Since not older than the last
change, gets a 304 before the cache is even read.
"""

import hashlib
from calendar import timegm
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, time

from django.conf import settings
from django.core.cache import cache, caches
from django.db import DatabaseError
from django.http import HttpResponse, HttpResponseNotModified
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.http import http_date, parse_etags, parse_http_date_safe

from trials import version_watch

CACHE_CONTROL = "public, max-age=0, must-revalidate"
HEADERS_KEPT = ("Content-Type", "Content-Language", "Content-Disposition", "Link", "Vary", "Location")

# The data version read for this request, for the counts' cache (trials/facets.py) to reuse: one query a request.
request_version = ContextVar("request_version", default=None)


def get(key):
    """The entry cached under `key` (a page, or counts: keys that hold the data version, whose entries therefore
    never change), or None. With a shared cache server (CACHE_URL), each process keeps a copy of what it read in
    its own memory (the "local" cache, capped at CACHE_LOCAL_MAX_ENTRIES), so its next hits cost no round trip."""
    local = caches["local"] if "local" in settings.CACHES else None
    value = local.get(key) if local is not None else None
    if value is None:
        value = cache.get(key)
        if value is not None and local is not None:
            local.set(key, value)
    return value


def store(key, value):
    cache.set(key, value)
    if "local" in settings.CACHES:
        caches["local"].set(key, value)


@dataclass(frozen=True)
class Parameters:
    single: frozenset = frozenset()  # the view reads the last value
    multi: frozenset = frozenset()  # the view reads every value, in any order (a set)


def cache_parameters(*, single=(), multi=()):
    """Declare the query parameters a view reads, so that the cache keys its pages by them (and only them)."""
    parameters = Parameters(frozenset(single), frozenset(multi))

    def decorate(view):
        view.page_cache = parameters
        return view

    return decorate


def not_cached(view):
    """Never serve or store this view's answers from the public pages' cache."""
    view.page_cache = None
    return view


def normalised_query(query, parameters):
    """The parameters the view reads, as a tuple: sorted by name, each with its values (see Parameters)."""
    known = []
    for name in sorted(parameters.single | parameters.multi):
        values = query.getlist(name)
        if not values:
            continue
        known.append((name, tuple(sorted(set(values))) if name in parameters.multi else (values[-1],)))
    return tuple(known)


def signed_in(request):
    return settings.SESSION_COOKIE_NAME in request.COOKIES or "HTTP_AUTHORIZATION" in request.META


def last_modified(version):
    """When the page last changed: the data's last change, or the start of today (the status shown depends on the
    day), whichever is later; as a Unix time, to the second (rounded up)."""
    midnight = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    changed = max(version.changed_at, midnight)
    return timegm(changed.utctimetuple()) + (1 if changed.microsecond else 0)


@dataclass(frozen=True)
class Entry:
    key: str
    etag: str
    last_modified: int


def lookup(request, view_func):
    """The cache entry this request may be answered from, or None if it bypasses the cache. Queries: at most one
    (the data version, which on PostgreSQL is mostly known without one: trials/version_watch.py)."""
    if request.method not in ("GET", "HEAD") or signed_in(request):
        return None
    if request.path_info.startswith("/" + settings.ADMIN_URL):
        return None
    parameters = getattr(view_func, "page_cache", Parameters())
    if parameters is None or (request.GET and parameters == Parameters()):
        return None
    try:
        version = version_watch.current()
    except DatabaseError:
        return None  # the view meets the same error and answers for it (503 when the database is down)
    if version is None:
        return None
    request_version.set(version)
    parts = (version.tag, timezone.localdate().isoformat(), request.path, normalised_query(request.GET, parameters))
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()
    return Entry(key=f"pages:{digest}", etag=f'"{digest[:32]}"', last_modified=last_modified(version))


def not_modified(request, entry):
    """Whether the client's copy is current (RFC 9110: If-None-Match wins over If-Modified-Since)."""
    if_none_match = request.META.get("HTTP_IF_NONE_MATCH")
    if if_none_match:
        etags = parse_etags(if_none_match)
        return "*" in etags or entry.etag in etags or f"W/{entry.etag}" in etags
    since = parse_http_date_safe(request.META.get("HTTP_IF_MODIFIED_SINCE", ""))
    return since is not None and since >= entry.last_modified


def storable(request, response):
    if response.status_code != 200 or response.streaming or response.cookies:
        return False
    if request.META.get("CSRF_COOKIE_NEEDS_UPDATE") or request.META.get("CSRF_COOKIE_USED"):
        return False  # the page holds a CSRF token: one reader's, not everyone's
    session = getattr(request, "session", None)
    if session is not None and (session.accessed or session.modified):
        return False
    control = response.get("Cache-Control", "").lower()
    if any(word in control for word in ("private", "no-cache", "no-store")):
        return False
    return len(response.content) <= settings.PAGE_CACHE_MAX_BYTES


def with_validators(response, entry):
    response["ETag"] = entry.etag
    response["Last-Modified"] = http_date(entry.last_modified)
    response["Cache-Control"] = CACHE_CONTROL
    return response


class PageCacheMiddleware:
    """Serve public pages from the cache (see the module's docstring). Placed after the session, CSRF and
    authentication middleware, so it sees whether a page used them; the outer middleware (security headers,
    Content-Length) applies to every answer, cached or not."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = request_version.set(None)
        try:
            response = self.get_response(request)
            entry = getattr(request, "page_cache_entry", None)
            if entry is not None and storable(request, response):
                headers = [(name, response[name]) for name in HEADERS_KEPT if name in response]
                store(entry.key, (response.content, headers))
                response["X-Page-Cache"] = "miss"
                with_validators(response, entry)
            elif signed_in(request) and request.method in ("GET", "HEAD"):
                patch_cache_control(response, private=True)
            return response
        finally:
            request_version.reset(token)

    def process_view(self, request, view_func, view_args, view_kwargs):
        entry = lookup(request, view_func)
        if entry is None:
            return None
        if not_modified(request, entry):
            return with_validators(HttpResponseNotModified(), entry)
        stored = get(entry.key)
        if stored is None:
            request.page_cache_entry = entry
            return None
        content, headers = stored
        response = HttpResponse(content, headers=dict(headers))
        response["X-Page-Cache"] = "hit"
        return with_validators(response, entry)
