"""A customer's data rights: export everything held about one customer, and anonymize them on request.

Anonymizing keeps every figure managers learn from (times, places, categories, outcomes, costs) and
removes what identifies the person: contact details and the free text staff wrote about them.
"""

from django.core.exceptions import ObjectDoesNotExist
from django.db import connection, transaction
from django.utils import timezone

from .models import Apology, Customer, Deposition, Event, Fix, FollowUp, Gesture, Review
from .services.search import refresh_search

REDACTED = "[removed at the customer's request]"
ANONYMIZED_NAME = "Anonymized customer {pk}"


def is_anonymized(customer):
    """Was this customer anonymized on request? Their pages then show nothing that was about them."""
    return customer.name == ANONYMIZED_NAME.format(pk=customer.pk)

# Other apps keep copies of an incident's words (notifications, say). `incidents` never imports
# them; each registers here, from its AppConfig.ready, a function that scrubs those incidents.
_redactors = []


def also_redact(redact):
    """Register `redact(incidents)`, called inside the anonymizing transaction."""
    _redactors.append(redact)
    return redact


# Other apps hold more about an incident (its photos and files, say): each registers, from its
# AppConfig.ready, `export(incidents)` -> (key, {incident id: JSON-ready list}), and every exported
# incident gets that key (an empty list where the app holds nothing for it).
_exporters = []


def also_export(export):
    """Register `export(incidents)`, called for each customer exported."""
    _exporters.append(export)
    return export


def export_customer(customer):
    """Everything held about one customer, as plain JSON-ready data."""
    incidents = list(customer.incidents.select_related("location", "category", "owner").prefetch_related(
        "follow_ups", "gestures", "events"
    ))
    exported = [_export_incident(incident) for incident in incidents]
    for export in _exporters:
        key, held = export(incidents)
        for incident, row in zip(incidents, exported):
            row[key] = held.get(incident.pk, [])
    return {
        "customer": {
            "id": customer.pk,
            "name": customer.name,
            "email": customer.email,
            "phone": str(customer.phone or ""),  # E.164 (a PhoneNumber in Python)
            "external_id": customer.external_id,
            "lifetime_value": _text(customer.lifetime_value),
            "care_flag": customer.care_flag,
            "care_note": customer.care_note,
            "care_flagged_at": _text(customer.care_flagged_at),
            "created_at": _text(customer.created_at),
        },
        "incidents": exported,
        "exported_at": timezone.now().isoformat(),
    }


def _export_incident(incident):
    steps = {}
    for step, fields in {
        "apology": ["apologized_at", "channel", "text", "customer_accepted", "coach_flags"],
        "review": ["reviewed_at", "customer_account", "customer_losses", "customer_needs"],
        "fix": ["recorded_at", "description", "fixed", "fixed_at"],
        "deposition": ["recorded_at", "product", "busyness", "circumstances", "root_cause", "prevention"],
        "resolution": ["recorded_at", "outcome", "satisfaction"],
    }.items():
        record = _step_record(incident, step)
        steps[step] = {field: _text(getattr(record, field)) for field in fields} if record else None
    return {
        "reference": incident.reference,
        "location": incident.location.name,
        "category": incident.category.name if incident.category else "",
        "channel": incident.channel,
        "summary": incident.summary,
        "occurred_at": _text(incident.occurred_at),
        "logged_at": _text(incident.logged_at),
        "closed_at": _text(incident.closed_at),
        **steps,
        "gestures": [
            {"kind": g.kind, "description": g.description, "cost": _text(g.cost), "currency": g.currency,
             "approval": g.approval} for g in incident.gestures.all()
        ],
        "follow_ups": [
            {"kind": f.kind, "channel": f.channel, "note": f.note, "done_at": _text(f.done_at)}
            for f in incident.follow_ups.all()
        ],
        "timeline": [{"at": _text(e.at), "kind": e.kind, "summary": e.summary} for e in incident.events.all()],
    }


@transaction.atomic
def anonymize_customer(customer, *, by=None):
    """Remove what identifies the customer; keep the statistics. Safe to run twice."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    Customer.objects.filter(pk=customer.pk).update(
        name=ANONYMIZED_NAME.format(pk=customer.pk), email="", phone="", external_id="", care_flag=False,
        care_note="", care_flagged_at=None, care_flag_expires_at=None,
    )
    incidents = customer.incidents.all()
    incidents.update(summary=REDACTED)
    Apology.objects.filter(incident__in=incidents).update(text=REDACTED, coach_flags=[])
    Review.objects.filter(incident__in=incidents).update(customer_account=REDACTED, customer_losses="", customer_needs=REDACTED)
    Fix.objects.filter(incident__in=incidents).update(description=REDACTED)
    FollowUp.objects.filter(incident__in=incidents).update(note=REDACTED)
    Deposition.objects.filter(incident__in=incidents).update(circumstances=REDACTED)
    Gesture.objects.filter(incident__in=incidents).update(description=REDACTED)
    for redact in _redactors:
        redact(incidents)
    # The timeline is append-only; this is its one sanctioned exception (see migration 0002).
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL recovery.redacting = 'on'")
    Event.objects.filter(incident__in=incidents).update(summary=REDACTED, before={}, after={})
    # Nothing erased may still be found by a search.
    refresh_search(*incidents.values_list("pk", flat=True))
    return Customer.objects.get(pk=customer.pk)


def _step_record(incident, step):
    try:
        return getattr(incident, step)
    except ObjectDoesNotExist:  # the step was not recorded
        return None


def _text(value):
    if value is None or isinstance(value, (bool, int, str, list, dict)):
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
