"""Two digest runs at once, on real PostgreSQL connections: each week is claimed by one of them.

The second claimant waits on the first one's row (its INSERT on the primary key, or its UPDATE on the row)
until the first commits or rolls back; SQLite takes one writer at a time, so these tests need PostgreSQL.
"""

import datetime
import threading

import pytest
from django.db import connection, connections, transaction

from insights.digest import claim_week
from insights.models import WeeklyDigest
from tests import factories

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks between two connections need PostgreSQL"),
]

MONDAY = datetime.date(2026, 3, 2)


@pytest.fixture
def manager(organization, location):
    return factories.UserFactory(organization=organization, role="manager", locations=[location], email="mo@example.com")


def waiting_on_a_lock():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")
        return cursor.fetchone()[0]


def race(manager, monday, *, first_commits):
    """The first run claims and holds its transaction open; the second claims meanwhile and must wait."""
    claimed, finish, results = threading.Event(), threading.Event(), {}

    def first():
        try:
            with transaction.atomic():
                results["first"] = claim_week(manager, monday)
                claimed.set()
                finish.wait(10)
                if not first_commits:
                    transaction.set_rollback(True)  # the mail failed
        finally:
            connections.close_all()

    def second():
        try:
            with transaction.atomic():
                results["second"] = claim_week(manager, monday)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert claimed.wait(10)
    threads[1].start()
    for _ in range(500):  # until the second run is blocked on the first one's row
        if waiting_on_a_lock():
            break
        threading.Event().wait(0.01)
    else:
        pytest.fail("the second run never waited for the first one's row")
    finish.set()
    for thread in threads:
        thread.join(10)
    return results


def test_two_runs_at_a_managers_first_digest_claim_it_once(manager):
    assert race(manager, MONDAY, first_commits=True) == {"first": True, "second": False}
    assert WeeklyDigest.objects.get(user=manager).sent_on == MONDAY


def test_two_runs_at_a_later_week_claim_it_once(manager):
    WeeklyDigest.objects.create(user=manager, sent_on=MONDAY - datetime.timedelta(days=7))
    assert race(manager, MONDAY, first_commits=True) == {"first": True, "second": False}
    assert WeeklyDigest.objects.get(user=manager).sent_on == MONDAY


def test_when_the_first_run_fails_to_send_the_waiting_run_sends(manager):
    assert race(manager, MONDAY, first_commits=False) == {"first": True, "second": True}
    assert WeeklyDigest.objects.get(user=manager).sent_on == MONDAY
