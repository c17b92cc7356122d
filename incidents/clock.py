"""The clocks of a recovery: pure deadline arithmetic, with `now` passed in.

Nothing here touches the database. `incidents.services` builds the facts from an incident, asks when
each clock is due, and stores the earliest moment anything is due as `Incident.next_due_at`.

The twenty-minute rule: by `logged_at + follow_up_window` either a fix or a follow-up *to the customer*
must be recorded. A response at exactly the deadline meets it; one a moment later misses it.
"""

from django.utils.translation import gettext_lazy
import datetime
from dataclasses import dataclass, field

from .calendar import BusinessCalendar, zone_named

# Clock kinds shown to staff: each is a promise to the customer.
TWENTY_MINUTE = "twenty_minute"
PROGRESS_REPORT = "progress_report"
CHECK_BACK = "check_back"
WRAP_UP = "wrap_up"
# Moments the follow-up engine acts on that are not promises of their own.
INTERNAL_ALERT = "internal_alert"
HEADS_UP = "heads_up"
ESCALATE_ADMINS = "escalate_admins"

# Promises that, while still unkept after they fell due, are raised again every
# `progress_report_every` (daily by default), inside opening hours, until recorded.
REPEATING = (PROGRESS_REPORT, CHECK_BACK, WRAP_UP)

CLOCK_LABELS = {
    TWENTY_MINUTE: gettext_lazy("Fix or follow up within the window"),
    PROGRESS_REPORT: gettext_lazy("Progress report to the customer"),
    CHECK_BACK: gettext_lazy("Check back after the fix"),
    WRAP_UP: gettext_lazy("Wrap-up note"),
    INTERNAL_ALERT: gettext_lazy("Alert the location's staff"),
    HEADS_UP: gettext_lazy("Heads-up before the window ends"),
    ESCALATE_ADMINS: gettext_lazy("Escalate to the organization's admins"),
}

# The states of a clock, the twenty-minute one above all. Written once here; the database's version of
# LATE is incidents.models.late_condition.
MET = "met"  # done within its time
MISSED = "missed"  # done, after its time
LATE = "late"  # its time passed and it is still not done
RUNNING = "running"  # not done, time remains


@dataclass(frozen=True)
class Policy:
    """The windows of one organization and the business calendar of one location."""

    follow_up_window: datetime.timedelta
    heads_up_before: datetime.timedelta
    escalate_after: datetime.timedelta
    progress_report_every: datetime.timedelta
    check_back_after: datetime.timedelta
    wrap_up_after: datetime.timedelta
    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)

    @property
    def timezone(self):
        return self.calendar.timezone


@dataclass(frozen=True)
class Facts:
    """What the clocks need to know about one incident."""

    logged_at: datetime.datetime
    follow_up_due_at: datetime.datetime
    responded_at: datetime.datetime | None = None
    fixed_at: datetime.datetime | None = None
    closed_at: datetime.datetime | None = None
    last_progress_at: datetime.datetime | None = None
    checked_back_at: datetime.datetime | None = None
    wrapped_up_at: datetime.datetime | None = None


@dataclass(frozen=True)
class Clock:
    kind: str
    due_at: datetime.datetime
    done_at: datetime.datetime | None = None

    @property
    def label(self):
        return CLOCK_LABELS[self.kind]

    @property
    def is_promise(self):
        """A clock staff see (and the customer feels), as opposed to an internal engine moment."""
        return self.kind in (TWENTY_MINUTE, PROGRESS_REPORT, CHECK_BACK, WRAP_UP)

    def state(self, now):
        return clock_state(self.due_at, self.done_at, now)

    def seconds_left(self, now):
        """Positive while time remains, negative once late; None when the clock was met."""
        if self.done_at is not None:
            return None
        return int((self.due_at - now).total_seconds())


def clock_state(due_at, done_at, now):
    if done_at is not None:
        return MET if done_at <= due_at else MISSED
    return LATE if now > due_at else RUNNING


def follow_up_due_at(logged_at, policy):
    return logged_at + policy.follow_up_window


def within_opening_hours(moment, policy):
    """Move a reminder that would land outside the location's opening hours to its next opening.

    Progress reports, check-backs and wrap-ups are for people: they never land at midnight, on a closed
    day or a public holiday. A calendar that never opens (the settings refuse one) leaves it where it is:
    late is better than never.
    """
    return policy.calendar.next_open_at(moment) or moment


def next_progress_report_at(facts, policy):
    """When the next daily progress report falls due: once the recovery has been open
    `progress_report_every`; after a report, at the opening of the day it comes round again on the
    location's calendar (a report any time on Thursday makes Friday's due at Friday's opening), so
    the owner's reminder lands with the morning's draft and no day goes without one."""
    every = policy.progress_report_every
    first = within_opening_hours(facts.logged_at + every, policy)
    if facts.last_progress_at is None:
        return first
    if every < datetime.timedelta(days=1):  # more than one a day: simply `every` after the last
        return max(first, within_opening_hours(facts.last_progress_at + every, policy))
    zone = zone_named(policy.timezone)
    midnight = datetime.datetime.combine(facts.last_progress_at.astimezone(zone).date(), datetime.time(0), tzinfo=zone)
    # Wall-clock arithmetic in the zone: a day later is the next midnight, whatever daylight saving does.
    return max(first, within_opening_hours((midnight + every).astimezone(datetime.timezone.utc), policy))


def clocks(facts, policy):
    """Every clock of the incident, running or finished, in due order."""
    result = [Clock(TWENTY_MINUTE, facts.follow_up_due_at, facts.responded_at)]
    if facts.fixed_at is None:
        if facts.closed_at is None:
            result.append(Clock(PROGRESS_REPORT, next_progress_report_at(facts, policy)))
    else:
        result.append(
            Clock(
                CHECK_BACK,
                within_opening_hours(facts.fixed_at + policy.check_back_after, policy),
                facts.checked_back_at,
            )
        )
        result.append(
            Clock(WRAP_UP, within_opening_hours(facts.fixed_at + policy.wrap_up_after, policy), facts.wrapped_up_at)
        )
    return sorted(result, key=lambda clock: clock.due_at)


def next_promise(facts, policy):
    """The earliest promise to the customer still unkept (its first time due, however often the engine
    has raised it again since), or None once every promise is kept or the recovery is closed. Its due
    moment is stored as `Incident.promise_due_at`; the frontline list orders by it and each card says it."""
    if facts.closed_at is not None:
        return None
    return next((clock for clock in clocks(facts, policy) if clock.done_at is None), None)


def engine_moments(facts, policy):
    """Every moment the follow-up engine must still act on, earliest first.

    These are the running clocks plus the heads-up before the twenty-minute deadline and the
    escalation to admins after it, both only while nobody has responded, and the internal alert
    to the location's staff at the moment of logging. The alert is a moment like any other so
    that logging needs no knowledge of the engine: it makes `next_due_at` the logging time, the
    next sweep sends the alert, and moves `next_due_at` past it for good.
    """
    if facts.closed_at is not None:
        return []
    moments = [Clock(INTERNAL_ALERT, facts.logged_at)]
    moments += [clock for clock in clocks(facts, policy) if clock.done_at is None]
    if facts.responded_at is None:
        moments.append(Clock(HEADS_UP, facts.follow_up_due_at - policy.heads_up_before))
        moments.append(Clock(ESCALATE_ADMINS, facts.follow_up_due_at + policy.escalate_after))
    return sorted(moments, key=lambda clock: clock.due_at)


def _occurrence(due_at, policy, repeat):
    return within_opening_hours(due_at + repeat * policy.progress_report_every, policy)


def _repeats(moment, policy):
    return moment.kind in REPEATING and policy.progress_report_every > datetime.timedelta(0)


def latest_occurrence(moment, policy, now):
    """For an unkept repeating promise due by `now`, the last time it fell due again by `now`."""
    if not _repeats(moment, policy) or moment.due_at > now:
        return moment.due_at
    repeat = int((now - moment.due_at) / policy.progress_report_every)
    # Opening hours only ever move an occurrence later, so step back until it is not after now.
    while repeat > 0 and _occurrence(moment.due_at, policy, repeat) > now:
        repeat -= 1
    return _occurrence(moment.due_at, policy, repeat)


def first_occurrence_from(moment, policy, not_before):
    """The first time at or after `not_before` that the moment falls due (again), or None."""
    if moment.due_at >= not_before:
        return moment.due_at
    if not _repeats(moment, policy):
        return None
    repeat = max(int((not_before - moment.due_at) / policy.progress_report_every) - 1, 0)
    while (occurrence := _occurrence(moment.due_at, policy, repeat)) < not_before:
        repeat += 1
    return occurrence


def due_moments(facts, policy, now):
    """The engine moments due at or before `now`. An unkept repeating promise appears once, at its
    latest occurrence, so a sweep that was down for three days sends one reminder, not three."""
    return [
        Clock(moment.kind, latest_occurrence(moment, policy, now))
        for moment in engine_moments(facts, policy)
        if moment.due_at <= now
    ]


def next_due_at(facts, policy, not_before):
    """The earliest moment at or after `not_before` that the engine must act on, or None.

    Moments before `not_before` were already handled by a sweep; `incidents.services` passes the
    earlier of the stored `next_due_at` and now, the sweep passes the moment just after its `now`.
    """
    upcoming = (first_occurrence_from(moment, policy, not_before) for moment in engine_moments(facts, policy))
    return min((moment for moment in upcoming if moment is not None), default=None)
