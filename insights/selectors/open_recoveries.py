"""The console's first page: open recoveries at the manager's locations, late ones first."""

from dataclasses import dataclass

from django.db.models import Case, Count, F, IntegerField, Prefetch, Sum, Value, When, Window

from incidents import clock
from incidents.models import Gesture, Incident, late_condition

from ..scope import filter_incidents


def open_recoveries(scope, values, *, now, limit=50):
    """Open incidents at the scope's locations: late ones first, then the soonest due.

    Served by the partial index `incident_open_by_location` (location, next_due_at WHERE closed_at IS
    NULL). Four queries whatever the size: the ranking (with the counts), the rows, their helpers, their
    pending gestures.
    """
    incidents = filter_incidents(
        Incident.objects.filter(location_id__in=scope.location_ids, closed_at__isnull=True), values, scope, now=now
    )
    # First rank the open incidents by id alone (an index-only scan of incident_open_by_location), then
    # read the few rows shown with their joins: joining every open incident before the sort is what costs.
    # The counts ride along as window aggregates over the same scan (computed before the LIMIT).
    late_rank = Case(When(late_condition(now), then=Value(0)), default=Value(1), output_field=IntegerField())
    ranking = list(
        incidents.annotate(late_rank=late_rank, total=Window(Count("id")), late=Window(Sum(1 - late_rank)))
        .order_by("late_rank", F("next_due_at").asc(nulls_last=True), "logged_at", "pk")
        .values_list("pk", "total", "late")[:limit]
    )
    ranked = [pk for pk, _, _ in ranking]
    counts = {"total": ranking[0][1], "late": ranking[0][2]} if ranking else {"total": 0, "late": 0}
    shown = (
        Incident.objects.filter(pk__in=ranked)
        .select_related("customer", "location", "owner", "category")
        .prefetch_related(
            "helpers",
            Prefetch("gestures", queryset=Gesture.objects.filter(approval=Gesture.Approval.PENDING).order_by("given_at"),
                     to_attr="pending_gestures"),
        )
        .in_bulk()
    )
    rows = [shown[pk] for pk in ranked]
    for incident in rows:
        incident.clock = clock_of(incident, now)
    return rows, counts


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
