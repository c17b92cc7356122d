"""Rate limits per API client (and per member of staff), counted in the `api` cache.

A fixed one-minute window with an atomic increment: with Redis every web process shares one count,
so the limit holds across processes and machines. Over the limit the API answers 429 with
`Retry-After` set to the seconds left in the window.
"""

import time

from django.conf import settings
from django.core.cache import caches
from rest_framework.throttling import BaseThrottle

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
        cache = caches["api"]
        # add() starts the window's count only if no other process did; incr() is atomic in Redis.
        cache.add(key, 0, WINDOW_SECONDS + 5)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, WINDOW_SECONDS + 5)
            count = 1
        self._wait = (window + 1) * WINDOW_SECONDS - now
        return count <= limit

    def wait(self):
        return self._wait
