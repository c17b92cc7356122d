"""Over the API a client reads its endpoints (never their secret), the delivery log, redelivers a
delivery and rotates the secret; another client's endpoint is not found."""

import datetime

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from helpdesk import services as api_services
from helpdesk import tasks, webhooks
from helpdesk.models import WebhookDelivery
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(helpdesk, receiver, clock_at_start):
    return api_services.register_webhook(client=helpdesk, url=receiver.url)


@pytest.fixture
def published(monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.send_webhooks, "apply_async", lambda args, **options: queued.append(args[0]))
    monkeypatch.setattr(webhooks, "_broker_away_until", 0.0)
    return queued


def delivered_twice_over(endpoint, receiver, frontline, location, customer, clock_at_start):
    """Two deliveries: the first failed once with a 503 and then went through, the second went through."""
    for _ in range(2):
        factories.log_incident(user=frontline, location=location, customer=customer)
    webhooks.pump(now=timezone.now())
    receiver.statuses = [503]
    webhooks.send_due(endpoint.pk)
    clock_at_start.shift(datetime.timedelta(seconds=30))
    webhooks.send_due(endpoint.pk)
    return list(WebhookDelivery.objects.order_by("id"))


def test_the_delivery_log_shows_each_delivery_with_its_attempts_newest_first(
    api, endpoint, receiver, frontline, location, customer, clock_at_start
):
    first, second = delivered_twice_over(endpoint, receiver, frontline, location, customer, clock_at_start)

    page = api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/").json()

    assert [row["id"] for row in page["results"]] == [second.pk, first.pk]
    oldest = page["results"][1]
    assert oldest["status"] == "delivered" and oldest["event_id"] == first.event_id
    assert [(attempt["status_code"], attempt["error"]) for attempt in oldest["attempts"]] == [(503, "HTTP 503"), (200, "")]
    assert oldest["next_attempt_at"] is None
    assert page["next"] is None


def test_the_delivery_log_pages_by_cursor_and_filters_by_status(api, endpoint, receiver, frontline, location, customer,
                                                                clock_at_start):
    first, second = delivered_twice_over(endpoint, receiver, frontline, location, customer, clock_at_start)
    WebhookDelivery.objects.filter(pk=first.pk).update(status="failed")

    page = api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/?page_size=1").json()
    assert [row["id"] for row in page["results"]] == [second.pk]
    following = api.get(page["next"]).json()
    assert [row["id"] for row in following["results"]] == [first.pk]

    failed = api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/?status=failed").json()
    assert [row["id"] for row in failed["results"]] == [first.pk]
    assert api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/?status=lost").status_code == 400


def test_a_delivered_delivery_is_sent_again_with_the_same_id_and_a_pending_one_is_refused(
    api, endpoint, receiver, frontline, location, customer, clock_at_start, published, django_capture_on_commit_callbacks
):
    first, _ = delivered_twice_over(endpoint, receiver, frontline, location, customer, clock_at_start)
    url = f"/api/v1/webhooks/{endpoint.pk}/deliveries/{first.pk}/redeliver/"

    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post(url)

    assert answer.status_code == 202, answer.json()
    assert answer.json()["status"] == "pending"
    assert published == [endpoint.pk]
    assert api.post(url).status_code == 409  # already on its way
    webhooks.send_due(endpoint.pk)
    again = receiver.requests[-1]
    assert again["headers"]["webhook-id"] == first.event_id
    Webhook(endpoint.secret).verify(again["body"], again["headers"])
    first.refresh_from_db()
    assert first.status == "delivered" and first.attempt_log.count() == 3


def test_rotating_returns_the_new_secret_once_and_both_sign_during_the_overlap(
    api, endpoint, receiver, frontline, location, customer, clock_at_start
):
    answer = api.post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/", {"overlap_seconds": 3600}, format="json")

    assert answer.status_code == 200, answer.json()
    new_secret = answer.json()["secret"]
    assert new_secret != endpoint.secret
    assert answer.json()["previous_secret_expires_at"] == "2026-03-04T15:00:00Z"
    assert "secret" not in api.get(f"/api/v1/webhooks/{endpoint.pk}/").json()
    factories.log_incident(user=frontline, location=location, customer=customer)
    webhooks.pump(now=timezone.now())
    webhooks.send_due(endpoint.pk)
    (request,) = receiver.requests
    for secret in (new_secret, endpoint.secret):
        Webhook(secret).verify(request["body"], request["headers"])


@pytest.mark.parametrize("body", [{"overlap_seconds": -1}, {"overlap_seconds": 8 * 24 * 3600}, {"overlap": 5}])
def test_a_bad_overlap_is_a_field_error_and_keeps_the_secret(api, endpoint, body):
    answer = api.post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/", body, format="json")

    assert answer.status_code == 400
    assert set(answer.json()["errors"]) == set(body)
    endpoint.refresh_from_db()
    assert endpoint.previous_secret == ""


def test_another_clients_endpoint_and_deliveries_are_not_found(other_api, endpoint, receiver, frontline, location,
                                                              customer, clock_at_start):
    first, _ = delivered_twice_over(endpoint, receiver, frontline, location, customer, clock_at_start)

    for method, url in [
        ("get", f"/api/v1/webhooks/{endpoint.pk}/"),
        ("get", f"/api/v1/webhooks/{endpoint.pk}/deliveries/"),
        ("post", f"/api/v1/webhooks/{endpoint.pk}/deliveries/{first.pk}/redeliver/"),
        ("post", f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/"),
    ]:
        assert getattr(other_api, method)(url).status_code == 404, url
    endpoint.refresh_from_db()
    assert endpoint.previous_secret == ""


def test_a_delivery_of_another_endpoint_is_not_found_under_yours(api, helpdesk, endpoint, receiver, frontline, location,
                                                                customer, clock_at_start):
    first, _ = delivered_twice_over(endpoint, receiver, frontline, location, customer, clock_at_start)
    mine = api_services.register_webhook(client=helpdesk, url=receiver.url + "/other")

    assert api.post(f"/api/v1/webhooks/{mine.pk}/deliveries/{first.pk}/redeliver/").status_code == 404


def test_staff_have_no_delivery_log(frontline, endpoint):
    from rest_framework.test import APIClient

    http = APIClient()
    http.force_login(frontline)

    assert http.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/").status_code == 403


def test_every_webhook_operation_is_described_for_integrators(db):
    from rest_framework.test import APIClient

    schema = APIClient().get("/api/v1/schema/?format=json").json()
    operations = [(path, method, operation) for path, item in schema["paths"].items() if path.startswith("/api/v1/webhooks/")
                  for method, operation in item.items()]

    assert {(path, method) for path, method, _ in operations} >= {
        ("/api/v1/webhooks/{id}/deliveries/", "get"),
        ("/api/v1/webhooks/{id}/deliveries/{delivery_pk}/redeliver/", "post"),
        ("/api/v1/webhooks/{id}/rotate-secret/", "post"),
        ("/api/v1/webhooks/{id}/", "get"),
    }
    for path, method, operation in operations:
        assert operation.get("summary") and operation.get("description"), (path, method)
    listed = schema["components"]["schemas"]["WebhookEndpoint"]["properties"]
    assert "secret" not in listed
