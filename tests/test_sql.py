"""Hand-written reads come back as the same model instances the ORM would build; hand-written
writes store what `save()` would store and leave the instances as `save()` leaves them."""

import datetime

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import sql
from incidents.events import new_event
from incidents.models import Customer, Event, Incident, Location, Organization
from tests import factories

pytestmark = pytest.mark.django_db

JOINED = (
    f"SELECT {sql.columns(Location, 'l')}, {sql.columns(Organization, 'o')}, {sql.columns(Customer, 'c')}, 42 "
    f"FROM {sql.table(Location)} l JOIN {sql.table(Organization)} o ON o.id = l.organization_id "
    f"LEFT JOIN {sql.table(Customer)} c ON c.organization_id = o.id AND c.email = %s WHERE l.id = %s"
)


def field_values(instance):
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def test_a_row_becomes_instances_with_python_types_and_an_empty_outer_join_becomes_none(organization):
    location = factories.LocationFactory(organization=organization, opens_at=datetime.time(7, 30))
    customer = factories.CustomerFactory(organization=organization, care_flag=True)

    place, owner, found, extra = sql.fetch_one(JOINED, [customer.email, location.pk], [Location, Organization, Customer], extra=1)

    assert field_values(place) == field_values(Location.objects.get(pk=location.pk))
    assert field_values(owner) == field_values(Organization.objects.get(pk=organization.pk))
    assert field_values(found) == field_values(Customer.objects.get(pk=customer.pk))
    # Times, durations and decimals arrive converted, not as the backend's raw values.
    assert isinstance(place.opens_at, datetime.time) and isinstance(owner.follow_up_window, datetime.timedelta)
    assert not place._state.adding and extra == 42

    _, _, nobody, _ = sql.fetch_one(JOINED, ["nobody@example.com", location.pk], [Location, Organization, Customer], extra=1)
    assert nobody is None
    assert sql.fetch_one(JOINED, [customer.email, 0], [Location, Organization, Customer]) is None


# --- Writes ------------------------------------------------------------------------------------------


def new_rows(organization, location, user, *, customer=None, now=None):
    now = now or timezone.now()
    customer = customer or Customer(organization=organization, name="Grace Hopper", email="grace@example.com", external_id="C-7")
    incident = Incident(
        organization=organization, location=location, customer=customer, summary="Cold soup", channel="in_person",
        occurred_at=now, logged_at=now, logged_by=user, owner=user, follow_up_due_at=now + datetime.timedelta(minutes=20),
    )
    event = new_event(incident, "logged", "Logged", at=now, actor=user, after={"summary": "Cold soup", "n": [1, 2]})
    return customer, incident, event


def test_rows_that_point_at_each_other_are_stored_as_save_would_store_them(organization, location, frontline):
    now = timezone.now()
    written = new_rows(organization, location, frontline, now=now)
    twin = Customer(organization=organization, name="Grace Hopper", email="grace@example.com", external_id="C-8")
    saved = new_rows(organization, location, frontline, customer=twin, now=now)

    with transaction.atomic():
        sql.write_together(sql.insert(written[0]), sql.insert(written[1]), sql.insert(written[2]))
    for instance in saved:
        instance.save()

    for mine, theirs in zip(written, saved):
        assert not mine._state.adding and mine._state.db == "default" and mine.pk is not None
        stored, expected = field_values(type(mine).objects.get(pk=mine.pk)), field_values(type(theirs).objects.get(pk=theirs.pk))
        different = {name for name in stored if stored[name] != expected[name]}
        # Ids differ, and the clock moved between the two: auto_now fields are set, a moment apart.
        assert different <= {"id", "customer_id", "incident_id", "reference", "external_id", "created_at", "updated_at"}
        assert all(stored[name] is not None for name in different)
    customer, incident, event = written
    assert incident.customer_id == customer.pk and event.incident_id == incident.pk
    assert incident.customer is customer and event.incident is incident  # kept, as `save()` keeps them: no reads later
    assert incident.reference == Incident.objects.get(pk=incident.pk).reference != ""  # what the database generated


def test_on_postgresql_the_rows_go_in_one_statement(organization, location, frontline):
    if connection.vendor != "postgresql":
        pytest.skip("one statement is PostgreSQL's; SQLite runs one per row")
    rows = new_rows(organization, location, frontline)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        sql.write_together(*(sql.insert(row) for row in rows))
    statements = [query["sql"] for query in queries.captured_queries if not query["sql"].startswith(("PREPARE", "SAVEPOINT", "RELEASE"))]
    assert len(statements) == 1 and statements[0].startswith("EXECUTE ")
    assert [query["sql"].split(" AS ")[1][:5] for query in queries.captured_queries if query["sql"].startswith("PREPARE")] in ([], ["WITH "])


@pytest.mark.django_db(transaction=True)  # closes its connection
def test_on_postgresql_a_statement_is_prepared_once_per_connection(organization, location, settings):
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    query = f"SELECT {sql.columns(Location, 'l')} FROM {sql.table(Location)} l WHERE l.id = %(id)s AND l.code = %(code)s"

    def run():
        with CaptureQueriesContext(connection) as queries:
            found = sql.fetch_one(query, {"code": location.code, "id": location.pk}, [Location])
        return found, [captured["sql"].split()[0] for captured in queries.captured_queries]

    connection.close()  # a connection of its own, so this test sees the first use on it
    assert run()[1] == ["PREPARE", "EXECUTE"]
    with pytest.raises(DatabaseError), transaction.atomic():
        run()
        raise DatabaseError("rolled back")  # a prepared statement outlives its transaction
    found, statements = run()
    assert statements == ["EXECUTE"] and field_values(found[0]) == field_values(Location.objects.get(pk=location.pk))

    connection.close()  # a new connection (a restart of the database, a failed health check) prepares again
    assert run()[1] == ["PREPARE", "EXECUTE"]

    settings.DB_PREPARED_STATEMENTS = False  # behind a proxy that pools by transaction
    found, statements = run()
    assert statements == ["SELECT"] and found[0].pk == location.pk


def test_a_clash_on_the_named_unique_index_updates_the_row_it_met_and_the_instance_becomes_it(organization, location, frontline):
    existing = factories.CustomerFactory(organization=organization, name="Grace B. Hopper", external_id="C-7")
    customer, incident, event = new_rows(organization, location, frontline)
    customer.care_flag, customer.care_note = True, "Cold soup"

    with transaction.atomic():
        sql.write_together(
            sql.insert(customer, on_conflict=sql.unique_index(Customer, "customer_external_id_unique"), update=["care_flag", "care_note"]),
            sql.insert(incident), sql.insert(event),
        )

    assert customer.pk == existing.pk and customer.name == "Grace B. Hopper"  # the stored row, not the one offered
    assert Customer.objects.filter(organization=organization, external_id="C-7").count() == 1
    existing.refresh_from_db()
    assert existing.care_flag and existing.care_note == "Cold soup"
    assert Incident.objects.get(pk=incident.pk).customer_id == existing.pk


def test_an_update_writes_only_its_fields_and_a_row_that_is_gone_is_an_error(organization, customer):
    customer.name, customer.care_note = "Not saved", "Saved"
    with transaction.atomic():
        sql.write_together(sql.update(customer, ["care_note"]))
    stored = Customer.objects.get(pk=customer.pk)
    assert (stored.name, stored.care_note) == ("Ada Lovelace", "Saved")

    Customer.objects.filter(pk=customer.pk).delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        sql.write_together(sql.update(customer, ["care_note"]))


def test_a_row_pointing_at_an_unsaved_row_written_elsewhere_is_refused(organization, location, frontline):
    customer, incident, event = new_rows(organization, location, frontline)
    with pytest.raises(ValueError, match="unsaved"):
        sql.write_together(sql.insert(incident))
    with pytest.raises(ValueError):
        sql.insert(factories.CustomerFactory(organization=organization))
    with pytest.raises(ValueError):
        sql.update(customer, ["name"])
    assert not Event.objects.exists() and not Incident.objects.exists()
