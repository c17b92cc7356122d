"""Redis away: incidents are still logged, staff still sign in, and /healthz says what is missing.

The caches point at a port nobody listens on (redis-py's real ConnectionError), at a socket that
accepts and never answers (its real TimeoutError), or at a private redis-server stopped mid-test.
"""

import datetime
import logging
import shutil
import socket
import time

import pytest
from kombu import pools
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError
from rest_framework.test import APIClient

from followups import services as followups
from followups.models import EngineHeartbeat
from helpdesk import services as api_services
from helpdesk import tasks, webhooks
from helpdesk.models import WebhookDelivery
from incidents.models import Incident
from recovery import shared_cache
from tests.helpdesk.conftest import new_incident_body
from tests.factories import PASSWORD
from tests.support.processes import PrivateRedis, free_port

pytestmark = pytest.mark.django_db


def redis_caches(settings, url):
    """Both cache aliases on `url`, configured as settings configure them for REDIS_URL."""
    settings.CACHES = {
        alias: {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url,
                "KEY_PREFIX": f"test-{alias}", "OPTIONS": settings.REDIS_CACHE_OPTIONS}
        for alias in ("default", "api")
    }


@pytest.fixture(autouse=True)
def no_outage_remembered():
    """`shared_cache` leaves an unreachable cache alone for a few seconds: each test starts afresh."""
    shared_cache.forget_outages()
    yield
    shared_cache.forget_outages()


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def redis_away(settings):
    redis_caches(settings, f"redis://127.0.0.1:{free_port()}/0")


@pytest.fixture
def silent_redis(settings):
    """A server that accepts connections and never answers: a hung Redis, or a full network."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        redis_caches(settings, f"redis://127.0.0.1:{listener.getsockname()[1]}/0")
        yield


@pytest.fixture
def helpdesk(organization, location):
    client, key = api_services.create_api_client(organization=organization, name="Helpdesk", rate_limit_per_minute=1)
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return http


def create(api, number):
    return api.post("/api/v1/incidents/", new_incident_body(external_id=f"T-{number}"), format="json")


# --- The API -----------------------------------------------------------------------------------


def test_api_creates_answer_201_and_the_rate_limit_is_not_enforced_while_redis_is_away(helpdesk, redis_away):
    answers = [create(helpdesk, number).status_code for number in range(3)]  # the client's limit is 1 a minute

    assert answers == [201, 201, 201]
    assert Incident.objects.count() == 3


def test_the_outage_is_logged_once_a_minute_not_on_every_request(helpdesk, redis_away, clock_at_start, caplog):
    def warnings():
        return [record.getMessage() for record in caplog.records if record.name == "recovery.shared_cache"]

    caplog.set_level(logging.WARNING, logger="recovery.shared_cache")
    for number in range(3):
        create(helpdesk, number)
    assert len(warnings()) == 1
    assert "API rate limits are not enforced" in warnings()[0]

    clock_at_start.shift(datetime.timedelta(seconds=shared_cache.WARN_EVERY_SECONDS - 1))
    create(helpdesk, 3)
    assert len(warnings()) == 1
    clock_at_start.shift(datetime.timedelta(seconds=shared_cache.RETRY_AFTER_SECONDS + 1))  # asked again, and warned
    create(helpdesk, 4)
    assert len(warnings()) == 2


def test_a_redis_that_never_answers_costs_its_short_timeout_not_seconds(helpdesk, silent_redis, settings):
    started = time.monotonic()
    answer = create(helpdesk, 1)
    first = time.monotonic() - started
    started = time.monotonic()
    create(helpdesk, 2)
    second = time.monotonic() - started

    assert answer.status_code == 201
    # redis-py's own default is 5 s to connect and 5 s to answer.
    assert first < settings.REDIS_CACHE_TIMEOUT_SECONDS * 2 + 1
    # Once found silent, the cache is left alone for a few seconds instead of timing out every request.
    assert second < settings.REDIS_CACHE_TIMEOUT_SECONDS


@pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server not installed")
def test_a_stopped_redis_fails_open_and_the_limit_holds_again_once_it_is_back(helpdesk, settings, clock_at_start):
    redis = PrivateRedis()
    redis.start()
    try:
        redis_caches(settings, redis.url)
        assert [create(helpdesk, n).status_code for n in range(2)] == [201, 429]

        redis.stop()  # the pool's open connections now meet a closed socket
        assert [create(helpdesk, n).status_code for n in range(2, 4)] == [201, 201]

        redis.start()  # empty: it saves nothing
        clock_at_start.shift(datetime.timedelta(seconds=shared_cache.RETRY_AFTER_SECONDS + 1))
        assert [create(helpdesk, n).status_code for n in range(4, 6)] == [201, 429]
    finally:
        redis.stop()


# --- Signing in --------------------------------------------------------------------------------


def test_the_right_password_signs_in_while_redis_is_away(client, frontline, redis_away):
    answer = client.post("/login/", {"login": "fran", "password": PASSWORD})

    assert answer.status_code == 302
    assert answer["Location"] == "/"


def test_a_wrong_password_answers_the_usual_form_error_while_redis_is_away(client, frontline, redis_away):
    answer = client.post("/login/", {"login": "fran", "password": "nope"})

    assert answer.status_code == 200
    assert "username and/or password you specified are not correct" in answer.content.decode()


def test_repeated_failures_still_lock_out_while_redis_is_away(client, frontline, redis_away):
    """Sign-in failures are counted in the database (django-axes, recovery/sign_in.py), not the cache."""
    for _ in range(5):
        client.post("/login/", {"login": "fran", "password": "nope"})

    answer = client.post("/login/", {"login": "fran", "password": PASSWORD})

    assert answer.status_code == 429
    assert "Too many failed attempts" in answer.content.decode()


# --- Health ------------------------------------------------------------------------------------


def test_healthz_says_degraded_and_keeps_the_web_in_the_load_balancer(client, redis_away):
    EngineHeartbeat.objects.create(name=followups.SWEEP_HEARTBEAT, last_run_at=timezone.now())

    answer = client.get("/healthz")

    assert answer.status_code == 200
    assert answer.json()["status"] == "degraded"
    assert answer.json()["cache"] == "unavailable: degraded, rate limits not enforced"
    assert answer.json()["checks"]["cache"]["ok"] is False
    assert "ConnectionError" in answer.json()["checks"]["cache"]["error"]
    assert client.get("/healthz?strict=1").status_code == 503


def test_healthz_says_the_cache_is_ok_when_it_answers(client):
    assert client.get("/healthz").json()["cache"] == "ok"


# --- The broker --------------------------------------------------------------------------------


def test_queueing_webhooks_with_the_broker_away_logs_and_leaves_them_to_the_next_pump(
    monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def unreachable(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.send_webhooks, "apply_async", unreachable)
    monkeypatch.setattr(webhooks, "_broker_away_until", 0.0)
    caplog.set_level(logging.WARNING, logger="helpdesk.webhooks")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        transaction.on_commit(lambda: webhooks.publish_senders([1, 2, 3]))

    assert len(callbacks) == 1  # ran on commit, and raised nothing into the committer
    assert [record.getMessage() for record in caplog.records] == [
        "Broker unavailable; webhook deliveries of 3 endpoints wait for the next pump"]


@pytest.fixture
def broker_away():
    """The Celery app's broker on a port nobody listens on; put back afterwards."""
    from recovery.celery import app

    def use(url, options):
        app.pool.force_close_all()
        app._pool = None
        app.amqp._producer_pool = None
        pools.reset()  # kombu's shared producer pools still hold the closed connections: later sends would fail
        app.conf.broker_url, app.conf.broker_transport_options = url, options

    saved = (app.conf.broker_url, app.conf.broker_transport_options)
    use(f"redis://127.0.0.1:{free_port()}/0", {})
    yield
    use(*saved)


def test_an_api_create_answers_201_at_once_with_the_broker_away_and_its_webhook_waits_for_the_pump(
    organization, location, settings, monkeypatch, broker_away, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    monkeypatch.setattr(webhooks, "_broker_away_until", 0.0)
    client, key = api_services.create_api_client(organization=organization, name="Hooked")
    api_services.register_webhook(client=client, url="http://127.0.0.1:9/hook")
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        answer = create(http, 1)

    assert answer.status_code == 201
    assert time.monotonic() - started < 3
    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert webhooks.endpoints_with_due_deliveries(timezone.now()) == [delivery.endpoint_id]  # what the pump queues
