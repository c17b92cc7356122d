"""Rate limits per API client (and per member of staff), counted in the `api` cache.

A fixed one-minute window with an atomic increment: with Redis every web process shares one count,
so the limit holds across processes and machines. Every answer to a signed-in caller says where it
stands (`RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` in seconds, added by `ApiView`); over
the limit the API answers 429 with `Retry-After` set to the seconds left in the window. Counting costs one
round trip to Redis (`shared_cache.count`).

When the cache is unreachable the limits fail open: a helpdesk logging incidents during a Redis
outage matters more than holding a runaway client to its rate, and nothing but the counters is lost.
`recovery.shared_cache` logs that the limits are not enforced (now and then, not per request).
"""

import math
import time
from dataclasses import dataclass

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


@dataclass(frozen=True)
class RateLimit:
    """Where a caller stands in the current window, for the `RateLimit-*` headers of the answer."""

    limit: int
    remaining: int
    reset_seconds: int

    def headers(self):
        return {"RateLimit-Limit": str(self.limit), "RateLimit-Remaining": str(self.remaining),
                "RateLimit-Reset": str(self.reset_seconds)}


def headers_for(request):
    """The rate-limit headers of an answer to `request`: none when nothing was counted (no caller
    signed in yet, or the cache unreachable, when no limit is enforced)."""
    rate = getattr(request, "rate_limit", None)
    return rate.headers() if rate is not None else {}


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
        if count:  # 0: the cache is unreachable and nothing was counted
            request.rate_limit = RateLimit(limit, max(limit - count, 0), math.ceil(self._wait))
        return count <= limit

    def wait(self):
        return self._wait
