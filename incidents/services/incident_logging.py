"""Logging an incident: from any door, and from the Log a failure page at most once per form."""

import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import clock
from ..events import new_event
from ..models import Category, EventKind, Incident, Severity, Stage
from .base import Conflict, NotAllowed, RecoveryError, _not_in_future, validate
from .clocks import facts_for, move_clocks, policy_for
from .customers import _save_flagged, customer_from_details
from .search import new_document, search_values
from .team import may_direct

# How far back a failure may be logged. The hour-of-day trends read when it happened, so an older
# moment is far more likely a slip of the date than a memory; a month covers a ticket that waited.
OCCURRED_AT_MOST = datetime.timedelta(days=30)


# Other apps act on a new incident in the same transaction (problems links it to a known problem).
# `incidents` never imports them; each registers `when_logged(incident, now=…)` from its AppConfig.ready.
_when_logged = []


def also_when_logged(hook):
    """Register `hook(incident, now=…)`, called inside the logging transaction once the incident is saved."""
    _when_logged.append(hook)
    return hook


def log_incident(
    *,
    logged_by,
    customer,
    location,
    summary,
    channel,
    category="",
    severity="",
    busyness="",
    occurred_at=None,
    external_id="",
    owner=None,
    form_token=None,
    now=None,
):
    """Log a service failure. Whoever logs it owns it at once (unless an owner is named) and the
    twenty-minute clock starts now.

    `customer` may be new and unsaved (`customer_from_details`); it is saved here with its care flag.
    `category` is a label or a `Category` already looked up. Every rule is checked before the first
    write. The incident's INSERT takes no savepoint of its own (two statements fewer an incident), so a
    clash there, a ticket id used before (Conflict: the unique constraint decides, so two requests at
    once cannot both log it), rolls back the caller's whole transaction.
    """
    now = now or timezone.now()
    organization = location.organization
    if logged_by.organization_id != organization.id:
        raise NotAllowed(_("You can only log incidents for your own organization."), field_errors={"location": [_("Unknown location.")]})
    if customer.organization_id != organization.id:
        raise RecoveryError(_("That customer belongs to another organization."), field_errors={"customer": [_("Unknown customer.")]})
    owner = owner or logged_by
    if owner != logged_by and not may_direct(logged_by):
        # Whoever is on the spot owns the recovery; handing it to someone else is a manager's call.
        raise NotAllowed(
            _("You own the failures you log; a manager can reassign it afterwards."),
            field_errors={"owner": [_("Only managers and helpdesk integrations can name another owner.")]},
        )
    if owner.organization_id != organization.id or not owner.is_active:
        raise RecoveryError(_("The owner must be active staff of this organization."), field_errors={"owner": [_("Unknown member of staff.")]})
    occurred_at = occurred_at or now
    _not_in_future(occurred_at, now, "occurred_at", _("The failure cannot have happened in the future."))
    if occurred_at < now - OCCURRED_AT_MOST:
        raise RecoveryError(
            _("A failure is logged within %(days)s days of when it happened.") % {"days": OCCURRED_AT_MOST.days},
            field_errors={"occurred_at": [_("Not more than %(days)s days ago.") % {"days": OCCURRED_AT_MOST.days}]},
        )
    # Within the skew it is the sender's clock running ahead: it happened now. (The row requires
    # occurred_at <= logged_at; a moment a minute ahead failed that check with a server error.)
    occurred_at = min(occurred_at, now)

    policy = policy_for(organization, location)
    incident = Incident(
        organization=organization,
        location=location,
        summary=summary,
        channel=channel,
        severity=severity or Severity.MEDIUM,  # how bad, when nobody said: the one default of every door
        busyness=busyness,
        occurred_at=occurred_at,
        logged_at=now,
        logged_by=logged_by,
        owner=owner,
        external_id=external_id,
        form_token=form_token,
        stage=Stage.APOLOGY,
        follow_up_due_at=clock.follow_up_due_at(now, policy),
    )
    # The related rows were just read or are made below, so skip full_clean's SELECT per foreign key.
    validate(incident, exclude=["reference", "organization", "customer", "location", "category", "logged_by", "owner"])
    move_clocks(incident, facts_for(incident), policy, not_before=now)
    logged = new_event(
        incident,
        EventKind.LOGGED,
        # The timeline names who did it beside every entry: the owner is said only when it is someone else.
        _("Logged") if owner == logged_by else _("Logged, owned by %(owner)s") % {"owner": owner.display_name()},
        at=now,
        actor=logged_by,
        after={"summary": summary, "owner": owner.username, "follow_up_due_at": incident.follow_up_due_at.isoformat()},
    )
    with transaction.atomic(savepoint=False):
        incident.category = category_named(organization, category)
        # Internal follow-up: flag the customer's file so the next person who serves them knows.
        incident.customer = _save_flagged(customer, note=summary, now=now, organization=organization)
        for column, value in search_values(new_document(incident, incident.customer)).items():
            setattr(incident, column, value)  # written by the INSERT itself
        try:
            incident.save()
        except IntegrityError as error:
            if not external_id:
                raise
            raise Conflict(
                _("An incident for ticket %(external_id)s already exists.") % {"external_id": external_id}, field_errors={"external_id": [_("Already used.")]}
            ) from error
        logged.save()
        for hook in _when_logged:
            hook(incident, now=now)
    return incident


def category_named(organization, name):
    """Categories are free labels: a new label is accepted and kept for managers to merge later."""
    if isinstance(name, Category):
        return name
    name = (name or "").strip()
    if not name:
        return None
    existing = Category.objects.filter(organization=organization, name__iexact=name).first()
    if existing:
        return existing
    try:
        with transaction.atomic():
            return Category.objects.create(organization=organization, name=name[:100])
    except IntegrityError:  # two requests brought the same new label at once: use the one that won
        return Category.objects.get(organization=organization, name=name[:100])


@transaction.atomic
def log_incident_once(*, form_token, logged_by, customer=None, new_customer=None, location, **values):
    """Log an incident from the page's form, at most once per form.

    The form carries a one-time token, kept on the incident. A double click, a reload of the POST or a
    retry after a slow network sends the same token again; that must not make a second incident. Two
    such requests can arrive at the same moment: the unique constraint on (logged_by, form_token) lets
    one write, and the other, inside its savepoint, finds the first one's incident instead.
    Returns (incident, created).
    """
    earlier = Incident.objects.filter(logged_by=logged_by, form_token=form_token).first()
    if earlier is not None:
        return earlier, False
    try:
        with transaction.atomic():
            if customer is None:
                customer = customer_from_details(location.organization, **(new_customer or {}))
            incident = log_incident(logged_by=logged_by, customer=customer, location=location, form_token=form_token,
                                    **values)
    except IntegrityError:
        earlier = Incident.objects.filter(logged_by=logged_by, form_token=form_token).first()
        if earlier is None:
            raise
        return earlier, False
    return incident, True
