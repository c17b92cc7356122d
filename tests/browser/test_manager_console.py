"""A manager's shift in real Chromium: the patterns on the heatmap, a cluster's incidents, a reassignment
and a gesture approved, on the seeded demo data."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from incidents import demo
from incidents.models import Gesture, Incident, User
from tests.browser.conftest import ARTIFACTS
from tests.factories import PASSWORD

DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def demo_manager(transactional_db):
    demo.seed(timezone.now())
    manager = User.objects.get(username="manager")
    manager.set_password(PASSWORD)  # the log_in fixture types the test password
    manager.save()
    return manager


def watch_console(page):
    """Script errors and CSP violations; the browser's own favicon request (no icon yet) is not ours."""
    errors = []

    def on_console(message):
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            errors.append(f"{message.text} at {message.location.get('url')}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_manager_finds_the_pattern_and_acts_on_open_recoveries(page, live_server, log_in, screenshot, demo_manager):
    errors = watch_console(page)
    page.set_viewport_size(DESKTOP)
    log_in(demo_manager)

    # The trends: the planted Wednesday-afternoon pattern is outlined on the heatmap and called out.
    page.goto(f"{live_server.url}/manage/trends/")
    cluster = page.locator(".clusters li.cluster.time").first
    expect(cluster).to_contain_text(re.compile(r"Wed 15:00–16:00 at Riverside: \d+ incidents, [\d.]+× the usual rate"))
    expect(page.locator(".clusters li.cluster.category").first).to_contain_text("Coffee machine in the North region")
    wednesday_3pm = page.locator('svg.heatmap a.cell[data-weekday="Wed"][data-hour="15"]')
    expect(wednesday_3pm.locator("rect.marked")).to_have_count(1)
    counts = [int(value) for value in page.locator("svg.heatmap a.cell").evaluate_all(
        "cells => cells.map(cell => cell.getAttribute('data-count'))")]
    assert int(wednesday_3pm.get_attribute("data-count")) == max(counts)
    expect(page.locator("svg.bars").first).to_be_visible()
    screenshot("manager-trends")

    # Drill into the cluster: exactly its incidents, all on Wednesdays at 15:xx in Riverside.
    observed = int(re.search(r": (\d+) incidents", cluster.inner_text()).group(1))
    cluster.get_by_role("link").click()
    page.wait_for_url(re.compile(r".*/manage/incidents/\?.*weekday=3.*hour=15"))
    expect(page.locator("p.muted").first).to_contain_text(f"{observed} incidents")
    logged = page.locator("table.incidents tbody tr td:nth-child(3)").all_inner_texts()  # after the tick column
    assert logged and all(re.match(r"Wed \d+ \w+ 15:\d\d", text) for text in logged)
    screenshot("manager-cluster-incidents")

    # Open recoveries: the late taxi first; reassign it to Jamie.
    page.goto(f"{live_server.url}/manage/")
    late_row = page.locator("tr.clock-late").filter(has_text="Taxi booked by reception never came")
    expect(late_row).to_have_count(1)
    expect(page.locator("table.open tbody tr").first).to_have_class(re.compile("clock-late"))
    late_row.locator("summary").click()  # the row's actions unfold from one compact control
    late_row.get_by_label("Reassign to").select_option(label="Jamie Fox")
    late_row.get_by_role("button", name="Reassign").click()
    expect(page.locator(".message")).to_contain_text("now belongs to Jamie Fox")
    taxi = Incident.objects.get(summary="Taxi booked by reception never came")
    assert taxi.owner.username == "jamie"

    # The champagne went over Frankie's budget: the strip at the top says a decision waits; approve it there.
    strip = page.locator("section.decisions")
    expect(strip).to_contain_text("Champagne for the wedding party")
    strip.get_by_role("button", name=re.compile("Approve the gesture")).click()
    expect(page.locator(".message")).to_contain_text("Champagne for the wedding party")
    expect(page.locator("table.open")).not_to_contain_text("Over budget: Champagne")
    expect(page.locator("section.decisions")).not_to_contain_text("Champagne")
    assert Gesture.objects.get(description="Champagne for the wedding party").approval == Gesture.Approval.APPROVED
    screenshot("manager-open-recoveries")

    # The scorecard, per location, sorted by incidents.
    page.goto(f"{live_server.url}/manage/scorecard/?sort=logged&dir=desc")
    expect(page.locator("table.scorecard thead th[aria-sort=descending]")).to_contain_text("Incidents")
    logged = [int(text.split()[0]) for text in page.locator("table.scorecard tbody td:nth-of-type(1)").all_inner_texts()]
    assert len(logged) == 3 and logged == sorted(logged, reverse=True)
    screenshot("manager-scorecard")

    # On a phone the console still works: the table scrolls sideways inside its frame.
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(f"{live_server.url}/manage/")
    expect(page.locator("table.open")).to_be_visible()
    screenshot("manager-open-recoveries-phone")
    page.screenshot(path=str(ARTIFACTS / "manager-open-recoveries-phone-top.png"))  # what the first screen shows
    assert errors == []
