"""Creating, listing, reading and reassigning incidents over the API."""

import datetime

import pytest
from rest_framework.test import APIClient

from incidents.models import Customer, Event, Incident
from tests import factories
from tests.helpdesk.conftest import new_incident_body
from tests.conftest import START

pytestmark = pytest.mark.django_db


def test_creating_an_incident_answers_201_with_reference_clock_and_links(create, helpdesk, clock_at_start):
    response = create(external_id="HD-1042", severity="high")

    assert response.status_code == 201, response.json()
    body = response.json()
    incident = Incident.objects.get(pk=body["id"])
    assert body["reference"] == incident.reference == f"R-{incident.pk:06d}"
    assert body["stage"] == "apology"
    assert body["follow_up_due_at"] == "2026-03-04T14:20:00Z"
    assert body["next_due_at"] is not None
    assert body["links"]["apology"] == f"/api/v1/incidents/{incident.pk}/apology/"
    assert response["Location"] == f"/api/v1/incidents/{incident.pk}/"
    assert response["ETag"]
    assert incident.external_id == "HD-1042" and incident.severity == "high"
    assert incident.logged_by == helpdesk.user and incident.owner == helpdesk.user
    assert Event.objects.filter(incident=incident, kind="logged").count() == 1


def test_a_create_asks_the_database_nine_statements_and_eleven_for_a_new_customer_with_an_external_id(create, customer, clock_at_start):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    create(category="Kitchen")  # the label exists from here on, as it does for a helpdesk at work
    known, by_email, by_external_id = (
        {"name": "Ada Lovelace", "email": customer.email},
        {"name": "Grace Hopper", "email": "grace@example.com"},
        {"name": "Alan Turing", "external_id": "C-42"},
    )
    expected = {
        # Token, BEGIN, the names, the location's business calendar (its week and its dated exceptions: the
        # first progress report is due at an opening hour), the customer's care flag (or the new customer), the
        # incident, its first entry, COMMIT (a savepoint inside the test's transaction): the answer is rendered
        # from rows in hand.
        "known": ["SELECT", "BEGIN", "SELECT", "SELECT", "SELECT", "UPDATE", "INSERT", "INSERT", "COMMIT"],
        "by_email": ["SELECT", "BEGIN", "SELECT", "SELECT", "SELECT", "INSERT", "INSERT", "INSERT", "COMMIT"],
        # A new external id may meet another request's customer: its INSERT takes a savepoint.
        "by_external_id": ["SELECT", "BEGIN", "SELECT", "SELECT", "SELECT", "SAVEPOINT", "INSERT", "RELEASE",
                           "INSERT", "INSERT", "COMMIT"],
    }
    for label, customer_details in (("known", known), ("by_email", by_email), ("by_external_id", by_external_id)):
        with CaptureQueriesContext(connection) as queries:
            response = create(customer=customer_details, category="Kitchen")
        assert response.status_code == 201
        statements = [query["sql"].split()[0] for query in queries.captured_queries]
        outer = ["BEGIN" if word == "SAVEPOINT" and position == 1 else "COMMIT" if word == "RELEASE" and position == len(statements) - 1 else word
                 for position, word in enumerate(statements)]
        assert outer == expected[label], (label, outer)


def test_the_written_out_incident_answer_matches_the_declared_fields(frontline, location, clock_at_start):
    from rest_framework.serializers import ModelSerializer

    from incidents import services
    from helpdesk.serializers import IncidentSerializer

    bare = factories.log_incident(user=frontline, location=location, category="")
    walked = factories.log_incident(user=frontline, location=location, category="Kitchen", busyness="peak")
    services.record_apology(walked, by=frontline, channel="in_person", text="I am so sorry.")
    services.record_review(walked, by=frontline, customer_account="Cold", customer_needs="Hot soup")
    services.record_fix(walked, by=frontline, description="Fresh soup", fixed=True)
    for incident in (bare, Incident.objects.get(pk=walked.pk)):
        serializer = IncidentSerializer(incident)
        # DRF's generic walk over the declared fields is the reference the fast path must equal.
        assert serializer.data == ModelSerializer.to_representation(serializer, incident)
    assert IncidentSerializer(bare).data["category"] is None
    assert IncidentSerializer(Incident.objects.get(pk=walked.pk)).data["fixed_at"] is not None


def test_create_finds_the_existing_customer_by_email_and_names_the_owner(create, customer, frontline):
    response = create(owner="fran", customer={"name": "A. Lovelace", "email": "ADA@example.com"})

    assert response.status_code == 201
    incident = Incident.objects.get(pk=response.json()["id"])
    assert incident.customer == customer
    assert incident.owner == frontline
    assert Customer.objects.count() == 1


def test_create_knows_a_customer_by_external_id_before_email_and_fills_only_gaps(create, customer, organization):
    by_ticket_system = factories.CustomerFactory(organization=organization, external_id="CRM-9", phone="")
    response = create(customer={"name": "Ada", "email": customer.email, "external_id": "CRM-9", "phone": "020 7946 0101"})

    assert response.status_code == 201
    assert response.json()["customer"]["id"] == by_ticket_system.pk
    by_ticket_system.refresh_from_db()
    assert by_ticket_system.phone == "+442079460101" and by_ticket_system.name != "Ada"  # E.164
    assert by_ticket_system.care_flag
    # A new customer: neither the external id nor the email is known.
    fresh = create(external_id="HD-2", customer={"name": "Grace", "email": "grace@example.com", "external_id": "CRM-10"})
    assert Customer.objects.get(pk=fresh.json()["customer"]["id"]).external_id == "CRM-10"


def test_create_rejects_unknown_fields_instead_of_ignoring_them(create):
    response = create(sumary="typo", customer={"name": "Ada", "emial": "x@example.com"})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["errors"]["sumary"] == ["Unknown field."]
    assert not Incident.objects.exists()


def test_create_with_bad_values_names_each_field(create, api):
    response = create(channel="carrier-pigeon", location="nowhere")

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"type", "title", "status", "detail", "code", "message", "errors"}
    assert "channel" in body["errors"]
    # An RFC 9457 problem document, whose type names a description the API serves.
    assert response["Content-Type"] == "application/problem+json"
    assert body["type"] == "/api/v1/problems/validation_error" and body["status"] == 400
    assert body["detail"] == body["message"] and body["title"] == "Invalid input"
    described = api.get(body["type"])
    assert described.status_code == 200 and described.json()["title"] == "Invalid input"


def test_create_at_an_unknown_location_is_a_field_error(create):
    response = create(location="atlantis")

    assert response.status_code == 400
    assert response.json()["errors"] == {"location": ["No location 'atlantis'."]}
    assert not Customer.objects.exists()  # nothing half-written


def test_create_with_an_unknown_owner_is_a_field_error(create):
    response = create(owner="nobody")

    assert response.status_code == 400
    assert "owner" in response.json()["errors"]


def test_a_second_incident_for_the_same_ticket_answers_409_pointing_at_the_first(create):
    first = create(external_id="HD-7").json()

    response = create(external_id="HD-7", summary="Another complaint")

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "conflict"
    assert body["existing"] == {"id": first["id"], "reference": first["reference"], "url": f"/api/v1/incidents/{first['id']}/"}
    assert Incident.objects.count() == 1


def test_an_occurrence_in_the_future_is_refused(create, clock_at_start):
    response = create(occurred_at=(START + datetime.timedelta(hours=1)).isoformat())

    assert response.status_code == 400
    assert response.json()["errors"] == {"occurred_at": ["Cannot be in the future."]}


def test_without_a_token_the_api_answers_401(location):
    response = APIClient().get("/api/v1/incidents/")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"


def test_a_wrong_token_answers_401(location):
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    assert http.get("/api/v1/incidents/").status_code == 401


def test_a_switched_off_client_answers_401(api, helpdesk):
    helpdesk.active = False
    helpdesk.save()

    assert api.get("/api/v1/incidents/").status_code == 401


def test_list_shows_the_clients_incidents_newest_first_with_a_cursor(api, create, clock_at_start):
    ids = []
    for number in range(3):
        ids.append(create(external_id=f"HD-{number}").json()["id"])
        clock_at_start.shift(datetime.timedelta(minutes=1))

    first = api.get("/api/v1/incidents/?page_size=2").json()
    second = api.get(first["next"]).json()

    assert [row["id"] for row in first["results"]] == [ids[2], ids[1]]
    assert [row["id"] for row in second["results"]] == [ids[0]]
    assert second["next"] is None


def test_list_ordering_oldest_first(api, create, clock_at_start):
    ids = []
    for number in range(2):
        ids.append(create(external_id=f"HD-{number}").json()["id"])
        clock_at_start.shift(datetime.timedelta(minutes=1))

    rows = api.get("/api/v1/incidents/?ordering=logged_at").json()["results"]

    assert [row["id"] for row in rows] == ids


def test_list_filters(api, create, frontline, other_location, clock_at_start):
    early = create(external_id="HD-1").json()
    clock_at_start.shift(datetime.timedelta(minutes=30))
    late = create(external_id="HD-2", owner="fran", location="hilltop").json()

    def ids(query):
        response = api.get(f"/api/v1/incidents/?{query}")
        assert response.status_code == 200, response.json()
        return {row["id"] for row in response.json()["results"]}

    assert ids("external_id=HD-2") == {late["id"]}
    assert ids("owner=fran") == {late["id"]}
    assert ids("location=hilltop") == {late["id"]}
    assert ids("stage=apology") == {early["id"], late["id"]}
    assert ids("stage=review") == set()
    assert ids("open=true") == {early["id"], late["id"]}
    assert ids("open=false") == set()
    # The first window (14:00–14:20) has passed with nothing recorded; the second runs until 14:50.
    assert ids("overdue=true") == {early["id"]}
    assert ids("overdue=false") == {late["id"]}
    since = (START + datetime.timedelta(minutes=10)).isoformat().replace("+00:00", "Z")
    assert ids(f"updated_since={since}") == {late["id"]}


def test_a_bad_filter_value_answers_400(api, location):
    response = api.get("/api/v1/incidents/?stage=nonsense")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_a_client_never_sees_another_organizations_incidents(create, other_api):
    incident_id = create().json()["id"]

    assert other_api.get(f"/api/v1/incidents/{incident_id}/").status_code == 404
    assert other_api.get("/api/v1/incidents/").json()["results"] == []
    response = other_api.post(f"/api/v1/incidents/{incident_id}/apology/", {"channel": "phone", "text": "Sorry"}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_detail_reads_one_incident_with_an_etag(api, create):
    created = create()

    response = api.get(f"/api/v1/incidents/{created.json()['id']}/")

    assert response.status_code == 200
    assert response.json() == created.json()
    assert response["ETag"] == created["ETag"]


def test_patch_reassigns_with_a_matching_if_match(api, create, frontline):
    created = create()
    url = f"/api/v1/incidents/{created.json()['id']}/"

    response = api.patch(url, {"owner": "fran"}, format="json", HTTP_IF_MATCH=created["ETag"])

    assert response.status_code == 200, response.json()
    assert response.json()["owner"] == "fran"
    assert response["ETag"] != created["ETag"]
    assert Incident.objects.get().owner == frontline


def test_patch_with_a_stale_if_match_answers_412_and_changes_nothing(api, create, frontline, manager):
    created = create()
    url = f"/api/v1/incidents/{created.json()['id']}/"
    api.patch(url, {"owner": "mona"}, format="json", HTTP_IF_MATCH=created["ETag"])

    response = api.patch(url, {"owner": "fran"}, format="json", HTTP_IF_MATCH=created["ETag"])

    assert response.status_code == 412
    assert response.json()["code"] == "precondition_failed"
    assert Incident.objects.get().owner == manager


def test_patch_rejects_fields_it_cannot_change(api, create):
    url = f"/api/v1/incidents/{create().json()['id']}/"

    response = api.patch(url, {"owner": "fran", "stage": "closed"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["stage"] == ["Unknown field."]


def test_a_body_over_the_limit_answers_413(api, location, settings):
    settings.API_MAX_BODY_BYTES = 1000

    response = api.post("/api/v1/incidents/", new_incident_body(summary="x" * 2000), format="json")

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert not Incident.objects.exists()


def test_malformed_json_answers_400_in_the_same_shape(api, location):
    response = api.post("/api/v1/incidents/", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_staff_see_through_the_api_what_the_browser_shows_them(organization, location, other_location, frontline, customer):
    mine = factories.log_incident(user=frontline, location=location, customer=customer)
    colleague = factories.UserFactory(organization=organization, locations=[other_location])
    elsewhere = factories.log_incident(user=colleague, location=other_location)
    http = APIClient()
    http.force_login(frontline)

    rows = http.get("/api/v1/incidents/").json()["results"]

    assert [row["id"] for row in rows] == [mine.pk]
    assert http.get(f"/api/v1/incidents/{elsewhere.pk}/").status_code == 404


def test_staff_can_use_a_personal_token(frontline, location):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=frontline)
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    response = http.post("/api/v1/incidents/", new_incident_body(), format="json")

    assert response.status_code == 201
    assert Incident.objects.get().owner == frontline


def test_staff_cannot_log_at_a_location_they_do_not_work_at(frontline, other_location):
    http = APIClient()
    http.force_login(frontline)

    response = http.post("/api/v1/incidents/", new_incident_body(location="hilltop"), format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"location": ["No location 'hilltop'."]}


def test_session_writes_need_the_csrf_token(frontline, location):
    http = APIClient(enforce_csrf_checks=True)
    http.force_login(frontline)

    response = http.post("/api/v1/incidents/", new_incident_body(), format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_a_database_outage_answers_503_in_the_same_shape_and_saves_nothing(api, location, monkeypatch):
    from django.db import OperationalError

    from helpdesk import services as api_services

    def unreachable(**kwargs):
        raise OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr(api_services.services, "log_incident", unreachable)
    answer = api.post("/api/v1/incidents/", new_incident_body(), format="json")
    assert answer.status_code == 503
    assert answer["Retry-After"] == "5"
    assert answer.json()["code"] == "unavailable" and "retry" in answer.json()["message"]
    assert not Incident.objects.exists()
