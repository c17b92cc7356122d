"""The customer's story and the care flag's period in real Chromium, at a desk and on a phone."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from incidents import services
from incidents.models import Customer, User
from tests import factories
from tests.browser.accessibility import assert_accessible
from tests.browser.conftest import PHONE
from tests.insights.conftest import make_incident

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DAY = datetime.timedelta(days=1)


@pytest.fixture
def story():
    """Grace, a regular of Harbour Hotels: three earlier recoveries with gestures, a flag cleared once, and
    today's failure at Riverside."""
    organization = factories.OrganizationFactory(name="Harbour Hotels", slug="harbour", currency="GBP")
    riverside = factories.LocationFactory(organization=organization, name="Riverside", code="riverside")
    frankie = factories.UserFactory(username="frontline", first_name="Frankie", last_name="Lane",
                                    organization=organization, locations=[riverside], discretion_budget=Decimal("500"))
    grace = factories.CustomerFactory(organization=organization, name="Grace Hopper", lifetime_value=Decimal("12000"))
    now = timezone.now()
    for days_ago, summary, outcome, cost in ((200, "Breakfast arrived 40 minutes late", "champion", "35"),
                                             (120, "Charged twice for the minibar", "retained", "45"),
                                             (30, "Room not ready at check-in time", "partial", "160")):
        make_incident(at=now - days_ago * DAY, location=riverside, owner=frankie, customer=grace, apology=2,
                      fix=10, wrap_up=30, outcome=outcome, gesture_cost=cost, summary=summary)
    services.clear_care_flag(Customer.objects.get(pk=grace.pk), by=frankie, now=now - 20 * DAY)
    today = factories.log_incident(user=frankie, location=riverside, customer=grace, now=now - datetime.timedelta(minutes=4),
                                   summary="Wi-Fi dropped during a video call")
    return frankie, grace, today


def _visit(page, live_server, log_in, frankie, grace, today, screenshot, prefix, width=None):
    log_in(frankie, page)
    page.goto(f"{live_server.url}/incidents/{today.reference}/")
    section = page.locator("[data-customer-story]")
    expect(section).to_be_visible()
    expect(section.locator("[data-story-recovery]")).to_have_count(3)
    expect(section).to_contain_text("Room not ready at check-in time")
    expect(section).to_contain_text("3 gestures, 240.00 GBP")
    expect(section).to_contain_text("12,000.00 GBP")
    expect(section).to_contain_text("Raised by this failure")
    if width:
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(f"{prefix}-incident-story")
    assert_accessible(page)

    expect(section.get_by_role("link", name=today.reference)).to_have_count(0)
    page.get_by_role("link", name="Grace Hopper").first.click()
    page.wait_for_url(f"{live_server.url}/customers/{grace.pk}/")
    expect(page.locator("[data-care-banner]")).to_contain_text("Wi-Fi dropped during a video call")
    expect(page.locator("[data-care-history]")).to_contain_text("shows until")
    customer_story = page.locator("[data-customer-story]")
    expect(customer_story.locator("[data-story-recovery]")).to_have_count(4)
    if width:
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(f"{prefix}-customer-story")
    assert_accessible(page)

    page.get_by_role("button", name="Served with care: clear the flag").click()
    expect(page.locator("[data-care-banner]")).to_be_hidden()
    expect(page.locator("[data-care-history]")).to_contain_text("cleared by Frankie Lane")
    expect(page.locator("[data-story-care-flag]")).to_contain_text("cleared by Frankie Lane")
    screenshot(f"{prefix}-customer-cleared")
    assert_accessible(page)


def test_the_customer_s_story_at_a_desk(page, live_server, log_in, screenshot, story):
    _visit(page, live_server, log_in, *story, screenshot, "desk")


def test_the_customer_s_story_on_a_phone(browser, live_server, log_in, screenshot, story):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    _visit(page, live_server, log_in, *story, lambda name: screenshot(name, page), "phone", width=PHONE["width"])
    context.close()


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desk", "phone"])
def test_an_admin_sets_how_long_a_care_flag_lasts(browser, live_server, log_in, screenshot, story, viewport):
    frankie = story[0]
    admin = factories.UserFactory(username="alex", organization=frankie.organization, role=User.Role.ADMIN)
    context = browser.new_context(**({"viewport": viewport} if viewport else {}))
    page = log_in(admin, context.new_page())
    page.goto(f"{live_server.url}/settings/")
    field = page.get_by_label("A customer's care flag lasts (days)")
    expect(field).to_have_value("90")
    field.fill("0")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("A care flag lasts at least 1 day.")).to_be_visible()
    expect(page.get_by_label("A customer's care flag lasts (days)")).to_have_value("0")
    name = "desk" if viewport is None else "phone"
    screenshot(f"{name}-settings-care-flag-error", page)
    assert_accessible(page)

    page.get_by_label("A customer's care flag lasts (days)").fill("30")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("The organization's settings are saved.")).to_be_visible()
    frankie.organization.refresh_from_db()
    assert frankie.organization.care_flag_days == 30
    context.close()
