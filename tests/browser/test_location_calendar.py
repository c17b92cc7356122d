"""An admin sets a location's business calendar in real Chromium, at desktop width and on a 375 px phone: a
mistake is pointed out on its day with everything typed kept, then the week, a closed Sunday, an
exception and the public holidays are saved."""

import datetime

import pytest
from playwright.sync_api import expect

from incidents.models import CalendarException, Location, WeeklySpan
from tests import factories
from tests.browser.accessibility import assert_accessible
from tests.browser.conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("viewport, name", [({"width": 1280, "height": 900}, "desktop"), (PHONE, "phone")])
def test_an_admin_keeps_a_bars_hours_with_a_closed_sunday_an_exception_and_holidays(
        browser, live_server, log_in, screenshot, viewport, name):
    organization = factories.OrganizationFactory(name="Harbour Hotels", slug="harbour")
    bar = factories.LocationFactory(organization=organization, name="Quayside Bar", code="quayside",
                                    timezone="Europe/London")
    admin = factories.UserFactory(username="alex", organization=organization, role="admin")
    page = log_in(admin, browser.new_page(viewport=viewport))
    page.goto(f"{live_server.url}/settings/locations/{bar.pk}/")
    expect(page.get_by_label("Monday")).to_have_value("09:00–18:00")  # the default week

    for day in ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]:
        page.get_by_label(day).fill("12:00–15:00, 18:00–02:00")
    page.get_by_label("Thursday").fill("12:00–15:00, 14:00–02:00")  # overlaps
    page.get_by_label("Sunday").fill("")
    page.get_by_label("Closed on the public holidays of").select_option("GB")
    next_christmas_eve = datetime.date(datetime.date.today().year, 12, 24)
    if next_christmas_eve < datetime.date.today():
        next_christmas_eve = next_christmas_eve.replace(year=next_christmas_eve.year + 1)
    page.get_by_label("Date").first.fill(next_christmas_eve.isoformat())
    page.get_by_label("Open (empty: closed all day)").first.fill("12:00–16:00")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_text("12:00–15:00 and 14:00–02:00 overlap")).to_be_visible()
    expect(page.get_by_label("Thursday")).to_have_value("12:00–15:00, 14:00–02:00")
    expect(page.get_by_label("Friday")).to_have_value("12:00–15:00, 18:00–02:00")
    expect(page.get_by_label("Date").first).to_have_value(next_christmas_eve.isoformat())
    assert not WeeklySpan.objects.filter(location=bar).exists()  # nothing half-saved
    assert_accessible(page)
    screenshot(f"location-calendar-refused-{name}", page)

    page.get_by_label("Thursday").fill("12:00–15:00, 18:00–02:00")
    page.get_by_label("Region (for its own holidays)").select_option("ENG")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Quayside Bar is saved.")).to_be_visible()
    expect(page.get_by_role("cell", name="Mon–Sat 12:00–15:00, 18:00–02:00 · Sun closed")).to_be_visible()
    saved = Location.objects.get(pk=bar.pk)
    assert (saved.holiday_country, saved.holiday_subdivision) == ("GB", "ENG")
    assert WeeklySpan.objects.filter(location=bar).count() == 12
    assert CalendarException.objects.get(location=bar).closes == datetime.time(16)
    assert_accessible(page)

    page.goto(f"{live_server.url}/settings/locations/{bar.pk}/")
    expect(page.get_by_label("Sunday")).to_have_value("")
    assert_accessible(page)
    screenshot(f"location-calendar-{name}", page)
