"""Rate limits per API client (and per member of staff), counted in the `api` cache.

A fixed one-minute window with an atomic increment: with Redis every web process shares one count,
so the limit holds across processes and machines. Over the limit the API answers 429 with
`Retry-After` set to the seconds left in the window.

When the cache is unreachable the limits fail open: a helpdesk logging incidents during a Redis
outage matters more than holding a runaway client to its rate, and nothing but the counters is lost.
`recovery.shared_cache` logs that the limits are not enforced (now and then, not per request).
"""

import time

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from recovery import shared_cache

WINDOW_SECONDS = 60


def client_of(user):
    """The ApiClient a user acts for, or None for a member of staff."""
    try:
        return user.api_client
    except Exception:  # RelatedObjectDoesNotExist, or an anonymous user
        return None


class ClientRateThrottle(BaseThrottle):
    def allow_request(self, request, view):
        user = request.user
        if not user or not user.is_authenticated:
            return True  # authentication answers 401 first
        client = client_of(user)
        limit = client.rate_limit_per_minute if client else settings.API_STAFF_RATE_PER_MINUTE
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        key = f"{settings.API_RATE_LIMIT_PREFIX}:{user.pk}:{window}"
        count = shared_cache.count("api", key, WINDOW_SECONDS + 5, consequence="API rate limits are not enforced")
        self._wait = (window + 1) * WINDOW_SECONDS - now
        return count <= limit

    def wait(self):
        return self._wait

