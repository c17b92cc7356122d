"""Twenty helpdesk retries at once, on real PostgreSQL connections, create exactly one incident."""

import threading

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from incidents.api import services as api_services
from incidents.models import Event, Incident
from tests import factories
from tests.api.conftest import new_incident_body

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="concurrent writers need PostgreSQL (set DATABASE_URL); SQLite has one writer at a time",
    ),
]

THREADS = 20


def test_twenty_concurrent_posts_with_one_key_create_one_incident():
    organization = factories.OrganizationFactory(slug="harbour")
    factories.LocationFactory(organization=organization, code="riverside")
    _, key = api_services.create_api_client(organization=organization, name="Helpdesk")
    start = threading.Barrier(THREADS)
    answers = []

    def post():
        try:
            http = APIClient()
            http.credentials(HTTP_AUTHORIZATION=f"Token {key}")
            start.wait()
            response = http.post(
                "/api/v1/incidents/", new_incident_body(external_id="HD-1"), format="json",
                HTTP_IDEMPOTENCY_KEY="ticket-HD-1",
            )
            answers.append((response.status_code, response.json()))
        except Exception as error:  # surfaced by the assertions below
            answers.append((None, repr(error)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(answers) == THREADS
    assert {status for status, _ in answers} == {201}, answers
    assert len({body["id"] for _, body in answers}) == 1
    assert Incident.objects.count() == 1
    assert Event.objects.filter(kind="logged").count() == 1
