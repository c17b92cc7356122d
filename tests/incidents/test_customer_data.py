import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from incidents import customer_data, services
from incidents.customer_data import REDACTED, anonymize_customer, export_customer
from incidents.models import Customer, Event, Incident
from tests import factories


@pytest.fixture
def recovered(incident, frontline):
    services.record_apology(incident, by=frontline, channel="in_person", text="I'm so sorry, Ada.")
    services.record_review(incident, by=frontline, customer_account="Ada's soup was cold", customer_needs="Hot soup")
    services.record_fix(incident, by=frontline, description="New soup for Ada", fixed=True,
                        gesture={"kind": "gift", "description": "Dessert", "cost": "6"})
    services.record_follow_up(incident, by=frontline, kind="post_fix", channel="phone", note="Called Ada back")
    return incident


def test_the_export_holds_the_customer_and_every_step(recovered, customer):
    data = export_customer(customer)
    assert data["customer"]["email"] == "ada@example.com"
    [incident] = data["incidents"]
    assert incident["reference"] == recovered.reference
    assert incident["apology"]["text"] == "I'm so sorry, Ada."
    assert incident["review"]["customer_account"] == "Ada's soup was cold"
    assert incident["deposition"] is None
    assert incident["gestures"][0]["cost"] == "6.00"
    assert any(event["kind"] == "follow_up" for event in incident["timeline"])
    json.dumps(data)  # plain JSON all the way down


def test_anonymizing_removes_what_identifies_the_customer_and_keeps_the_figures(recovered, customer):
    anonymize_customer(customer)
    customer.refresh_from_db()
    assert customer.name == f"Anonymized customer {customer.pk}"
    assert (customer.email, customer.phone, customer.care_note, customer.care_flag) == ("", "", "", False)
    incident = Incident.objects.get(pk=recovered.pk)
    assert incident.summary == REDACTED
    assert incident.apology.text == REDACTED
    assert incident.follow_ups.get().note == REDACTED
    assert not Event.objects.filter(incident=incident).exclude(summary=REDACTED).exists()
    # The figures managers learn from stay.
    assert incident.fixed_at is not None
    assert incident.gestures.get().cost == Decimal("6")
    assert incident.category.name == "Kitchen"
    # Other customers' records are untouched.
    assert Customer.objects.count() == 1


def test_anonymizing_twice_is_harmless(recovered, customer):
    anonymize_customer(customer)
    anonymize_customer(customer)
    assert Customer.objects.get(pk=customer.pk).email == ""


def test_the_commands_export_and_anonymize(recovered, customer, capsys):
    call_command("export_customer", customer.pk)
    assert json.loads(capsys.readouterr().out)["customer"]["name"] == "Ada Lovelace"
    call_command("anonymize_customer", customer.pk)
    assert "anonymized" in capsys.readouterr().out
    assert Customer.objects.get(pk=customer.pk).email == ""


def test_the_admin_exports_and_anonymizes(recovered, customer, manager, client):
    manager.is_staff = manager.is_superuser = True  # an operator: the admin is theirs
    manager.save()
    client.force_login(manager)
    response = client.post("/admin/incidents/customer/", {"action": "export_data", "_selected_action": [customer.pk]})
    assert json.loads(response.content)[0]["customer"]["email"] == "ada@example.com"
    client.post("/admin/incidents/customer/", {"action": "anonymize", "_selected_action": [customer.pk]})
    assert Customer.objects.get(pk=customer.pk).email == ""


def test_anonymizing_also_scrubs_the_copies_in_notifications_webhooks_and_remembered_answers(
    organization, location, frontline, customer, clock_at_start, settings
):
    from rest_framework.test import APIClient

    from followups import services as followups
    from followups.models import Notification
    from helpdesk import services as api_services, webhooks
    from helpdesk.models import IdempotencyKey, WebhookDelivery

    settings.API_RATE_LIMIT_PREFIX = "anonymize"
    factories.UserFactory(username="cole", organization=organization, locations=[location])  # gets the alert
    client, key = api_services.create_api_client(organization=organization, name="Helpdesk")
    api_services.register_webhook(client=client, url="https://helpdesk.example.com/hook")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}", HTTP_IDEMPOTENCY_KEY="ticket-1")
    created = api.post("/api/v1/incidents/", {
        "customer": {"name": customer.name, "email": customer.email}, "summary": "Ada's luggage went to Oslo",
        "channel": "phone", "category": "Luggage", "location": location.code,
    }, format="json")
    assert created.status_code == 201
    followups.sweep()
    webhooks.pump(now=timezone.now())
    assert "Ada" in str(list(Notification.objects.values_list("title", "body")))
    assert "Ada" in str(list(WebhookDelivery.objects.values_list("payload", flat=True)))
    assert IdempotencyKey.objects.exists()

    customer_data.anonymize_customer(customer)

    assert "Ada" not in str(list(Notification.objects.values_list("title", "body", "draft")))
    assert "Ada" not in str(list(WebhookDelivery.objects.values_list("payload", flat=True)))
    assert not IdempotencyKey.objects.exists()
