"""The frontline flow in real Chromium: log a failure in one short form and be walked to an outcome."""

import datetime
import re
import time

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from incidents import services
from incidents.models import Incident
from tests import factories
from tests.browser.conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def staff():
    organization = factories.OrganizationFactory(name="Harbour Hotels", slug="harbour")
    location = factories.LocationFactory(organization=organization, name="Riverside", code="riverside")
    user = factories.UserFactory(username="frontline", first_name="Frankie", last_name="Lane",
                                 organization=organization, locations=[location])
    return user


def seconds_in(text):
    """'19:58 min left' -> 1198; 'late' readings are negative."""
    match = re.match(r"(\d+):(\d\d) min (left|late)", text)
    assert match, text
    seconds = int(match.group(1)) * 60 + int(match.group(2))
    return seconds if match.group(3) == "left" else -seconds


def log_a_failure(page, name, summary):
    page.get_by_role("link", name="Log a failure").first.click()
    page.get_by_label("Customer's name").fill(name)
    page.get_by_label("What happened").fill(summary)
    page.get_by_role("button", name="Log it and start the clock").click()
    page.wait_for_url(re.compile(r"/incidents/R-\d+/$"))


def test_log_a_failure_and_walk_every_step_to_an_outcome(page, live_server, log_in, screenshot, staff):
    page.clock.install()
    log_in(staff)
    expect(page.get_by_role("heading", name="My open recoveries")).to_be_visible()

    # One form, only the required fields: name, what happened (channel and location have defaults).
    posts = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    started = time.perf_counter()
    log_a_failure(page, "Grace Hopper", "The room was not ready at check-in")
    print(f"\nLogging a failure: {len(posts)} form submitted, {time.perf_counter() - started:.2f} s in Chromium")
    assert [url.removeprefix(live_server.url) for url in posts] == ["/log/"]
    incident = Incident.objects.get()
    assert incident.owner == staff and incident.customer.name == "Grace Hopper"
    expect(page.get_by_text("the clock has started")).to_be_visible()

    # The clock counts down in the page, not only on reload.
    clock = page.locator("#window-clock")
    reading = clock.inner_text()
    first = seconds_in(reading)
    assert 1150 < first <= 1200
    page.clock.fast_forward("00:30")
    expect(clock).not_to_have_text(reading)
    second = seconds_in(clock.inner_text())
    assert first - 35 <= second <= first - 29
    screenshot("frontline-incident-new")

    # 1. Apology: the coach marks policy language as it is typed, and never blocks saving.
    apology = page.locator("#apology-form")
    apology.get_by_label("What you said").press_sequentially("I'm sorry, but it's our policy to clean rooms by 3pm.")
    coach = apology.locator("[data-coach-output]")
    expect(coach).to_be_visible()
    expect(coach).to_contain_text("it's our policy")
    expect(coach).to_contain_text("Let me see what I can do for you.")
    screenshot("frontline-apology-coach")
    apology.get_by_role("button", name="Save the apology").click()
    expect(page.get_by_text("The coach noted")).to_be_visible()

    # 2. Review.
    review = page.locator("#review-form")
    expect(review).to_be_visible()
    review.get_by_label("Their account of what happened").fill("Waited an hour in the lobby with two tired children")
    review.get_by_label("What they lost (time, money, face in front of others)").fill("An hour")
    review.get_by_label("What they need for a good outcome").fill("A room now")
    review.get_by_role("button", name="Save the review").click()

    # 3. Fix, with something extra within my budget.
    fix = page.locator("#fix-form")
    expect(fix).to_be_visible()
    expect(page.locator("[data-budget]")).to_contain_text("50.00 USD")
    fix.get_by_label("What was done").fill("Moved them to a ready suite")
    fix.get_by_label("It is fixed").check()
    fix.get_by_label("Something extra (optional)").select_option("gift")
    fix.get_by_label("What you gave").fill("Ice creams for the children")
    fix.get_by_label("What it cost").fill("60")
    expect(page.locator("[data-over-budget]")).to_be_visible()
    fix.get_by_label("What it cost").fill("12")
    expect(page.locator("[data-over-budget]")).to_be_hidden()
    fix.get_by_role("button", name="Save the fix").click()
    expect(page.get_by_text("Fix saved.")).to_be_visible()
    expect(page.get_by_text(re.compile("Met: responded at"))).to_be_visible()

    # 4. Document: busyness pre-filled where known.
    deposition = page.locator("#deposition-form")
    expect(deposition).to_be_visible()
    deposition.get_by_label("How busy we were").select_option("peak")
    deposition.get_by_label("The customer's circumstances").fill("Family arriving after a long flight")
    deposition.get_by_label("What went wrong, as far as known").fill("Housekeeping short of two people")
    deposition.get_by_role("button", name="Save the deposition").click()

    # The wrap-up note starts from a draft that names the customer.
    follow_up = page.locator("#follow_up-form")
    expect(follow_up).to_be_visible()
    expect(follow_up.get_by_label("Note", exact=True)).to_have_value(re.compile("Grace"))
    follow_up.get_by_role("button", name="Save the follow-up").click()

    # The outcome closes the recovery.
    outcome = page.locator("#outcome-form")
    expect(outcome).to_be_visible()
    outcome.get_by_label("Champion").check()
    outcome.get_by_label("The customer's satisfaction (optional)").select_option("5")
    outcome.get_by_role("button", name="Close the recovery").click()
    expect(page.locator("p.closed")).to_contain_text("Closed: Champion")
    screenshot("frontline-incident-closed")
    incident.refresh_from_db()
    assert incident.closed_at is not None and incident.resolution.outcome == "champion"
    assert incident.apology.coach_flags[0]["phrase"] == "it's our policy"

    page.get_by_role("link", name="My recoveries").click()
    expect(page.get_by_text("Nothing open. Well done.")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def test_on_a_phone_find_a_flagged_customer_log_and_see_the_clock(browser, live_server, log_in, screenshot, staff):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.clock.install()
    customer = factories.CustomerFactory(organization=staff.organization, name="Ada Lovelace", phone="07700 900123")
    factories.log_incident(user=staff, customer=customer, summary="Soup arrived cold")
    log_in(staff, page)
    expect(page.locator(".recovery .clock")).to_have_text(re.compile(r"min left"))
    screenshot("phone-home", page)

    page.get_by_role("link", name="Log a failure").first.click()
    page.get_by_label("Customer's name").press_sequentially("Ada")
    match = page.get_by_role("button", name=re.compile("Ada Lovelace"))
    expect(match).to_contain_text("take special care")
    screenshot("phone-customer-search", page)
    match.click()
    banner = page.locator("[data-care-banner]")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Soup arrived cold")
    expect(page.get_by_label("Phone (optional)")).to_be_hidden()
    page.get_by_label("What happened").fill("Charged twice for the room")
    page.get_by_label("How the customer reached us").select_option("phone")
    screenshot("phone-log-form", page)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.get_by_role("button", name="Log it and start the clock").click()
    page.wait_for_url(re.compile(r"/incidents/R-\d+/$"))
    assert Incident.objects.filter(customer=customer).count() == 2

    clock = page.locator("#window-clock")
    first = seconds_in(clock.inner_text())
    page.clock.fast_forward("02:00")
    expect(clock).to_have_text(re.compile(rf"^{(first - 120) // 60}:"))
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot("phone-incident", page)

    page.get_by_label("Find a customer").fill("Lovelace")
    page.get_by_label("Find a customer").press("Enter")
    # The header's box searches incidents too: the customer's own link, not her incidents'.
    page.get_by_role("link", name="Ada Lovelace", exact=True).click()
    expect(page.locator("[data-care-banner]")).to_contain_text("is recovering from a failure")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot("phone-customer", page)
    context.close()


def test_a_name_typed_while_the_scripts_still_load_is_searched_when_they_arrive(page, live_server, log_in, staff):
    factories.CustomerFactory(organization=staff.organization, name="Grace Hopper")
    log_in(staff)
    held = []
    # A slow phone: the page is on screen and typed into before its scripts have run (app.js is
    # deferred behind the words catalog, held here until the name is typed).
    page.route("**/jsi18n/", lambda route: held.append(route))
    page.goto(f"{live_server.url}/log/", wait_until="commit")
    page.get_by_label("Customer's name").press_sequentially("Grace")
    assert len(held) == 1 and not page.get_by_role("button", name=re.compile("Grace Hopper")).count()
    held[0].continue_()
    expect(page.get_by_role("button", name=re.compile("Grace Hopper"))).to_be_visible()


def test_the_log_form_works_from_the_keyboard_alone(page, live_server, log_in, staff):
    log_in(staff)
    page.get_by_role("link", name="Log a failure").first.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/log/")
    page.get_by_label("Customer's name").focus()
    page.keyboard.type("Alan Turing")
    page.keyboard.press("Tab")  # phone
    page.keyboard.press("Tab")  # email
    page.keyboard.press("Tab")  # what happened
    page.keyboard.type("Breakfast order lost")
    page.keyboard.press("Enter")  # a new line in the textarea, not a submit
    page.get_by_role("button", name="Log it and start the clock").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/incidents/R-\d+/$"))
    assert Incident.objects.get().summary.startswith("Breakfast order lost")


def test_a_second_reviewer_sees_the_step_changed_and_keeps_their_words(page, live_server, log_in, staff):
    incident = factories.log_incident(user=staff)
    services.record_apology(incident, by=staff, channel="in_person", text="First words")
    log_in(staff)
    page.goto(f"{live_server.url}/incidents/{incident.reference}/")
    page.locator("#apology summary").click()
    services.record_apology(incident, by=staff, channel="phone", text="Someone else's words", expected_version=1)
    page.locator("#apology-form").get_by_label("What you said").fill("My better words")
    page.locator("#apology-form").get_by_role("button", name="Save the apology").click()
    expect(page.get_by_text("Someone else saved this apology")).to_be_visible()
    expect(page.locator(".current")).to_contain_text("Someone else's words")
    expect(page.locator("#apology-form").get_by_label("What you said")).to_have_value("My better words")


def test_a_manager_adds_a_coach_phrase_on_a_phone_and_the_coach_marks_it_while_typing(
    browser, live_server, log_in, screenshot, staff
):
    manager = factories.UserFactory(username="manager", organization=staff.organization, role="manager",
                                    locations=list(staff.locations.all()))
    incident = factories.log_incident(user=staff)
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    log_in(manager, page)
    page.get_by_role("button", name="Menu").click()  # on a phone, Settings is folded under the header's Menu
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Coach phrases").click()
    page.get_by_label("Phrase", exact=True).fill("calm down")
    page.get_by_label("Kind").select_option("dismissive")
    page.get_by_label("Warmer wording").fill("I can see why you're upset.")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("The coach's phrase list is saved.")).to_be_visible()
    expect(page.get_by_role("cell", name="calm down", exact=True)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot("phone-coach-phrases", page)

    page.goto(f"{live_server.url}/incidents/{incident.reference}/")
    page.locator("#apology-form").get_by_label("What you said").press_sequentially("Please calm down, sir.")
    expect(page.locator("[data-coach-output]")).to_contain_text("I can see why you're upset.")
    context.close()


def test_an_incomplete_log_form_says_what_is_missing_and_keeps_what_was_typed(page, live_server, log_in, screenshot, staff):
    log_in(staff)
    page.goto(f"{live_server.url}/log/")
    page.get_by_label("Category (optional)").fill("Room service")
    page.get_by_role("button", name="Log it and start the clock").click()
    expect(page.get_by_text("Type the customer's name, or pick them from the list.")).to_be_visible()
    expect(page.get_by_label("What happened")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Category (optional)")).to_have_value("Room service")
    screenshot("frontline-log-errors")
    assert not Incident.objects.exists()


def test_home_puts_the_late_recovery_first_and_marks_it(page, live_server, log_in, screenshot, staff):
    factories.log_incident(user=staff, summary="Breakfast was cold")
    late = factories.log_incident(user=staff, summary="Wrong room key", now=timezone.now() - datetime.timedelta(minutes=25))
    page.clock.install()
    log_in(staff)
    first = page.locator(".recovery").first
    expect(first).to_contain_text(late.reference)
    expect(first).to_have_class(re.compile("late"))
    expect(first.locator(".clock")).to_have_text(re.compile(r"^\d+:\d\d min late$"))
    page.clock.fast_forward("01:00")
    assert seconds_in(first.locator(".clock").inner_text()) <= -(25 * 60 - 20 * 60 + 60)
    screenshot("frontline-home")
