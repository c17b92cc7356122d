"""The customer's story beside an incident: their other recoveries (the latest few, with how many in all),
the gestures they were given and what those cost, their care flag and their lifetime value, so nobody asks
the customer to tell it again.

What it reads follows the customer page's rule: anyone of the organization sees the customer, and of
their recoveries only those `selectors.visible_incidents` lets the person see. Three queries whatever the
length of the history: the totals, the latest recoveries, and the gestures of those."""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, DecimalField, Sum, Value
from django.db.models.functions import Coalesce

from .customer_data import REDACTED, is_anonymized
from .models import Gesture
from .selectors import visible_incidents

# How many recoveries the incident page and the customer page list; the rest are counted.
BESIDE_AN_INCIDENT = 5
ON_THE_CUSTOMER_PAGE = 20
GIVEN = (Gesture.Approval.NOT_NEEDED, Gesture.Approval.APPROVED)


@dataclass
class CustomerStory:
    customer: object
    count: int  # recoveries in the story (the one beside it left out)
    gestures: int
    gesture_cost: Decimal
    latest: list = field(default_factory=list)
    anonymized: bool = False

    @property
    def more(self):
        return self.count - len(self.latest)


def customer_story(user, customer, *, leave_out=None, latest=BESIDE_AN_INCIDENT):
    """The story of `customer` as `user` may see it; `leave_out` is the incident it is shown beside.
    Each of the latest recoveries carries `given` (its gestures given or approved, oldest first) and
    `shown_summary` (empty for an anonymized customer, whose recoveries keep only their figures)."""
    incidents = visible_incidents(user).filter(customer=customer)
    if leave_out is not None:
        incidents = incidents.exclude(pk=leave_out.pk)
    # The gesture totals are kept on each incident by the services (given or approved, organization currency).
    totals = incidents.aggregate(
        count=Count("id"), gestures=Coalesce(Sum("gesture_count"), Value(0)),
        gesture_cost=Coalesce(Sum("gesture_cost"), Value(Decimal(0)), output_field=DecimalField()))
    rows = list(incidents.select_related("location").only(
        "reference", "logged_at", "closed_at", "stage", "outcome", "customer_outcome", "summary", "location__name",
        "gesture_count", "gesture_cost").order_by("-logged_at", "-id")[:latest])
    anonymized = is_anonymized(customer)
    given = {}
    if rows:
        for gesture in Gesture.objects.filter(incident__in=[row.pk for row in rows], approval__in=GIVEN).only(
                "incident_id", "kind", "cost", "currency").order_by("given_at", "id"):
            given.setdefault(gesture.incident_id, []).append(gesture)
    for row in rows:
        row.given = given.get(row.pk, [])
        row.shown_summary = "" if anonymized or row.summary == REDACTED else row.summary
    return CustomerStory(customer=customer, count=totals["count"], gestures=totals["gestures"],
                         gesture_cost=totals["gesture_cost"], latest=rows, anonymized=anonymized)

