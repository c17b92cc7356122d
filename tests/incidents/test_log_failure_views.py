"""Logging a failure twice from one form, at the same moment, makes one incident (PostgreSQL)."""

import threading
import uuid

import pytest
from django.db import connection, connections

from incidents import services
from incidents.models import Customer, Incident

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="two requests at once need real row locks (set DATABASE_URL to PostgreSQL); SQLite has one writer",
    ),
]


def test_two_submits_of_one_form_at_the_same_moment_make_one_incident(frontline, location):
    token = uuid.uuid4()
    start = threading.Barrier(4)
    results = []

    def submit():
        try:
            start.wait()
            results.append(services.log_incident_once(
                form_token=token, logged_by=frontline, new_customer={"name": "Grace Hopper"}, location=location,
                summary="Lift broken", channel="in_person",
            ))
        except Exception as error:  # surfaced below
            results.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not [result for result in results if isinstance(result, Exception)], results
    assert Incident.objects.count() == 1
    assert Customer.objects.filter(name="Grace Hopper").count() == 1
    assert sorted(created for _, created in results) == [False, False, False, True]
    assert {incident.pk for incident, _ in results} == {Incident.objects.get().pk}
