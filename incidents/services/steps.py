"""The four steps of the method, each written with the incident locked and the timeline appended."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from .. import coach
from ..events import record_event
from ..models import Apology, Deposition, EventKind, Fix, FollowUp, Resolution, Review
from .base import (
    RecoveryError,
    _event_for_step,
    _has,
    _lock_open,
    _not_in_future,
    _require,
    _seconds_between,
    _upsert,
    validate,
)
from .clocks import _refresh
from .gestures import give_gesture, lapse_waiting_gestures
from .organizations import coach_phrases


@transaction.atomic
def record_apology(incident, *, by, channel, text, customer_accepted=False, at=None, expected_version=None, now=None):
    """Step 1. The coach's flags are noted on the record; they never block it."""
    now = now or timezone.now()
    incident = _lock_open(incident, by)
    at = at or now
    _not_in_future(at, now, "at", gettext("The apology cannot be recorded in the future."))
    if at < incident.occurred_at:
        raise RecoveryError(gettext("The apology cannot come before the failure."), field_errors={"at": [gettext("Before the failure.")]})
    flags = coach.find_flags(text, coach_phrases(incident.organization, coach.language_of_apology(incident.customer)))
    values = {"channel": channel, "text": text, "customer_accepted": customer_accepted}
    apology, old = _upsert(
        Apology, incident, values, defaults={"apologized_by": by, "apologized_at": at, "coach_flags": flags},
        expected_version=expected_version,
    )
    if old:
        apology.coach_flags = flags
        apology.save(update_fields=["coach_flags"])
    else:
        incident.seconds_to_apology = _seconds_between(incident.logged_at, at)
    summary = gettext("Apology recorded") if not old else gettext("Apology updated")
    if flags:
        summary += "; " + gettext("the coach flagged %(phrases)s") % {
            "phrases": ", ".join(f"“{flag['text']}”" for flag in flags)}
    _event_for_step(incident, EventKind.APOLOGY, summary, by, now, old, values)
    _refresh(incident, now)
    return apology


@transaction.atomic
def record_review(incident, *, by, customer_account, customer_needs, customer_losses="", expected_version=None, now=None):
    """Step 2: the complaint gone over with the customer, only after the apology."""
    now = now or timezone.now()
    incident = _lock_open(incident, by)
    _require(_has(incident, "apology"), gettext("Apologize first: the review comes after the apology."), "apology")
    values = {"customer_account": customer_account, "customer_needs": customer_needs, "customer_losses": customer_losses}
    review, old = _upsert(
        Review, incident, values, defaults={"reviewed_by": by, "reviewed_at": now}, expected_version=expected_version
    )
    _event_for_step(incident, EventKind.REVIEW, gettext("Review recorded") if not old else gettext("Review updated"), by, now, old, values)
    _refresh(incident, now)
    return review


@transaction.atomic
def record_fix(incident, *, by, description, fixed, gesture=None, expected_version=None, now=None):
    """Step 3: what was done. A fix meets the twenty-minute clock; a gesture may come with it."""
    now = now or timezone.now()
    incident = _lock_open(incident, by)
    _require(_has(incident, "review"), gettext("Review the complaint with the customer before recording the fix."), "review")
    existing = Fix.objects.filter(incident=incident).first()
    if existing and existing.fixed and not fixed:
        raise RecoveryError(gettext("This incident is already fixed; describe any further work in a follow-up."), field_errors={"fixed": [gettext("Already fixed.")]})
    values = {"description": description, "fixed": bool(fixed)}
    fix, old = _upsert(
        Fix, incident, values, defaults={"recorded_by": by, "recorded_at": now}, expected_version=expected_version
    )
    if fixed and fix.fixed_at is None:
        fix.fixed_at = now
        fix.save(update_fields=["fixed_at"])
        incident.fixed_at = now
        incident.responded_at = incident.responded_at or now
        incident.seconds_to_fix = _seconds_between(incident.logged_at, now)
    summary = gettext("Fixed") if fixed else gettext("Fix in progress")
    _event_for_step(incident, EventKind.FIX, gettext("%(summary)s: %(description)s") % {"summary": summary, "description": description}, by, now, old, values)
    if gesture:
        give_gesture(incident, by=by, now=now, **gesture)
    _refresh(incident, now)
    return fix


@transaction.atomic
def record_follow_up(incident, *, by, kind, channel, note, now=None):
    """A follow-up. Any kind but an internal alert reaches the customer and meets the twenty-minute
    clock; a progress report re-arms the progress clock."""
    now = now or timezone.now()
    incident = _lock_open(incident, by)
    if kind != FollowUp.Kind.INTERNAL:
        _require(_has(incident, "apology"), gettext("Apologize first: follow-ups to the customer come after the apology."), "apology")
    if kind in (FollowUp.Kind.POST_FIX, FollowUp.Kind.WRAP_UP):
        _require(incident.fixed_at is not None, gettext("Record the fix first: this follow-up comes after the fix."), "fix")
    follow_up = FollowUp(incident=incident, kind=kind, channel=channel, note=note, done_by=by, done_at=now)
    validate(follow_up)
    follow_up.save()
    if kind in FollowUp.CUSTOMER_FACING and incident.responded_at is None:
        incident.responded_at = now
    if kind in FollowUp.CUSTOMER_FACING and incident.seconds_to_follow_up is None:
        incident.seconds_to_follow_up = _seconds_between(incident.logged_at, now)
    if kind == FollowUp.Kind.WRAP_UP and incident.wrapped_up_at is None:
        incident.wrapped_up_at = now
    record_event(
        incident, EventKind.FOLLOW_UP, f"{follow_up.get_kind_display()} ({follow_up.get_channel_display()}): {note}",
        at=now, actor=by, after={"kind": kind, "channel": channel, "note": note},
    )
    _refresh(incident, now)
    return follow_up


@transaction.atomic
def record_deposition(
    incident, *, by, root_cause, circumstances, busyness, product="", prevention="", expected_version=None, now=None
):
    """Step 4: the record for learning, while memory is fresh."""
    now = now or timezone.now()
    incident = _lock_open(incident, by)
    _require(_has(incident, "fix"), gettext("Record the fix before documenting the incident."), "fix")
    values = {"root_cause": root_cause, "circumstances": circumstances, "busyness": busyness, "product": product, "prevention": prevention}
    deposition, old = _upsert(
        Deposition, incident, values, defaults={"recorded_by": by, "recorded_at": now}, expected_version=expected_version
    )
    _event_for_step(incident, EventKind.DEPOSITION, gettext("Deposition recorded") if not old else gettext("Deposition updated"), by, now, old, values)
    # The trends group incidents by how busy it was: the considered answer here replaces the guess
    # made (or left blank) while logging.
    incident.busyness = busyness
    _refresh(incident, now)
    return deposition


@transaction.atomic
def record_outcome(incident, *, by, outcome, satisfaction=None, now=None):
    """How the recovery ended. Closing needs the fix, the deposition and the wrap-up."""
    now = now or timezone.now()
    incident = _lock_open(incident, by)
    _require(incident.fixed_at is not None, gettext("Fix the problem before recording the outcome."), "fix")
    _require(_has(incident, "deposition"), gettext("Document the incident (the deposition) before recording the outcome."), "deposition")
    _require(
        incident.follow_ups.filter(kind=FollowUp.Kind.WRAP_UP).exists(),
        gettext("Send the wrap-up note or call before recording the outcome."), "follow_up",
    )
    resolution = Resolution(incident=incident, outcome=outcome, satisfaction=satisfaction, recorded_by=by, recorded_at=now)
    validate(resolution)
    resolution.save()
    incident.closed_at = now
    incident.outcome = outcome
    lapse_waiting_gestures(incident, by=by, now=now)
    record_event(
        incident, EventKind.CLOSED, f"Closed: {resolution.get_outcome_display()}", at=now, actor=by,
        after={"outcome": outcome, "satisfaction": satisfaction},
    )
    _refresh(incident, now)
    return resolution
