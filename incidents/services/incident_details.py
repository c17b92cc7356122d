"""Changing what an incident says about the failure after it was logged: a helpdesk syncs its ticket
(summary, severity, category, channel, when it happened, the ticket id)."""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from ..events import changes, record_event
from ..models import EventKind
from .base import CLOCK_SKEW, Conflict, NotAllowed, RecoveryError, _lock_open, _not_in_future, validate
from .incident_logging import category_named
from .search import refresh_search
from .team import may_direct

DETAILS = ("summary", "severity", "category", "channel", "occurred_at", "external_id")


def may_change_details(user, incident):
    """The people on the recovery (owner, helpers), its managers, and the helpdesk integration."""
    return may_direct(user) or incident.owner_id == user.pk or incident.helpers.filter(pk=user.pk).exists()


@transaction.atomic
def update_details(incident, *, by, now=None, **values):
    """Change some of DETAILS; one timeline entry names every field that changed (none: no entry).

    `category` is a label ("" clears it), as when logging. A ticket id another incident has is a
    Conflict, decided by the unique constraint."""
    unknown = set(values) - set(DETAILS)
    if unknown:
        raise RecoveryError(gettext("Unknown details: %(join)s.") % {"join": ', '.join(sorted(unknown))})
    now = now or timezone.now()
    incident = _lock_open(incident, by)
    if not may_change_details(by, incident):
        raise NotAllowed(gettext("Only the people on this recovery and its managers can change its details."))
    if "category" in values:
        values["category"] = category_named(incident.organization, values["category"])
    if values.get("occurred_at") is not None:
        _not_in_future(values["occurred_at"], now, "occurred_at", gettext("The failure cannot have happened in the future."))
        if values["occurred_at"] > incident.logged_at + CLOCK_SKEW:
            raise RecoveryError(gettext("The failure happened before it was logged."),
                                field_errors={"occurred_at": [gettext("Cannot be after it was logged (%(isoformat)s).") % {"isoformat": incident.logged_at.isoformat()}]})
        values["occurred_at"] = min(values["occurred_at"], incident.logged_at)
    old = {field: getattr(incident, field) for field in values}
    before, after = changes(old, values)
    if not after:
        return incident
    for field, value in after.items():
        setattr(incident, field, value)
    validate(incident, exclude=["reference", "organization", "customer", "location", "category", "logged_by", "owner"])
    try:
        with transaction.atomic():  # the ticket id's unique constraint decides between two at once
            incident.save(update_fields=[*after, "updated_at"])
    except IntegrityError as error:
        raise Conflict(
            gettext("An incident for ticket %(get)s already exists.") % {"get": values.get('external_id')},
            field_errors={"external_id": [gettext("Already used.")]},
        ) from error
    if "summary" in after:
        refresh_search(incident.pk)
    record_event(incident, EventKind.DETAILS_CHANGED, gettext("Changed: %(join)s") % {"join": ', '.join(_label(field) for field in after)},
                 at=now, actor=by, before=_plain(before), after=_plain(after))
    return incident


def _label(field):
    return {"occurred_at": "when it happened", "external_id": "ticket id"}.get(field, field)


def _plain(values):
    """Event details as JSON: a category by its name, a moment in ISO 8601."""
    plain = {}
    for field, value in values.items():
        if field == "category":
            value = value.name if value else ""
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        plain[field] = value
    return plain
