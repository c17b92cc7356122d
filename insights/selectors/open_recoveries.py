"""The console's first page: open recoveries at the manager's locations, late ones and decisions waiting first."""

from dataclasses import dataclass
from functools import cached_property

from django.core.paginator import Paginator
from django.db.models import Case, Count, F, IntegerField, Prefetch, Q, Value, When
from django.utils.translation import gettext

from incidents import clock
from incidents import services as incident_services
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
    NULL), so the cost follows the open incidents, never the whole table. Four queries whatever the size:
    the counts (an index-only scan: the index's included columns decide "late"), the page's rows (their ids
    ranked in a subquery with a top-N sort), their helpers, their pending gestures. A page past the end shows the last one.
    """
    incidents = _open(scope, values, now)
    # Counted apart from the ranking: counts riding on the ranking as window aggregates would make the
    # database sort every open incident in full instead of keeping only the page's top N. "Late" here is
    # late_condition without its `closed_at IS NULL`, which the WHERE already holds: naming closed_at (or
    # the id) in the count would make PostgreSQL read every open row instead of the index alone.
    unanswered_past_window = Q(responded_at__isnull=True, follow_up_due_at__lt=now)
    counts = incidents.aggregate(total=Count("*"), late=Count("logged_at", filter=unanswered_past_window))
    page = _CountedPaginator(_ranked(incidents, now).values("pk"), per_page, count=counts["total"]).get_page(number)
    # The ranking reads ids alone, as a subquery (ORDER BY … LIMIT 50 OFFSET n); only the page's rows are
    # read whole with their joins, and sorted again (50 rows): joining every open incident before the sort
    # is what would cost.
    page.object_list = list(
        _ranked(Incident.objects.filter(pk__in=page.object_list), now)
        .select_related("customer", "location", "owner", "category")
        .prefetch_related(
            "helpers",
            Prefetch("gestures", queryset=Gesture.objects.filter(approval=Gesture.Approval.PENDING).order_by("given_at"),
                     to_attr="pending_gestures"),
        )
    )
    for incident in page.object_list:
        incident.clock = clock_of(incident, now)
    return page, counts


def _open(scope, values, now):
    return filter_incidents(
        Incident.objects.filter(location_id__in=scope.location_ids, closed_at__isnull=True), values, scope, now=now
    )


def _ranked(incidents, now):
    """The incidents in the console's order: late, then decision waiting, then soonest due."""
    # Pending gestures are few (the partial index gesture_pending holds only them): an uncorrelated
    # `IN (SELECT …)` the database hashes once, not a lookup per open incident.
    waiting = Gesture.objects.filter(approval=Gesture.Approval.PENDING).values("incident_id")
    urgency = Case(
        When(late_condition(now), then=Value(LATE)),
        When(Q(pk__in=waiting), then=Value(DECISION_WAITING)),
        default=Value(RUNNING), output_field=IntegerField(),
    )
    return incidents.alias(urgency=urgency).order_by("urgency", F("next_due_at").asc(nulls_last=True), "logged_at", "pk")


class _CountedPaginator(Paginator):
    """A paginator told the count, which the counts query read beside the late count."""

    def __init__(self, object_list, per_page, *, count):
        super().__init__(object_list, per_page)
        self._known_count = count

    @cached_property
    def count(self):
        return self._known_count


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
    next_overdue: bool = False


def clock_of(incident, now):
    """The twenty-minute clock of one row, and, once it is answered, when the next promise to the customer
    falls due (`promise_due_at`, at its first time due: a wrap-up two days late reads two days late, however
    often the engine has reminded the owner since), read from its own columns."""
    next_label, next_overdue = "", False
    if incident.responded_at is not None and incident.promise_due_at is not None:
        next_overdue = incident.promise_due_at < now
        if next_overdue:
            next_label = gettext("next promise overdue by %(amount)s") % {"amount": _duration(now - incident.promise_due_at)}
        else:
            next_label = gettext("next promise due in %(amount)s") % {"amount": _duration(incident.promise_due_at - now)}
    state = incident.window_state(now)
    if state in (clock.MET, clock.MISSED):
        minutes = _minutes(incident.responded_at - incident.logged_at)
        return RowClock(state, gettext("Answered after %(minutes)s min") % {"minutes": minutes} + (gettext(" (late)") if state == clock.MISSED else ""),
                        next_label, next_overdue)
    if state == clock.LATE:
        return RowClock(state, gettext("Late by %(duration)s") % {"duration": _duration(now - incident.follow_up_due_at)}, next_label)
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


# How many of each kind the "needs your decision" strip names; the rest are counted.
STRIP_NAMED = 5


@dataclass(frozen=True)
class Decisions:
    """What waits for a manager at the top of the console, whatever the filters below say: gestures over
    budget to approve or refuse, recoveries late on the twenty-minute clock, and promises to customers past
    their time (wrap-ups, progress reports, check-backs), each named up to STRIP_NAMED and counted."""

    gestures: list
    late: list
    late_count: int
    overdue: list  # (incident, its overdue promise)
    overdue_count: int

    @property
    def any(self):
        return bool(self.gestures or self.late_count or self.overdue_count)


def decisions_waiting(scope, *, now):
    """The strip's contents, in a constant number of queries: the pending gestures (few, the partial index
    gesture_pending), the late incidents and the overdue promises (each a count and the oldest few, from
    the open incidents at the scope's locations), and the overdue ones' follow-ups to say which promise."""
    gestures = list(
        Gesture.objects.filter(approval=Gesture.Approval.PENDING, incident__location_id__in=scope.location_ids,
                               incident__closed_at__isnull=True)
        .select_related("incident__customer", "incident__location", "given_by").order_by("given_at", "pk")
    )
    open_here = Incident.objects.filter(location_id__in=scope.location_ids, closed_at__isnull=True)
    late = open_here.filter(late_condition(now))
    # A promise past its time on a recovery whose twenty-minute clock was met: late ones are counted above.
    overdue = open_here.filter(responded_at__isnull=False, promise_due_at__lt=now)
    counts = open_here.aggregate(
        late=Count("pk", filter=late_condition(now)),
        overdue=Count("pk", filter=Q(responded_at__isnull=False, promise_due_at__lt=now)),
    )
    named_late = list(late.select_related("customer").order_by("follow_up_due_at", "pk")[:STRIP_NAMED])
    named_overdue = list(
        overdue.select_related("customer", "location", "organization").order_by("promise_due_at", "pk")[:STRIP_NAMED]
    )
    promises = incident_services.next_promises(named_overdue)
    return Decisions(
        gestures=gestures, late=named_late, late_count=counts["late"],
        overdue=[(incident, promises[incident.pk]) for incident in named_overdue if promises[incident.pk]],
        overdue_count=counts["overdue"],
    )
