"""What Recovery writes to a customer is in the customer's language; what it writes to staff, in theirs."""

import pytest
from django.core import mail
from django.utils import timezone, translation

from followups import notify
from followups import selectors as followup_selectors
from followups.models import Notification
from outreach import progress_reports, sending
from outreach import services as outreach
from outreach import survey
from outreach.models import Message


@pytest.fixture
def spanish_customer(customer):
    customer.language = "es"
    customer.save(update_fields=["language"])
    return customer


def test_a_spanish_customers_subject_and_wrap_up_draft_are_in_spanish_while_the_owner_works_in_english(
        incident, spanish_customer):
    with translation.override("en"):
        subject = outreach.default_subject(Message.Kind.WRAP_UP, incident)
        draft = followup_selectors.wrap_up_draft(incident)
    assert subject == "Gracias, de parte de Riverside"
    assert "Ada Lovelace" in draft and "Dear" not in draft and "Thank you" not in draft


def test_the_satisfaction_check_is_written_in_the_customers_language(incident, spanish_customer):
    subject, body = survey.check_text(incident, "https://example.com/feedback/x/")
    assert subject == "¿Qué opina ahora de Harbour Hotels?"
    assert body.startswith("Hola, Ada Lovelace:") and "https://example.com/feedback/x/" in body


def test_a_customer_whose_language_the_app_lacks_is_written_to_in_english(incident, customer):
    customer.language = "de"
    customer.save(update_fields=["language"])
    with translation.override("es"):  # whoever is writing
        assert outreach.default_subject(Message.Kind.WRAP_UP, incident) == "Thank you, from Riverside"


def test_a_customer_of_unknown_language_hears_in_the_organizations(incident, customer, organization):
    organization.language = "es"
    organization.save(update_fields=["language"])
    incident.customer.organization.language = "es"
    assert outreach.default_subject(Message.Kind.CHECK_BACK, incident) == "Comprobando que todo va bien, de parte de Riverside"


def test_the_email_to_a_spanish_customer_carries_the_unsubscribe_line_in_spanish(incident, spanish_customer, frontline):
    message = outreach.draft_message(incident, kind=Message.Kind.WRAP_UP, body="Gracias por su paciencia.",
                                     author=frontline)
    email = sending.compose(message)
    assert email.subject == "Gracias, de parte de Riverside"
    assert "Unsubscribe" not in email.body and "baja" in email.body.lower()


def test_the_daily_progress_report_is_drafted_in_the_customers_language(incident, spanish_customer):
    text = progress_reports.draft_text(incident)
    assert "Ada Lovelace" in text and "Dear" not in text


def test_a_notification_to_a_spanish_speaking_owner_is_in_spanish_and_an_english_one_in_english(
        incident, frontline, colleague, clock_at_start):
    frontline.language = "es"
    frontline.save(update_fields=["language"])
    reminder = incident.reminders.create(kind="heads_up", due_at=timezone.now(), sent_at=timezone.now())
    with translation.override("en"):
        notify.create_notifications(incident, reminder, [(frontline, Notification.Kind.HEADS_UP, {}),
                                                         (colleague, Notification.Kind.HEADS_UP, {})],
                                    now=timezone.now())
    spanish = Notification.objects.get(recipient=frontline)
    english = Notification.objects.get(recipient=colleague)
    assert "minutos" in spanish.title and "Antes de las" in spanish.body
    assert "minutes left" in english.title


def test_the_email_of_a_notification_is_in_its_recipients_language(incident, frontline, clock_at_start):
    frontline.language = "es"
    frontline.save(update_fields=["language"])
    reminder = incident.reminders.create(kind="heads_up", due_at=timezone.now(), sent_at=timezone.now())
    notify.create_notifications(incident, reminder, [(frontline, Notification.Kind.HEADS_UP, {})], now=timezone.now())
    notify.send_email(Notification.objects.get(recipient=frontline))
    assert "minutos" in mail.outbox[-1].subject
