"""The problems' clock on the follow-up engine: corrective actions due and overdue, verdicts that propose
closing, closed problems whose pattern came back. Run by every sweep (`followups.services.also_sweep`).

Actions follow the engine's own way with incidents: the next moment is stored on the row (`remind_at`,
under the partial index `action_due`), a pass asks only "which actions are past due?", claims each one so
that two sweeps never act on it both, acts, and moves `remind_at` on. Problems' verdicts have no stored
moment: the pass looks only at problems with something to check (watching ones past their watching period,
closed ones with an incident linked since closing), a bounded number each pass, each at most once an hour.
"""

import contextlib
import datetime
import logging
import zoneinfo
from collections import Counter

from django.core.cache import cache
from django.db import OperationalError, connection, transaction
from django.db.models import DateTimeField, Exists, ExpressionWrapper, F, OuterRef
from django.utils.translation import gettext
from django.utils.formats import date_format

from incidents.models import User

from . import notices, selectors, verdict
from .events import record
from .models import CorrectiveAction, Problem, ProblemEvent, ProblemIncident, Status

logger = logging.getLogger(__name__)

# An action is first brought up on the morning of its due day, in its owner's time zone; not done by the
# next morning, it is overdue and escalated.
REMINDER_HOUR = 9
ACTIONS_PER_PASS = 200
# Problems whose verdict is read in one pass (three counting queries each), and how often one problem is
# read again while its verdict stays the same.
PROBLEMS_PER_PASS = 20
RECHECK_EVERY = datetime.timedelta(hours=1)
# An action the pass failed on is looked at again this much later, so it cannot hog every pass.
FAILED_ROW_RETRY = datetime.timedelta(minutes=5)

REMINDED = "corrective action reminders"
ESCALATED = "overdue actions escalated"
PROPOSED = "problems proposed for closing"
RECURRED = "closed problems recurred"
SKIPPED = "corrective actions skipped (claimed by another sweep)"
FAILED = "corrective actions failed (retried in 5 minutes)"


def owner_zone(person):
    """The time zone of the person's first location (their organization's first one, else UTC)."""
    location = person.locations.order_by("pk").first() or (
        person.organization.locations.order_by("pk").first() if person.organization_id else None)
    return zoneinfo.ZoneInfo(location.timezone if location else "UTC")


def first_reminder_at(owner, due_on):
    return datetime.datetime.combine(due_on, datetime.time(REMINDER_HOUR), tzinfo=owner_zone(owner))


def escalation_at(owner, due_on):
    """A day past due: the morning after the due day, in the action owner's time zone."""
    return first_reminder_at(owner, due_on + datetime.timedelta(days=1))


def run(*, now):
    """One pass; returns a Counter of what it did, in words for the sweep's report. Running it twice with
    the same `now` does nothing the second time."""
    done = Counter()
    for action_id in due_action_ids(now, limit=ACTIONS_PER_PASS):
        done[_sweep_action(action_id, now)] += 1
    done.pop(None, None)
    _watch(now, done)
    _look_for_recurrences(now, done)
    return +done


# --- Corrective actions ----------------------------------------------------------------------------


def due_action_ids(now, *, limit):
    """Actions not done whose next moment has come, most overdue first: one query on `action_due`."""
    return list(
        CorrectiveAction.objects.filter(done_at__isnull=True, remind_at__isnull=False, remind_at__lte=now)
        .order_by("remind_at").values_list("pk", flat=True)[:limit]
    )


def _sweep_action(action_id, now):
    try:
        with transaction.atomic():
            action = _claim(action_id, now)
            if action is None:
                return SKIPPED
            return _act_on(action, now)
    except OperationalError as error:
        # SQLite: another process holds the write lock; the next pass finds the row again.
        if connection.vendor == "sqlite" and "locked" in str(error):
            return SKIPPED
        raise
    except Exception:
        logger.exception("Problems' pass failed on corrective action %s", action_id)
        CorrectiveAction.objects.filter(pk=action_id, done_at__isnull=True, remind_at__lte=now).update(
            remind_at=now + FAILED_ROW_RETRY)
        return FAILED


def _claim(action_id, now):
    """The action, claimed for this pass until its transaction ends, or None when another pass has it, it
    is being marked done, or it is no longer due. As followups' sweep claims incidents: PostgreSQL skips a
    locked row instead of waiting for it and acting again; SQLite has no row locks, so a compare-and-swap
    UPDATE on the `remind_at` we read takes the write lock, and a second pass that read the same value
    matches no row once we have moved it."""
    actions = CorrectiveAction.objects.select_related("problem__owner", "problem__organization", "owner")
    due = {"pk": action_id, "done_at__isnull": True, "remind_at__lte": now}
    if connection.features.has_select_for_update_skip_locked:
        return actions.select_for_update(skip_locked=True, of=("self",), no_key=True).filter(**due).first()
    seen = CorrectiveAction.objects.filter(**due).values_list("remind_at", flat=True).first()
    if seen is None:
        return None
    if not CorrectiveAction.objects.filter(pk=action_id, done_at__isnull=True, remind_at=seen).update(remind_at=seen):
        return None
    return actions.get(pk=action_id)


def _act_on(action, now):
    """Remind on the due day's morning; escalate a day later; then nothing more is due. A pass that comes
    only after the escalation moment escalates at once (the overdue notice tells the action's owner too)."""
    problem = action.problem
    escalate_at = escalation_at(action.owner, action.due_on)
    if problem.status == Status.CLOSED:
        # A closed problem's actions are not chased; reopening it does not bring back what was skipped.
        CorrectiveAction.objects.filter(pk=action.pk).update(remind_at=None)
        return None
    if now < escalate_at:
        if action.reminded_at is None:
            notices.action_due(action, now=now)
            CorrectiveAction.objects.filter(pk=action.pk).update(reminded_at=now, remind_at=escalate_at)
            return REMINDED
        CorrectiveAction.objects.filter(pk=action.pk).update(remind_at=escalate_at)
        return None
    if action.escalated_at is None:
        managers = managers_of(problem.owner)
        notices.action_overdue(action, managers, now=now)
        names = ", ".join(person.display_name() for person in managers) or "nobody (no manager or admin)"
        record(problem, ProblemEvent.Kind.ACTION_OVERDUE,
               gettext("Overdue since %(due_on)s: %(description)s (told %(names)s)") % {"due_on": date_format(action.due_on, "d M"), "description": action.description, "names": names}, at=now,
               action=action.pk, due_on=action.due_on.isoformat(), to=[person.username for person in managers])
        CorrectiveAction.objects.filter(pk=action.pk).update(escalated_at=now, remind_at=None)
        return ESCALATED
    CorrectiveAction.objects.filter(pk=action.pk).update(remind_at=None)
    return None


def managers_of(person):
    """Whom an overdue action of `person`'s problem goes up to: the managers sharing a location with
    them; with none, the organization's admins. Never the person themselves."""
    active = User.objects.filter(organization_id=person.organization_id, is_active=True).exclude(pk=person.pk)
    managers = list(active.filter(role=User.Role.MANAGER, locations__in=person.locations.all()).distinct().order_by("pk"))
    return managers or list(active.filter(role=User.Role.ADMIN).order_by("pk"))


# --- Verdicts: proposing to close, and recurrence after closing -----------------------------------------


def _watch(now, done):
    """Watching problems whose fix is older than their organization's watching period and not yet proposed
    for closing: if the verdict says fixed, closing is proposed (once per fix) and the owner told."""
    candidates = (
        Problem.objects.filter(status=Status.WATCHING, close_proposed_at__isnull=True, fixed_at__isnull=False)
        .alias(watched_until=ExpressionWrapper(F("fixed_at") + F("organization__problem_watch_period"),
                                               output_field=DateTimeField()))
        .filter(watched_until__lte=now).order_by("fixed_at")
    )
    for problem in _throttled(candidates, "watch", now):
        with _one_problem(problem):
            _propose_closing(problem, now, done)


def _propose_closing(problem, now, done):
    finding = selectors.verdict_of(problem, now=now)
    if not finding.is_fixed:
        return
    with transaction.atomic():
        # Compare-and-swap: a concurrent pass, or a manager's change of status, wins over us.
        claimed = Problem.objects.filter(pk=problem.pk, status=Status.WATCHING, close_proposed_at__isnull=True,
                                         fixed_at=problem.fixed_at).update(close_proposed_at=now)
        if not claimed:
            return
        weeks = problem.organization.problem_watch_period / datetime.timedelta(weeks=1)
        record(problem, ProblemEvent.Kind.CLOSE_PROPOSED,
               gettext("Closing proposed: no recurrence in the watching period (%(weeks)s weeks). %(text)s") % {"weeks": format(weeks, "g"), "text": finding.text},
               at=now, verdict=finding.kind, incidents_after=finding.after, expected=round(finding.expected, 2))
        notices.close_proposed(problem, finding, now=now)
    done[PROPOSED] += 1


@contextlib.contextmanager
def _one_problem(problem):
    """One problem the pass cannot read is logged and left for the next slot; the sweep goes on."""
    try:
        yield
    except Exception:
        logger.exception("Problems' pass failed on problem %s", problem.pk)


def _throttled(candidates, what, now):
    """Up to PROBLEMS_PER_PASS of the candidates (oldest first) whose verdict was not read in this slot of
    RECHECK_EVERY: a verdict changes with days and new incidents, not with seconds, so the many passes of an
    hour read each problem once. Only a throttle, kept in the cache: a lost key costs one reading, never a
    wrong decision (every decision is a compare-and-swap on the problem's row)."""
    slot = int(now.timestamp() // RECHECK_EVERY.total_seconds())
    keys = {pk: f"problems.verdict.{what}.{pk}.{slot}" for pk in candidates.values_list("pk", flat=True)[:1000]}
    if not keys:
        return []
    try:
        read = cache.get_many(list(keys.values()))
    except Exception:  # the cache (Redis) is away: read them all this pass, the sweep goes on
        logger.warning("Problems' pass: cache unavailable, verdicts read without the throttle", exc_info=True)
        read = {}
    chosen = [pk for pk, key in keys.items() if key not in read][:PROBLEMS_PER_PASS]
    if not chosen:
        return []
    try:
        cache.set_many({keys[pk]: 1 for pk in chosen}, timeout=int(RECHECK_EVERY.total_seconds()) * 2)
    except Exception:
        pass  # only a throttle: the next pass reads them again
    rows = Problem.objects.select_related("owner", "organization").in_bulk(chosen)
    return [rows[pk] for pk in chosen if pk in rows]


def since_closing(problem, *, now):
    """The verdict's own test on the window since closing: the pattern's count since the problem was closed
    against its old rate (before the fix; before closing when no fix was marked)."""
    return selectors.judged_since(problem, change_at=problem.fixed_at or problem.closed_at, since=problem.closed_at,
                                  now=now, change="closing")


def _look_for_recurrences(now, done):
    """Closed problems with an incident linked since closing, closed at least MIN_DAYS ago: if the test on
    the window since closing does not say fixed, the pattern came back and the problem is RECURRED."""
    linked_since = ProblemIncident.objects.filter(problem=OuterRef("pk"), linked_at__gte=OuterRef("closed_at"))
    candidates = (
        Problem.objects.filter(status=Status.CLOSED, has_pattern=True, closed_at__isnull=False,
                               closed_at__lte=now - datetime.timedelta(days=verdict.MIN_DAYS))
        .filter(Exists(linked_since)).order_by("closed_at")
    )
    for problem in _throttled(candidates, "recur", now):
        with _one_problem(problem):
            _reopen_if_recurred(problem, now, done)


def _reopen_if_recurred(problem, now, done):
    finding = since_closing(problem, now=now)
    if finding.kind in (verdict.FIXED, verdict.TOO_EARLY):
        return
    closed_at = problem.closed_at
    with transaction.atomic():
        claimed = Problem.objects.filter(pk=problem.pk, status=Status.CLOSED, closed_at=closed_at).update(
            status=Status.RECURRED, closed_at=None, close_proposed_at=None, version=F("version") + 1,
            updated_at=now)
        if not claimed:
            return
        summary = gettext("Recurred after closing: %(text)s") % {"text": finding.text}
        record(problem, ProblemEvent.Kind.RECURRED, summary, at=now, status=Status.RECURRED,
               closed_at=closed_at.isoformat(), incidents_after=finding.after, expected=round(finding.expected, 2))
        notices.recurred(problem, closed_at, summary, now=now)
    done[RECURRED] += 1

