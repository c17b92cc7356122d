"""The sending pipeline: a message drafted, sent in the owner's name, claimed by the worker and sent
once to a real SMTP server, retried with backoff, never sent at night or to a customer who said no."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from incidents.models import Customer, EventKind, WeeklySpan
from outreach import services, tasks
from outreach.models import Message, MessageAttempt
from tests import factories
from tests.conftest import START
from tests.smtp_server import SMTPServer

pytestmark = pytest.mark.django_db

SECOND = datetime.timedelta(seconds=1)
MINUTE = datetime.timedelta(minutes=1)
LONDON = "Europe/London"


@pytest.fixture
def owner(organization, location):
    return factories.UserFactory(username="fran", first_name="Fran", last_name="Okafor", email="fran@harbour.example",
                                 organization=organization, locations=[location])


@pytest.fixture
def london(location):
    location.timezone = LONDON
    location.save()
    return location


def drafted(owner, *, customer=None, body="Thank you for bearing with us.", channel=None, kind=Message.Kind.WRAP_UP):
    incident = factories.log_incident(user=owner, customer=customer, now=timezone.now())
    return services.draft_message(incident, kind=kind, body=body, channel=channel, author=owner)


def events(incident, kind):
    return list(incident.events.filter(kind=kind))


def test_a_sent_message_reaches_the_smtp_server_once_in_the_owners_name(owner, london, smtp, clock_at_start):
    message = drafted(owner)

    services.send_message(message, by=owner)
    assert services.send_due().sent == 1
    assert services.send_due().sent == 0  # a second pass finds nothing due

    (received,) = smtp.messages
    assert received.recipients == [message.incident.customer.email]
    assert received.message["From"] == "\"Fran Okafor, Harbour Hotels\" <recovery@localhost>"
    assert received.message["Reply-To"] == "Fran Okafor <fran@harbour.example>"
    assert received.message["Message-ID"] == f"<recovery-message-{message.pk}@localhost>"
    assert received.message["List-Unsubscribe"].strip().startswith("<http://127.0.0.1:8000/messages/unsubscribe/")
    assert received.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert received.text.startswith("Thank you for bearing with us.")
    message.refresh_from_db()
    assert (message.status, message.sent_at, message.author) == (Message.Status.SENT, START, owner)
    assert message.provider_id == received.message["Message-ID"]  # what a bounce names
    assert message.attempts == 1 and message.attempt_log.get().succeeded
    (sent,) = events(message.incident, EventKind.MESSAGE_SENT)
    assert sent.actor == owner and message.incident.customer.email in sent.summary


def test_markup_in_a_name_or_a_note_stays_text(owner, london, smtp, organization, clock_at_start):
    customer = factories.CustomerFactory(organization=organization, name="<b>Ada</b> & Co",
                                         email="ada@example.com")
    message = drafted(owner, customer=customer, body="Dear <b>Ada</b> & Co,\n<script>alert(1)</script>")
    services.send_message(message, by=owner)
    services.send_due()

    (received,) = smtp.messages
    assert received.message.get_content_type() == "text/plain"  # no HTML part to inject into
    assert "Dear <b>Ada</b> & Co,\n<script>alert(1)</script>" in received.text


def test_a_customer_who_opted_out_gets_nothing_and_the_owner_is_told_why(owner, london, smtp, organization,
                                                                      clock_at_start):
    customer = factories.CustomerFactory(organization=organization, name="Ada", email="ada@example.com",
                                         opted_out_at=START - datetime.timedelta(days=3))
    message = drafted(owner, customer=customer)

    services.send_message(message, by=owner)
    services.send_due()

    message.refresh_from_db()
    assert message.status == Message.Status.NOT_SENT
    assert message.status_note == "Ada asked not to be messaged (on 01 Mar 2026)."
    (entry,) = events(message.incident, EventKind.MESSAGE_NOT_SENT)
    assert "asked not to be messaged" in entry.summary and entry.actor == owner
    assert smtp.messages == []


def test_no_address_for_the_channel_is_not_sent(owner, london, smtp, organization, clock_at_start):
    customer = factories.CustomerFactory(organization=organization, name="Ada", email="", phone="")
    message = drafted(owner, customer=customer)
    assert message.channel == Message.Channel.EMAIL and message.to == ""

    services.send_message(message, by=owner)

    message.refresh_from_db()
    assert (message.status, message.status_note) == (Message.Status.NOT_SENT, "There is no email address on file for Ada.")
    assert services.send_due().claimed == 0


def test_the_channel_follows_the_customers_preference_and_their_addresses(organization):
    both = factories.CustomerFactory(organization=organization, email="a@example.com", phone="+442079460001")
    texter = factories.CustomerFactory(organization=organization, email="b@example.com", phone="+442079460002",
                                       preferred_channel="sms")
    phone_only = factories.CustomerFactory(organization=organization, email="", phone="020 7946 0003")
    prefers_sms_without_phone = factories.CustomerFactory(organization=organization, email="c@example.com", phone="",
                                                         preferred_channel="sms")
    assert services.channel_for(both) == "email"
    assert services.channel_for(texter) == "sms"
    assert services.channel_for(phone_only) == "sms" and services.address_for(phone_only, "sms") == "+442079460003"
    assert services.channel_for(prefers_sms_without_phone) == "email"


def test_someone_of_another_organization_cannot_send_it(owner, clock_at_start):
    message = drafted(owner)
    stranger = factories.UserFactory()
    with pytest.raises(services.NotAllowed):
        services.send_message(message, by=stranger)
    message.refresh_from_db()
    assert message.status == Message.Status.DRAFT


def test_a_message_is_sent_once_however_often_it_is_sent(owner, smtp, clock_at_start):
    message = drafted(owner)
    services.send_message(message, by=owner)
    services.send_message(message, by=owner)  # still scheduled: sending it again only reschedules it
    services.send_due()
    with pytest.raises(services.MessageError, match="already sent"):
        services.send_message(message, by=owner)
    assert len(smtp.messages) == 1


# --- Quiet hours: 21:00 to 08:00 on the location's clock ------------------------------------------
# The location is open round the clock here, so the quiet hours alone hold a message back
# (the business calendar's part: tests/outreach/test_business_calendar.py).


@pytest.fixture
def open_round_the_clock(london):
    WeeklySpan.objects.filter(location=london).delete()
    WeeklySpan.objects.bulk_create(WeeklySpan(location=london, weekday=day, opens=datetime.time(0),
                                              closes=datetime.time(0)) for day in range(7))
    return london


@pytest.mark.parametrize("local_time, goes_at", [
    ("20:59", "20:59"),  # a minute before the quiet hours: now
    ("21:00", "08:00"),  # the quiet hours begin: the next morning
    ("23:30", "08:00"),
    ("07:59", "08:00"),  # the same morning
    ("08:00", "08:00"),  # the quiet hours are over: now
])
def test_a_message_due_in_quiet_hours_waits_for_the_morning(owner, open_round_the_clock, local_time, goes_at):
    # 1 July: London is on summer time (UTC+1), so local and UTC differ.
    hour, minute = map(int, local_time.split(":"))
    local = datetime.datetime(2026, 7, 1, hour, minute, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
    with time_machine.travel(local, tick=False):
        message = drafted(owner)
        services.send_message(message, by=owner)
    message.refresh_from_db()
    shown = message.scheduled_for.astimezone(datetime.timezone(datetime.timedelta(hours=1)))
    assert f"{shown:%H:%M}" == goes_at
    expected_day = local.date() + datetime.timedelta(days=1 if local_time in ("21:00", "23:30") else 0)
    assert shown.date() == expected_day


def test_a_message_waiting_for_the_morning_goes_at_the_morning_and_not_before(owner, open_round_the_clock, smtp):
    night = datetime.datetime(2026, 3, 4, 22, 30, tzinfo=datetime.timezone.utc)  # London is on UTC in March
    morning = datetime.datetime(2026, 3, 5, 8, 0, tzinfo=datetime.timezone.utc)
    with time_machine.travel(night, tick=False) as clock:
        message = drafted(owner)
        services.send_message(message, by=owner)
        clock.move_to(morning - SECOND)
        assert services.send_due().sent == 0
        clock.move_to(morning)
        assert services.send_due().sent == 1
    assert len(smtp.messages) == 1


def test_quiet_hours_within_one_day_and_none_at_all(organization, london):
    organization.quiet_hours_start, organization.quiet_hours_end = datetime.time(13), datetime.time(14)
    at = datetime.datetime(2026, 3, 4, 13, 30, tzinfo=datetime.timezone.utc)
    assert services.out_of_quiet_hours(at, organization, london) == at.replace(hour=14, minute=0)
    organization.quiet_hours_end = datetime.time(13)
    assert services.out_of_quiet_hours(at, organization, london) == at


def test_a_message_scheduled_for_later_goes_then(owner, london, smtp, clock_at_start):
    message = drafted(owner)
    services.send_message(message, by=owner, at=START + datetime.timedelta(hours=3))
    assert services.send_due().sent == 0
    with time_machine.travel(START + datetime.timedelta(hours=3), tick=False):
        assert services.send_due().sent == 1


# --- Failures --------------------------------------------------------------------------------------


def test_a_mail_server_that_is_down_is_retried_with_backoff_and_the_owner_sees_the_failure(owner, settings,
                                                                                        clock_at_start):
    with SMTPServer() as gone:
        port = gone.port
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port  # nobody listens there now
    message = drafted(owner)
    services.send_message(message, by=owner)

    assert services.send_due().retried == 1
    message.refresh_from_db()
    assert message.status == Message.Status.SCHEDULED
    assert message.next_attempt_at == START + 30 * SECOND
    assert "ConnectionRefusedError" in message.status_note
    assert services.send_due().claimed == 0  # not before its time

    pauses = []
    while message.status == Message.Status.SCHEDULED:
        clock_at_start.move_to(message.next_attempt_at)
        previous = message.next_attempt_at
        services.send_due()
        message.refresh_from_db()
        if message.next_attempt_at:
            pauses.append(message.next_attempt_at - previous)
    assert pauses == [MINUTE, 2 * MINUTE, 4 * MINUTE, 8 * MINUTE, 16 * MINUTE, 32 * MINUTE]
    assert message.status == Message.Status.FAILED and message.attempts == services.MAX_ATTEMPTS
    assert MessageAttempt.objects.filter(message=message, succeeded=False).count() == services.MAX_ATTEMPTS
    (failed,) = events(message.incident, EventKind.MESSAGE_FAILED)
    assert "failed" in failed.summary


def test_a_retry_that_would_land_at_night_waits_for_the_morning(owner, open_round_the_clock, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    with SMTPServer() as gone:
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", gone.port
    evening = datetime.datetime(2026, 3, 4, 20, 59, 45, tzinfo=datetime.timezone.utc)
    with time_machine.travel(evening, tick=False):
        message = drafted(owner)
        services.send_message(message, by=owner)
        services.send_due()
    message.refresh_from_db()
    assert message.next_attempt_at == datetime.datetime(2026, 3, 5, 8, 0, tzinfo=datetime.timezone.utc)


def test_two_workers_never_claim_the_same_message(owner, clock_at_start):
    message = drafted(owner)
    services.send_message(message, by=owner)
    ids = services.due_ids(timezone.now(), limit=10)

    first = services.claim(ids, timezone.now())
    second = services.claim(ids, timezone.now())  # read the same ids; claims after the first

    assert [claimed.pk for claimed in first] == [message.pk] and second == []


def test_a_claim_of_a_worker_that_died_lapses_after_the_lease(owner, smtp, settings, clock_at_start):
    message = drafted(owner)
    services.send_message(message, by=owner)
    services.claim([message.pk], timezone.now())  # the worker dies here, before it sends

    clock_at_start.move_to(START + settings.OUTREACH_SENDING_LEASE - SECOND)
    assert services.send_due().claimed == 0
    clock_at_start.move_to(START + settings.OUTREACH_SENDING_LEASE)
    assert services.send_due().sent == 1
    assert len(smtp.messages) == 1


def test_opting_out_after_it_was_scheduled_stops_it(owner, smtp, clock_at_start):
    message = drafted(owner)
    services.send_message(message, by=owner)
    services.opt_out(Customer.objects.filter(pk=message.incident.customer_id))

    assert services.send_due().not_sent == 1
    message.refresh_from_db()
    assert message.status == Message.Status.NOT_SENT and smtp.messages == []
    assert len(events(message.incident, EventKind.MESSAGE_NOT_SENT)) == 1


# --- The worker ----------------------------------------------------------------------------------


def test_a_send_wakes_the_worker_when_it_commits(owner, smtp, eager_celery, django_capture_on_commit_callbacks,
                                                 clock_at_start):
    message = drafted(owner)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.send_message(message, by=owner)
    assert smtp.messages == []  # nothing goes before the transaction commits
    for callback in callbacks:
        callback()
    assert len(smtp.messages) == 1


def test_the_task_delegates_to_send_due(owner, smtp, clock_at_start):
    message = drafted(owner)
    services.send_message(message, by=owner)
    assert tasks.send_messages() == {"sent": 1, "retried": 0, "failed": 0}


def test_beat_runs_the_sending_pass():
    from recovery.celery import app

    entry = app.conf.beat_schedule["send-messages"]
    assert entry["task"] == "outreach.tasks.send_messages" and entry["options"]["expires"] == entry["schedule"]


def test_one_smtp_connection_carries_a_batch(owner, smtp, organization, clock_at_start, monkeypatch):
    from django.core.mail.backends.smtp import EmailBackend

    opened = []
    original = EmailBackend.open
    # open() is asked before each send; it connects only when no connection is open.
    monkeypatch.setattr(EmailBackend, "open", lambda self: (self.connection is None and opened.append(1)) or original(self))
    for _ in range(5):
        services.send_message(drafted(owner), by=owner)
    assert services.send_due(batch_size=5).sent == 5
    assert len(smtp.messages) == 5 and len(opened) == 1



def test_a_sent_message_reaches_the_helpdesks_webhooks_with_the_pumps_next_pass(owner, smtp, settings, clock_at_start):
    from helpdesk import services as api_services
    from helpdesk import webhooks
    from helpdesk.models import WebhookDelivery

    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    client, _ = api_services.create_api_client(organization=owner.organization, name="Helpdesk")
    api_services.register_webhook(client=client, url="http://127.0.0.1:9/hooks")
    message = drafted(owner)
    services.send_message(message, by=owner)
    services.send_due()

    webhooks.pump(now=timezone.now())

    sent = message.incident.events.get(kind=EventKind.MESSAGE_SENT)
    assert WebhookDelivery.objects.filter(event_type="message.sent", event_id=f"evt_{sent.pk}").count() == 1
