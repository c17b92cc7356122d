"""The rest of the workflow over the API: a ticket's changes synced, the organization's codes and
usernames listed, gestures decided, helpers brought in and let go, a customer's value and care flag."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from incidents import services
from incidents.models import Customer, Event, EventKind, Gesture, Incident
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(api, location, customer, clock_at_start):
    answer = api.post("/api/v1/incidents/", {
        "customer": {"name": customer.name, "email": customer.email}, "summary": "Soup arrived cold",
        "channel": "in_person", "category": "Kitchen", "location": location.code, "external_id": "HD-1",
    }, format="json")
    assert answer.status_code == 201
    return answer


def as_member(user):
    http = APIClient()
    http.force_login(user)
    return http


# --- PATCH -------------------------------------------------------------------------------------------


def test_a_ticket_s_changes_are_synced_and_each_change_is_on_the_timeline(api, ticket, clock_at_start):
    url = ticket["Location"]
    clock_at_start.shift(datetime.timedelta(minutes=5))
    occurred = (timezone.now() - datetime.timedelta(hours=1)).isoformat()

    answer = api.patch(url, {"summary": "Soup cold, and the bread stale", "severity": "high", "category": "Bakery",
                             "channel": "phone", "occurred_at": occurred, "external_id": "HD-1b"},
                       format="json", HTTP_IF_MATCH=ticket["ETag"])

    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (body["summary"], body["severity"], body["category"], body["channel"], body["external_id"]) == (
        "Soup cold, and the bread stale", "high", "Bakery", "phone", "HD-1b")
    assert answer["ETag"] != ticket["ETag"]
    change = Event.objects.get(kind=EventKind.DETAILS_CHANGED)
    assert change.before == {"summary": "Soup arrived cold", "severity": "medium", "category": "Kitchen",
                             "channel": "in_person", "occurred_at": ticket.json()["occurred_at"].replace("Z", "+00:00"),
                             "external_id": "HD-1"}
    assert change.after["severity"] == "high" and change.after["category"] == "Bakery"
    timeline = api.get(f"{url}timeline/").json()
    assert timeline[-1]["kind"] == "details_changed" and "severity" in timeline[-1]["summary"]


def test_a_patch_that_changes_nothing_writes_nothing(api, ticket):
    answer = api.patch(ticket["Location"], {"severity": "medium", "summary": "Soup arrived cold"}, format="json")

    assert answer.status_code == 200 and answer["ETag"] == ticket["ETag"]
    assert not Event.objects.filter(kind=EventKind.DETAILS_CHANGED).exists()


def test_a_stale_if_match_changes_nothing(api, ticket, manager):
    assert api.patch(ticket["Location"], {"severity": "low"}, format="json").status_code == 200

    stale = api.patch(ticket["Location"], {"severity": "critical", "owner": manager.username}, format="json",
                      HTTP_IF_MATCH=ticket["ETag"])

    assert stale.status_code == 412 and stale.json()["code"] == "precondition_failed"
    incident = Incident.objects.get()
    assert incident.severity == "low" and incident.owner.username != manager.username


@pytest.mark.parametrize("body, field", [
    ({"severity": "apocalyptic"}, "severity"),
    ({"channel": "pigeon"}, "channel"),
    ({"summary": ""}, "summary"),
    ({"occurred_at": "yesterday"}, "occurred_at"),
    ({"owner": "nobody-here"}, "owner"),
    ({"priority": "high"}, "priority"),
])
def test_a_bad_value_is_a_field_error_and_changes_nothing(api, ticket, body, field):
    answer = api.patch(ticket["Location"], body, format="json")

    assert answer.status_code == 400, answer.json()
    assert field in answer.json()["errors"]
    assert Incident.objects.get().severity == "medium" and not Event.objects.filter(kind=EventKind.DETAILS_CHANGED).exists()


def test_a_failure_cannot_have_happened_after_it_was_logged(api, ticket, clock_at_start):
    clock_at_start.shift(datetime.timedelta(hours=2))
    later = (timezone.now() - datetime.timedelta(hours=1)).isoformat()

    answer = api.patch(ticket["Location"], {"occurred_at": later}, format="json")

    assert answer.status_code == 400 and "occurred_at" in answer.json()["errors"]


def test_another_ticket_s_id_is_a_conflict(api, ticket, location, customer):
    factories.log_incident(user=Incident.objects.get().logged_by, location=location, customer=customer, external_id="HD-2")

    answer = api.patch(ticket["Location"], {"external_id": "HD-2", "severity": "high"}, format="json")

    assert answer.status_code == 409 and answer.json()["errors"] == {"external_id": ["Already used."]}
    assert Incident.objects.get(external_id="HD-1").severity == "medium"  # nothing half-written


def test_frontline_staff_not_on_the_recovery_cannot_change_it(ticket, colleague):
    answer = as_member(colleague).patch(ticket["Location"], {"severity": "low"}, format="json")

    assert answer.status_code == 403
    assert Incident.objects.get().severity == "medium"


def test_a_closed_recovery_is_not_changed(api, ticket, frontline):
    incident = Incident.objects.get()
    Incident.objects.filter(pk=incident.pk).update(closed_at=timezone.now())

    assert api.patch(ticket["Location"], {"severity": "low"}, format="json").status_code == 409


# --- The organization's codes and usernames ---------------------------------------------------------


def test_an_integrator_finds_the_codes_usernames_and_categories_a_create_needs(
        api, helpdesk, location, other_location, frontline, manager, ticket, other_organization):
    factories.UserFactory(username="gone", organization=helpdesk.organization, is_active=False)
    factories.UserFactory(username="elsewhere", organization=other_organization)
    factories.LocationFactory(organization=other_organization, code="summit-1")

    locations = api.get("/api/v1/locations/").json()["results"]
    staff = api.get("/api/v1/staff/").json()["results"]
    categories = api.get("/api/v1/categories/").json()["results"]

    assert [row["code"] for row in locations] == ["hilltop", "riverside"]
    assert locations[1] == {"code": "riverside", "name": "Riverside", "region": "South", "timezone": location.timezone,
                            "opens_at": location.opens_at.strftime("%H:%M"), "closes_at": location.closes_at.strftime("%H:%M"),
                            "weekly_hours": [{"weekday": day, "opens": "09:00", "closes": "18:00"} for day in range(7)],
                            "holiday_country": "", "holiday_subdivision": ""}
    # Active people only, not the integration's own account, and nothing personal beyond a name and a role.
    assert [row["username"] for row in staff] == ["fran", "mona"]
    assert set(staff[0]) == {"username", "name", "role", "locations", "language"} and staff[1]["locations"] == ["riverside"]
    assert categories == [{"name": "Kitchen"}]


def test_the_lists_page_by_cursor(api, organization):
    for number in range(3):
        factories.LocationFactory(organization=organization, code=f"site-{number}")

    first = api.get("/api/v1/locations/?page_size=2").json()
    second = APIClient.get(api, first["next"]).json()

    assert [row["code"] for row in first["results"] + second["results"]] == ["site-0", "site-1", "site-2"]
    assert second["next"] is None


# --- Filters answer 400 rather than ignore ---------------------------------------------------------


@pytest.mark.parametrize("query, field", [
    ("open=maybe", "open"),
    ("overdue=1", "overdue"),
    ("stage=sleeping", "stage"),
    ("location=atlantis", "location"),
    ("owner=ghost", "owner"),
    ("updated_since=last-week", "updated_since"),
    ("stag=apology", "stag"),
    ("ordering=summary", "ordering"),
    ("page_size=0", "page_size"),
    ("page_size=many", "page_size"),
])
def test_an_unknown_filter_value_answers_400_naming_it(api, ticket, query, field):
    answer = api.get(f"/api/v1/incidents/?{query}")

    assert answer.status_code == 400, answer.json()
    assert field in answer.json()["errors"] and answer["Content-Type"] == "application/problem+json"


def test_known_filters_still_filter(api, ticket, location, frontline):
    username = Incident.objects.get().owner.username
    assert len(api.get(f"/api/v1/incidents/?open=true&location={location.code}&owner={username}").json()["results"]) == 1
    assert api.get("/api/v1/incidents/?open=false").json()["results"] == []
    assert api.get("/api/v1/customers/?bogus=1").status_code == 400


# --- Gestures --------------------------------------------------------------------------------------


@pytest.fixture
def waiting_gesture(frontline, location, customer, clock_at_start):
    incident = factories.log_incident(user=frontline, location=location, customer=customer)
    frontline.discretion_budget = Decimal("5.00")
    frontline.save()
    services.record_apology(incident, by=frontline, channel="in_person", text="I am so sorry.")
    services.record_review(incident, by=frontline, customer_account="Cold soup.", customer_needs="A hot meal.")
    gesture = services.give_gesture(incident, by=frontline, kind="credit", description="Dinner refunded", cost=Decimal("60.00"))
    assert gesture.approval == Gesture.Approval.PENDING
    return gesture


def test_a_helpdesk_syncs_the_approval_its_manager_gave(api, waiting_gesture, manager):
    url = f"/api/v1/incidents/{waiting_gesture.incident_id}/gestures/"
    assert api.get(url).json()[0]["approval"] == "pending"

    answer = api.post(f"{url}{waiting_gesture.pk}/approve/", {"manager": manager.username}, format="json")

    assert answer.status_code == 200, answer.json()
    assert answer.json()["approval"] == "approved" and answer.json()["decided_by"] == manager.username
    assert Event.objects.filter(kind=EventKind.GESTURE_APPROVED, actor=manager).exists()
    again = api.post(f"{url}{waiting_gesture.pk}/refuse/", {"manager": manager.username}, format="json")
    assert again.status_code == 409


def test_a_gesture_is_decided_only_by_a_manager_as_in_the_console(api, waiting_gesture, colleague, manager):
    url = f"/api/v1/incidents/{waiting_gesture.incident_id}/gestures/{waiting_gesture.pk}/refuse/"

    unnamed = api.post(url, {}, format="json")
    not_a_manager = api.post(url, {"manager": colleague.username}, format="json")
    staff_in_someone_else_s_name = as_member(manager).post(url, {"manager": "someone-else"}, format="json")

    assert unnamed.status_code == 400 and "manager" in unnamed.json()["errors"]
    assert not_a_manager.status_code == 403
    assert staff_in_someone_else_s_name.status_code == 403
    assert Gesture.objects.get().approval == Gesture.Approval.PENDING
    refused = as_member(manager).post(url, {}, format="json")
    assert refused.status_code == 200 and refused.json()["approval"] == "refused"


def test_another_organization_s_gesture_is_not_found(other_api, waiting_gesture):
    url = f"/api/v1/incidents/{waiting_gesture.incident_id}/gestures/{waiting_gesture.pk}/approve/"
    assert other_api.post(url, {"manager": "mona"}, format="json").status_code == 404


# --- Helpers -------------------------------------------------------------------------------------


def test_helpers_are_brought_in_and_let_go(api, ticket, colleague, clock_at_start):
    url = f"{ticket['Location']}helpers/"

    added = api.post(url, {"username": colleague.username}, format="json")
    assert added.status_code == 200 and added.json() == [{"username": "cole", "name": colleague.display_name()}]
    assert api.get(url).json() == added.json()

    gone = api.delete(f"{url}{colleague.username}/")

    assert gone.status_code == 204 and api.get(url).json() == []
    kinds = [event["kind"] for event in api.get(f"{ticket['Location']}timeline/").json()]
    assert kinds[-2:] == ["helper_added", "helper_removed"]


def test_helpers_are_a_manager_s_call(ticket, colleague, frontline):
    url = f"{ticket['Location']}helpers/"

    assert as_member(frontline).post(url, {"username": colleague.username}, format="json").status_code == 403
    assert Incident.objects.get().helpers.count() == 0
    assert as_member(frontline).post(url, {"username": "ghost"}, format="json").status_code in (400, 403)


def test_an_unknown_helper_is_a_field_error(api, ticket):
    answer = api.post(f"{ticket['Location']}helpers/", {"username": "ghost"}, format="json")
    assert answer.status_code == 400 and "username" in answer.json()["errors"]


# --- The customer ------------------------------------------------------------------------------------


def test_a_helpdesk_sets_the_customer_s_lifetime_value(api, customer):
    answer = api.patch(f"/api/v1/customers/{customer.pk}/", {"lifetime_value": "2400.00"}, format="json")

    assert answer.status_code == 200 and answer.json()["lifetime_value"] == "2400.00"
    assert Customer.objects.get(pk=customer.pk).lifetime_value == Decimal("2400.00")


@pytest.mark.parametrize("value", ["-1", "lots", "1" * 20])
def test_a_bad_lifetime_value_is_a_field_error(api, customer, value):
    answer = api.patch(f"/api/v1/customers/{customer.pk}/", {"lifetime_value": value}, format="json")

    assert answer.status_code == 400 and "lifetime_value" in answer.json()["errors"]


def test_frontline_staff_do_not_set_lifetime_values(customer, frontline):
    answer = as_member(frontline).patch(f"/api/v1/customers/{customer.pk}/", {"lifetime_value": "10"}, format="json")

    assert answer.status_code == 403
    assert Customer.objects.get(pk=customer.pk).lifetime_value != Decimal("10")


def test_the_care_flag_is_set_and_cleared(api, customer):
    url = f"/api/v1/customers/{customer.pk}/care-flag/"

    flagged = api.post(url, {"note": "Greet her by name."}, format="json")
    assert flagged.status_code == 200 and flagged.json()["care_flag"] and flagged.json()["care_note"] == "Greet her by name."

    cleared = api.delete(url)
    assert cleared.status_code == 200 and not cleared.json()["care_flag"]
    assert not Customer.objects.get(pk=customer.pk).care_flag


def test_another_organization_s_customer_is_not_found(other_api, customer):
    assert other_api.delete(f"/api/v1/customers/{customer.pk}/care-flag/").status_code == 404
    assert other_api.patch(f"/api/v1/customers/{customer.pk}/", {"lifetime_value": "1"}, format="json").status_code == 404
