"""Something extra: gestures within the discretion budget, and a manager's decision over it."""

from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from ..events import record_event
from ..models import EventKind, Gesture, Incident
from .base import Conflict, NotAllowed, RecoveryError, _has, _lock_open, _require, validate
from .organizations import remaining_budget
from .team import _require_directs


@transaction.atomic
def give_gesture(incident, *, by, kind, description, cost, currency="", now=None):
    """The something extra. Over the giver's remaining discretion budget for this customer it waits
    for a manager's approval, without holding up the rest of the recovery."""
    now = now or timezone.now()
    incident = _lock_open(incident, by)
    _require(_has(incident, "review"), gettext("Review the complaint with the customer before giving a gesture."), "review")
    cost = Decimal(str(cost))
    if cost < 0:
        raise RecoveryError(gettext("A gesture cannot cost less than nothing."), field_errors={"cost": [gettext("Must be zero or more.")]})
    currency = (currency or incident.organization.currency).upper()
    # A gesture in another currency cannot be weighed against the budget, so a manager looks at it.
    within_budget = currency == incident.organization.currency and cost <= remaining_budget(by, incident.customer)
    gesture = Gesture(
        incident=incident,
        kind=kind,
        description=description,
        cost=cost,
        currency=currency,
        given_by=by,
        given_at=now,
        approval=Gesture.Approval.NOT_NEEDED if within_budget else Gesture.Approval.PENDING,
    )
    validate(gesture)
    gesture.save()
    if within_budget:
        _count_gesture(gesture)
    summary = gettext("Gesture: %(description)s (%(cost)s %(currency)s)") % {"description": description, "cost": cost, "currency": currency}
    if not within_budget:
        summary += gettext(", over budget: waiting for a manager's approval")
    record_event(
        incident,
        EventKind.GESTURE_GIVEN if within_budget else EventKind.GESTURE_AWAITS_APPROVAL,
        summary,
        at=now,
        actor=by,
        after={"kind": kind, "description": description, "cost": str(cost), "currency": currency, "approval": gesture.approval},
    )
    return gesture


@transaction.atomic
def decide_gesture(gesture, *, by, approve, now=None):
    """A manager approves or refuses a gesture that went over budget."""
    now = now or timezone.now()
    gesture = Gesture.objects.select_for_update(of=("self",), no_key=True).select_related("incident").get(pk=gesture.pk)
    if by.organization_id != gesture.incident.organization_id:
        raise NotAllowed(gettext("Only a manager can approve gestures over budget."))
    _require_directs(by, gesture.incident, "approve gestures over budget", integration_too=False)
    if gesture.approval != Gesture.Approval.PENDING:
        raise Conflict(gettext("This gesture was already %(lower)s.") % {"lower": gesture.get_approval_display().lower()})
    before = {"approval": gesture.approval}
    gesture.approval = Gesture.Approval.APPROVED if approve else Gesture.Approval.REFUSED
    gesture.decided_by = by
    gesture.decided_at = now
    gesture.save(update_fields=["approval", "decided_by", "decided_at"])
    if approve:
        _count_gesture(gesture)
    verb = "approved" if approve else "refused"
    record_event(
        gesture.incident, EventKind(f"gesture_{verb}"), f"Gesture {verb}: {gesture.description}", at=now, actor=by,
        before=before, after={"approval": gesture.approval},
    )
    return gesture


# Other apps act when gestures lapse (followups tells the giver and the managers who could have decided).
# `incidents` never imports them; each registers `when_lapsed(gestures, now=…)` from its AppConfig.ready.
_when_lapsed = []


def also_when_gestures_lapse(hook):
    """Register `hook(gestures, now=…)`, called inside the closing transaction with the gestures that lapsed."""
    _when_lapsed.append(hook)
    return hook


def lapse_waiting_gestures(incident, *, by, now):
    """A gesture still waiting for a manager when its recovery closes lapses: closing is never held up
    by a decision nobody has made (the method asks approval "without stopping the recovery"), and the
    gesture does not vanish either: it stays on the incident as lapsed, on its timeline, and the giver
    and the managers who could have decided are told. Called by the service that closes an incident, so
    every door (page, API, admin) obeys it. Returns the lapsed gestures."""
    waiting = list(
        Gesture.objects.select_for_update(of=("self",), no_key=True)
        .filter(incident=incident, approval=Gesture.Approval.PENDING).select_related("given_by").order_by("given_at", "pk")
    )
    for gesture in waiting:
        gesture.approval = Gesture.Approval.LAPSED
        gesture.decided_at = now
        gesture.save(update_fields=["approval", "decided_at"])
        record_event(
            incident, EventKind.GESTURE_LAPSED,
            gettext("Gesture lapsed: %(description)s (%(cost)s %(currency)s) was still waiting for a manager "
                    "when the recovery closed") % {"description": gesture.description, "cost": gesture.cost,
                                                  "currency": gesture.currency},
            at=now, actor=by, before={"approval": Gesture.Approval.PENDING}, after={"approval": gesture.approval},
        )
    if waiting:
        for hook in _when_lapsed:
            hook(waiting, now=now)
    return waiting


def _count_gesture(gesture):
    """Add a given (or approved) gesture to its incident's totals for the trends, in one UPDATE so
    concurrent gestures on the same incident both count."""
    if gesture.currency == gesture.incident.organization.currency:
        Incident.objects.filter(pk=gesture.incident_id).update(
            gesture_count=F("gesture_count") + 1, gesture_cost=F("gesture_cost") + gesture.cost
        )
