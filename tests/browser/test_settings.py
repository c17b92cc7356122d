"""An organization admin sets up in real Chromium: invites a manager, who chooses a password from the
email and signs in with their address."""

import pytest
from playwright.sync_api import expect

from incidents.models import User
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_invites_a_manager_who_signs_in_from_the_email(
    browser, live_server, log_in, screenshot, eager_celery, mailoutbox
):
    organization = factories.OrganizationFactory(name="Harbour Hotels", slug="harbour")
    factories.LocationFactory(organization=organization, name="Riverside", code="riverside")
    admin = factories.UserFactory(username="alex", first_name="Alex", organization=organization, role="admin")
    page = log_in(admin, browser.new_page())

    page.get_by_role("link", name="Settings").click()
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Staff").click()
    page.get_by_label("Email").fill("sam@example")
    page.get_by_label("First name").fill("Samira")
    page.get_by_label("Role").select_option("manager")
    page.get_by_label("Riverside").check()
    page.get_by_role("button", name="Send the invitation").click()
    # A typo is pointed out and nothing typed is lost.
    expect(page.get_by_text("Enter a valid email address.")).to_be_visible()
    expect(page.get_by_label("First name")).to_have_value("Samira")
    expect(page.get_by_label("Riverside")).to_be_checked()
    page.get_by_label("Email").fill("sam@example.com")
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.get_by_text("Invitation sent to sam@example.com.")).to_be_visible()
    expect(page.get_by_role("row", name="Samira sam@example.com Manager Riverside Invited")).to_be_visible()
    screenshot("settings-staff-invited", page)

    (mail,) = mailoutbox
    link = next(line.strip() for line in mail.body.splitlines() if "/accounts/password/" in line)
    invited = browser.new_page()
    invited.goto(live_server.url + "/" + link.split("://", 1)[1].split("/", 1)[1])
    invited.get_by_label("New password", exact=True).fill("river-side-phrase-42")
    invited.get_by_label("New password confirmation").fill("river-side-phrase-42")
    invited.get_by_role("button", name="Save my password").click()
    invited.get_by_role("link", name="log in").click()
    invited.get_by_label("Username").fill("sam@example.com")
    invited.get_by_label("Password").fill("river-side-phrase-42")
    invited.get_by_role("button", name="Log in").click()
    expect(invited.get_by_role("link", name="Manage")).to_be_visible()
    assert User.objects.get(email="sam@example.com").role == "manager"
    # Closed here, so neither page asks the live server for anything after the test's database is gone.
    page.close()
    invited.close()
