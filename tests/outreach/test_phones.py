"""Phone numbers in E.164: the page, the API, the services, the search and the migration agree on what
a number is (incidents.phones), so a text message reaches the customer the search finds."""

import importlib

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from incidents import services
from incidents.models import Customer
from incidents.phones import parse_phone
from tests import factories

pytestmark = pytest.mark.django_db

migration = importlib.import_module("incidents.migrations.0018_customer_phone_e164")


@pytest.mark.parametrize("typed, stored", [
    ("020 7946 0018", "+442079460018"),  # national, read in PHONENUMBER_DEFAULT_REGION (GB)
    ("+44 (0)20 7946 0018", "+442079460018"),
    ("+1 415-555-2671", "+14155552671"),
    ("", ""),
])
def test_a_number_is_stored_in_e164_however_it_is_typed(typed, stored):
    assert parse_phone(typed) == stored


def test_a_number_read_in_another_default_region(settings):
    settings.PHONENUMBER_DEFAULT_REGION = "US"
    assert parse_phone("(415) 555-2671") == "+14155552671"


@pytest.mark.parametrize("typed", ["12", "call reception", "+44 1", "0123 456"])
def test_what_is_not_a_number_is_refused(typed):
    with pytest.raises(Exception, match="Enter a phone number we can call or text"):
        parse_phone(typed)
    assert parse_phone(typed, strict=False) == ""


def test_the_service_stores_a_new_customers_number_in_e164_and_refuses_a_bad_one(organization):
    customer = services.customer_from_details(organization, name="Ada", phone="020 7946 0018")
    assert customer.phone == "+442079460018"
    with pytest.raises(services.RecoveryError) as refused:
        services.customer_from_details(organization, name="Ada", phone="call reception")
    assert refused.value.field_errors["phone"] == ["Enter a phone number we can call or text, e.g. +44 20 7946 0018 "
                                                   "(or leave it empty)."]


def test_the_log_a_failure_page_refuses_a_bad_number_next_to_the_field(client, frontline, location):
    client.force_login(frontline)
    response = client.post("/log/", {"form_token": "3f1c2d2e-0000-4000-8000-000000000001", "customer_name": "Ada",
                                     "customer_phone": "call reception", "summary": "Cold soup",
                                     "channel": "in_person", "location": location.pk})
    assert response.status_code == 400
    assert "Enter a phone number we can call or text" in response.content.decode()
    assert not Customer.objects.exists()


def test_the_page_stores_a_national_number_in_e164(client, frontline, location):
    client.force_login(frontline)
    response = client.post("/log/", {"form_token": "3f1c2d2e-0000-4000-8000-000000000002", "customer_name": "Ada",
                                     "customer_phone": "020 7946 0018", "summary": "Cold soup",
                                     "channel": "in_person", "location": location.pk})
    assert response.status_code == 302
    assert Customer.objects.get().phone == "+442079460018"


def test_the_search_finds_a_customer_by_the_number_typed_any_way(client, frontline, organization):
    factories.CustomerFactory(organization=organization, name="Ada", phone="+442079460018")
    factories.CustomerFactory(organization=organization, name="Grace", phone="+442079461234")
    client.force_login(frontline)
    for typed in ["020 7946 0018", "+44 20 7946 0018", "0018", "020 7946 00"]:
        found = client.get("/customers/search.json", {"q": typed}).json()["customers"]
        assert [customer["name"] for customer in found] == ["Ada"], typed
        assert found[0]["phone"] == "+442079460018"


def test_the_api_refuses_a_bad_number_with_the_fields_name(organization, location):
    from helpdesk.serializers import CustomerInput

    serializer = CustomerInput(data={"name": "Ada", "phone": "call reception"})
    assert not serializer.is_valid()
    assert "Enter a phone number we can call or text" in str(serializer.errors["phone"][0])
    assert CustomerInput(data={"name": "Ada", "phone": "020 7946 0018"}).is_valid()


def test_the_migration_rewrites_numbers_in_e164_and_keeps_what_is_not_one(organization):
    """The migration's data step, on the customer table as it stands between its two schema steps."""
    state = MigrationLoader(connection).project_state(("incidents", "0017_message_event_kinds"))
    migration.Migration.operations[0].state_forwards("incidents", state)  # phone_as_given added
    OldCustomer = state.apps.get_model("incidents", "Customer")
    rows = {typed: OldCustomer.objects.create(organization_id=organization.pk, name=typed or "none", phone=typed).pk
            for typed in ["020 7946 0018", "+1 415 555 2671", "call reception", "+44 1", ""]}

    migration.to_e164(state.apps, None)

    stored = {typed: OldCustomer.objects.values_list("phone", "phone_as_given").get(pk=pk) for typed, pk in rows.items()}
    assert stored == {
        "020 7946 0018": ("+442079460018", ""),
        "+1 415 555 2671": ("+14155552671", ""),
        "call reception": ("", "call reception"),  # not a number: kept beside, never texted
        "+44 1": ("", "+44 1"),
        "": ("", ""),
    }
    migration.back(state.apps, None)
    assert OldCustomer.objects.get(pk=rows["call reception"]).phone == "call reception"
