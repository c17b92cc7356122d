"""Search, saved views and bulk actions in real Chromium, at a desk and on a 375 px phone: frontline
staff find an incident by a word of its notes from the header's box; a manager saves the filters of the
incident list as a view, opens it in one click, and adds a helper to two ticked incidents after one
confirmation."""

import pytest
from playwright.sync_api import expect

from incidents import services
from tests import factories
from tests.browser.accessibility import assert_accessible
from tests.browser.conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 900}
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}


@pytest.fixture
def harbour():
    organization = factories.OrganizationFactory(name="Harbour Hotels", slug="harbour")
    location = factories.LocationFactory(organization=organization, name="Riverside", code="riverside")
    frontline = factories.UserFactory(username="frontline", first_name="Frankie", last_name="Lane",
                                      organization=organization, locations=[location])
    helper = factories.UserFactory(username="helper", first_name="Hana", last_name="Ito",
                                   organization=organization, locations=[location])
    manager = factories.UserFactory(username="manager", first_name="Morgan", last_name="Reyes", role="manager",
                                    organization=organization, locations=[location])
    ada = factories.CustomerFactory(organization=organization, name="Ada Lovelace", email="ada@example.com")
    soup = factories.log_incident(user=frontline, location=location, customer=ada, summary="Soup arrived cold")
    services.record_apology(soup, by=frontline, channel="in_person", text="So sorry about the anniversary dinner")
    others = [factories.log_incident(user=frontline, location=location, summary=f"Minibar empty in room {n}")
              for n in range(3)]
    return {"frontline": frontline, "manager": manager, "helper": helper, "soup": soup, "others": others}


def no_sideways_scroll(page, size):
    if size == "phone":
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


@pytest.mark.parametrize("size", VIEWPORTS)
def test_frontline_staff_find_an_incident_by_a_word_of_its_notes(page, live_server, log_in, screenshot, harbour, size):
    page.set_viewport_size(VIEWPORTS[size])
    log_in(harbour["frontline"])
    box = page.get_by_label("Find a customer or an incident")
    if not box.is_visible():  # the phone's header may fold it away: the search page has its own
        page.goto(f"{live_server.url}/search/")
        box = page.get_by_label("Reference, customer, summary or notes")
    box.fill("anniversary")
    box.press("Enter")
    page.wait_for_url("**/search/?q=anniversary")
    found = page.locator("section[aria-labelledby=found-incidents]")
    expect(found.get_by_role("link", name=f"{harbour['soup'].reference} Ada Lovelace")).to_be_visible()
    expect(found.locator("li")).to_have_count(1)
    no_sideways_scroll(page, size)
    assert_accessible(page)
    screenshot(f"search-notes-{size}")

    page.get_by_label("Reference, customer, summary or notes").fill("lovel")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("section[aria-labelledby=found-customers]").get_by_role("link", name="Ada Lovelace", exact=True)).to_be_visible()
    page.get_by_label("Reference, customer, summary or notes").fill("nothing-like-this")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("No incident you can see matches")).to_be_visible()
    assert_accessible(page)
    screenshot(f"search-nothing-{size}")


@pytest.mark.parametrize("size", VIEWPORTS)
def test_a_manager_saves_a_view_opens_it_and_adds_a_helper_to_two_incidents(page, live_server, log_in, screenshot,
                                                                            harbour, size):
    page.set_viewport_size(VIEWPORTS[size])
    log_in(harbour["manager"])
    page.goto(f"{live_server.url}/manage/incidents/?stage=apology")
    page.get_by_text("Save these filters as a view").click()
    page.get_by_label("Name of the view").fill("Waiting for an apology")
    page.get_by_role("button", name="Save view").click()
    expect(page.get_by_role("status")).to_contain_text("Saved “Waiting for an apology”")
    page.goto(f"{live_server.url}/manage/incidents/")
    page.get_by_role("link", name="Waiting for an apology").click()
    expect(page).to_have_url(f"{live_server.url}/manage/incidents/?stage=apology")
    expect(page.get_by_role("link", name="Waiting for an apology")).to_have_attribute("aria-current", "true")
    # The soup's apology is recorded: only the three others wait for one.
    expect(page.locator("table.incidents tbody tr")).to_have_count(3)
    no_sideways_scroll(page, size)
    assert_accessible(page)
    screenshot(f"saved-view-applied-{size}")

    first, second = harbour["others"][:2]
    page.get_by_label(f"Tick {first.reference}").check()
    page.get_by_label(f"Tick {second.reference}").check()
    page.locator("#bulk-action").select_option("add_helper")
    page.locator("#bulk-person").select_option(label="Hana Ito")
    page.get_by_role("button", name="Review the changes").click()
    expect(page.get_by_role("heading", name="Confirm the changes")).to_be_visible()
    changes = page.locator("ul.bulk-changes li")
    expect(changes).to_have_count(2)
    expect(changes.first).to_contain_text("Hana Ito joins as a helper")
    no_sideways_scroll(page, size)
    assert_accessible(page)
    screenshot(f"bulk-confirm-{size}")
    page.get_by_role("button", name="Confirm the changes to 2 incidents").click()
    expect(page.get_by_role("status").first).to_contain_text("2 incidents changed")
    expect(page).to_have_url(f"{live_server.url}/manage/incidents/?stage=apology")
    for incident in (first, second):
        assert list(incident.helpers.values_list("username", flat=True)) == ["helper"]
    assert not harbour["others"][2].helpers.exists()
    screenshot(f"bulk-done-{size}")

    page.get_by_role("button", name="Delete the view Waiting for an apology").click()
    expect(page.get_by_role("link", name="Waiting for an apology")).to_have_count(0)
