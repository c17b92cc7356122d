import io
import os
import time
import uuid

import pytest
from django.conf import settings
from django.core.management import call_command
from kombu import Connection, Exchange, Queue

from followups import services, tasks
from followups.models import Delivery
from recovery.celery import app
from tests.followups.conftest import SECOND


def test_the_sweep_task_delegates_to_the_plain_function(monkeypatch):
    calls = []

    def fake_sweep(**kwargs):
        calls.append(kwargs)
        return services.SweepReport(now=None, due=3, acted=2, failed=1)

    monkeypatch.setattr(services, "sweep", fake_sweep)
    assert tasks.sweep_followups.apply().get() == {"due": 3, "acted": 2, "failed": 1}
    assert calls == [{}]


def test_the_delivery_task_delegates_to_deliver(monkeypatch):
    monkeypatch.setattr(services, "deliver", lambda delivery_id: f"delivered {delivery_id}")
    assert tasks.deliver_notification.apply(args=(7,)).get() == "delivered 7"


def test_delivery_tasks_are_acknowledged_only_after_the_work_and_return_if_the_worker_dies():
    task = tasks.deliver_notification
    assert task.acks_late and task.reject_on_worker_lost
    assert task.max_retries and task.retry_backoff_max <= settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 300)


def test_beat_sweeps_every_interval_and_drops_stale_passes():
    entry = app.conf.beat_schedule["sweep-followups"]
    assert entry["task"] == "followups.tasks.sweep_followups"
    assert entry["schedule"] == settings.SWEEP_INTERVAL_SECONDS == 15
    assert entry["options"]["expires"] == settings.SWEEP_INTERVAL_SECONDS
    assert entry["task"] in app.tasks


def test_no_reminder_waits_in_the_broker():
    # Deadlines live in the database: nothing in the engine schedules a task for later.
    source = "".join(open(module.__file__).read() for module in (services, tasks))
    assert "countdown" not in source and "eta=" not in source


def test_the_management_command_runs_one_pass_and_says_what_it_did(incident, colleague, manager, clock_at_start):
    clock_at_start.shift(21 * 60 * SECOND)
    out = io.StringIO()
    call_command("sweep_followups", stdout=out)
    text = out.getvalue()
    assert "1 incidents due, 1 acted on" in text
    assert "1 × Internal alert to the location's staff" in text
    assert "1 × Window missed: breach and escalation to managers" in text
    out = io.StringIO()
    call_command("sweep_followups", stdout=out)
    assert "0 incidents due" in out.getvalue()


# --- The broker ----------------------------------------------------------------------------------------


@pytest.mark.broker
def test_the_configured_broker_is_redis_when_redis_url_is_set_and_a_sqlite_file_otherwise():
    with app.connection_for_write() as connection:
        transport = connection.transport.driver_type
    assert transport == ("redis" if os.environ.get("REDIS_URL") else "sql")


@pytest.mark.broker
def test_a_message_makes_the_round_trip_through_the_configured_broker():
    name = f"roundtrip-{uuid.uuid4().hex}"
    queue = Queue(name, Exchange(name), routing_key=name, auto_delete=True)
    with Connection(app.conf.broker_url, transport_options=app.conf.broker_transport_options) as connection:
        with connection.Producer() as producer:
            producer.publish({"hello": "broker"}, exchange=queue.exchange, routing_key=name, declare=[queue])
        simple = connection.SimpleQueue(queue)
        message = simple.get(block=True, timeout=10)
        message.ack()
        simple.close()
    assert message.payload == {"hello": "broker"}


@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_takes_a_delivery_from_the_broker_and_sends_it(frontline, location, colleague, monkeypatch):
    """A worker thread consuming the configured broker (Redis with REDIS_URL) does the delivery.
    Real time here: the worker's own timers must run."""
    from celery.contrib.testing.worker import start_worker
    from django.core import mail

    from tests import factories

    factories.log_incident(user=frontline, location=location)
    monkeypatch.setattr(services, "_publish", lambda ids: None)  # publish below, to a queue of this test only
    services.sweep()
    delivery = Delivery.objects.get(notification__recipient=colleague)
    queue = f"test-{uuid.uuid4().hex}"
    tasks.deliver_notification.apply_async((delivery.pk,), queue=queue)
    with start_worker(app, pool="solo", perform_ping_check=False, queues=[queue], shutdown_timeout=10):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            delivery.refresh_from_db()
            if delivery.state == Delivery.State.SENT:
                break
            time.sleep(0.05)  # waiting for another thread, not for a deadline
    assert delivery.state == Delivery.State.SENT
    assert len([message for message in mail.outbox if message.to == ["cole@example.com"]]) == 1
