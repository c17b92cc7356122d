"""The step facts the services copy onto each incident for the trends stay true to the steps."""

import datetime
from decimal import Decimal

import pytest

from incidents import services
from incidents.models import Gesture
from tests import factories

pytestmark = pytest.mark.django_db

AT = datetime.datetime(2026, 3, 4, 10, tzinfo=datetime.timezone.utc)
MIN = datetime.timedelta(minutes=1)


def test_each_step_writes_its_time_from_logging(build, location, frontline):
    incident = build(at=AT, location=location, owner=frontline, apology=3, follow_up=12, fix=25, wrap_up=90,
                     outcome="retained")
    assert incident.seconds_to_apology == 180
    assert incident.seconds_to_follow_up == 720
    assert incident.seconds_to_fix == 1500
    assert incident.wrapped_up_at == AT + 90 * MIN
    assert incident.outcome == "retained"


def test_an_apology_made_before_logging_counts_as_immediate(location, frontline):
    incident = factories.log_incident(user=frontline, location=location, now=AT, occurred_at=AT - 10 * MIN)
    services.record_apology(incident, by=frontline, channel="in_person", text="So sorry", at=AT - 5 * MIN, now=AT)
    incident.refresh_from_db()
    assert incident.seconds_to_apology == 0


def test_editing_a_step_keeps_the_first_times(build, location, frontline):
    incident = build(at=AT, location=location, owner=frontline, apology=3, follow_up=12)
    services.record_apology(incident, by=frontline, channel="phone", text="Truly sorry", now=AT + 30 * MIN)
    services.record_follow_up(incident, by=frontline, kind="progress", channel="phone", note="Still on it",
                              now=AT + 40 * MIN)
    incident.refresh_from_db()
    assert incident.seconds_to_apology == 180 and incident.seconds_to_follow_up == 720


def test_an_internal_alert_is_not_a_follow_up_to_the_customer(location, frontline):
    incident = factories.log_incident(user=frontline, location=location, now=AT)
    services.record_follow_up(incident, by=frontline, kind="internal", channel="chat", note="Heads up", now=AT + MIN)
    incident.refresh_from_db()
    assert incident.seconds_to_follow_up is None


def test_gesture_totals_count_what_was_given_or_approved(build, location, frontline, manager):
    incident = build(at=AT, location=location, owner=frontline, apology=1, fix=5, gesture_cost="30")
    assert (incident.gesture_count, incident.gesture_cost) == (1, Decimal("30.00"))
    over = services.give_gesture(incident, by=frontline, kind="credit", description="Refund", cost="400", now=AT + 6 * MIN)
    refused = services.give_gesture(incident, by=frontline, kind="gift", description="Wine", cost="300", now=AT + 7 * MIN)
    foreign = services.give_gesture(incident, by=frontline, kind="gift", description="Flowers", cost="5",
                                    currency="EUR", now=AT + 8 * MIN)
    incident.refresh_from_db()
    assert (incident.gesture_count, incident.gesture_cost) == (1, Decimal("30.00"))  # pending ones wait
    services.decide_gesture(over, by=manager, approve=True, now=AT + 9 * MIN)
    services.decide_gesture(refused, by=manager, approve=False, now=AT + 9 * MIN)
    services.decide_gesture(foreign, by=manager, approve=True, now=AT + 9 * MIN)
    incident.refresh_from_db()
    assert (incident.gesture_count, incident.gesture_cost) == (2, Decimal("430.00"))
    assert Gesture.objects.filter(incident=incident, approval="approved").count() == 2
