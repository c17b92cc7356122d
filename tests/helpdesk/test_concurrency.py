"""Twenty helpdesk retries at once, on real PostgreSQL connections, create exactly one incident."""

import threading

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from helpdesk import services as api_services
from incidents.models import Event, Incident
from tests import factories
from tests.helpdesk.conftest import new_incident_body

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="concurrent writers need PostgreSQL (set DATABASE_URL); SQLite has one writer at a time",
    ),
]

THREADS = 20


def post_at_once(headers=None):
    """THREADS clients POST the same ticket at the same moment; their (status, body) answers."""
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
                "/api/v1/incidents/", new_incident_body(external_id="HD-1"), format="json", **(headers or {})
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
    return answers


def test_twenty_concurrent_posts_with_one_key_create_one_incident():
    answers = post_at_once({"HTTP_IDEMPOTENCY_KEY": "ticket-HD-1"})
    assert {status for status, _ in answers} == {201}, answers
    assert len({body["id"] for _, body in answers}) == 1
    assert Incident.objects.count() == 1
    assert Event.objects.filter(kind="logged").count() == 1


def test_one_ticket_sent_twenty_times_at_once_without_a_key_is_logged_once_and_the_rest_point_at_it():
    answers = post_at_once()
    created = [body for status, body in answers if status == 201]
    refused = [body for status, body in answers if status == 409]
    assert len(created) == 1 and len(refused) == THREADS - 1, answers
    incident = Incident.objects.get()
    for body in refused:
        assert body["errors"] == {"external_id": ["Already used."]}
        # Found before writing: the incident itself; lost the race at the INSERT: the search for it.
        assert body["existing"]["url"] in (f"/api/v1/incidents/{incident.pk}/", "/api/v1/incidents/?external_id=HD-1")
    assert Event.objects.filter(kind="logged").count() == 1


def test_reassignments_sent_at_once_with_the_same_if_match_apply_once_and_the_rest_answer_412():
    """Each PATCH locks the row, then compares the ETag: one wins, the others read its change."""
    organization = factories.OrganizationFactory(slug="harbour")
    location = factories.LocationFactory(organization=organization, code="riverside")
    for number in range(THREADS):
        factories.UserFactory(username=f"agent{number}", organization=organization, locations=[location])
    _, key = api_services.create_api_client(organization=organization, name="Helpdesk")
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    created = http.post("/api/v1/incidents/", new_incident_body(), format="json")
    pk, etag = created.json()["id"], created["ETag"]
    start = threading.Barrier(THREADS)
    answers = []

    def patch(number):
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
            start.wait()
            response = client.patch(f"/api/v1/incidents/{pk}/", {"owner": f"agent{number}"}, format="json",
                                    HTTP_IF_MATCH=etag)
            answers.append((response.status_code, response.json()))
        except Exception as error:  # a server error is raised by the test client; surfaced below
            answers.append((None, repr(error)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=patch, args=(number,)) for number in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    statuses = sorted(status or 0 for status, _ in answers)
    assert statuses == [200] + [412] * (THREADS - 1), answers
    winner = next(body for status, body in answers if status == 200)
    assert Incident.objects.get(pk=pk).owner.username == winner["owner"]
    assert Event.objects.filter(incident_id=pk, kind="reassigned").count() == 1
