"""Project-wide middleware: security headers, and a 503 page while the database is unavailable.

The Content Security Policy is a fixed header written here rather than with django-csp: the site
has no inline script or style and needs no nonces, so the policy is one constant string
(settings.CONTENT_SECURITY_POLICY) and twenty lines are easier to read and test than a dependency.
"""

import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30


class SecurityHeadersMiddleware:
    """Add the Content-Security-Policy and Permissions-Policy headers to every response.

    Referrer-Policy, X-Content-Type-Options, Cross-Origin-Opener-Policy and HSTS come from Django's
    SecurityMiddleware, X-Frame-Options from XFrameOptionsMiddleware.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY
        self.permissions = settings.PERMISSIONS_POLICY

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.policy)
        response.headers.setdefault("Permissions-Policy", self.permissions)
        return response


def database_unavailable(request):
    """The 503 page: plain HTML that needs no database (no context processors, no queries)."""
    response = HttpResponse(render_to_string("503.html"), status=503)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    """Answer 503 "temporarily unavailable" instead of a 500 when the database cannot be reached.

    Only connection-level errors count (OperationalError, InterfaceError): the server is down,
    restarting, refuses connections or dropped one mid-query. Django closes a broken connection at
    the end of the request (CONN_HEALTH_CHECKS checks it before reuse), so the next request
    reconnects by itself once the database is back.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_unavailable_error(exception):
            return None
        logger.error("Database unavailable while serving %s: %s", request.path, exception)
        return database_unavailable(request)


def is_unavailable_error(exception):
    return isinstance(exception, OperationalError | InterfaceError)


def client_ip(request):
    """The client's address for the sign-in lockout (django-axes).

    Behind a reverse proxy (BEHIND_PROXY=1) every request comes from the proxy, so the client is
    the last address the proxy appended to X-Forwarded-For; earlier entries can be forged.
    """
    if settings.BEHIND_PROXY:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if forwarded and forwarded[-1]:
            return forwarded[-1]
    return request.META.get("REMOTE_ADDR")
