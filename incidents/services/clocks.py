"""Clocks and stage: an incident's policy, clock facts, the next step the method asks for."""

from django.db import transaction
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext

from .. import clock
from ..events import record_event
from ..models import EventKind, FollowUp, Incident, Stage
from .base import TREND_FIELDS, _has
from .calendars import attach_calendars, calendar_for
from .search import refresh_search


@transaction.atomic
def mark_breached(incident, *, now=None):
    """Note on the incident that its twenty-minute window passed with nothing recorded.
    Returns False when it was already noted or met, so a repeated sweep notes it once."""
    now = now or timezone.now()
    incident = Incident.objects.select_for_update(no_key=True).get(pk=incident.pk)
    if incident.breached_at or incident.responded_at or incident.closed_at or now <= incident.follow_up_due_at:
        return False
    incident.breached_at = now
    incident.save(update_fields=["breached_at", "updated_at"])
    record_event(incident, EventKind.BREACHED, gettext("The twenty-minute window passed with no fix or follow-up"),
                 at=now, actor_label="Follow-up engine", after={"follow_up_due_at": incident.follow_up_due_at.isoformat()})
    return True


def policy_for(organization, location):
    return clock.Policy(
        follow_up_window=organization.follow_up_window,
        heads_up_before=organization.heads_up_before,
        escalate_after=organization.escalate_after,
        progress_report_every=organization.progress_report_every,
        check_back_after=organization.check_back_after,
        wrap_up_after=organization.wrap_up_after,
        # Read when a clock that keeps opening hours first asks: a new incident's twenty-minute clock
        # does not, so logging one reads no calendar.
        calendar=SimpleLazyObject(lambda: calendar_for(location)),
    )


def facts_for(incident, follow_ups=None):
    """The clock facts of an incident, read from its row and its follow-ups: `follow_ups`, when given, is
    its (kind, done_at) pairs already read for a whole page (`follow_ups_of`), else they are read here."""
    last = {}
    if follow_ups is None and incident.pk:
        follow_ups = incident.follow_ups.values_list("kind", "done_at")
    for kind, done_at in sorted(follow_ups or (), key=lambda pair: pair[1]):
        last[kind] = done_at
    after_fix = lambda moment: moment if moment and incident.fixed_at and moment >= incident.fixed_at else None  # noqa: E731
    return clock.Facts(
        logged_at=incident.logged_at,
        follow_up_due_at=incident.follow_up_due_at,
        responded_at=incident.responded_at,
        fixed_at=incident.fixed_at,
        closed_at=incident.closed_at,
        last_progress_at=last.get(FollowUp.Kind.PROGRESS),
        checked_back_at=after_fix(last.get(FollowUp.Kind.POST_FIX)),
        wrapped_up_at=after_fix(last.get(FollowUp.Kind.WRAP_UP)),
    )


def clocks_of(incident):
    """Every clock of an incident, for pages and the API."""
    return clock.clocks(facts_for(incident), policy_for(incident.organization, incident.location))


def follow_ups_of(incidents):
    """{incident id: [(kind, done_at), …]} for a page of incidents, in one query."""
    pairs = {incident.pk: [] for incident in incidents}
    rows = FollowUp.objects.filter(incident_id__in=list(pairs)).values_list("incident_id", "kind", "done_at")
    for incident_id, kind, done_at in rows:
        pairs[incident_id].append((kind, done_at))
    return pairs


def next_promises(incidents):
    """{incident id: the earliest promise to the customer still unkept (clock.next_promise) or None}, for a
    page of incidents (each with its organization and location read): one query for their follow-ups."""
    pairs = follow_ups_of(incidents)
    attach_calendars([incident.location for incident in incidents])  # two queries for the page, not two a row
    return {
        incident.pk: clock.next_promise(facts_for(incident, pairs[incident.pk]),
                                        policy_for(incident.organization, incident.location))
        for incident in incidents
    }


def move_clocks(incident, facts, policy, *, not_before):
    """Store when the engine next acts (`next_due_at`) and when the earliest unkept promise to the customer
    falls due (`promise_due_at`), both from the same facts."""
    incident.next_due_at = clock.next_due_at(facts, policy, not_before=not_before)
    promise = clock.next_promise(facts, policy)
    incident.promise_due_at = promise.due_at if promise else None


def stage_of(incident):
    """The next step the method asks for, given what is recorded."""
    if incident.closed_at:
        return Stage.CLOSED
    if not _has(incident, "apology"):
        return Stage.APOLOGY
    if not _has(incident, "review"):
        return Stage.REVIEW
    if incident.fixed_at is None:
        return Stage.FIX
    if not _has(incident, "deposition"):
        return Stage.DOCUMENT
    if not incident.follow_ups.filter(kind=FollowUp.Kind.WRAP_UP).exists():
        return Stage.WRAP_UP
    return Stage.OUTCOME


def _refresh(incident, now):
    """Recompute the stage and the next due moment after a step, and store them."""
    policy = policy_for(incident.organization, incident.location)
    # Moments before the stored next_due_at were already handled by a sweep (see clock.next_due_at).
    not_before = min(incident.next_due_at or now, now)
    incident.stage = stage_of(incident)
    move_clocks(incident, facts_for(incident), policy, not_before=not_before)
    incident.save(update_fields=["stage", "next_due_at", "promise_due_at", "responded_at", "fixed_at", "closed_at", "updated_at", *TREND_FIELDS])
    # Every step service ends here: the notes it wrote become findable in the same transaction.
    refresh_search(incident.pk)
