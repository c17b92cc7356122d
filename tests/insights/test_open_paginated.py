"""Open recoveries a page at a time: late ones first, then decisions waiting, then the soonest due; the
counts cover every open incident, not the page; page links and the refresh keep the filters and the page."""

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.models import Incident
from insights.scope import scope_for
from insights.selectors.open_recoveries import open_recoveries_page
from tests import factories

pytestmark = pytest.mark.django_db

MIN = datetime.timedelta(minutes=1)


@pytest.fixture
def urgent(build, location, frontline, clock_at_start):
    """At 14:00: two running (logged 2 and 4 minutes ago), one whose over-budget gesture waits for a manager
    (answered, nothing due soon), and two late (logged 40 and 30 minutes ago, still unanswered)."""
    now = timezone.now()
    running = [build(at=now - 2 * MIN, location=location, owner=frontline),
               build(at=now - 4 * MIN, location=location, owner=frontline)]
    waiting = build(at=now - 10 * MIN, location=location, owner=frontline, apology=1, fix=5, gesture_cost="400")
    late = [build(at=now - 40 * MIN, location=location, owner=frontline),
            build(at=now - 30 * MIN, location=location, owner=frontline)]
    return {"running": running, "waiting": waiting, "late": late}


def test_late_first_then_decisions_waiting_then_the_soonest_due(urgent, manager):
    now = timezone.now()
    running = sorted(urgent["running"], key=lambda incident: incident.next_due_at)
    # Its check-back is hours away: the decision waiting outranks incidents due sooner than it.
    Incident.objects.filter(pk=urgent["waiting"].pk).update(next_due_at=now + 180 * MIN)
    page, counts = open_recoveries_page(scope_for(manager), {}, now=now)
    late = sorted(urgent["late"], key=lambda incident: incident.next_due_at)
    assert page.object_list == [*late, urgent["waiting"], *running]
    assert counts == {"total": 5, "late": 2}


def test_pages_split_the_same_order_and_every_page_counts_them_all(urgent, manager):
    now = timezone.now()
    scope = scope_for(manager)
    whole, _ = open_recoveries_page(scope, {}, now=now, per_page=50)
    pages = [open_recoveries_page(scope, {}, now=now, number=number, per_page=2) for number in (1, 2, 3)]
    assert [row for page, _ in pages for row in page.object_list] == whole.object_list
    assert [len(page.object_list) for page, _ in pages] == [2, 2, 1]
    assert all(counts == {"total": 5, "late": 2} for _, counts in pages)
    last, _ = pages[2]
    assert (last.number, last.paginator.num_pages, last.has_next(), last.start_index()) == (3, 3, False, 5)
    beyond, counts = open_recoveries_page(scope, {}, now=now, number=40, per_page=2)
    assert beyond.number == 3 and beyond.object_list == last.object_list and counts["total"] == 5


def test_nothing_open_is_one_empty_page(manager):
    page, counts = open_recoveries_page(scope_for(manager), {}, now=timezone.now(), number=3)
    assert page.object_list == [] and page.number == 1 and counts == {"total": 0, "late": 0}


@pytest.fixture
def fifty_one(location, frontline, clock_at_start):
    """51 open incidents, logged a minute apart, the oldest late."""
    made = []
    start = timezone.now() - 60 * MIN
    for n in range(51):
        made.append(factories.log_incident(user=frontline, location=location, now=start + n * MIN))
    return made


def test_the_page_shows_50_with_the_counts_and_links_that_keep_the_filters(client, manager, frontline, fifty_one):
    client.force_login(manager)
    body = client.get(f"/manage/?owner={frontline.pk}&stage=apology").content.decode()
    assert body.count('<tr id="incident-') == 50
    assert "<strong>51</strong> open" in body and "1–50, most urgent first" in body
    assert f'href="?owner={frontline.pk}&amp;stage=apology&amp;page=2"' in body and "Page 1 of 2" in body
    second = client.get(f"/manage/?owner={frontline.pk}&stage=apology&page=2").content.decode()
    assert second.count('<tr id="incident-') == 1 and "51–51" in second
    assert 'data-refresh-url="/manage/?owner=' in second and "page=2&amp;partial=1" in second
    assert f'href="?owner={frontline.pk}&amp;stage=apology&amp;page=1"' in second


def test_the_refresh_keeps_the_page(client, manager, fifty_one):
    client.force_login(manager)
    first = client.get("/manage/?partial=1").content.decode()
    second = client.get("/manage/?page=2&partial=1").content.decode()
    assert "<html" not in second and second.count('<tr id="incident-') == 1
    only = re.search(r'<tr id="incident-(\d+)"', second).group(1)
    assert f'id="incident-{only}"' not in first
    # The actions on a row of page 2 come back to page 2.
    assert 'name="next" value="/manage/?page=2&amp;"' in second
    assert 'href="?page=1"' in second


def test_a_page_number_that_is_not_one_shows_the_first_or_the_last(client, manager, fifty_one):
    client.force_login(manager)
    for typed, shown in [("abc", "Page 1 of 2"), ("-3", "Page 1 of 2"), ("²", "Page 1 of 2"), ("999", "Page 2 of 2"),
                         ("99999999999999999999", "Page 1 of 2")]:
        response = client.get("/manage/", {"page": typed})
        assert response.status_code == 200 and shown in response.content.decode(), typed


def test_the_query_count_is_the_same_on_every_page(client, manager, fifty_one):
    client.force_login(manager)
    with CaptureQueriesContext(connection) as first:
        client.get("/manage/")
    with CaptureQueriesContext(connection) as second:
        client.get("/manage/?page=2")
    assert len(first.captured_queries) == len(second.captured_queries)
