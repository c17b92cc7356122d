"""Reads worth naming: what is due, each incident's running clocks, and a person's inbox."""

from dataclasses import dataclass
import datetime

from django.db.models import Max
from django.template.loader import render_to_string
from django.utils.html import strip_tags
from django.utils.translation import gettext

from incidents import services as incident_services
from incidents.models import Gesture, Incident
from incidents.validators import shown_moment
from recovery import languages

from .models import Delivery, Notification, Reminder


def due_incident_ids(now, *, limit):
    """Open incidents with something due by `now`, most overdue first.

    One query on the partial index `incident_open_next_due` (closed_at IS NULL AND next_due_at IS
    NOT NULL): its cost follows the number of due rows, not the number of open incidents.
    """
    return list(
        Incident.objects.filter(closed_at__isnull=True, next_due_at__isnull=False, next_due_at__lte=now)
        .order_by("next_due_at")
        .values_list("id", flat=True)[:limit]
    )


def due_delivery_ids(now, *, limit):
    """Deliveries no task has finished by their time: never queued (the broker was down), waiting
    for their next attempt, or claimed by a worker that died. Served by `delivery_unfinished`."""
    return list(
        Delivery.objects.filter(
            state__in=[Delivery.State.PENDING, Delivery.State.SENDING], next_attempt_at__lte=now
        )
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )


def inbox(user, *, unread_only=False):
    notifications = Notification.objects.filter(recipient=user).select_related("incident", "incident__customer")
    if unread_only:
        notifications = notifications.filter(read_at__isnull=True)
    return notifications.order_by("-created_at", "-id")


def unread_count(user):
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


@dataclass(frozen=True)
class RunningClock:
    """One clock of an incident as pages and the API show it."""

    kind: str
    label: str
    due_at: datetime.datetime
    done_at: datetime.datetime | None
    state: str
    seconds_left: int | None
    last_reminded_at: datetime.datetime | None


def running_clocks(incident, now):
    """Every clock of the incident (met, missed or pending, not only the nearest), each with the
    last time the engine reminded someone about it."""
    reminded = dict(
        Reminder.objects.filter(incident=incident).values_list("kind").annotate(last=Max("sent_at"))
    )
    return [
        RunningClock(
            kind=item.kind,
            label=item.label,
            due_at=item.due_at,
            done_at=item.done_at,
            state=item.state(now),
            seconds_left=item.seconds_left(now),
            last_reminded_at=reminded.get(item.kind),
        )
        for item in incident_services.clocks_of(incident)
    ]


def escalations_of(incident):
    """Who was told about a missed window, for the incident page."""
    return (
        Notification.objects.filter(incident=incident, kind=Notification.Kind.ESCALATION)
        .select_related("recipient")
        .order_by("created_at", "id")
    )


def as_sentence(text):
    """Typed text closing a sentence of the letter: tags dropped, a full stop added when it has none."""
    text = strip_tags(text or "").strip()
    return text if not text or text[-1] in ".!?…" else text + "."


def as_phrase(text):
    """A gesture's description inside a sentence ("I hope dessert on the house…"): its first capital
    goes, unless the word is all capitals (VIP) or a name is likely (a capital inside the word)."""
    text = strip_tags(text or "").strip()
    word = text.split(" ", 1)[0]
    if len(word) > 1 and word[0].isupper() and word[1:].islower():
        return text[0].lower() + text[1:]
    return text


def in_a_sentence(descriptions):
    """"a dessert", "a dessert and a note", "a dessert, a note and a voucher"."""
    phrases = [as_phrase(text) for text in descriptions if (text or "").strip()]
    if len(phrases) < 2:
        return "".join(phrases)
    return gettext("%(first)s and %(last)s") % {"first": ", ".join(phrases[:-1]), "last": phrases[-1]}


def wrap_up_draft(incident):
    """A wrap-up note for the owner to personalize: it names the customer, what happened, what was
    done and the gesture actually given (never one still waiting for approval or refused)."""
    fix = getattr(incident, "fix", None)  # no fix recorded: RelatedObjectDoesNotExist is an AttributeError
    gestures = incident.gestures.filter(
        approval__in=[Gesture.Approval.NOT_NEEDED, Gesture.Approval.APPROVED]
    ).order_by("given_at")
    local_zone = incident.location.zone
    occurred_at = shown_moment(incident.occurred_at)  # a row stored out of range (year 1) still drafts
    with languages.speaking_to_customer(incident.customer):  # the owner edits it, the customer reads it
        return _wrap_up_text(incident, fix, gestures, occurred_at.astimezone(local_zone) if occurred_at else None)


def _wrap_up_text(incident, fix, gestures, occurred_on):
    return render_to_string(
        "followups/wrap_up_draft.txt",
        {
            "incident": incident,
            "customer": incident.customer,
            "occurred_on": occurred_on,
            "fix": fix,
            "gestures": [gesture.description for gesture in gestures],
            "gesture_words": in_a_sentence([gesture.description for gesture in gestures]),
            "summary": as_sentence(incident.summary),
            "fix_text": as_sentence(fix.description) if fix else "",
            "owner": incident.owner,
        },
    ).strip()
