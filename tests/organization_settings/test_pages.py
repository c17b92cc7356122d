"""The Settings pages: what each role sees, and that a refused change keeps what was typed."""

import re

import pytest
from django.utils import timezone

from helpdesk import services as api_services
from helpdesk import tokens
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
        "name": "Quay", "code": "quay", "region": "West", "timezone": "Mars/Olympus",
    })
    assert answer.status_code == 400
    assert 'value="Quay"' in answer.content.decode()
    assert not Location.objects.filter(code="quay").exists()
    saved = client.post("/settings/locations/", {
        "name": "Quay", "code": "quay", "region": "West", "timezone": "Europe/Lisbon",
    })
    assert saved.status_code == 302
    assert Location.objects.get(code="quay").timezone == "Europe/Lisbon"


def shown_token(answer):
    """The token a page shows once, in its read-only input."""
    found = re.search(r'value="(rcv_[^"]+)" aria-label="The new token"', answer.content.decode())
    return found and found.group(1)


def test_a_new_api_clients_token_is_shown_once(client, admin):
    answer = _as(client, admin).post("/settings/api-clients/", {
        "name": "Helpdesk", "rate_limit_per_minute": "300", "scope": "read", "expires_at": "2099-01-01T09:00",
    })
    assert answer.status_code == 200
    created = ApiClient.objects.get(name="Helpdesk")
    token = shown_token(answer)
    (kept,) = created.tokens.all()
    assert tokens.hash_of(token) == kept.key_hash and kept.scope == "read" and kept.expires_at.year == 2099
    assert token not in client.get("/settings/api-clients/").content.decode()
    assert token not in client.get(f"/settings/api-clients/{created.pk}/").content.decode()


def test_an_admin_issues_rotates_and_revokes_a_clients_tokens_on_its_page(client, admin, organization):
    created, first = api_services.create_api_client(organization=organization, name="Helpdesk")
    page = f"/settings/api-clients/{created.pk}/"
    _as(client, admin)
    assert created.tokens.get().prefix in client.get(page).content.decode()

    issued = client.post(f"{page}tokens/", {"scope": "read", "expires_at": ""})
    second = shown_token(issued)
    assert issued.status_code == 200 and created.tokens.get(key_hash=tokens.hash_of(second)).scope == "read"
    assert second not in client.get(page).content.decode()

    old = created.tokens.get(key_hash=tokens.hash_of(first))
    rotated = client.post(f"{page}tokens/{old.pk}/rotate/", {"keep_old_for_hours": "0"})
    third = shown_token(rotated)
    old.refresh_from_db()
    assert rotated.status_code == 200 and third and "keeps working until" in rotated.content.decode()
    assert tokens.refusal(old, timezone.now()) is not None
    assert tokens.refusal(created.tokens.get(key_hash=tokens.hash_of(third)), timezone.now()) is None

    second_token = created.tokens.get(key_hash=tokens.hash_of(second))
    assert client.post(f"{page}tokens/{second_token.pk}/revoke/").status_code == 302
    second_token.refresh_from_db()
    assert second_token.revoked_at is not None


def test_a_refused_token_form_says_why_and_issues_nothing(client, admin, organization):
    created, _ = api_services.create_api_client(organization=organization, name="Helpdesk")
    page = f"/settings/api-clients/{created.pk}/"
    _as(client, admin)

    past = client.post(f"{page}tokens/", {"scope": "write", "expires_at": "2001-01-01T09:00"})
    too_long = client.post(f"{page}tokens/{created.tokens.get().pk}/rotate/", {"keep_old_for_hours": "9999"})

    assert past.status_code == too_long.status_code == 400
    assert "A token cannot expire in the past." in past.content.decode()
    assert "less than or equal to 720" in too_long.content.decode()
    assert created.tokens.count() == 1 and created.tokens.get().expires_at is None


def test_a_manager_cannot_touch_api_tokens(client, manager, organization):
    created, _ = api_services.create_api_client(organization=organization, name="Helpdesk")
    token = created.tokens.get()
    _as(client, manager)

    assert client.post(f"/settings/api-clients/{created.pk}/tokens/", {"scope": "write"}).status_code == 403
    assert client.post(f"/settings/api-clients/{created.pk}/tokens/{token.pk}/revoke/").status_code == 403
    assert client.post(f"/settings/api-clients/{created.pk}/tokens/{token.pk}/rotate/", {"keep_old_for_hours": "1"}).status_code == 403
    token.refresh_from_db()
    assert created.tokens.count() == 1 and token.revoked_at is None and token.expires_at is None


def test_a_webhook_inside_this_network_is_refused_from_the_settings_page(client, admin, organization):
    from helpdesk import services as api_services

    created, _ = api_services.create_api_client(organization=organization, name="Helpdesk")
    answer = _as(client, admin).post(f"/settings/api-clients/{created.pk}/", {"url": "http://127.0.0.1:8000/hook"})
    assert answer.status_code == 400
    assert "127.0.0.1:8000/hook" in answer.content.decode()
    assert not created.webhooks.exists()


def test_a_webhook_s_signing_secret_is_shown_once_and_a_new_one_on_request(client, admin, manager, organization, settings):
    from helpdesk import services as api_services

    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    created, _ = api_services.create_api_client(organization=organization, name="Helpdesk")
    page = f"/settings/api-clients/{created.pk}/"
    added = _as(client, admin).post(page, {"url": "http://127.0.0.1:9/hook"})
    endpoint = created.webhooks.get()
    first = endpoint.secret

    assert added.status_code == 200 and first in added.content.decode()
    assert first not in client.get(page).content.decode()  # not on later visits

    rotated = client.post(f"{page}webhooks/{endpoint.pk}/secret/")

    endpoint.refresh_from_db()
    assert rotated.status_code == 200 and endpoint.secret != first and endpoint.secret in rotated.content.decode()
    assert endpoint.previous_secret == first  # it signs beside the new one for a day
    assert endpoint.secret not in client.get(page).content.decode()
    _as(client, manager)
    assert client.post(f"{page}webhooks/{endpoint.pk}/secret/").status_code == 403
