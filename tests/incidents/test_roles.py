"""Role rules live in the services, so the pages, the API and the admin cannot disagree."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from incidents import services
from helpdesk import services as api_services
from tests import factories


def test_frontline_staff_cannot_reassign_a_recovery(incident, frontline, colleague):
    with pytest.raises(services.NotAllowed):
        services.reassign(incident, by=frontline, owner=colleague)
    incident.refresh_from_db()
    assert incident.owner == frontline


def test_frontline_staff_cannot_reassign_over_the_api_with_their_session(incident, frontline, colleague, settings):
    settings.API_RATE_LIMIT_PREFIX = "roles-session"
    api = APIClient()
    api.force_login(frontline)
    answer = api.patch(f"/api/v1/incidents/{incident.pk}/", {"owner": colleague.username}, format="json")
    assert answer.status_code == 403
    incident.refresh_from_db()
    assert incident.owner == frontline


def test_a_manager_and_a_helpdesk_integration_reassign(incident, manager, colleague, organization, settings):
    settings.API_RATE_LIMIT_PREFIX = "roles-client"
    services.reassign(incident, by=manager, owner=colleague)
    _, key = api_services.create_api_client(organization=organization, name="Helpdesk")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    answer = api.patch(f"/api/v1/incidents/{incident.pk}/", {"owner": manager.username}, format="json")
    assert answer.status_code == 200
    incident.refresh_from_db()
    assert incident.owner == manager


def test_only_a_manager_brings_in_a_helper(incident, frontline, manager, colleague):
    with pytest.raises(services.NotAllowed):
        services.add_helper(incident, by=frontline, helper=colleague)
    assert not incident.helpers.exists()
    services.add_helper(incident, by=manager, helper=colleague)
    assert list(incident.helpers.all()) == [colleague]


def test_a_manager_of_another_location_directs_nothing_here(incident, organization, other_location, colleague, frontline):
    elsewhere = factories.UserFactory(username="mo", organization=organization, role="manager", locations=[other_location])
    with pytest.raises(services.NotAllowed):
        services.reassign(incident, by=elsewhere, owner=colleague)
    with pytest.raises(services.NotAllowed):
        services.add_helper(incident, by=elsewhere, helper=colleague)
    services.record_apology(incident, by=frontline, channel="phone", text="I am so sorry")
    services.record_review(incident, by=frontline, customer_account="a", customer_needs="b")
    gesture = services.give_gesture(incident, by=frontline, kind="gift", description="Spa day", cost=Decimal("500"))
    with pytest.raises(services.NotAllowed):
        services.decide_gesture(gesture, by=elsewhere, approve=True)
    gesture.refresh_from_db()
    assert gesture.approval == "pending"
