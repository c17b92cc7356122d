"""The recovery's steps over the API, in the order of the method, and the customer lookups."""

import pytest

from incidents.models import Gesture, Incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident_url(clock_at_start, create):
    return f"/api/v1/incidents/{create(external_id='HD-1').json()['id']}/"


def post(api, url, body):
    return api.post(url, body, format="json")


APOLOGY = {"channel": "in_person", "text": "I'm so sorry, that should never have happened.", "customer_accepted": True}
REVIEW = {"customer_account": "Waited 40 minutes for cold soup.", "customer_needs": "A hot meal before the show."}
FIX = {"description": "Fresh soup served", "fixed": True}
WRAP_UP = {"kind": "wrap_up", "channel": "email", "note": "Thanked her and invited her back."}
DEPOSITION = {"root_cause": "Pass left unattended", "circumstances": "Before a show", "busyness": "peak"}


def test_the_whole_recovery_from_apology_to_closed(api, incident_url, clock_at_start):
    apology = post(api, incident_url + "apology/", APOLOGY)
    assert apology.status_code == 201, apology.json()
    assert apology.json()["incident"]["stage"] == "review"
    assert apology.json()["record"]["customer_accepted"] is True

    assert post(api, incident_url + "review/", REVIEW).json()["incident"]["stage"] == "fix"
    fix = post(api, incident_url + "fix/", FIX)
    assert fix.status_code == 201
    assert fix.json()["incident"]["stage"] == "document"
    assert fix.json()["incident"]["fixed_at"] is not None
    assert post(api, incident_url + "deposition/", DEPOSITION).json()["incident"]["stage"] == "wrap_up"
    assert post(api, incident_url + "follow-ups/", WRAP_UP).json()["incident"]["stage"] == "outcome"
    outcome = post(api, incident_url + "outcome/", {"outcome": "champion", "satisfaction": 5})

    assert outcome.status_code == 201
    assert outcome.json()["incident"]["stage"] == "closed"
    assert outcome.json()["record"]["outcome"] == "champion"
    timeline = api.get(incident_url + "timeline/").json()
    assert [event["kind"] for event in timeline] == ["logged", "apology", "review", "fix", "deposition", "follow_up", "closed"]
    assert timeline[1]["actor"].startswith("api-helpdesk-")


def test_a_step_out_of_order_answers_409_saying_which_step_comes_first(api, incident_url):
    response = post(api, incident_url + "review/", REVIEW)

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "out_of_order"
    assert "Apologize first" in body["message"]
    assert Incident.objects.get().stage == "apology"


def test_a_closed_incident_answers_409(api, incident_url):
    for step, body in [("apology", APOLOGY), ("review", REVIEW), ("fix", FIX), ("deposition", DEPOSITION), ("follow-ups", WRAP_UP)]:
        assert post(api, incident_url + step + "/", body).status_code == 201
    assert post(api, incident_url + "outcome/", {"outcome": "retained"}).status_code == 201

    response = post(api, incident_url + "follow-ups/", {"kind": "internal", "channel": "other", "note": "late"})

    assert response.status_code == 409
    assert "closed" in response.json()["message"]


def test_the_apology_answer_includes_what_the_coach_flagged(api, incident_url):
    response = post(api, incident_url + "apology/", {"channel": "phone", "text": "Please accept my apology, it's our policy."})

    assert response.status_code == 201
    flags = response.json()["coach_flags"]
    assert [flag["kind"] for flag in flags] == ["dismissive", "policy"]
    assert all(flag["suggestion"] for flag in flags)


def test_recording_the_apology_again_updates_it_and_answers_200(api, incident_url):
    post(api, incident_url + "apology/", APOLOGY)

    response = post(api, incident_url + "apology/", {**APOLOGY, "customer_accepted": False})

    assert response.status_code == 200
    assert response.json()["version"] == 2


def test_a_gesture_over_budget_waits_for_a_manager(api, incident_url):
    post(api, incident_url + "apology/", APOLOGY)
    post(api, incident_url + "review/", REVIEW)

    response = post(api, incident_url + "fix/", {**FIX, "gesture": {"kind": "credit", "description": "Refund", "cost": "500.00"}})

    assert response.status_code == 201, response.json()
    assert response.json()["gesture"]["approval"] == "pending"
    assert response.json()["gesture"]["waits_for_approval"] is True
    assert Gesture.objects.get().approval == Gesture.Approval.PENDING


def test_a_gesture_within_budget_needs_no_approval(api, incident_url):
    post(api, incident_url + "apology/", APOLOGY)
    post(api, incident_url + "review/", REVIEW)

    response = post(api, incident_url + "fix/", {**FIX, "gesture": {"kind": "gift", "description": "Dessert", "cost": "8"}})

    assert response.json()["gesture"]["waits_for_approval"] is False


def test_a_wrap_up_before_the_fix_answers_409(api, incident_url):
    post(api, incident_url + "apology/", APOLOGY)

    response = post(api, incident_url + "follow-ups/", WRAP_UP)

    assert response.status_code == 409
    assert "Record the fix first" in response.json()["message"]


def test_an_outcome_before_the_deposition_answers_409(api, incident_url):
    response = post(api, incident_url + "outcome/", {"outcome": "lost"})

    assert response.status_code == 409
    assert response.json()["code"] == "out_of_order"


def test_step_bodies_reject_unknown_and_invalid_fields(api, incident_url):
    response = post(api, incident_url + "outcome/", {"outcome": "delighted", "satisfaction": 9, "mood": "good"})

    assert response.status_code == 400
    assert response.json()["errors"] == {"mood": ["Unknown field."]}
    response = post(api, incident_url + "outcome/", {"outcome": "delighted", "satisfaction": 9})
    assert set(response.json()["errors"]) == {"outcome", "satisfaction"}


def test_a_step_on_a_missing_incident_answers_404(api, location):
    assert post(api, "/api/v1/incidents/999999/apology/", APOLOGY).status_code == 404


def test_a_step_by_staff_of_another_location_is_404(create, organization, other_location):
    from rest_framework.test import APIClient

    from tests import factories

    url = f"/api/v1/incidents/{create().json()['id']}/apology/"
    stranger = factories.UserFactory(organization=organization, locations=[other_location])
    http = APIClient()
    http.force_login(stranger)

    assert http.post(url, APOLOGY, format="json").status_code == 404


def test_a_step_service_refusal_is_403(api, incident_url, helpdesk, other_organization):
    # The client's own user moved to another organization: the service refuses, the API says 403.
    helpdesk.user.organization = other_organization
    helpdesk.user.save()

    response = post(api, incident_url + "apology/", APOLOGY)

    assert response.status_code == 403
    assert response.json()["code"] == "not_allowed"


def test_customers_by_email_and_external_id_with_care_flag_and_recent_incidents(api, create):
    incident = create(customer={"name": "Ada", "email": "ada@example.com", "external_id": "C-9"}).json()

    by_email = api.get("/api/v1/customers/?email=ADA@example.com").json()["results"]
    by_id = api.get("/api/v1/customers/?external_id=C-9").json()["results"]
    assert [row["id"] for row in by_email] == [row["id"] for row in by_id] == [incident["customer"]["id"]]
    detail = api.get(f"/api/v1/customers/{incident['customer']['id']}/").json()
    assert detail["care_flag"] is True
    assert [row["reference"] for row in detail["recent_incidents"]] == [incident["reference"]]
    assert api.get("/api/v1/customers/?email=nobody@example.com").json()["results"] == []


def test_customers_of_another_organization_are_404(create, other_api):
    customer_id = create().json()["customer"]["id"]

    assert other_api.get(f"/api/v1/customers/{customer_id}/").status_code == 404
    assert other_api.get("/api/v1/customers/?email=ada@example.com").json()["results"] == []


def test_two_agents_correcting_the_same_review_do_not_overwrite_each_other(api, incident_url):
    post(api, incident_url + "apology/", APOLOGY)
    first = post(api, incident_url + "review/", {**REVIEW, "expected_version": 0})
    assert first.status_code == 201 and first.json()["version"] == 1
    # Both agents read version 1; the first correction lands, the second is told what is saved now.
    assert post(api, incident_url + "review/", {**REVIEW, "customer_needs": "A refund", "expected_version": 1}).status_code == 200
    stale = post(api, incident_url + "review/", {**REVIEW, "customer_needs": "Free dessert", "expected_version": 1})
    assert stale.status_code == 409
    body = stale.json()
    assert body["version"] == 2
    assert body["current"]["customer_needs"] == "A refund"
    assert api.get(incident_url).json()["stage"] == "fix"
    review = post(api, incident_url + "review/", {**REVIEW, "customer_needs": "Free dessert", "expected_version": 2})
    assert review.status_code == 200 and review.json()["record"]["customer_needs"] == "Free dessert"
