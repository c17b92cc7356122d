import datetime

import pytest

from incidents import clock
from incidents.calendar import BusinessCalendar, Span

UTC = datetime.timezone.utc
LOGGED = datetime.datetime(2026, 3, 4, 14, 0, tzinfo=UTC)
MINUTE = datetime.timedelta(minutes=1)
POLICY = clock.Policy(
    follow_up_window=20 * MINUTE,
    heads_up_before=5 * MINUTE,
    escalate_after=15 * MINUTE,
    progress_report_every=datetime.timedelta(days=1),
    check_back_after=datetime.timedelta(days=1),
    wrap_up_after=datetime.timedelta(days=2),
    calendar=BusinessCalendar(timezone="Europe/London"),  # 09:00–18:00 every day
)


def facts(**values):
    return clock.Facts(logged_at=LOGGED, follow_up_due_at=LOGGED + 20 * MINUTE, **values)


def test_a_response_exactly_at_the_deadline_meets_the_clock():
    assert clock.clock_state(LOGGED + 20 * MINUTE, LOGGED + 20 * MINUTE, LOGGED + 30 * MINUTE) == "met"
    assert clock.clock_state(LOGGED + 20 * MINUTE, LOGGED + 20 * MINUTE + datetime.timedelta(seconds=1), LOGGED) == "missed"


def test_an_untouched_incident_has_heads_up_deadline_and_escalation_in_order():
    moments = clock.engine_moments(facts(), POLICY)
    assert [(m.kind, m.due_at - LOGGED) for m in moments] == [
        ("internal_alert", datetime.timedelta(0)),
        ("heads_up", 15 * MINUTE),
        ("twenty_minute", 20 * MINUTE),
        ("escalate_admins", 35 * MINUTE),
        ("progress_report", datetime.timedelta(days=1)),
    ]


def test_a_response_stops_the_heads_up_and_the_escalation():
    kinds = [m.kind for m in clock.engine_moments(facts(responded_at=LOGGED + 5 * MINUTE), POLICY)]
    assert kinds == ["internal_alert", "progress_report"]


@pytest.mark.parametrize("reported_at", ["2026-03-05T15:00", "2026-03-05T09:30", "2026-03-05T20:00"])
def test_a_progress_report_re_arms_the_progress_clock_for_the_next_days_opening(reported_at):
    reported = datetime.datetime.fromisoformat(reported_at).replace(tzinfo=UTC)  # any time on Thursday
    progress = [c for c in clock.clocks(facts(last_progress_at=reported), POLICY) if c.kind == "progress_report"]
    assert progress[0].due_at == datetime.datetime(2026, 3, 6, 9, 0, tzinfo=UTC)  # Friday's opening


def test_a_report_on_the_day_of_logging_still_leaves_the_first_day_its_own():
    reported = LOGGED + 3 * 60 * MINUTE  # Wednesday 17:00
    progress = [c for c in clock.clocks(facts(last_progress_at=reported), POLICY) if c.kind == "progress_report"]
    assert progress[0].due_at == LOGGED + datetime.timedelta(days=1)  # open a day: Thursday 14:00


def test_next_due_skips_moments_already_handled():
    # The internal alert falls due at the moment of logging; once a sweep is past it, the heads-up.
    assert clock.next_due_at(facts(), POLICY, not_before=LOGGED) == LOGGED
    assert clock.next_due_at(facts(), POLICY, not_before=LOGGED + datetime.timedelta(seconds=1)) == LOGGED + 15 * MINUTE
    assert clock.next_due_at(facts(), POLICY, not_before=LOGGED + 16 * MINUTE) == LOGGED + 20 * MINUTE


def test_a_closed_incident_has_nothing_due():
    assert clock.next_due_at(facts(closed_at=LOGGED + MINUTE), POLICY, not_before=LOGGED) is None


@pytest.mark.parametrize(
    "utc_moment, expected",
    [
        # London is on GMT in March before the 29th: local time equals UTC.
        ("2026-03-05T12:00", "2026-03-05T12:00"),  # open: unchanged
        ("2026-03-05T07:30", "2026-03-05T09:00"),  # before opening: at opening the same day
        ("2026-03-05T18:00", "2026-03-06T09:00"),  # at closing: next morning
        ("2026-03-05T23:59", "2026-03-06T09:00"),  # never at midnight
        # In summer London is UTC+1: 17:30 UTC is 18:30 local, after closing.
        ("2026-07-01T17:30", "2026-07-02T08:00"),
    ],
)
def test_reminders_for_people_land_inside_opening_hours(utc_moment, expected):
    moment = datetime.datetime.fromisoformat(utc_moment).replace(tzinfo=UTC)
    assert clock.within_opening_hours(moment, POLICY) == datetime.datetime.fromisoformat(expected).replace(tzinfo=UTC)


def test_a_location_open_around_the_clock_moves_nothing():
    round_the_clock = tuple((Span(datetime.time(0), datetime.time(0)),) for _ in range(7))
    always = clock.Policy(**{**POLICY.__dict__, "calendar": BusinessCalendar(timezone="Europe/London", week=round_the_clock)})
    midnight = datetime.datetime(2026, 3, 5, 0, 0, tzinfo=UTC)
    assert clock.within_opening_hours(midnight, always) == midnight


def test_check_back_and_wrap_up_follow_the_fix_until_recorded():
    fixed = LOGGED + 10 * MINUTE
    running = {c.kind: c for c in clock.clocks(facts(responded_at=fixed, fixed_at=fixed), POLICY)}
    assert running["check_back"].due_at == fixed + datetime.timedelta(days=1)
    assert running["wrap_up"].due_at == fixed + datetime.timedelta(days=2)
    done = clock.clocks(facts(responded_at=fixed, fixed_at=fixed, wrapped_up_at=fixed + datetime.timedelta(days=2)), POLICY)
    assert [c.kind for c in done if c.done_at is None] == ["check_back"]
