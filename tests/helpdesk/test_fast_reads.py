"""The API's hand-written reads build the instances the ORM builds, follow the record's rules, select every
column of their tables, and keep nothing on the connection that a migration could turn into an error."""

import datetime

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from incidents import services
from helpdesk import fast_reads, tokens
from helpdesk.models import ApiClient, ApiToken
from incidents.models import Category, Customer, Incident, Location, Organization, User
from tests import factories

pytestmark = pytest.mark.django_db

READ_MODELS = [ApiToken, Token, User, ApiClient, Location, Organization, Customer]


def field_values(instance):
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def names(location, *, label="", ticket="", external_id="", email=""):
    return fast_reads.names_for_create(
        organization_id=location.organization_id, code=location.code, label=label, ticket=ticket,
        external_id=external_id, email=email,
    )


def test_the_token_read_builds_what_select_related_builds_and_caches_the_client(helpdesk, django_assert_num_queries):
    expected = ApiToken.objects.select_related("client__user").get(key_hash=tokens.hash_of(helpdesk.key))

    with django_assert_num_queries(1):
        token, user, client = fast_reads.token(helpdesk.key)

    assert field_values(token) == field_values(expected)
    assert field_values(client) == field_values(expected.client)
    assert field_values(user) == field_values(expected.client.user)
    assert isinstance(user.date_joined, datetime.datetime) and user.date_joined.tzinfo is not None
    with django_assert_num_queries(0):
        assert token.client is client and client.user is user and user.api_client is client


def test_a_revoked_or_expired_token_is_still_read_so_the_answer_can_say_so(helpdesk):
    token = helpdesk.tokens.get()
    tokens.revoke(token)

    found, _, _ = fast_reads.token(helpdesk.key)

    assert found.pk == token.pk and found.revoked_at == ApiToken.objects.get().revoked_at


def test_a_staff_token_has_no_client_and_asking_for_one_asks_no_query(frontline, django_assert_num_queries):
    key = Token.objects.create(user=frontline).key

    with django_assert_num_queries(1):
        token, user, client = fast_reads.token(key)

    assert client is None and user.pk == frontline.pk
    assert field_values(token) == field_values(Token.objects.get(key=key))
    with django_assert_num_queries(0), pytest.raises(User.api_client.RelatedObjectDoesNotExist):
        user.api_client
    assert token.user is user
    assert fast_reads.token("no-such-key") is None


def test_the_names_read_builds_what_the_orm_builds(organization, frontline):
    location = factories.LocationFactory(organization=organization, code="pier", opens_at=datetime.time(7, 30))
    customer = factories.CustomerFactory(organization=organization, care_flag=True, external_id="C-1")
    category = Category.objects.create(organization=organization, name="Kitchen")
    logged = factories.log_incident(user=frontline, location=location, external_id="T-9")

    place, owner, found, category_id, category_name, ticket_id, reference = names(
        location, label="kitchen", ticket="T-9", external_id="C-1"
    )

    assert field_values(place) == field_values(Location.objects.get(pk=location.pk))
    assert field_values(owner) == field_values(Organization.objects.get(pk=organization.pk))
    assert field_values(found) == field_values(Customer.objects.get(pk=customer.pk))
    # Times, durations and decimals arrive converted, not as the backend's raw values.
    assert isinstance(place.opens_at, datetime.time) and isinstance(owner.follow_up_window, datetime.timedelta)
    assert place.organization is owner
    assert (category_id, category_name) == (category.pk, "Kitchen")
    assert (ticket_id, reference) == (logged.pk, Incident.objects.get(pk=logged.pk).reference)

    _, _, nobody, no_category, _, no_ticket, _ = names(location, label="Bar", ticket="T-0", email="nobody@example.com")
    assert nobody is None and no_category is None and no_ticket is None
    assert fast_reads.names_for_create(
        organization_id=organization.pk, code="nowhere", label="", ticket="", external_id="", email=""
    ) is None


@pytest.mark.parametrize(
    "details",
    [
        {"external_id": "C-1"},
        {"external_id": "C-1", "email": "second@example.com"},  # the external id comes first
        {"external_id": "C-404", "email": "SHARED@example.com"},  # an unknown id falls back to the email
        {"email": "shared@example.com"},  # several share it: the first saved
        {"email": "nobody@example.com"},
        {"external_id": "", "email": ""},
    ],
)
def test_the_names_read_finds_the_customer_the_record_finds(organization, location, details):
    factories.CustomerFactory(organization=organization, email="shared@example.com", external_id="C-1")
    factories.CustomerFactory(organization=organization, email="Shared@example.com")
    factories.CustomerFactory(organization=organization, email="second@example.com")
    factories.CustomerFactory(organization=factories.OrganizationFactory(), email="shared@example.com", external_id="C-404")
    details = {"external_id": "", "email": "", **details}

    found = names(location, **details)[2]
    expected = services.known_customer(organization, **details)

    assert (found and found.pk) == (expected and expected.pk)


@pytest.mark.parametrize("model", READ_MODELS, ids=lambda model: model.__name__)
def test_each_read_selects_exactly_the_columns_of_its_table(model):
    """A migration that adds, drops or renames a column without the model saying so fails here, not as
    a server error on the next request."""
    with connection.cursor() as cursor:
        in_table = {column.name for column in connection.introspection.get_table_description(cursor, model._meta.db_table)}

    assert set(fast_reads.selected_columns(model)) == in_table

