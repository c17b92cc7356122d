"""How deliveries leave: made as soon as their event commits, sent per endpoint in order by one sender
at a time, a failure set aside for its backoff without holding later ones; the pump is the safety net."""

import datetime
import http.server
import json
import re
import socket
import threading
from pathlib import Path

import pytest
from django.utils import timezone

from helpdesk import services as api_services
from helpdesk import tasks, webhooks
from helpdesk.models import WebhookDelivery, WebhookEndpoint
from incidents import services
from tests import factories

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def endpoint(helpdesk, receiver, clock_at_start):
    return api_services.register_webhook(client=helpdesk, url=receiver.url)


@pytest.fixture
def published(monkeypatch):
    """The sender tasks queued on the broker, by endpoint id."""
    queued = []
    monkeypatch.setattr(tasks.send_webhooks, "apply_async", lambda args, **options: queued.append(args[0]))
    monkeypatch.setattr(webhooks, "_broker_away_until", 0.0)
    return queued


def log(frontline, location, customer, count=1):
    return [factories.log_incident(user=frontline, location=location, customer=customer) for _ in range(count)]


def sent_event_ids(receiver):
    return [json.loads(request["body"])["id"] for request in receiver.requests]


class KeepAliveReceiver:
    """A receiver that keeps its connections open between calls (HTTP/1.1), as most do, and counts
    them. After `calls_per_connection` answers it closes a connection without saying so first, as
    a server ending an idle connection does."""

    def __init__(self, calls_per_connection=None):
        self.requests, self.connections = [], 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                receiver.connections += 1
                self.answered = 0

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                self.answered += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if calls_per_connection and self.answered >= calls_per_connection:
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_committed_event_becomes_a_delivery_and_queues_its_endpoints_sender_at_once(
    endpoint, frontline, location, customer, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        (incident,) = log(frontline, location, customer)

    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.event_type == "incident.created"
    assert delivery.payload["data"]["incident"]["id"] == incident.pk
    assert published == [endpoint.pk]


def test_while_a_sender_holds_the_endpoint_a_committed_event_queues_no_second_one(
    endpoint, frontline, location, customer, published, django_capture_on_commit_callbacks, clock_at_start
):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(sending_until=timezone.now() + datetime.timedelta(seconds=20))

    with django_capture_on_commit_callbacks(execute=True):
        log(frontline, location, customer)

    assert WebhookDelivery.objects.count() == 1
    assert published == []  # the sender at work finds the delivery when it looks again after letting go


def test_nothing_is_made_or_queued_before_the_event_commits(endpoint, frontline, location, customer, published,
                                                            django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        log(frontline, location, customer)

    assert len(callbacks) == 1
    assert not WebhookDelivery.objects.exists() and published == []


def test_an_organization_without_webhooks_costs_one_query_after_the_commit(
    frontline, location, customer, published, django_capture_on_commit_callbacks, django_assert_num_queries
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        log(frontline, location, customer)

    with django_assert_num_queries(1):
        callbacks[0]()
    assert published == []


def test_what_the_commit_hook_made_the_pump_does_not_make_again(
    endpoint, frontline, location, customer, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        log(frontline, location, customer)

    webhooks.pump(now=timezone.now())

    assert WebhookDelivery.objects.count() == 1


def test_a_due_reminder_the_sweep_commits_is_made_and_queued_at_once_too(
    endpoint, frontline, location, customer, published, django_capture_on_commit_callbacks, clock_at_start
):
    from followups import services as followups

    log(frontline, location, customer)
    clock_at_start.shift(datetime.timedelta(minutes=16))  # the heads-up, five minutes before the window ends
    with django_capture_on_commit_callbacks(execute=True):
        followups.sweep(now=timezone.now())

    assert WebhookDelivery.objects.filter(event_type="followup.due").count() == 1
    assert published == [endpoint.pk]


# The message worker writes a batch's "sent"/"failed" entries in one INSERT: a hook per entry cost a query
# each, a fifth of the drain's speed. Those events reach helpdesks at the next pump (SWEEP_INTERVAL_SECONDS).
BULK_TIMELINE_WRITERS = {"outreach/services.py"}


def test_every_timeline_write_goes_through_event_save_so_the_hook_sees_it():
    """A bulk_create of events or reminders would skip post_save, and with it the commit hook (the pump
    would still find them, a pass later)."""
    found = []
    for app in ("incidents", "followups", "helpdesk", "insights", "organization_settings", "outreach"):
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts and re.search(r"(Event|Reminder)\.objects\.bulk_create|events\.bulk_create|reminders\.bulk_create", path.read_text()):
                found.append(str(path.relative_to(ROOT)))
    assert set(found) == BULK_TIMELINE_WRITERS


def test_an_endpoints_deliveries_are_sent_in_the_order_of_their_events(endpoint, receiver, frontline, location, customer):
    (incident,) = log(frontline, location, customer)
    services.record_apology(incident, by=frontline, channel="in_person", text="I'm so sorry.")
    services.record_review(incident, by=frontline, customer_account="Cold soup", customer_needs="A hot one")
    webhooks.pump(now=timezone.now())

    webhooks.send_due(endpoint.pk)

    ids = sent_event_ids(receiver)
    assert len(ids) == 3
    assert ids == sorted(ids, key=lambda event_id: int(event_id.removeprefix("evt_")))


def test_a_failed_delivery_waits_its_backoff_without_holding_the_later_ones(
    endpoint, receiver, frontline, location, customer, clock_at_start
):
    log(frontline, location, customer, count=3)
    webhooks.pump(now=timezone.now())
    receiver.statuses = [500]
    first, second, third = WebhookDelivery.objects.order_by("id")

    attempted, retry_at = webhooks.send_due(endpoint.pk)

    assert attempted == 3
    assert sent_event_ids(receiver) == [first.event_id, second.event_id, third.event_id]
    assert retry_at == timezone.now() + datetime.timedelta(seconds=30)
    assert list(WebhookDelivery.objects.order_by("id").values_list("status", flat=True)) == ["pending", "delivered", "delivered"]

    clock_at_start.shift(datetime.timedelta(seconds=30))
    webhooks.send_due(endpoint.pk)

    assert sent_event_ids(receiver)[-1] == first.event_id
    assert not WebhookDelivery.objects.exclude(status="delivered").exists()


def test_a_receiver_failing_every_other_call_never_stalls_its_endpoint(endpoint, receiver, frontline, location, customer,
                                                                      clock_at_start):
    log(frontline, location, customer, count=8)
    webhooks.pump(now=timezone.now())
    receiver.statuses = [500, 200] * 20

    for _ in range(6):  # each round: what is due, then the clock moves past the longest backoff so far
        webhooks.send_due(endpoint.pk)
        clock_at_start.shift(datetime.timedelta(minutes=5))

    assert WebhookDelivery.objects.filter(status="delivered").count() == 8


def test_one_sender_at_a_time_a_second_leaves_while_the_first_holds_the_endpoint(
    endpoint, receiver, frontline, location, customer, clock_at_start
):
    log(frontline, location, customer)
    webhooks.pump(now=timezone.now())
    held_until = timezone.now() + datetime.timedelta(seconds=30)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(sending_until=held_until)

    assert webhooks.send_due(endpoint.pk)[0] == 0
    assert receiver.requests == []

    # A sender that died lets go when its claim lapses.
    clock_at_start.move_to(held_until + datetime.timedelta(seconds=1))
    assert webhooks.send_due(endpoint.pk)[0] == 1
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).sending_until is None


def test_the_pump_catches_up_more_than_one_batch_in_a_pass(endpoint, frontline, location, customer, monkeypatch):
    monkeypatch.setattr(webhooks, "BATCH", 2)
    monkeypatch.setattr(webhooks, "LOOKBACK_IDS", 0)
    log(frontline, location, customer, count=5)

    webhooks.pump(now=timezone.now())

    assert WebhookDelivery.objects.count() == 5


def test_with_the_broker_away_the_create_answers_201_and_the_pump_queues_the_sender_later(
    api, endpoint, location, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    from tests.helpdesk.conftest import new_incident_body

    offered = []

    def unreachable(args, **options):
        offered.append(args[0])
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.send_webhooks, "apply_async", unreachable)
    monkeypatch.setattr(webhooks, "_broker_away_until", 0.0)

    with django_capture_on_commit_callbacks(execute=True):
        first = api.post("/api/v1/incidents/", new_incident_body(external_id="HD-1"), format="json")
    with django_capture_on_commit_callbacks(execute=True):
        second = api.post("/api/v1/incidents/", new_incident_body(external_id="HD-2"), format="json")

    assert (first.status_code, second.status_code) == (201, 201)
    assert offered == [endpoint.pk]  # after one refusal the broker is left alone for a few seconds
    assert "Broker unavailable" in caplog.text
    assert WebhookDelivery.objects.filter(status="pending").count() == 2

    monkeypatch.setattr(webhooks, "_broker_away_until", 0.0)  # a pump pass later, the broker is back
    queued = []
    monkeypatch.setattr(tasks.send_webhooks, "apply_async", lambda args, **options: queued.append(args[0]))
    tasks.pump_webhooks.run()
    assert queued == [endpoint.pk]


def test_a_sender_past_its_budget_stops_between_two_sends_and_hands_over_to_a_new_task(
    endpoint, receiver, frontline, location, customer, published, monkeypatch
):
    log(frontline, location, customer, count=3)
    webhooks.pump(now=timezone.now())
    monkeypatch.setattr(webhooks, "SEND_LIMIT", 2)

    assert webhooks.send_due(endpoint.pk)[0] == 2

    assert len(receiver.requests) == 2
    assert published == [endpoint.pk]  # the third is the next task's
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).sending_until is None


def test_a_sender_keeps_one_connection_open_for_the_endpoints_deliveries_and_looks_the_host_up_once(
    helpdesk, frontline, location, customer, clock_at_start, monkeypatch
):
    receiver = KeepAliveReceiver()
    resolve = webhooks._resolve
    lookups = []
    monkeypatch.setattr(webhooks, "_resolve", lambda host, port: lookups.append(host) or resolve(host, port))
    try:
        endpoint = api_services.register_webhook(client=helpdesk, url=receiver.url)
        log(frontline, location, customer, count=3)
        webhooks.pump(now=timezone.now())

        assert webhooks.send_due(endpoint.pk)[0] == 3
    finally:
        receiver.close()

    ids = sent_event_ids(receiver)
    assert ids == sorted(ids, key=lambda event_id: int(event_id.removeprefix("evt_"))) and len(ids) == 3
    assert receiver.connections == 1
    assert lookups == ["127.0.0.1"]
    assert all("close" not in request["headers"].get("Connection", "") for request in receiver.requests)
    assert WebhookDelivery.objects.filter(status="delivered").count() == 3


def test_once_the_receiver_closes_the_kept_connection_the_next_one_is_looked_up_and_checked_afresh(
    helpdesk, frontline, location, customer, clock_at_start, monkeypatch, settings
):
    """Between two connections the name can have been pointed into this network (DNS rebinding): a
    new connection is only ever made to addresses looked up and checked for it."""
    from tests.helpdesk.test_webhook_safety import PUBLIC, resolves

    receiver = KeepAliveReceiver(calls_per_connection=2)
    real_connect = socket.socket.connect
    # The public address stands for the receiver on this machine.
    monkeypatch.setattr(socket.socket, "connect", lambda sock, address: real_connect(
        sock, ("127.0.0.1", receiver.port) if address[0] == PUBLIC else address))
    try:
        endpoint = api_services.register_webhook(client=helpdesk, url=f"http://hooks.example.com:{receiver.port}/hooks")
        log(frontline, location, customer, count=3)
        webhooks.pump(now=timezone.now())
        settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
        lookups = resolves(monkeypatch, "hooks.example.com", PUBLIC, "10.0.0.7")

        assert webhooks.send_due(endpoint.pk)[0] == 3
    finally:
        receiver.close()

    first, second, third = WebhookDelivery.objects.order_by("id")
    assert sent_event_ids(receiver) == [first.event_id, second.event_id]
    assert receiver.connections == 1 and len(lookups) == 2
    assert (first.status, second.status, third.status) == ("delivered", "delivered", "pending")
    assert third.last_error == "Not sent: 10.0.0.7 is inside this network, not a public address."


def test_a_request_on_a_kept_connection_the_receiver_closed_meanwhile_goes_out_on_a_new_one(
    helpdesk, frontline, location, customer, clock_at_start, monkeypatch
):
    receiver = KeepAliveReceiver(calls_per_connection=1)
    # As if the receiver closed the connection just after the sender looked: the request meets a closed socket.
    monkeypatch.setattr(webhooks._DeadlineSocket, "closed_by_peer", lambda sock: False)
    try:
        endpoint = api_services.register_webhook(client=helpdesk, url=receiver.url)
        log(frontline, location, customer, count=2)
        webhooks.pump(now=timezone.now())

        assert webhooks.send_due(endpoint.pk)[0] == 2
    finally:
        receiver.close()

    assert len(receiver.requests) == receiver.connections == 2
    assert WebhookDelivery.objects.filter(status="delivered").count() == 2
