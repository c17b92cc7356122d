"""Bulk actions on the managers' incident list: reassign several incidents, or add a helper to them,
after one confirmation. Each change goes through the same single-incident service the console's row
buttons call (incidents.services.reassign / add_helper), so the rules (a manager of the location, staff
of the location, an open incident) are the same; all of them in one transaction, each in a savepoint
of its own, so one refusal undoes only that incident's change and is listed with its reason."""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from incidents import services

REASSIGN, ADD_HELPER = "reassign", "add_helper"
ACTIONS = [(REASSIGN, gettext_lazy("Reassign to")), (ADD_HELPER, gettext_lazy("Add a helper"))]
MAX_INCIDENTS = 100


@dataclass
class Change:
    incident: object
    text: str
    changes: bool = True


def plan(incidents, *, action, person):
    """What confirming would change, incident by incident, for the confirmation page (nothing written)."""
    planned = []
    helping = set(person.incidents_helping.filter(pk__in=[incident.pk for incident in incidents]).values_list("pk", flat=True))
    for incident in incidents:
        if incident.closed_at is not None:
            planned.append(Change(incident, _("closed: nothing can change"), changes=False))
        elif action == REASSIGN and incident.owner_id == person.pk:
            planned.append(Change(incident, _("already %(person)s's") % {"person": person.display_name()}, changes=False))
        elif action == REASSIGN:
            planned.append(Change(incident, _("owner %(before)s → %(after)s") % {
                "before": incident.owner.display_name(), "after": person.display_name()}))
        elif incident.owner_id == person.pk or incident.pk in helping:
            planned.append(Change(incident, _("%(person)s is already on it") % {"person": person.display_name()}, changes=False))
        else:
            planned.append(Change(incident, _("%(person)s joins as a helper") % {"person": person.display_name()}))
    return planned


@transaction.atomic
def apply(incidents, *, by, action, person, now=None):
    """Each change through its service; returns (changed incidents, [(incident, why it was refused)])."""
    now = now or timezone.now()
    act = services.reassign if action == REASSIGN else services.add_helper
    keyword = "owner" if action == REASSIGN else "helper"
    changed, refused = [], []
    for incident in incidents:
        try:
            # The service's own transaction is a savepoint inside this one: a refusal undoes it alone.
            act(incident, by=by, now=now, **{keyword: person})
        except services.RecoveryError as error:
            refused.append((incident, error.message))
        else:
            changed.append(incident)
    return changed, refused
