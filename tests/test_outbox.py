"""The outbox: every message leaving the app is a row written with the change that causes it, and
is delivered afterwards. With the broker (Redis) down, recording keeps working and nothing is lost;
once Redis is back, every message goes out exactly once.

The test starts its own redis-server on a spare port and stops it: never the machine's shared one.
"""

import datetime
import shutil
import time
import uuid

import pytest
from kombu import pools
from django.core import mail
from django.utils import timezone

from followups import services as followups
from followups.models import Delivery, Notification
from incidents import services
from incidents.models import Location
from recovery.celery import app
from tests import factories
from tests.support.processes import PrivateRedis

pytestmark = [
    pytest.mark.broker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed"),
]


def _use_broker(url):
    """Point the Celery app at `url`, dropping pooled connections to the previous broker."""
    app.pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None
    pools.reset()  # kombu's shared producer pools still hold the closed connections: later sends would fail
    app.conf.broker_url = url
    app.conf.broker_transport_options = {"visibility_timeout": 300}


@pytest.fixture
def private_redis():
    redis = PrivateRedis()
    saved = (app.conf.broker_url, app.conf.broker_transport_options)
    _use_broker(redis.url)
    yield redis
    redis.stop()
    _use_broker(saved[0])
    app.conf.broker_transport_options = saved[1]


def test_with_redis_down_recording_works_and_everything_is_delivered_once_it_is_back(private_redis, organization, location):
    # The clock is the real one: open round the clock, so no email waits for the team to be on duty.
    Location.objects.filter(pk=location.pk).update(opens_at=datetime.time(0), closes_at=datetime.time(0))
    location.refresh_from_db()
    owner = factories.UserFactory(username="owen", organization=organization, locations=[location])
    colleagues = [factories.UserFactory(username=f"colleague{n}", organization=organization, locations=[location]) for n in range(3)]

    # Redis is down (never started). The frontline keeps working.
    started = time.monotonic()
    incident = factories.log_incident(user=owner, location=location)
    services.record_apology(incident, by=owner, channel="in_person", text="I am so sorry, that is on us.")
    services.record_review(incident, by=owner, customer_account="Cold room", customer_needs="A warm one")
    report = followups.sweep()  # as beat would, once it can: sends the internal alert to the team
    assert time.monotonic() - started < 15, "a broker outage must not hang the request or the sweep"

    notifications = Notification.objects.filter(incident=incident)
    assert {n.recipient.username for n in notifications} == {c.username for c in colleagues}
    deliveries = Delivery.objects.filter(notification__incident=incident)
    assert deliveries.count() == 3 and report.deliveries_queued == 3
    assert set(deliveries.values_list("state", flat=True)) == {Delivery.State.PENDING}
    assert mail.outbox == []

    # Redis comes back; the next sweeps queue the waiting rows again and a worker delivers them.
    private_redis.start()
    queue = f"outbox-{uuid.uuid4().hex}"
    app.conf.task_default_queue, saved_queue = queue, app.conf.task_default_queue
    try:
        later = timezone.now() + followups.settings.FOLLOWUPS_REQUEUE_AFTER + datetime.timedelta(seconds=1)
        assert followups.sweep(now=later).deliveries_requeued == 3
        assert followups.sweep(now=later).deliveries_requeued == 0  # already moved on: not queued twice

        from celery.contrib.testing.worker import start_worker

        with start_worker(app, pool="solo", perform_ping_check=False, queues=[queue], shutdown_timeout=10):
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and deliveries.exclude(state=Delivery.State.SENT).exists():
                time.sleep(0.05)  # waiting for the worker thread
    finally:
        app.conf.task_default_queue = saved_queue

    assert set(deliveries.values_list("state", flat=True)) == {Delivery.State.SENT}
    recipients = sorted(address for message in mail.outbox for address in message.to)
    assert recipients == sorted(c.email for c in colleagues)  # each exactly once
