"""Two-factor sign-in: turning it on, the code at every sign-in, wrong and replayed codes, recovery
codes, and an organization requiring it of its managers and admins."""

import time

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.test import Client

from organization_settings import services
from tests.factories import PASSWORD

SHOP = "198.51.100.20"


def code_now(secret, offset=0):
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30 + offset))


@pytest.fixture
def with_authenticator(frontline):
    secret = generate_totp_secret()
    TOTP.activate(frontline, secret)
    return secret


def password_step(client, username="fran"):
    return client.post("/login/", {"login": username, "password": PASSWORD}, REMOTE_ADDR=SHOP)


def signed_in(client):
    return "_auth_user_id" in client.session


def test_with_an_authenticator_the_password_alone_does_not_sign_in(client, with_authenticator):
    answer = password_step(client)

    assert answer.status_code == 302 and answer["Location"] == "/accounts/2fa/authenticate/"
    assert not signed_in(client)
    page = client.get("/accounts/2fa/authenticate/")
    assert page.status_code == 200 and 'autocomplete="one-time-code"' in page.content.decode()

    done = client.post("/accounts/2fa/authenticate/", {"code": code_now(with_authenticator)}, REMOTE_ADDR=SHOP)

    assert done.status_code == 302 and signed_in(client)


def test_a_wrong_code_is_refused_clearly_and_counted(client, with_authenticator):
    from axes.models import AccessAttempt

    password_step(client)
    answer = client.post("/accounts/2fa/authenticate/", {"code": "000000"}, REMOTE_ADDR=SHOP)

    assert answer.status_code == 200 and not signed_in(client)
    assert "That code is not right" in answer.content.decode()
    assert AccessAttempt.objects.get(username="fran", ip_address=SHOP).failures_since_start == 1


def test_a_code_cannot_be_used_twice(with_authenticator):
    first = Client()
    password_step(first)
    code = code_now(with_authenticator)
    first.post("/accounts/2fa/authenticate/", {"code": code}, REMOTE_ADDR=SHOP)
    assert signed_in(first)

    second = Client()
    password_step(second)
    answer = second.post("/accounts/2fa/authenticate/", {"code": code}, REMOTE_ADDR=SHOP)

    assert not signed_in(second) and "used already" in answer.content.decode()


def test_guessing_codes_locks_the_name_at_that_address_even_for_the_right_code(client, with_authenticator):
    password_step(client)
    for guess in ["111111", "222222", "333333", "444444", "555555"]:
        client.post("/accounts/2fa/authenticate/", {"code": guess}, REMOTE_ADDR=SHOP)

    answer = client.post("/accounts/2fa/authenticate/", {"code": code_now(with_authenticator)}, REMOTE_ADDR=SHOP)

    assert not signed_in(client) and answer.status_code in (200, 429)
    assert "wait" in answer.content.decode().lower()


def test_a_recovery_code_signs_in_once(frontline, with_authenticator):
    codes = RecoveryCodes.activate(frontline).generate_codes()
    browser = Client()
    password_step(browser)
    browser.post("/accounts/2fa/authenticate/", {"code": codes[0]}, REMOTE_ADDR=SHOP)
    assert signed_in(browser)

    again = Client()
    password_step(again)
    again.post("/accounts/2fa/authenticate/", {"code": codes[0]}, REMOTE_ADDR=SHOP)
    assert not signed_in(again)


def confirm_password(client, then):
    """Changing two-factor asks for the password again first; answer it and come back to `then`."""
    asked = client.get(then)
    assert asked.status_code == 302 and asked["Location"].startswith("/accounts/reauthenticate/")
    client.post(asked["Location"], {"password": PASSWORD})
    return client.get(then)


def test_a_person_turns_it_on_from_their_account(client, frontline):
    assert password_step(client)["Location"] == "/"
    page = confirm_password(client, "/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    secret = page.context["form"].secret

    wrong = client.post("/accounts/2fa/totp/activate/", {"code": "123456"})
    assert wrong.status_code == 200 and not Authenticator.objects.filter(user=frontline).exists()
    client.post("/accounts/2fa/totp/activate/", {"code": code_now(secret)})

    assert Authenticator.objects.filter(user=frontline, type=Authenticator.Type.TOTP).exists()
    assert Authenticator.objects.filter(user=frontline, type=Authenticator.Type.RECOVERY_CODES).exists()


# --- An organization that requires it of managers and admins ------------------------------------------


@pytest.fixture
def required(organization, admin):
    services.update_organization(organization, by=admin, two_factor_required=True)


def test_a_manager_without_two_factor_is_sent_to_set_it_up(client, manager, required):
    client.post("/login/", {"login": "mona", "password": PASSWORD})

    for path in ["/", "/manage/", "/settings/"]:
        answer = client.get(path)
        assert answer.status_code == 302 and answer["Location"] == "/accounts/2fa/totp/activate/", path
    assert confirm_password(client, "/accounts/2fa/totp/activate/").status_code == 200


def test_frontline_staff_are_not_asked_to(client, frontline, required):
    client.post("/login/", {"login": "fran", "password": PASSWORD})

    assert client.get("/").status_code == 200


def test_once_set_up_the_manager_goes_on_and_cannot_turn_it_off(client, manager, required):
    secret = generate_totp_secret()
    TOTP.activate(manager, secret)
    client.post("/login/", {"login": "mona", "password": PASSWORD})
    client.post("/accounts/2fa/authenticate/", {"code": code_now(secret)})
    assert client.get("/manage/").status_code == 200
    confirm_password(client, "/accounts/2fa/totp/deactivate/")

    answer = client.post("/accounts/2fa/totp/deactivate/")

    assert Authenticator.objects.filter(user=manager, type=Authenticator.Type.TOTP).exists()
    assert answer.status_code == 200 and "cannot be turned off" in answer.content.decode()


def test_someone_signed_in_without_a_password_here_sets_it_up_without_being_asked_for_one(client, frontline):
    frontline.set_unusable_password()  # signs in through the organization's identity provider
    frontline.save()
    client.force_login(frontline)

    assert client.get("/accounts/2fa/totp/activate/").status_code == 200


def test_only_an_admin_may_require_it(organization, manager):
    from incidents.services import NotAllowed

    with pytest.raises(NotAllowed):
        services.update_organization(organization, by=manager, two_factor_required=True)
    organization.refresh_from_db()
    assert not organization.two_factor_required


def test_while_the_shared_cache_is_away_app_codes_wait_and_recovery_codes_work(frontline, with_authenticator,
                                                                                 monkeypatch):
    from allauth.mfa.totp.internal import auth as totp_auth
    from redis.exceptions import ConnectionError as RedisAway

    def away(*args, **kwargs):
        raise RedisAway("Redis is away")

    monkeypatch.setattr(totp_auth.cache, "add", away)
    codes = RecoveryCodes.activate(frontline).generate_codes()
    browser = Client()
    password_step(browser)

    answer = browser.post("/accounts/2fa/authenticate/", {"code": code_now(with_authenticator)}, REMOTE_ADDR=SHOP)
    assert answer.status_code == 200 and "cannot be checked just now" in answer.content.decode()
    assert not signed_in(browser)
    browser.post("/accounts/2fa/authenticate/", {"code": codes[0]}, REMOTE_ADDR=SHOP)
    assert signed_in(browser)
