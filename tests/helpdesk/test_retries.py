"""Retries are safe: Idempotency-Key replays, rate limits, and pruning old keys."""

import datetime

import pytest
from django.utils import timezone

from helpdesk import idempotency
from helpdesk.models import IdempotencyKey
from incidents.models import Event, Incident
from tests.helpdesk.conftest import new_incident_body

pytestmark = pytest.mark.django_db


def post_with_key(api, key, body, url="/api/v1/incidents/"):
    return api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_repeat_with_the_same_key_and_body_returns_the_first_answer(api, location):
    first = post_with_key(api, "ticket-42-create", new_incident_body())

    again = post_with_key(api, "ticket-42-create", new_incident_body())

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true"
    assert Incident.objects.count() == 1


def test_reordered_json_keys_are_the_same_body(api, location):
    body = new_incident_body()
    post_with_key(api, "k1", body)

    again = post_with_key(api, "k1", dict(reversed(list(body.items()))))

    assert again.status_code == 201
    assert Incident.objects.count() == 1


def test_the_same_key_with_another_body_answers_422(api, location):
    post_with_key(api, "k1", new_incident_body())

    response = post_with_key(api, "k1", new_incident_body(summary="Something else"))

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Incident.objects.count() == 1


def test_without_a_key_each_post_is_new(api, location):
    api.post("/api/v1/incidents/", new_incident_body(), format="json")
    api.post("/api/v1/incidents/", new_incident_body(), format="json")

    assert Incident.objects.count() == 2


def test_keys_belong_to_one_caller(api, other_api, location, other_organization):
    post_with_key(api, "shared-key", new_incident_body())

    response = post_with_key(other_api, "shared-key", new_incident_body())

    # The other organization has no 'riverside': its own answer, not a replay of ours.
    assert response.status_code == 400
    assert "Idempotent-Replayed" not in response


def test_an_error_answer_is_replayed_too(api, location):
    first = post_with_key(api, "k-bad", new_incident_body(location="atlantis"))

    again = post_with_key(api, "k-bad", new_incident_body(location="atlantis"))

    assert first.status_code == again.status_code == 400
    assert again.json() == first.json()


def test_a_step_repeated_with_its_key_is_recorded_once(api, location):
    url = api.post("/api/v1/incidents/", new_incident_body(), format="json")["Location"]
    apology = {"channel": "phone", "text": "I'm so sorry."}

    first = post_with_key(api, "apology-1", apology, url=url + "apology/")
    again = post_with_key(api, "apology-1", apology, url=url + "apology/")

    assert first.status_code == again.status_code == 201
    assert Event.objects.filter(kind="apology").count() == 1


def test_the_key_is_tied_to_the_path(api, location):
    url = api.post("/api/v1/incidents/", new_incident_body(), format="json")["Location"]
    body = {"channel": "phone", "text": "I'm so sorry."}
    post_with_key(api, "k", body, url=url + "apology/")

    assert post_with_key(api, "k", body, url=url + "review/").status_code == 422


def test_keys_older_than_a_day_are_pruned(api, location, clock_at_start):
    post_with_key(api, "old", new_incident_body(external_id="A"))
    clock_at_start.shift(datetime.timedelta(hours=23))
    post_with_key(api, "young", new_incident_body(external_id="B"))
    clock_at_start.shift(datetime.timedelta(hours=1, seconds=1))

    assert idempotency.prune(now=timezone.now()) == 1

    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["young"]


def test_over_the_rate_limit_answers_429_with_retry_after(api, helpdesk, location, clock_at_start):
    helpdesk.rate_limit_per_minute = 3
    helpdesk.save()
    clock_at_start.move_to(datetime.datetime(2026, 3, 4, 14, 0, 15, tzinfo=datetime.timezone.utc))

    answers = [api.get("/api/v1/incidents/").status_code for _ in range(4)]

    assert answers == [200, 200, 200, 429]
    limited = api.get("/api/v1/incidents/")
    assert limited.json()["code"] == "rate_limited"
    assert limited["Retry-After"] == "45"
    clock_at_start.shift(datetime.timedelta(seconds=45))
    assert api.get("/api/v1/incidents/").status_code == 200


def test_the_rate_limit_counts_each_client_on_its_own(api, other_api, helpdesk, location):
    helpdesk.rate_limit_per_minute = 1
    helpdesk.save()
    api.get("/api/v1/incidents/")

    assert api.get("/api/v1/incidents/").status_code == 429
    assert other_api.get("/api/v1/incidents/").status_code == 200
