"""News for staff that is not the twenty-minute clock (a known problem happened again, an action due, an
export ready) goes by the same rule as the incident reminders, with the clock moved: the inbox has it at
once, the email to someone off duty waits for their next opening."""

import datetime

import pytest
from django.conf import settings
from django.core import mail

from followups import services
from followups.models import Delivery, Notification
from incidents.models import WeeklySpan
from problems import services as problems
from problems.patterns import Pattern
from tests import factories

pytestmark = pytest.mark.django_db

UTC = datetime.timezone.utc
SECOND = datetime.timedelta(seconds=1)


def at(text):
    return datetime.datetime.fromisoformat(text).replace(tzinfo=UTC)


def keep_hours(location, opens, closes):
    WeeklySpan.objects.filter(location=location).delete()
    WeeklySpan.objects.bulk_create(WeeklySpan(location=location, weekday=day, opens=datetime.time(*opens),
                                              closes=datetime.time(*closes)) for day in range(7))


def test_a_problem_owner_off_duty_at_three_hears_in_the_inbox_now_and_by_email_at_their_opening(
        time_machine, organization, location, other_location, frontline):
    # The owner manages a bar (18:00–02:00); the incident happens at a reception open round the clock.
    keep_hours(other_location, (18, 0), (2, 0))
    keep_hours(location, (0, 0), (0, 0))
    owner = factories.UserFactory(organization=organization, role="manager", locations=[other_location])
    problems.open_problem(by=owner, title="Lost keys at night", owner=owner, pattern=Pattern(location_id=location.pk),
                          now=at("2026-03-03T12:00"))
    night = at("2026-03-04T03:00")
    time_machine.move_to(night, tick=False)
    factories.log_incident(user=frontline, location=location, now=night)

    notice = Notification.objects.get(recipient=owner, kind=Notification.Kind.KNOWN_PROBLEM)
    assert notice.created_at == night  # in the inbox at once
    email = notice.deliveries.get()
    assert email.next_attempt_at == at("2026-03-04T18:00")  # held until the bar opens

    assert services.requeue_deliveries(at("2026-03-04T18:00") - SECOND) == 0
    assert services.requeue_deliveries(at("2026-03-04T18:00")) == 1


def test_news_told_to_someone_off_duty_is_not_queued_now_and_is_sent_at_their_opening(
        organization, other_location):
    keep_hours(other_location, (18, 0), (2, 0))
    owner = factories.UserFactory(organization=organization, role="manager", locations=[other_location])
    queued = services.tell([owner], kind=Notification.Kind.PROBLEM_UPDATE, title="Lost keys came back after closing",
                           body="The problem is open again.", dedupe_key="test.recurred", now=at("2026-03-04T03:00"))
    assert queued == []
    email = Delivery.objects.get(notification__recipient=owner)
    assert email.next_attempt_at == at("2026-03-04T18:00")
    assert services.requeue_deliveries(at("2026-03-04T17:59")) == 0
    assert services.requeue_deliveries(at("2026-03-04T18:00")) == 1
    assert services.deliver(email.pk) == "sent"
    assert [message.to for message in mail.outbox] == [[owner.email]]


def test_someone_on_duty_is_emailed_at_once(organization, location, manager):
    keep_hours(location, (9, 0), (18, 0))
    now = at("2026-03-04T10:00")
    (delivery_id,) = services.tell([manager], kind=Notification.Kind.ACTION_DUE, title="Due today: Heat the bowls",
                                   body="Your corrective action is due today.", dedupe_key="test.due", now=now)
    assert Delivery.objects.get(pk=delivery_id).next_attempt_at == now + settings.FOLLOWUPS_REQUEUE_AFTER


def test_an_admin_with_no_location_of_their_own_goes_by_the_organizations_locations(
        organization, location, other_location, admin):
    keep_hours(location, (9, 0), (18, 0))
    keep_hours(other_location, (7, 0), (12, 0))
    ready = services.tell([admin], kind=Notification.Kind.EXPORT_READY, title="Your export is ready: incidents.csv",
                          body="Download it from Insights.", dedupe_key="test.export", now=at("2026-03-04T03:00"))
    assert ready == []  # nothing goes now
    assert Notification.objects.get(recipient=admin).created_at == at("2026-03-04T03:00")
    # The earliest of the organization's openings: Hilltop at 07:00.
    assert Delivery.objects.get(notification__recipient=admin).next_attempt_at == at("2026-03-04T07:00")
