"""My open recoveries come a page at a time, most urgent first, read from my own rows (owned or helping)."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import services
from incidents.models import Incident
from incidents.selectors import open_incidents_for
from incidents.views import HOME_PER_PAGE
from tests import factories

pytestmark = pytest.mark.django_db

MIN = datetime.timedelta(minutes=1)


@pytest.fixture
def mine(frontline, manager, location, clock_at_start):
    """27 open recoveries of mine (25 owned, logged a minute apart, and 2 I help on), one closed, one a colleague's."""
    owned = []
    for _ in range(25):
        owned.append(factories.log_incident(user=frontline, location=location, now=timezone.now()))
        clock_at_start.shift(MIN)
    helping = []
    for _ in range(2):
        incident = factories.log_incident(user=manager, location=location, now=timezone.now())
        services.add_helper(incident, by=manager, helper=frontline)
        helping.append(incident)
        clock_at_start.shift(MIN)
    closed = factories.log_incident(user=frontline, location=location, now=timezone.now())
    Incident.objects.filter(pk=closed.pk).update(closed_at=timezone.now())
    theirs = factories.log_incident(user=manager, location=location, now=timezone.now())
    return {"owned": owned, "helping": helping, "closed": closed, "theirs": theirs}


def references(body):
    return [word for word in body.split() if word.startswith("R-") and word[2:].isdigit()]


def test_the_first_page_holds_the_25_most_urgent_and_says_how_many_are_open(client, frontline, mine):
    client.force_login(frontline)
    body = client.get("/").content.decode()
    # The earliest logged is due first: the first 25 owned lead; the two I help on are on page 2.
    expected = [incident.reference for incident in mine["owned"]]
    shown = [ref for ref in expected + [i.reference for i in mine["helping"]] if f"<strong>{ref}</strong>" in body]
    assert HOME_PER_PAGE == 25 and shown == expected
    assert "(27)" in body and "Page 1 of 2" in body and 'href="?page=2"' in body
    assert body.index(expected[0]) < body.index(expected[1]) < body.index(expected[-1])


def test_the_second_page_holds_the_rest_and_leaves_out_closed_and_other_peoples(client, frontline, mine):
    client.force_login(frontline)
    body = client.get("/?page=2").content.decode()
    for incident in mine["helping"]:
        assert f"<strong>{incident.reference}</strong>" in body
    for incident in mine["owned"] + [mine["closed"], mine["theirs"]]:
        assert f"<strong>{incident.reference}</strong>" not in body
    assert "Page 2 of 2" in body and 'href="?page=1"' in body
    assert "Page 2 of 2" in client.get("/?page=99").content.decode()  # past the end: the last page
    assert "Page 1 of 2" in client.get("/?page=abc").content.decode()


def test_the_read_follows_my_own_rows_owned_and_helping_not_the_organizations_open_incidents(frontline, mine):
    with CaptureQueriesContext(connection) as queries:
        rows = list(open_incidents_for(frontline)[:50])
    assert {row.pk for row in rows} == {incident.pk for incident in mine["owned"] + mine["helping"]}
    (sql,) = [query["sql"] for query in queries.captured_queries]
    # The ids are the UNION of the open incidents I own (incident_owner_open) and those I help on (the
    # helpers table by user): no OR across a join that reads every open incident of the organization.
    assert " UNION " in sql and "DISTINCT" not in sql
    assert f'"owner_id" = {frontline.pk}' in sql and f'"user_id" = {frontline.pk}' in sql


def test_the_query_count_is_the_same_on_every_page(client, frontline, mine):
    client.force_login(frontline)
    with CaptureQueriesContext(connection) as first:
        client.get("/")
    with CaptureQueriesContext(connection) as second:
        client.get("/?page=2")
    assert len(first.captured_queries) == len(second.captured_queries) <= 12
