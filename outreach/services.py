"""Messages to the customer: drafted, sent in the owner's name, honouring consent and the night.

`draft_message` writes a draft; `send_message` checks consent and address, sets the author,
schedules it (while the location is open by its business calendar, never inside the quiet hours) and
hands it to the worker once the transaction commits. The worker (`send_due`) claims due messages with one conditional UPDATE, sends
them (one SMTP connection per batch), logs every attempt, retries a failure with backoff and, on the
last failure, marks it FAILED on the incident's timeline. A message is sent at most once: only the
worker that claimed it may send it, and a claim lapses only after the lease.
"""

import datetime
import logging
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import CharField, F, Q, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext, gettext_lazy

from followups import selectors as followup_selectors
from incidents import phones
from incidents import services as incident_services
from incidents.customer_data import REDACTED
from incidents.events import new_event, record_event
from incidents.models import Channel as IncidentChannel
from incidents.models import Customer, Event, EventKind, FollowUp
from incidents.services import NotAllowed, RecoveryError
from recovery import languages

from . import sending, sms
from .models import Message, MessageAttempt

logger = logging.getLogger(__name__)

Status = Message.Status
# Attempts before a message is given up as FAILED (30 s, 1, 2, 4 … minutes apart: about two hours).
MAX_ATTEMPTS = 8
SENDER_LABEL = "Messages to customers"
SMS_MAX_CHARACTERS = 1600
# The timeline and the page call a channel by these words.
CHANNEL_WORDS = {Message.Channel.EMAIL: gettext_lazy("email"), Message.Channel.SMS: gettext_lazy("text message")}


class MessageError(RecoveryError):
    """A message cannot be sent as asked (already sent, no address, opted out)."""


# --- Consent and addresses ---------------------------------------------------------------------------


def address_for(customer, channel):
    """Where a message on `channel` goes: the email address, or the phone number in E.164 ('' if none)."""
    if channel == Message.Channel.EMAIL:
        return customer.email or ""
    phone = customer.phone
    return phone.as_e164 if phone and phone.is_valid() else ""


def channel_for(customer):
    """The customer's preferred channel if we can reach them on it; else email, else a text message.
    With no address at all, their preference (or email): sending it then says why it did not go."""
    preferred = customer.preferred_channel
    if preferred and address_for(customer, preferred):
        return preferred
    for channel in (Message.Channel.EMAIL, Message.Channel.SMS):
        if address_for(customer, channel):
            return channel
    return preferred or Message.Channel.EMAIL


def reason_not_sendable(customer, channel):
    """Why a message on `channel` cannot go to this customer, in words for the owner; '' if it can."""
    if customer.opted_out_at is not None:
        return gettext("%(name)s asked not to be messaged (on %(day)s).") % {
            "name": customer.name, "day": date_format(customer.opted_out_at, "d M Y")}
    if not address_for(customer, channel):
        if channel == Message.Channel.EMAIL:
            return gettext("There is no email address on file for %(name)s.") % {"name": customer.name}
        if customer.phone:
            return gettext("%(phone)s is not a number a text message can reach.") % {"phone": customer.phone}
        return gettext("There is no phone number on file for %(name)s.") % {"name": customer.name}
    return ""


def can_be_messaged(customer):
    """False for a customer with no email or phone (or who opted out): the page offers a call or a
    handwritten note instead of a send that would fail."""
    return customer.opted_out_at is None and any(address_for(customer, channel) for channel in Message.Channel.values)


# --- Quiet hours ------------------------------------------------------------------------------------


def out_of_quiet_hours(moment, organization, location):
    """`moment`, or the end of the quiet hours after it when it falls inside them on the location's clock.

    Quiet hours may run over midnight (21:00–08:00) or not (13:00–14:00); equal start and end means none."""
    start, end = organization.quiet_hours_start, organization.quiet_hours_end
    if start == end:
        return moment
    zone = location.zone
    local = moment.astimezone(zone)
    at = local.time()
    if start < end:
        quiet = start <= at < end
        morning = local.date()
    else:
        quiet = at >= start or at < end
        morning = local.date() + datetime.timedelta(days=1) if at >= start else local.date()
    if not quiet:
        return moment
    return datetime.datetime.combine(morning, end, tzinfo=zone).astimezone(datetime.timezone.utc)


# Openings looked at for one outside the quiet hours; a week of a bar's evenings is well within it.
QUIET_OPENINGS_LOOKED_AT = 30


def when_customer_may_hear(moment, organization, location):
    """The first instant from `moment` on when the location is open by its business calendar (holidays and
    exceptions included) and outside the organization's quiet hours: whichever of the two is stricter wins.

    The quiet hours stay a promise of their own ("no messages from 21:00 until 08:00"), which the calendar
    does not cancel: a bar open till 02:00 still texts nobody at 01:00 unless its quiet hours allow it.
    A location whose every opening falls inside the quiet hours goes by its calendar alone, rather than
    holding its messages for ever; one whose calendar never opens goes by the quiet hours alone."""
    business = incident_services.calendar_for(location)
    opened = business.next_open_at(moment)
    if opened is None:
        return out_of_quiet_hours(moment, organization, location)
    candidate = opened
    for _ in range(QUIET_OPENINGS_LOOKED_AT):
        after_quiet = out_of_quiet_hours(candidate, organization, location)
        if after_quiet == candidate:
            return candidate
        candidate = business.next_open_at(after_quiet)
        if candidate is None:
            break
    return opened


# --- Drafting and sending --------------------------------------------------------------------------


def default_subject(kind, incident):
    """The subject of a message to the customer, in the customer's language (recovery.languages)."""
    words = {"place": incident.location.name}
    with languages.speaking_to_customer(incident.customer):
        return {
            Message.Kind.PROGRESS_REPORT: gettext("How we are getting on, from %(place)s"),
            Message.Kind.CHECK_BACK: gettext("Checking in, from %(place)s"),
            Message.Kind.WRAP_UP: gettext("Thank you, from %(place)s"),
            Message.Kind.SATISFACTION_CHECK: gettext("How do you feel about %(place)s now?"),
            Message.Kind.THANK_YOU: gettext("You told us, we changed it: %(place)s"),
        }.get(kind, gettext("A note from %(place)s")) % words


def draft_message(incident, *, kind, body, subject="", channel=None, author=None, for_day=None):
    """A draft message to the incident's customer, on `channel` (default: the customer's preference
    and what addresses we have), addressed now so the owner sees where it will go."""
    customer = incident.customer
    channel = channel or channel_for(customer)
    if channel not in Message.Channel.values:
        raise MessageError(gettext("Choose email or a text message."), field_errors={"channel": [gettext("Email or text message.")]})
    if channel == Message.Channel.SMS and len(body) > SMS_MAX_CHARACTERS:
        # Providers refuse longer texts (Twilio: 1,600 characters); better said now than failed later.
        raise MessageError(gettext("A text message holds at most %(SMS_MAX_CHARACTERS)s characters; this one has %(count)s. Shorten it, or send it by email.") % {"SMS_MAX_CHARACTERS": number_format(SMS_MAX_CHARACTERS, force_grouping=True), "count": number_format(len(body), force_grouping=True)}, field_errors={"note": [gettext("Too long for a text message.")]})
    message = Message(
        incident=incident, kind=kind, channel=channel, to=address_for(customer, channel),
        subject=(subject or default_subject(kind, incident)) if channel == Message.Channel.EMAIL else "",
        body=body, author=author, status=Status.DRAFT, for_day=for_day,
    )
    incident_services.validate(message, exclude=["incident", "author"])
    message.save()
    return message


@transaction.atomic
def send_message(message, *, by, at=None, now=None):
    """Send a DRAFT or SCHEDULED message as `by`: now, or at `at`, held while the location is closed by its
    calendar or inside the quiet hours (when_customer_may_hear). The worker gets it once the transaction
    commits.

    A customer who opted out, or has no address for the channel, gets no send: the message is
    NOT_SENT with the reason, the timeline says so, and the owner sees it on their home page.
    Returns the message."""
    now = now or timezone.now()
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("incident__organization", "incident__location", "incident__customer", "incident__owner")
        .get(pk=message.pk)
    )
    incident = message.incident
    if by.organization_id != incident.organization_id:
        raise NotAllowed(gettext("This incident belongs to another organization."))
    if message.status not in (Status.DRAFT, Status.SCHEDULED):
        raise MessageError(gettext("This message is already %(lower)s.") % {"lower": message.get_status_display().lower()})
    customer = incident.customer
    message.author = by
    message.to = address_for(customer, message.channel)
    reason = reason_not_sendable(customer, message.channel)
    if reason:
        _not_sent(message, reason, now=now, actor=by)
        return message
    when = when_customer_may_hear(max(at or now, now), incident.organization, incident.location)
    message.status, message.status_note = Status.SCHEDULED, ""
    message.scheduled_for = message.next_attempt_at = when
    message.save(update_fields=["author", "to", "status", "status_note", "scheduled_for", "next_attempt_at", "updated_at"])
    if when <= now:
        queue_sending()
    return message


def _not_sent(message, reason, *, now, actor=None):
    message.status, message.status_note, message.next_attempt_at = Status.NOT_SENT, reason[:300], None
    message.save(update_fields=["author", "to", "status", "status_note", "next_attempt_at", "updated_at"])
    record_event(
        message.incident, EventKind.MESSAGE_NOT_SENT,
        f"{message.get_kind_display()} not sent: {reason}", at=now, actor=actor,
        actor_label="" if actor else SENDER_LABEL, after=_event_facts(message),
    )


def _event_facts(message):
    return {"message": message.pk, "kind": message.kind, "channel": message.channel, "status": message.status,
            "note": message.status_note}


def queue_sending():
    """Wake the worker once the rows are committed. When the broker is down nothing is lost: beat's
    pass finds the due messages in the database."""
    transaction.on_commit(_publish)


def _publish():
    from . import tasks  # tasks import this module

    try:
        tasks.send_messages.apply_async(retry=True, retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5})
    except Exception:
        logger.warning("Broker unavailable; due messages wait for the next pass", exc_info=True)


# --- Follow-ups that are sent ---------------------------------------------------------------------

FOLLOW_UP_KINDS = {
    FollowUp.Kind.IMMEDIATE: Message.Kind.CHECK_BACK,
    FollowUp.Kind.POST_FIX: Message.Kind.CHECK_BACK,
    FollowUp.Kind.PROGRESS: Message.Kind.PROGRESS_REPORT,
    FollowUp.Kind.WRAP_UP: Message.Kind.WRAP_UP,
}
# The follow-up's record of how it was done (the record's channels have no text message: "other").
RECORDED_AS = {Message.Channel.EMAIL: IncidentChannel.EMAIL, Message.Channel.SMS: IncidentChannel.OTHER}


@transaction.atomic
def send_follow_up(incident, *, by, kind, channel, note, subject="", at=None, now=None):
    """A follow-up to the customer that is sent, not only recorded: the follow-up on the record (it
    meets its clock) and the message that carries the note, in one transaction. A customer who cannot
    receive it (opted out, no address) is refused before anything is written, so the owner can
    phone or write by hand instead. Returns the message."""
    now = now or timezone.now()
    if kind not in FOLLOW_UP_KINDS:
        raise MessageError(gettext("Only a follow-up to the customer can be sent to them."), field_errors={"kind": [gettext("Not to the customer.")]})
    reason = reason_not_sendable(incident.customer, channel)
    if reason:
        raise MessageError(gettext("%(reason)s Record a call or a handwritten note instead.") % {"reason": reason}, field_errors={"channel": [reason]})
    follow_up = incident_services.record_follow_up(
        incident, by=by, kind=kind, channel=RECORDED_AS[channel], note=note, now=now)
    message = draft_message(follow_up.incident, kind=FOLLOW_UP_KINDS[kind], body=note, subject=subject,
                            channel=channel, author=by)
    return send_message(message, by=by, at=at, now=now)


# A draft of these kinds is a follow-up to the customer too: sending it records that follow-up.
DRAFTED_FOLLOW_UPS = {Message.Kind.PROGRESS_REPORT: FollowUp.Kind.PROGRESS, Message.Kind.WRAP_UP: FollowUp.Kind.WRAP_UP}


@transaction.atomic
def send_draft(message, *, by, at=None, now=None):
    """Send a message drafted earlier (by a person, or the morning's progress report), as the page's
    send does: a progress report or a wrap-up note is recorded as that follow-up (it meets its
    clock) in the same transaction; a customer who cannot receive it is refused before anything is
    written, so the owner can phone or write by hand instead. Returns the message."""
    now = now or timezone.now()
    follow_up = DRAFTED_FOLLOW_UPS.get(message.kind)
    if follow_up and message.status == Status.DRAFT:
        reason = reason_not_sendable(message.incident.customer, message.channel)
        if reason:
            raise MessageError(gettext("%(reason)s Record a call or a handwritten note instead.") % {"reason": reason}, field_errors={"channel": [reason]})
        incident_services.record_follow_up(message.incident, by=by, kind=follow_up,
                                           channel=RECORDED_AS[message.channel], note=message.body, now=now)
    return send_message(message, by=by, at=at, now=now)


SENT_CHANNELS = {"email": Message.Channel.EMAIL, "sms": Message.Channel.SMS}


def follow_up_from_page(incident, *, by, kind, channel, note, subject="", at=None, now=None):
    """The follow-up step of the incident page. "Email" or "Text" to the customer sends the note (a
    follow-up on the record and the message, together); any other way records what was done by
    hand. An internal alert is only recorded, whatever its channel. Returns the Message sent or
    the FollowUp recorded."""
    if channel in SENT_CHANNELS and kind in FOLLOW_UP_KINDS:
        return send_follow_up(incident, by=by, kind=kind, channel=SENT_CHANNELS[channel], note=note,
                              subject=subject, at=at, now=now)
    return incident_services.record_follow_up(
        incident, by=by, kind=kind, channel=RECORDED_AS.get(channel, channel), note=note, now=now)


def sent_words(message):
    """What the page says after a send: where it goes, and when on the location's clock."""
    how = gettext("by %(channel)s to %(to)s") % {"channel": CHANNEL_WORDS[message.channel], "to": message.to}
    if message.status == Status.NOT_SENT:
        return gettext("Not sent: %(status_note)s") % {"status_note": message.status_note}
    local = message.scheduled_for.astimezone(message.incident.location.zone)
    if message.scheduled_for <= timezone.now():
        return gettext("Follow-up saved; the note is on its way %(how)s.") % {"how": how}
    return gettext("Follow-up saved; the note goes %(how)s on %(day)s at %(time)s (the location's time).") % {
        "how": how, "day": date_format(local, "D d M"), "time": f"{local:%H:%M}"}


def wrap_up_draft(incident):
    """The wrap-up note drafted for the owner to personalize."""
    return followup_selectors.wrap_up_draft(incident)


# --- The worker -------------------------------------------------------------------------------------


@dataclass
class SendReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    not_sent: int = 0


def due_ids(now, *, limit):
    """Messages due to go out (scheduled and due, or a lapsed claim), from the partial index."""
    return list(
        Message.objects.filter(status__in=[Status.SCHEDULED, Status.SENDING], next_attempt_at__lte=now)
        .order_by("next_attempt_at").values_list("pk", flat=True)[:limit]
    )


def claim(ids, now):
    """Claim the messages among `ids` that are still due, in one conditional UPDATE: a row another
    worker claimed first (SENDING with a live lease) or that was sent meanwhile no longer matches.
    Returns the claimed messages, ready to send."""
    token = uuid.uuid4()
    claimable = Q(status=Status.SCHEDULED) | Q(status=Status.SENDING)
    Message.objects.filter(claimable, pk__in=ids, next_attempt_at__lte=now).update(
        status=Status.SENDING, claim=token, attempts=F("attempts") + 1,
        next_attempt_at=now + settings.OUTREACH_SENDING_LEASE,
    )
    return list(
        Message.objects.filter(claim=token, status=Status.SENDING)
        .select_related("incident__organization", "incident__location", "incident__customer", "author")
        .order_by("next_attempt_at", "pk")
    )


def send_due(*, now=None, batch_size=None, time_budget=None):
    """Send every message due now, batch by batch, until none is due or the time budget is spent.
    Safe to run in any number of workers at once. Returns a SendReport."""
    clock_given = now is not None  # tests pass a moved clock; a worker reads the time per batch
    now = now or timezone.now()
    batch_size = batch_size or settings.OUTREACH_BATCH
    deadline = time.monotonic() + (time_budget if time_budget is not None else settings.OUTREACH_PASS_SECONDS)
    report = SendReport()
    while True:
        ids = due_ids(now, limit=batch_size)
        if not ids:
            break
        batch = claim(ids, now)
        report.claimed += len(batch)
        if batch:
            send_batch(batch, now=now if clock_given else None, report=report)
        if time.monotonic() > deadline:
            break
        if not clock_given:
            now = timezone.now()
    return report


def send_batch(batch, *, now=None, report=None):
    """Send claimed messages: the emails over one SMTP connection, the texts through the SMS backend;
    then record every outcome in a few statements, as of `now` (default: when the sends returned)."""
    report = report or SendReport()
    outcomes = []
    emails = [message for message in batch if message.channel == Message.Channel.EMAIL]
    texts = [message for message in batch if message.channel == Message.Channel.SMS]
    for message in batch:
        # Consent is checked again at the moment of sending: an unsubscribe since scheduling wins.
        reason = reason_not_sendable(message.incident.customer, message.channel)
        if reason:
            outcomes.append((message, "not_sent", reason, 0))
    blocked = {message.pk for message, *_ in outcomes}
    outcomes += sending.send_emails([m for m in emails if m.pk not in blocked])
    outcomes += sms.send_texts([m for m in texts if m.pk not in blocked])
    _record_outcomes(outcomes, now=now or timezone.now(), report=report)
    return report


@transaction.atomic
def _record_outcomes(outcomes, *, now, report):
    """outcomes: [(message, "sent" | "retry" | "failed" | "not_sent", error or provider id, ms)].

    The timeline entries are written in one INSERT (a batch is hundreds of messages), so no
    post_save announces them one by one (that costs the helpdesk's listener a query per entry, and
    halved the drain rate of bench/messages.py): their webhooks go with the webhook pump's next pass,
    within SWEEP_INTERVAL_SECONDS, as the pump reads the timeline itself."""
    attempts, events, sent = [], [], []
    at = now
    for message, outcome, detail, duration_ms in outcomes:
        if outcome == "not_sent":
            report.not_sent += 1
            Message.objects.filter(pk=message.pk, status=Status.SENDING, claim=message.claim).update(
                status=Status.NOT_SENT, status_note=detail[:300], next_attempt_at=None, claim=None, updated_at=at)
            message.status, message.status_note = Status.NOT_SENT, detail[:300]
            events.append(new_event(message.incident, EventKind.MESSAGE_NOT_SENT,
                                    f"{message.get_kind_display()} not sent: {detail}", at=at,
                                    actor_label=SENDER_LABEL, after=_event_facts(message)))
            continue
        attempts.append(MessageAttempt(message=message, at=at, succeeded=outcome == "sent",
                                       error="" if outcome == "sent" else detail[:2000], duration_ms=duration_ms))
        if outcome == "sent":
            report.sent += 1
            sent.append(message)
            message.status, message.sent_at, message.provider_id = Status.SENT, at, (detail or "")[:200]
            message.next_attempt_at, message.status_note, message.claim, message.updated_at = None, "", None, at
            events.append(new_event(
                message.incident, EventKind.MESSAGE_SENT,
                f"{message.get_kind_display()} sent by {CHANNEL_WORDS[message.channel]} to {message.to}",
                at=at, actor=message.author, after=_event_facts(message)))
        elif outcome == "retry" and message.attempts < MAX_ATTEMPTS:
            report.retried += 1
            retry_at = when_customer_may_hear(at + retry_pause(message.attempts), message.incident.organization,
                                              message.incident.location)
            Message.objects.filter(pk=message.pk, status=Status.SENDING, claim=message.claim).update(
                status=Status.SCHEDULED, next_attempt_at=retry_at, status_note=detail[:300], claim=None, updated_at=at)
        else:
            report.failed += 1
            Message.objects.filter(pk=message.pk, status=Status.SENDING, claim=message.claim).update(
                status=Status.FAILED, next_attempt_at=None, status_note=detail[:300], claim=None, updated_at=at)
            message.status, message.status_note = Status.FAILED, detail[:300]
            events.append(new_event(
                message.incident, EventKind.MESSAGE_FAILED,
                f"{message.get_kind_display()} by {CHANNEL_WORDS[message.channel]} to {message.to} failed: {detail}",
                at=at, actor_label=SENDER_LABEL, after=_event_facts(message)))
    # One statement for the whole batch's successes (the claim is ours until these rows say SENT); an
    # email's provider id is its Message-ID, made from its id, so the database writes it. Only ids a
    # provider chose (a text's, an API's) take a statement each.
    own_ids = {message.pk for message in sent if message.provider_id == sending.message_id(message)}
    domain = sending.message_id_domain()
    Message.objects.filter(pk__in=own_ids).update(
        status=Status.SENT, sent_at=at, next_attempt_at=None, status_note="", claim=None, updated_at=at,
        provider_id=Concat(Value("<recovery-message-"), Cast("id", CharField()), Value(f"@{domain}>")))
    for message in sent:
        if message.pk not in own_ids:
            Message.objects.filter(pk=message.pk).update(
                status=Status.SENT, sent_at=at, next_attempt_at=None, status_note="", claim=None, updated_at=at,
                provider_id=message.provider_id)
    MessageAttempt.objects.bulk_create(attempts)
    Event.objects.bulk_create(events)


def retry_pause(attempts):
    """30 s, 1, 2, 4 … minutes, at most an hour: a provider that is down is not hammered."""
    return min(datetime.timedelta(seconds=30) * 2 ** max(attempts - 1, 0), datetime.timedelta(hours=1))


# --- Consent from the customer ------------------------------------------------------------------------


def opt_out(customers, *, now=None):
    """The customers asked not to be messaged (an unsubscribe link, STOP): nothing more is sent to
    them, including what is already scheduled (the worker checks again before sending)."""
    now = now or timezone.now()
    return customers.filter(opted_out_at__isnull=True).update(opted_out_at=now)


def opt_out_number(number, *, now=None):
    """STOP from a phone: every customer with that number (in E.164) is opted out."""
    e164 = phones.parse_phone(number, strict=False)
    if not e164:
        return 0
    return opt_out(Customer.objects.filter(phone=e164), now=now)


@transaction.atomic
def record_bounce(provider_id, *, reason, now=None):
    """The provider could not deliver a message it took: BOUNCED, on the timeline for the owner."""
    now = now or timezone.now()
    if not provider_id:
        return None
    message = (Message.objects.select_for_update(of=("self",)).select_related("incident")
               .filter(provider_id=provider_id, status=Status.SENT).first())
    if message is None:
        return None
    message.status, message.status_note = Status.BOUNCED, reason[:300]
    message.save(update_fields=["status", "status_note", "updated_at"])
    record_event(message.incident, EventKind.MESSAGE_FAILED,
                 f"{message.get_kind_display()} by {CHANNEL_WORDS[message.channel]} to {message.to} bounced: {reason}",
                 at=now, actor_label=SENDER_LABEL, after=_event_facts(message))
    return message


def redact_messages(incidents):
    """Registered with `incidents.customer_data.also_redact`: messages to an anonymized customer keep their
    kind, channel and times for the figures, lose the address and the words, and any not yet sent never goes."""
    messages = Message.objects.filter(incident__in=incidents)
    messages.filter(status__in=[Status.DRAFT, Status.SCHEDULED]).update(
        status=Status.NOT_SENT, status_note=gettext("The customer's data was removed at their request."), next_attempt_at=None)
    messages.update(to="", subject=REDACTED, body=REDACTED)

