"""A working day in the app, in real Chromium at a desktop's width and a phone's: when a failure happened,
the header on a phone, the trends in plain words, a step refused for its order, and the small words."""

import datetime
import re
import zoneinfo

import pytest
import time_machine
from playwright.sync_api import expect

from incidents import services
from incidents.models import Incident
from tests import factories
from tests.browser.accessibility import assert_accessible
from tests.browser.conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 900}
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
# A Wednesday, 18:05 in New York: the end of a day shift. (Ahead of today, so the login cookie is fresh.)
EVENING = datetime.datetime(2027, 1, 6, 18, 5, tzinfo=NEW_YORK)


@pytest.fixture(params=["desktop", "phone"])
def width(request):
    return request.param


@pytest.fixture
def sized(browser, width):
    """A page at the parameter's width (a phone is touch and mobile, as a real one)."""
    if width == "phone":
        context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    else:
        context = browser.new_context(viewport=DESKTOP)
    yield context.new_page()
    context.close()


@pytest.fixture
def evening():
    with time_machine.travel(EVENING, tick=True):
        yield


@pytest.fixture
def hotel():
    organization = factories.OrganizationFactory(name="Harbour Hotels", slug="harbour")
    riverside = factories.LocationFactory(organization=organization, name="Riverside", code="riverside",
                                          timezone="America/New_York", region="East coast")
    factories.LocationFactory(organization=organization, name="Lakeside", code="lakeside",
                              timezone="America/New_York", region="Great Lakes")
    frontline = factories.UserFactory(username="frontline", first_name="Frankie", last_name="Lane",
                                      organization=organization, locations=[riverside])
    manager = factories.UserFactory(username="manager", first_name="Morgan", last_name="Reyes", role="manager",
                                    organization=organization, locations=list(organization.locations.all()))
    return {"frontline": frontline, "manager": manager, "riverside": riverside}


def fits(page):
    return page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


# --- 4. When it happened ------------------------------------------------------------------------------


def test_a_failure_logged_at_the_end_of_a_shift_keeps_the_hour_it_happened(
        sized, width, live_server, log_in, screenshot, hotel, evening):
    page = sized
    log_in(hotel["frontline"], page)
    page.goto(f"{live_server.url}/log/")
    when = page.get_by_role("group", name="When it happened")
    expect(when.get_by_label("Day")).to_have_value("0")  # today
    expect(when.get_by_label("Time")).to_have_value("18:05")  # now, in the location's time
    assert_accessible(page)

    page.get_by_label("Customer's name").fill("Grace Hopper")
    page.get_by_label("What happened").fill("Breakfast order lost")
    # In the future: refused, and what was typed stays.
    when.get_by_label("Time").fill("19:30")
    page.get_by_role("button", name="Log it and start the clock").click()
    expect(page.get_by_text("Cannot be in the future.")).to_be_visible()
    expect(page.get_by_label("Time")).to_have_value("19:30")
    expect(page.get_by_label("Customer's name")).to_have_value("Grace Hopper")
    assert not Incident.objects.exists()
    # Not a time at all.
    page.get_by_label("Time").fill("half past")
    page.get_by_role("button", name="Log it and start the clock").click()
    expect(page.get_by_text("Write the time as on a 24-hour clock, e.g. 14:30.")).to_be_visible()
    expect(page.get_by_label("Time")).to_have_value("half past")
    assert_accessible(page)
    screenshot(f"working-day-log-errors-{width}", page)

    # Yesterday at half past two in the afternoon, as the person remembers it.
    page.get_by_label("Day").select_option(label="Yesterday")
    page.get_by_label("Time").fill("2:30 pm")
    page.get_by_role("button", name="Log it and start the clock").click()
    page.wait_for_url(re.compile(r"/incidents/R-\d+/$"))
    incident = Incident.objects.get()
    assert incident.occurred_at == datetime.datetime(2027, 1, 5, 14, 30, tzinfo=NEW_YORK)
    assert incident.logged_at.astimezone(NEW_YORK).date() == datetime.date(2027, 1, 6)
    expect(page.locator("#deposition")).to_contain_text("It happened Tuesday at 14:30")
    assert_accessible(page)


# --- 5. The header and the log form on a phone --------------------------------------------------------


def test_the_header_is_one_line_on_a_desktop_and_two_on_a_phone_and_log_a_failure_is_there_once(
        sized, width, live_server, log_in, screenshot, hotel):
    page = sized
    log_in(hotel["manager"], page)
    page.goto(f"{live_server.url}/")
    header = page.locator("header.top")
    height = header.bounding_box()["height"]
    assert height < (60 if width == "desktop" else 100), height  # four lines (about 300 px) before
    expect(page.get_by_role("link", name="Log a failure")).to_have_count(1)
    search = page.get_by_role("searchbox")
    # The placeholder is read whole: its text fits the box.
    assert page.evaluate("""(input) => {
        const style = getComputedStyle(input), canvas = document.createElement("canvas").getContext("2d");
        canvas.font = style.font;
        const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
        return canvas.measureText(input.placeholder).width <= room;
    }""", search.element_handle())
    assert fits(page)
    if width == "phone":
        log_out = page.get_by_role("button", name="Log out")
        expect(log_out).to_be_hidden()
        page.get_by_role("button", name="Menu").click()
        expect(page.get_by_role("button", name="Menu")).to_have_attribute("aria-expanded", "true")
        expect(log_out).to_be_visible()
        expect(page.get_by_role("link", name="Manage")).to_be_visible()
    else:
        expect(page.get_by_role("button", name="Menu")).to_be_hidden()
        expect(page.get_by_role("button", name="Log out")).to_be_visible()
    assert_accessible(page)
    screenshot(f"working-day-header-{width}", page)

    # Staff at one place log on their phones: the form for them.
    page.context.clear_cookies()
    log_in(hotel["frontline"], page)
    page.goto(f"{live_server.url}/log/")
    expect(page.get_by_role("link", name="Log a failure")).to_have_attribute("aria-current", "page")
    button = page.get_by_role("button", name="Log it and start the clock")
    # The button within reach: on a phone under a screen and a half (with the When and the photos in it).
    screenshot(f"working-day-log-form-{width}", page)
    bottom = button.bounding_box()["y"] + button.bounding_box()["height"]
    print(f"\nLog a failure at {width} width: the button ends {bottom:.0f} px down ({bottom / page.viewport_size['height']:.2f} screens)")
    if width == "phone":  # a screen and a half down before
        assert bottom <= page.viewport_size["height"] * 1.4, bottom
    assert fits(page)
    assert_accessible(page)


# --- 6. The trends page in plain words ----------------------------------------------------------------


@pytest.fixture
def demo_manager(transactional_db):
    from django.utils import timezone

    from incidents import demo
    from incidents.models import User

    demo.seed(timezone.now())
    manager = User.objects.get(username="manager")
    manager.set_password(factories.PASSWORD)
    manager.save()
    return manager


def test_the_trends_speak_plainly_and_read_dates_as_the_app_writes_them(
        sized, width, live_server, log_in, screenshot, demo_manager):
    page = sized
    log_in(demo_manager, page)
    page.goto(f"{live_server.url}/manage/trends/")
    clusters = page.locator(".clusters")
    first = clusters.locator("li.cluster").first
    expect(first).to_contain_text(re.compile(r"far more than usual, unlikely to be chance \((about 1 in [\d.]+( thousand| million| billion| trillion)?|less than 1 in a trillion)\)"))
    # No statistics in the headlines; they wait in a fold for whoever wants them.
    headlines = " ".join(clusters.locator("ul").first.all_inner_texts())
    assert "p =" not in headlines and "Poisson" not in headlines
    how = clusters.locator("details.how")
    expect(how.get_by_text("Bonferroni")).to_be_hidden()
    how.locator("summary").click()
    expect(how.get_by_text(re.compile("Bonferroni"))).to_be_visible()
    expect(how).to_contain_text("p = ")

    # The busyness bar's label whole.
    expect(page.locator("svg.bars text.label", has_text="Peak (above 90% capacity)")).to_have_count(1)

    # Dates as the app writes them, typed either way; what was typed stays on an error.
    start = page.get_by_label("From")
    expect(start).to_have_value(re.compile(r"^\d{1,2} [A-Z][a-z]{2} \d{4}$"))
    start.fill("31 Feb 2027")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_label("From")).to_have_value("31 Feb 2027")
    expect(page.locator(".filters .error").first).to_be_visible()
    page.get_by_label("From").fill("2 Nov 2026")
    page.get_by_label("To (inclusive)").fill("2026-11-30")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("main p.muted").first).to_contain_text("2 Nov 2026 – 30 Nov 2026")
    expect(page.get_by_label("To (inclusive)")).to_have_value("2026-11-30")

    # Region from the organization's list.
    region = page.get_by_label("Region", exact=True)
    assert region.evaluate("el => el.tagName") == "SELECT"
    region.select_option("North")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_label("Region", exact=True)).to_have_value("North")

    # The heatmap as a table a screen reader can enter.
    page.goto(f"{live_server.url}/manage/trends/")
    fold = page.locator("details.heatmap-table")
    fold.locator("summary").click()
    table = fold.get_by_role("table", name=re.compile("Incidents by weekday"))
    expect(table).to_be_visible()
    expect(table.get_by_role("row")).to_have_count(8)
    wednesday = table.get_by_role("row", name=re.compile("^Wed"))
    expect(wednesday.locator("td.marked")).to_have_count(1)
    page.locator("details.how summary").click()
    assert_accessible(page)
    assert fits(page)
    screenshot(f"working-day-trends-{width}", page)


# --- 7. A step refused for its order; the coach's warmer wording --------------------------------------


def test_a_refused_review_opens_the_apology_and_a_reload_sends_nothing_again(
        sized, width, live_server, log_in, screenshot, hotel):
    page = sized
    incident = factories.log_incident(user=hotel["frontline"], location=hotel["riverside"])
    log_in(hotel["frontline"], page)
    page.goto(f"{live_server.url}/incidents/{incident.reference}/")
    page.locator("#review summary").click()
    review = page.locator("#review-form")
    review.get_by_label("Their account of what happened").fill("Waited an hour in the lobby")
    review.get_by_label("What they need for a good outcome").fill("A room now")
    review.get_by_role("button", name="Save the review").click()
    expect(page.get_by_text("Apologize first: the review comes after the apology.")).to_be_visible()
    # The address is the incident's own, the apology open and focused, what was typed kept.
    expect(page).to_have_url(f"{live_server.url}/incidents/{incident.reference}/#apology")
    expect(page.locator("#apology")).to_have_attribute("open", "")
    expect(page.locator("#apology > summary")).to_be_focused()
    expect(review.get_by_label("Their account of what happened")).to_have_value("Waited an hour in the lobby")
    assert_accessible(page)
    screenshot(f"working-day-review-refused-{width}", page)

    posts = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    page.reload()
    expect(page.locator("#apology")).to_be_visible()
    assert posts == []

    # A flagged apology: the warmer wording is in view once saved.
    apology = page.locator("#apology-form")
    apology.get_by_label("What you said").fill("I'm sorry, but it's our policy to clean rooms by 3pm.")
    apology.get_by_role("button", name="Save the apology").click()
    message = page.locator(".message").filter(has_text="The coach noted")
    expect(message).to_be_visible()
    expect(message).to_contain_text("Let me see what I can do for you.")
    assert_accessible(page)
    screenshot(f"working-day-apology-coached-{width}", page)


# --- 8. The small words ------------------------------------------------------------------------------


def test_the_timeline_the_letter_the_flag_dates_and_the_gesture_fields_read_right(
        sized, width, live_server, log_in, screenshot, hotel):
    page = sized
    frontline = hotel["frontline"]
    customer = factories.CustomerFactory(organization=frontline.organization, name="Ada Lovelace")
    incident = factories.log_incident(user=frontline, location=hotel["riverside"], customer=customer,
                                      summary="Soup arrived cold")
    services.record_apology(incident, by=frontline, channel="in_person",
                            text="Sorry, it's our policy, and company policy too.")
    services.record_review(incident, by=frontline, customer_account="Cold soup", customer_needs="Hot soup")
    log_in(frontline, page)
    page.goto(f"{live_server.url}/incidents/{incident.reference}/")

    timeline = page.locator(".timeline")
    expect(timeline).to_contain_text("the coach flagged “it's our policy”, “company policy”")
    logged = timeline.locator("li").filter(has_text=re.compile(r"\bLogged\b"))
    expect(logged).to_have_text(re.compile(r"^\S+ \d\d:\d\d Logged — Frankie Lane$"))

    # Something extra: None asks nothing more; a gift asks what and what it cost.
    fix = page.locator("#fix-form")
    expect(fix.get_by_label("What you gave")).to_be_hidden()
    expect(fix.get_by_label("What it cost")).to_be_hidden()
    fix.get_by_label("Something extra (optional)").select_option("gift")
    expect(fix.get_by_label("What you gave")).to_be_visible()
    assert_accessible(page)
    fix.get_by_label("What was done").fill("A fresh bowl, hot")
    fix.get_by_label("It is fixed").check()
    fix.get_by_label("What you gave").fill("Dessert on the house")
    fix.get_by_label("What it cost").fill("6")
    fix.get_by_role("button", name="Save the fix").click()
    expect(page.get_by_text("Fix saved.")).to_be_visible()

    draft = incident.__class__.objects.get(pk=incident.pk)
    from followups.selectors import wrap_up_draft
    letter = wrap_up_draft(draft)
    assert "It should not have happened: Soup arrived cold.\n" in letter
    assert "We put it right: A fresh bowl, hot." in letter
    assert "I hope dessert on the house went a little way" in letter
    screenshot(f"working-day-fixed-{width}", page)

    # The care flag's date, written the same way on the log form's banner and on the customer's page.
    page.goto(f"{live_server.url}/customers/{customer.pk}/")
    on_page = page.locator("[data-care-when]").inner_text()
    page.goto(f"{live_server.url}/log/")
    page.get_by_label("Customer's name").press_sequentially("Ada")
    page.get_by_role("button", name=re.compile("Ada Lovelace")).click()
    expect(page.locator("[data-care-when]")).to_have_text(on_page)
    assert re.match(r"^\(flagged \d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d\)$", on_page), on_page

    # Customers found: cards, without a list bullet.
    page.goto(f"{live_server.url}/customers/?q=Ada")
    assert page.locator("ul.customers").evaluate("el => getComputedStyle(el).listStyleType") == "none"
    assert_accessible(page)
    assert fits(page)
