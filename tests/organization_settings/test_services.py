"""Who may set up what: the rules of the Settings area, at the service every door calls."""

import datetime

import pytest

from incidents.models import CoachPhrase, User
from incidents.services import Conflict, NotAllowed, RecoveryError
from organization_settings import services
from tests import factories


@pytest.fixture
def hilltop_clerk(organization, other_location):
    return factories.UserFactory(username="hal", organization=organization, locations=[other_location])


def test_a_manager_cannot_give_a_role_above_their_own(organization, manager, location):
    with pytest.raises(NotAllowed):
        services.invite_staff(organization, by=manager, email="new@example.com", first_name="New", role="admin",
                              locations=[location])
    assert not User.objects.filter(email="new@example.com").exists()


def test_a_manager_cannot_make_themselves_an_admin(manager, location):
    with pytest.raises(NotAllowed):
        services.update_staff(manager, by=manager, role="admin", locations=[location], first_name="Me")
    manager.refresh_from_db()
    assert manager.role == "manager"


def test_a_manager_cannot_act_on_an_admin(manager, admin, location):
    with pytest.raises(NotAllowed):
        services.update_staff(admin, by=manager, role="frontline", locations=[location], first_name="Ada")
    with pytest.raises(NotAllowed):
        services.set_staff_active(admin, by=manager, active=False)
    admin.refresh_from_db()
    assert admin.role == "admin" and admin.is_active


def test_a_manager_acts_only_on_staff_of_their_own_locations(manager, hilltop_clerk, frontline, other_location):
    with pytest.raises(NotAllowed):
        services.set_staff_active(hilltop_clerk, by=manager, active=False)
    with pytest.raises(NotAllowed):  # nor hands out a location they do not manage
        services.update_staff(frontline, by=manager, role="frontline", locations=[other_location], first_name="Fran")
    assert services.set_staff_active(frontline, by=manager, active=False).is_active is False


def test_a_managers_change_keeps_the_locations_they_cannot_see(organization, manager, location, other_location):
    both = factories.UserFactory(username="bo", organization=organization, locations=[location, other_location])
    services.update_staff(both, by=manager, role="manager", locations=[location], first_name="Bo")
    assert set(both.locations.all()) == {location, other_location}
    assert both.role == "manager"


def test_nobody_changes_their_own_role_or_budget_or_deactivates_themselves(admin, manager, location):
    with pytest.raises(NotAllowed):
        services.update_staff(admin, by=admin, role="manager", locations=[location], first_name="Ada")
    with pytest.raises(NotAllowed):
        services.update_staff(manager, by=manager, role="manager", locations=[location], first_name="Mona",
                              discretion_budget=5000)
    manager.refresh_from_db()
    assert manager.discretion_budget is None
    with pytest.raises(NotAllowed):
        services.set_staff_active(admin, by=admin, active=False)


def test_frontline_staff_change_no_settings(organization, frontline, location):
    with pytest.raises(NotAllowed):
        services.invite_staff(organization, by=frontline, email="x@example.com", first_name="X", role="frontline",
                              locations=[location])


def test_nobody_acts_in_another_organization(admin):
    rival = factories.OrganizationFactory(slug="rival")
    rival_clerk = factories.UserFactory(organization=rival)
    with pytest.raises(NotAllowed):
        services.set_staff_active(rival_clerk, by=admin, active=False)
    with pytest.raises(NotAllowed):
        services.save_location(rival, by=admin, name="Peak", code="peak")
    with pytest.raises(NotAllowed):
        services.add_api_client(rival, by=admin, name="Sneaky")
    with pytest.raises(NotAllowed):
        services.update_organization(rival, by=admin, default_discretion_budget=0)


def test_locations_clients_and_the_organization_are_for_admins(organization, manager):
    with pytest.raises(NotAllowed):
        services.save_location(organization, by=manager, name="New", code="new")
    with pytest.raises(NotAllowed):
        services.add_api_client(organization, by=manager, name="Helpdesk")
    with pytest.raises(NotAllowed):
        services.update_organization(organization, by=manager, follow_up_window=datetime.timedelta(hours=5))


def test_a_location_needs_a_real_time_zone_and_its_own_code(organization, admin, location):
    with pytest.raises(RecoveryError) as refused:
        services.save_location(organization, by=admin, name="New", code="new", timezone="Mars/Olympus")
    assert "timezone" in refused.value.field_errors
    with pytest.raises(Conflict):
        services.save_location(organization, by=admin, name="Again", code=location.code, timezone="Europe/Paris")
    made = services.save_location(organization, by=admin, name="Quay", code="quay", timezone="Europe/Paris")
    assert made.organization == organization and made.timezone == "Europe/Paris"


def test_an_admin_changes_the_organizations_clocks(organization, admin):
    services.update_organization(organization, by=admin, follow_up_window=datetime.timedelta(minutes=30), currency="eur")
    organization.refresh_from_db()
    assert organization.follow_up_window == datetime.timedelta(minutes=30)
    assert organization.currency == "EUR"


def test_an_invitation_is_sent_once_it_commits_and_its_link_sets_the_password(
    organization, admin, location, eager_celery, django_capture_on_commit_callbacks, mailoutbox, client
):
    with django_capture_on_commit_callbacks(execute=True):
        member = services.invite_staff(organization, by=admin, email="Sam@Example.com", first_name="Sam",
                                       role="manager", locations=[location])
    assert member.username == "sam@example.com" and not member.has_usable_password()
    (mail,) = mailoutbox
    assert mail.to == ["sam@example.com"] and organization.name in mail.subject
    link = next(line for line in mail.body.splitlines() if "/accounts/password/" in line).strip()
    path = link.split("://", 1)[1].split("/", 1)[1]
    page = client.get("/" + path, follow=True)
    assert page.status_code == 200 and b"Choose your password" in page.content
    answer = client.post(page.redirect_chain[-1][0], {"new_password1": "a-long-pass-phrase-9", "new_password2": "a-long-pass-phrase-9"})
    assert answer.status_code == 302
    assert client.post("/login/", {"login": "sam@example.com", "password": "a-long-pass-phrase-9"}).status_code == 302
    # The link worked once.
    assert b"has been used already" in client.get("/" + path, follow=True).content


def test_the_same_email_cannot_be_invited_twice(organization, admin, location):
    services.invite_staff(organization, by=admin, email="sam@example.com", first_name="Sam", role="frontline", locations=[location])
    with pytest.raises(Conflict):
        services.invite_staff(organization, by=admin, email="SAM@example.com", first_name="Sam", role="frontline", locations=[location])


def test_a_deactivated_api_client_token_stops_working(organization, admin):
    from rest_framework.test import APIClient

    client, key = services.add_api_client(organization, by=admin, name="Helpdesk")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/incidents/").status_code == 200
    services.set_api_client_active(client, by=admin, active=False)
    assert api.get("/api/v1/incidents/").status_code == 401


def test_a_new_organization_gets_the_default_coach_phrases_from_the_operators_admin(db, client):
    operator = User.objects.create_superuser("op", "op@example.com", "op-password-1")
    client.force_login(operator)
    answer = client.post("/admin/incidents/organization/add/", {
        "name": "Lakeside Inns", "slug": "lakeside", "currency": "EUR", "follow_up_window": "00:20:00",
        "heads_up_before": "00:05:00", "escalate_after": "00:15:00", "progress_report_every": "1 00:00:00",
        "check_back_after": "1 00:00:00", "wrap_up_after": "2 00:00:00", "default_discretion_budget": "40",
        "satisfaction_check_after": "1 00:00:00", "quiet_hours_start": "21:00", "quiet_hours_end": "08:00",
        "problem_watch_period": "28 00:00:00", "care_flag_days": "90",
    })
    assert answer.status_code == 302, answer.content.decode()[:2000]
    assert CoachPhrase.objects.filter(organization__slug="lakeside").count() > 5
