import datetime
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from incidents import clock, services
from incidents.models import Event, Fix, FollowUp, Gesture, Incident, Stage
from incidents.services import Conflict, NotAllowed, RecoveryError, StepOutOfOrder
from tests import factories

MINUTE = datetime.timedelta(minutes=1)


def walk_to_fixed(incident, user, fixed=True):
    services.record_apology(incident, by=user, channel="in_person", text="I'm so sorry, that's not good enough.")
    services.record_review(incident, by=user, customer_account="Waited 40 minutes", customer_needs="A hot meal")
    services.record_fix(incident, by=user, description="New soup from the kitchen", fixed=fixed)
    incident.refresh_from_db()
    return incident


# --- Logging ---------------------------------------------------------------------------------


def test_logging_makes_the_logger_owner_and_starts_the_twenty_minute_clock(incident, frontline):
    assert incident.owner == frontline
    assert incident.reference == f"R-{incident.pk:06d}"
    assert incident.stage == Stage.APOLOGY
    assert incident.follow_up_due_at == incident.logged_at + datetime.timedelta(minutes=20)
    # The first thing the engine acts on is the internal alert to the location's staff, at once;
    # after it, the heads-up five minutes before the window ends.
    assert incident.next_due_at == incident.logged_at
    after_alert = incident.logged_at + datetime.timedelta(microseconds=1)
    policy = services.policy_for(incident.organization, incident.location)
    assert clock.next_due_at(services.facts_for(incident), policy, after_alert) == incident.logged_at + datetime.timedelta(minutes=15)


def test_the_window_is_an_organization_setting(frontline, location, organization, clock_at_start):
    organization.follow_up_window = datetime.timedelta(minutes=30)
    organization.save()
    incident = factories.log_incident(user=frontline, location=location)
    assert incident.follow_up_due_at - incident.logged_at == datetime.timedelta(minutes=30)


def test_logging_flags_the_customers_file(incident, customer):
    customer.refresh_from_db()
    assert customer.care_flag
    # Flagged in the same write that saved the new customer: what happened, and when.
    assert customer.care_note == "Soup arrived cold"
    assert customer.care_flagged_at == incident.logged_at


def test_a_new_customer_created_elsewhere_a_moment_ago_is_the_one_flagged(organization, location, frontline):
    # Read before the other request saved its customer with the same external id ...
    offered = services.customer_from_details(organization, name="Grace Hopper", external_id="C-7")
    theirs = factories.CustomerFactory(organization=organization, name="Grace B. Hopper", external_id="C-7")

    with transaction.atomic():
        incident = factories.log_incident(user=frontline, location=location, customer=offered)

    # ... so the incident and the flag go to theirs, and no second customer appears.
    assert incident.customer_id == theirs.pk and offered.pk == theirs.pk
    theirs.refresh_from_db()
    assert theirs.care_flag and theirs.name == "Grace B. Hopper"
    assert organization.customers.filter(external_id="C-7").count() == 1


def test_logging_writes_the_first_timeline_event(incident, frontline):
    event = incident.events.get()
    assert event.kind == "logged"
    assert event.actor == frontline


def test_a_failure_in_the_future_is_refused_and_nothing_is_saved(frontline, location, clock_at_start):
    with pytest.raises(RecoveryError) as error:
        factories.log_incident(user=frontline, location=location, occurred_at=timezone.now() + datetime.timedelta(hours=1))
    assert "occurred_at" in error.value.field_errors
    assert not Incident.objects.exists()


def test_an_unknown_channel_is_refused_with_a_field_error(frontline, location):
    with pytest.raises(RecoveryError) as error:
        factories.log_incident(user=frontline, location=location, channel="carrier-pigeon")
    assert "channel" in error.value.field_errors
    assert not Incident.objects.exists()


def test_a_location_of_another_organization_is_refused(frontline):
    elsewhere = factories.LocationFactory()
    with pytest.raises(NotAllowed):
        factories.log_incident(user=frontline, location=elsewhere, customer=factories.CustomerFactory(organization=elsewhere.organization))
    assert not Incident.objects.exists()


def test_a_second_incident_for_the_same_ticket_is_a_conflict(frontline, location):
    factories.log_incident(user=frontline, location=location, external_id="T-1")
    # The clash is found by the unique constraint, which ends the transaction it happens in: a caller
    # that wants to carry on wraps the call in a savepoint of its own.
    with pytest.raises(Conflict), transaction.atomic():
        factories.log_incident(user=frontline, location=location, external_id="T-1")
    assert Incident.objects.count() == 1


def test_a_new_category_label_is_accepted_and_reused_case_insensitively(frontline, location):
    first = factories.log_incident(user=frontline, location=location, category="Room service")
    second = factories.log_incident(user=frontline, location=location, category="room service")
    assert first.category == second.category


# --- Steps in order ----------------------------------------------------------------------------


def test_no_review_before_an_apology(incident, frontline):
    with pytest.raises(StepOutOfOrder, match="Apologize first"):
        services.record_review(incident, by=frontline, customer_account="x", customer_needs="y")
    assert not Event.objects.filter(kind="review").exists()


def test_no_fix_before_the_review(incident, frontline):
    services.record_apology(incident, by=frontline, channel="phone", text="I'm sorry")
    with pytest.raises(StepOutOfOrder, match="Review the complaint"):
        services.record_fix(incident, by=frontline, description="x", fixed=True)


def test_no_outcome_before_a_fix(incident, frontline):
    services.record_apology(incident, by=frontline, channel="phone", text="I'm sorry")
    services.record_review(incident, by=frontline, customer_account="a", customer_needs="b")
    with pytest.raises(StepOutOfOrder, match="Fix the problem"):
        services.record_outcome(incident, by=frontline, outcome="champion")


def test_closing_needs_the_deposition_and_a_wrap_up(incident, frontline):
    walk_to_fixed(incident, frontline)
    with pytest.raises(StepOutOfOrder, match="deposition"):
        services.record_outcome(incident, by=frontline, outcome="champion")
    services.record_deposition(incident, by=frontline, root_cause="Hot plate broken", circumstances="Anniversary dinner", busyness="peak")
    with pytest.raises(StepOutOfOrder, match="wrap-up"):
        services.record_outcome(incident, by=frontline, outcome="champion")
    services.record_follow_up(incident, by=frontline, kind="wrap_up", channel="letter", note="Thank you")
    services.record_outcome(incident, by=frontline, outcome="champion", satisfaction=5)
    incident.refresh_from_db()
    assert incident.stage == Stage.CLOSED
    assert incident.closed_at is not None
    assert incident.next_due_at is None


def test_the_stage_follows_the_method(incident, frontline):
    stages = [Incident.objects.get(pk=incident.pk).stage]
    services.record_apology(incident, by=frontline, channel="phone", text="I'm sorry")
    stages.append(Incident.objects.get(pk=incident.pk).stage)
    services.record_review(incident, by=frontline, customer_account="a", customer_needs="b")
    stages.append(Incident.objects.get(pk=incident.pk).stage)
    services.record_fix(incident, by=frontline, description="done", fixed=True)
    stages.append(Incident.objects.get(pk=incident.pk).stage)
    services.record_deposition(incident, by=frontline, root_cause="r", circumstances="c", busyness="busy")
    stages.append(Incident.objects.get(pk=incident.pk).stage)
    services.record_follow_up(incident, by=frontline, kind="wrap_up", channel="email", note="Thanks")
    stages.append(Incident.objects.get(pk=incident.pk).stage)
    assert stages == ["apology", "review", "fix", "document", "wrap_up", "outcome"]


def test_a_closed_incident_takes_no_more_steps(incident, frontline):
    walk_to_fixed(incident, frontline)
    services.record_deposition(incident, by=frontline, root_cause="r", circumstances="c", busyness="busy")
    services.record_follow_up(incident, by=frontline, kind="wrap_up", channel="email", note="Thanks")
    services.record_outcome(incident, by=frontline, outcome="retained")
    with pytest.raises(Conflict, match="closed"):
        services.record_follow_up(incident, by=frontline, kind="internal", channel="other", note="late")


def test_staff_of_another_organization_cannot_record_a_step(incident):
    stranger = factories.UserFactory()
    with pytest.raises(NotAllowed):
        services.record_apology(incident, by=stranger, channel="phone", text="sorry")


def test_an_unfixed_fix_cannot_undo_a_fixed_one(incident, frontline):
    walk_to_fixed(incident, frontline)
    with pytest.raises(RecoveryError, match="already fixed"):
        services.record_fix(incident, by=frontline, description="actually not", fixed=False)


# --- The apology coach ---------------------------------------------------------------------------


def test_the_coach_flags_policy_language_but_never_blocks_the_apology(incident, frontline):
    apology = services.record_apology(incident, by=frontline, channel="in_person", text="Sorry, but it\u2019s our policy.")
    assert [flag["phrase"] for flag in apology.coach_flags] == ["it's our policy"]
    assert apology.coach_flags[0]["suggestion"]
    assert "coach flagged" in incident.events.get(kind="apology").summary


def test_the_coach_uses_the_organizations_own_phrase_list(incident, frontline, organization):
    organization.coach_phrases.filter(phrase="it's our policy").update(active=False)
    organization.coach_phrases.create(phrase="rules are rules", kind="policy", suggestion="Let me help.")
    apology = services.record_apology(incident, by=frontline, channel="in_person", text="It's our policy; rules are rules.")
    assert [flag["phrase"] for flag in apology.coach_flags] == ["rules are rules"]


def test_an_apology_before_the_failure_is_refused(incident, frontline):
    with pytest.raises(RecoveryError) as error:
        services.record_apology(incident, by=frontline, channel="phone", text="sorry", at=incident.occurred_at - MINUTE)
    assert "at" in error.value.field_errors


# --- The twenty-minute clock ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "minutes_after_logging, state",
    [(19 + 59 / 60, "met"), (20, "met"), (20 + 1 / 60, "missed"), (21, "missed")],
)
def test_a_customer_follow_up_meets_the_clock_only_inside_the_window(incident, frontline, clock_at_start, minutes_after_logging, state):
    services.record_apology(incident, by=frontline, channel="in_person", text="I'm so sorry")
    clock_at_start.shift(datetime.timedelta(minutes=minutes_after_logging))
    services.record_follow_up(incident, by=frontline, kind="progress", channel="phone", note="Chef is on it")
    twenty = services.clocks_of(Incident.objects.get(pk=incident.pk))[0]
    assert twenty.kind == "twenty_minute"
    assert twenty.state(timezone.now()) == state


def test_a_follow_up_at_minute_12_meets_the_clock(incident, frontline, clock_at_start):
    services.record_apology(incident, by=frontline, channel="in_person", text="I'm so sorry")
    clock_at_start.shift(12 * MINUTE)
    services.record_follow_up(incident, by=frontline, kind="immediate", channel="in_person", note="Checked back")
    incident.refresh_from_db()
    assert incident.responded_at == incident.logged_at + 12 * MINUTE
    clock_at_start.shift(30 * MINUTE)
    assert services.clocks_of(incident)[0].state(timezone.now()) == "met"


def test_an_internal_note_does_not_meet_the_clock(incident, frontline, clock_at_start):
    clock_at_start.shift(5 * MINUTE)
    services.record_follow_up(incident, by=frontline, kind="internal", channel="other", note="Told the kitchen")
    incident.refresh_from_db()
    assert incident.responded_at is None
    clock_at_start.shift(16 * MINUTE)
    assert services.clocks_of(incident)[0].state(timezone.now()) == "late"


def test_a_fix_inside_the_window_meets_the_clock(incident, frontline, clock_at_start):
    clock_at_start.shift(10 * MINUTE)
    incident = walk_to_fixed(incident, frontline)
    assert incident.responded_at == incident.fixed_at
    assert services.clocks_of(incident)[0].state(timezone.now()) == "met"


def test_the_clock_is_running_at_19_59_and_late_at_20_01_with_nothing_recorded(incident, clock_at_start):
    clock_at_start.shift(19 * MINUTE + datetime.timedelta(seconds=59))
    assert services.clocks_of(incident)[0].state(timezone.now()) == "running"
    clock_at_start.shift(datetime.timedelta(seconds=1))
    assert services.clocks_of(incident)[0].state(timezone.now()) == "running"
    clock_at_start.shift(datetime.timedelta(minutes=1))
    assert services.clocks_of(incident)[0].state(timezone.now()) == "late"


def test_a_fix_moves_the_next_due_time_to_the_check_back(incident, frontline, clock_at_start):
    clock_at_start.shift(10 * MINUTE)
    incident = walk_to_fixed(incident, frontline)
    # Fixed on Wednesday 14:10; check back the next day, inside opening hours. (The internal
    # alert at logging stays first until a sweep sends it.)
    assert incident.next_due_at == incident.logged_at
    policy = services.policy_for(incident.organization, incident.location)
    after_alert = incident.logged_at + datetime.timedelta(microseconds=1)
    assert clock.next_due_at(services.facts_for(incident), policy, after_alert) == incident.fixed_at + datetime.timedelta(days=1)
    kinds = [clock.kind for clock in services.clocks_of(incident)]
    assert kinds == ["twenty_minute", "check_back", "wrap_up"]


def test_mark_breached_notes_a_missed_window_once(incident, clock_at_start):
    clock_at_start.shift(20 * MINUTE)
    assert services.mark_breached(incident, now=timezone.now()) is False  # exactly at the deadline: still in time
    clock_at_start.shift(MINUTE)
    assert services.mark_breached(incident, now=timezone.now()) is True
    assert services.mark_breached(incident, now=timezone.now()) is False
    assert incident.events.filter(kind="breached").count() == 1


# --- Gestures and the discretion budget ------------------------------------------------------------


def test_a_gesture_within_budget_needs_no_approval(incident, frontline):
    walk_to_fixed(incident, frontline, fixed=False)
    gesture = services.give_gesture(incident, by=frontline, kind="gift", description="Dessert", cost=Decimal("8.50"))
    assert gesture.approval == Gesture.Approval.NOT_NEEDED
    assert gesture.currency == "USD"


def test_a_gesture_over_budget_waits_for_a_manager_without_blocking_the_recovery(incident, frontline, manager):
    walk_to_fixed(incident, frontline, fixed=False)
    services.give_gesture(incident, by=frontline, kind="credit", description="Half the bill", cost=Decimal("40"))
    gesture = services.give_gesture(incident, by=frontline, kind="gift", description="Wine", cost=Decimal("20"))
    assert gesture.approval == Gesture.Approval.PENDING  # 40 + 20 is over the default budget of 50
    # The recovery goes on while the manager decides.
    services.record_fix(incident, by=frontline, description="Fresh soup", fixed=True)
    services.decide_gesture(gesture, by=manager, approve=True)
    gesture.refresh_from_db()
    assert gesture.approval == Gesture.Approval.APPROVED
    assert gesture.decided_by == manager


def test_the_budget_is_per_customer(organization, location, frontline, clock_at_start):
    first = walk_to_fixed(factories.log_incident(user=frontline, location=location), frontline, fixed=False)
    second = walk_to_fixed(factories.log_incident(user=frontline, location=location), frontline, fixed=False)
    services.give_gesture(first, by=frontline, kind="credit", description="Refund", cost=Decimal("50"))
    gesture = services.give_gesture(second, by=frontline, kind="credit", description="Refund", cost=Decimal("50"))
    assert gesture.approval == Gesture.Approval.NOT_NEEDED


def test_a_negative_gesture_cost_is_refused(incident, frontline):
    walk_to_fixed(incident, frontline, fixed=False)
    with pytest.raises(RecoveryError) as error:
        services.give_gesture(incident, by=frontline, kind="gift", description="x", cost=Decimal("-1"))
    assert "cost" in error.value.field_errors
    assert not Gesture.objects.exists()


def test_a_fix_with_a_bad_gesture_saves_neither(incident, frontline):
    services.record_apology(incident, by=frontline, channel="phone", text="sorry")
    services.record_review(incident, by=frontline, customer_account="a", customer_needs="b")
    with pytest.raises(RecoveryError):
        services.record_fix(incident, by=frontline, description="done", fixed=True,
                            gesture={"kind": "gift", "description": "x", "cost": "-5"})
    incident.refresh_from_db()
    assert incident.fixed_at is None
    assert not Fix.objects.exists()


def test_frontline_staff_cannot_approve_gestures(incident, frontline):
    walk_to_fixed(incident, frontline, fixed=False)
    gesture = services.give_gesture(incident, by=frontline, kind="gift", description="Spa day", cost=Decimal("300"))
    with pytest.raises(NotAllowed):
        services.decide_gesture(gesture, by=frontline, approve=True)


# --- Timeline ----------------------------------------------------------------------------------------


def test_an_updated_step_records_before_and_after(incident, frontline):
    services.record_apology(incident, by=frontline, channel="phone", text="sorry")
    services.record_review(incident, by=frontline, customer_account="Cold soup", customer_needs="Hot soup")
    services.record_review(incident, by=frontline, customer_account="Cold soup", customer_needs="A refund")
    event = incident.events.filter(kind="review").last()
    assert event.before == {"customer_needs": "Hot soup"}
    assert event.after == {"customer_needs": "A refund"}


def test_timeline_events_cannot_be_edited_or_deleted(incident):
    event = incident.events.first()
    event.summary = "rewritten"
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()


def test_reassigning_and_swarming_are_on_the_timeline(incident, manager, frontline, location):
    helper = factories.UserFactory(organization=incident.organization, locations=[location])
    services.reassign(incident, by=manager, owner=manager)
    services.add_helper(incident, by=manager, helper=helper)
    incident.refresh_from_db()
    assert incident.owner == manager
    assert list(incident.helpers.all()) == [helper]
    assert [e.kind for e in incident.events.all()][-2:] == ["reassigned", "helper_added"]


def test_follow_ups_after_the_fix_need_the_fix(incident, frontline):
    services.record_apology(incident, by=frontline, channel="phone", text="sorry")
    with pytest.raises(StepOutOfOrder, match="fix"):
        services.record_follow_up(incident, by=frontline, kind=FollowUp.Kind.WRAP_UP, channel="email", note="Thanks")


def test_the_database_refuses_to_change_or_delete_timeline_events(incident):
    from django.db import DatabaseError, connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("the append-only trigger is PostgreSQL's; SQLite relies on the model guard")
    events = Event.objects.filter(incident=incident)
    # Both go around the model's own guard, straight to SQL.
    for bypass in (lambda: events.update(summary="rewritten"), lambda: events._raw_delete(connection.alias)):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            bypass()
    assert incident.events.get().summary == "Logged"


def test_two_people_editing_the_same_review_do_not_overwrite_each_other(incident, frontline, manager):
    services.record_apology(incident, by=frontline, channel="phone", text="I'm sorry")
    first = services.record_review(incident, by=frontline, customer_account="Cold soup", customer_needs="Hot soup",
                                   expected_version=0)
    assert first.version == 1
    # Both open the review at version 1; the manager saves first.
    services.record_review(incident, by=manager, customer_account="Cold soup", customer_needs="A refund",
                           expected_version=1)
    with pytest.raises(services.StepChanged) as error:
        services.record_review(incident, by=frontline, customer_account="Cold soup", customer_needs="Free dessert",
                               expected_version=1)
    assert error.value.current["customer_needs"] == "A refund"
    assert error.value.version == 2
    assert Incident.objects.get(pk=incident.pk).review.customer_needs == "A refund"


def test_two_people_recording_the_first_apology_at_once_get_a_conflict(incident, frontline, manager):
    services.record_apology(incident, by=manager, channel="in_person", text="So sorry", expected_version=0)
    with pytest.raises(services.StepChanged):
        services.record_apology(incident, by=frontline, channel="phone", text="Sorry!", expected_version=0)
    assert Incident.objects.get(pk=incident.pk).apology.text == "So sorry"


def test_a_failure_is_logged_with_when_it_happened_within_thirty_days_and_not_in_the_future(frontline, location):
    now = timezone.now()
    earlier = factories.log_incident(user=frontline, location=location, now=now,
                                     occurred_at=now - datetime.timedelta(hours=5))
    assert earlier.occurred_at == now - datetime.timedelta(hours=5) and earlier.logged_at == now
    assert factories.log_incident(user=frontline, location=location, now=now,
                                  occurred_at=now - datetime.timedelta(days=30)).occurred_at == now - datetime.timedelta(days=30)
    with pytest.raises(services.RecoveryError) as error:
        factories.log_incident(user=frontline, location=location, now=now,
                               occurred_at=now - datetime.timedelta(days=30, seconds=1))
    assert error.value.field_errors == {"occurred_at": ["Not more than 30 days ago."]}
    with pytest.raises(services.RecoveryError) as error:
        factories.log_incident(user=frontline, location=location, now=now, occurred_at=now + datetime.timedelta(minutes=3))
    assert list(error.value.field_errors) == ["occurred_at"]
