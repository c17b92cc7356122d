"""The business calendar on its own: is the location open at an instant, and when does it next open."""

import datetime

import pytest

from incidents.calendar import BusinessCalendar, Span, overlaps, spills_into, zone_named

UTC = datetime.timezone.utc


def at(text):
    return datetime.datetime.fromisoformat(text).replace(tzinfo=UTC)


def every_day(*spans):
    return tuple(tuple(Span(datetime.time(*o), datetime.time(*c)) for o, c in spans) for _ in range(7))


BAR = BusinessCalendar(timezone="Europe/London", week=every_day(((18, 0), (2, 0))))


@pytest.mark.parametrize("moment, is_open", [
    ("2026-03-04T17:59", False), ("2026-03-04T18:00", True), ("2026-03-04T20:00", True),
    ("2026-03-05T01:00", True), ("2026-03-05T01:59", True), ("2026-03-05T02:00", False), ("2026-03-05T12:00", False),
])
def test_a_span_past_midnight_is_open_until_the_early_hours(moment, is_open):
    assert BAR.is_open(at(moment)) is is_open


def test_the_next_opening_of_a_bar_is_at_once_while_open_and_at_six_in_the_evening_after_closing():
    assert BAR.next_open_at(at("2026-03-04T20:00")) == at("2026-03-04T20:00")
    assert BAR.next_open_at(at("2026-03-05T01:00")) == at("2026-03-05T01:00")
    assert BAR.next_open_at(at("2026-03-05T02:00")) == at("2026-03-05T18:00")


def test_several_spans_a_day_close_for_the_afternoon():
    lunch_and_dinner = BusinessCalendar(week=every_day(((11, 0), (14, 0)), ((18, 0), (23, 0))))
    assert lunch_and_dinner.next_open_at(at("2026-03-04T15:00")) == at("2026-03-04T18:00")
    assert lunch_and_dinner.next_open_at(at("2026-03-04T23:30")) == at("2026-03-05T11:00")
    assert lunch_and_dinner.day_ends_at(datetime.date(2026, 3, 4)) == at("2026-03-04T23:00")


def test_a_closed_sunday_waits_for_monday_but_saturdays_late_span_still_runs_into_it():
    week = list(every_day(((9, 0), (18, 0))))
    week[5] = (Span(datetime.time(18), datetime.time(2)),)  # Saturday night
    week[6] = ()  # Sunday closed
    shop = BusinessCalendar(week=tuple(week))
    assert shop.is_open(at("2026-03-08T01:00"))  # Sunday 01:00, Saturday's span
    assert shop.next_open_at(at("2026-03-08T10:00")) == at("2026-03-09T09:00")


def test_a_public_holiday_closes_the_day_and_an_exception_opens_it_again():
    christmas = datetime.date(2026, 12, 25)
    calendar = BusinessCalendar(week=every_day(((9, 0), (18, 0))), holidays={christmas})
    assert calendar.next_open_at(at("2026-12-25T10:00")) == at("2026-12-26T09:00")
    special = BusinessCalendar(week=calendar.week, holidays={christmas},
                               exceptions={christmas: (Span(datetime.time(12), datetime.time(15)),)})
    assert special.next_open_at(at("2026-12-25T10:00")) == at("2026-12-25T12:00")
    assert special.day_ends_at(christmas) == at("2026-12-25T15:00")


def test_an_exception_closes_early():
    calendar = BusinessCalendar(week=every_day(((9, 0), (18, 0))),
                                exceptions={datetime.date(2026, 3, 4): (Span(datetime.time(9), datetime.time(13)),)})
    assert not calendar.is_open(at("2026-03-04T14:00"))
    assert calendar.next_open_at(at("2026-03-04T14:00")) == at("2026-03-05T09:00")


@pytest.mark.parametrize("zone, saturday, closes, sunday_after_closing, opens_sunday", [
    # London: clocks go forward on 29 March (01:00 GMT becomes 02:00 BST) and back on 25 October.
    ("Europe/London", "2026-03-28", "2026-03-29T01:00", "2026-03-29T01:30", "2026-03-29T17:00"),
    ("Europe/London", "2026-10-24", "2026-10-25T02:00", "2026-10-25T02:30", "2026-10-25T18:00"),
    # New York: forward on 8 March, where 02:00 is skipped (the bar closes as the clocks jump), back on 1 November.
    ("America/New_York", "2026-03-07", "2026-03-08T07:00", "2026-03-08T07:30", "2026-03-08T22:00"),
    ("America/New_York", "2026-10-31", "2026-11-01T07:00", "2026-11-01T07:30", "2026-11-01T23:00"),
])
def test_daylight_saving_moves_no_opening_by_an_hour(zone, saturday, closes, sunday_after_closing, opens_sunday):
    bar = BusinessCalendar(timezone=zone, week=every_day(((18, 0), (2, 0))))
    day = datetime.date.fromisoformat(saturday)
    start, end = bar.intervals_on(day)[0]
    assert start.astimezone(zone_named(zone)).time() == datetime.time(18)
    assert end == at(closes)
    assert bar.next_open_at(at(sunday_after_closing)) == at(opens_sunday)
    assert bar.next_open_at(at(opens_sunday)).astimezone(zone_named(zone)).time() == datetime.time(18)


def test_an_opening_in_the_skipped_hour_comes_as_long_after_the_change():
    # 01:30 does not exist in London on 29 March 2026: the clocks jump from 01:00 GMT to 02:00 BST.
    early = BusinessCalendar(timezone="Europe/London", week=every_day(((1, 30), (12, 0))))
    assert early.next_open_at(at("2026-03-29T00:10")) == at("2026-03-29T01:30")  # 02:30 BST


def test_round_the_clock_is_always_open():
    always = BusinessCalendar(week=every_day(((0, 0), (0, 0))))
    assert always.is_open(at("2026-03-04T03:00")) and always.next_open_at(at("2026-03-04T23:59")) == at("2026-03-04T23:59")


def test_a_calendar_that_never_opens_has_no_next_opening():
    never = BusinessCalendar(week=tuple(() for _ in range(7)))
    assert not never.has_open_hours() and never.next_open_at(at("2026-03-04T12:00")) is None


def test_overlapping_spans_are_found_within_a_day_and_across_midnight():
    nine_to_five, four_to_eight = Span(datetime.time(9), datetime.time(17)), Span(datetime.time(16), datetime.time(20))
    assert overlaps([nine_to_five, four_to_eight]) == [(nine_to_five, four_to_eight)]
    assert overlaps([nine_to_five, Span(datetime.time(17), datetime.time(20))]) == []
    late = Span(datetime.time(22), datetime.time(3))
    assert spills_into([late], [Span(datetime.time(2), datetime.time(10))])
    assert not spills_into([late], [Span(datetime.time(3), datetime.time(10))])


def test_a_mistyped_time_zone_reads_as_utc():
    assert zone_named("Europe/Londn") == zone_named("UTC")
    assert BusinessCalendar(timezone="Mars/Olympus").next_open_at(at("2026-03-04T08:00")) == at("2026-03-04T09:00")
