"""Who may direct a recovery, and owners and helpers: reassigning, swarming, naming staff."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from .. import selectors
from ..events import record_event
from ..models import EventKind, User
from .base import NotAllowed, RecoveryError, _lock_open


def may_direct(user, *, integration_too=True):
    """Managers and admins hand a recovery to someone else, bring in helpers and decide gestures over
    budget; frontline staff ask a manager. A helpdesk integration may assign, since it syncs the
    helpdesk's own assignments, but spends no budget it could approve for itself."""
    return user.is_manager or (integration_too and is_integration(user))


def _require_directs(by, incident, what, *, integration_too=True):
    """The role rule of every door (pages, API, admin): a manager, over this incident's location."""
    if not may_direct(by, integration_too=integration_too):
        raise NotAllowed(gettext("Only a manager can %(what)s.") % {"what": what})
    if by.is_manager and not selectors.visible_incidents(by).filter(pk=incident.pk).exists():
        raise NotAllowed(gettext("Only a manager of %(location)s can %(what)s.") % {"location": incident.location, "what": what})


def is_integration(user):
    """A helpdesk's API client, which logs on behalf of its agents; no person reads its reminders."""
    return hasattr(user, "api_client")


@transaction.atomic
def reassign(incident, *, by, owner, now=None):
    now = now or timezone.now()
    incident = _lock_open(incident, by)
    _require_directs(by, incident, "reassign a recovery")
    _require_staff_of(owner, incident, "owner")
    before = incident.owner.username
    incident.owner = owner
    incident.save(update_fields=["owner", "updated_at"])
    record_event(incident, EventKind.REASSIGNED, gettext("Reassigned to %(name)s") % {"name": owner.display_name()}, at=now, actor=by,
                 before={"owner": before}, after={"owner": owner.username})
    return incident


@transaction.atomic
def add_helper(incident, *, by, helper, now=None):
    """Bring one more person onto a bad recovery (a swarm)."""
    now = now or timezone.now()
    incident = _lock_open(incident, by)
    _require_directs(by, incident, "bring in a helper")
    _require_staff_of(helper, incident, "helper")
    if incident.helpers.filter(pk=helper.pk).exists() or helper.pk == incident.owner_id:
        return incident
    incident.helpers.add(helper)
    record_event(incident, EventKind.HELPER_ADDED, gettext("%(name)s joined the recovery") % {"name": helper.display_name()}, at=now, actor=by,
                 after={"helper": helper.username})
    return incident


@transaction.atomic
def remove_helper(incident, *, by, helper, now=None):
    """Let a helper go back to their own work; the owner stays."""
    now = now or timezone.now()
    incident = _lock_open(incident, by)
    _require_directs(by, incident, "let a helper go")
    if not incident.helpers.filter(pk=helper.pk).exists():
        return incident
    incident.helpers.remove(helper)
    record_event(incident, EventKind.HELPER_REMOVED, gettext("%(name)s left the recovery") % {"name": helper.display_name()}, at=now, actor=by,
                 before={"helper": helper.username})
    return incident


def staff_named(organization_id, username, *, field="owner"):
    """The active member of staff with this username, as a helpdesk names people; or RecoveryError."""
    member = User.objects.filter(organization_id=organization_id, username=username, is_active=True).first()
    if member is None:
        raise RecoveryError(gettext("Unknown member of staff."), field_errors={field: [gettext("No active staff '%(username)s'.") % {"username": username}]})
    return member


def _require_staff_of(user, incident, field):
    if user.organization_id != incident.organization_id or not user.is_active:
        raise RecoveryError(gettext("Choose active staff of this organization."), field_errors={field: [gettext("Unknown member of staff.")]})
