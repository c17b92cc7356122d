"""The customer's story beside the incident and on the customer's page: their other recoveries with links and
outcomes, the gestures given and their cost, the open care flag and the lifetime value, in a fixed number of
queries however long the history, seen by whoever may see the customer's page."""

import datetime
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.customer_data import anonymize_customer
from tests import factories
from tests.insights.conftest import make_incident

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
START = datetime.datetime(2026, 3, 2, 10, tzinfo=datetime.timezone.utc)


@pytest.fixture
def regular(organization):
    organization.currency = "GBP"
    organization.save(update_fields=["currency"])
    return factories.CustomerFactory(organization=organization, name="Ada Regular", lifetime_value=Decimal("12000"))


def _earlier(regular, location, owner, n, *, first=0):
    """`n` closed recoveries of `regular`, a day apart, each with a 25.00 gesture and a champion outcome."""
    return [make_incident(at=START + (first + i) * DAY, location=location, owner=owner, customer=regular,
                          apology=2, fix=10, wrap_up=30, outcome="champion", gesture_cost="25",
                          summary=f"Breakfast late, visit {first + i}")
            for i in range(n)]


def _today(regular, location, owner, n_before):
    return factories.log_incident(user=owner, location=location, customer=regular,
                                  now=START + (n_before + 1) * DAY, summary="Room not ready")


def _story(html):
    return html[html.index("data-customer-story"):html.index("</section>", html.index("data-customer-story"))]


def test_the_incident_page_tells_the_customer_s_story(client, frontline, location, regular, clock_at_start):
    earlier = _earlier(regular, location, frontline, 2)
    today = _today(regular, location, frontline, 2)
    client.force_login(frontline)
    story = _story(client.get(f"/incidents/{today.reference}/").content.decode())

    for incident in earlier:
        assert f'href="/incidents/{incident.reference}/"' in story
    assert f"/incidents/{today.reference}/" not in story  # the story is of the other recoveries
    assert re.search(r"data-story-count>\s*2\s*<", story)
    assert story.count("Champion") == 2 and "Breakfast late, visit 1" in story
    assert "2 gestures, 50.00 GBP" in story and "Gift 25.00 GBP" in story
    assert "12,000.00 GBP" in story
    assert "Raised by this failure" in story  # logging it flagged the file: the flag is this incident's


def test_an_older_open_flag_shows_its_note_in_the_story(client, frontline, location, regular, clock_at_start):
    earlier = factories.log_incident(user=frontline, location=location, customer=regular, now=START,
                                     summary="Wedding cake dropped")
    client.force_login(frontline)
    other = factories.CustomerFactory(organization=regular.organization)
    story = _story(client.get(f"/incidents/{earlier.reference}/").content.decode())
    assert "Raised by this failure" in story
    # On the customer's page the flag is the earlier failure's: its note, when it was raised, until when.
    page = _story(client.get(f"/customers/{regular.pk}/").content.decode())
    assert "Take special care:" in page and "Wedding cake dropped" in page and "shows until 31 May 2026" in page
    assert "None" in _story(client.get(f"/customers/{other.pk}/").content.decode())


def _queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("page", ["incident", "customer"])
def test_the_story_costs_the_same_queries_for_a_long_history_as_for_a_short_one(client, frontline, location,
                                                                               regular, page, clock_at_start):
    frontline.discretion_budget = Decimal("10000")  # every gesture given at once, none waiting for a manager
    frontline.save(update_fields=["discretion_budget"])
    client.force_login(frontline)
    _earlier(regular, location, frontline, 1)
    today = _today(regular, location, frontline, 40)
    url = f"/incidents/{today.reference}/" if page == "incident" else f"/customers/{regular.pk}/"
    _queries(client, url)  # warm: the session, the categories and whatever else a first request reads
    short = _queries(client, url)
    _earlier(regular, location, frontline, 30, first=5)
    long = _queries(client, url)
    assert long == short
    story = _story(client.get(url).content.decode())
    shown = 5 if page == "incident" else 20
    assert story.count("data-story-recovery") == shown
    total = 31 if page == "incident" else 32
    assert f"The latest {shown} of {total}." in story
    assert "31 gestures, 775.00 GBP" in story  # the whole history's, not only the recoveries listed


def test_the_story_shows_only_the_recoveries_the_person_may_see(client, frontline, location, other_location,
                                                                colleague, regular, clock_at_start):
    mine = _earlier(regular, location, frontline, 1)[0]
    elsewhere_owner = factories.UserFactory(organization=regular.organization, locations=[other_location])
    elsewhere = make_incident(at=START + 3 * DAY, location=other_location, owner=elsewhere_owner, customer=regular,
                              apology=1, fix=5, gesture_cost="400")
    today = _today(regular, location, frontline, 5)
    client.force_login(frontline)
    story = _story(client.get(f"/incidents/{today.reference}/").content.decode())
    assert mine.reference in story and elsewhere.reference not in story and "400" not in story

    stranger = factories.UserFactory(organization=factories.OrganizationFactory(slug="elsewhere"))
    client.force_login(stranger)
    assert client.get(f"/customers/{regular.pk}/").status_code == 404


def test_an_anonymized_customer_s_story_keeps_the_figures_and_nothing_about_them(client, admin, frontline, location,
                                                                                regular, clock_at_start):
    _earlier(regular, location, frontline, 2)
    regular.care_note = "Allergic to nuts; her husband proposed here"
    regular.save(update_fields=["care_note"])
    anonymize_customer(regular)
    client.force_login(admin)
    story = _story(client.get(f"/customers/{regular.pk}/").content.decode())
    assert "Breakfast late" not in story and "removed at the customer" not in story and "nuts" not in story
    assert "Ada" not in story
    assert story.count("data-story-recovery") == 2 and "2 gestures, 50.00 GBP" in story
