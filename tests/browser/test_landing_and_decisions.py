"""A working day in real Chromium, at a desk and on a 375 px phone: a manager signs in onto the console with
what waits for their decision at the top; frontline staff see their late recovery first and their overdue
wrap-ups saying so; the console's rows are short, and a gesture left waiting when its recovery closes lapses
where both the giver and the manager see it."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from incidents import services
from incidents.models import Gesture
from tests import factories
from tests.browser.accessibility import assert_accessible
from tests.browser.conftest import ARTIFACTS, PHONE
from tests.support.working_day import working_day

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 900}
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}


@pytest.fixture
def riverside():
    organization = factories.OrganizationFactory(name="Harbour Hotels", slug="harbour")
    location = factories.LocationFactory(organization=organization, name="Riverside", code="riverside")
    frontline = factories.UserFactory(username="frontline", first_name="Frankie", last_name="Lane",
                                      organization=organization, locations=[location])
    manager = factories.UserFactory(username="manager", first_name="Morgan", last_name="Reyes", role="manager",
                                    organization=organization, locations=[location])
    day = working_day(owner=frontline, manager=manager, location=location)
    # The manager owns one recovery of their own too, and 12 more open recoveries fill the console.
    mine = factories.log_incident(user=manager, location=location, summary="Spa booking lost", now=timezone.now())
    for n in range(12):
        factories.log_incident(user=frontline, location=location, summary=f"Minibar not restocked in room {n}")
    return {"frontline": frontline, "manager": manager, "mine": mine, **day}


@pytest.mark.parametrize("size", VIEWPORTS)
def test_a_manager_signs_in_onto_the_console_with_the_decision_waiting_at_the_top(
        page, live_server, log_in, screenshot, riverside, size):
    page.set_viewport_size(VIEWPORTS[size])
    log_in(riverside["manager"])
    expect(page).to_have_url(f"{live_server.url}/manage/")
    expect(page.get_by_role("heading", name="Open recoveries", level=1)).to_be_visible()
    expect(page.get_by_text("Nothing open. Well done.")).to_have_count(0)
    strip = page.locator("section.decisions")
    expect(strip.get_by_role("heading", name="Needs your decision")).to_be_visible()
    expect(strip).to_contain_text("1 gesture over budget to approve or refuse")
    expect(strip).to_contain_text("Champagne for the wedding party")
    expect(strip).to_contain_text("1 recovery late on the twenty-minute clock")
    expect(strip).to_contain_text("6 promises to customers past their time")
    # The decision is on the first screen, above the filters and the table.
    approve = strip.get_by_role("button", name=re.compile("Approve the gesture"))
    box = approve.bounding_box()
    assert box["y"] + box["height"] <= VIEWPORTS[size]["height"], box
    assert box["y"] < page.locator("table.open").bounding_box()["y"]
    page.screenshot(path=str(ARTIFACTS / f"working-day-console-top-{size}.png"))  # the first screen alone
    assert_accessible(page)
    # My own recovery is one link away.
    page.get_by_role("link", name="My own recovery (1)").click()
    expect(page.locator(".recovery")).to_have_count(1)
    expect(page.locator(".recovery").first).to_contain_text(riverside["mine"].reference)
    assert_accessible(page)
    page.go_back()
    page.locator("section.decisions").get_by_role("button", name=re.compile("Approve the gesture")).click()
    expect(page.locator(".message")).to_contain_text("Champagne for the wedding party")
    expect(page.locator("section.decisions")).not_to_contain_text("Champagne")
    assert Gesture.objects.get(description="Champagne for the wedding party").approval == Gesture.Approval.APPROVED
    screenshot(f"working-day-console-decided-{size}")


@pytest.mark.parametrize("size", VIEWPORTS)
def test_frontline_see_the_late_recovery_first_and_overdue_wrap_ups_saying_so(
        page, live_server, log_in, screenshot, riverside, size):
    page.set_viewport_size(VIEWPORTS[size])
    log_in(riverside["frontline"])
    expect(page).to_have_url(f"{live_server.url}/")
    cards = page.locator(".recovery")
    first = cards.first
    expect(first).to_contain_text(riverside["late"].reference)
    expect(first).to_have_class(re.compile(r"\blate\b"))
    expect(first.locator(".due")).to_contain_text("Fix or follow up within the window")
    # Next the overdue wrap-ups, marked and each saying what is due and since when.
    for n in range(1, 7):
        card = cards.nth(n)
        expect(card).to_have_class(re.compile(r"\boverdue\b"))
        expect(card.locator(".due")).to_contain_text(re.compile(r"Wrap-up note\s+overdue by \d+ days\s+was due \w{3} \d+ \w{3}, \d\d:\d\d"))
    # Then the running clocks, soonest due first; the check-backs due tomorrow after them.
    expect(cards.nth(7)).to_contain_text(riverside["running"].reference)
    expect(cards.nth(7).locator(".due")).to_contain_text(re.compile(r"\d+:\d\d min left"))
    expect(cards.filter(has_text=riverside["check_back"].reference).locator(".due")).to_contain_text(re.compile(r"Check back after the fix\s+due in \d+ h \d\d min"))
    screenshot(f"working-day-frontline-{size}")
    assert_accessible(page)


@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_console_rows_are_short_and_a_waiting_gesture_lapses_visibly_on_close(
        page, live_server, log_in, screenshot, riverside, browser, size):
    page.set_viewport_size(VIEWPORTS[size])
    log_in(riverside["manager"])
    rows = page.locator("table.open tbody tr")
    count = rows.count()
    assert count >= 20
    table = page.locator("table.open").bounding_box()
    # One compact action per row instead of two full forms: a row is a line or two (a card on a phone).
    per_row = table["height"] / count
    print(f"\n{size}: the table is {table['height']:.0f} px for {count} rows, {per_row:.0f} px a row; "
          f"the page {page.evaluate('document.documentElement.scrollHeight')} px")
    assert per_row < (80 if size == "desktop" else 190), per_row
    generous = rows.filter(has_text=riverside["generous"].reference)
    expect(generous.locator(".decision-waits")).to_have_text("Decision waits")
    generous.locator("summary").click()
    expect(generous.get_by_label("Reassign to")).to_be_visible()
    expect(generous.get_by_role("button", name="Approve")).to_be_visible()
    screenshot(f"working-day-console-rows-{size}")
    assert_accessible(page)

    # Frankie closes the wedding party's recovery while the champagne still waits for a decision.
    incident = riverside["generous"]
    frankie = riverside["frontline"]
    services.record_deposition(incident, by=frankie, root_cause="Kitchen", circumstances="Busy", busyness="busy")
    services.record_follow_up(incident, by=frankie, kind="wrap_up", channel="email", note="Thank you")
    services.record_outcome(incident, by=frankie, outcome="retained")
    page.goto(f"{live_server.url}/manage/")
    expect(page.locator("section.decisions")).not_to_contain_text("Champagne")
    page.goto(f"{live_server.url}/notifications/")
    expect(page.get_by_text(re.compile(r"gesture “Champagne for the wedding party” lapsed undecided")).first).to_be_visible()
    assert_accessible(page)

    # The giver sees it too, on the incident and in their inbox.
    giver = browser.new_page(viewport=VIEWPORTS[size])
    log_in(frankie, giver)
    giver.goto(f"{live_server.url}/incidents/{incident.reference}/")
    expect(giver.locator(".approval.lapsed")).to_have_text("Lapsed: the recovery closed before a decision")
    giver.goto(f"{live_server.url}/notifications/")
    expect(giver.get_by_text(re.compile("lapsed undecided")).first).to_be_visible()
    screenshot(f"working-day-lapsed-inbox-{size}", giver)
    giver.close()
