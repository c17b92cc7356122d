"""A notification about something other than one incident (a problem's corrective action, say) has no
incident: the inbox and its email show it whole and lead to its link."""

import datetime

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse

from followups import services
from followups.models import Delivery, Notification
from tests.conftest import START

pytestmark = pytest.mark.django_db

LINK = "/manage/problems/7/"


@pytest.fixture
def told(manager):
    services.tell([manager], kind=Notification.Kind.ACTION_DUE, title="Due today: Heat the soup bowls",
                  body="Your corrective action is due today.", link=LINK, dedupe_key="test.action.due", now=START)
    return Notification.objects.get(recipient=manager)


def test_the_inbox_shows_it_and_links_to_where_it_leads(client, manager, told):
    client.force_login(manager)
    response = client.get(reverse("followups:inbox"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Due today: Heat the soup bowls" in page
    assert f'<a href="{LINK}">Open</a>' in page


def test_an_incidents_notification_in_the_inbox_still_links_to_the_incident(client, colleague, incident):
    services.sweep(now=incident.logged_at + datetime.timedelta(seconds=10))  # the internal alert to Cole
    client.force_login(colleague)
    page = client.get(reverse("followups:inbox")).content.decode()
    assert f'href="{reverse("incident", args=[incident.reference])}"' in page


def test_its_email_leads_to_the_link_and_names_no_incident(told):
    delivery = Delivery.objects.get(notification=told)
    assert services.deliver(delivery.pk) == "sent"
    message = mail.outbox[0]
    url = settings.SITE_URL.rstrip("/") + LINK
    assert f"Open: {url}" in message.body
    assert " · " not in message.body  # no empty "reference · customer · location" line
    html = message.alternatives[0][0]
    assert f'<a href="{url}">' in html
    assert " · " not in html
