"""A location's business calendar: when it is open, read in its own time zone. Pure: nothing here touches
the database; `incidents.services.calendar_for` builds a calendar from a location's rows.

A day's opening hours are one or more spans. A span whose closing time is not after its opening time runs
past midnight into the next day (18:00–02:00), and a span that closes when it opens (00:00–00:00) is open
round the clock. A dated exception replaces the week's spans for its day (closing early, a special opening;
no spans means closed), and so does a public holiday, which closes the day unless an exception says
otherwise. A span belongs to the day it opens on: Saturday's 18:00–02:00 still runs on a closed Sunday.

Every moment is worked out on local dates and then turned into an aware datetime with zoneinfo, so daylight
saving never moves an opening by an hour: an opening in the hour the clocks skip (02:30 on the spring
change) comes at the same distance after the change, one in the hour that happens twice at its first time.
"""

import datetime
import zoneinfo
from dataclasses import dataclass, field

UTC = datetime.timezone.utc
DAY = datetime.timedelta(days=1)
# How far ahead an opening is looked for: a year of closed days (exceptions, holidays) and then some.
HORIZON_DAYS = 400
WEEKDAYS = range(7)  # Monday is 0, as datetime.date.weekday() counts


def zone_named(name):
    """The time zone of this name, or UTC for one the zone database does not know: a location saved
    with a mistyped zone before every door checked it must still answer, on UTC, rather than fail."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        return zoneinfo.ZoneInfo("UTC")


@dataclass(frozen=True)
class Span:
    opens: datetime.time
    closes: datetime.time

    @property
    def crosses_midnight(self):
        return self.closes <= self.opens

    @property
    def round_the_clock(self):
        return self.closes == self.opens

    def on(self, day, zone):
        """The (start, end) instants, in UTC, of this span opening on local date `day`."""
        closing_day = day + DAY if self.crosses_midnight else day
        start = datetime.datetime.combine(day, self.opens, tzinfo=zone)
        end = datetime.datetime.combine(closing_day, self.closes, tzinfo=zone)
        return start.astimezone(UTC), end.astimezone(UTC)

    def __str__(self):
        return f"{self.opens:%H:%M}–{self.closes:%H:%M}"


def _never_closed_on(day):
    return False


@dataclass(frozen=True)
class BusinessCalendar:
    """`week`: seven tuples of spans, Monday first; `exceptions`: {date: tuple of spans} (empty: closed);
    `holidays`: anything that answers `date in holidays` (a `holidays` package calendar, a set of dates)."""

    timezone: str = "UTC"
    week: tuple = field(default_factory=lambda: tuple((Span(datetime.time(9), datetime.time(18)),) for _ in WEEKDAYS))
    exceptions: dict = field(default_factory=dict)
    holidays: object = frozenset()

    @property
    def zone(self):
        return zone_named(self.timezone)

    def spans_on(self, day):
        """The spans that open on local date `day`."""
        if day in self.exceptions:
            return tuple(self.exceptions[day])
        if day in self.holidays:
            return ()
        return tuple(self.week[day.weekday()])

    def is_holiday(self, day):
        return day not in self.exceptions and day in self.holidays

    def intervals_on(self, day):
        """The (start, end) instants of the spans opening on local date `day`, in order."""
        zone = self.zone
        return sorted(span.on(day, zone) for span in self.spans_on(day))

    def has_open_hours(self):
        """Whether the week has any open hour at all (exceptions aside): a calendar without is refused."""
        return any(self.week[weekday] for weekday in WEEKDAYS)

    def _local_date(self, moment):
        return moment.astimezone(self.zone).date()

    def is_open(self, moment):
        """Whether the location is open at this instant."""
        day = self._local_date(moment)
        # Yesterday's span may still run past midnight.
        return any(start <= moment < end for d in (day - DAY, day) for start, end in self.intervals_on(d))

    def next_open_at(self, moment):
        """`moment` itself when open then, else the next instant the location opens; None when it never
        opens within HORIZON_DAYS (a calendar the settings refuse)."""
        day = self._local_date(moment)
        for offset in range(-1, HORIZON_DAYS):
            for start, end in self.intervals_on(day + offset * DAY):
                if end <= moment:
                    continue
                return max(start, moment)
        return None

    def day_ends_at(self, day):
        """When the business day of local date `day` ends: the close of its last span (the next morning's,
        for a span past midnight), or the next midnight for a day with no spans."""
        intervals = self.intervals_on(day)
        if not intervals:
            return datetime.datetime.combine(day + DAY, datetime.time(0), tzinfo=self.zone).astimezone(UTC)
        return max(end for _, end in intervals)

    def first_open_day(self, day, *, within=7):
        """The first local date from `day` on, within `within` days, with opening hours; else `day`."""
        for offset in range(within):
            if self.spans_on(day + offset * DAY):
                return day + offset * DAY
        return day


def overlaps(spans):
    """The pairs of spans of one day's list that overlap in time, treating each as on the same date
    (a span past midnight also covers the early hours of the next day, checked against the next day's)."""
    def minutes(span):
        start = span.opens.hour * 60 + span.opens.minute
        end = span.closes.hour * 60 + span.closes.minute
        return start, end + (24 * 60 if span.crosses_midnight else 0)

    ordered = sorted(spans, key=minutes)
    return [(a, b) for a, b in zip(ordered, ordered[1:]) if minutes(b)[0] < minutes(a)[1]]


def spills_into(previous_day_spans, spans):
    """The spans of a day that the previous day's spans past midnight still cover (Monday 22:00–03:00
    and Tuesday 02:00–10:00 overlap)."""
    def minutes(moment):
        return moment.hour * 60 + moment.minute

    spill = max((minutes(span.closes) for span in previous_day_spans if span.crosses_midnight), default=0)
    return [span for span in spans if minutes(span.opens) < spill]
