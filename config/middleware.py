"""Project-wide middleware: security headers, and a 503 page while the database is unavailable.

The Content Security Policy is a fixed header written here rather than with django-csp: the site
has no inline script or style and needs no nonces, so the policy is one constant string
(settings.CONTENT_SECURITY_POLICY) and twenty lines are easier to read and test than a dependency.
"""

import ipaddress
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
    """The client's address for the sign-in lockout (django-axes): always a valid IP address in canonical form,
    or None.

    Directly exposed (BEHIND_PROXY off), it is the connection's address, REMOTE_ADDR. Behind TRUSTED_PROXIES
    reverse proxies (BEHIND_PROXY=1), each of which appends the address it received the request from to
    X-Forwarded-For, the client is the TRUSTED_PROXIES-th entry from the end: everything before it is what the
    client sent, and can be forged. A header that is missing, too short or whose entry is not an IP address
    (`not-an-ip`, `999.1.1.1`, `1.2.3.4%eth0`, empty) means the proxies are not set up as documented: the
    connection's address is used instead, so a client can never choose whose lockout counter it hits.
    """
    fallback = canonical_ip(request.META.get("REMOTE_ADDR", ""))
    if not settings.BEHIND_PROXY:
        return fallback
    proxies = settings.TRUSTED_PROXIES
    # Split off only the last entries: a client's long header costs nothing more.
    entries = request.META.get("HTTP_X_FORWARDED_FOR", "").rsplit(",", proxies)
    if len(entries) < proxies:
        return fallback
    return canonical_ip(entries[-proxies]) or fallback


def canonical_ip(text):
    """`text` as an IP address in canonical form, or None if it is not one.

    Accepted as proxies write them: IPv6 in brackets (`[2001:db8::1]`), with a port (`[2001:db8::1]:443`,
    `192.0.2.1:443`). An IPv4 address mapped into IPv6 (`::ffff:192.0.2.1`) is the IPv4 address, and an IPv6
    zone (`fe80::1%eth0`) is dropped, so one client has one address, one PostgreSQL can store.
    """
    text = text.strip()
    if len(text) > 64:  # the longest IPv6 address with brackets, a zone and a port is shorter
        return None
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if address.version == 6:
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        address = ipaddress.IPv6Address(int(address))  # without its zone
    return str(address)
