"""Text with HTML and script in every free-text field is shown as text, on every page that shows it,
including what the page's own scripts build (customer matches, the apology coach)."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from followups import services as followups
from incidents import services
from incidents.models import Incident
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def hostile(field):
    """A payload that runs, or leaves an element behind, if any page treats text as HTML."""
    return f'{field}<script>window.__xss="{field}"</script><img src="x" class="xss" onerror="window.__xss=\'{field}\'">'


def assert_inert(page, where):
    assert page.evaluate("window.__xss") is None, f"script ran on {where}"
    assert page.locator("img.xss").count() == 0, f"markup injected on {where}"


def test_script_in_every_free_text_field_is_shown_as_text(page, live_server, log_in, screenshot):
    organization = factories.OrganizationFactory(name="Harbour Hotels", slug="harbour")
    location = factories.LocationFactory(organization=organization, name="Riverside", code="riverside")
    clerk = factories.UserFactory(username="frontline", organization=organization, locations=[location])
    manager = factories.UserFactory(username="manager", organization=organization, role="manager", locations=[location])
    factories.UserFactory(username="mate", organization=organization, locations=[location])

    # Typed in the browser: the log form and the apology, where the page's own scripts work.
    log_in(clerk)
    page.get_by_role("link", name="Log a failure").first.click()
    page.get_by_label("Customer's name").fill(hostile("name"))
    page.get_by_label("What happened").fill(hostile("summary"))
    page.get_by_label("Category").fill(hostile("category"))
    page.get_by_role("button", name="Log it and start the clock").click()
    page.wait_for_url(re.compile(r"/incidents/R-\d+/$"))
    apology = page.locator("#apology-form")
    apology.get_by_label("What you said").press_sequentially("If what you say is correct, I apologize " + hostile("apology"))
    expect(apology.locator("[data-coach-output]")).to_be_visible()
    assert_inert(page, "the apology coach")
    apology.get_by_role("button", name="Save the apology").click()
    expect(page.locator("#review-form")).to_be_visible()

    # The rest through the services, as the API would write them.
    incident = Incident.objects.get()
    services.record_review(incident, by=clerk, customer_account=hostile("account"), customer_needs=hostile("needs"),
                           customer_losses=hostile("losses"))
    services.record_fix(incident, by=clerk, description=hostile("fix"), fixed=True,
                        gesture={"kind": "gift", "description": hostile("gesture"), "cost": 500})
    services.record_deposition(incident, by=clerk, root_cause=hostile("cause"), circumstances=hostile("circumstances"),
                               busyness="busy", product=hostile("product"), prevention=hostile("prevention"))
    services.record_follow_up(incident, by=clerk, kind="wrap_up", channel="email", note=hostile("note"))
    followups.sweep(now=timezone.now())  # notifications carry the incident's words to the team

    pages = {
        "the incident page": f"/incidents/{incident.reference}/",
        "my recoveries": "/",
        "the customer page": f"/customers/{incident.customer_id}/",
        "the customer lookup": "/customers/?q=name",
    }
    for where, path in pages.items():
        page.goto(live_server.url + path)
        assert_inert(page, where)
    page.goto(live_server.url + f"/incidents/{incident.reference}/")
    assert 'summary<script>window.__xss="summary"</script>' in page.locator("main").inner_text()  # as text
    screenshot("hostile-text-incident")

    # The customer matches that the log form builds while typing.
    page.goto(live_server.url + "/log/")
    page.get_by_label("Customer's name").press_sequentially("name")
    page.wait_for_timeout(600)  # the lookup waits for a pause in typing before it asks
    assert_inert(page, "the customer matches")

    # The managers' console and the notifications of a colleague.
    page.context.clear_cookies()
    log_in(manager)
    for path in ("/manage/", "/manage/incidents/", "/manage/trends/", "/notifications/"):
        page.goto(live_server.url + path)
        assert_inert(page, path)
    screenshot("hostile-text-manage")
