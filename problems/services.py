"""Every write to a problem, from every door (the problem pages, the API, the engine's pass).

Errors are the record's own (`incidents.services.RecoveryError` and its kinds), so each door turns them
into words the way it already does. Each change of a problem takes its row lock, checks the version the
person was looking at, writes, and appends to the problem's timeline.
"""

import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.formats import date_format

from incidents.customer_data import REDACTED
from incidents.models import Category, Incident, Location, Organization, User
from incidents.services import Conflict, NotAllowed, RecoveryError, is_integration

from . import clock, notices, patterns
from .events import record
from .models import OPEN_STATUSES, CorrectiveAction, CustomerIdea, Problem, ProblemEvent, ProblemIncident, Status
from .selectors import visible_problems

CLOCK_SKEW = datetime.timedelta(minutes=2)


# --- Who may act -------------------------------------------------------------------------------


def may_manage_problems(user):
    """Managers and admins own causes; frontline staff see problems on their incidents. An API client
    acts for its organization."""
    return user.is_authenticated and (user.is_manager or is_integration(user))


def _check_manager(user, organization_id):
    if not may_manage_problems(user) or user.organization_id != organization_id:
        raise NotAllowed(gettext("Problems are managed by managers and admins of the organization."))


def problem_for(user, pk):
    """The problem, if `user` may see it; Problem.DoesNotExist otherwise (a 404 on every door)."""
    return visible_problems(user).get(pk=pk)


def _staff_member(organization_id, person, field):
    if person is None:
        raise RecoveryError(gettext("Choose an owner."), field_errors={field: [gettext("This field is required.")]})
    if isinstance(person, (int, str)):
        person = User.objects.filter(organization_id=organization_id, is_active=True, **(
            {"pk": person} if isinstance(person, int) or str(person).isdigit() else {"username": person})).first()
    if person is None or person.organization_id != organization_id or not person.is_active or is_integration(person):
        raise RecoveryError(gettext("The owner must be active staff of this organization."),
                            field_errors={field: [gettext("Unknown member of staff.")]})
    return person


# --- The pattern ---------------------------------------------------------------------------------


def clean_pattern(organization, pattern):
    """The pattern, checked: every location, category and person it names is the organization's."""
    errors = pattern.errors()
    if pattern.location_id is not None and not Location.objects.filter(pk=pattern.location_id, organization=organization).exists():
        errors["location"] = [gettext("Unknown location.")]
    if pattern.category_id is not None and not Category.objects.filter(pk=pattern.category_id, organization=organization).exists():
        errors["category"] = [gettext("Unknown category.")]
    if pattern.logged_by_id is not None and not User.objects.filter(pk=pattern.logged_by_id, organization=organization).exists():
        errors["logged_by"] = [gettext("Unknown member of staff.")]
    if errors:
        raise RecoveryError(gettext("Please check the pattern."), field_errors=errors)
    return pattern


def _apply_pattern(problem, pattern):
    """Set the pattern's columns, and keep the organization's count of problems with a pattern (which
    lets the incidents of an organization without any skip the matching) in step, in the same transaction."""
    had = problem.has_pattern
    for name, value in pattern.as_fields().items():
        setattr(problem, name, value)
    problem.has_pattern = not pattern.is_empty
    if problem.has_pattern != had:
        Organization.objects.filter(pk=problem.organization_id).update(
            problem_patterns=F("problem_patterns") + (1 if problem.has_pattern else -1))


# --- Opening and changing a problem ----------------------------------------------------------------


@transaction.atomic
def open_problem(*, by, title, owner, pattern=None, suspected_cause="", found_as="", usual_per_day=None,
                 incidents=(), now=None):
    """Open a problem: from a cluster (its pattern and its usual rate), a filtered incident list, or by hand.
    The incidents already behind the pattern (`incidents`: ids or rows the caller may see) are linked."""
    now = now or timezone.now()
    organization = by.organization
    if organization is None:
        raise NotAllowed(gettext("Problems belong to an organization."))
    _check_manager(by, organization.pk)
    title = (title or "").strip()
    errors = {}
    if not title:
        errors["title"] = [gettext("This field is required.")]
    elif len(title) > 200:
        errors["title"] = [gettext("At most 200 characters.")]
    if errors:
        raise RecoveryError(gettext("Please check the details."), field_errors=errors)
    owner = _staff_member(organization.pk, owner, "owner")
    pattern = clean_pattern(organization, pattern or patterns.Pattern())
    problem = Problem(organization=organization, title=title, owner=owner, suspected_cause=suspected_cause,
                      found_as=found_as[:300], usual_per_day=usual_per_day, opened_by=by, opened_at=now)
    _apply_pattern(problem, pattern)
    problem.save()
    ids = [getattr(incident, "pk", incident) for incident in incidents]
    ProblemIncident.objects.bulk_create(
        ProblemIncident(problem=problem, incident_id=pk, how=ProblemIncident.How.AT_START, linked_at=now, linked_by=by)
        for pk in Incident.objects.filter(organization=organization, pk__in=ids).values_list("pk", flat=True)
    )
    record(problem, ProblemEvent.Kind.OPENED, gettext("Opened by %(name)s: %(title)s") % {"name": _name(by), "title": title}, at=now, actor=by,
           owner=owner.username, pattern=pattern.as_fields())
    return problem


def _name(user):
    return user.display_name() if hasattr(user, "display_name") else str(user)


def _lock(problem, by, version):
    """The problem re-read under its row lock, refused if someone changed it since `version`."""
    locked = Problem.objects.select_for_update(of=("self",), no_key=True).get(pk=problem.pk)
    _check_manager(by, locked.organization_id)
    if version is not None and int(version) != locked.version:
        raise Conflict(gettext("Someone else changed this problem while you were editing it. Check what it says now, "
                       "then make your change again."), field_errors={"version": [gettext("Now at version %(version)s.") % {"version": locked.version}]})
    return locked


EDITABLE = ("title", "owner", "suspected_cause", "confirmed_cause")


@transaction.atomic
def update_problem(problem, *, by, version, pattern=None, now=None, **values):
    """Change a problem's title, owner, causes or pattern; `version` is the one the person saw."""
    now = now or timezone.now()
    problem = _lock(problem, by, version)
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise RecoveryError(gettext("Unknown fields."), field_errors={name: ["Not a field of a problem."] for name in unknown})
    before = {}
    if "owner" in values:
        values["owner"] = _staff_member(problem.organization_id, values["owner"], "owner")
    if "title" in values and not (values["title"] or "").strip():
        raise RecoveryError(gettext("Please check the details."), field_errors={"title": [gettext("This field is required.")]})
    for name, value in values.items():
        old = getattr(problem, name)
        if old != value:
            before[name] = getattr(old, "username", old)
            setattr(problem, name, value)
    if pattern is not None and pattern != patterns.Pattern.of(problem):
        before["pattern"] = patterns.Pattern.of(problem).as_fields()
        _apply_pattern(problem, clean_pattern(problem.organization, pattern))
    if not before:
        return problem
    problem.version += 1
    problem.save()
    record(problem, ProblemEvent.Kind.CHANGED, f"{_name(by)} changed {', '.join(before)}", at=now, actor=by,
           before=before)
    return problem


# The statuses a person may set, and from which; "recurred" is set by the engine when a closed problem's
# pattern comes back, and "watching" by marking the fix done.
MOVES = {
    Status.INVESTIGATING: {Status.FIX_PLANNED, Status.CLOSED},
    Status.FIX_PLANNED: {Status.INVESTIGATING, Status.CLOSED},
    Status.WATCHING: {Status.INVESTIGATING, Status.FIX_PLANNED, Status.CLOSED},
    Status.RECURRED: {Status.INVESTIGATING, Status.FIX_PLANNED, Status.CLOSED},
    Status.CLOSED: {Status.INVESTIGATING},
}


@transaction.atomic
def change_status(problem, *, by, version, status, now=None):
    now = now or timezone.now()
    problem = _lock(problem, by, version)
    if status not in Status.values:
        raise RecoveryError(gettext("Unknown status."), field_errors={"status": [gettext("Unknown status.")]})
    if status == problem.status:
        return problem
    if status == Status.WATCHING:
        raise RecoveryError(gettext("Mark the fix done to start watching."), field_errors={"status": [gettext("Mark the fix done (with its date) instead.")]})
    if status not in MOVES[problem.status]:
        raise RecoveryError(gettext("A problem %(lower)s cannot become %(lower2)s.") % {"lower": Status(problem.status).label.lower(), "lower2": Status(status).label.lower()},
                            field_errors={"status": [gettext("Not allowed from the current status.")]})
    old = problem.status
    problem.status = status
    problem.closed_at = now if status == Status.CLOSED else None
    problem.close_proposed_at = None
    problem.version += 1
    problem.save()
    record(problem, ProblemEvent.Kind.STATUS_CHANGED, f"{_name(by)}: {Status(old).label} → {Status(status).label}",
           at=now, actor=by, status=status, before=old)
    return problem


@transaction.atomic
def mark_fixed(problem, *, by, version, fixed_at, confirmed_cause=None, now=None):
    """The fix is done (on `fixed_at`, not in the future): the problem watches the pattern from then on."""
    now = now or timezone.now()
    problem = _lock(problem, by, version)
    if fixed_at is None:
        raise RecoveryError(gettext("When was the fix made?"), field_errors={"fixed_at": [gettext("This field is required.")]})
    if fixed_at > now + CLOCK_SKEW:
        raise RecoveryError(gettext("The fix cannot be marked done in the future."), field_errors={"fixed_at": [gettext("Cannot be in the future.")]})
    if fixed_at < problem.opened_at - datetime.timedelta(days=366):
        raise RecoveryError(gettext("That is long before the problem was opened."), field_errors={"fixed_at": [gettext("Too far back.")]})
    if problem.status == Status.CLOSED:
        raise Conflict(gettext("The problem is closed; reopen it first."), field_errors={"status": [gettext("Closed.")]})
    problem.fixed_at = min(fixed_at, now)
    problem.status = Status.WATCHING
    problem.close_proposed_at = None
    if confirmed_cause is not None:
        problem.confirmed_cause = confirmed_cause
    problem.version += 1
    problem.save()
    record(problem, ProblemEvent.Kind.FIX_MARKED, f"{_name(by)} marked the fix done on {problem.fixed_at:%d %b %Y}",
           at=now, actor=by, fixed_at=problem.fixed_at.isoformat())
    return problem


# --- Corrective actions ------------------------------------------------------------------------------


@transaction.atomic
def add_action(problem, *, by, description, owner, due_on, now=None):
    now = now or timezone.now()
    problem = _lock(problem, by, None)
    errors = {}
    description = (description or "").strip()
    if not description:
        errors["description"] = [gettext("This field is required.")]
    if due_on is None:
        errors["due_on"] = [gettext("This field is required.")]
    elif due_on < problem.opened_at.astimezone(timezone.get_current_timezone()).date():
        errors["due_on"] = [gettext("An action cannot be due before the problem was opened.")]
    if errors:
        raise RecoveryError(gettext("Please check the action."), field_errors=errors)
    owner = _staff_member(problem.organization_id, owner, "owner")
    action = CorrectiveAction.objects.create(problem=problem, description=description[:300], owner=owner, due_on=due_on,
                                             created_at=now, created_by=by, remind_at=clock.first_reminder_at(owner, due_on))
    record(problem, ProblemEvent.Kind.ACTION_ADDED, (gettext("Action for %(name)s, due %(due_on)s: %(description)s") % {"name": _name(owner), "due_on": date_format(due_on, "d M"), "description": description})[:300],
           at=now, actor=by, action=action.pk, due_on=due_on.isoformat(), owner=owner.username)
    return action


@transaction.atomic
def complete_action(action, *, by, done_at=None, now=None):
    now = now or timezone.now()
    done_at = done_at or now
    problem = _lock(action.problem, by, None)
    action = CorrectiveAction.objects.select_for_update().get(pk=action.pk)
    if done_at > now + CLOCK_SKEW:
        raise RecoveryError(gettext("An action cannot be done in the future."), field_errors={"done_at": [gettext("Cannot be in the future.")]})
    if action.done_at is not None:
        return action
    action.done_at, action.done_by, action.remind_at = min(done_at, now), by, None
    action.save(update_fields=["done_at", "done_by", "remind_at"])
    record(problem, ProblemEvent.Kind.ACTION_DONE, f"{_name(by)} did: {action.description}"[:300], at=now, actor=by,
           action=action.pk)
    return action


# --- New incidents that match -----------------------------------------------------------------------


def link_new_incident(incident, *, now):
    """Called as an incident is logged, from every door (incidents' `also_when_logged`): link it to the
    organization's problems whose pattern it fits. One query when nothing matches, whatever the number of
    problems: the database compares the pattern columns (an index on the organization's problems with a
    pattern). None at all for an organization without a problem with a pattern: its count is on the
    organization row the create has read already. A match writes the links and tells the owners."""
    if not incident.organization.problem_patterns:
        return []
    matched = list(
        Problem.objects.filter(organization_id=incident.organization_id, has_pattern=True, status__in=[*OPEN_STATUSES, Status.CLOSED])
        .filter(patterns.matches_new_incident(incident)).select_related("owner")
    )
    if not matched:
        return []
    ProblemIncident.objects.bulk_create(
        [ProblemIncident(problem=problem, incident=incident, how=ProblemIncident.How.PATTERN, linked_at=now) for problem in matched],
        ignore_conflicts=True,
    )
    for problem in matched:
        record(problem, ProblemEvent.Kind.INCIDENT_LINKED, f"{incident.reference} matched the pattern", at=now,
               incident=incident.pk, reference=incident.reference)
    for problem in matched:
        notices.new_incident_matched(problem, incident, now=now)
    return matched


# --- The engine's pass ------------------------------------------------------------------------------


def sweep_problems(*, now):
    """The problems' clock on the follow-up engine's sweep: due corrective actions (reminder, then
    escalation to the owner's manager), verdicts that propose closing, closed problems that recurred."""
    return clock.run(now=now)


def redact_ideas(incidents):
    """A customer's words in ideas attached to problems go when the customer is anonymized."""
    CustomerIdea.objects.filter(incident__in=incidents).update(text=REDACTED)
