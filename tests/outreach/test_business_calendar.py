"""Messages to customers on the location's business calendar, with the clock moved: a message is sent while
the location is open (spans past midnight, closed days, public holidays) and outside the quiet hours,
otherwise held to the first moment that is both."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from incidents.models import CalendarException, Location, WeeklySpan
from outreach import services
from outreach.models import Message
from tests import factories

pytestmark = pytest.mark.django_db

UTC = datetime.timezone.utc
SECOND = datetime.timedelta(seconds=1)


def at(text):
    return datetime.datetime.fromisoformat(text).replace(tzinfo=UTC)


def keep_hours(location, spans, *, days=range(7), **fields):
    """Give the location a week: `spans` [(opens, closes)] on each of `days`, the other days closed."""
    WeeklySpan.objects.filter(location=location).delete()
    WeeklySpan.objects.bulk_create(WeeklySpan(location=location, weekday=day, opens=datetime.time(*opens),
                                              closes=datetime.time(*closes)) for day in days for opens, closes in spans)
    Location.objects.filter(pk=location.pk).update(**fields)


def no_quiet_hours(organization):
    organization.quiet_hours_start = organization.quiet_hours_end = datetime.time(0)
    organization.save(update_fields=["quiet_hours_start", "quiet_hours_end"])


@pytest.fixture
def owner(organization, location):
    return factories.UserFactory(email="fran@harbour.example", organization=organization, locations=[location])


def send_at(moment, owner):
    """Draft and send a message at `moment`; the moment it is scheduled for."""
    with time_machine.travel(moment, tick=False):
        incident = factories.log_incident(user=owner, now=timezone.now())
        message = services.draft_message(incident, kind=Message.Kind.WRAP_UP, body="Thank you.", author=owner)
        services.send_message(message, by=owner)
    message.refresh_from_db()
    return message


@pytest.fixture
def bar(organization, location):
    """Open 18:00–02:00 every night, in UTC, with the quiet hours switched off: the calendar alone decides."""
    no_quiet_hours(organization)
    keep_hours(location, [((18, 0), (2, 0))])
    return location


def test_a_message_to_a_customer_at_three_in_the_morning_goes_when_the_bar_opens(bar, owner, smtp):
    message = send_at(at("2026-03-04T03:00"), owner)
    assert message.scheduled_for == at("2026-03-04T18:00")
    with time_machine.travel(at("2026-03-04T18:00") - SECOND, tick=False) as clock:
        assert services.send_due().sent == 0
        clock.move_to(at("2026-03-04T18:00"))
        assert services.send_due().sent == 1
    assert len(smtp.messages) == 1


def test_a_message_at_one_in_the_morning_goes_at_once_while_the_bar_is_still_open(bar, owner):
    message = send_at(at("2026-03-05T01:00"), owner)
    assert message.scheduled_for == at("2026-03-05T01:00")


def test_on_a_closed_sunday_a_message_waits_for_mondays_opening(organization, location, owner):
    no_quiet_hours(organization)
    keep_hours(location, [((9, 0), (18, 0))], days=range(6))  # Monday to Saturday
    message = send_at(at("2026-03-08T11:00"), owner)  # a Sunday
    assert message.scheduled_for == at("2026-03-09T09:00")


def test_on_a_public_holiday_a_message_waits_for_the_next_opening(organization, location, owner):
    # England: Christmas (Friday) and Boxing Day (Saturday) close it; Sunday the 27th is an ordinary day.
    no_quiet_hours(organization)
    keep_hours(location, [((9, 0), (18, 0))], timezone="Europe/London", holiday_country="GB",
               holiday_subdivision="ENG")
    message = send_at(at("2026-12-25T11:00"), owner)
    assert message.scheduled_for == at("2026-12-27T09:00")


def test_a_dated_exception_opens_a_closed_day(organization, location, owner):
    no_quiet_hours(organization)
    keep_hours(location, [((9, 0), (18, 0))], days=range(6))
    CalendarException.objects.create(location=location, date=datetime.date(2026, 3, 8), opens=datetime.time(10),
                                     closes=datetime.time(14))
    message = send_at(at("2026-03-08T08:00"), owner)  # a Sunday opened for the morning
    assert message.scheduled_for == at("2026-03-08T10:00")


def test_the_quiet_hours_still_hold_inside_opening_hours(location, owner):
    # The organization's quiet hours (21:00–08:00 by default) and the bar's 18:00–02:00: whichever is stricter.
    keep_hours(location, [((18, 0), (2, 0))])
    assert send_at(at("2026-03-04T20:00"), owner).scheduled_for == at("2026-03-04T20:00")
    # At 01:00 the bar is open but the night is quiet: the evening's opening, the first moment that is both.
    assert send_at(at("2026-03-05T01:00"), owner).scheduled_for == at("2026-03-05T18:00")
    # Open from 07:00: the quiet hours end at 08:00, inside the opening hours.
    keep_hours(location, [((7, 0), (12, 0))])
    assert send_at(at("2026-03-06T06:00"), owner).scheduled_for == at("2026-03-06T08:00")


def test_opening_hours_wholly_inside_the_quiet_hours_go_by_the_calendar_rather_than_never(location, owner):
    keep_hours(location, [((22, 0), (2, 0))])  # every opening falls in 21:00–08:00
    assert send_at(at("2026-03-04T12:00"), owner).scheduled_for == at("2026-03-04T22:00")
