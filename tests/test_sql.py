"""Hand-written reads come back as the same model instances the ORM would build."""

import datetime

import pytest

from incidents import sql
from incidents.models import Customer, Location, Organization
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
