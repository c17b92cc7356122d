"""Hand-made recoveries with known timings, built through the services as every door builds them."""

import datetime
from decimal import Decimal

import pytest

from incidents import services
from tests import factories


def minutes(n):
    return datetime.timedelta(minutes=n)


def make_incident(*, at, location, owner, apology=None, follow_up=None, fix=None, wrap_up=None, outcome=None,
                  customer=None, gesture_cost=None, **fields):
    """Log an incident at `at` and record the steps given as minutes after logging.

    apology / follow_up / fix / wrap_up: minutes after logging (None: not done). outcome needs fix and wrap_up.
    """
    customer = customer or factories.CustomerFactory(organization=location.organization)
    incident = factories.log_incident(user=owner, location=location, customer=customer, now=at, **fields)
    if apology is None:
        return incident
    services.record_apology(incident, by=owner, channel="in_person", text="I'm so sorry.", now=at + minutes(apology))
    services.record_review(incident, by=owner, customer_account="Cold soup", customer_needs="Hot soup",
                           now=at + minutes(apology))
    if follow_up is not None:
        services.record_follow_up(incident, by=owner, kind="immediate", channel="in_person", note="On it",
                                  now=at + minutes(follow_up))
    if fix is not None:
        gesture = None
        if gesture_cost is not None:
            gesture = {"kind": "gift", "description": "Dessert", "cost": Decimal(gesture_cost)}
        services.record_fix(incident, by=owner, description="New soup", fixed=True, gesture=gesture,
                            now=at + minutes(fix))
    if wrap_up is not None:
        services.record_deposition(incident, by=owner, root_cause="Kitchen", circumstances="Busy",
                                   busyness=incident.busyness or "busy", now=at + minutes(wrap_up))
        services.record_follow_up(incident, by=owner, kind="wrap_up", channel="email", note="Thank you",
                                  now=at + minutes(wrap_up))
    if outcome is not None:
        services.record_outcome(incident, by=owner, outcome=outcome, now=at + minutes(wrap_up + 1))
    incident.refresh_from_db()
    return incident


@pytest.fixture
def build():
    return make_incident
