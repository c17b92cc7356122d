"""The customer opens the link in their satisfaction check on a phone, answers, and is thanked."""

import datetime
import re

import pytest
from django.conf import settings
from django.core import mail
from playwright.sync_api import expect

from incidents.models import Outcome
from outreach import services as sending
from outreach import survey
from outreach.models import Message
from tests import factories
from tests.browser.conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_on_a_phone_the_customer_answers_the_satisfaction_check_from_its_email(browser, live_server, screenshot,
                                                                             eager_celery, log_in):
    organization = factories.OrganizationFactory(name="Harbour Hotels", slug="harbour")
    # No quiet hours, no delay and open round the clock, so the real clock sends both messages now, whatever
    # the hour.
    organization.quiet_hours_start = organization.quiet_hours_end = datetime.time(0, 0)
    organization.satisfaction_check_after = datetime.timedelta(0)
    organization.save()
    location = factories.LocationFactory(organization=organization, name="Riverside", code="riverside",
                                         opens_at=datetime.time(0), closes_at=datetime.time(0))
    owner = factories.UserFactory(organization=organization, first_name="Fran", last_name="Okafor", locations=[location])
    customer = factories.CustomerFactory(organization=organization, name="Ada Lovelace", email="ada@example.com")
    incident = factories.log_incident(user=owner, location=location, customer=customer)
    wrap_up = sending.draft_message(incident, kind=Message.Kind.WRAP_UP, body="Thank you for bearing with us.",
                                    author=owner)
    sending.send_message(wrap_up, by=owner)  # the worker (eager here) sends it as the send commits
    assert survey.send_satisfaction_checks() == 1
    check = next(m for m in mail.outbox if "/feedback/" in m.body)
    link = re.search(r"\S+/feedback/\S+/", check.body).group(0)
    assert link.startswith(settings.SITE_URL)

    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(live_server.url + link[len(settings.SITE_URL.rstrip("/")):])
    expect(page.get_by_role("heading", name="How do you feel about us now?")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot("phone-satisfaction-check", page)

    # Sending with nothing chosen says what is missing, in words, next to the question.
    page.get_by_role("button", name="Send my answer").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose how you feel about us now.")
    feeling = page.get_by_role("group", name=re.compile("How do you feel about us now"))
    expect(feeling).to_contain_text("Choose how you feel about us now.")
    screenshot("phone-satisfaction-check-errors", page)

    feeling.get_by_label("A little better").check()
    page.get_by_role("group", name=re.compile("come back and recommend")).get_by_label("9", exact=True).check()
    page.get_by_label("Is there anything we could do better?").fill("Warm the plates <b>please</b>")
    screenshot("phone-satisfaction-check-filled", page)
    page.get_by_role("button", name="Send my answer").click()
    expect(page.get_by_role("heading", name="Thank you for telling us")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Warm the plates <b>please</b>")  # as text
    expect(page.get_by_role("status")).to_contain_text("9 out of 10")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot("phone-satisfaction-thanks", page)

    incident.refresh_from_db()
    assert incident.customer_outcome == Outcome.CHAMPION and incident.survey_answer.suggestion.startswith("Warm")
    context.close()

    # The manager reads it in the console: the suggestion as text, the customer's verdict on the scorecard.
    manager = factories.UserFactory(organization=organization, role="manager", locations=[location])
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    log_in(manager, page)
    page.get_by_role("link", name="Manage").click()
    page.get_by_role("link", name="What customers said").click()
    row = page.get_by_role("row", name=re.compile(incident.reference))
    expect(row).to_contain_text("Warm the plates <b>please</b>")
    expect(row).to_contain_text("Champion")
    screenshot("manager-customer-answers", page)
    page.get_by_role("link", name="Scorecard").click()
    expect(page.locator("tfoot")).to_contain_text("1 of 1 (100%)")
    page.close()
