import datetime

import pytest
from django.db import connection
from django.db.utils import OperationalError
from django.utils import timezone

from followups import services as followups
from followups.models import EngineHeartbeat

pytestmark = pytest.mark.django_db


def test_healthy_once_the_sweep_has_run(client):
    followups.sweep()
    answer = client.get("/healthz")
    body = answer.json()
    assert answer.status_code == 200
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]
    assert body["checks"]["beat"]["last_run_age_seconds"] < 5


def test_a_beat_that_never_ran_or_stalled_is_degraded_not_down(client, settings, time_machine):
    time_machine.move_to(datetime.datetime(2026, 3, 4, 14, 0, tzinfo=datetime.timezone.utc), tick=False)
    assert client.get("/healthz").json()["checks"]["beat"]["error"] == "the follow-up sweep has never run"

    followups.sweep()
    time_machine.move_to(timezone.now() + datetime.timedelta(seconds=settings.HEALTH_BEAT_MAX_AGE_SECONDS + 1))
    answer = client.get("/healthz")
    assert answer.status_code == 200  # the web process can still serve: stay in the load balancer
    assert answer.json()["status"] == "degraded"
    assert answer.json()["checks"]["beat"]["ok"] is False
    assert client.get("/healthz?strict=1").status_code == 503  # but a monitor hears about it


def test_an_unreachable_broker_is_reported(client, settings):
    EngineHeartbeat.objects.create(name=followups.SWEEP_HEARTBEAT, last_run_at=timezone.now())
    from recovery.celery import app

    app.conf.broker_url, saved = "redis://127.0.0.1:1/0", app.conf.broker_url
    try:
        answer = client.get("/healthz?strict=1")
    finally:
        app.conf.broker_url = saved
    assert answer.status_code == 503
    assert answer.json()["checks"]["broker"]["ok"] is False
    assert "refused" in answer.json()["checks"]["broker"]["error"].lower()


def test_a_database_that_does_not_answer_takes_the_process_out_of_the_load_balancer(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(connection, "cursor", refuse)
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["status"] == "down"
    assert answer.json()["checks"]["beat"] == {"ok": False, "error": "database unavailable"}


def test_health_is_answered_over_plain_http_when_https_is_enforced(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code in (200, 503)
    assert client.get("/login/").status_code == 301


def test_pages_answer_503_with_a_retry_hint_while_the_database_is_away(client, frontline, monkeypatch):
    from incidents import views

    def unreachable(user, **kwargs):
        raise OperationalError("could not connect to server: Connection refused")

    client.force_login(frontline)
    client.raise_request_exception = False
    monkeypatch.setattr(views.selectors, "open_incidents_for", unreachable)
    answer = client.get("/")
    assert answer.status_code == 503
    assert answer["Retry-After"] == "5"
    assert "not saved" in answer.content.decode()


def test_other_server_errors_stay_500(client, frontline, monkeypatch):
    from incidents import views

    def broken(user, **kwargs):
        raise ValueError("a bug")

    client.force_login(frontline)
    client.raise_request_exception = False
    monkeypatch.setattr(views.selectors, "open_incidents_for", broken)
    assert client.get("/").status_code == 500
