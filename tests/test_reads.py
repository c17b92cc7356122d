"""Reads that stay fast as the organization grows: the API's incident list reads a page from an index
of the caller's own rows (never a subquery of every visible id), pages keep one order through ties and
deep cursors, and the customer search ranks exact and prefix matches first, served on PostgreSQL by
trigram indexes (migration 0021) and on SQLite by the same query without them.

bench/reads.py measures these at 100k and 1M incidents; these tests hold the shapes that make it flat."""

import datetime
import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from helpdesk import services as api_services
from incidents import services
from incidents.models import Customer
from incidents.selectors import search_customers
from tests import factories
from tests.conftest import START

on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="plans and trigram indexes are PostgreSQL's")


def list_query(http, url):
    """(answer, the SQL of the page's own SELECT from the incident table) for one GET of the list."""
    with CaptureQueriesContext(connection) as queries:
        response = http.get(url)
    assert response.status_code == 200, response.json()
    pages = [query["sql"] for query in queries if re.search(r'FROM "incidents_incident"\s+INNER JOIN', query["sql"])]
    assert len(pages) == 1, [query["sql"] for query in queries]
    return response, pages[0], len(queries)


@pytest.fixture
def api(organization, settings):
    """The helpdesk integration's HTTP client, counting its rate in a key space of its own."""
    settings.API_RATE_LIMIT_PREFIX = f"test-reads-{uuid.uuid4().hex}"
    _, key = api_services.create_api_client(organization=organization, name="Helpdesk")
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return http


@pytest.fixture
def signed_in():
    def sign_in(user):
        http = APIClient()
        http.force_login(user)
        return http
    return sign_in


@pytest.fixture
def busy(organization, location, other_location, frontline, clock_at_start):
    """Three incidents at each location, a minute apart, and one elsewhere the frontline helps on."""
    colleague = factories.UserFactory(username="cole", organization=organization, locations=[other_location])
    manager = factories.UserFactory(username="max", organization=organization, role="manager",
                                    locations=[location, other_location])
    rows = []
    for minute in range(3):
        rows.append(factories.log_incident(user=frontline, location=location, now=START + datetime.timedelta(minutes=minute)))
        rows.append(factories.log_incident(user=colleague, location=other_location,
                                           now=START + datetime.timedelta(minutes=minute, seconds=30)))
    helped = rows[-1]
    services.add_helper(helped, by=manager, helper=frontline)
    return {"rows": rows, "helped": helped, "colleague": colleague, "manager": manager}


# --- The list's own query ------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin", "frontline", "api client"])
def test_the_list_names_the_organization_in_its_own_query_never_a_subquery_of_visible_ids(who, organization, frontline,
                                                                                            busy, signed_in, api):
    admin = factories.UserFactory(username="ada", organization=organization, role="admin")
    http = {"admin": signed_in(admin), "frontline": signed_in(frontline), "api client": api}[who]

    _, sql, _ = list_query(http, "/api/v1/incidents/")

    outer_where = sql.split(" WHERE ", 1)[1]
    assert f'"incidents_incident"."organization_id" = {organization.pk}' in outer_where
    # pk__in=<visible ids> leaves the outer query without the organization: PostgreSQL then sorts every
    # incident of every organization for each page.
    assert not re.search(r'"incidents_incident"\."id" IN \(SELECT (U0|V0)\."id" FROM "incidents_incident"', sql)
    assert "DISTINCT" not in sql
    assert re.search(r'ORDER BY "incidents_incident"\."logged_at" DESC, "incidents_incident"\."id" DESC', sql)


def test_the_list_asks_the_same_few_queries_whatever_the_number_of_incidents(api, frontline, location, clock_at_start):
    factories.log_incident(user=frontline, location=location)
    _, _, few = list_query(api, "/api/v1/incidents/")
    for minute in range(12):
        factories.log_incident(user=frontline, location=location, now=START + datetime.timedelta(minutes=minute + 1))

    response, _, many = list_query(api, "/api/v1/incidents/")

    assert len(response.json()["results"]) == 13
    assert many == few


def test_a_frontline_list_shows_own_locations_and_helped_incidents_each_once(frontline, busy, signed_in):
    incident = busy["rows"][0]  # at the frontline's own location: a second helper must not repeat it
    services.add_helper(incident, by=busy["manager"], helper=busy["colleague"])
    services.add_helper(incident, by=busy["manager"], helper=factories.UserFactory(
        organization=frontline.organization, locations=[incident.location]))

    rows = signed_in(frontline).get("/api/v1/incidents/?page_size=200").json()["results"]

    ids = [row["id"] for row in rows]
    assert sorted(ids) == sorted([row.pk for row in busy["rows"][0::2]] + [busy["helped"].pk])
    assert len(ids) == len(set(ids))


def test_rows_logged_in_the_same_instant_keep_one_order_across_pages(api, frontline, location, clock_at_start):
    same = [factories.log_incident(user=frontline, location=location, now=START) for _ in range(5)]

    seen, url = [], "/api/v1/incidents/?page_size=2"
    while url:
        page = api.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    oldest_first = [row["id"] for row in api.get("/api/v1/incidents/?ordering=logged_at").json()["results"]]

    assert seen == sorted(row.pk for row in same)[::-1]
    assert oldest_first == sorted(row.pk for row in same)


def test_a_deep_cursor_reads_from_its_position_not_an_offset(api, busy):
    page, url = None, "/api/v1/incidents/?page_size=2"
    for _ in range(2):
        page = api.get(url).json()
        url = page["next"]

    response, sql, _ = list_query(api, url)

    # The third page starts where the second ended: a condition on logged_at, not rows skipped.
    assert re.search(r'"incidents_incident"\."logged_at" < ', sql)
    assert "OFFSET" not in sql
    assert [row["id"] for row in response.json()["results"]] == [row.pk for row in busy["rows"][:2]][::-1]


# --- Every filter has an index path (PostgreSQL) -------------------------------------------------


def plan_of(sql, params=(), keep=()):
    """The plan PostgreSQL picks once the table is big, asked on a test's few rows: sequential scans
    and sorts priced out, and the table's other plain indexes dropped for the test's transaction (on a
    few rows the organization's index is as good as any), so what is left is the index meant to serve."""
    table = re.search(r'FROM "(\w+)"', sql).group(1)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indexrelid::regclass::text FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid "
            "WHERE i.indrelid = %s::regclass AND c.oid IS NULL", [table])
        for (index,) in cursor.fetchall():
            if index not in keep:
                cursor.execute(f'DROP INDEX "{index}"')  # undone with the test's transaction
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + sql, params or None)
        plan = "\n".join(line for (line,) in cursor.fetchall())
        cursor.execute("RESET ALL")
    return plan


@on_postgresql
@pytest.mark.parametrize("query, index", [
    ("", "incident_org_logged_id"),
    ("ordering=logged_at", "incident_org_logged_id"),
    ("open=true", "incident_org_open_logged"),
    ("updated_since=2026-03-04T13:00:00Z&ordering=-updated_at", "incident_org_updated"),
    ("location=riverside", "incident_location_logged_id"),
])
def test_each_documented_filter_reads_a_page_from_its_index_with_no_sort(query, index, api, busy):
    _, sql, _ = list_query(api, f"/api/v1/incidents/?{query}")

    plan = plan_of(sql, keep={index})

    assert index in plan, plan
    assert not re.search(r"^\s*(->\s*)?Sort\b", plan, re.MULTILINE), plan


# --- Customer search -----------------------------------------------------------------------------


@pytest.fixture
def customers(organization):
    def add(name, email="", phone="", flagged=False):
        customer = factories.CustomerFactory(organization=organization, name=name, email=email, phone=phone)
        if flagged:
            services.flag_customer(customer, note="Cold soup")
        return customer
    return add


def names(user, query):
    return [customer.name for customer in search_customers(user, query)]


def test_search_ranks_exact_then_prefix_then_the_rest_flagged_first_within_each(frontline, customers):
    customers("Joanna Bell", flagged=True)
    customers("Anna", email="anna@example.com")
    customers("Annabel Lee")
    customers("Anne Hall", flagged=True)
    customers("Hanna Dee")

    assert names(frontline, "anna") == ["Anna", "Annabel Lee", "Joanna Bell", "Hanna Dee"]
    assert names(frontline, "ann") == ["Anne Hall", "Anna", "Annabel Lee", "Joanna Bell", "Hanna Dee"]
    assert names(frontline, "anna@example.com") == ["Anna"]


def test_two_letters_find_only_names_that_start_with_them(frontline, customers):
    customers("Ada Byron")
    customers("Grace", email="adagio@example.com")
    customers("Nadal")

    assert names(frontline, "ad") == ["Ada Byron"]
    assert names(frontline, "a") == []
    assert names(frontline, "ada") == ["Ada Byron", "Grace", "Nadal"]  # three: inside names and emails too


def test_a_page_of_names_that_start_with_the_query_leaves_the_rest_out(frontline, customers):
    for number in range(10):
        customers(f"Mara {number}")
    customers("Omar Flagged", flagged=True)  # contains it, does not start with it

    found = names(frontline, "mar")

    assert found == [f"Mara {number}" for number in range(8)]


def test_search_finds_a_phone_fragment_typed_with_spaces_and_only_this_organizations(frontline, customers):
    customers("Ada", phone="+442079460018")
    customers("Grace", phone="+442079461234")
    factories.CustomerFactory(name="Ada Elsewhere", phone="+442079460018")

    assert names(frontline, "7946 00") == ["Ada"]
    assert names(frontline, "020 7946 0018") == ["Ada"]
    assert names(frontline, "7946") == ["Ada", "Grace"]


def test_search_as_you_type_answers_the_form_with_the_ranked_customers(client, frontline, customers):
    customers("Mara Flagged", flagged=True)
    customers("Mar")
    client.force_login(frontline)

    found = client.get("/customers/search.json", {"q": "mar"}).json()["customers"]

    assert [customer["name"] for customer in found] == ["Mar", "Mara Flagged"]
    assert found[1]["care_flag"] is True


SEARCH_INDEXES = {"customer_name_trgm", "customer_email_trgm", "customer_phone_trgm", "customer_name_prefix",
                  "customer_email_any_case"}


@on_postgresql
@pytest.mark.parametrize("query", ["ria", "ma", "7946 00", "020 7946 0018", "anna@example.com"])
def test_every_query_of_the_search_is_served_by_its_index(frontline, customers, query):
    customers("Anna", email="anna@example.com", phone="+442079460018")
    with CaptureQueriesContext(connection) as queries:
        search_customers(frontline, query)
    asked = [query["sql"] for query in queries if 'FROM "incidents_customer"' in query["sql"]]
    assert asked

    for sql in asked:
        plan = plan_of(sql, keep=SEARCH_INDEXES)
        assert "Seq Scan" not in plan, plan


@on_postgresql
def test_names_that_start_with_the_query_are_read_in_order_from_the_prefix_index(frontline, customers):
    customers("Maria")
    with CaptureQueriesContext(connection) as queries:
        search_customers(frontline, "mar")
    prefix = [query["sql"] for query in queries if 'ORDER BY UPPER("incidents_customer"."name"' in query["sql"]]

    assert len(prefix) == 3  # open care flags, then no flag, then lapsed flags
    for sql in prefix:
        plan = plan_of(sql, keep=SEARCH_INDEXES - {"customer_email_any_case"})
        assert "customer_name_prefix" in plan, plan
        assert "Sort" not in plan, plan  # in the index's order: it stops after a page


def test_the_trigram_indexes_exist_on_postgresql_only(db):
    with connection.cursor() as cursor:
        indexes = {index for index, in_table in connection.introspection.get_constraints(cursor, Customer._meta.db_table).items()
                   if in_table["index"]}
    trigram = {"customer_name_trgm", "customer_email_trgm", "customer_phone_trgm", "customer_name_prefix"}
    if connection.vendor == "postgresql":
        assert trigram <= indexes
    else:
        assert not trigram & indexes
