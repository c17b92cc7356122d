"""A manager turns the demo's Wednesday-afternoon cluster into a problem, works it through a corrective action
and a fix, and a month later, with no incident of the pattern since, is told it is fixed: in real Chromium,
on the seeded demo data, the live server on the same moved clock as the test."""

import datetime
import re

import pytest
import time_machine
from playwright.sync_api import expect

from incidents import demo
from incidents.models import User
from problems.models import CorrectiveAction, Problem, ProblemIncident, Status
from tests.browser.conftest import ARTIFACTS
from tests.factories import PASSWORD

DESKTOP = {"width": 1280, "height": 900}
# A Tuesday morning in winter (London is on UTC): the demo's eight weeks end here.
START = datetime.datetime(2026, 12, 1, 10, 0, tzinfo=datetime.timezone.utc)


def watch_console(page):
    errors = []

    def on_console(message):
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            errors.append(f"{message.text} at {message.location.get('url')}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


@pytest.fixture
def clock():
    """Time runs from START (the live server reads the same clock) until the test moves it."""
    with time_machine.travel(START, tick=True) as traveller:
        yield traveller


@pytest.fixture
def demo_manager(transactional_db, clock):
    demo.seed(START)
    manager = User.objects.get(username="manager")
    manager.set_password(PASSWORD)  # the log_in fixture types the test password
    manager.save()
    return manager


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_cluster_becomes_a_problem_that_is_fixed_a_month_later(page, live_server, log_in, screenshot, demo_manager, clock):
    errors = watch_console(page)
    page.set_viewport_size(DESKTOP)
    log_in(demo_manager)

    # The trends: the Riverside cluster, one click.
    page.goto(f"{live_server.url}/manage/trends/")
    cluster = page.locator(".clusters li.cluster.time").filter(has_text="Wed 15:00–16:00 at Riverside")
    expect(cluster).to_have_count(1)
    observed = int(re.search(r": (\d+) incidents", cluster.inner_text()).group(1))
    cluster.get_by_role("button", name="Open a problem").click()
    page.wait_for_url(re.compile(r".*/manage/problems/\d+/$"))
    problem = Problem.objects.get()
    expect(page.get_by_role("heading", level=1)).to_have_text("Wed 15:00–16:00 at Riverside")
    expect(page.locator("header.problem-head")).to_contain_text("Wed 15:00–16:00 at Riverside")
    linked = ProblemIncident.objects.filter(problem=problem, how=ProblemIncident.How.AT_START).count()
    assert linked == observed and problem.owner == demo_manager and problem.usual_per_day > 0
    screenshot("problem-opened")

    # Back on the trends page the cluster leads to its problem; the open problems are listed.
    page.goto(f"{live_server.url}/manage/trends/")
    expect(cluster).to_contain_text("A problem is open for this: Wed 15:00–16:00 at Riverside")
    expect(cluster.get_by_role("button", name="Open a problem")).to_have_count(0)
    expect(page.locator("section.open-problems")).to_contain_text("Wed 15:00–16:00 at Riverside")
    screenshot("problem-on-trends")
    cluster.get_by_role("link", name="Wed 15:00–16:00 at Riverside", exact=True).click()
    page.wait_for_url(f"{live_server.url}/manage/problems/{problem.pk}/")

    # A corrective action, then done.
    today = START.date()
    add = page.locator("form#add-action")
    add.get_by_label("What will be changed").fill("A second cook on Wednesday afternoons")
    # The edit form above has an Owner of its own with the same element id, so the label cannot tell them apart.
    add.locator("select[name=owner]").select_option(label="Morgan Reyes")
    add.get_by_label("Due").fill((today + datetime.timedelta(days=7)).isoformat())
    add.get_by_role("button", name="Add action").click()
    row = page.locator("#actions table tbody tr").filter(has_text="A second cook on Wednesday afternoons")
    expect(row).to_have_count(1)

    # Whoever opens one of its incidents now sees that the cause is known and what is being done.
    incident = problem.incidents.order_by("-logged_at").first()
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(f"{live_server.url}/incidents/{incident.reference}/")
    known = page.locator("section.known-problem")
    expect(known).to_contain_text("Known problem: Wed 15:00–16:00 at Riverside")
    expect(known).to_contain_text(f"A second cook on Wednesday afternoons — Morgan Reyes, due {(today + datetime.timedelta(days=7)).day} Dec")
    page.screenshot(path=str(ARTIFACTS / "problem-on-incident-phone.png"))
    page.set_viewport_size(DESKTOP)
    known.get_by_role("link", name="Wed 15:00–16:00 at Riverside").click()
    page.wait_for_url(f"{live_server.url}/manage/problems/{problem.pk}/")
    row.get_by_role("button", name="Done").click()
    expect(row.get_by_role("button", name="Done")).to_have_count(0)
    assert CorrectiveAction.objects.get().done_at is not None

    # The fix, made today: too early to tell.
    fix = page.locator("form#fix")
    fix.get_by_label("The fix was made on").fill(today.isoformat())
    fix.locator("textarea[name=confirmed_cause]").fill("One cook on the Wednesday afternoon shift")
    fix.get_by_role("button", name="Mark the fix done").click()
    expect(page.locator("p.verdict")).to_contain_text("too early to tell")
    problem.refresh_from_db()
    assert problem.status == Status.WATCHING
    screenshot("problem-fix-marked")

    # Four weeks on, with no incident of the pattern since: the manager comes back (signing in again, the
    # session has run out) and the verdict says fixed.
    clock.move_to(START + datetime.timedelta(weeks=4, hours=1))
    page.reload()
    if "/login/" in page.url:
        log_in(demo_manager)
        page.goto(f"{live_server.url}/manage/problems/{problem.pk}/")
    verdict = page.locator("p.verdict")
    expect(verdict).to_contain_text(re.compile(
        r"Since the change on 1 Dec: 0 incidents in 4 weeks where \d+ were expected at the old rate: fixed\."))
    expect(verdict).to_have_class(re.compile(r"\bfixed\b"))
    screenshot("problem-fixed")

    # The console counts it (open until closed) and nothing overdue.
    page.goto(f"{live_server.url}/manage/")
    expect(page.locator(".problem-counts")).to_contain_text("Problems: 1 open, no corrective action overdue.")
    assert errors == []
