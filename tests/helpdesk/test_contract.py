"""The API as a client generated from its OpenAPI document sees it: the document validates with the
validator client generators use, and a walk through a recovery, built from the document's own
operations, calls every operation with each of its documented parameters. Every answer is checked
against the document (status, content type, body)."""

import datetime
from decimal import Decimal

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from openapi_spec_validator import validate
from rest_framework.test import APIClient
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from incidents import services
from incidents.models import Gesture, Incident
from tests import factories
from tests.helpdesk.test_attachments_api import walk_attachments
from tests.helpdesk.test_problems_api import walk_problems

pytestmark = pytest.mark.django_db(transaction=True)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_the_document_validates_as_openapi(db):
    document = APIClient().get("/api/v1/schema/?format=json").json()

    validate(document)  # raises, naming the error, if a client generator would trip on it


def test_descriptions_are_written_for_integrators_not_for_the_code(db):
    document = APIClient().get("/api/v1/schema/?format=json").json()

    for name, component in document["components"]["schemas"].items():
        assert "typo must not lose data" not in component.get("description", ""), name
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
            # Every answer says where the client stands against its rate limit.
            assert all("RateLimit-Remaining" in answer.get("headers", {}) for answer in operation["responses"].values())


@pytest.fixture
def schema(organization, location):
    # Called straight through WSGI, each request would end by closing "old" connections, the test's
    # transaction included; Django's own test client switches that off the same way.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


class Walk:
    """Calls operations by their operationId, as a generated client does, and keeps track of which
    operations and which of their documented query parameters were used."""

    def __init__(self, schema, token):
        self.schema, self.token = schema, token
        self.called, self.parameters_used = set(), set()

    def __call__(self, operation_id, expect, *, path=None, query=None, body=None, headers=None,
                 media_type="application/json"):
        operation = self.schema.find_operation_by_id(operation_id)
        documented = {parameter.name for parameter in operation.query}
        assert set(query or {}) <= documented, f"{operation_id}: undocumented {set(query) - documented}"
        extra = {} if body is None else {"body": body, "media_type": media_type}
        case = operation.Case(path_parameters=path or {}, query=query or {}, headers={
            "Authorization": f"Token {self.token}", **(headers or {})}, **extra)
        response = case.call()
        case.validate_response(response, checks=CHECKS)
        assert response.status_code == expect, (operation_id, response.status_code, response.text[:500])
        self.called.add(operation_id)
        self.parameters_used |= {(operation_id, name) for name in (query or {})}
        return response

    def every_operation(self):
        return {operation.ok().definition.raw.get("operationId") for operation in self.schema.get_all_operations()}

    def every_query_parameter(self):
        return {(operation.ok().definition.raw.get("operationId"), parameter.name)
                for operation in self.schema.get_all_operations() for parameter in operation.ok().query}


def test_a_recovery_walked_from_the_document_reaches_every_operation(schema, organization, location, manager, colleague,
                                                                  frontline):
    from helpdesk import services as api_services

    client, token = api_services.create_api_client(organization=organization, name="Generated", rate_limit_per_minute=10_000)
    call = Walk(schema, token)
    organization.default_discretion_budget = Decimal("5.00")
    organization.save()

    # What a create names: codes and usernames.
    assert call("locations_list", 200, query={"page_size": 1}).json()["results"][0]["code"] == location.code
    staff = call("staff_list", 200, query={"page_size": 50}).json()["results"]
    assert {row["username"] for row in staff} >= {manager.username, colleague.username}

    created = call("incidents_create", 201, headers={"Idempotency-Key": "walk-1"}, body={
        "customer": {"name": "Ada Lovelace", "email": "ada@example.com", "external_id": "CRM-1"},
        "summary": "Soup arrived cold", "channel": "in_person", "category": "Kitchen", "location": location.code,
        "external_id": "HD-1", "owner": manager.username,
    })
    incident = created.json()
    on_it = {"id": incident["id"]}
    first = call("categories_list", 200, query={"page_size": 10, "cursor": ""}).json()
    assert first["results"] == [{"name": "Kitchen"}]

    read = call("incidents_retrieve", 200, path=on_it)
    etag = {name.lower(): values for name, values in read.headers.items()}["etag"]
    etag = etag[0] if isinstance(etag, list) else etag
    changed = call("incidents_partial_update", 200, path=on_it, headers={"If-Match": etag},
                   body={"severity": "high", "summary": "Soup arrived cold, twice"})
    assert changed.json()["severity"] == "high"
    call("incidents_partial_update", 412, path=on_it, headers={"If-Match": etag}, body={"severity": "low"})

    # Every documented filter of the list, each with a value that finds the incident.
    filters = {
        "stage": "apology", "open": "true", "overdue": "false", "location": location.code, "owner": manager.username,
        "external_id": "HD-1", "updated_since": (timezone.now() - datetime.timedelta(hours=1)).isoformat(),
        "ordering": "-updated_at", "page_size": 10, "q": "Lovelace",
    }
    for name, value in filters.items():
        rows = call("incidents_list", 200, query={name: value}).json()["results"]
        assert [row["id"] for row in rows] == [incident["id"]], name
    factories.log_incident(user=frontline, location=location)  # a second page
    page = call("incidents_list", 200, query={"page_size": 1, "ordering": "id"}).json()
    call("incidents_list", 200, query={"cursor": cursor_of(page["next"]), "page_size": 1, "ordering": "id"})
    call("incidents_list", 400, query={"stage": "asleep"})

    call("incidents_helpers_create", 200, path=on_it, body={"username": colleague.username})
    assert call("incidents_helpers_list", 200, path=on_it).json() == [{"username": colleague.username,
                                                                        "name": colleague.display_name()}]
    call("incidents_helpers_destroy", 204, path={**on_it, "username": colleague.username})

    call("incidents_apology_create", 201, path=on_it, body={"channel": "in_person", "text": "I am so sorry."})
    call("incidents_review_create", 201, path=on_it,
         body={"customer_account": "Cold soup, twice.", "customer_needs": "A hot meal."})
    fixed = call("incidents_fix_create", 201, path=on_it, body={
        "description": "Fresh soup", "fixed": True, "gesture": {"kind": "gift", "description": "Dinner", "cost": "40.00"}})
    assert fixed.json()["gesture"]["waits_for_approval"]
    other = services.give_gesture(Incident.objects.get(pk=incident["id"]), by=client.user, kind="credit",
                                  description="Taxi home", cost=Decimal("30.00"))
    assert other.approval == Gesture.Approval.PENDING
    gestures = call("incidents_gestures_list", 200, path=on_it).json()
    assert [g["approval"] for g in gestures] == ["pending", "pending"]
    call("incidents_gestures_approve_create", 200, path={**on_it, "gesture_id": gestures[0]["id"]},
         body={"manager": manager.username})
    call("incidents_gestures_refuse_create", 200, path={**on_it, "gesture_id": gestures[1]["id"]},
         body={"manager": manager.username})
    call("incidents_follow_ups_create", 201, path=on_it,
         body={"kind": "wrap_up", "channel": "email", "note": "Thanked her and invited her back."})
    call("incidents_deposition_create", 201, path=on_it,
         body={"root_cause": "Pass left unattended", "circumstances": "Before a show", "busyness": "peak"})
    timeline = call("incidents_timeline_list", 200, path=on_it).json()
    assert timeline[0]["kind"] == "logged"
    walk_attachments(call, on_it)  # the photo of the cold soup

    # What the customer hears: a note drafted, then sent; their answer, once they give it.
    draft = call("incidents_messages_create", 201, path=on_it, body={
        "kind": "wrap_up", "body": "Thank you for giving us another chance.", "subject": "Thank you", "channel": "email"}).json()
    assert draft["status"] == "draft"
    call("incidents_messages_send_create", 200, path={**on_it, "message_id": draft["id"]}, body={})
    assert [m["status"] for m in call("incidents_messages_list", 200, path=on_it).json()] == ["scheduled"]
    call("incidents_survey_retrieve", 404, path=on_it)
    from outreach import survey

    survey.record_answer(Incident.objects.get(pk=incident["id"]), feeling=5, would_recommend=9)
    assert call("incidents_survey_retrieve", 200, path=on_it).json()["customer_outcome"] == "champion"
    call("incidents_outcome_create", 201, path=on_it, body={"outcome": "champion", "satisfaction": 5})

    # The customer.
    customer_id = incident["customer"]["id"]
    for name, value in {"email": "ADA@example.com", "external_id": "CRM-1"}.items():
        assert [row["id"] for row in call("customers_list", 200, query={name: value}).json()["results"]] == [customer_id]
    assert len(call("customers_list", 200, query={"page_size": 1}).json()["results"]) == 1
    on_customer = {"id": customer_id}
    call("customers_retrieve", 200, path=on_customer)
    assert call("customers_partial_update", 200, path=on_customer, body={"lifetime_value": "1200.00"}).json()["lifetime_value"] == "1200.00"
    call("customers_care_flag_create", 200, path=on_customer, body={"note": "Greet her by name."})
    assert not call("customers_care_flag_destroy", 200, path=on_customer).json()["care_flag"]

    # Every list pages by cursor: the second page starts where the first's `next` says.
    factories.LocationFactory(organization=organization, code="second-site")
    for operation_id in ("locations_list", "staff_list", "customers_list", "categories_list"):
        first_page = call(operation_id, 200, query={"page_size": 1}).json()
        if first_page["next"]:
            rest = call(operation_id, 200, query={"page_size": 1, "cursor": cursor_of(first_page["next"])}).json()
            assert rest["results"] and rest["results"] != first_page["results"], operation_id

    walk_webhooks(call)
    walk_problems(call, manager)

    assert call.every_operation() - call.called == set()
    assert call.every_query_parameter() - call.parameters_used == set()


def cursor_of(link):
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(link).query)["cursor"][0]


def walk_webhooks(call):
    """A helpdesk registers its URL, reads the delivery log, asks for a redelivery, rotates the
    secret, and removes the URL."""
    created = call("webhooks_create", 201, body={"url": "https://helpdesk.example.com/hooks/recovery", "events": []})
    endpoint = created.json()
    assert endpoint["secret"].startswith("whsec_")
    listed = call("webhooks_list", 200).json()
    assert [row["id"] for row in listed] == [endpoint["id"]] and "secret" not in listed[0]
    on_endpoint = {"id": endpoint["id"]}
    assert "secret" not in call("webhooks_retrieve", 200, path=on_endpoint).json()
    # A delivery already made, as the outbox makes them, to find in the log and send again.
    from helpdesk.models import WebhookDelivery

    now = timezone.now()
    made = WebhookDelivery.objects.create(
        endpoint_id=endpoint["id"], event_id="evt_1", event_type="incident.created", payload={"id": "evt_1"},
        status="delivered", attempts=1, next_attempt_at=now, created_at=now, delivered_at=now)
    log = call("webhooks_deliveries_list", 200, path=on_endpoint, query={"status": "delivered", "page_size": 1}).json()
    assert [row["id"] for row in log["results"]] == [made.pk]
    cursor = call("webhooks_deliveries_list", 200, path=on_endpoint, query={"cursor": "cD0x"}).json()  # a page past it
    assert cursor["results"] == []
    again = call("webhooks_deliveries_redeliver_create", 202, path={**on_endpoint, "delivery_pk": made.pk}).json()
    assert again["status"] == "pending"
    rotated = call("webhooks_rotate_secret_create", 200, path=on_endpoint, body={"overlap_seconds": 3600}).json()
    assert rotated["secret"] != endpoint["secret"] and rotated["previous_secret_expires_at"]
    call("webhooks_destroy", 204, path=on_endpoint)


VALID_BODIES = {
    "incidents_create": {
        "customer": {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0000", "external_id": "C-1"},
        "summary": "Soup arrived cold", "channel": "in_person", "category": "Kitchen", "location": "riverside",
        "occurred_at": "2026-03-04T13:55:00Z", "severity": "high", "busyness": "peak", "external_id": "HD-9", "owner": "fran",
    },
    "incidents_apology_create": {"channel": "in_person", "text": "I am so sorry.", "customer_accepted": True,
                                 "at": "2026-03-04T14:00:00Z", "expected_version": 0},
    "incidents_follow_ups_create": {"kind": "immediate", "channel": "phone", "note": "Called back."},
    "incidents_outcome_create": {"outcome": "champion", "satisfaction": 5},
}


@pytest.mark.parametrize("operation_id", sorted(VALID_BODIES))
def test_the_document_and_the_api_agree_on_which_fields_are_required(schema, organization, location, frontline,
                                                                   operation_id, clock_at_start):
    """Leave out each field in turn: the API refuses it as missing exactly when the document says required."""
    from helpdesk import services as api_services

    client, token = api_services.create_api_client(organization=organization, name="Checker", rate_limit_per_minute=10_000)
    incident = factories.log_incident(user=frontline, location=location)
    operation = schema.find_operation_by_id(operation_id)
    body_schema = operation.definition.raw["requestBody"]["content"]["application/json"]["schema"]
    components = schema.raw_schema["components"]["schemas"]

    def resolved(part):
        return components[part["$ref"].split("/")[-1]] if "$ref" in part else part

    def cases(body, part, prefix=""):
        part = resolved(part)
        for name, value in body.items():
            yield f"{prefix}{name}", name in part.get("required", []), lambda b=body, n=name: {k: v for k, v in b.items() if k != n}
            if isinstance(value, dict):
                for inner, required, without in cases(value, part["properties"][name], f"{name}."):
                    yield inner, required, (lambda n=name, w=without: {**body, n: w()})

    body = VALID_BODIES[operation_id]
    assert set(resolved(body_schema)["properties"]) == set(body), "every documented field has a value here"
    for field, required, without in cases(body, body_schema):
        response = operation.Case(path_parameters={"id": incident.pk}, body=without(), media_type="application/json",
                                  headers={"Authorization": f"Token {token}"}).call()
        refused_as_missing = response.status_code == 400 and field in response.json()["errors"]
        assert refused_as_missing == required, (field, required, response.status_code, response.text[:300])
