"""The whole loop the customer feels, on a moved clock and real mail: a recovery open for three days
sends three progress reports, then the wrap-up note, then the satisfaction check; the customer answers
it on a phone from the link in that very email; the incident, the scorecard and a webhook show the
outcome the customer confirmed."""

import datetime
import re

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from helpdesk import services as api_services
from helpdesk import webhooks
from helpdesk.models import WebhookDelivery
from incidents import services
from incidents.models import FollowUp, Outcome
from outreach import progress_reports, survey
from outreach import services as outreach
from outreach.models import Message
from tests import factories
from tests.browser.conftest import PHONE
from tests.smtp_server import SMTPServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WEDNESDAY = datetime.datetime(2026, 3, 4, 14, 0, tzinfo=datetime.timezone.utc)  # the location is on UTC, open 9–18
DAY = datetime.timedelta(days=1)


def test_the_customer_hears_from_us_each_day_then_confirms_they_are_a_champion(browser, live_server, screenshot,
                                                                              settings):
    with SMTPServer() as smtp, time_machine.travel(WEDNESDAY, tick=True) as clock:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = smtp.host, smtp.port, False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True

        organization = factories.OrganizationFactory(name="Harbour Hotels", slug="harbour")
        location = factories.LocationFactory(organization=organization, name="Riverside", code="riverside")
        owner = factories.UserFactory(organization=organization, first_name="Fran", last_name="Okafor", locations=[location])
        manager = factories.UserFactory(organization=organization, role="manager", locations=[location])
        customer = factories.CustomerFactory(organization=organization, name="Ada Lovelace", email="ada@example.com")
        client, _ = api_services.create_api_client(organization=organization, name="Helpdesk")
        api_services.register_webhook(client=client, url="http://127.0.0.1:9/hooks", events=["survey.answered"])

        incident = factories.log_incident(user=owner, location=location, customer=customer, summary="Lost luggage")
        services.record_apology(incident, by=owner, channel="in_person", text="I am so sorry, that should not happen.")
        services.record_review(incident, by=owner, customer_account="Suitcase lost", customer_needs="It back, soon")
        services.record_fix(incident, by=owner, description="Asked the airline to trace it", fixed=False)

        # Three days open: each morning's report drafted in opening hours, edited, sent, received once.
        for day in (1, 2, 3):
            # Thursday's once it has been open a day, Friday's and Saturday's after opening.
            clock.move_to(WEDNESDAY.replace(hour=14 if day == 1 else 9, minute=30) + day * DAY)
            progress_reports.run_pass(now=timezone.now())
            draft = Message.objects.get(incident=incident, kind=Message.Kind.PROGRESS_REPORT, status=Message.Status.DRAFT)
            assert draft.for_day == (WEDNESDAY + day * DAY).date()
            progress_reports.send_report(draft, by=owner, body=draft.body, next_step=f"Call the airline again (day {day})")
            outreach.send_due(now=timezone.now())
        reports = [m for m in smtp.messages if "How we are getting on" in m.message["Subject"]]
        assert len(reports) == 3 and len({m.message["Message-ID"] for m in reports}) == 3
        assert all(m.recipients == ["ada@example.com"] for m in reports)
        assert owner.email in reports[0].message["Reply-To"] and "Fran Okafor" in reports[0].message["From"]

        # Found: fixed, and the wrap-up note sent, not only recorded.
        clock.move_to(WEDNESDAY.replace(hour=11) + 3 * DAY)
        services.record_fix(incident, by=owner, description="Suitcase delivered to her room", fixed=True,
                            expected_version=1)
        outreach.send_follow_up(incident, by=owner, kind=FollowUp.Kind.WRAP_UP, channel=Message.Channel.EMAIL,
                                note="Thank you for your patience, Ada. We hope the rest of your stay is calm.")
        outreach.send_due(now=timezone.now())
        assert [m for m in smtp.messages if "calm" in m.text]

        # A day later the satisfaction check, whose link the customer opens on a phone.
        clock.move_to(WEDNESDAY.replace(hour=11, minute=5) + 4 * DAY)
        assert survey.send_satisfaction_checks(now=timezone.now()) == 1
        outreach.send_due(now=timezone.now())
        (check,) = [m for m in smtp.messages if "/feedback/" in m.text]
        link = re.search(r"\S+/feedback/\S+/", check.text).group(0)
        assert len(smtp.messages) == 5  # three reports, the wrap-up, the check: each once

        context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        page = context.new_page()
        page.goto(live_server.url + link[len(settings.SITE_URL.rstrip("/")):])
        expect(page.get_by_role("heading", name="How do you feel about us now?")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.get_by_role("group", name=re.compile("How do you feel about us now")).get_by_label("Much better than before").check()
        page.get_by_role("group", name=re.compile("come back and recommend")).get_by_label("10", exact=True).check()
        page.get_by_label("Is there anything we could do better?").fill("Tell the airline sooner.")
        page.get_by_role("button", name="Send my answer").click()
        expect(page.get_by_role("heading", name="Thank you for telling us")).to_be_visible()
        screenshot("customer-loop-thanks", page)
        context.close()

        # The incident, the scorecard and the helpdesk's webhook all have the customer's verdict.
        incident.refresh_from_db()
        assert incident.customer_outcome == Outcome.CHAMPION
        as_manager = Client()
        as_manager.force_login(manager)
        scorecard = as_manager.get("/manage/scorecard/").content.decode()
        assert "1 of 1 (100%)" in scorecard
        webhooks.pump(now=timezone.now())
        answered = WebhookDelivery.objects.get(event_type="survey.answered")
        assert answered.payload["data"]["incident"]["customer_outcome"] == "champion"
