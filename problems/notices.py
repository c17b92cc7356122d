"""What the problems tell people (through the follow-up engine's inbox and email).

Each notice has a dedupe key naming the moment it is about (an action's due day, a fix's date, a closing),
so a repeated or concurrent pass of the engine tells nobody twice."""

from django.urls import reverse
from django.utils.translation import gettext
from django.utils.formats import date_format

from followups.models import Notification
from followups.services import tell


def _page(problem):
    return reverse("problems:detail", args=[problem.pk])


def _name(person):
    return person.display_name()


def new_incident_matched(problem, incident, *, now):
    """The problem's owner hears that it happened again."""
    tell([problem.owner], kind=Notification.Kind.KNOWN_PROBLEM, incident=incident,
         link=_page(problem),
         title=gettext("%(title)s: it happened again (%(reference)s)") % {"title": problem.title, "reference": incident.reference},
         body=gettext("%(reference)s at %(name)s matches the problem's pattern: %(summary)s") % {"reference": incident.reference, "name": incident.location.name, "summary": incident.summary},
         dedupe_key=f"problem.{problem.pk}.incident.{incident.pk}", now=now)


def action_due(action, *, now):
    """The morning of its due day: the action's owner is reminded."""
    problem = action.problem
    return tell([action.owner], kind=Notification.Kind.ACTION_DUE, link=_page(problem),
                title=gettext("Due today: %(description)s") % {"description": action.description},
                body=(gettext('Your corrective action for the problem "%(title)s" is due today (%(due_on)s). Do it and mark it done on the problem\'s page, so the cause stays fixed; if it is not done by tomorrow morning, %(name)s\'s manager is told.') % {"title": problem.title, "due_on": date_format(action.due_on, "D d M"), "name": _name(problem.owner)}),
                dedupe_key=f"problem.{problem.pk}.action.{action.pk}.due.{action.due_on:%Y%m%d}", now=now)


def action_overdue(action, managers, *, now):
    """A day past due and still not done: the problem owner's managers (or the admins), the problem's
    owner and the action's owner hear it."""
    problem = action.problem
    who = ", ".join(_name(person) for person in managers) or "nobody (no manager or admin to tell)"
    body = (f"\"{action.description}\", {_name(action.owner)}'s corrective action for the problem "
            f"\"{problem.title}\", was due on {action.due_on:%a %d %b} and is not done. "
            f"Told: {who}. Follow it up, or change the plan on the problem's page.")
    return tell([*managers, problem.owner, action.owner], kind=Notification.Kind.ACTION_OVERDUE, link=_page(problem),
                title=gettext("Overdue since %(due_on)s: %(description)s") % {"due_on": date_format(action.due_on, "d M"), "description": action.description}, body=body,
                dedupe_key=f"problem.{problem.pk}.action.{action.pk}.overdue.{action.due_on:%Y%m%d}", now=now)


def close_proposed(problem, verdict, *, now):
    """The watching period passed and the verdict says fixed: the owner is offered to close it."""
    return tell([problem.owner], kind=Notification.Kind.PROBLEM_UPDATE, link=_page(problem),
                title=gettext("%(title)s: the fix held, close the problem?") % {"title": problem.title},
                body=(gettext("%(text)s Nothing came back over the watching period: close the problem on its page (it keeps watching for a recurrence after closing).") % {"text": verdict.text}),
                dedupe_key=f"problem.{problem.pk}.close_proposed.{problem.fixed_at:%Y%m%dT%H%M%S}", now=now)


def recurred(problem, closed_at, summary, *, now):
    """A closed problem's pattern came back: the owner hears it is open again, and why."""
    return tell([problem.owner], kind=Notification.Kind.PROBLEM_UPDATE, link=_page(problem),
                title=gettext("%(title)s came back after closing") % {"title": problem.title},
                body=gettext("%(summary)s The problem is open again (recurred): look at what changed since it was closed.") % {"summary": summary},
                dedupe_key=f"problem.{problem.pk}.recurred.{closed_at:%Y%m%dT%H%M%S}", now=now)
