"""The one place that decides what a request does when the shared cache (Redis) is away.

The cache holds counters only (the API's rate limits, password-reset requests); everything that matters is
in the database. So a request that needs the cache never fails because Redis is down: `use()` runs
the caller's fallback instead, and says so in the log now and then rather than on every request.

After a failure the cache is left alone for RETRY_AFTER_SECONDS: a Redis that is not refusing but
silent (a host gone, a full network) costs one connect timeout per web process per few seconds, not
one per cache call. The timeouts themselves are the cache's OPTIONS in settings.
"""

import logging
import threading
import time

import redis
import redis.exceptions
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

log = logging.getLogger(__name__)

# What redis-py raises when the server cannot be reached or does not answer in time: refused, reset,
# unknown host, connect and read timeouts, a server still loading its data (BusyLoadingError is a
# ConnectionError). Any other error (a bug, a wrong command) is not an outage and still raises.
# redis' TimeoutError is its own class, not the built-in one.
UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
RETRY_AFTER_SECONDS = 5
WARN_EVERY_SECONDS = 60

_lock = threading.Lock()
_resting_until = {}  # alias -> time before which the cache is not asked
_warned_at = {}  # alias -> when the last warning was logged
_redis_clients = {}  # alias -> (server and options, redis-py client): see _redis_client


def use(alias, operation, fallback, *, consequence):
    """`operation(cache)` on the cache `alias`, or `fallback()` when that cache is unreachable.

    `consequence` says in the log what the fallback means for users ("API rate limits are not
    enforced"); the warning is logged at most once every WARN_EVERY_SECONDS per alias and process.
    """
    now = time.time()
    if _resting_until.get(alias, 0) > now:
        return fallback()
    try:
        return operation(caches[alias])
    except UNREACHABLE as error:
        _note_unreachable(alias, error, now, consequence)
        return fallback()


def count(alias, key, window_seconds, *, consequence):
    """Add one to the counter `key` of the cache `alias`, which starts at the first call and lasts
    `window_seconds`, and return its new value; 0 while the cache is unreachable (nothing counted)."""

    def increment(cache):
        if isinstance(cache, RedisCache):
            return _count_in_redis(alias, cache.make_and_validate_key(key), window_seconds)
        # add() starts the window's count only if no other process did; incr() is atomic in Redis.
        cache.add(key, 0, window_seconds)
        try:
            return cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, window_seconds)
            return 1

    return use(alias, increment, lambda: 0, consequence=consequence)


def _count_in_redis(alias, redis_key, window_seconds):
    """The count in one round trip (Django's add() and incr() take three): start the window's key at 0 with
    its expiry unless another process did, and add one, as one MULTI/EXEC, so no INCR ever meets a key
    that expired in between and lives on without an expiry."""
    pipe = _redis_client(alias).pipeline(transaction=True)
    pipe.set(redis_key, 0, ex=window_seconds, nx=True)
    pipe.incr(redis_key)
    return pipe.execute()[1]


def _redis_client(alias):
    """A redis-py client on the cache's own server and OPTIONS (its timeouts), one pool per process and
    configuration. Django's cache keeps its client private; this one shares its keys (`make_and_validate_key`)."""
    config = settings.CACHES[alias]
    location = config["LOCATION"]
    server = (location.split(",") if isinstance(location, str) else location)[0]  # the first server takes writes
    options = {name: value for name, value in config.get("OPTIONS", {}).items()
               if name not in ("pool_class", "parser_class", "serializer")}
    wanted = (server, tuple(sorted(options.items())))
    with _lock:
        if _redis_clients.get(alias, (None,))[0] != wanted:
            _redis_clients[alias] = (wanted, redis.Redis(connection_pool=redis.ConnectionPool.from_url(server, **options)))
        return _redis_clients[alias][1]


def _note_unreachable(alias, error, now, consequence):
    with _lock:
        _resting_until[alias] = now + RETRY_AFTER_SECONDS
        if now - _warned_at.get(alias, float("-inf")) < WARN_EVERY_SECONDS:
            return
        _warned_at[alias] = now
    log.warning(
        "The %r cache is unreachable (%s: %s); %s. Asking again every %d s, warning again in %d s at most.",
        alias, type(error).__name__, error, consequence, RETRY_AFTER_SECONDS, WARN_EVERY_SECONDS,
    )


def forget_outages():
    """Ask every cache again from the next call on (tests, and a cache configuration that changed)."""
    with _lock:
        _resting_until.clear()
        _warned_at.clear()
