"""The API's rate limit per client: DRF's throttling, keyed by the client's address as the project reads it
(config.middleware.client_ip: the connection's, or behind BEHIND_PROXY the trusted X-Forwarded-For entry), at
settings.API_RATE_LIMIT (e.g. "120/minute"), read at each request (DRF makes a throttle per request), so that
the setting can change."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from config.middleware import client_ip


class ClientRateThrottle(SimpleRateThrottle):
    scope = "api"

    def get_rate(self):
        return settings.API_RATE_LIMIT

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request) or "unknown"}
