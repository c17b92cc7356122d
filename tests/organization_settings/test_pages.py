"""The Settings pages: what each role sees, and that a refused change keeps what was typed."""

import pytest

from helpdesk.models import ApiClient
from incidents.models import Location, User


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _as(client, user):
    client.force_login(user)
    return client


def test_frontline_staff_have_no_settings(client, frontline):
    assert _as(client, frontline).get("/settings/").status_code == 403
    assert client.get("/settings/staff/").status_code == 403


def test_an_admin_sees_every_settings_page(client, admin, location):
    _as(client, admin)
    for path in ["/settings/", "/settings/locations/", f"/settings/locations/{location.pk}/", "/settings/staff/",
                 "/settings/api-clients/"]:
        assert client.get(path).status_code == 200, path


def test_a_manager_reads_the_organizations_clocks_but_cannot_change_them(client, manager, organization):
    _as(client, manager)
    page = client.get("/settings/")
    assert page.status_code == 200 and b"Only an organization admin can change these." in page.content
    assert client.post("/settings/", {"name": "Mine now", "currency": "EUR"}).status_code == 403
    organization.refresh_from_db()
    assert organization.name == "Harbour Hotels"
    assert client.get("/settings/api-clients/").status_code == 403
    assert client.post("/settings/locations/", {"name": "X", "code": "x"}).status_code == 403


def test_a_manager_is_not_offered_the_admin_role_nor_sees_an_admin(client, manager, admin):
    page = _as(client, manager).get("/settings/staff/")
    body = page.content.decode()
    assert 'value="admin"' not in body
    assert "ada-admin" not in body
    assert client.get(f"/settings/staff/{admin.pk}/").status_code == 404
    assert client.post(f"/settings/staff/{admin.pk}/active/", {"active": "0"}).status_code == 404


def test_a_refused_invitation_keeps_what_was_typed(client, manager, location):
    answer = _as(client, manager).post("/settings/staff/", {
        "email": "sam@example.com", "first_name": "Samira", "role": "admin", "locations": [location.pk],
    })
    assert answer.status_code == 400
    body = answer.content.decode()
    assert 'value="Samira"' in body and 'value="sam@example.com"' in body
    assert not User.objects.filter(email="sam@example.com").exists()


def test_a_location_with_an_unknown_time_zone_is_refused_and_kept(client, admin):
    answer = _as(client, admin).post("/settings/locations/", {
        "name": "Quay", "code": "quay", "region": "West", "timezone": "Mars/Olympus", "opens_at": "08:00", "closes_at": "22:00",
    })
    assert answer.status_code == 400
    assert 'value="Quay"' in answer.content.decode()
    assert not Location.objects.filter(code="quay").exists()
    saved = client.post("/settings/locations/", {
        "name": "Quay", "code": "quay", "region": "West", "timezone": "Europe/Lisbon", "opens_at": "08:00", "closes_at": "22:00",
    })
    assert saved.status_code == 302
    assert Location.objects.get(code="quay").timezone == "Europe/Lisbon"


def test_a_new_api_clients_token_is_shown_once(client, admin):
    answer = _as(client, admin).post("/settings/api-clients/", {"name": "Helpdesk", "rate_limit_per_minute": "300"})
    assert answer.status_code == 200
    created = ApiClient.objects.get(name="Helpdesk")
    token = created.user.auth_token.key
    assert token in answer.content.decode()
    assert token not in client.get("/settings/api-clients/").content.decode()
    assert token not in client.get(f"/settings/api-clients/{created.pk}/").content.decode()


def test_a_webhook_inside_this_network_is_refused_from_the_settings_page(client, admin, organization):
    from helpdesk import services as api_services

    created, _ = api_services.create_api_client(organization=organization, name="Helpdesk")
    answer = _as(client, admin).post(f"/settings/api-clients/{created.pk}/", {"url": "http://127.0.0.1:8000/hook"})
    assert answer.status_code == 400
    assert "127.0.0.1:8000/hook" in answer.content.decode()
    assert not created.webhooks.exists()
