import datetime
import re

import pytest

from incidents import services
from insights import selectors
from insights.scope import scope_for
from tests import factories

pytestmark = pytest.mark.django_db

UTC = datetime.timezone.utc


@pytest.fixture
def london(organization):
    return factories.LocationFactory(organization=organization, name="Soho", code="soho", timezone="Europe/London")


@pytest.fixture
def new_york(organization):
    return factories.LocationFactory(organization=organization, name="Midtown", code="midtown",
                                     timezone="America/New_York", region="East")


def test_the_heatmap_counts_in_each_locations_own_time_zone(build, organization, london, new_york):
    admin = factories.UserFactory(organization=organization, role="admin")
    # Sunday 23:30 UTC in summer is Monday 00:30 in London; Monday 03:30 UTC is Sunday 23:30 in New York.
    build(at=datetime.datetime(2026, 7, 5, 23, 30, tzinfo=UTC), location=london, owner=admin)
    build(at=datetime.datetime(2026, 7, 6, 3, 30, tzinfo=UTC), location=new_york, owner=admin)
    # In winter London is UTC: Sunday 23:30 UTC stays Sunday 23:00.
    build(at=datetime.datetime(2026, 1, 4, 23, 30, tzinfo=UTC), location=london, owner=admin)
    scope = scope_for(admin)
    incidents = selectors.period_incidents(scope, {}, datetime.datetime(2026, 1, 1, tzinfo=UTC),
                                           datetime.datetime(2026, 8, 1, tzinfo=UTC), datetime.datetime(2026, 8, 1, tzinfo=UTC))
    cells = selectors.trend_counts(scope, incidents).cells
    assert cells == {(london.pk, 1, 0): 1, (new_york.pk, 7, 23): 1, (london.pk, 7, 23): 1}
    grid = selectors.heatmap(cells)
    assert grid[(7, 23)] == 2 and grid[(1, 0)] == 1 and sum(grid.values()) == 3


def test_period_days_are_days_in_the_locations_time_zone(build, organization, london, client):
    manager = factories.UserFactory(organization=organization, role="manager", locations=[london])
    # 23:30 UTC on 30 June is 00:30 on 1 July in London: it belongs to July.
    build(at=datetime.datetime(2026, 6, 30, 23, 30, tzinfo=UTC), location=london, owner=manager)
    client.force_login(manager)
    july = client.get("/manage/incidents/?start=2026-07-01&end=2026-07-31")
    june = client.get("/manage/incidents/?start=2026-06-01&end=2026-06-30")
    assert july.context["page"].paginator.count == 1 and june.context["page"].paginator.count == 0


def test_a_heatmap_cell_links_to_its_incidents(build, organization, london, client):
    manager = factories.UserFactory(organization=organization, role="manager", locations=[london])
    wednesday_3pm = datetime.datetime(2026, 3, 4, 15, 10, tzinfo=UTC)  # London is UTC in March
    mine = build(at=wednesday_3pm, location=london, owner=manager)
    other = build(at=wednesday_3pm + datetime.timedelta(hours=1), location=london, owner=manager)
    client.force_login(manager)
    page = client.get("/manage/trends/?start=2026-03-01&end=2026-03-28").content.decode()
    links = re.findall(r'href="(/manage/incidents/\?[^"]*weekday=3&amp;hour=15)"', page)
    assert len(links) == 2 and len(set(links)) == 1  # the heatmap's cell, and the same cell in its table
    listed = client.get(links[0].replace("&amp;", "&")).content.decode()
    assert mine.reference in listed and other.reference not in listed


def test_breakdowns_count_by_each_dimension(build, location, other_location, frontline, manager):
    manager.locations.add(other_location)
    at = datetime.datetime(2026, 3, 4, 10, tzinfo=UTC)
    build(at=at, location=location, owner=frontline, category="Billing", busyness="peak", channel="phone")
    build(at=at, location=location, owner=frontline, category="Billing", busyness="peak")
    build(at=at, location=other_location, owner=manager, category="Wi-Fi", busyness="quiet")
    scope = scope_for(manager)
    incidents = selectors.period_incidents(scope, {}, at - datetime.timedelta(days=1), at + datetime.timedelta(days=1), at)
    counts = selectors.trend_counts(scope, incidents)
    assert counts.breakdowns["location"] == {location.pk: 2, other_location.pk: 1}
    assert counts.breakdowns["region"] == {"South": 2, "North": 1}
    names = {category.pk: category.name for category in location.organization.categories.all()}
    assert {names[key]: n for key, n in counts.breakdowns["category"].items()} == {"Billing": 2, "Wi-Fi": 1}
    assert counts.breakdowns["busyness"] == {"peak": 2, "quiet": 1}
    assert counts.breakdowns["channel"] == {"in_person": 2, "phone": 1}
    assert counts.breakdowns["staff"] == {frontline.pk: 2, manager.pk: 1}
    assert counts.handled == {frontline.pk: 2, manager.pk: 1}
    billing = next(pk for pk, name in names.items() if name == "Billing")
    assert counts.region_category == {("South", billing): 2, ("North", next(k for k in names if k != billing)): 1}
    assert selectors.labelled(counts.breakdowns["location"], {location.pk: "Riverside", other_location.pk: "Hilltop"}) == [
        (location.pk, "Riverside", 2), (other_location.pk, "Hilltop", 1)]


def test_the_deposition_says_how_busy_it_was_for_the_trends(build, location, frontline, manager):
    at = datetime.datetime(2026, 3, 4, 10, tzinfo=UTC)
    unsure = build(at=at, location=location, owner=frontline, apology=1, fix=5)  # busyness left blank
    guessed = build(at=at, location=location, owner=frontline, apology=1, fix=5, busyness="normal")
    services.record_deposition(unsure, by=frontline, root_cause="Oven", circumstances="Birthday", busyness="peak")
    services.record_deposition(guessed, by=frontline, root_cause="Oven", circumstances="Wedding", busyness="peak")

    scope = scope_for(manager)
    incidents = selectors.period_incidents(scope, {}, at - datetime.timedelta(days=1), at + datetime.timedelta(days=1), at)
    assert selectors.trend_counts(scope, incidents).breakdowns["busyness"] == {"peak": 2}


def test_the_trends_page_query_count_does_not_grow_with_incidents(client, build, manager, location, frontline,
                                                                  django_assert_max_num_queries):
    client.force_login(manager)
    at = datetime.datetime(2026, 3, 4, 10, tzinfo=UTC)
    url = "/manage/trends/?start=2026-03-01&end=2026-03-28"
    build(at=at, location=location, owner=frontline)
    with django_assert_max_num_queries(20) as few:
        client.get(url)
    for hour in range(8):
        build(at=at + datetime.timedelta(hours=hour, days=hour % 3), location=location, owner=frontline,
              category=f"Category {hour}", busyness="busy")
    with django_assert_max_num_queries(20) as many:
        page = client.get(url).content.decode()
    assert len(many.captured_queries) == len(few.captured_queries)
    assert "By hour of day and weekday" in page and "Category 7" in page


def test_the_incident_list_page_keeps_the_filters_in_its_csv_link(client, manager, build, location, frontline):
    client.force_login(manager)
    build(at=datetime.datetime(2026, 3, 4, 10, tzinfo=UTC), location=location, owner=frontline)
    page = client.get("/manage/incidents/?start=2026-03-01&end=2026-03-07&busyness=peak").content.decode()
    assert "/manage/export.csv?start=2026-03-01&amp;end=2026-03-07&amp;busyness=peak" in page
    assert "No incidents match." in page


def test_locations_without_a_region_group_as_none_and_link_back(build, organization, client):
    nowhere = factories.LocationFactory(organization=organization, name="Pier", code="pier", region="")
    manager = factories.UserFactory(organization=organization, role="manager", locations=[nowhere])
    incident = build(at=datetime.datetime(2026, 3, 4, 10, tzinfo=UTC), location=nowhere, owner=manager)
    scope = scope_for(manager)
    at = datetime.datetime(2026, 3, 4, tzinfo=UTC)
    counts = selectors.trend_counts(scope, selectors.period_incidents(scope, {}, at, at + datetime.timedelta(days=1), at))
    assert counts.breakdowns["region"] == {"(none)": 1}
    client.force_login(manager)
    listed = client.get("/manage/incidents/?start=2026-03-01&end=2026-03-07&region=(none)").content.decode()
    assert incident.reference in listed


def test_the_heatmap_and_its_drill_down_count_the_hour_it_happened_not_the_hour_it_was_logged(
        build, organization, new_york):
    admin = factories.UserFactory(organization=organization, role="admin")
    # Happened Tuesday 14:30 in New York, logged at the end of the shift, 18:10.
    happened = datetime.datetime(2026, 11, 3, 19, 30, tzinfo=UTC)
    incident = build(at=happened + datetime.timedelta(hours=3, minutes=40), location=new_york, owner=admin,
                     occurred_at=happened)
    scope = scope_for(admin)
    start, end = datetime.datetime(2026, 11, 1, tzinfo=UTC), datetime.datetime(2026, 11, 8, tzinfo=UTC)
    cells = selectors.trend_counts(scope, selectors.period_incidents(scope, {}, start, end, end)).cells
    assert cells == {(new_york.pk, 2, 14): 1}
    assert list(selectors.incident_list(scope, {"weekday": 2, "hour": 14}, start, end, end)) == [incident]
    assert not selectors.incident_list(scope, {"weekday": 2, "hour": 18}, start, end, end).exists()
