import smtplib

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerDown

from followups import notify, services, tasks
from followups.models import Delivery, Notification
from incidents.models import Customer
from tests import factories
from tests.conftest import START
from tests.followups.conftest import MINUTE, SECOND


@pytest.fixture
def delivery(incident, colleague, sweep_at):
    """The internal alert to a colleague, written by a sweep and waiting to be emailed."""
    sweep_at(10 * SECOND)
    return Delivery.objects.get(notification__recipient=colleague)


class WorkerKilled(BaseException):
    """A worker process dying mid-send: nothing after it runs, not even `except Exception`."""


def test_a_notification_is_emailed_once_with_its_dedupe_key(delivery):
    assert services.deliver(delivery.pk) == "sent"
    assert services.deliver(delivery.pk) == "skipped"  # a redelivered task finds it sent
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    key = delivery.notification.dedupe_key
    assert message.to == ["cole@example.com"]
    assert message.extra_headers["Message-ID"] == f"<{key}@recovery>"
    assert message.extra_headers["X-Recovery-Dedupe-Key"] == key
    assert "Ada Lovelace" in message.subject
    assert "/notifications/" in message.body
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("sent", 1)


def test_staff_without_an_email_address_get_the_inbox_row_only(incident, organization, location, sweep_at):
    quiet = factories.UserFactory(organization=organization, locations=[location], email="")
    sweep_at(10 * SECOND)
    assert Notification.objects.filter(recipient=quiet).exists()
    assert not Delivery.objects.filter(notification__recipient=quiet).exists()


def test_a_worker_killed_while_delivering_is_replaced_after_its_claim_lapses_and_sends_once(delivery, monkeypatch, clock_at_start):
    monkeypatch.setattr(notify, "send_email", lambda notification: (_ for _ in ()).throw(WorkerKilled()))
    with pytest.raises(WorkerKilled):
        services.deliver(delivery.pk, now=timezone.now())
    monkeypatch.undo()
    # The broker hands the task back at once (reject_on_worker_lost): the claim still holds, so
    # the copy does nothing rather than race a worker that might still be sending.
    assert services.deliver(delivery.pk, now=timezone.now()) == "skipped"
    assert mail.outbox == []
    # Once the claim lapses the sweep queues it again, and it goes out once.
    clock_at_start.move_to(START + 10 * SECOND + settings.FOLLOWUPS_DELIVERY_LEASE)
    assert services.requeue_deliveries(timezone.now()) == 1
    assert services.deliver(delivery.pk, now=timezone.now()) == "sent"
    assert services.deliver(delivery.pk, now=timezone.now()) == "skipped"
    assert len(mail.outbox) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 2


def test_a_failed_send_is_recorded_and_retried_after_a_pause(delivery, monkeypatch, clock_at_start):
    def refuse(notification):
        raise smtplib.SMTPServerDisconnected("mail server went away")

    monkeypatch.setattr(notify, "send_email", refuse)
    assert services.deliver(delivery.pk, now=timezone.now()) == "pending"
    delivery.refresh_from_db()
    assert delivery.last_error == "SMTPServerDisconnected: mail server went away"
    assert delivery.next_attempt_at == timezone.now() + services.retry_pause(1)
    monkeypatch.undo()
    clock_at_start.shift(services.retry_pause(1) - SECOND)
    assert services.requeue_deliveries(timezone.now()) == 0
    clock_at_start.shift(SECOND)
    assert services.requeue_deliveries(timezone.now()) == 1
    assert services.deliver(delivery.pk, now=timezone.now()) == "sent"
    assert len(mail.outbox) == 1


def test_the_pause_between_attempts_grows_and_is_capped():
    pauses = [services.retry_pause(attempt).total_seconds() for attempt in (1, 2, 3, 4, 10, 20)]
    assert pauses == [30, 60, 120, 240, 3600, 3600]


def test_delivery_gives_up_after_the_last_attempt(delivery, monkeypatch):
    monkeypatch.setattr(notify, "send_email", lambda notification: 1 / 0)
    Delivery.objects.filter(pk=delivery.pk).update(attempts=services.MAX_DELIVERY_ATTEMPTS - 1)
    assert services.deliver(delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.state == "failed" and delivery.next_attempt_at is None
    assert services.deliver(delivery.pk) == "skipped"


def test_deliveries_are_queued_when_the_sweep_commits(incident, colleague, eager_celery, clock_at_start, django_capture_on_commit_callbacks):
    clock_at_start.move_to(START + 10 * SECOND)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.sweep(now=timezone.now())
    assert callbacks
    assert [message.to for message in mail.outbox] == [["cole@example.com"]]
    assert Delivery.objects.get().state == "sent"


def test_with_the_broker_down_notifications_wait_in_the_database_and_go_out_later(
    frontline, location, colleague, eager_celery, monkeypatch, clock_at_start, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise BrokerDown("Error 111 connecting to redis. Connection refused.")

    monkeypatch.setattr(tasks.deliver_notification, "apply_async", broker_down)
    # Logging and recording steps never touch the broker.
    incident = factories.log_incident(user=frontline, location=location)
    with django_capture_on_commit_callbacks(execute=True):
        services.sweep(now=timezone.now())
    assert mail.outbox == []
    assert Notification.objects.filter(incident=incident, recipient=colleague).exists()
    assert Delivery.objects.get().state == "pending"
    monkeypatch.undo()  # the broker is back
    clock_at_start.shift(MINUTE)
    with django_capture_on_commit_callbacks(execute=True):
        report = services.sweep(now=timezone.now())
    assert report.deliveries_requeued == 1
    assert len(mail.outbox) == 1
    assert Delivery.objects.get().state == "sent"


def test_the_sweep_does_not_queue_again_what_was_queued_a_moment_ago(delivery, clock_at_start):
    clock_at_start.shift(15 * SECOND)
    assert services.requeue_deliveries(timezone.now()) == 0


def test_a_line_break_stored_in_a_customers_name_still_lets_the_email_go_out_on_one_line(incident, colleague, sweep_at):
    # Names are refused with line breaks now; one stored before that must not block every email.
    Customer.objects.filter(pk=incident.customer_id).update(name="Ada\r\nBcc: everyone@example.com\x0bLovelace")
    sweep_at(10 * SECOND)
    delivery = Delivery.objects.get(notification__recipient=colleague)
    assert services.deliver(delivery.pk) == "sent"
    subject = mail.outbox[0].subject
    assert subject == "[Recovery] Take special care of Ada Bcc: everyone@example.com Lovelace (" + incident.reference + ")"
    assert mail.outbox[0].message()["Bcc"] is None  # no header of its own
