"""API clients: the command that makes one, and the admin pages for clients and webhook deliveries."""

import io
import re

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from helpdesk import tokens, webhooks
from helpdesk.models import ApiClient
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_command_prints_a_working_token_as_its_last_line(organization, location):
    out = io.StringIO()

    call_command("create_api_client", "Helpdesk", "--organization", "harbour", stdout=out)

    token = out.getvalue().strip().splitlines()[-1]
    client = ApiClient.objects.get()
    assert client.organization == organization and client.name == "Helpdesk"
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert http.get("/api/v1/incidents/").status_code == 200
    # The client's own user cannot sign in with a password.
    assert not client.user.has_usable_password()


def test_the_command_refuses_an_unknown_organization(db):
    with pytest.raises(CommandError, match="No organization"):
        call_command("create_api_client", "Helpdesk", "--organization", "nowhere", stdout=io.StringIO())


@pytest.fixture
def admin_browser(organization):
    admin = factories.UserFactory(organization=organization, role="admin", is_staff=True, is_superuser=True)
    browser = APIClient()
    browser.force_login(admin)
    return browser


def test_the_admin_adds_a_client_and_shows_its_token_once(admin_browser, organization):
    response = admin_browser.post(
        "/admin/helpdesk/apiclient/add/",
        {"name": "Helpdesk", "organization": organization.pk, "rate_limit_per_minute": 600, "active": "on",
         "webhooks-TOTAL_FORMS": 0, "webhooks-INITIAL_FORMS": 0},
        follow=True,
    )

    assert response.status_code == 200
    client = ApiClient.objects.get()
    (token,) = client.tokens.all()
    page = response.content.decode()
    key = re.search(re.escape(token.prefix) + r"[A-Za-z0-9_-]+", page).group(0)
    assert tokens.hash_of(key) == token.key_hash
    change_page = admin_browser.get(f"/admin/helpdesk/apiclient/{client.pk}/change/").content.decode()
    assert token.prefix in change_page and key not in change_page and token.key_hash not in change_page


def client_change_form(client, **webhook):
    """The admin's change form of an API client, with one new webhook row."""
    return {
        "name": client.name, "organization": client.organization_id, "rate_limit_per_minute": 600, "active": "on",
        "webhooks-TOTAL_FORMS": 1, "webhooks-INITIAL_FORMS": 0,
        **{f"webhooks-0-{name}": value for name, value in webhook.items()},
    }


def test_the_admin_adds_a_webhook_with_ticked_events_and_https_by_default(admin_browser, helpdesk):
    response = admin_browser.post(
        f"/admin/helpdesk/apiclient/{helpdesk.pk}/change/",
        client_change_form(helpdesk, url="helpdesk.example.com/hooks", events=["incident.closed", "followup.breached"],
                           active="on"),
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    (endpoint,) = helpdesk.webhooks.all()
    assert endpoint.url == "https://helpdesk.example.com/hooks"
    assert sorted(endpoint.events) == ["followup.breached", "incident.closed"]
    assert endpoint.secret


def test_the_admin_refuses_a_webhook_inside_this_network_and_keeps_what_was_typed(admin_browser, helpdesk, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False

    response = admin_browser.post(
        f"/admin/helpdesk/apiclient/{helpdesk.pk}/change/",
        client_change_form(helpdesk, url="http://127.0.0.1:8000/hook", events=["incident.created"], active="on"),
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "private, loopback or reserved address" in page
    assert 'value="http://127.0.0.1:8000/hook"' in page
    assert not helpdesk.webhooks.exists()


def test_the_admin_lists_deliveries_with_their_attempts(admin_browser, helpdesk, frontline, location, customer):
    from helpdesk import services as api_services

    api_services.register_webhook(client=helpdesk, url="http://127.0.0.1:9/closed-port")
    factories.log_incident(user=frontline, location=location, customer=customer)
    delivery_id = webhooks.pump()[0]
    webhooks.deliver(delivery_id)

    listing = admin_browser.get("/admin/helpdesk/webhookdelivery/")
    detail = admin_browser.get(f"/admin/helpdesk/webhookdelivery/{delivery_id}/change/")

    assert listing.status_code == detail.status_code == 200
    assert "incident.created" in listing.content.decode()
    assert "ConnectionRefusedError" in detail.content.decode() or "URLError" in detail.content.decode()
