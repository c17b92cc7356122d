"""Two at once, on real PostgreSQL connections: two submits of the same answer make one answer, and two
passes of the satisfaction check draft one check. The second waits on the incident's row lock until the
first commits; SQLite takes one writer at a time, so these tests need PostgreSQL."""

import datetime
import threading
import time

import pytest
from django.db import connection, connections, transaction

from incidents.models import EventKind
from outreach import services as sending
from outreach import survey
from outreach.models import Message, SurveyAnswer
from tests import factories

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks between two connections need PostgreSQL"),
]

NOW = datetime.datetime(2026, 3, 4, 14, 0, tzinfo=datetime.timezone.utc)


def waiting_on_a_lock():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                       "AND datname = current_database()")
        return cursor.fetchone()[0]


def race(first_action, second_action):
    """The first action runs and holds its transaction open; the second starts meanwhile and must wait
    for the first to commit. Returns what each returned."""
    done_first, finish, results = threading.Event(), threading.Event(), {}

    def first():
        try:
            with transaction.atomic():
                results["first"] = first_action()
                done_first.set()
                finish.wait(10)
        finally:
            connections.close_all()

    def second():
        try:
            results["second"] = second_action()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert done_first.wait(10)
    threads[1].start()
    deadline = time.monotonic() + 10
    while waiting_on_a_lock() == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert waiting_on_a_lock() >= 1, "the second did not wait for the first"
    finish.set()
    for thread in threads:
        thread.join(10)
    return results


@pytest.fixture(autouse=True)
def no_worker_wake_up(monkeypatch):
    """Sends commit here for real; the tests send by calling the worker's function, not the broker."""
    monkeypatch.setattr(sending, "_publish", lambda: None)


@pytest.fixture
def wrapped_up(frontline, customer):
    incident = factories.log_incident(user=frontline, customer=customer, now=NOW - datetime.timedelta(hours=2))
    message = sending.draft_message(incident, kind=Message.Kind.WRAP_UP, body="Thank you", author=frontline)
    sending.send_message(message, by=frontline, now=NOW)
    sending.send_due(now=NOW)
    return incident


def test_two_submits_of_the_same_answer_at_once_make_one_answer_and_one_timeline_entry(wrapped_up):
    def submit():
        return survey.record_answer(wrapped_up, feeling=5, would_recommend=10, suggestion="More of this", now=NOW)

    race(submit, submit)
    assert SurveyAnswer.objects.filter(incident=wrapped_up).count() == 1
    assert wrapped_up.events.filter(kind=EventKind.SURVEY_ANSWERED).count() == 1


def test_two_passes_at_once_draft_one_satisfaction_check(wrapped_up):
    def check():
        return survey.send_check(wrapped_up.pk, now=NOW + datetime.timedelta(days=1))

    results = race(check, check)
    assert results["first"] is not None and results["second"] is None
    assert Message.objects.filter(incident=wrapped_up, kind=Message.Kind.SATISFACTION_CHECK).count() == 1
