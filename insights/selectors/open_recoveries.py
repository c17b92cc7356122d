"""The console's first page: open recoveries at the manager's locations, late ones and decisions waiting first."""

import math
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Case, Count, F, IntegerField, Prefetch, Q, Sum, Value, When, Window

from incidents import clock
from incidents.models import Gesture, Incident, late_condition

from ..scope import filter_incidents

PER_PAGE = 50

# The console's order: late recoveries first, then decisions waiting (a gesture over someone's budget that a
# manager must approve or refuse), then the soonest due.
LATE, DECISION_WAITING, RUNNING = 0, 1, 2


def open_recoveries(scope, values, *, now, limit=PER_PAGE):
    """The `limit` most urgent open incidents at the scope's locations, and the counts of all of them."""
    page, counts = open_recoveries_page(scope, values, now=now, number=1, per_page=limit)
    return page.object_list, counts


def open_recoveries_page(scope, values, *, now, number=1, per_page=PER_PAGE):
    """One page of the open incidents at the scope's locations, most urgent first, and their counts.

    Returns (a Django Page whose object_list holds the page's rows, {"total": …, "late": …}). Every query
    starts from the partial index `incident_open_by_location` (location, next_due_at WHERE closed_at IS
    NULL), so the cost follows the open incidents, never the whole table; its included columns decide
    "late". Four queries whatever the size: the ranking (with the counts), the rows, their helpers, their
    pending gestures. A page past the end (rows closed since the link was made) shows the last page.
    """
    incidents = _open(scope, values, now)
    number = max(int(number), 1)
    ranking = _ranking(incidents, scope, now, number, per_page)
    if not ranking and number > 1:
        number = max(math.ceil(incidents.count() / per_page), 1)
        ranking = _ranking(incidents, scope, now, number, per_page)
    counts = {"total": ranking[0][1], "late": ranking[0][2]} if ranking else {"total": 0, "late": 0}
    ranked = [pk for pk, _, _ in ranking]
    # The ranking reads ids alone; only the page's rows are read whole with their joins (joining every
    # open incident before the sort is what costs).
    shown = (
        Incident.objects.filter(pk__in=ranked)
        .select_related("customer", "location", "owner", "category")
        .prefetch_related(
            "helpers",
            Prefetch("gestures", queryset=Gesture.objects.filter(approval=Gesture.Approval.PENDING).order_by("given_at"),
                     to_attr="pending_gestures"),
        )
        .in_bulk()
    ) if ranked else {}
    rows = [shown[pk] for pk in ranked if pk in shown]
    for incident in rows:
        incident.clock = clock_of(incident, now)
    return Page(rows, number, _CountedPaginator(counts["total"], per_page)), counts


def _open(scope, values, now):
    return filter_incidents(
        Incident.objects.filter(location_id__in=scope.location_ids, closed_at__isnull=True), values, scope, now=now
    )


def _ranking(incidents, scope, now, number, per_page):
    """[(id, total, late)] of one page, in the console's order (late, decision waiting, soonest due).

    The counts ride along as window aggregates over the same scan (computed before the LIMIT), so the
    page and its counts are one read of the index.
    """
    # Pending gestures are few (the partial index gesture_pending holds only them): an uncorrelated
    # `IN (SELECT …)` the database hashes once, not a lookup per open incident.
    waiting = Gesture.objects.filter(
        approval=Gesture.Approval.PENDING, incident__location_id__in=scope.location_ids,
        incident__closed_at__isnull=True,
    ).values("incident_id")
    is_late = Case(When(late_condition(now), then=Value(1)), default=Value(0), output_field=IntegerField())
    urgency = Case(
        When(late_condition(now), then=Value(LATE)),
        When(Q(pk__in=waiting), then=Value(DECISION_WAITING)),
        default=Value(RUNNING), output_field=IntegerField(),
    )
    start = (number - 1) * per_page
    return list(
        incidents.annotate(urgency=urgency, total=Window(Count("pk")), late=Window(Sum(is_late)))
        .order_by("urgency", F("next_due_at").asc(nulls_last=True), "logged_at", "pk")
        .values_list("pk", "total", "late")[start:start + per_page]
    )


class _CountedPaginator(Paginator):
    """The page's paginator, told the count the ranking already read (its page links need nothing more)."""

    def __init__(self, count, per_page):
        super().__init__([], per_page)
        self.known_count = count

    @property
    def count(self):
        return self.known_count


def staff_by_location(staff):
    """{location id: people who can take over or help there}: the staff of that location and every
    manager and admin, from one query over the staff's locations. Keeps each row's pickers short."""
    from incidents.models import User

    links = User.locations.through.objects.filter(user_id__in=[person.pk for person in staff])
    at = {}
    for user_id, location_id in links.values_list("user_id", "location_id"):
        at.setdefault(location_id, set()).add(user_id)
    managers = {person.pk for person in staff if person.is_manager}
    by_location = {}
    for location_id, user_ids in at.items():
        by_location[location_id] = [person for person in staff if person.pk in user_ids or person.pk in managers]
    return by_location, [person for person in staff if person.pk in managers]


@dataclass(frozen=True)
class RowClock:
    state: str  # "late" (window passed, nothing done), "running", "met", "missed" (answered after the window)
    label: str
    next_label: str = ""


def clock_of(incident, now):
    """The twenty-minute clock of one row, and when anything is next due, read from its own columns."""
    next_label = ""
    if incident.next_due_at is not None:
        if incident.next_due_at > now:
            next_label = f"next due in {_duration(incident.next_due_at - now)}"
        else:
            next_label = f"next step overdue by {_duration(now - incident.next_due_at)}"
    state = incident.window_state(now)
    if state in (clock.MET, clock.MISSED):
        minutes = _minutes(incident.responded_at - incident.logged_at)
        return RowClock(state, f"Answered after {minutes} min" + (" (late)" if state == clock.MISSED else ""),
                        next_label)
    if state == clock.LATE:
        return RowClock(state, f"Late by {_duration(now - incident.follow_up_due_at)}", next_label)
    return RowClock(state, f"{_duration(incident.follow_up_due_at - now)} left", next_label)


def _minutes(delta):
    return max(int(delta.total_seconds() // 60), 0)


def _duration(delta):
    minutes = _minutes(delta)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 60 * 48:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{minutes // (60 * 24)} days"
