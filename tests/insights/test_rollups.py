"""The rollup can never drift: every figure of the scorecard and the trends read from it equals the same
figure computed from the incidents, on seeded random recoveries at locations in several time zones
around the clock changes, after late corrections folded by the beat pass."""

import datetime
import random
import zoneinfo

import pytest
import time_machine

from incidents import services
from incidents.models import Incident, User
from insights import rollups, selectors
from insights.models import Tally
from insights.scope import Scope
from tests import factories

pytestmark = pytest.mark.django_db

UTC = datetime.timezone.utc
DAY = datetime.timedelta(days=1)
ZONES = ["Europe/London", "America/New_York", "Asia/Kolkata", "UTC"]
# Clock changes of 2026: Europe 29 March and 25 October, the United States 8 March and 1 November.
SEASONS = {
    "march": (datetime.date(2026, 3, 2), [datetime.datetime(2026, 3, 8, 7, tzinfo=UTC),
                                          datetime.datetime(2026, 3, 29, 1, tzinfo=UTC)]),
    "november": (datetime.date(2026, 10, 19), [datetime.datetime(2026, 10, 25, 1, tzinfo=UTC),
                                               datetime.datetime(2026, 11, 1, 6, tzinfo=UTC)]),
}
PERIOD_DAYS = 14


def _moment(rng, first, last, changes):
    """Mostly within a few hours of a clock change or a midnight, the edges a rollup gets wrong."""
    if rng.random() < 0.4:
        return rng.choice(changes) + datetime.timedelta(minutes=rng.randint(-240, 240))
    day = first + datetime.timedelta(days=rng.randrange((last - first).days))
    return day + datetime.timedelta(minutes=rng.choice([rng.randint(0, 1439), rng.randint(0, 60), rng.randint(1380, 1439)]))


def _figures(rows, total):
    return ({row.key: (row.current, row.previous) for row in rows}, (total.current, total.previous))


def _differences(rollup, raw):
    """[(row, period, figure, from the rollup, from the incidents)] for every figure the page shows."""
    (rows, total), (raw_rows, raw_total) = rollup, raw
    assert set(rows) == set(raw_rows)
    found = []
    for key, periods in [*raw_rows.items(), ("total", raw_total)]:
        mine = total if key == "total" else rows[key]
        for period, figures in enumerate(periods):
            found += [(key, period, name, mine[period].get(name), value)
                      for name, value in figures.items() if mine[period].get(name) != value]
    return found


def _trends(counts):
    return (counts.cells, counts.breakdowns, counts.handled, counts.region_category)


def _check_every_figure(admin, locations, start, end, now, staff):
    scopes = [Scope(user=admin, locations=locations)] + [Scope(user=admin, locations=[location]) for location in locations]
    for scope in scopes:
        for period_start, period_end in ((start, end), (start + DAY, end - DAY)):
            for group in ("location", "staff"):
                assert rollups.scorecard_counts(scope, period_start, period_end, group, now) is not None
                rollup = _figures(*selectors.scorecard(scope, period_start, period_end, group=group, now=now,
                                                       staff=staff))
                raw = _figures(*selectors.scorecard_from_raw(scope, period_start, period_end, group=group, now=now,
                                                             staff=staff))
                assert _differences(rollup, raw) == [], (scope.locations, period_start, group)
            for values in ({}, {"location": scope.locations[0].pk}, {"region": "East"}, {"region": "(none)"}):
                assert rollups.trend_counts(scope, values, period_start, period_end) is not None
                from_rollup = selectors.period_trends(scope, values, period_start, period_end, now)
                raw = selectors.trend_counts(scope, selectors.period_incidents(scope, values, period_start, period_end, now))
                assert _trends(from_rollup) == _trends(raw), (scope.locations, values)


@pytest.mark.parametrize("season", sorted(SEASONS))
def test_every_figure_from_the_rollup_equals_the_figure_from_the_incidents(season, organization):
    rng = random.Random(f"rollup-{season}")
    first_day, changes = SEASONS[season]
    locations = [factories.LocationFactory(organization=organization, timezone=zone, region=region)
                 for zone, region in zip(ZONES, ["East", "East", "", "West"])]
    staff = [factories.UserFactory(organization=organization, locations=locations) for _ in range(4)]
    admin = factories.UserFactory(organization=organization, role=User.Role.ADMIN)
    customers = [factories.CustomerFactory(organization=organization, lifetime_value=rng.choice([None, 100, 2500]))
                 for _ in range(6)]
    first = datetime.datetime.combine(first_day, datetime.time(), tzinfo=UTC)
    last = first + 2 * PERIOD_DAYS * DAY
    made = []
    for n in range(70):
        logged_at = _moment(rng, first - DAY, last + DAY, changes)
        location, owner = rng.choice(locations), rng.choice(staff)
        with time_machine.travel(logged_at, tick=False):
            made.append(_recovery(rng, logged_at, location, owner, rng.choice(customers)))
    now = last + 3 * DAY
    with time_machine.travel(now - DAY, tick=False):
        assert rollups.fold_changes(now=now - DAY) > 0  # the first pass builds everything
    # Late corrections, days after: steps recorded, details changed, owners changed, recoveries closed,
    # one still running its twenty-minute clock at `now`.
    for incident in rng.sample(made, 25):
        incident = Incident.objects.get(pk=incident.pk)
        moment = now - datetime.timedelta(hours=rng.randint(1, 20))
        with time_machine.travel(moment, tick=False):
            _correct(rng, incident, staff, moment)
    with time_machine.travel(now - datetime.timedelta(minutes=5), tick=False):
        factories.log_incident(user=staff[0], location=locations[1], now=now - datetime.timedelta(minutes=5))
    with time_machine.travel(now, tick=False):
        rollups.fold_changes(now=now)
    # The console's zone is UTC when the locations' differ, a location's own zone when it is alone.
    start, end = first + PERIOD_DAYS * DAY, last
    _check_every_figure(admin, locations, start, end, now, staff)
    for location in locations:
        zone = zoneinfo.ZoneInfo(location.timezone)
        local_start = datetime.datetime.combine(start.date(), datetime.time(), tzinfo=zone)
        _check_every_figure(admin, [location], local_start, local_start + PERIOD_DAYS * DAY, now, staff)
    assert Tally.objects.count() < 40 * Incident.objects.count()  # a small fixture has few incidents per cell


def _recovery(rng, logged_at, location, owner, customer):
    from tests.insights.conftest import make_incident

    steps = {}
    if rng.random() < 0.8:
        steps["apology"] = rng.randint(0, 30)
        if rng.random() < 0.6:
            steps["follow_up"] = steps["apology"] + rng.randint(0, 90)
        if rng.random() < 0.7:
            steps["fix"] = steps["apology"] + rng.choice([rng.randint(1, 50), rng.randint(60, 3000)])
            if rng.random() < 0.5:
                steps["gesture_cost"] = str(rng.randint(5, 60))
            if rng.random() < 0.6:
                steps["wrap_up"] = steps["fix"] + rng.choice([30, 600, 2000])
                if rng.random() < 0.8:
                    steps["outcome"] = rng.choice(["champion", "retained", "partial", "lost"])
    return make_incident(at=logged_at, location=location, owner=owner, customer=customer,
                         category=rng.choice(["Kitchen", "Rooms", ""]), busyness=rng.choice(["", "quiet", "peak"]),
                         channel=rng.choice(["in_person", "phone", "email"]),
                         # Logged up to a shift after it happened: the heatmap counts the hour it happened,
                         # often another hour and sometimes another day than the logging's.
                         occurred_at=logged_at - datetime.timedelta(minutes=rng.choice([0, 0, 5, 90, 500])), **steps)


def _correct(rng, incident, staff, moment):
    choice = rng.randrange(4)
    manager = factories.UserFactory(organization=incident.organization, role=User.Role.ADMIN)
    if choice == 0 and incident.closed_at is None:
        if not hasattr(incident, "apology"):
            services.record_apology(incident, by=incident.owner, channel="phone", text="I'm so sorry.", now=moment)
            services.record_review(incident, by=incident.owner, customer_account="Late", customer_needs="Sorted",
                                   now=moment)
        if incident.fixed_at is None:
            services.record_fix(incident, by=incident.owner, description="Sorted", fixed=True, now=moment)
    elif choice == 1 and incident.closed_at is None:
        services.update_details(incident, by=manager, category=rng.choice(["Rooms", "Spa"]), channel="chat", now=moment)
    elif choice == 2 and incident.closed_at is None:
        services.reassign(incident, by=manager, owner=rng.choice(staff), now=moment)
    elif incident.fixed_at is not None and incident.wrapped_up_at is not None and not incident.outcome:
        services.record_outcome(incident, by=incident.owner, outcome=rng.choice(["champion", "lost"]), now=moment)


def test_the_pages_read_the_incidents_until_the_rollup_is_built(build, location, frontline, admin):
    start = datetime.datetime(2026, 3, 2, tzinfo=UTC)
    build(at=start + datetime.timedelta(hours=10), location=location, owner=frontline, apology=2, fix=9)
    scope = Scope(user=admin, locations=[location])
    now = start + 3 * DAY
    assert rollups.scorecard_counts(scope, start, start + DAY, "location", now) is None
    rows, total = selectors.scorecard(scope, start, start + DAY, now=now)
    assert total.current["logged"] == 1 and total.current["seconds_to_fix_p50"] == 540


def test_a_period_that_is_not_whole_days_where_the_location_is_reads_the_incidents(location, admin):
    location.timezone = "Asia/Kolkata"
    start = datetime.datetime(2026, 3, 2, 12, tzinfo=UTC)  # 17:30 in Kolkata
    assert rollups.slice_condition([location], start, start + DAY) is None
    assert rollups.slice_condition([location], start.replace(hour=0), start.replace(hour=0) + DAY) is not None


def test_a_fold_repeated_changes_nothing(build, location, frontline):
    start = datetime.datetime(2026, 3, 2, tzinfo=UTC)
    for hour in (1, 5, 23):
        build(at=start + datetime.timedelta(hours=hour), location=location, owner=frontline, apology=2, fix=9)
    rollups.rebuild(now=start + 2 * DAY)
    before = sorted(Tally.objects.values_list("local_date", "utc_date", "dimension", "key", "logged", "durations", "durations_through"))
    rollups.fold_changes(now=start + 2 * DAY)
    rollups.fold_days({(location.pk, start.date())})
    assert sorted(Tally.objects.values_list("local_date", "utc_date", "dimension", "key", "logged",
                                            "durations", "durations_through")) == before
    assert sum(logged for _, _, dimension, _, logged, _, _ in before if dimension == "") == 3


def test_shown_seconds_keep_what_the_scorecard_shows():
    from insights.charts import minutes

    for seconds in range(0, 3 * 86400, 7):
        assert minutes(rollups.shown_seconds(seconds)) == minutes(seconds)
    assert [rollups.shown_seconds(s) for s in (59, 60, 89, 90, 3599, 3600, 5400)] == [59, 60, 60, 120, 3599, 3600, 5400]


def test_the_beat_task_folds(monkeypatch):
    from insights import tasks

    calls = []
    monkeypatch.setattr(tasks, "fold_changes", lambda: calls.append("folded") or 3)
    assert tasks.fold_rollups() == 3 and calls == ["folded"]


def _page(client, url):
    import re

    response = client.get(url)
    assert response.status_code == 200
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())


def test_the_pages_show_the_same_from_the_rollup_as_from_the_incidents(client, build, location, other_location,
                                                                       frontline, manager, admin):
    """The scorecard (per location and per person) and the trends page, as a manager reads them."""
    other_location.timezone = "America/New_York"
    other_location.save()
    rng = random.Random("pages")
    start = datetime.datetime(2026, 3, 2, tzinfo=UTC)
    for _ in range(30):
        place = rng.choice([location, other_location])
        moment = start + datetime.timedelta(minutes=rng.randint(0, 27 * 24 * 60))
        with time_machine.travel(moment, tick=False):
            build(at=moment, location=place, owner=rng.choice([frontline, manager]), apology=rng.randint(1, 9),
                  fix=rng.choice([None, 12, 45, 200]), busyness=rng.choice(["quiet", "peak"]))
    client.force_login(admin)
    urls = ["/manage/scorecard/?start=2026-03-02&end=2026-03-29", "/manage/scorecard/?by=staff&start=2026-03-09&end=2026-03-29",
            "/manage/trends/?start=2026-03-02&end=2026-03-29", f"/manage/trends/?start=2026-03-02&end=2026-03-29&location={location.pk}"]
    with time_machine.travel(start + 30 * DAY, tick=False):
        from_incidents = [_page(client, url) for url in urls]
        rollups.fold_changes()
        assert rollups.is_built()
        assert [_page(client, url) for url in urls] == from_incidents
    assert "peak" in from_incidents[2].lower() or "Peak" in from_incidents[2]


def test_the_rebuild_command_folds_every_day_with_incidents_from_nothing(frontline, location):
    from io import StringIO

    from django.core.management import call_command

    factories.log_incident(user=frontline, location=location)
    assert not Tally.objects.exists()
    output = StringIO()

    call_command("rebuild_rollups", stdout=output)

    assert Tally.objects.filter(location=location).exists() and rollups.is_built()
    assert "1 location-days folded" in output.getvalue()
