"""The problems' clock on the follow-up engine, through the real sweep with the clock moved by `now=`:
corrective actions reminded on their due day and escalated a day late, closing proposed after the watching
period, and a closed problem whose pattern came back reopened."""

import datetime
import threading

import pytest
from django.db import connection, connections
from django.urls import reverse

from followups import services as followups
from followups.models import Notification
from problems import clock, services
from problems.models import CorrectiveAction, ProblemEvent, Status
from problems.patterns import Pattern
from tests import factories
from tests.conftest import START  # Wednesday 4 March 2026, 14:00 UTC

pytestmark = pytest.mark.django_db

UTC = datetime.timezone.utc
MINUTE = datetime.timedelta(minutes=1)
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)
WEEK = datetime.timedelta(weeks=1)
DUE_ON = datetime.date(2026, 3, 11)  # a week after the problem is opened
DUE_MORNING = datetime.datetime(2026, 3, 11, 9, 0, tzinfo=UTC)  # Riverside keeps UTC
A_DAY_LATE = DUE_MORNING + DAY
Kind = Notification.Kind


def _sweep(now):
    """The follow-up engine's pass; what the problems' clock did, as the sweep report has it."""
    return followups.sweep(now=now).others["problems.services"]


@pytest.fixture
def owner(organization, location):
    return factories.UserFactory(username="owen", organization=organization, role="manager", locations=[location])


@pytest.fixture
def hilltop_manager(organization, other_location):
    return factories.UserFactory(username="hugo", organization=organization, role="manager", locations=[other_location])


@pytest.fixture
def action(manager, owner, frontline, hilltop_manager, admin):
    """Fran's action on Owen's problem, due on Wednesday 11 March."""
    problem = services.open_problem(by=manager, title="Cold soup at Riverside", owner=owner, now=START)
    return services.add_action(problem, by=manager, description="Heat the soup bowls", owner=frontline,
                               due_on=DUE_ON, now=START)


def _told(kind, person=None):
    notifications = Notification.objects.filter(kind=kind)
    return notifications.filter(recipient=person) if person else notifications


def test_nothing_is_said_before_the_due_days_morning(action, frontline):
    assert _sweep(DUE_MORNING - MINUTE) == {}
    assert not _told(Kind.ACTION_DUE).exists()


def test_the_actions_owner_is_reminded_on_the_due_days_morning(action, frontline):
    assert _sweep(DUE_MORNING) == {"corrective action reminders": 1}
    reminder = _told(Kind.ACTION_DUE).get()
    assert reminder.recipient == frontline
    assert reminder.incident is None
    assert reminder.link == reverse("problems:detail", args=[action.problem_id])
    assert "Heat the soup bowls" in reminder.title
    action.refresh_from_db()
    assert action.reminded_at == DUE_MORNING
    assert action.remind_at == A_DAY_LATE


def test_a_sweep_run_twice_with_the_same_now_does_nothing_the_second_time(action):
    _sweep(DUE_MORNING)
    assert _sweep(DUE_MORNING) == {}
    _sweep(A_DAY_LATE)
    assert _sweep(A_DAY_LATE) == {}
    assert _told(Kind.ACTION_DUE).count() == 1
    assert _told(Kind.ACTION_OVERDUE).count() == 3  # Mona, Owen, Fran
    assert action.problem.events.filter(kind=ProblemEvent.Kind.ACTION_OVERDUE).count() == 1


def test_a_day_late_the_problem_owners_manager_and_the_owner_hear_it(action, manager, owner, frontline,
                                                                      hilltop_manager, admin):
    _sweep(DUE_MORNING)
    assert _sweep(A_DAY_LATE - MINUTE) == {}
    assert not _told(Kind.ACTION_OVERDUE).exists()

    assert _sweep(A_DAY_LATE) == {"overdue actions escalated": 1}

    told = set(_told(Kind.ACTION_OVERDUE).values_list("recipient__username", flat=True))
    assert told == {manager.username, owner.username, frontline.username}  # never Hugo of Hilltop, nor the admin
    event = action.problem.events.get(kind=ProblemEvent.Kind.ACTION_OVERDUE)
    assert event.after["to"] == [manager.username]
    assert "Heat the soup bowls" in event.summary
    action.refresh_from_db()
    assert action.escalated_at == A_DAY_LATE
    assert action.remind_at is None
    assert _sweep(A_DAY_LATE + WEEK) == {}


def test_with_no_manager_beside_the_owner_the_admins_hear_it(organization, manager, frontline, admin, hilltop_manager):
    seaview = factories.LocationFactory(organization=organization, name="Seaview", code="seaview")
    lone = factories.UserFactory(username="lou", organization=organization, role="manager", locations=[seaview])
    problem = services.open_problem(by=manager, title="Lost bookings", owner=lone, now=START)
    services.add_action(problem, by=manager, description="Call the booking site", owner=frontline, due_on=DUE_ON, now=START)

    _sweep(A_DAY_LATE)

    assert set(_told(Kind.ACTION_OVERDUE).values_list("recipient__username", flat=True)) == {
        admin.username, lone.username, frontline.username}


def test_a_done_action_is_neither_reminded_nor_escalated(action, manager):
    services.complete_action(action, by=manager, now=DUE_MORNING - HOUR)
    assert _sweep(DUE_MORNING) == {}
    assert _sweep(A_DAY_LATE) == {}
    assert not _told(Kind.ACTION_DUE).exists() and not _told(Kind.ACTION_OVERDUE).exists()


def test_the_pass_reads_due_actions_from_the_partial_index_in_one_query(action):
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        clock.due_action_ids(DUE_MORNING - MINUTE, limit=10)
    sql = captured[0]["sql"]
    assert len(captured) == 1 and '"remind_at" <=' in sql and '"done_at" IS NULL' in sql


# --- The verdict's pass ----------------------------------------------------------------------------

WEEK_0 = datetime.datetime(2026, 3, 2, tzinfo=UTC)  # Monday
FIXED_AT = WEEK_0 + 4 * WEEK  # Monday 30 March


def _cluster(frontline, location, weeks):
    """Three incidents each Wednesday 15:00–16:00 at Riverside in those weeks."""
    for week in weeks:
        wednesday_15 = WEEK_0 + week * WEEK + 2 * DAY + 15 * HOUR
        for minute in (5, 25, 45):
            factories.log_incident(user=frontline, location=location, now=wednesday_15 + minute * MINUTE)


def _watched(manager, location):
    problem = services.open_problem(by=manager, title="Wednesday rush", owner=manager, now=WEEK_0 + 3 * WEEK,
                                    pattern=Pattern(location_id=location.pk, weekday=3, hour_from=15, hour_to=16))
    return services.mark_fixed(problem, by=manager, version=problem.version, fixed_at=FIXED_AT, now=FIXED_AT + HOUR)


def test_closing_is_proposed_once_after_the_watching_period_when_the_fix_held(frontline, manager, location):
    _cluster(frontline, location, range(4))
    problem = _watched(manager, location)

    assert _sweep(FIXED_AT + 4 * WEEK - HOUR) == {}
    assert _sweep(FIXED_AT + 4 * WEEK + MINUTE) == {"problems proposed for closing": 1}

    problem.refresh_from_db()
    assert problem.close_proposed_at == FIXED_AT + 4 * WEEK + MINUTE
    assert problem.status == Status.WATCHING
    event = problem.events.get(kind=ProblemEvent.Kind.CLOSE_PROPOSED)
    assert "0 incidents in 4 weeks where" in event.summary and event.summary.endswith(": fixed.")
    proposal = _told(Kind.PROBLEM_UPDATE, manager).get()
    assert "close the problem" in proposal.title
    assert _sweep(FIXED_AT + 5 * WEEK) == {}
    assert _told(Kind.PROBLEM_UPDATE, manager).count() == 1


def test_closing_is_not_proposed_while_the_pattern_goes_on(frontline, manager, location):
    _cluster(frontline, location, range(8))
    problem = _watched(manager, location)

    assert _sweep(FIXED_AT + 4 * WEEK + MINUTE) == {}

    problem.refresh_from_db()
    assert problem.close_proposed_at is None
    assert not problem.events.filter(kind=ProblemEvent.Kind.CLOSE_PROPOSED).exists()


def _closed(frontline, manager, location):
    _cluster(frontline, location, range(4))
    problem = _watched(manager, location)
    return services.change_status(problem, by=manager, version=problem.version, status=Status.CLOSED, now=CLOSED_AT)


CLOSED_AT = FIXED_AT + 4 * WEEK  # Monday 27 April


def test_a_closed_problem_that_stays_quiet_stays_closed(frontline, manager, location):
    problem = _closed(frontline, manager, location)
    assert _sweep(CLOSED_AT + 8 * DAY) == {}
    problem.refresh_from_db()
    assert problem.status == Status.CLOSED


def test_a_closed_problem_whose_pattern_comes_back_recurs_and_says_so(frontline, manager, location):
    problem = _closed(frontline, manager, location)
    _cluster(frontline, location, [8])  # Wednesday 29 April, three again

    assert _sweep(CLOSED_AT + 6 * DAY) == {}  # too soon after closing to tell
    assert _sweep(CLOSED_AT + 7 * DAY + HOUR) == {"closed problems recurred": 1}

    version = problem.version
    problem.refresh_from_db()
    assert problem.status == Status.RECURRED
    assert problem.closed_at is None
    assert problem.version == version + 1
    event = problem.events.get(kind=ProblemEvent.Kind.RECURRED)
    assert event.summary.startswith("Recurred after closing: Since closing on 27 Apr: 3 incidents in 7 days where ")
    assert event.summary.endswith(": not fixed.")
    news = _told(Kind.PROBLEM_UPDATE, manager).get()
    assert news.title == "Wednesday rush came back after closing"
    assert news.link == reverse("problems:detail", args=[problem.pk])
    assert _sweep(CLOSED_AT + 9 * DAY + HOUR) == {}


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks with SKIP LOCKED need PostgreSQL (set DATABASE_URL)")
def test_two_passes_at_once_escalate_each_overdue_action_once(manager, owner, frontline, monkeypatch):
    monkeypatch.setattr(followups, "_publish", lambda delivery_ids: None)  # these commit: no real broker
    problem = services.open_problem(by=manager, title="Cold soup at Riverside", owner=owner, now=START)
    for number in range(30):
        services.add_action(problem, by=manager, description=f"Step {number}", owner=frontline, due_on=DUE_ON, now=START)
    start, results = threading.Barrier(2), []

    def run():
        try:
            start.wait()
            results.append(clock.run(now=A_DAY_LATE))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(result["overdue actions escalated"] for result in results) == 30
    assert problem.events.filter(kind=ProblemEvent.Kind.ACTION_OVERDUE).count() == 30
    assert CorrectiveAction.objects.filter(escalated_at__isnull=False).count() == 30


def test_the_engine_goes_on_when_the_problems_clock_cannot_reach_the_cache_or_fails(frontline, location, monkeypatch):
    """Redis away (the cache raises) or the problems' pass failing must not stop the engine's own work."""
    from django.core.cache import cache

    from followups import services as followups
    from problems import clock as problems_clock
    from tests import factories

    def away(*args, **kwargs):
        raise ConnectionError("cache away")

    monkeypatch.setattr(cache, "get_many", away)
    monkeypatch.setattr(cache, "set_many", away)
    incident = factories.log_incident(user=frontline, location=location)
    assert problems_clock.run(now=incident.logged_at) is not None
    monkeypatch.setattr(problems_clock, "_watch", away)
    report = followups.sweep(now=incident.follow_up_due_at + datetime.timedelta(minutes=1))
    assert report.acted == 1 and incident.reminders.exists()
