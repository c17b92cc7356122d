"""The pages: the wrap-up note sent from the incident page (or recorded as done by hand), the customer's
consent on their page, the failures on the owner's home page, quiet hours in Settings, and the
customer's unsubscribe link that works without signing in."""

import datetime
import re

import pytest
import time_machine
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import Customer, EventKind, FollowUp, Organization
from outreach import links, services
from outreach.models import Message
from tests import factories
from tests.conftest import START

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(organization, location):
    return factories.UserFactory(username="fran", first_name="Fran", last_name="Okafor", email="fran@harbour.example",
                                 organization=organization, locations=[location])


@pytest.fixture
def signed_in(client, owner):
    client.force_login(owner)
    return client


def fixed_incident(owner, customer=None, *, location=None):
    now = timezone.now()
    incident = factories.log_incident(user=owner, customer=customer, location=location, now=now)
    incident_services.record_apology(incident, by=owner, channel="in_person", text="I am so sorry.", now=now)
    incident_services.record_review(incident, by=owner, customer_account="Cold soup", customer_needs="Hot soup", now=now)
    incident_services.record_fix(incident, by=owner, description="Fresh soup served", fixed=True, now=now)
    incident_services.record_deposition(incident, by=owner, root_cause="Pass unattended", circumstances="Busy night",
                                        busyness="busy", now=now)
    incident.refresh_from_db()  # next: the wrap-up
    return incident


def follow_up(client, incident, **fields):
    data = {"kind": "wrap_up", "channel": "email", "note": "Thank you, Ada. We hope to see you again.", "subject": "",
            "send_at": ""}
    data.update(fields)
    return client.post(f"/incidents/{incident.reference}/follow_up/", data)


def test_the_wrap_up_emailed_from_the_page_reaches_the_customer_as_the_owner_wrote_it(signed_in, owner, customer, smtp,
                                                                                   clock_at_start):
    incident = fixed_incident(owner, customer)
    page = signed_in.get(f"/incidents/{incident.reference}/").content.decode()
    assert "Email it to the customer" in page and "Thank you, from Riverside" in page  # the subject, prefilled

    answer = follow_up(signed_in, incident, note="Dear Ada, thank you. I hope the new soup was worth the wait. Fran",
                       subject="Thank you, Ada")

    assert answer.status_code == 302
    wrap_up = FollowUp.objects.get(incident=incident, kind="wrap_up")
    assert wrap_up.channel == "email"
    message = Message.objects.get(incident=incident)
    assert (message.kind, message.status, message.author) == (Message.Kind.WRAP_UP, Message.Status.SCHEDULED, owner)
    assert services.send_due().sent == 1
    (received,) = smtp.messages
    assert received.message["Subject"] == "Thank you, Ada"
    assert received.text.startswith("Dear Ada, thank you. I hope the new soup was worth the wait. Fran")
    page = signed_in.get(f"/incidents/{incident.reference}/").content.decode()
    assert "Messages to Ada Lovelace" in page and "Sent" in page


def test_the_wrap_up_can_be_scheduled_for_a_local_hour(signed_in, owner, customer, location, clock_at_start):
    location.timezone = "America/New_York"  # UTC-5 in early March
    location.save()
    incident = fixed_incident(owner, customer, location=location)

    answer = follow_up(signed_in, incident, send_at="2026-03-05T10:00")

    assert answer.status_code == 302
    message = Message.objects.get(incident=incident)
    assert message.scheduled_for == datetime.datetime(2026, 3, 5, 15, 0, tzinfo=datetime.timezone.utc)
    follow = signed_in.get(answer.url)
    assert "the note goes by email to ada@example.com on Thu 05 Mar at 10:00" in follow.content.decode()


def test_a_note_by_hand_is_recorded_and_nothing_is_sent(signed_in, owner, customer, clock_at_start):
    incident = fixed_incident(owner, customer)
    assert follow_up(signed_in, incident, channel="letter", note="I wrote her a card.").status_code == 302
    assert FollowUp.objects.get(incident=incident, kind="wrap_up").channel == "letter"
    assert not Message.objects.exists()


def test_a_text_from_the_page_reaches_the_fake_provider(signed_in, owner, organization, sms_provider, clock_at_start):
    customer = factories.CustomerFactory(organization=organization, name="Ada", email="", phone="020 7946 0018")
    incident = fixed_incident(owner, customer)

    assert follow_up(signed_in, incident, channel="sms", note="Thank you, Ada. Fran").status_code == 302
    services.send_due()

    (text,) = sms_provider.texts
    assert (text.to, text.body) == ("+442079460018", "Thank you, Ada. Fran")
    assert FollowUp.objects.get(incident=incident, kind="wrap_up").channel == "other"
    (sent,) = incident.events.filter(kind=EventKind.MESSAGE_SENT)
    assert "text message to +442079460018" in sent.summary


def test_a_customer_without_email_or_phone_is_offered_a_call_or_a_note_not_a_failed_send(signed_in, owner,
                                                                                        organization, clock_at_start):
    customer = factories.CustomerFactory(organization=organization, name="Ada", email="", phone="")
    incident = fixed_incident(owner, customer)
    page = signed_in.get(f"/incidents/{incident.reference}/").content.decode()
    assert "We have no email address or phone number for Ada." in page

    answer = follow_up(signed_in, incident, channel="email")

    assert answer.status_code == 400
    assert "There is no email address on file for Ada. Record a call or a handwritten note instead." in answer.content.decode()
    assert not FollowUp.objects.filter(kind="wrap_up").exists() and not Message.objects.exists()  # nothing half-written


def test_a_customer_who_opted_out_is_not_emailed_from_the_page(signed_in, owner, organization, clock_at_start):
    customer = factories.CustomerFactory(organization=organization, name="Ada", email="ada@example.com",
                                         opted_out_at=START)
    incident = fixed_incident(owner, customer)
    answer = follow_up(signed_in, incident)
    assert answer.status_code == 400 and "Ada asked not to be messaged" in answer.content.decode()
    assert not Message.objects.exists()


def test_a_follow_up_time_that_is_not_a_time_is_a_field_error(signed_in, owner, customer, clock_at_start):
    incident = fixed_incident(owner, customer)
    answer = follow_up(signed_in, incident, send_at="tomorrow-ish")
    assert answer.status_code == 400 and not Message.objects.exists()


def test_the_owner_sees_a_failed_message_on_their_home_page_until_they_follow_up_another_way(
        signed_in, owner, customer, settings, clock_at_start):
    incident = fixed_incident(owner, customer)
    follow_up(signed_in, incident)
    message = Message.objects.get()
    Message.objects.filter(pk=message.pk).update(status=Message.Status.FAILED, status_note="Mailbox unavailable",
                                                 updated_at=timezone.now())
    home = signed_in.get("/").content.decode()
    assert "Messages that did not reach the customer" in home and "Mailbox unavailable" in home

    clock_at_start.shift(datetime.timedelta(minutes=5))
    incident_services.record_follow_up(incident, by=owner, kind="wrap_up", channel="phone", note="I phoned her.")
    assert "Mailbox unavailable" not in signed_in.get("/").content.decode()


# --- The customer's consent -------------------------------------------------------------------------


def test_the_customer_page_edits_channel_language_and_opt_out(signed_in, customer, clock_at_start):
    answer = signed_in.post(f"/customers/{customer.pk}/contact/", {"preferred_channel": "sms", "language": "de",
                                                                  "opted_out": "on"})
    assert answer.status_code == 302
    customer.refresh_from_db()
    assert (customer.preferred_channel, customer.language, customer.opted_out_at) == ("sms", "de", START)

    signed_in.post(f"/customers/{customer.pk}/contact/", {"preferred_channel": "", "language": ""})
    customer.refresh_from_db()
    assert customer.opted_out_at is None and customer.preferred_channel == ""


def test_bad_consent_input_is_a_field_error(signed_in, customer):
    answer = signed_in.post(f"/customers/{customer.pk}/contact/", {"preferred_channel": "pigeon", "language": "<b>"})
    assert answer.status_code == 400
    assert "A language code" in answer.content.decode()
    customer.refresh_from_db()
    assert customer.preferred_channel == ""


def test_another_organizations_customer_cannot_be_changed(signed_in):
    stranger = factories.CustomerFactory()
    assert signed_in.post(f"/customers/{stranger.pk}/contact/", {"opted_out": "on"}).status_code == 404
    stranger.refresh_from_db()
    assert stranger.opted_out_at is None


def test_a_number_that_could_not_be_read_is_shown_on_the_customer_page(signed_in, organization):
    customer = factories.CustomerFactory(organization=organization, phone="", phone_as_given="ask at reception")
    page = signed_in.get(f"/customers/{customer.pk}/").content.decode()
    assert "ask at reception" in page and "not a number we can call or text" in page


def test_quiet_hours_are_an_organization_setting(client, admin, organization):
    client.force_login(admin)
    form = client.get("/settings/").context["form"]
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update({"quiet_hours_start": "22:00", "quiet_hours_end": "07:30"})
    data = {key: value for key, value in data.items() if value is not False}
    answer = client.post("/settings/", data)
    assert answer.status_code == 302, answer.content.decode()[:500]
    organization.refresh_from_db()
    assert (organization.quiet_hours_start, organization.quiet_hours_end) == (datetime.time(22), datetime.time(7, 30))


# --- Unsubscribe -----------------------------------------------------------------------------------

UNSUBSCRIBE = re.compile(r"http://127\.0\.0\.1:8000(/messages/unsubscribe/[^\s/]+/)")


def test_the_unsubscribe_link_in_the_email_works_without_signing_in(client, owner, customer, smtp, clock_at_start):
    incident = factories.log_incident(user=owner, customer=customer)
    services.send_message(services.draft_message(incident, kind="wrap_up", body="Thank you.", author=owner), by=owner)
    services.send_due()
    (received,) = smtp.messages
    path = UNSUBSCRIBE.search(received.text).group(1)
    assert path in received.message["List-Unsubscribe"]

    asked = client.get(path)  # a mail scanner opening the link unsubscribes nobody
    assert asked.status_code == 200 and "Stop messages from Harbour Hotels?" in asked.content.decode()
    customer.refresh_from_db()
    assert customer.opted_out_at is None

    done = client.post(path)  # the button, or the mail client's one-click (RFC 8058), without a CSRF token
    assert done.status_code == 200 and "You are unsubscribed" in done.content.decode()
    customer.refresh_from_db()
    assert customer.opted_out_at == START
    later = services.draft_message(incident, kind="thank_you", body="Thanks again.", author=owner)
    services.send_message(later, by=owner)
    later.refresh_from_db()
    assert later.status == Message.Status.NOT_SENT


@pytest.mark.parametrize("token", ["nonsense", "eyJjdXN0b21lciI6MX0:forged", "%00", "a" * 500])
def test_a_forged_or_altered_unsubscribe_link_answers_a_clear_page_and_changes_nothing(client, customer, token):
    real = links.unsubscribe_token(customer)
    for attempt in (token, real[:-2] + "xx"):
        answer = client.post(f"/messages/unsubscribe/{attempt}/")
        assert answer.status_code in (400, 404)
    customer.refresh_from_db()
    assert customer.opted_out_at is None
    answer = client.get(f"/messages/unsubscribe/{real[:-2]}xx/")
    assert answer.status_code == 400 and "This link is not valid" in answer.content.decode()


def test_an_unsubscribe_token_names_its_customer_only(customer, organization):
    other = factories.CustomerFactory(organization=organization)
    assert links.customer_id_from_unsubscribe_token(links.unsubscribe_token(customer)) == customer.pk
    assert links.customer_id_from_unsubscribe_token(links.unsubscribe_token(other)) == other.pk
    from django.core import signing
    assert links.customer_id_from_unsubscribe_token(signing.dumps({"customer": customer.pk})) is None  # another salt
