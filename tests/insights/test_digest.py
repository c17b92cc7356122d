import datetime

import pytest
import time_machine
from django.core import mail

from incidents.models import User
from insights import tasks
from insights.digest import claim_week, send_weekly_digests
from insights.models import WeeklyDigest
from tests import factories

pytestmark = pytest.mark.django_db

UTC = datetime.timezone.utc


@pytest.fixture
def london_manager(organization):
    london = factories.LocationFactory(organization=organization, name="Soho", code="soho", timezone="Europe/London")
    manager = factories.UserFactory(organization=organization, role="manager", locations=[london], email="mo@example.com")
    return manager, london


@pytest.fixture
def new_york_manager(organization):
    new_york = factories.LocationFactory(organization=organization, name="Midtown", code="midtown",
                                         timezone="America/New_York")
    return factories.UserFactory(organization=organization, role="manager", locations=[new_york], email="ny@example.com")


def digests_to(address):
    return [message for message in mail.outbox if message.to == [address]]


def test_the_digest_goes_out_on_monday_morning_in_the_managers_time_zone(london_manager, new_york_manager):
    # Monday 2 March 2026: London is UTC, New York UTC−5.
    with time_machine.travel(datetime.datetime(2026, 3, 1, 23, 59, tzinfo=UTC), tick=False) as clock:
        assert send_weekly_digests() == 0  # Sunday night
        clock.move_to(datetime.datetime(2026, 3, 2, 6, 59, tzinfo=UTC))
        assert send_weekly_digests() == 0  # Monday, before seven
        clock.move_to(datetime.datetime(2026, 3, 2, 7, 0, tzinfo=UTC))
        assert send_weekly_digests() == 1
        assert len(digests_to("mo@example.com")) == 1 and digests_to("ny@example.com") == []
        clock.move_to(datetime.datetime(2026, 3, 2, 11, 59, tzinfo=UTC))
        assert send_weekly_digests() == 0  # 06:59 in New York; London already has it
        clock.move_to(datetime.datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
        assert send_weekly_digests() == 1
        assert len(digests_to("ny@example.com")) == 1 and len(digests_to("mo@example.com")) == 1
        clock.move_to(datetime.datetime(2026, 3, 9, 7, 15, tzinfo=UTC))
        assert send_weekly_digests() == 1  # next week, London again
        assert len(digests_to("mo@example.com")) == 2


def test_a_missed_run_is_caught_up_later_on_monday_but_not_on_tuesday(london_manager):
    with time_machine.travel(datetime.datetime(2026, 3, 2, 16, 0, tzinfo=UTC), tick=False):
        assert send_weekly_digests() == 1
    manager, _ = london_manager
    WeeklyDigest.objects.filter(user=manager).delete()
    assert send_weekly_digests(now=datetime.datetime(2026, 3, 3, 7, 0, tzinfo=UTC)) == 0


def test_running_twice_with_the_same_clock_sends_one_digest(london_manager):
    now = datetime.datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
    assert send_weekly_digests(now=now) == 1
    assert send_weekly_digests(now=now) == 0
    assert len(mail.outbox) == 1


def test_the_sent_week_is_kept_on_the_managers_own_row_not_on_the_user(london_manager):
    manager, _ = london_manager
    assert send_weekly_digests(now=datetime.datetime(2026, 3, 2, 7, 30, tzinfo=UTC)) == 1
    assert WeeklyDigest.objects.get(user=manager).sent_on == datetime.date(2026, 3, 2)
    assert not any(field.name == "weekly_digest_sent_on" for field in User._meta.get_fields())


def test_a_week_is_claimed_once_whether_it_is_the_managers_first_digest_or_a_later_one(london_manager):
    manager, _ = london_manager
    monday = datetime.date(2026, 3, 2)
    assert claim_week(manager, monday) is True  # first digest: the row is inserted
    assert claim_week(manager, monday) is False  # the row exists with this Monday
    assert claim_week(manager, monday - datetime.timedelta(days=7)) is False  # an older week is not sent again
    assert claim_week(manager, monday + datetime.timedelta(days=7)) is True  # next week: the row moves on
    assert claim_week(manager, monday + datetime.timedelta(days=7)) is False
    assert WeeklyDigest.objects.get(user=manager).sent_on == monday + datetime.timedelta(days=7)


def test_a_failed_mail_gives_the_week_back_for_the_next_run(london_manager, monkeypatch):
    manager, _ = london_manager
    now = datetime.datetime(2026, 3, 2, 7, 30, tzinfo=UTC)

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr("insights.digest.send_digest", refuse)
    with pytest.raises(ConnectionRefusedError):
        send_weekly_digests(now=now)
    assert not WeeklyDigest.objects.filter(user=manager).exists()
    monkeypatch.undo()
    assert send_weekly_digests(now=now) == 1


def test_the_digest_holds_last_weeks_scorecard_clusters_and_open_recoveries(london_manager, build):
    manager, london = london_manager
    frontline = factories.UserFactory(organization=london.organization, locations=[london])
    # Last week (Mon 23 Feb – Sun 1 Mar): six incidents on Wednesday 15:00; otherwise mornings only.
    for minute in range(0, 60, 10):
        build(at=datetime.datetime(2026, 2, 25, 15, minute, tzinfo=UTC), location=london, owner=frontline,
              apology=1, fix=10)
    for day, hour in [(day, hour) for day in (23, 24, 25, 26, 27) for hour in (9, 10, 11)]:
        build(at=datetime.datetime(2026, 2, day, hour, tzinfo=UTC), location=london, owner=frontline, apology=1, fix=10)
    still_open = build(at=datetime.datetime(2026, 3, 1, 20, 0, tzinfo=UTC), location=london, owner=frontline)
    build(at=datetime.datetime(2026, 2, 20, 10, 0, tzinfo=UTC), location=london, owner=frontline, apology=1, fix=10)
    assert send_weekly_digests(now=datetime.datetime(2026, 3, 2, 7, 0, tzinfo=UTC)) == 1
    message = mail.outbox[0]
    assert message.subject == "Recovery: your week 23 Feb – 01 Mar"
    assert "Incidents: 22 (before: 1)" in message.body
    assert "Wed 15:00–16:00 at Soho: 6 incidents" in message.body
    assert still_open.reference in message.body and "Late by" in message.body
    html = message.alternatives[0][0]
    assert "Wed 15:00–16:00 at Soho" in html and "/manage/" in html


def test_frontline_staff_and_managers_without_email_get_no_digest(organization, location, frontline):
    factories.UserFactory(organization=organization, role="manager", locations=[location], email="")
    assert send_weekly_digests(now=datetime.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)) == 0


def test_the_celery_task_delegates_to_the_function(london_manager):
    with time_machine.travel(datetime.datetime(2026, 3, 2, 8, 0, tzinfo=UTC), tick=False):
        tasks.send_weekly_digest.apply()
    assert len(mail.outbox) == 1


def test_the_beat_schedule_has_the_digest():
    from recovery.celery import app

    entry = app.conf.beat_schedule["weekly-digest"]
    assert entry["task"] == tasks.send_weekly_digest.name == "insights.tasks.send_weekly_digest"


def test_the_worker_finds_the_digest_under_its_new_name_and_its_old_one():
    from recovery.celery import app

    app.loader.import_default_modules()  # what a worker does at start: autodiscovery over INSTALLED_APPS
    assert "insights.tasks.send_weekly_digest" in app.tasks
    # Messages queued before the console became its own app still have a task to run them.
    assert "incidents.tasks.send_weekly_digest" in app.tasks


def test_the_old_task_name_sends_the_digest_too(london_manager):
    from recovery.celery import app

    with time_machine.travel(datetime.datetime(2026, 3, 2, 8, 0, tzinfo=UTC), tick=False):
        app.tasks["incidents.tasks.send_weekly_digest"].apply()
    assert len(mail.outbox) == 1


def test_a_location_closed_on_monday_or_on_a_bank_holiday_monday_gets_its_digest_on_the_first_day_it_opens(london_manager):
    from incidents.models import Location, WeeklySpan

    manager, london = london_manager
    WeeklySpan.objects.bulk_create(WeeklySpan(location=london, weekday=day, opens=datetime.time(10),
                                              closes=datetime.time(22)) for day in range(1, 7))  # closed on Mondays
    assert send_weekly_digests(now=datetime.datetime(2026, 3, 2, 7, 0, tzinfo=UTC)) == 0  # Monday: closed
    assert send_weekly_digests(now=datetime.datetime(2026, 3, 3, 6, 59, tzinfo=UTC)) == 0
    assert send_weekly_digests(now=datetime.datetime(2026, 3, 3, 7, 0, tzinfo=UTC)) == 1  # Tuesday, seven
    assert send_weekly_digests(now=datetime.datetime(2026, 3, 4, 7, 0, tzinfo=UTC)) == 0  # once a week

    # Open every day, but England's Easter Monday (6 April 2026) is a bank holiday: Tuesday's digest.
    WeeklySpan.objects.create(location=london, weekday=0, opens=datetime.time(10), closes=datetime.time(22))
    Location.objects.filter(pk=london.pk).update(holiday_country="GB", holiday_subdivision="ENG")
    assert send_weekly_digests(now=datetime.datetime(2026, 3, 9, 7, 0, tzinfo=UTC)) == 1  # an ordinary Monday
    assert send_weekly_digests(now=datetime.datetime(2026, 4, 6, 7, 0, tzinfo=UTC)) == 0
    assert send_weekly_digests(now=datetime.datetime(2026, 4, 7, 7, 0, tzinfo=UTC)) == 1
