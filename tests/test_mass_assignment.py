"""Mass assignment: fields the caller may not set (stage, location after logging, logged_by, owner by
a clerk, deadlines, ids, versions) are refused by the API and ignored by the pages; nothing stored
changes either way."""

import datetime
import re

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from helpdesk import services as api_services
from incidents.models import Apology, Incident
from tests import factories

pytestmark = pytest.mark.django_db
PROTECTED = {
    "id": 4242,
    "reference": "R-424242",
    "stage": "closed",
    "logged_by": "mona",
    "logged_at": "2020-01-01T00:00:00Z",
    "follow_up_due_at": "2099-01-01T00:00:00Z",
    "next_due_at": "2099-01-01T00:00:00Z",
    "breached_at": None,
    "closed_at": "2020-01-01T00:00:00Z",
    "organization": 999,
}


def _stored(incident):
    incident = Incident.objects.get(pk=incident.pk)
    return {field: getattr(incident, field) for field in (
        "id", "reference", "stage", "logged_by_id", "owner_id", "location_id", "logged_at", "follow_up_due_at",
        "next_due_at", "breached_at", "closed_at", "organization_id", "summary")}


@pytest.fixture
def api(organization, settings):
    settings.API_RATE_LIMIT_PREFIX = "mass-assignment"
    _, key = api_services.create_api_client(organization=organization, name="Helpdesk")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _body(location, **extra):
    return {"customer": {"name": "Ada"}, "summary": "Cold soup", "channel": "in_person", "category": "Kitchen",
            "location": location.code, **extra}


@pytest.mark.parametrize("field", sorted(PROTECTED))
def test_the_api_refuses_protected_fields_on_create_and_creates_nothing(api, location, manager, field):
    answer = api.post("/api/v1/incidents/", _body(location, **{field: PROTECTED[field]}), format="json")
    assert answer.status_code == 400
    assert field in answer.json()["errors"]
    assert not Incident.objects.exists()


@pytest.mark.parametrize("field", sorted(PROTECTED) + ["location", "customer"])
def test_the_api_refuses_protected_fields_on_patch_and_changes_nothing(api, incident, other_location, field):
    before = _stored(incident)
    value = {"location": other_location.code, "customer": {"name": "Someone else"}}.get(field, PROTECTED.get(field))
    answer = api.patch(f"/api/v1/incidents/{incident.pk}/", {field: value}, format="json")
    assert answer.status_code == 400, answer.content
    assert _stored(incident) == before


@pytest.mark.parametrize("field,value", [("version", 99), ("incident", 1), ("by", "mona"), ("flagged_phrases", ["x"])])
def test_a_step_refuses_fields_the_caller_may_not_set(api, incident, field, value):
    answer = api.post(f"/api/v1/incidents/{incident.pk}/apology/", {"channel": "phone", "text": "Sorry", field: value}, format="json")
    assert answer.status_code == 400
    assert not Apology.objects.filter(incident=incident).exists()
    assert Incident.objects.get(pk=incident.pk).stage == incident.stage


def test_the_log_form_ignores_fields_it_does_not_have(client, frontline, manager, location, clock_at_start):
    client.force_login(frontline)
    body = client.get("/log/").content.decode()
    token = re.search(r'name="form_token" value="([^"]+)"', body).group(1)
    client.post("/log/", {
        "form_token": token, "customer_name": "Grace", "summary": "Lift broken", "channel": "in_person",
        "location": location.pk, "owner": manager.pk, "logged_by": manager.pk, "stage": "closed",
        "follow_up_due_at": "2099-01-01 00:00", "next_due_at": "2099-01-01 00:00", "id": 4242, "reference": "R-424242",
    })
    incident = Incident.objects.get()
    assert incident.pk != 4242 and incident.reference != "R-424242"
    assert incident.owner == frontline and incident.logged_by == frontline
    assert incident.stage == "apology" and incident.closed_at is None
    assert incident.follow_up_due_at == timezone.now() + datetime.timedelta(minutes=20)


def test_a_step_form_ignores_fields_it_does_not_have(client, frontline, manager, incident):
    client.force_login(frontline)
    before = _stored(incident)
    client.post(f"/incidents/{incident.reference}/apology/", {
        "channel": "in_person", "text": "I am so sorry", "expected_version": 0,
        "stage": "closed", "owner": manager.pk, "location": 999, "closed_at": "2020-01-01", "version": 50,
    })
    after = _stored(incident)
    assert after["stage"] == "review"  # the apology moved it on, as it should, and nothing else did
    assert {k: v for k, v in after.items() if k not in ("stage", "next_due_at")} == {
        k: v for k, v in before.items() if k not in ("stage", "next_due_at")
    }
    assert Apology.objects.get(incident=incident).version == 1


def test_a_clerk_cannot_take_someone_elses_place_through_the_api(organization, location, frontline, incident):
    from rest_framework.authtoken.models import Token

    clerk = factories.UserFactory(username="cleo", organization=organization, locations=[location])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=clerk).key}")
    answer = api.post("/api/v1/incidents/", _body(location, owner=frontline.username), format="json")
    # Naming another owner is a manager's decision, in the API as in the browser.
    assert answer.status_code == 403
    assert "owner" in answer.json()["errors"]
    assert Incident.objects.count() == 1
