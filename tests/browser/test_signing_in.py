"""Signing in, in real Chromium: through the organization's own identity provider (a local OpenID Connect
provider), with an authenticator app set up from the page's secret, and back in after a forgotten
password with the link from an email a real SMTP server received. Each page on the way is photographed
at desktop and phone size (tests/artifacts/signing-in-*.png); on a phone none may scroll sideways."""

import re
import time

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from playwright.sync_api import expect

from tests import factories
from tests.browser.conftest import PHONE
from tests.smtp_server import SMTPServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 800}
TOTP_PERIOD = 30


@pytest.fixture
def smtp(settings):
    """The app sends its mail over SMTP to a server of the test's own, as it would to a real relay."""
    with SMTPServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = server.host
        settings.EMAIL_PORT = server.port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        yield server


@pytest.fixture
def desktop(browser):
    """A page of its own at desktop size, closed after the test (passed or not), so it asks the live server
    for nothing once the test's database is gone."""
    page = browser.new_page(viewport=DESKTOP)
    yield page
    page.close()


@pytest.fixture
def clock():
    """The app's clock and the codes computed here agree: time stands still unless the test moves it,
    a few seconds into a 30-second period of the authenticator app's."""
    start = (int(time.time()) // TOTP_PERIOD) * TOTP_PERIOD + 5
    with time_machine.travel(start, tick=False) as traveller:
        yield traveller


def authenticator_code(secret):
    """What an authenticator app shows now for this secret (RFC 6238: six digits, 30-second periods)."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // TOTP_PERIOD))


def photograph(page, screenshot, name):
    """Desktop and phone screenshots of the page as it is; on a phone nothing may stick out sideways."""
    page.set_viewport_size(DESKTOP)
    screenshot(f"signing-in-{name}", page)
    page.set_viewport_size(PHONE)
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= PHONE["width"], f"{name} is {scroll_width}px wide on a phone"
    screenshot(f"signing-in-{name}-phone", page)
    page.set_viewport_size(DESKTOP)


def signed_in_as(page, name):
    expect(page.get_by_role("navigation", name="Main")).to_contain_text(name)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_single_sign_on_signs_in_a_member_of_staff_and_refuses_a_stranger(
    desktop, live_server, screenshot, sign_on, idp, organization, location, clock
):
    factories.UserFactory(username="fran", first_name="Fran", organization=organization, locations=[location],
                          email="fran@example.com")
    page = desktop
    page.goto(f"{live_server.url}/login/")
    page.get_by_role("link", name="Sign in with your organization (single sign-on)").click()
    photograph(page, screenshot, "single-sign-on")

    # An address whose organization has no single sign-on is told so on the page.
    page.get_by_label("Work email").fill("fran@elsewhere.example")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("Single sign-on is not set up for that address.")).to_be_visible()
    expect(page.get_by_label("Work email")).to_have_value("fran@elsewhere.example")
    photograph(page, screenshot, "single-sign-on-not-set-up")

    # Fran, on the staff with the email her provider vouches for, lands signed in on the home page.
    idp.sign_in_as("idp-fran", "fran@example.com", name="Fran Taylor")
    page.get_by_label("Work email").fill("fran@example.com")
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="My open recoveries")).to_be_visible()
    signed_in_as(page, "Fran")
    assert ("GET", "/jwks") in idp.requests_seen  # the ID token's signature was checked
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{live_server.url}/login/")

    # Someone whose email is not on the staff is refused by name, and not signed in.
    idp.sign_in_as("idp-stranger", "stranger@example.com")
    page.get_by_role("link", name="Sign in with your organization (single sign-on)").click()
    page.get_by_label("Work email").fill("stranger@example.com")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="You are not signed in")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("stranger@example.com is not on the staff of Harbour Hotels")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    photograph(page, screenshot, "single-sign-on-refused")


def test_an_answer_no_sign_in_asked_for_signs_nobody_in(desktop, live_server, screenshot, sign_on):
    page = desktop
    page.goto(f"{live_server.url}/accounts/sso/harbour/login/callback/?code=made-up&state=made-up")
    expect(page.get_by_role("heading", name="You are not signed in")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    photograph(page, screenshot, "not-signed-in")
    page.get_by_role("link", name="Try single sign-on again").click()
    expect(page.get_by_label("Work email")).to_be_visible()


def confirm_password(page, screenshot=None):
    """Changing two-factor asks for the password once more."""
    expect(page.get_by_label("Your password")).to_be_visible()
    if screenshot:
        photograph(page, screenshot, "reauthenticate")
    page.get_by_label("Your password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Confirm").click()


def test_an_authenticator_app_is_set_up_and_asked_for_at_every_sign_in(
    desktop, live_server, screenshot, log_in, organization, location, clock
):
    fran = factories.UserFactory(username="fran", first_name="Fran", organization=organization, locations=[location])
    page = desktop
    page.goto(f"{live_server.url}/login/")
    photograph(page, screenshot, "login")
    log_in(fran, page)
    signed_in_as(page, "Fran")

    # She sets up an authenticator app: the secret is on the page under the QR code, which fits a phone.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Fran Taylor").click()
    expect(page.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()
    expect(page.get_by_role("region", name="Authenticator app")).to_contain_text("Off.")
    photograph(page, screenshot, "two-factor-off")
    page.get_by_role("link", name="Set up an authenticator app").click()
    confirm_password(page, screenshot)
    qr_code = page.get_by_role("img", name=re.compile("QR code"))
    expect(qr_code).to_be_visible()
    photograph(page, screenshot, "totp-activate")
    page.set_viewport_size(PHONE)
    box = qr_code.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] and box["width"] >= 150, box
    page.set_viewport_size(DESKTOP)
    secret = page.locator("#authenticator_secret").input_value()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
    # A mistyped code is refused and nothing is turned on.
    right = authenticator_code(secret)
    page.get_by_label("Authenticator code").fill(f"{(int(right) + 1) % 10**6:06d}")
    page.get_by_role("button", name="Activate").click()
    expect(page.locator(".field.has-error")).to_contain_text("code")
    assert not Authenticator.objects.filter(user=fran).exists()
    assert page.locator("#authenticator_secret").input_value() == secret  # the same secret, to try again
    photograph(page, screenshot, "totp-activate-wrong-code")
    page.get_by_label("Authenticator code").fill(right)
    page.get_by_role("button", name="Activate").click()

    # Her recovery codes are shown once it is on, to keep somewhere safe.
    page.wait_for_url(f"{live_server.url}/accounts/2fa/recovery-codes/")
    codes = page.get_by_label("Unused codes").input_value().split()
    assert len(codes) == 10 and all(re.fullmatch(r"[0-9a-f]{8}", code) for code in codes), codes
    photograph(page, screenshot, "recovery-codes")
    page.get_by_role("link", name="Done").click()
    expect(page.get_by_role("region", name="Authenticator app")).to_contain_text("On.")
    expect(page.get_by_role("region", name="Recovery codes")).to_contain_text("10 of 10 unused")
    photograph(page, screenshot, "two-factor-on")
    assert Authenticator.objects.filter(user=fran, type=Authenticator.Type.TOTP).exists()

    # Later she signs out, and signs in with her username and password: the code is asked for.
    clock.shift(60 * 60)
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("fran")
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/accounts/2fa/authenticate/")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)  # not signed in yet
    photograph(page, screenshot, "two-factor-authenticate")

    # A wrong code is refused with a clear error, and she is still not in.
    right = authenticator_code(secret)
    page.get_by_label("Authenticator code").fill(f"{(int(right) + 1) % 10**6:06d}")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".field.has-error")).to_contain_text("code")
    expect(page.get_by_label("Authenticator code")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    photograph(page, screenshot, "two-factor-authenticate-wrong-code")
    page.get_by_label("Authenticator code").fill(right)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
    signed_in_as(page, "Fran")


def test_new_recovery_codes_replace_the_old_and_two_factor_can_be_turned_off(
    desktop, live_server, screenshot, log_in, organization, location, clock
):
    fran = factories.UserFactory(username="fran", first_name="Fran", organization=organization, locations=[location])
    page = desktop
    log_in(fran, page)
    page.goto(f"{live_server.url}/accounts/2fa/")
    page.get_by_role("link", name="Set up an authenticator app").click()
    confirm_password(page)
    secret = page.locator("#authenticator_secret").input_value()
    page.get_by_label("Authenticator code").fill(authenticator_code(secret))
    page.get_by_role("button", name="Activate").click()
    first_codes = page.get_by_label("Unused codes").input_value().split()

    # New recovery codes replace the old ones.
    page.get_by_role("link", name="Make new codes").click()
    expect(page.get_by_text("The 10 unused codes you have now stop working.")).to_be_visible()
    photograph(page, screenshot, "recovery-codes-generate")
    page.get_by_role("button", name="Make new codes").click()
    page.wait_for_url(f"{live_server.url}/accounts/2fa/recovery-codes/")
    new_codes = page.get_by_label("Unused codes").input_value().split()
    assert len(new_codes) == 10 and not set(new_codes) & set(first_codes)

    # Turning it off: signing in asks for the password only.
    page.goto(f"{live_server.url}/accounts/2fa/")
    page.get_by_role("link", name="Turn off").click()
    expect(page.get_by_role("heading", name="Turn off the authenticator app")).to_be_visible()
    photograph(page, screenshot, "totp-deactivate")
    page.get_by_role("button", name="Turn off").click()
    page.wait_for_url(f"{live_server.url}/accounts/2fa/")
    expect(page.get_by_role("status").filter(has_text="Two-factor sign-in is off.")).to_be_visible()
    expect(page.get_by_role("region", name="Authenticator app")).to_contain_text("Off.")
    assert not Authenticator.objects.filter(user=fran).exists()

    page.goto(f"{live_server.url}/logout/")
    photograph(page, screenshot, "logout")
    page.get_by_role("button", name="Log out").last.click()
    page.wait_for_url(f"{live_server.url}/login/")
    log_in(fran, page)
    page.wait_for_url(f"{live_server.url}/")
    signed_in_as(page, "Fran")


def test_a_forgotten_password_is_reset_from_the_emailed_link(
    desktop, live_server, screenshot, settings, smtp, organization, location
):
    settings.SITE_URL = live_server.url
    factories.UserFactory(username="mona", first_name="Mona", organization=organization, locations=[location],
                          role="manager", email="mona@example.com")
    page = desktop
    page.goto(f"{live_server.url}/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    photograph(page, screenshot, "password-reset")
    page.get_by_label("Email").fill("Mona@Example.com")
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    photograph(page, screenshot, "password-reset-sent")

    (received,) = smtp.messages
    assert received.recipients == ["mona@example.com"]
    assert received.message["Subject"] == "Choose a new password for Recovery"
    (link,) = re.findall(r"https?://\S+", received.text)
    assert link.startswith(f"{live_server.url}/accounts/password/")

    page.goto(link)
    expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
    # Two passwords that differ are pointed out, and the link still works for the next try.
    page.get_by_label("New password", exact=True).fill("harbour-lights-at-dusk-7")
    page.get_by_label("New password confirmation").fill("harbour-lights-at-dawn-7")
    page.get_by_role("button", name="Save my password").click()
    expect(page.get_by_text("The two password fields didn’t match.")).to_be_visible()
    photograph(page, screenshot, "password-reset-choose")
    page.get_by_label("New password", exact=True).fill("harbour-lights-at-dusk-7")
    page.get_by_label("New password confirmation").fill("harbour-lights-at-dusk-7")
    page.get_by_role("button", name="Save my password").click()
    expect(page.get_by_role("heading", name="Your password is saved")).to_be_visible()
    photograph(page, screenshot, "password-reset-done")

    # The link works once.
    page.goto(link)
    expect(page.get_by_text("This link has been used already or is too old.")).to_be_visible()
    photograph(page, screenshot, "password-reset-used-link")

    # The old password no longer signs her in; the new one does.
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("mona")
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    photograph(page, screenshot, "login-wrong-password")
    page.get_by_label("Password").fill("harbour-lights-at-dusk-7")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/manage/")  # a manager lands on the console
    signed_in_as(page, "Mona")
