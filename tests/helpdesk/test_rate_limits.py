"""Every answer says where the caller stands against its rate limit, and counting costs one Redis round trip."""

import datetime
import os
import shutil

import pytest
import redis
import redis.connection

from recovery import shared_cache
from tests.helpdesk.conftest import new_incident_body
from tests.support.processes import PrivateRedis, free_port

pytestmark = pytest.mark.django_db


def limits(answer):
    return [answer.get(name) for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")]


@pytest.fixture
def three_a_minute(helpdesk, clock_at_start):
    helpdesk.rate_limit_per_minute = 3
    helpdesk.save()
    clock_at_start.move_to(datetime.datetime(2026, 3, 4, 14, 0, 15, tzinfo=datetime.timezone.utc))
    return clock_at_start


def test_each_answer_says_the_limit_what_is_left_and_when_the_window_resets(api, three_a_minute, location):
    answers = [api.get("/api/v1/incidents/") for _ in range(3)]

    assert [limits(answer) for answer in answers] == [["3", "2", "45"], ["3", "1", "45"], ["3", "0", "45"]]
    three_a_minute.shift(datetime.timedelta(seconds=44))
    limited = api.get("/api/v1/incidents/")
    assert limited.status_code == 429
    assert limits(limited) == ["3", "0", "1"] and limited["Retry-After"] == "1"
    three_a_minute.shift(datetime.timedelta(seconds=1))
    assert limits(api.get("/api/v1/incidents/")) == ["3", "2", "60"]


def test_errors_and_creates_carry_the_headers_too(api, three_a_minute, location):
    missing = api.get("/api/v1/incidents/987654321/")
    created = api.post("/api/v1/incidents/", new_incident_body(), format="json")

    assert missing.status_code == 404 and limits(missing) == ["3", "2", "45"]
    assert created.status_code == 201 and limits(created) == ["3", "1", "45"]


def test_an_answer_to_nobody_signed_in_counts_nothing_and_says_nothing(client):
    answer = client.get("/api/v1/incidents/")

    assert answer.status_code in (401, 403) and limits(answer) == [None, None, None]


# --- With Redis ----------------------------------------------------------------------------------


@pytest.fixture
def redis_url():
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    if not shutil.which("redis-server"):
        pytest.skip("needs Redis: REDIS_URL or redis-server")
    server = PrivateRedis()
    server.start()
    yield server.url
    server.stop()


@pytest.fixture
def redis_counts(settings, redis_url):
    settings.CACHES = {**settings.CACHES, "api": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url,
        "KEY_PREFIX": "test-rate", "OPTIONS": settings.REDIS_CACHE_OPTIONS}}
    shared_cache.forget_outages()
    return redis.Redis.from_url(redis_url)


@pytest.fixture
def round_trips(monkeypatch):
    """Every command (or pipeline of commands) sent to any Redis, as redis-py writes it on the socket."""
    sent = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counted(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
    return sent


def test_with_redis_one_request_costs_one_round_trip_and_the_limit_holds(api, helpdesk, redis_counts, round_trips, settings):
    helpdesk.rate_limit_per_minute = 2
    helpdesk.save()
    api.get("/api/v1/incidents/")  # the pool's first connection says hello first
    round_trips.clear()

    second = api.get("/api/v1/incidents/")
    assert len(round_trips) == 1
    third = api.get("/api/v1/incidents/")

    assert second.status_code == 200 and second["RateLimit-Remaining"] == "0"
    assert third.status_code == 429
    (key,) = redis_counts.keys(f"test-rate:*:{settings.API_RATE_LIMIT_PREFIX}:*")
    assert int(redis_counts.get(key)) == 3
    assert 0 < redis_counts.ttl(key) <= 65  # the window's count always expires


def test_with_redis_away_the_answer_comes_without_rate_limit_headers(api, settings, location):
    settings.CACHES = {**settings.CACHES, "api": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        "OPTIONS": settings.REDIS_CACHE_OPTIONS}}
    shared_cache.forget_outages()

    answer = api.post("/api/v1/incidents/", new_incident_body(), format="json")

    shared_cache.forget_outages()
    assert answer.status_code == 201 and limits(answer) == [None, None, None]
