"""An incident create writes through the ORM: save signals are sent, a migration's column type change on a
warm connection costs nothing, and creates for one new customer at once still make one customer."""

import threading

import pytest
from django.db import connection, connections
from django.db.models.signals import post_save
from rest_framework.test import APIClient

from helpdesk import services as api_services
from incidents.models import Customer, Event, Incident, User
from tests import factories
from tests.helpdesk.conftest import new_incident_body

pytestmark = pytest.mark.django_db

only_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's (set DATABASE_URL)")


@pytest.fixture
def saved():
    """(model, created) for every post_save sent while the test runs."""
    sent = []

    def receiver(sender, instance, created, **kwargs):
        sent.append((sender, created))

    post_save.connect(receiver, weak=False, dispatch_uid="test-create-writes")
    yield sent
    post_save.disconnect(dispatch_uid="test-create-writes")


def test_logging_an_incident_sends_post_save_for_the_customer_the_incident_and_its_first_entry(frontline, location, saved):
    customer = factories.CustomerFactory(organization=location.organization)
    saved.clear()

    factories.log_incident(user=frontline, location=location, customer=customer)

    assert (Incident, True) in saved and (Event, True) in saved
    assert (Customer, False) in saved  # its care flag


def test_a_create_over_the_api_sends_post_save_for_the_new_customer_and_the_incident(create, saved):
    response = create(customer={"name": "Grace Hopper", "email": "grace@example.com", "external_id": "C-7"})

    assert response.status_code == 201
    assert {(Customer, True), (Incident, True), (Event, True)} <= set(saved)


@only_postgresql
def test_a_create_after_a_column_type_change_on_a_warm_connection_answers_201(create):
    assert create(external_id="T-1").status_code == 201  # the connection has run every statement of a create once

    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the rows written so far, checked before the tables change
        # What a migration does to a column (a longer max_length, a Django upgrade's AbstractUser change).
        cursor.execute(f"ALTER TABLE {Customer._meta.db_table} ALTER COLUMN name TYPE text")
        cursor.execute(f"ALTER TABLE {User._meta.db_table} ALTER COLUMN first_name TYPE text")

    response = create(external_id="T-2", customer={"name": "Grace Hopper", "email": "grace@example.com"})
    assert response.status_code == 201, response.content
    again = create(external_id="T-3")  # a known customer, read back through the changed column
    assert again.status_code == 201, again.content
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] == 0  # nothing kept on the connection a schema change could invalidate


@only_postgresql
@pytest.mark.django_db(transaction=True)
def test_ten_tickets_at_once_for_one_new_customer_make_one_customer_flagged_once_per_ticket():
    organization = factories.OrganizationFactory(slug="harbour")
    factories.LocationFactory(organization=organization, code="riverside")
    _, key = api_services.create_api_client(organization=organization, name="Helpdesk")
    threads_count = 10
    start = threading.Barrier(threads_count)
    answers = []

    def post(number):
        try:
            http = APIClient()
            http.credentials(HTTP_AUTHORIZATION=f"Token {key}")
            start.wait()
            body = new_incident_body(external_id=f"HD-{number}", customer={"name": "Grace Hopper", "external_id": "C-7"})
            answers.append(http.post("/api/v1/incidents/", body, format="json").status_code)
        except Exception as error:  # surfaced by the assertion below
            answers.append(repr(error))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(number,)) for number in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert answers == [201] * threads_count
    customer = Customer.objects.get(organization=organization)
    assert customer.external_id == "C-7" and customer.care_flag
    assert set(Incident.objects.values_list("customer_id", flat=True)) == {customer.pk}
    assert Incident.objects.count() == threads_count
