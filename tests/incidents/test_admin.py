import datetime
from decimal import Decimal

import pytest

from incidents import services
from incidents.models import Gesture
from tests import factories

DAY = datetime.timedelta(days=1)


@pytest.fixture
def admin_manager(manager):
    """An operator (the admin is for superusers) who is also a manager of the organization, so the
    admin reads the organization through the same visibility rule as the pages."""
    manager.is_staff = manager.is_superuser = True
    manager.save()
    return manager


@pytest.fixture
def manager_client(client, admin_manager):
    client.force_login(admin_manager)
    return client


def test_a_manager_finds_incidents_by_customer_and_filters_by_stage(manager_client, incident):
    response = manager_client.get("/admin/incidents/incident/", {"q": "Ada", "stage__exact": "apology"})
    assert response.status_code == 200
    assert incident.reference in response.content.decode()


def test_the_incident_page_shows_the_steps_and_the_timeline_read_only(manager_client, incident, frontline):
    services.record_apology(incident, by=frontline, channel="phone", text="I'm so sorry about the soup")
    response = manager_client.get(f"/admin/incidents/incident/{incident.pk}/change/")
    body = response.content.decode()
    assert "I&#x27;m so sorry about the soup" in body or "I'm so sorry about the soup" in body
    assert "Apology recorded" in body
    # Steps change only through the services: the admin offers no editable step fields.
    assert 'name="apology-0-text"' not in body


def test_incidents_of_another_organization_are_not_listed(manager_client, incident):
    stranger_location = factories.LocationFactory()
    stranger = factories.UserFactory(organization=stranger_location.organization, locations=[stranger_location])
    hidden = factories.log_incident(user=stranger, location=stranger_location, summary="Hidden")
    response = manager_client.get("/admin/incidents/incident/")
    assert incident.reference in response.content.decode()
    assert hidden.reference not in response.content.decode()
    assert manager_client.get(f"/admin/incidents/incident/{hidden.pk}/change/").status_code == 302


def test_a_manager_approves_a_gesture_from_the_admin(manager_client, incident, frontline, admin_manager):
    services.record_apology(incident, by=frontline, channel="phone", text="sorry")
    services.record_review(incident, by=frontline, customer_account="a", customer_needs="b")
    gesture = services.give_gesture(incident, by=frontline, kind="gift", description="Spa day", cost=Decimal("200"))
    response = manager_client.post(
        "/admin/incidents/gesture/", {"action": "approve", "_selected_action": [gesture.pk]}, follow=True
    )
    assert response.status_code == 200
    gesture.refresh_from_db()
    assert gesture.approval == Gesture.Approval.APPROVED
    assert incident.events.filter(kind="gesture_approved", actor=admin_manager).exists()


def test_timeline_events_cannot_be_deleted_from_the_admin(manager_client, incident):
    event = incident.events.first()
    response = manager_client.post(f"/admin/incidents/event/{event.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert incident.events.filter(pk=event.pk).exists()


def test_the_operators_filter_customers_by_the_open_care_flag_as_the_pages_read_it(manager_client, incident,
                                                                                   clock_at_start):
    lapsed = factories.CustomerFactory(organization=incident.organization, name="Lapsed Flag")
    factories.log_incident(user=incident.owner, customer=lapsed, now=incident.logged_at - 91 * DAY)
    listed = lambda flag: manager_client.get("/admin/incidents/customer/", {"care_flag_open": flag}).content.decode()  # noqa: E731
    assert incident.customer.name in listed("yes") and "Lapsed Flag" not in listed("yes")
    assert "Lapsed Flag" in listed("no") and incident.customer.name not in listed("no")
    page = manager_client.get(f"/admin/incidents/customer/{lapsed.pk}/change/").content.decode()
    assert 'name="care_flag"' not in page  # raised and cleared through the services only
