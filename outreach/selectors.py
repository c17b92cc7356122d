"""Reads of messages to customers that pages show."""

from django.db.models import Exists, OuterRef

from incidents.models import FollowUp

from .models import Message

UNDELIVERED = [Message.Status.FAILED, Message.Status.BOUNCED, Message.Status.NOT_SENT]


def messages_of(incident):
    """The incident's messages to its customer, newest first, each with its attempts counted."""
    return incident.messages.select_related("author").order_by("-created_at", "-id")


def undelivered_for(user, *, limit=10):
    """Messages of the user's open recoveries that did not reach the customer (failed, bounced, not
    sent), until a follow-up is recorded after the failure (a call, a note by hand, a new message)."""
    handled_since = FollowUp.objects.filter(incident=OuterRef("incident"), done_at__gt=OuterRef("updated_at"))
    return (
        Message.objects.filter(status__in=UNDELIVERED, incident__owner=user, incident__closed_at__isnull=True)
        .exclude(Exists(handled_since))
        .select_related("incident__customer")
        .order_by("-updated_at")[:limit]
    )
