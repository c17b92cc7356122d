"""The follow-up engine: the sweep that acts on what is due, and the delivery of what it says.

Deadlines live in the database (`Incident.next_due_at`, written by every step); nothing waits in
the broker. Celery beat calls `sweep` every few seconds; `python manage.py sweep_followups` runs
the same pass by hand. Delivery tasks only carry ids; each Delivery row knows its own state.
"""

import datetime
import logging
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.formats import date_format

from incidents import clock
from incidents import services as incident_services
from incidents.customer_data import REDACTED
from incidents.events import record_event
from incidents.models import EventKind, Incident, Location

from . import notify, selectors
from .models import Delivery, EngineHeartbeat, Notification, Reminder, SweepFailure

logger = logging.getLogger(__name__)

# The smallest step of a stored time: "just after now" for moments a sweep has handled.
TICK = datetime.timedelta(microseconds=1)
# A row the sweep failed on is looked at again this much later, so it cannot hog every pass.
FAILED_ROW_RETRY = datetime.timedelta(minutes=5)
MAX_DELIVERY_ATTEMPTS = 8
ENGINE = "Follow-up engine"
SWEEP_HEARTBEAT = "sweep"
Kind = Notification.Kind


@dataclass
class SweepReport:
    """What one pass did, for the management command, the task log and the benchmarks."""

    now: datetime.datetime
    due: int = 0
    acted: int = 0
    skipped: int = 0
    failed: int = 0
    reminders: Counter = field(default_factory=Counter)
    notifications: int = 0
    deliveries_queued: int = 0
    deliveries_requeued: int = 0
    # What each other clock (registered with also_sweep) did, by its module: {"problems.services": Counter}.
    others: dict = field(default_factory=dict)

    def lines(self):
        yield f"Sweep at {self.now:%Y-%m-%d %H:%M:%S} UTC: {self.due} incidents due, {self.acted} acted on"
        if self.skipped:
            yield f"  {self.skipped} skipped (claimed by another sweep or being changed)"
        if self.failed:
            yield f"  {self.failed} failed (recorded; retried in {int(FAILED_ROW_RETRY.total_seconds() // 60)} minutes)"
        for kind, count in sorted(self.reminders.items()):
            yield f"  {count} × {Reminder.Kind(kind).label}"
        yield f"  {self.notifications} notifications, {self.deliveries_queued} emails queued"
        if self.deliveries_requeued:
            yield f"  {self.deliveries_requeued} unfinished emails queued again"
        for counts in self.others.values():
            for what, count in sorted(counts.items()):
                yield f"  {count} × {what}"


# --- The sweep -----------------------------------------------------------------------------------

# Other apps' deadlines that are not an incident's (a problem's corrective actions, say) ride on the same
# pass: each registers here, from its AppConfig.ready, `run(now=…)` returning a Counter of what it did.
_other_clocks = []


def also_sweep(run):
    """Register one more clock of the engine, run by every sweep after the incidents."""
    _other_clocks.append(run)
    return run



def sweep(*, now=None, batch_size=None):
    """One pass of the follow-up engine.

    Finds open incidents whose `next_due_at` has come (one query on a partial index), claims each
    one so that no other sweep acts on it at the same time, acts on every moment now due that no
    Reminder records yet (heads-up, missed window with breach and escalation, admin escalation,
    progress report, check-back, wrap-up, internal alert), and moves `next_due_at` past `now`.
    Then queues again any email delivery that no task finished in time. Running it twice with the
    same `now` does nothing the second time.
    """
    now = now or timezone.now()
    batch_size = batch_size or settings.FOLLOWUPS_SWEEP_BATCH
    report = SweepReport(now=now)
    due_ids = selectors.due_incident_ids(now, limit=batch_size)
    report.due = len(due_ids)
    # The business calendars of the batch's locations, read once for the whole batch.
    locations = list(Location.objects.filter(incidents__pk__in=due_ids).distinct())
    incident_services.attach_calendars(locations)
    calendars = {location.pk: location for location in locations}
    for incident_id in due_ids:
        _sweep_incident(incident_id, now, report, calendars)
    for other_clock in _other_clocks:
        # Another app's clock failing must not stop the engine's own work (the deliveries below, the heartbeat).
        try:
            report.others[other_clock.__module__] = other_clock(now=now)
        except Exception:
            logger.exception("Follow-up sweep: the clock %s failed", other_clock.__module__)
    report.deliveries_requeued = requeue_deliveries(now)
    # Wall-clock time on purpose: the heartbeat tells whether beat and a worker are alive now.
    EngineHeartbeat.objects.update_or_create(name=SWEEP_HEARTBEAT, defaults={"last_run_at": timezone.now()})
    return report


def _sweep_incident(incident_id, now, report, calendars=None):
    try:
        with transaction.atomic():
            incident = _claim(incident_id, now)
            if incident is None:
                report.skipped += 1
                return
            read = (calendars or {}).get(incident.location_id)
            if read is not None:
                incident.location._business_calendar = read._business_calendar
            acted, notifications, delivery_ids = _act_on(incident, now)
    except OperationalError as error:
        # SQLite: another process holds the write lock; the next pass will find the row again.
        if connection.vendor == "sqlite" and "locked" in str(error):
            report.skipped += 1
            return
        raise
    except Exception as error:
        logger.exception("Follow-up sweep failed on incident %s", incident_id)
        _record_failure(incident_id, now, error)
        report.failed += 1
        return
    report.acted += 1
    report.reminders.update(acted)
    report.notifications += notifications
    report.deliveries_queued += len(delivery_ids)


def _claim(incident_id, now):
    """The incident, claimed for this sweep until its transaction ends, or None when another sweep
    has it, a step is being recorded on it, or it is no longer due.

    PostgreSQL: a row lock taken with SKIP LOCKED, so a second sweep passes over the row instead of
    waiting and acting on it again. SQLite has no row locks: a compare-and-swap UPDATE on the
    `next_due_at` we read takes the database's write lock; a second sweep that read the same value
    matches no row once we have moved it.
    """
    # owner__api_client: whether an integration owns it (who hears its reminders), read in the same query.
    incidents = Incident.objects.select_related("organization", "location", "customer", "owner__api_client")
    due = {"pk": incident_id, "closed_at__isnull": True, "next_due_at__lte": now}
    if connection.features.has_select_for_update_skip_locked:
        # of=("self",): lock the incident only, never its location or organization rows.
        return incidents.select_for_update(skip_locked=True, of=("self",), no_key=True).filter(**due).first()
    seen = Incident.objects.filter(**due).values_list("next_due_at", flat=True).first()
    if seen is None:
        return None
    if not Incident.objects.filter(pk=incident_id, closed_at__isnull=True, next_due_at=seen).update(next_due_at=seen):
        return None
    return incidents.get(pk=incident_id)


def _act_on(incident, now):
    """Act on every moment of a claimed incident that is due and not yet recorded; move its
    `next_due_at` on. Returns (kinds acted on, notifications written, delivery ids)."""
    policy = incident_services.policy_for(incident.organization, incident.location)
    facts = incident_services.facts_for(incident)
    recorded = set(Reminder.objects.filter(incident=incident).values_list("kind", "due_at"))
    acted, notifications, delivery_ids = [], 0, []
    look_again_at = None
    for moment in clock.due_moments(facts, policy, now):
        if (moment.kind, moment.due_at) in recorded:
            continue
        if moment.kind == clock.TWENTY_MINUTE and now <= moment.due_at:
            # A response at the deadline itself still meets it: look again a moment later.
            look_again_at = moment.due_at + TICK
            continue
        if moment.kind == clock.HEADS_UP and now > facts.follow_up_due_at:
            continue  # too late for a heads-up; the missed-window reminder says what matters
        reminder = _record_reminder(incident, moment, now)
        if reminder is None:
            continue
        messages = _act(moment.kind, incident, now)
        delivery_ids += notify.create_notifications(incident, reminder, messages, now=now)
        notifications += len({recipient.pk for recipient, _, _ in messages})
        acted.append(moment.kind)
    following = clock.next_due_at(facts, policy, not_before=now + TICK)
    if look_again_at is not None:
        following = min(following or look_again_at, look_again_at)
    Incident.objects.filter(pk=incident.pk).update(next_due_at=following)
    queue_deliveries(delivery_ids)
    return acted, notifications, delivery_ids


def _record_reminder(incident, moment, now):
    """The Reminder for this moment, or None if one exists: the unique constraint is the last
    guard against acting twice, whatever a claim missed."""
    try:
        with transaction.atomic():
            return Reminder.objects.create(incident=incident, kind=moment.kind, due_at=moment.due_at, sent_at=now)
    except IntegrityError:
        return None


def _act(kind, incident, now):
    """What one due moment means: the timeline entries it writes and the messages it sends,
    as [(recipient, notification kind, compose options)]."""
    if kind == clock.INTERNAL_ALERT:
        return [(person, Kind.INTERNAL_ALERT, {}) for person in notify.location_staff(incident)]
    if kind == clock.HEADS_UP:
        return [(person, Kind.HEADS_UP, {}) for person in notify.owner_and_helpers(incident)]
    if kind == clock.TWENTY_MINUTE:
        incident_services.mark_breached(incident, now=now)
        team = notify.owner_and_helpers(incident)
        managers = _escalate(incident, team, now)
        return [(person, Kind.WINDOW_MISSED, {}) for person in team] + [
            (person, Kind.ESCALATION, {}) for person in managers
        ]
    if kind == clock.ESCALATE_ADMINS:
        admins = _others(notify.organization_admins(incident), notify.owner_and_helpers(incident))
        _record_escalation(incident, admins, "admins", now)
        return [(person, Kind.ESCALATION, {"escalated_to_admins": True}) for person in admins]
    reminder_kind = {
        clock.PROGRESS_REPORT: Kind.PROGRESS_REPORT,
        clock.CHECK_BACK: Kind.CHECK_BACK,
        clock.WRAP_UP: Kind.WRAP_UP,
    }[kind]
    return [(person, reminder_kind, {}) for person in notify.owner_and_helpers(incident)]


def _escalate(incident, team, now, *, missed=""):
    """The ladder of every missed clock: the location's managers at once; with none (or only the
    team itself), the organization's admins. Written on the timeline; returns who is told."""
    managers = _others(notify.location_managers(incident), team)
    level = "managers"
    if not managers:
        managers, level = _others(notify.organization_admins(incident), team), "admins"
    _record_escalation(incident, managers, level, now, missed=missed)
    return managers


def escalate_missed_progress_report(incident, *, day, day_ended_at, now):
    """The day's progress report to the customer was not sent by the end of the location's day
    (`day_ended_at`): a missed clock, escalated as a missed window is. The owner and helpers hear
    that it was missed, the ladder's managers (or admins) that they should step in.

    Once per incident and day: the Reminder's unique constraint decides, so a repeated or a
    concurrent pass escalates once. Returns the Reminder, or None when it was already escalated."""
    with transaction.atomic():
        incident = Incident.objects.select_related("organization", "location", "customer", "owner__api_client").get(
            pk=incident.pk)
        reminder = _record_reminder(incident, clock.Clock(Reminder.Kind.PROGRESS_MISSED, day_ended_at), now)
        if reminder is None:
            return None
        team = notify.owner_and_helpers(incident)
        managers = _escalate(incident, team, now, missed=gettext("No progress report to the customer on %(day)s") % {"day": date_format(day, "D d M")})
        messages = [(person, Kind.PROGRESS_MISSED, {"missed_day": day}) for person in team] + [
            (person, Kind.ESCALATION, {"missed_day": day}) for person in managers
        ]
        queue_deliveries(notify.create_notifications(incident, reminder, messages, now=now))
    return reminder


def _others(people, team):
    team_ids = {person.pk for person in team}
    return [person for person in people if person.pk not in team_ids]


def _record_escalation(incident, people, level, now, *, missed=""):
    """Escalations are timeline events (reminders are not): the record shows who was told, and
    for a clock other than the twenty-minute one, which was missed."""
    if people:
        names = ", ".join(person.display_name() for person in people)
        audience = "the location's managers" if level == "managers" else "the organization's admins"
        summary = gettext("Escalated to %(names)s (%(audience)s)") % {"names": names, "audience": audience}
    else:
        summary = gettext("Escalation found no manager or admin to tell")
    after = {"level": level, "to": [person.username for person in people]}
    if missed:
        summary = f"{missed}: {summary[0].lower()}{summary[1:]}"
        after["missed"] = missed
    record_event(incident, EventKind.ESCALATED, summary, at=now, actor_label=ENGINE, after=after)


def _record_failure(incident_id, now, error):
    """Keep what went wrong and push the row back, so one bad row cannot loop in every pass."""
    with transaction.atomic():
        SweepFailure.objects.create(incident_id=incident_id, failed_at=now, error=f"{type(error).__name__}: {error}"[:2000])
        Incident.objects.filter(pk=incident_id, closed_at__isnull=True, next_due_at__lte=now).update(
            next_due_at=now + FAILED_ROW_RETRY
        )


# --- Delivery ----------------------------------------------------------------------------------


def tell(recipients, *, kind, title, body, dedupe_key, now=None, incident=None, link=""):
    """Tell staff something in their inbox and by email, once per `dedupe_key` and person. For news that is
    not one of the engine's own reminders: the inbox has it at once; the email to someone on duty goes when
    the caller's transaction commits, to someone off duty at their next opening (notify.on_duty_at)."""
    now = now or timezone.now()
    delivery_ids = notify.create_plain_notifications(recipients, kind=kind, title=title, body=body,
                                                     dedupe_key=dedupe_key, now=now, incident=incident, link=link)
    queue_deliveries(delivery_ids)
    return delivery_ids


def tell_gestures_lapsed(gestures, *, now):
    """A gesture over budget lapsed undecided when its recovery closed: the giver learns it was not
    approved, and the managers who could have decided learn a decision was missed."""
    for gesture in gestures:
        incident = gesture.incident
        words = {"reference": incident.reference, "description": gesture.description,
                 "cost": gesture.cost, "currency": gesture.currency}
        tell(
            [gesture.given_by, *notify.location_managers(incident), *notify.organization_admins(incident)],
            kind=Notification.Kind.GESTURE_LAPSED,
            title=gettext("%(reference)s: the gesture “%(description)s” lapsed undecided") % words,
            body=gettext("%(reference)s closed while the gesture “%(description)s” (%(cost)s %(currency)s) was still "
                         "waiting for a manager's approval. It was neither approved nor refused and is not counted "
                         "as given.") % words,
            dedupe_key=f"gesture-lapsed.{gesture.pk}", now=now, incident=incident,
        )


def queue_deliveries(delivery_ids):
    """Hand deliveries to Celery once the rows are committed. When the broker is down the rows
    simply wait: the sweep queues them again after FOLLOWUPS_REQUEUE_AFTER."""
    if delivery_ids:
        transaction.on_commit(lambda: _publish(list(delivery_ids)))


def _publish(delivery_ids):
    from . import tasks  # tasks import this module

    for delivery_id in delivery_ids:
        try:
            tasks.deliver_notification.apply_async(
                (delivery_id,), retry=True, retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5}
            )
        except Exception:  # the broker is unreachable: nothing is lost, the rows are in the database
            logger.warning("Broker unavailable; %d deliveries wait for the next sweep", len(delivery_ids), exc_info=True)
            return


def requeue_deliveries(now, *, limit=200):
    """Queue again the deliveries no task finished by their time. Each is moved on with a
    compare-and-swap first, so two sweeps do not both queue it (and if they did, the delivery's
    own claim would still send it once)."""
    requeued = []
    for delivery_id in selectors.due_delivery_ids(now, limit=limit):
        unfinished = Delivery.objects.filter(
            pk=delivery_id, state__in=[Delivery.State.PENDING, Delivery.State.SENDING], next_attempt_at__lte=now
        )
        if unfinished.filter(attempts__gte=MAX_DELIVERY_ATTEMPTS).update(state=Delivery.State.FAILED, next_attempt_at=None):
            continue
        # A lapsed SENDING claim belonged to a worker that died: the delivery is up for grabs again.
        if unfinished.update(state=Delivery.State.PENDING, next_attempt_at=now + settings.FOLLOWUPS_REQUEUE_AFTER):
            requeued.append(delivery_id)
    if requeued:
        queue_deliveries(requeued)
    return len(requeued)


def deliver(delivery_id, *, now=None):
    """Send one delivery, at most once however many tasks carry its id.

    The claim is a compare-and-swap from PENDING (or a lapsed SENDING) to SENDING; a redelivered
    or duplicate task finds the row SENT or freshly claimed and does nothing. A failure is recorded
    on the row with the next attempt after a growing pause; the sweep queues it then.
    Returns the delivery's state afterwards, or "skipped".
    """
    now = now or timezone.now()
    claimable = Q(state=Delivery.State.PENDING) | Q(state=Delivery.State.SENDING, next_attempt_at__lte=now)
    claimed = (
        Delivery.objects.filter(claimable, pk=delivery_id, attempts__lt=MAX_DELIVERY_ATTEMPTS)
        .update(state=Delivery.State.SENDING, attempts=F("attempts") + 1, next_attempt_at=now + settings.FOLLOWUPS_DELIVERY_LEASE)
    )
    if not claimed:
        return "skipped"
    delivery = Delivery.objects.select_related(
        "notification__recipient", "notification__incident__location", "notification__incident__customer"
    ).get(pk=delivery_id)
    try:
        notify.send_email(delivery.notification)
    except Exception as error:
        logger.warning("Delivery %s failed (attempt %s): %s", delivery_id, delivery.attempts, error)
        gave_up = delivery.attempts >= MAX_DELIVERY_ATTEMPTS
        Delivery.objects.filter(pk=delivery_id, state=Delivery.State.SENDING).update(
            state=Delivery.State.FAILED if gave_up else Delivery.State.PENDING,
            next_attempt_at=None if gave_up else now + retry_pause(delivery.attempts),
            last_error=f"{type(error).__name__}: {error}"[:2000],
        )
        return Delivery.State.FAILED if gave_up else Delivery.State.PENDING
    Delivery.objects.filter(pk=delivery_id).update(
        state=Delivery.State.SENT, sent_at=timezone.now(), next_attempt_at=None, last_error=""
    )
    return Delivery.State.SENT


def retry_pause(attempts):
    """30 s, 1, 2, 4, 8 … minutes, at most an hour: a mail server that is down is not hammered."""
    return min(datetime.timedelta(seconds=30) * 2 ** max(attempts - 1, 0), datetime.timedelta(hours=1))


# --- The inbox -----------------------------------------------------------------------------------


def mark_read(user, notification_ids, *, now=None):
    """Mark some of the user's own notifications read; others' ids are ignored."""
    now = now or timezone.now()
    return Notification.objects.filter(recipient=user, pk__in=notification_ids, read_at__isnull=True).update(read_at=now)


def mark_all_read(user, *, now=None):
    now = now or timezone.now()
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=now)


# --- Customer data --------------------------------------------------------------------------------


def redact_notifications(incidents):
    """Notifications repeat an incident's words; when its customer is anonymized, so are they."""
    Notification.objects.filter(incident__in=incidents).update(title=REDACTED, body=REDACTED, draft="")
