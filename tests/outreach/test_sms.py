"""Text messages: through the SMS backend to a local fake of Twilio's API, retried when the provider
answers 500 or never answers (and delivered once: the retry carries the same idempotency key), and
STOP from the provider's inbound webhook opts the customer out."""

import base64
import hashlib
import hmac
import io

import pytest
from django.utils import timezone

from incidents.models import EventKind
from outreach import services, sms
from outreach.models import Message
from tests import factories

pytestmark = pytest.mark.django_db

SITE = "http://127.0.0.1:8000"


@pytest.fixture
def owner(organization, location):
    return factories.UserFactory(username="fran", organization=organization, locations=[location])


@pytest.fixture
def texter(organization):
    return factories.CustomerFactory(organization=organization, name="Ada", email="", phone="020 7946 0018",
                                     preferred_channel="sms")


def text_sent(owner, customer, body="Your room is ready, Ada. Fran"):
    incident = factories.log_incident(user=owner, customer=customer)
    message = services.draft_message(incident, kind=Message.Kind.PROGRESS_REPORT, body=body, author=owner)
    assert message.channel == Message.Channel.SMS
    return services.send_message(message, by=owner)


def twilio_signature(url, params, token="test-auth-token"):
    payload = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


def test_a_text_reaches_the_provider_from_our_number(owner, texter, sms_provider, clock_at_start):
    message = text_sent(owner, texter)
    assert services.send_due().sent == 1

    (text,) = sms_provider.texts
    assert (text.to, text.sender, text.body) == ("+442079460018", "+442079460999", "Your room is ready, Ada. Fran")
    assert text.idempotency_key == f"recovery-message-{message.pk}"
    message.refresh_from_db()
    assert (message.status, message.provider_id) == (Message.Status.SENT, text.sid)


def test_a_provider_500_is_retried_and_the_text_goes_once(owner, texter, sms_provider, clock_at_start):
    message = text_sent(owner, texter)
    sms_provider.fail_next(500)

    assert services.send_due().retried == 1
    message.refresh_from_db()
    assert message.status == Message.Status.SCHEDULED and "answered 500" in message.status_note
    clock_at_start.move_to(message.next_attempt_at)
    assert services.send_due().sent == 1
    assert len(sms_provider.texts) == 1 and sms_provider.requests == 2


@pytest.mark.parametrize("lost", ["drop", "hang"])
def test_a_reply_lost_or_a_timeout_is_retried_and_never_sent_twice(owner, texter, sms_provider, clock_at_start, lost):
    """The provider took the text but its answer never came back: the retry carries the same
    idempotency key, so the customer gets one text."""
    message = text_sent(owner, texter)
    sms_provider.fail_next(lost)

    assert services.send_due().retried == 1
    clock_at_start.move_to(Message.objects.get(pk=message.pk).next_attempt_at)
    assert services.send_due().sent == 1

    assert len(sms_provider.texts) == 1 and sms_provider.requests == 2
    assert Message.objects.get(pk=message.pk).attempt_log.count() == 2


def test_a_number_the_provider_refuses_fails_at_once_and_the_owner_sees_it(owner, texter, sms_provider, clock_at_start):
    message = text_sent(owner, texter)
    sms_provider.fail_next(400)

    assert services.send_due().failed == 1
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED and "refused it (400)" in message.status_note
    assert message.incident.events.filter(kind=EventKind.MESSAGE_FAILED).count() == 1


def test_a_number_that_cannot_take_a_text_is_not_sent(owner, organization, sms_provider, clock_at_start):
    customer = factories.CustomerFactory(organization=organization, name="Ada", email="", phone="",
                                         phone_as_given="ask at reception")
    incident = factories.log_incident(user=owner, customer=customer)
    message = services.draft_message(incident, kind=Message.Kind.WRAP_UP, body="Thanks", channel="sms", author=owner)
    services.send_message(message, by=owner)
    message.refresh_from_db()
    assert (message.status, message.status_note) == (Message.Status.NOT_SENT, "There is no phone number on file for Ada.")
    assert sms_provider.requests == 0


def test_a_text_too_long_for_a_provider_is_refused_before_anything_is_written(owner, texter, clock_at_start):
    incident = factories.log_incident(user=owner, customer=texter)
    with pytest.raises(services.MessageError, match="at most 1,600 characters"):
        services.draft_message(incident, kind=Message.Kind.WRAP_UP, body="x" * 1601, author=owner)
    assert not Message.objects.exists()


def test_the_console_backend_prints_the_text(owner, texter, settings, clock_at_start):
    settings.SMS_BACKEND = "outreach.sms.ConsoleBackend"
    stream = io.StringIO()
    sms.ConsoleBackend.stream = stream
    try:
        text_sent(owner, texter)
        assert services.send_due().sent == 1
    finally:
        sms.ConsoleBackend.stream = None
    assert "Text message to +442079460018" in stream.getvalue() and "Your room is ready" in stream.getvalue()


def test_the_file_backend_appends_the_text(owner, texter, settings, tmp_path, clock_at_start):
    settings.SMS_BACKEND, settings.SMS_FILE_PATH = "outreach.sms.FileBackend", str(tmp_path / "sms.log")
    text_sent(owner, texter)
    services.send_due()
    assert "Your room is ready" in (tmp_path / "sms.log").read_text()


# --- The provider's webhooks ------------------------------------------------------------------------


def test_stop_from_the_customers_phone_opts_them_out(client, owner, texter, organization, sms_provider, clock_at_start):
    same_number_elsewhere = factories.CustomerFactory(phone="+442079460018")
    params = {"From": "+442079460018", "To": "+442079460999", "Body": "Stop", "MessageSid": "SM1"}
    url = f"{SITE}/messages/sms/inbound/"

    answer = client.post("/messages/sms/inbound/", params, HTTP_X_TWILIO_SIGNATURE=twilio_signature(url, params))

    assert answer.status_code == 200 and answer["Content-Type"] == "text/xml"
    texter.refresh_from_db()
    same_number_elsewhere.refresh_from_db()
    assert texter.opted_out_at == timezone.now() and same_number_elsewhere.opted_out_at is not None
    later = text_sent(owner, texter)
    later.refresh_from_db()
    assert later.status == Message.Status.NOT_SENT


def test_other_texts_change_nothing(client, texter, sms_provider):
    params = {"From": "+442079460018", "To": "+442079460999", "Body": "Stop the music, it was lovely"}
    client.post("/messages/sms/inbound/", params,
                HTTP_X_TWILIO_SIGNATURE=twilio_signature(f"{SITE}/messages/sms/inbound/", params))
    texter.refresh_from_db()
    assert texter.opted_out_at is None


@pytest.mark.parametrize("signature", ["", "bm90IGEgc2lnbmF0dXJl", None])
def test_an_unsigned_or_forged_webhook_is_refused(client, texter, sms_provider, signature):
    params = {"From": "+442079460018", "Body": "STOP"}
    forged = twilio_signature(f"{SITE}/messages/sms/inbound/", params, token="someone-elses-token")
    headers = {"HTTP_X_TWILIO_SIGNATURE": forged if signature is None else signature}
    assert client.post("/messages/sms/inbound/", params, **headers).status_code == 403
    texter.refresh_from_db()
    assert texter.opted_out_at is None


def test_an_undelivered_report_marks_the_text_bounced_for_the_owner(client, owner, texter, sms_provider, clock_at_start):
    message = text_sent(owner, texter)
    services.send_due()
    message.refresh_from_db()
    params = {"MessageSid": message.provider_id, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    url = f"{SITE}/messages/sms/status/"

    answer = client.post("/messages/sms/status/", params, HTTP_X_TWILIO_SIGNATURE=twilio_signature(url, params))

    assert answer.status_code == 204
    message.refresh_from_db()
    assert message.status == Message.Status.BOUNCED and "30003" in message.status_note
    assert message.incident.events.filter(kind=EventKind.MESSAGE_FAILED, summary__contains="bounced").count() == 1
