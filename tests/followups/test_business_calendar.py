"""The follow-up engine on a location's business calendar, with the clock moved: reminders for people wait
for an opening (spans past midnight, closed days, public holidays, daylight saving), emails to people off
duty wait for their next opening, and the twenty-minute clock waits for nothing."""

import datetime

import pytest
from django.conf import settings
from django.utils import timezone

from followups import services
from followups.models import Delivery, Notification, Reminder
from incidents.models import Location, WeeklySpan
from tests import factories

UTC = datetime.timezone.utc
DAY = datetime.timedelta(days=1)
MINUTE = datetime.timedelta(minutes=1)


def at(text):
    return datetime.datetime.fromisoformat(text).replace(tzinfo=UTC)


def keep_hours(location, spans, *, days=range(7), zone=None, **fields):
    """Give the location a week: `spans` [(opens, closes)] on each of `days`, the other days closed."""
    WeeklySpan.objects.filter(location=location).delete()
    WeeklySpan.objects.bulk_create(WeeklySpan(location=location, weekday=day, opens=datetime.time(*opens),
                                              closes=datetime.time(*closes)) for day in days for opens, closes in spans)
    Location.objects.filter(pk=location.pk).update(timezone=zone or location.timezone, **fields)


def sweep(time_machine, moment):
    time_machine.move_to(moment, tick=False)
    return services.sweep(now=timezone.now())


def progress_reminders(incident):
    return list(Reminder.objects.filter(incident=incident, kind="progress_report").values_list("due_at", flat=True))


def log_at(time_machine, moment, user, location):
    time_machine.move_to(moment, tick=False)
    incident = factories.log_incident(user=user, location=location)
    services.sweep(now=moment)  # the internal alert, out of the way
    return incident


@pytest.mark.parametrize("evening", ["2026-03-04T20:00", "2026-03-05T01:00"])
def test_a_bar_open_past_midnight_gets_its_reminder_at_once_at_eight_and_at_one(
        time_machine, frontline, manager, location, evening):
    keep_hours(location, [((18, 0), (2, 0))], zone="Europe/London")  # London is on GMT in early March
    logged = at(evening)
    incident = log_at(time_machine, logged, frontline, location)
    due = logged + DAY  # the daily progress report, a day later: inside the bar's hours
    assert incident.next_due_at <= due
    sweep(time_machine, due - MINUTE)
    assert progress_reminders(incident) == []
    report = sweep(time_machine, due)
    assert progress_reminders(incident) == [due]
    email = Delivery.objects.get(notification__recipient=frontline, notification__kind=Notification.Kind.PROGRESS_REPORT)
    # The owner works at the bar, which is open: the email goes now, not at the next opening.
    assert email.next_attempt_at == due + settings.FOLLOWUPS_REQUEUE_AFTER and report.deliveries_queued >= 1


def test_a_location_closed_on_sundays_hears_of_it_on_monday_morning(time_machine, frontline, location):
    keep_hours(location, [((9, 0), (18, 0))], days=range(6))  # Monday to Saturday, UTC
    incident = log_at(time_machine, at("2026-03-07T14:00"), frontline, location)  # a Saturday
    sweep(time_machine, at("2026-03-08T14:00"))  # Sunday: a day later, but closed
    assert progress_reminders(incident) == []
    sweep(time_machine, at("2026-03-09T08:59"))
    assert progress_reminders(incident) == []
    sweep(time_machine, at("2026-03-09T09:00"))
    assert progress_reminders(incident) == [at("2026-03-09T09:00")]


def test_a_public_holiday_of_the_locations_region_is_a_closed_day(time_machine, frontline, location):
    # England: Christmas (Friday) and Boxing Day (Saturday) close it; Sunday the 27th is an ordinary day.
    keep_hours(location, [((9, 0), (18, 0))], zone="Europe/London", holiday_country="GB", holiday_subdivision="ENG")
    incident = log_at(time_machine, at("2026-12-24T14:00"), frontline, location)
    sweep(time_machine, at("2026-12-25T14:00"))
    sweep(time_machine, at("2026-12-26T14:00"))
    assert progress_reminders(incident) == []
    sweep(time_machine, at("2026-12-27T09:00"))
    assert progress_reminders(incident) == [at("2026-12-27T09:00")]


@pytest.mark.parametrize("zone, saturday_evening, monday_opening", [
    ("Europe/London", "2026-03-28T20:00", "2026-03-30T08:00"),  # spring: Monday 09:00 BST
    ("Europe/London", "2026-10-24T19:00", "2026-10-26T09:00"),  # autumn: Monday 09:00 GMT
    ("America/New_York", "2026-03-08T01:00", "2026-03-09T13:00"),  # spring: Monday 09:00 EDT
    ("America/New_York", "2026-11-01T00:00", "2026-11-02T14:00"),  # autumn: Monday 09:00 EST
])
def test_over_a_daylight_saving_change_the_reminder_comes_at_opening_not_an_hour_off(
        time_machine, frontline, location, zone, saturday_evening, monday_opening):
    # Open 09:00–18:00, closed on Sundays: the report due on Sunday evening waits for Monday's opening.
    keep_hours(location, [((9, 0), (18, 0))], days=range(6), zone=zone)
    incident = log_at(time_machine, at(saturday_evening), frontline, location)
    opening = at(monday_opening)
    sweep(time_machine, opening - datetime.timedelta(hours=1))
    sweep(time_machine, opening - MINUTE)
    assert progress_reminders(incident) == []
    sweep(time_machine, opening)
    assert progress_reminders(incident) == [opening]
    assert opening.astimezone(Location.objects.get(pk=location.pk).zone).time() == datetime.time(9)


def test_the_twenty_minute_clock_at_three_in_the_morning_still_escalates_to_the_manager_on_duty(
        time_machine, frontline, manager, colleague, location):
    keep_hours(location, [((9, 0), (18, 0))], zone="Europe/London")
    logged = at("2026-03-04T03:00")
    time_machine.move_to(logged, tick=False)
    incident = factories.log_incident(user=frontline, location=location)
    sweep(time_machine, logged)
    # The colleague's inbox has the alert at once; its email waits for the 09:00 opening.
    alert = Delivery.objects.get(notification__recipient=colleague, notification__kind=Notification.Kind.INTERNAL_ALERT)
    assert alert.next_attempt_at == at("2026-03-04T09:00")

    heads_up = sweep(time_machine, logged + 15 * MINUTE)
    assert heads_up.reminders["heads_up"] == 1
    missed = sweep(time_machine, logged + 20 * MINUTE + datetime.timedelta(seconds=1))
    assert missed.reminders["twenty_minute"] == 1
    incident.refresh_from_db()
    assert incident.breached_at is not None
    escalation = Delivery.objects.get(notification__recipient=manager, notification__kind=Notification.Kind.ESCALATION)
    # At once: queued with this sweep, at 03:20, not held for the morning.
    assert escalation.next_attempt_at == logged + 20 * MINUTE + datetime.timedelta(seconds=1) + settings.FOLLOWUPS_REQUEUE_AFTER
    owner_told = Delivery.objects.get(notification__recipient=frontline, notification__kind=Notification.Kind.WINDOW_MISSED)
    assert owner_told.next_attempt_at < at("2026-03-04T04:00")

    morning = sweep(time_machine, at("2026-03-04T09:00"))
    assert morning.deliveries_requeued >= 1  # the held alert email goes with the opening
    alert.refresh_from_db()
    assert alert.next_attempt_at == at("2026-03-04T09:00") + settings.FOLLOWUPS_REQUEUE_AFTER


def test_someone_off_duty_gets_a_reminder_in_the_inbox_now_and_by_email_at_their_next_opening(
        time_machine, frontline, location, other_location):
    # Frontline works at a bar (18:00–02:00); the incident's location keeps office hours and is open.
    keep_hours(other_location, [((18, 0), (2, 0))])
    frontline.locations.set([other_location])
    keep_hours(location, [((9, 0), (18, 0))])
    time_machine.move_to(at("2026-03-04T10:00"), tick=False)
    factories.log_incident(user=frontline, location=location)
    services.sweep(now=timezone.now())
    report = sweep(time_machine, at("2026-03-05T10:00"))  # the progress report, due inside the location's hours
    assert report.reminders["progress_report"] == 1
    reminder = Notification.objects.get(recipient=frontline, kind=Notification.Kind.PROGRESS_REPORT)
    assert reminder.created_at == at("2026-03-05T10:00")  # in the inbox now
    assert reminder.deliveries.get().next_attempt_at == at("2026-03-05T18:00")  # email when the bar opens
