"""Single sign-on through the organization's own OpenID Connect provider (a real one, on 127.0.0.1):
who it signs in, and every answer it refuses."""

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from axes.models import AccessAttempt
from django.db.models import Sum

from incidents.models import User
from incidents.services import NotAllowed, RecoveryError
from organization_settings import services
from tests import factories

from .conftest import provider_address, through_provider


def signed_in_as(client):
    return client.session.get("_auth_user_id")


def failures_counted():
    return AccessAttempt.objects.aggregate(total=Sum("failures_since_start"))["total"] or 0


def test_a_member_of_staff_is_signed_in_by_the_email_the_provider_verified(client, sign_on, idp, frontline):
    idp.sign_in_as("idp-fran", "Fran@Example.com")

    answer = through_provider(client, "fran@example.com")

    assert answer.status_code == 302 and answer["Location"] == "/"
    assert signed_in_as(client) == str(frontline.pk)
    assert SocialAccount.objects.get(uid="idp-fran").user == frontline
    assert ("GET", "/jwks") in idp.requests_seen  # the ID token's signature was checked


def test_the_provider_is_asked_with_pkce_a_nonce_and_the_email_as_hint(client, sign_on):
    start = client.post("/accounts/sso/", {"email": "fran@example.com"})

    query = parse_qs(urlsplit(provider_address(start)).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert len(query["nonce"][0]) >= 32 and query["login_hint"] == ["fran@example.com"]
    assert sorted(query["scope"][0].split()) == ["email", "openid", "profile"]


def test_once_linked_the_providers_account_signs_in_the_same_person(client, sign_on, idp, frontline):
    idp.sign_in_as("idp-fran", "fran@example.com")
    through_provider(client, "fran@example.com")
    client.logout()
    idp.sign_in_as("idp-fran", "fran.new-name@example.com", email_verified=False)

    through_provider(client, "fran@example.com")

    assert signed_in_as(client) == str(frontline.pk)


def test_nobody_is_signed_in_or_created_for_an_email_not_on_the_staff(client, sign_on, idp, frontline):
    rival = factories.OrganizationFactory(name="Rival", slug="rival")
    factories.UserFactory(username="rob", organization=rival, email="rob@example.com")
    people = User.objects.count()
    idp.sign_in_as("idp-rob", "rob@example.com")

    answer = through_provider(client, "rob@example.com")

    assert answer.status_code == 403 and "not on the staff of Harbour Hotels" in answer.content.decode()
    assert signed_in_as(client) is None and User.objects.count() == people
    assert not SocialAccount.objects.exists()


def test_an_unverified_email_signs_nobody_in(client, sign_on, idp, frontline):
    idp.sign_in_as("idp-fran", "fran@example.com", email_verified=False)

    answer = through_provider(client, "fran@example.com")

    assert answer.status_code == 403 and "did not confirm your email" in answer.content.decode()
    assert signed_in_as(client) is None


def test_a_deactivated_member_of_staff_is_refused(client, sign_on, idp, frontline):
    idp.sign_in_as("idp-fran", "fran@example.com")
    through_provider(client, "fran@example.com")
    client.logout()
    frontline.is_active = False
    frontline.save()

    answer = through_provider(client, "fran@example.com")

    assert answer.status_code == 403 and "deactivated" in answer.content.decode()
    assert signed_in_as(client) is None


@pytest.mark.parametrize("tamper", [
    {"bad_signature": True}, {"audience": "someone-else"}, {"nonce": "not-the-one-we-sent"},
    {"issuer_claim": "https://impostor.example"}, {"expired": True},
])
def test_a_forged_or_misaddressed_answer_is_refused_and_counted(client, sign_on, idp, frontline, tamper):
    idp.sign_in_as("idp-fran", "fran@example.com")
    for switch, value in tamper.items():
        setattr(idp, switch, value)
    before = failures_counted()

    answer = through_provider(client, "fran@example.com")

    assert answer.status_code in (401, 403) and signed_in_as(client) is None
    assert "You are not signed in" in answer.content.decode()
    assert failures_counted() == before + 1
    assert not SocialAccount.objects.exists()


def test_an_answer_cannot_be_replayed(client, sign_on, idp, frontline):
    idp.sign_in_as("idp-fran", "fran@example.com")
    start = client.post("/accounts/sso/", {"email": "fran@example.com"})
    back = urlsplit(requests.get(provider_address(start), allow_redirects=False, timeout=5).headers["Location"])
    assert signed_in_as(client) is None
    client.get(f"{back.path}?{back.query}")
    assert signed_in_as(client) == str(frontline.pk)
    client.logout()

    again = client.get(f"{back.path}?{back.query}")

    assert signed_in_as(client) is None and again.status_code in (400, 401, 403)


def test_an_address_with_no_single_sign_on_is_told_so(client, sign_on):
    answer = client.post("/accounts/sso/", {"email": "someone@elsewhere.example"})

    assert answer.status_code == 400 and "not set up for that address" in answer.content.decode()
    assert 'value="someone@elsewhere.example"' in answer.content.decode()


def test_a_provider_that_cannot_be_reached_is_said_so(client, sign_on):
    sign_on.app.settings = {"server_url": "http://127.0.0.1:9"}  # nothing listens there
    sign_on.app.save()

    answer = client.post("/accounts/sso/", {"email": "fran@example.com"})

    assert answer.status_code == 400 and "cannot be reached just now" in answer.content.decode()


def test_switched_off_single_sign_on_signs_nobody_in(client, sign_on, idp, frontline, organization, admin):
    services.save_single_sign_on(organization, by=admin, issuer=idp.issuer, client_id=idp.client_id,
                                 email_domain="example.com", active=False)

    answer = client.post("/accounts/sso/", {"email": "fran@example.com"})

    assert answer.status_code == 400 and signed_in_as(client) is None


# --- Setting it up (Settings → Single sign-on, admins) ------------------------------------------------


def test_only_an_admin_sets_up_single_sign_on(settings, organization, manager, idp):
    settings.SINGLE_SIGN_ON_ALLOW_HTTP = True
    with pytest.raises(NotAllowed):
        services.save_single_sign_on(organization, by=manager, issuer=idp.issuer, client_id="x",
                                     client_secret="y", email_domain="example.com")


def test_the_provider_must_be_https_and_really_an_identity_provider(settings, organization, admin, idp):
    settings.SINGLE_SIGN_ON_ALLOW_HTTP = False
    with pytest.raises(RecoveryError) as refused:
        services.save_single_sign_on(organization, by=admin, issuer=idp.issuer, client_id="x", client_secret="y",
                                     email_domain="example.com")
    assert "issuer" in refused.value.field_errors
    settings.SINGLE_SIGN_ON_ALLOW_HTTP = True
    with pytest.raises(RecoveryError) as refused:
        services.save_single_sign_on(organization, by=admin, issuer=idp.issuer + "/nothing-here", client_id="x",
                                     client_secret="y", email_domain="example.com")
    assert "issuer" in refused.value.field_errors


def test_an_email_domain_belongs_to_one_organization(settings, sign_on, idp):
    rival = factories.OrganizationFactory(name="Rival", slug="rival")
    rival_admin = factories.UserFactory(username="rita", organization=rival, role="admin")

    with pytest.raises(RecoveryError) as refused:
        services.save_single_sign_on(rival, by=rival_admin, issuer=idp.issuer, client_id="x", client_secret="y",
                                     email_domain="EXAMPLE.com")

    assert "email_domain" in refused.value.field_errors


def test_the_settings_page_shows_the_redirect_address_and_keeps_what_was_typed(settings, client, admin, idp):
    settings.SINGLE_SIGN_ON_ALLOW_HTTP = True
    client.force_login(admin)
    page = client.get("/settings/single-sign-on/").content.decode()
    assert "/accounts/sso/harbour/login/callback/" in page

    answer = client.post("/settings/single-sign-on/", {"issuer": idp.issuer + "/nothing-here", "client_id": "abc",
                                                        "client_secret": "s", "email_domain": "example.com",
                                                        "active": "on"})

    assert answer.status_code == 400 and 'value="abc"' in answer.content.decode()
    saved = client.post("/settings/single-sign-on/", {"issuer": idp.issuer, "client_id": idp.client_id,
                                                       "client_secret": idp.client_secret,
                                                       "email_domain": "example.com", "active": "on"})
    assert saved.status_code == 302
    assert idp.client_secret not in client.get("/settings/single-sign-on/").content.decode()
