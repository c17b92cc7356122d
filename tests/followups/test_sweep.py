import datetime
from decimal import Decimal

from django.utils import timezone

from followups import services
from followups.models import Notification, Reminder, SweepFailure
from incidents import services as incident_services
from incidents.models import Event, Incident
from tests import factories
from tests.conftest import START
from tests.followups.conftest import DAY, MINUTE, SECOND


def kinds_for(user):
    return list(Notification.objects.filter(recipient=user).order_by("id").values_list("kind", flat=True))


def reminders(incident):
    return list(Reminder.objects.filter(incident=incident).order_by("id").values_list("kind", flat=True))


def walk_to_fixed(incident, user, fixed=True, gesture=None):
    incident_services.record_apology(incident, by=user, channel="in_person", text="I'm so sorry, that's not good enough.")
    incident_services.record_review(incident, by=user, customer_account="Waited 40 minutes", customer_needs="A hot meal")
    incident_services.record_fix(incident, by=user, description="New soup from the kitchen", fixed=fixed, gesture=gesture)
    incident.refresh_from_db()
    return incident


# --- The internal alert ---------------------------------------------------------------------------


def test_logging_alerts_the_locations_staff_at_the_next_sweep_but_not_the_logger(incident, frontline, colleague, manager, sweep_at):
    sweep_at(10 * SECOND)
    assert kinds_for(colleague) == ["internal_alert"]
    assert kinds_for(manager) == ["internal_alert"]
    assert kinds_for(frontline) == []
    alert = Notification.objects.get(recipient=colleague)
    assert "Ada Lovelace" in alert.title
    assert "Soup arrived cold" in alert.body


def test_the_internal_alert_goes_out_once(incident, colleague, sweep_at):
    sweep_at(10 * SECOND)
    sweep_at(25 * SECOND)
    sweep_at(16 * MINUTE)
    assert kinds_for(colleague) == ["internal_alert"]


def test_staff_of_another_location_are_not_alerted(incident, organization, other_location, sweep_at):
    elsewhere = factories.UserFactory(organization=organization, locations=[other_location])
    sweep_at(10 * SECOND)
    assert kinds_for(elsewhere) == []


# --- The twenty-minute clock -------------------------------------------------------------------------


def test_heads_up_at_minute_15_not_before(incident, frontline, sweep_at):
    sweep_at(14 * MINUTE + 59 * SECOND)
    assert kinds_for(frontline) == []
    sweep_at(15 * MINUTE)
    assert kinds_for(frontline) == ["heads_up"]
    assert "5 minutes left" in Notification.objects.get(recipient=frontline).title


def test_helpers_hear_the_heads_up_too(incident, frontline, manager, colleague, sweep_at):
    incident_services.add_helper(incident, by=manager, helper=colleague)
    sweep_at(15 * MINUTE)
    assert "heads_up" in kinds_for(colleague)


def test_at_minute_20_exactly_the_window_is_still_open(incident, frontline, manager, sweep_at):
    sweep_at(15 * MINUTE)
    report = sweep_at(20 * MINUTE)
    assert report.acted == 1 and not report.reminders
    incident.refresh_from_db()
    assert incident.breached_at is None
    # ... and the engine looks again just after the deadline instead of forgetting it.
    assert incident.next_due_at == incident.follow_up_due_at + services.TICK


def test_when_nothing_was_done_minute_20_brings_reminder_breach_and_escalation(incident, frontline, manager, admin, sweep_at):
    sweep_at(15 * MINUTE)
    sweep_at(20 * MINUTE + SECOND)
    incident.refresh_from_db()
    assert incident.breached_at == START + 20 * MINUTE + SECOND
    assert kinds_for(frontline) == ["heads_up", "window_missed"]
    assert kinds_for(manager) == ["internal_alert", "escalation"]
    assert kinds_for(admin) == []  # not yet: admins hear after a further window
    timeline = list(incident.events.values_list("kind", flat=True))
    assert timeline == ["logged", "breached", "escalated"]  # reminders stay out of the timeline
    escalation = incident.events.get(kind="escalated")
    assert escalation.after == {"level": "managers", "to": ["mona"]}
    assert escalation.actor is None and escalation.actor_label == "Follow-up engine"


def test_nothing_when_a_follow_up_was_logged_at_minute_12(incident, frontline, manager, admin, clock_at_start, sweep_at):
    sweep_at(10 * SECOND)
    incident_services.record_apology(incident, by=frontline, channel="in_person", text="I'm so sorry")
    clock_at_start.move_to(START + 12 * MINUTE)
    incident_services.record_follow_up(incident, by=frontline, kind="immediate", channel="in_person", note="Chef is on it")
    for offset in (15 * MINUTE, 20 * MINUTE + SECOND, 36 * MINUTE, 3 * 60 * MINUTE):
        sweep_at(offset)
    incident.refresh_from_db()
    assert incident.breached_at is None
    assert kinds_for(frontline) == []
    assert kinds_for(manager) == ["internal_alert"]
    assert kinds_for(admin) == []
    assert not incident.events.filter(kind__in=["breached", "escalated"]).exists()


def test_an_internal_note_does_not_stop_the_escalation(incident, frontline, manager, clock_at_start, sweep_at):
    clock_at_start.move_to(START + 5 * MINUTE)
    incident_services.record_follow_up(incident, by=frontline, kind="internal", channel="other", note="Told the kitchen")
    sweep_at(21 * MINUTE)
    assert "escalation" in kinds_for(manager)


def test_admins_hear_when_still_untouched_after_the_further_window(incident, frontline, manager, admin, sweep_at):
    sweep_at(21 * MINUTE)
    sweep_at(35 * MINUTE - SECOND)
    assert kinds_for(admin) == []
    sweep_at(35 * MINUTE)
    assert kinds_for(admin) == ["escalation"]
    assert "still untouched 15 minutes" in Notification.objects.get(recipient=admin).title
    assert [event.after["level"] for event in incident.events.filter(kind="escalated")] == ["managers", "admins"]


def test_a_response_after_the_breach_stops_the_admin_escalation(incident, frontline, manager, admin, clock_at_start, sweep_at):
    sweep_at(21 * MINUTE)
    incident_services.record_apology(incident, by=frontline, channel="phone", text="I'm sorry")
    clock_at_start.move_to(START + 25 * MINUTE)
    incident_services.record_follow_up(incident, by=frontline, kind="progress", channel="phone", note="On its way")
    sweep_at(40 * MINUTE)
    assert kinds_for(admin) == []


def test_with_no_manager_at_the_location_the_admins_hear_at_once(incident, frontline, admin, sweep_at):
    sweep_at(21 * MINUTE)
    assert kinds_for(admin) == ["escalation"]
    assert incident.events.get(kind="escalated").after["level"] == "admins"


def test_the_window_and_escalation_follow_the_organizations_settings(frontline, manager, admin, location, organization, clock_at_start, sweep_at):
    organization.follow_up_window = 30 * MINUTE
    organization.heads_up_before = 10 * MINUTE
    organization.save()
    incident = factories.log_incident(user=frontline, location=location)
    sweep_at(19 * MINUTE)
    assert kinds_for(frontline) == []
    sweep_at(20 * MINUTE)
    assert kinds_for(frontline) == ["heads_up"]
    sweep_at(30 * MINUTE + SECOND)
    assert kinds_for(frontline) == ["heads_up", "window_missed"]
    incident.refresh_from_db()
    assert incident.breached_at is not None


def test_a_sweep_that_first_runs_late_skips_the_stale_heads_up(incident, frontline, sweep_at):
    sweep_at(25 * MINUTE)
    assert kinds_for(frontline) == ["window_missed"]


# --- Repeating a sweep ----------------------------------------------------------------------------------


def test_running_the_sweep_twice_with_the_same_now_sends_nothing_the_second_time(incident, frontline, manager, admin, sweep_at):
    first = sweep_at(36 * MINUTE)
    notifications = Notification.objects.count()
    events = Event.objects.count()
    second = sweep_at(36 * MINUTE)
    assert first.notifications > 0
    assert second.notifications == 0 and second.due == 0
    assert Notification.objects.count() == notifications
    assert Event.objects.count() == events


def test_the_reminder_constraint_stops_a_repeat_even_if_the_row_is_due_again(incident, frontline, sweep_at):
    sweep_at(15 * MINUTE)
    # As if the stored next-due time had been moved back by hand: every moment is due again.
    Incident.objects.filter(pk=incident.pk).update(next_due_at=incident.logged_at)
    report = sweep_at(15 * MINUTE)
    assert report.acted == 1 and report.notifications == 0
    assert kinds_for(frontline) == ["heads_up"]


def test_a_closed_incident_gets_nothing(incident, frontline, clock_at_start, sweep_at):
    walk_to_fixed(incident, frontline)
    incident_services.record_deposition(incident, by=frontline, root_cause="r", circumstances="c", busyness="busy")
    incident_services.record_follow_up(incident, by=frontline, kind="wrap_up", channel="email", note="Thank you")
    incident_services.record_outcome(incident, by=frontline, outcome="champion")
    report = sweep_at(3 * DAY)
    assert report.due == 0
    assert reminders(incident) == []


def test_one_bad_row_is_recorded_and_does_not_stop_the_others(frontline, location, colleague, monkeypatch, clock_at_start, sweep_at):
    bad = factories.log_incident(user=frontline, location=location)
    good = factories.log_incident(user=frontline, location=location)
    real_act = services._act

    def breaks_on_bad(kind, incident, now):
        if incident.pk == bad.pk:
            raise ValueError("broken row")
        return real_act(kind, incident, now)

    monkeypatch.setattr(services, "_act", breaks_on_bad)
    report = sweep_at(10 * SECOND)
    assert report.failed == 1 and report.acted == 1
    assert reminders(good) == ["internal_alert"]
    assert reminders(bad) == []  # its transaction rolled back whole
    assert SweepFailure.objects.get().incident_id == bad.pk
    bad.refresh_from_db()
    assert bad.next_due_at == START + 10 * SECOND + services.FAILED_ROW_RETRY
    # Mended, the row is acted on when its time comes round again.
    monkeypatch.setattr(services, "_act", real_act)
    sweep_at(10 * SECOND + services.FAILED_ROW_RETRY)
    assert reminders(bad) == ["internal_alert"]


def test_a_batch_limit_leaves_the_rest_to_the_next_pass(frontline, location, clock_at_start, sweep_at):
    for _ in range(3):
        factories.log_incident(user=frontline, location=location)
    clock_at_start.move_to(START + 10 * SECOND)
    first = services.sweep(now=timezone.now(), batch_size=2)
    second = services.sweep(now=timezone.now(), batch_size=2)
    assert (first.acted, second.acted) == (2, 1)


# --- Progress reports, check-back and wrap-up -------------------------------------------------------------


def test_progress_reports_on_each_open_day(incident, frontline, sweep_at):
    sweep_at(21 * MINUTE)
    for day in (1, 2, 3):
        sweep_at(day * DAY - SECOND)
        assert kinds_for(frontline).count("progress_report") == day - 1
        sweep_at(day * DAY)
        assert kinds_for(frontline).count("progress_report") == day
    due = list(Reminder.objects.filter(kind="progress_report").values_list("due_at", flat=True))
    assert due == [START + day * DAY for day in (1, 2, 3)]


def test_a_progress_report_re_arms_the_progress_clock_for_the_next_mornings(incident, frontline, clock_at_start, sweep_at):
    incident_services.record_apology(incident, by=frontline, channel="phone", text="I'm sorry")
    sweep_at(DAY)  # Thursday 14:00: open a day, the first report is due
    assert kinds_for(frontline).count("progress_report") == 1
    clock_at_start.move_to(START + DAY + 3 * 60 * MINUTE)  # Thursday 17:00
    incident_services.record_follow_up(incident, by=frontline, kind="progress", channel="phone", note="Parts ordered")
    sweep_at(DAY + 19 * 60 * MINUTE - SECOND)  # Friday 08:59:59: nothing, Thursday had its report
    assert kinds_for(frontline).count("progress_report") == 1
    sweep_at(DAY + 19 * 60 * MINUTE)  # Friday 09:00, opening: Friday's is due, with its draft
    assert kinds_for(frontline).count("progress_report") == 2


def test_a_sweep_down_for_three_days_sends_one_progress_reminder_not_three(incident, frontline, sweep_at):
    sweep_at(21 * MINUTE)
    sweep_at(3 * DAY + MINUTE)
    assert kinds_for(frontline).count("progress_report") == 1


def test_progress_reminders_land_inside_the_locations_opening_hours_in_its_time_zone(organization, frontline, clock_at_start, sweep_at):
    new_york = factories.LocationFactory(organization=organization, timezone="America/New_York")
    frontline.locations.add(new_york)
    clock_at_start.move_to(START + 9 * 60 * MINUTE)  # 23:00 UTC is 18:00 in New York: closed
    incident = factories.log_incident(user=frontline, location=new_york)
    sweep_at(9 * 60 * MINUTE + 21 * MINUTE)
    due = Reminder.objects.filter(incident=incident, kind="progress_report")
    sweep_at(DAY + 9 * 60 * MINUTE)  # a day later it is Thursday 18:00 in New York: closed, nothing yet
    sweep_at(2 * DAY - SECOND)
    assert not due.exists()
    sweep_at(2 * DAY)  # Friday 09:00 in New York (14:00 UTC)
    assert list(due.values_list("due_at", flat=True)) == [datetime.datetime(2026, 3, 6, 14, 0, tzinfo=datetime.timezone.utc)]


def test_check_back_and_wrap_up_reminders_come_until_recorded(incident, frontline, clock_at_start, sweep_at):
    clock_at_start.move_to(START + 10 * MINUTE)
    walk_to_fixed(incident, frontline)
    sweep_at(DAY + 10 * MINUTE)
    assert kinds_for(frontline) == ["check_back"]
    sweep_at(2 * DAY + 10 * MINUTE)  # not recorded yet: the check-back again, and the wrap-up is due
    assert kinds_for(frontline) == ["check_back", "check_back", "wrap_up"]
    incident_services.record_follow_up(incident, by=frontline, kind="post_fix", channel="phone", note="All good")
    sweep_at(3 * DAY + 10 * MINUTE)
    assert kinds_for(frontline) == ["check_back", "check_back", "wrap_up", "wrap_up"]
    incident_services.record_follow_up(incident, by=frontline, kind="wrap_up", channel="letter", note="Thank you")
    sweep_at(5 * DAY + 10 * MINUTE)
    assert kinds_for(frontline) == ["check_back", "check_back", "wrap_up", "wrap_up"]
    incident.refresh_from_db()
    assert incident.next_due_at is None


def test_the_wrap_up_reminder_carries_an_honest_draft(incident, frontline, manager, clock_at_start, sweep_at):
    walk_to_fixed(incident, frontline, gesture={"kind": "gift", "description": "a bottle of our house wine", "cost": "12"})
    incident_services.give_gesture(incident, by=frontline, kind="credit", description="a full refund", cost=Decimal("200"))
    sweep_at(2 * DAY)
    draft = Notification.objects.get(recipient=frontline, kind="wrap_up").draft
    assert draft.startswith("Dear Ada Lovelace,")
    assert "Soup arrived cold" in draft
    assert "New soup from the kitchen" in draft
    assert "a bottle of our house wine" in draft
    assert "a full refund" not in draft  # still waiting for a manager: never promise it
    assert draft.rstrip().endswith("Riverside")


def test_an_incident_owned_by_a_helpdesk_integration_reminds_the_locations_managers(organization, location, manager, sweep_at):
    from helpdesk import services as api_services

    client, _ = api_services.create_api_client(organization=organization, name="Helpdesk")
    factories.log_incident(user=client.user, location=location, now=timezone.now())  # the ticket named no agent
    sweep_at(15 * MINUTE)
    assert "heads_up" in kinds_for(manager)
    assert not Notification.objects.filter(recipient=client.user).exists()
