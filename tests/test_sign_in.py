"""Signing in: throttling a stranger cannot turn against the people who work here, and password reset.

Failures are counted by django-axes in the database, per name *and* address together, with a slower
ceiling per address over every name (recovery/sign_in.py)."""

import datetime

import pytest
from axes.models import AccessAttempt
from django.test import Client

from tests import factories
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

SHOP = "203.0.113.10"  # the shop's one public address
ELSEWHERE = "198.51.100.7"
LOAD_BALANCER = "10.0.0.2"


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def sign_in(username, password, address=SHOP, forwarded=None, path="/login/"):
    """One attempt from a fresh browser; the answer, with `.signed_in` set."""
    browser = Client()
    headers = {"REMOTE_ADDR": address}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    answer = browser.post(path, {"login": username, "password": password}, **headers)
    answer.signed_in = "_auth_user_id" in browser.session
    return answer


def fail(times, username, **where):
    for _ in range(times):
        assert not sign_in(username, "wrong-guess", **where).signed_in


# --- A name tried from one address ------------------------------------------------------------


def test_a_colleague_behind_the_same_address_signs_in_after_a_strangers_failures_for_a_made_up_name(frontline):
    fail(8, "nobody-here")

    assert sign_in("fran", PASSWORD).signed_in


def test_behind_our_proxy_a_colleague_with_another_forwarded_address_signs_in_after_failures_for_their_name(
    frontline, settings
):
    settings.TRUSTED_PROXY_COUNT = 1
    fail(6, "fran", address=LOAD_BALANCER, forwarded="192.0.2.50")
    assert sign_in("fran", PASSWORD, address=LOAD_BALANCER, forwarded="192.0.2.50").status_code == 429

    assert sign_in("fran", PASSWORD, address=LOAD_BALANCER, forwarded=SHOP).signed_in


def test_the_named_person_signs_in_from_their_own_device_after_a_strangers_failures_against_their_name(frontline):
    fail(8, "fran", address=ELSEWHERE)

    assert sign_in("fran", PASSWORD, address=SHOP).signed_in


def test_the_name_is_counted_whatever_its_case_and_spaces(frontline):
    for guess in ["Fran", "FRAN", " fran", "fRaN ", "fran"]:
        fail(1, guess)

    assert sign_in("fran", PASSWORD).status_code == 429


def test_the_admins_sign_in_refuses_the_right_password_after_repeated_failures_from_one_address(organization):
    factories.UserFactory(username="ops", organization=None, is_staff=True, is_superuser=True)
    admin_sign_in = Client().get("/admin/login/?next=/admin/")
    assert admin_sign_in.status_code == 302 and admin_sign_in["Location"].startswith("/login/?next=")
    assert not sign_in("ops", PASSWORD, path="/admin/login/").signed_in  # its own password form is not offered
    fail(12, "ops")

    answer = sign_in("ops", PASSWORD)

    assert answer.status_code == 429 and not answer.signed_in
    assert sign_in("ops", PASSWORD, address=ELSEWHERE).signed_in


def test_the_locked_out_page_says_what_to_do_and_not_whether_the_name_exists(frontline):
    fail(5, "fran")
    fail(5, "nobody-here")

    real, made_up = sign_in("fran", PASSWORD), sign_in("nobody-here", PASSWORD)

    assert real.status_code == made_up.status_code == 429
    assert real.content == made_up.content
    page = real.content.decode()
    assert "wait 15 minutes" in page and "reset your password" in page and 'href="/accounts/password/reset/"' in page
    assert "<nav" in page or "Recovery" in page  # the product's own page, not a bare message


def test_the_lockout_lasts_fifteen_minutes_from_the_last_failure_and_tries_meanwhile_do_not_extend_it(
    frontline, clock_at_start
):
    fail(5, "fran")
    clock_at_start.shift(datetime.timedelta(minutes=10))
    assert sign_in("fran", PASSWORD).status_code == 429  # a try while locked
    clock_at_start.shift(datetime.timedelta(minutes=4, seconds=59))
    assert sign_in("fran", PASSWORD).status_code == 429

    clock_at_start.shift(datetime.timedelta(seconds=2))
    assert sign_in("fran", PASSWORD).signed_in


def test_each_failure_after_a_lockout_doubles_the_next_one_and_signing_in_starts_afresh(frontline, clock_at_start):
    fail(5, "fran")
    clock_at_start.shift(datetime.timedelta(minutes=15, seconds=1))
    fail(1, "fran")  # the sixth

    clock_at_start.shift(datetime.timedelta(minutes=29, seconds=58))
    waiting = sign_in("fran", PASSWORD)
    assert waiting.status_code == 429 and "wait 1 minute and" in waiting.content.decode()
    clock_at_start.shift(datetime.timedelta(seconds=3))
    assert sign_in("fran", PASSWORD).signed_in
    fail(4, "fran")
    assert sign_in("fran", PASSWORD).signed_in


def test_the_locked_out_page_says_how_long_is_left(frontline, clock_at_start):
    fail(5, "fran")
    clock_at_start.shift(datetime.timedelta(minutes=10))

    assert "wait 5 minutes" in sign_in("fran", PASSWORD).content.decode()


# --- Where a request comes from ---------------------------------------------------------------


def test_without_trusted_proxies_a_spoofed_forwarded_header_does_not_change_the_counted_address(frontline):
    for number in range(5):
        fail(1, "fran", forwarded=f"192.0.2.{number}")

    assert sign_in("fran", PASSWORD, forwarded="192.0.2.99").status_code == 429
    assert sign_in("fran", PASSWORD, address=ELSEWHERE, forwarded=SHOP).signed_in


def test_behind_one_proxy_only_the_entry_it_wrote_counts_not_what_the_client_put_before_it(frontline, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for number in range(5):
        fail(1, "fran", address=LOAD_BALANCER, forwarded=f"192.0.2.{number}, {ELSEWHERE}")

    assert sign_in("fran", PASSWORD, address=LOAD_BALANCER, forwarded=ELSEWHERE).status_code == 429
    assert sign_in("fran", PASSWORD, address=LOAD_BALANCER, forwarded=SHOP).signed_in


# --- Spraying: one address, many names --------------------------------------------------------


@pytest.fixture
def low_ceiling(settings):
    settings.SIGN_IN_ADDRESS_FAILURE_LIMIT = 8


def test_spraying_many_names_from_one_address_meets_the_ceiling_even_with_a_right_password(
    frontline, manager, low_ceiling
):
    for number in range(8):
        fail(1, f"guess{number}", address=ELSEWHERE)

    assert sign_in("mona", PASSWORD, address=ELSEWHERE).status_code == 429
    assert sign_in("mona", PASSWORD, address=SHOP).signed_in  # from anywhere else, as usual


def test_the_attackers_own_sign_in_does_not_reset_the_ceiling(organization, manager, low_ceiling):
    factories.UserFactory(username="mallory", organization=organization)
    for number in range(7):
        fail(1, f"guess{number}", address=ELSEWHERE)
    assert sign_in("mallory", PASSWORD, address=ELSEWHERE).signed_in
    fail(1, "guess7", address=ELSEWHERE)

    assert sign_in("mona", PASSWORD, address=ELSEWHERE).status_code == 429


def test_staff_who_sign_in_from_this_address_are_not_held_by_a_strangers_spraying_here(
    frontline, manager, low_ceiling, clock_at_start
):
    assert sign_in("fran", PASSWORD, address=SHOP).signed_in  # yesterday, at work
    clock_at_start.shift(datetime.timedelta(days=1))
    for number in range(10):
        fail(1, f"guess{number}", address=SHOP)

    assert sign_in("fran", PASSWORD, address=SHOP).signed_in
    assert sign_in("mona", PASSWORD, address=SHOP).status_code == 429  # never signed in from here


# --- Password reset ---------------------------------------------------------------------------


def ask_for_reset(email, address=SHOP):
    return Client().post("/accounts/password/reset/", {"email": email}, REMOTE_ADDR=address, follow=True)


def test_the_login_page_links_to_the_password_reset(client):
    page = client.get("/login/").content.decode()
    assert 'href="/accounts/password/reset/"' in page and "Forgot your password?" in page
    assert client.get("/accounts/password/reset/").status_code == 200


def test_a_reset_for_a_known_address_sends_one_email_and_an_unknown_one_none_with_the_same_page(
    frontline, mailoutbox
):
    known = ask_for_reset("Fran@Example.com")
    assert len(mailoutbox) == 1
    unknown = ask_for_reset("nobody@example.com")
    assert len(mailoutbox) == 1

    assert known.redirect_chain == unknown.redirect_chain == [("/accounts/password/reset/sent/", 302)]
    assert known.content == unknown.content
    assert "If an account uses that address, we have sent a link" in known.content.decode()
    (mail,) = mailoutbox
    assert mail.to == ["fran@example.com"]
    assert "\n" not in mail.subject and "\r" not in mail.subject


def test_the_emailed_link_is_on_the_sites_address_sets_a_new_password_and_works_once(
    frontline, mailoutbox, settings
):
    settings.SITE_URL = "https://recovery.example.com"
    settings.ALLOWED_HOSTS = ["testserver", "evil.example.net"]  # a host the site answers, not its own
    Client().post("/accounts/password/reset/", {"email": "fran@example.com"}, HTTP_HOST="evil.example.net")
    (mail,) = mailoutbox
    link = next(line for line in mail.body.splitlines() if "/accounts/password/" in line).strip()
    assert link.startswith("https://recovery.example.com/accounts/password/")
    path = link.removeprefix("https://recovery.example.com")

    browser = Client()
    page = browser.get(path, follow=True)
    assert b"Choose your password" in page.content
    answer = browser.post(page.redirect_chain[-1][0], {"new_password1": "a-new-pass-phrase-7",
                                                       "new_password2": "a-new-pass-phrase-7"})
    assert answer.status_code == 302
    assert sign_in("fran", "a-new-pass-phrase-7").signed_in
    used = Client().get(path, follow=True).content.decode()
    assert "has been used already or is too old" in used and 'href="/accounts/password/reset/"' in used


def test_an_expired_reset_link_shows_the_clear_page(frontline, mailoutbox, clock_at_start, settings):
    ask_for_reset("fran@example.com")
    link = next(line for line in mailoutbox[0].body.splitlines() if "/accounts/password/" in line).strip()
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    clock_at_start.shift(datetime.timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 1))

    page = Client().get(path, follow=True)

    assert page.status_code == 200 and b"has been used already or is too old" in page.content
    assert AccessAttempt.objects.get().failures_since_start == 1  # counted like a failed sign-in


def test_guessing_reset_links_from_one_address_is_stopped(frontline, settings):
    for guess in range(settings.SIGN_IN_ADDRESS_FAILURE_LIMIT):
        Client().get(f"/accounts/password/MQ/guess-{guess}/", REMOTE_ADDR=SHOP)

    assert Client().get("/accounts/password/MQ/one-more/", REMOTE_ADDR=SHOP).status_code == 429
    assert Client().get("/accounts/password/MQ/one-more/", REMOTE_ADDR=ELSEWHERE).status_code == 200


def test_inactive_people_and_those_without_a_password_get_no_email(organization, mailoutbox):
    factories.UserFactory(username="gone", email="gone@example.com", organization=organization, is_active=False)
    never = factories.UserFactory(username="pending", email="pending@example.com", organization=organization)
    never.set_unusable_password()
    never.save()

    first, second = ask_for_reset("gone@example.com"), ask_for_reset("pending@example.com")

    assert mailoutbox == []
    assert first.content == second.content == ask_for_reset("nobody@example.com").content


def test_reset_requests_are_limited_per_address_they_come_from(organization, mailoutbox, settings):
    for number in range(settings.PASSWORD_RESET_REQUESTS_PER_HOUR):
        factories.UserFactory(username=f"p{number}", email=f"p{number}@example.com", organization=organization)
        assert ask_for_reset(f"p{number}@example.com").redirect_chain
    factories.UserFactory(username="late", email="late@example.com", organization=organization)

    refused = ask_for_reset("late@example.com")

    assert not refused.redirect_chain and "Too many reset requests" in refused.content.decode()
    assert len(mailoutbox) == settings.PASSWORD_RESET_REQUESTS_PER_HOUR
    assert ask_for_reset("late@example.com", address=ELSEWHERE).redirect_chain
    assert len(mailoutbox) == settings.PASSWORD_RESET_REQUESTS_PER_HOUR + 1


def test_one_persons_inbox_gets_a_few_reset_emails_an_hour_however_many_addresses_ask(
    frontline, mailoutbox, settings, clock_at_start
):
    answers = [ask_for_reset("fran@example.com", address=f"192.0.2.{number}") for number in range(8)]

    assert len(mailoutbox) == settings.PASSWORD_RESET_REQUESTS_PER_HOUR
    assert len({answer.content for answer in answers}) == 1  # the same page, sent or not
    clock_at_start.shift(datetime.timedelta(hours=1, seconds=1))
    ask_for_reset("fran@example.com", address="192.0.2.200")
    assert len(mailoutbox) == settings.PASSWORD_RESET_REQUESTS_PER_HOUR + 1
