"""The daily progress report: while a recovery runs for days, the customer hears each day what was
done, the results so far and the next step, in the owner's words.

Beat calls `run_pass` every few minutes. In each location's opening hours (its own time zone) it
drafts the day's report for every recovery open longer than `progress_report_every` (a day) and
not yet fixed, from what its timeline holds since the last report and the next step the owner wrote
(`Incident.next_step`); the owner edits it and sends it (`send_report`), or, when the organization
set `progress_reports_send_at`, it goes by itself at that local hour once that day's next step was
written. A draft nobody sent by the end of the location's day is a missed clock: the pass closes it
and the follow-up engine escalates it like a missed window.

One draft per incident and local day: the Message's unique constraint decides, so two passes at
once draft it once. Sending goes through `outreach.services.send_message` (consent, quiet hours,
the worker); a sent report is recorded as a progress follow-up, which re-arms the progress clock.
"""

import datetime
import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext

from followups import services as followup_services
from incidents import selectors as incident_selectors
from incidents import services as incident_services
from incidents.events import record_event
from incidents.models import EventKind, FollowUp, Gesture, Incident, Location
from incidents.services import NotAllowed, RecoveryError
from recovery import languages

from . import services as outreach_services
from .models import Message

logger = logging.getLogger(__name__)

REPORT = Message.Kind.PROGRESS_REPORT
Status = Message.Status
# Timeline entries that say what was done for the customer. Internal notes and the engine's own
# entries stay out: the report is what the owner would tell the customer.
DONE_KINDS = (EventKind.FIX, EventKind.FOLLOW_UP, EventKind.GESTURE_GIVEN, EventKind.GESTURE_APPROVED)
CUSTOMER_FACING = {kind.value for kind in FollowUp.CUSTOMER_FACING} - {FollowUp.Kind.PROGRESS.value}
SENT = (Status.SCHEDULED, Status.SENDING, Status.SENT)


class ReportError(RecoveryError):
    """The report cannot be saved or sent as asked (already sent, its day ended)."""


@dataclass
class PassReport:
    drafted: int = 0
    missed: int = 0
    sent_by_themselves: int = 0


# --- The location's day ----------------------------------------------------------------------------


def _zone(location):
    return location.zone


def local_day(moment, location):
    return moment.astimezone(_zone(location)).date()


def day_starts_at(day, location):
    return datetime.datetime.combine(day, datetime.time(0), tzinfo=_zone(location)).astimezone(datetime.timezone.utc)


def day_ends_at(day, location):
    """When the location's business day ends on its calendar: the close of the day's last span (the next
    morning's, for one past midnight), or midnight for a day it does not open."""
    return incident_services.calendar_for(location).day_ends_at(day)


def is_open(location, now):
    """Open by the location's business calendar: the clock's own rule, so drafts and reminders agree."""
    return incident_services.calendar_for(location).is_open(now)


# --- Drafting ----------------------------------------------------------------------------------------


def last_report_at(incident):
    """The last progress report the customer had (sent, or recorded by hand), else None."""
    return incident.follow_ups.filter(kind=FollowUp.Kind.PROGRESS).order_by("-done_at").values_list(
        "done_at", flat=True).first()


def draft_text(incident, *, since=None, next_step=None):
    """The report in plain, warm words from the owner: what was done since the last report (or since
    the customer told us), where it stands, and the next step. Plain text: markup stays text."""
    since = since if since is not None else last_report_at(incident)
    events = incident.events.filter(kind__in=DONE_KINDS).order_by("at", "id")
    if since is not None:
        events = events.filter(at__gt=since)
    done = []
    for event in events:
        after = event.after or {}
        if event.kind == EventKind.FIX and after.get("description"):
            done.append(after["description"])
        elif event.kind == EventKind.FOLLOW_UP and after.get("kind") in CUSTOMER_FACING and after.get("note"):
            done.append(after["note"])
        elif event.kind == EventKind.GESTURE_GIVEN and after.get("approval") in (
                Gesture.Approval.NOT_NEEDED, Gesture.Approval.APPROVED) and after.get("description"):
            done.append(after["description"])
    fix = getattr(incident, "fix", None)  # none recorded: RelatedObjectDoesNotExist is an AttributeError
    with languages.speaking_to_customer(incident.customer):
        return render_to_string("outreach/progress_report.txt", {
            "incident": incident,
            "customer": incident.customer,
            "owner": incident.owner,
            "first": since is None,
            "done": list(dict.fromkeys(line.strip() for line in done if line.strip())),
            "so_far": fix.description.strip() if fix and fix.description else "",
            "next_step": (incident.next_step if next_step is None else next_step).strip(),
        }).strip()


def due_for_a_draft(location, now):
    """The recoveries of `location` that need today's report drafted: open, not fixed, open longer
    than the organization's `progress_report_every`, with no report drafted today and no progress
    follow-up recorded today (a call this morning already told the customer)."""
    today = local_day(now, location)
    drafted_today = Message.objects.filter(incident=OuterRef("pk"), kind=REPORT, for_day=today)
    reported_today = FollowUp.objects.filter(
        incident=OuterRef("pk"), kind=FollowUp.Kind.PROGRESS, done_at__gte=day_starts_at(today, location))
    return (
        Incident.objects.filter(location=location, closed_at__isnull=True, fixed_at__isnull=True,
                                logged_at__lte=now - location.organization.progress_report_every)
        .exclude(Exists(drafted_today)).exclude(Exists(reported_today))
        .select_related("organization", "location", "customer", "owner")
    )


def draft_report(incident, *, now):
    """Today's draft for one incident, or None when one exists already (the unique constraint
    decides between two passes at once)."""
    day = local_day(now, incident.location)
    try:
        with transaction.atomic():
            return outreach_services.draft_message(
                incident, kind=REPORT, body=draft_text(incident), author=incident.owner, for_day=day)
    except IntegrityError:
        return None


def draft_due_reports(now):
    drafted = 0
    for location in Location.objects.select_related("organization").prefetch_related("weekly_spans", "calendar_exceptions"):
        if location.organization.progress_report_every <= datetime.timedelta(0) or not is_open(location, now):
            continue  # closed now: the morning's pass drafts it, never one at night
        for incident in due_for_a_draft(location, now):
            try:
                if draft_report(incident, now=now) is not None:
                    drafted += 1
            except Exception:  # one bad row must not hold back every other location's drafts
                logger.exception("Drafting the progress report of incident %s failed", incident.pk)
    return drafted


# --- What the owner does -----------------------------------------------------------------------------


def may_write_report(user, incident):
    """The people on the recovery and the managers of its location: incidents.services' rule for
    changing an incident's details, with the manager's reach over locations."""
    if user.organization_id != incident.organization_id or not incident_services.may_change_details(user, incident):
        return False
    if incident.owner_id == user.pk or incident.helpers.filter(pk=user.pk).exists() or not user.is_manager:
        return True
    return incident_selectors.visible_incidents(user).filter(pk=incident.pk).exists()


def open_draft(incident):
    """The report waiting for the owner (today's; yesterday's until the pass has closed it)."""
    return incident.messages.filter(kind=REPORT, status=Status.DRAFT).order_by("-for_day", "-id").first()


def open_drafts_by_incident(incidents):
    """{incident id: its waiting draft} for a list of incidents, in one query (the home page)."""
    drafts = {}
    for message in Message.objects.filter(incident__in=incidents, kind=REPORT, status=Status.DRAFT).order_by(
            "for_day", "id"):
        drafts[message.incident_id] = message
    return drafts


def next_step_written_on(incident, day):
    """Whether the owner wrote the next step on the location's `day` (the timeline says when)."""
    starts = day_starts_at(day, incident.location)
    return incident.events.filter(
        kind=EventKind.DETAILS_CHANGED, after__has_key="next_step", at__gte=starts,
        at__lt=day_starts_at(day + datetime.timedelta(days=1), incident.location),
    ).exists()


def _lock(message, by, now):
    """The incident locked and the message re-read under it; refuses what may not be changed."""
    # Only the incident's own row, NO KEY, as every step of incidents.services locks it.
    incident = (Incident.objects.select_for_update(of=("self",), no_key=True)
                .select_related("organization", "location", "customer", "owner").get(pk=message.incident_id))
    if incident.closed_at is not None:
        raise ReportError(gettext("%(reference)s is closed; its progress reports are over.") % {"reference": incident.reference})
    if not may_write_report(by, incident):
        raise NotAllowed(gettext("Only the people on this recovery and its managers can write its progress report."))
    message = Message.objects.select_for_update(of=("self",)).get(pk=message.pk, incident=incident, kind=REPORT)
    message.incident = incident
    if message.status != Status.DRAFT:
        raise ReportError(gettext("This report is already %(lower)s.") % {"lower": message.get_status_display().lower()})
    if message.for_day != local_day(now, incident.location) or now >= day_ends_at(message.for_day, incident.location):
        raise ReportError(gettext("This report was for %(for_day)s; that day has ended.") % {"for_day": date_format(message.for_day, "D d M")})
    return incident, message


def _write_next_step(incident, next_step, *, by, now):
    next_step = next_step.strip()
    if next_step == incident.next_step:
        return
    before = incident.next_step
    incident.next_step = next_step
    incident.save(update_fields=["next_step", "updated_at"])
    record_event(incident, EventKind.DETAILS_CHANGED, gettext("Next step: ") + (next_step or gettext("(cleared)")), at=now, actor=by,
                 before={"next_step": before}, after={"next_step": next_step})


@transaction.atomic
def save_report(message, *, by, body, next_step, now=None):
    """Keep the owner's edit of today's draft and the next step they will take. A draft whose text
    nobody touched is written again with the new next step; words the owner changed are theirs."""
    now = now or timezone.now()
    incident, message = _lock(message, by, now)
    body = body.strip()
    if not body:
        raise ReportError(gettext("Write the report before saving it."), field_errors={"body": [gettext("Write the report.")]})
    untouched = body == message.body.strip() and next_step.strip() != incident.next_step
    _write_next_step(incident, next_step, by=by, now=now)
    message.body = draft_text(incident) if untouched else body
    incident_services.validate(message, exclude=["incident", "author"])
    message.save(update_fields=["body", "updated_at"])
    return message


@transaction.atomic
def send_report(message, *, by, body, next_step, now=None):
    """Save and send today's report in one step, as `by` (the customer's replies go to them), and
    record it as a progress follow-up (it meets the progress clock). A customer who cannot receive
    it (opted out, no address) is refused before anything is written, so the owner can call."""
    now = now or timezone.now()
    incident, locked = _lock(message, by, now)
    reason = outreach_services.reason_not_sendable(incident.customer, locked.channel)
    if reason:
        raise ReportError(gettext("%(reason)s Call them instead and record the call as a progress follow-up.") % {"reason": reason},
                          field_errors={"body": [reason]})
    message = save_report(locked, by=by, body=body, next_step=next_step, now=now)
    incident_services.record_follow_up(
        incident, by=by, kind=FollowUp.Kind.PROGRESS, channel=outreach_services.RECORDED_AS[message.channel],
        note=message.body, now=now)
    return outreach_services.send_message(message, by=by, now=now)


# --- The pass: missed days, reports that go by themselves ---------------------------------------------


def close_ended_days(now):
    """Close every draft whose day has ended unsent. Reported another way that day (a call): closed
    without fuss. Otherwise a missed clock, escalated by the follow-up engine. Each draft is claimed
    with a compare-and-swap from DRAFT, so two passes never escalate one day twice."""
    missed = 0
    # Few rows: drafts are closed the day they were made, so at most one or two per open recovery.
    drafts = list(Message.objects.filter(kind=REPORT, status=Status.DRAFT).select_related("incident__location"))
    incident_services.attach_calendars([draft.incident.location for draft in drafts])
    for draft in drafts:
        ended_at = day_ends_at(draft.for_day, draft.incident.location)
        if ended_at > now:
            continue
        incident, day = draft.incident, f"{draft.for_day:%a %d %b}"
        reported = incident.follow_ups.filter(
            kind=FollowUp.Kind.PROGRESS, done_at__gte=day_starts_at(draft.for_day, incident.location),
            done_at__lt=ended_at).exists()
        needed = not reported and incident.closed_at is None and incident.fixed_at is None
        if reported:
            note = gettext("Not needed: the customer heard how it is going on %(day)s another way.") % {"day": day}
        elif not needed:
            note = gettext("Not needed: the recovery was fixed or closed on %(day)s.") % {"day": day}
        else:
            note = gettext("Not sent by the end of %(day)s: a missed progress report.") % {"day": day}
        try:
            with transaction.atomic():
                if not Message.objects.filter(pk=draft.pk, status=Status.DRAFT).update(
                        status=Status.NOT_SENT, status_note=note, updated_at=now):
                    continue  # sent, or closed by another pass, since we read it
                if needed:
                    followup_services.escalate_missed_progress_report(
                        incident, day=draft.for_day, day_ended_at=ended_at, now=now)
                    missed += 1
        except Exception:  # left as a draft for the next pass; the other days are still closed
            logger.exception("Closing progress report %s failed", draft.pk)
    return missed


def send_due_by_themselves(now):
    """Where the organization set `progress_reports_send_at`: today's drafts whose owner wrote
    today's next step go out at that local hour, as the owner. A draft that cannot go (the customer
    opted out, no address) stays for the owner, with the reason."""
    sent = 0
    drafts = (Message.objects.filter(kind=REPORT, status=Status.DRAFT,
                                     incident__organization__progress_reports_send_at__isnull=False)
              .select_related("incident__organization", "incident__location", "incident__owner"))
    for draft in drafts:
        incident = draft.incident
        local = now.astimezone(_zone(incident.location))
        if draft.for_day != local.date() or local.time() < incident.organization.progress_reports_send_at:
            continue
        if now >= day_ends_at(draft.for_day, incident.location) or not next_step_written_on(incident, draft.for_day):
            continue
        try:
            send_report(draft, by=incident.owner, body=draft.body, next_step=incident.next_step, now=now)
        except RecoveryError as error:
            Message.objects.filter(pk=draft.pk, status=Status.DRAFT).update(status_note=error.message[:300])
            continue
        except Exception:  # kept for the owner to send by hand; the other drafts still go
            logger.exception("Sending progress report %s by itself failed", draft.pk)
            Message.objects.filter(pk=draft.pk, status=Status.DRAFT).update(
                status_note=gettext("It could not go by itself; send it yourself."))
            continue
        sent += 1
    return sent


def run_pass(*, now=None):
    """One pass: close the days that ended, draft today's reports where it is open, send the ones
    that go by themselves. Safe to run twice with the same `now`: the second pass does nothing."""
    now = now or timezone.now()
    report = PassReport()
    report.missed = close_ended_days(now)
    report.drafted = draft_due_reports(now)
    report.sent_by_themselves = send_due_by_themselves(now)
    return report
