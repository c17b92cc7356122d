"""Webhooks: timeline events from any door become signed deliveries, retried with backoff after failures."""

import datetime
import hashlib
import hmac
import json

import pytest
from django.utils import timezone

from incidents import services
from helpdesk import services as api_services
from helpdesk import tasks, webhooks
from helpdesk.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests import factories
from tests.helpdesk.conftest import new_incident_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(helpdesk, receiver, clock_at_start):
    return api_services.register_webhook(client=helpdesk, url=receiver.url)


def verify(secret, request):
    """What a receiver does: recompute HMAC-SHA256 over "<timestamp>.<body>" with its secret."""
    signature = dict(part.split("=", 1) for part in request["headers"]["Recovery-Signature"].split(","))
    assert signature["t"] == request["headers"]["Recovery-Timestamp"]
    expected = hmac.new(secret.encode(), f"{signature['t']}.".encode() + request["body"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature["v1"])


def test_a_signed_delivery_reaches_the_receiver_and_a_500_is_retried_after_the_backoff(
    api, endpoint, receiver, location, clock_at_start
):
    api.post("/api/v1/incidents/", new_incident_body(external_id="HD-1"), format="json")
    due = webhooks.pump(now=timezone.now())
    assert len(due) == 1
    receiver.statuses = [500]

    failed = webhooks.deliver(due[0], now=timezone.now())

    assert failed.status == WebhookDelivery.Status.PENDING
    assert failed.last_status_code == 500
    assert failed.next_attempt_at == timezone.now() + datetime.timedelta(seconds=30)
    # Not yet due: nothing is sent before the backoff ends.
    clock_at_start.shift(datetime.timedelta(seconds=29))
    assert webhooks.deliver(due[0], now=timezone.now()) is None
    assert len(receiver.requests) == 1
    clock_at_start.shift(datetime.timedelta(seconds=1))

    delivered = webhooks.deliver(due[0], now=timezone.now())

    assert delivered.status == WebhookDelivery.Status.DELIVERED
    assert [attempt.status_code for attempt in WebhookAttempt.objects.order_by("id")] == [500, 200]
    first, retry = receiver.requests
    assert first["headers"]["Recovery-Event-Id"] == retry["headers"]["Recovery-Event-Id"] == delivered.event_id
    assert verify(endpoint.secret, retry) and verify(endpoint.secret, first)
    assert not verify("whsec_wrong", retry)
    payload = json.loads(retry["body"])
    assert payload["type"] == "incident.created"
    assert payload["id"] == delivered.event_id
    assert payload["data"]["incident"]["external_id"] == "HD-1"


def test_a_step_recorded_on_the_web_page_notifies_too(endpoint, frontline, location, customer, clock_at_start):
    incident = factories.log_incident(user=frontline, location=location, customer=customer)
    services.record_apology(incident, by=frontline, channel="in_person", text="I'm so sorry.")

    webhooks.pump(now=timezone.now())

    assert list(WebhookDelivery.objects.order_by("id").values_list("event_type", flat=True)) == [
        "incident.created", "step.recorded"
    ]


def test_a_second_pass_queues_nothing_new(endpoint, frontline, location, customer, clock_at_start):
    factories.log_incident(user=frontline, location=location, customer=customer)
    webhooks.pump(now=timezone.now())

    webhooks.pump(now=timezone.now())

    assert WebhookDelivery.objects.count() == 1


def test_an_endpoint_hears_only_the_events_it_asked_for(helpdesk, receiver, frontline, location, customer, clock_at_start):
    api_services.register_webhook(client=helpdesk, url=receiver.url, events=["incident.closed"])
    factories.log_incident(user=frontline, location=location, customer=customer)

    webhooks.pump(now=timezone.now())

    assert not WebhookDelivery.objects.exists()


def test_another_organizations_events_are_never_sent(endpoint, other_organization, clock_at_start):
    stranger_location = factories.LocationFactory(organization=other_organization)
    stranger = factories.UserFactory(organization=other_organization, locations=[stranger_location])
    factories.log_incident(user=stranger, location=stranger_location)

    webhooks.pump(now=timezone.now())

    assert not WebhookDelivery.objects.exists()


def test_breach_and_due_reminders_become_followup_events(endpoint, frontline, location, customer, clock_at_start):
    from followups import services as followups

    factories.log_incident(user=frontline, location=location, customer=customer)
    clock_at_start.shift(datetime.timedelta(minutes=16))
    followups.sweep(now=timezone.now())  # the heads-up, five minutes before the window ends
    clock_at_start.shift(datetime.timedelta(minutes=5))
    followups.sweep(now=timezone.now())  # the window missed

    webhooks.pump(now=timezone.now())

    types = set(WebhookDelivery.objects.values_list("event_type", flat=True))
    assert {"incident.created", "followup.due", "followup.breached"} <= types


def test_after_the_last_attempt_the_delivery_gives_up(endpoint, receiver, frontline, location, customer, settings, clock_at_start):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    factories.log_incident(user=frontline, location=location, customer=customer)
    delivery_id = webhooks.pump(now=timezone.now())[0]
    receiver.statuses = [500, 503]

    webhooks.deliver(delivery_id, now=timezone.now())
    clock_at_start.shift(datetime.timedelta(minutes=1))
    gave_up = webhooks.deliver(delivery_id, now=timezone.now())

    assert gave_up.status == WebhookDelivery.Status.FAILED
    assert gave_up.attempts == 2
    assert webhooks.pump(now=timezone.now() + datetime.timedelta(days=1)) == []


def test_an_unreachable_url_is_logged_as_an_error_and_retried(helpdesk, frontline, location, customer, clock_at_start):
    api_services.register_webhook(client=helpdesk, url="http://127.0.0.1:9/nothing-listens-here")
    factories.log_incident(user=frontline, location=location, customer=customer)
    delivery_id = webhooks.pump(now=timezone.now())[0]

    delivery = webhooks.deliver(delivery_id, now=timezone.now())

    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.last_status_code is None
    assert delivery.last_error


def test_the_sender_task_delegates_and_queues_a_run_for_when_the_retry_is_due(
    endpoint, receiver, frontline, location, customer, monkeypatch, clock_at_start
):
    factories.log_incident(user=frontline, location=location, customer=customer)
    webhooks.pump(now=timezone.now())
    receiver.statuses = [500]
    later = []
    monkeypatch.setattr(tasks.send_webhooks, "apply_async", lambda args, countdown: later.append((args, countdown)))

    tasks.send_webhooks.run(endpoint.pk)

    assert len(receiver.requests) == 1
    assert later == [((endpoint.pk,), 30.0)]


def test_the_periodic_task_pumps_queues_each_endpoints_sender_and_prunes(
    endpoint, frontline, location, customer, monkeypatch, clock_at_start
):
    queued = []
    monkeypatch.setattr(webhooks, "publish_senders", queued.extend)
    factories.log_incident(user=frontline, location=location, customer=customer)

    assert tasks.pump_webhooks.run() == 1

    assert queued == [endpoint.pk]


def test_tasks_queued_under_their_names_from_before_still_run(
    endpoint, receiver, frontline, location, customer, monkeypatch, clock_at_start
):
    from recovery.celery import app

    app.loader.import_default_modules()  # what a worker does at start: autodiscovery over INSTALLED_APPS
    queued = []
    monkeypatch.setattr(webhooks, "publish_senders", queued.extend)
    factories.log_incident(user=frontline, location=location, customer=customer)

    assert app.tasks["incidents.api.tasks.pump_webhooks"].run() == 1
    assert queued == [endpoint.pk]

    # A per-delivery message from before sending went per endpoint: it sends the endpoint's due deliveries.
    (delivery,) = WebhookDelivery.objects.all()
    for name in ("incidents.api.tasks.deliver_webhook", "helpdesk.tasks.deliver_webhook"):
        app.tasks[name].run(delivery.pk)
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED


def test_a_client_registers_lists_and_removes_its_webhook_urls(api, helpdesk):
    response = api.post("/api/v1/webhooks/", {"url": "https://helpdesk.example.com/hooks", "events": ["incident.closed"]}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["secret"].startswith("whsec_")
    listed = api.get("/api/v1/webhooks/").json()
    assert [row["url"] for row in listed] == ["https://helpdesk.example.com/hooks"]
    assert "secret" not in listed[0]
    assert "secret" not in api.get(f"/api/v1/webhooks/{response.json()['id']}/").json()
    assert api.delete(f"/api/v1/webhooks/{response.json()['id']}/").status_code == 204
    assert not helpdesk.webhooks.exists()


def test_an_unknown_event_type_is_a_field_error(api):
    response = api.post("/api/v1/webhooks/", {"url": "https://helpdesk.example.com/hooks", "events": ["incident.exploded"]}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"events.0": ['"incident.exploded" is not a valid choice.']}


def test_webhooks_belong_to_clients_not_staff(frontline):
    from rest_framework.test import APIClient

    http = APIClient()
    http.force_login(frontline)

    assert http.get("/api/v1/webhooks/").status_code == 403


def test_a_client_cannot_remove_another_clients_webhook(other_api, endpoint):
    assert other_api.delete(f"/api/v1/webhooks/{endpoint.pk}/").status_code == 404


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/hook", "http://10.0.0.7/hook", "http://169.254.169.254/latest/meta-data", "http://[::1]/hook"])
def test_a_webhook_cannot_point_inside_this_network(api, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    answer = api.post("/api/v1/webhooks/", {"url": url, "events": ["incident.created"]}, format="json")
    assert answer.status_code == 400
    assert "url" in answer.json()["errors"]
    assert not WebhookEndpoint.objects.exists()


def test_a_registered_host_that_later_points_inside_is_not_called(api, endpoint, receiver, settings, location, clock_at_start):
    api.post("/api/v1/incidents/", new_incident_body(external_id="HD-9"), format="json")
    (due,) = webhooks.pump(now=timezone.now())
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False  # as if its name now resolved to this network
    webhooks.deliver(due, now=timezone.now())
    delivery = WebhookDelivery.objects.get(pk=due)
    delivery.refresh_from_db()
    assert receiver.requests == []
    assert "inside this network" in delivery.last_error
