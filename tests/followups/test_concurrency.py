"""Two sweeps (or two beats) at once, on real PostgreSQL connections.

Row claims use SELECT … FOR UPDATE SKIP LOCKED, which SQLite does not have; there the sweep falls
back to a compare-and-swap and SQLite's single writer, so these tests need PostgreSQL.
"""

import threading

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from followups import services
from followups.models import Notification, Reminder
from incidents.models import Event, Incident
from tests import factories
from tests.followups.conftest import MINUTE

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="row locks with SKIP LOCKED need PostgreSQL (set DATABASE_URL); SQLite has one writer at a time",
    ),
]


@pytest.fixture(autouse=True)
def no_publishing(monkeypatch):
    """These sweeps commit for real; their emails must not reach a real broker's queue."""
    monkeypatch.setattr(services, "_publish", lambda delivery_ids: None)


def in_thread(target, results, *args):
    def run():
        try:
            results.append(target(*args))
        except Exception as error:  # surfaced by the test
            results.append(error)
        finally:
            connections.close_all()

    return threading.Thread(target=run)


def test_two_sweeps_at_once_send_nothing_twice(organization, location, frontline, manager):
    for _ in range(40):
        factories.log_incident(user=frontline, location=location)
    now = timezone.now() + 21 * MINUTE
    start = threading.Barrier(2)

    def sweep():
        start.wait()
        return services.sweep(now=now)

    results = []
    threads = [in_thread(sweep, results) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(isinstance(report, services.SweepReport) for report in results), results
    assert sum(report.acted for report in results) == 40
    # Each incident: one internal alert, one missed window (a late heads-up is skipped).
    assert Reminder.objects.count() == 80
    assert Notification.objects.filter(recipient=manager, kind="escalation").count() == 40
    assert Notification.objects.filter(recipient=frontline, kind="window_missed").count() == 40
    assert Event.objects.filter(kind="breached").count() == 40
    assert Event.objects.filter(kind="escalated").count() == 40


def test_a_row_claimed_elsewhere_is_skipped_not_waited_for(organization, location, frontline, colleague):
    incident = factories.log_incident(user=frontline, location=location)
    claimed, release = threading.Event(), threading.Event()

    def hold_the_row():
        with transaction.atomic():
            Incident.objects.select_for_update().get(pk=incident.pk)
            claimed.set()
            release.wait(10)

    results = []
    holder = in_thread(hold_the_row, results)
    holder.start()
    assert claimed.wait(10)
    try:
        report = services.sweep(now=timezone.now() + MINUTE)
    finally:
        release.set()
        holder.join(10)
    assert (report.due, report.skipped, report.acted) == (1, 1, 0)
    assert not Notification.objects.exists()
    # Released, the next pass acts on it.
    assert services.sweep(now=timezone.now() + MINUTE).acted == 1
    assert Notification.objects.filter(recipient=colleague).count() == 1
