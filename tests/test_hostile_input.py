"""Hostile input through every door answers 4xx (or a page), never a server error.

Walks every URL pattern with hostile path values, the API's list parameters, the console's filters
and the admin's changelists with each class of hostile value, as a manager, as a superuser and as
an API client. A probe that answers 5xx, or raises, is listed in the failure message.
"""

import json

import pytest
from django.contrib import admin
from django.db import connection, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from helpdesk import services as api_services
from incidents.models import Incident, Location
from tests import factories

pytestmark = pytest.mark.django_db

NUL = "\x00"
HUGE = "9" * 30
# What an attacker puts where an id, a reference or a step name goes.
PATH_VALUES = [f"a{NUL}b", HUGE, "-1", "../../etc/passwd", "☃𝔘\u202e", "a" * 1000]
# Query-string dates at and beyond the edges of the calendar.
EDGE_MOMENTS = ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59Z",
                "9999-12-31T23:59:59-05:00", "0001-01-01", "9999-12-31", "10000-01-01", "1999-12-31T23:59:59Z"]
EDGE_DAYS = ["0001-01-01", "9999-12-31", "0000-00-00", "1-1-1", "2026-02-30"]
# Not base64; p= (empty), p=notadate, p=99…9, r=1&p=0001-01-01 00:00; not ASCII.
UNDECODABLE = [NUL, "!!!", "cD0=", "cD1ub3RhZGF0ZQ==", "cD05OTk5OTk5OTk5OTk5OTk5OTk5OTk5OQ==",
               "cj0xJnA9MDAwMS0wMS0wMSswMCUzQTAw", "\u2603"]
BAD_CURSORS = ["", *UNDECODABLE, "bz05OTk5OTk5OTk5OTk5OTk5OTk5OTk=", "o=-1"]  # o=99…9
SIZES = [HUGE, "-1", "0", NUL, "1e309", "NaN"]
SCALARS = [f"x{NUL}", HUGE, "-" + HUGE, EDGE_MOMENTS[0], "☃", "a" * 5000]


def deep(depth, leaf="x"):
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def deep_dict(depth):
    value = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def raw_deep(depth):
    return "[" * depth + "]" * depth


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(organization, location, manager, customer, clock_at_start):
    """One incident with every step's record missing, an owner, a customer and a manager to see it."""
    frontline = factories.UserFactory(username="fran", organization=organization, locations=[location])
    incident = factories.log_incident(user=frontline, location=location, customer=customer)
    return {"incident": incident, "manager": manager, "frontline": frontline}


@pytest.fixture
def as_manager(world):
    client = Client(raise_request_exception=True)
    client.force_login(world["manager"])
    return client


@pytest.fixture
def as_superuser(organization):
    user = factories.UserFactory(username="root", organization=organization, role="admin",
                                 is_staff=True, is_superuser=True)
    client = Client(raise_request_exception=True)
    client.force_login(user)
    return client


@pytest.fixture
def as_api(organization, world):
    api_client, key = api_services.create_api_client(organization=organization, name="Helpdesk")
    client = APIClient(raise_request_exception=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


class Probes:
    """Sends requests and keeps those answered with 5xx or an exception."""

    def __init__(self):
        self.failed = []

    def send(self, client, method, path, *, label="", **kwargs):
        if isinstance(kwargs.get("data"), dict):
            label = f"{kwargs['data']!r:.100} {label}"
        try:
            # A savepoint per probe: a statement PostgreSQL refused must not poison the next probe.
            with transaction.atomic():
                response = getattr(client, method)(path, **kwargs)
        except Exception as error:  # noqa: BLE001 - reported below, whatever it is
            self.failed.append(f"{method.upper()} {path!r} {label}-> {type(error).__name__}: {str(error)[:120]}")
            return None
        if response.status_code >= 500:
            self.failed.append(f"{method.upper()} {path!r} {label}-> {response.status_code}")
        return response

    def check(self):
        assert not self.failed, f"{len(self.failed)} probes failed:\n" + "\n".join(self.failed)


@pytest.fixture
def probes():
    return Probes()


# --- Every URL pattern, with hostile path values ---------------------------------------------------


def _routes(resolver=None, prefix=""):
    """(route template with {name} holes, parameter names) for every pattern the project serves."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = _template(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern, prefix + route)
        elif isinstance(pattern, URLPattern):
            yield prefix + route


def _template(pattern):
    import re

    text = str(pattern).removeprefix("^").removesuffix("$").replace("\\Z", "")
    text = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", text)  # path("<int:pk>/")
    text = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", text)  # re_path("(?P<app_label>a|b)/")
    return text.replace("\\", "")


ROUTES = sorted(set(_routes()))


def _filled(route, value):
    import re
    from urllib.parse import quote

    return "/" + re.sub(r"\{\w+\}", quote(value, safe="", errors="surrogatepass"), route)


@pytest.mark.parametrize("route", ROUTES)
def test_every_address_with_hostile_path_values_answers_below_500(route, as_manager, as_superuser, as_api, probes):
    clients = [("manager", as_manager)]
    if route.startswith("admin/"):
        clients.append(("superuser", as_superuser))
    if route.startswith("api/"):
        clients.append(("api", as_api))
    values = PATH_VALUES if "{" in route else [""]
    for name, client in clients:
        for value in values:
            path = _filled(route, value)
            probes.send(client, "get", path, label=f"as {name} ")
            if value in values[:2]:  # a NUL and a huge number reach every POST handler
                probes.send(client, "post", path, label=f"as {name} ", data={"q": NUL, "next": NUL})
    probes.check()


def test_the_walk_reaches_every_door():
    """The walk above is only as good as its list of addresses."""
    assert {"incidents/{reference}/{step}/", "api/v1/incidents/{pk}/", "manage/trends/",
            "admin/incidents/incident/{object_id}/change/"} <= set(ROUTES)


# --- The API's list parameters ----------------------------------------------------------------------

API_LISTS = {
    "/api/v1/incidents/": ["stage", "open", "overdue", "location", "owner", "external_id", "updated_since",
                           "ordering", "cursor", "page_size"],
    "/api/v1/customers/": ["email", "external_id", "cursor", "page_size"],
}


@pytest.mark.parametrize("path", sorted(API_LISTS))
def test_the_api_lists_answer_below_500_whatever_their_parameters(path, as_api, as_manager, probes):
    for client in (as_api, as_manager):
        for parameter in API_LISTS[path]:
            values = {"cursor": BAD_CURSORS, "page_size": SIZES, "updated_since": EDGE_MOMENTS}.get(parameter, SCALARS)
            for value in values:
                probes.send(client, "get", path, data={parameter: value})
        probes.send(client, "get", path, data={"updated_since": EDGE_MOMENTS[0], "ordering": "updated_at"})
        probes.send(client, "get", path, data={"cursor": UNDECODABLE[5], "ordering": "-updated_at"})
    probes.check()


def test_a_cursor_that_does_not_decode_answers_400_in_the_api_shape(as_api):
    for path in ("/api/v1/incidents/", "/api/v1/customers/"):
        for cursor in UNDECODABLE:
            response = as_api.get(path, {"cursor": cursor})
            assert response.status_code == 400, (cursor, response.status_code)
            assert set(response.json()) == {"type", "title", "status", "detail", "code", "message", "errors"}


def test_a_cursor_of_the_wrong_type_for_its_ordering_answers_400(as_api):
    # "p=notadate" orders by logged_at, a datetime
    response = as_api.get("/api/v1/incidents/", {"cursor": UNDECODABLE[3]})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor"


def test_a_date_at_the_edge_of_the_calendar_is_refused_with_a_clear_message(as_api):
    response = as_api.get("/api/v1/incidents/", {"updated_since": "0001-01-01T00:00:00Z"})
    assert response.status_code == 400
    assert "2000" in response.json()["errors"]["updated_since"][0]


# --- Bodies: deep, NUL-laden, remembered -----------------------------------------------------------

WRITE_ENDPOINTS = [("post", "/api/v1/incidents/"), ("patch", "/api/v1/incidents/{pk}/"),
                   *[("post", f"/api/v1/incidents/{{pk}}/{step}/")
                     for step in ("apology", "review", "fix", "follow-ups", "deposition", "outcome")],
                   ("post", "/api/v1/webhooks/")]


def _bodies():
    yield "deep list", raw_deep(5000)
    yield "deep dict", '{"a":' * 5000 + "1" + "}" * 5000
    yield "deep under a field", json.dumps({"customer": {"name": deep(40)}, "summary": deep_dict(40)})
    yield "40 levels", json.dumps(deep(40))
    yield "NUL value", json.dumps({"customer": {"name": NUL}, "summary": f"a{NUL}b", "note": NUL, "owner": NUL})
    yield "NUL key", json.dumps({NUL: 1, "customer": {f"n{NUL}": "x"}})
    yield "edge dates", json.dumps({"occurred_at": "0001-01-01T00:00:00+14:00", "at": "9999-12-31T23:59:59-12:00"})
    yield "huge numbers", json.dumps({"expected_version": int(HUGE), "satisfaction": int(HUGE), "cost": HUGE})


@pytest.mark.parametrize("method,route", WRITE_ENDPOINTS)
def test_hostile_bodies_answer_below_500(method, route, world, as_api, probes):
    path = route.format(pk=world["incident"].pk)
    for label, body in _bodies():
        for headers in ({}, {"HTTP_IDEMPOTENCY_KEY": f"key-{label}"}, {"HTTP_IDEMPOTENCY_KEY": f"k{NUL}"},
                        {"HTTP_IF_MATCH": NUL}):
            probes.send(as_api, method, path, label=f"[{label}] {headers} ", data=body,
                        content_type="application/json", **headers)
    probes.check()


def test_a_body_nested_deeper_than_32_levels_answers_400(as_api, world):
    for body in (raw_deep(33), raw_deep(5000), json.dumps({"customer": {"name": deep(40)}})):
        response = as_api.post("/api/v1/incidents/", data=body, content_type="application/json")
        assert response.status_code == 400, response.content[:200]
        assert response.json()["code"] == "parse_error"
    shallow = as_api.post("/api/v1/incidents/", data=json.dumps(deep(31)), content_type="application/json")
    assert shallow.status_code == 400 and shallow.json()["type"] != "parse_error"


def test_nul_in_a_json_body_is_refused(as_api, world):
    body = {"customer": {"name": "Ada"}, "summary": f"Soup{NUL}", "channel": "in_person", "category": "K",
            "location": "riverside"}
    response = as_api.post("/api/v1/incidents/", body, format="json")
    assert response.status_code == 400
    response = as_api.post("/api/v1/incidents/", {**body, "summary": "Soup", NUL: 1}, format="json",
                           HTTP_IDEMPOTENCY_KEY="nul-key")
    assert response.status_code == 400


# --- The console's filters and the admin's changelists ----------------------------------------------

CONSOLE = ["/manage/", "/manage/scorecard/", "/manage/trends/", "/manage/incidents/", "/manage/export.csv"]
CONSOLE_FILTERS = ["location", "region", "owner", "logged_by", "stage", "category", "busyness", "channel",
                   "overdue", "weekday", "hour", "by", "sort", "dir", "page", "partial"]


@pytest.mark.parametrize("path", CONSOLE)
def test_the_console_answers_below_500_whatever_its_filters(path, as_manager, probes):
    for day in EDGE_DAYS + [NUL]:
        probes.send(as_manager, "get", path, data={"start": day})
        probes.send(as_manager, "get", path, data={"end": day})
    probes.send(as_manager, "get", path, data={"start": "0001-01-01", "end": "9999-12-31"})
    probes.send(as_manager, "get", path, data={"start": "9999-12-31", "end": "0001-01-01"})
    for name in CONSOLE_FILTERS:
        for value in SCALARS:
            probes.send(as_manager, "get", path, data={name: value})
    probes.check()


def test_a_console_date_beyond_the_range_is_a_field_error(as_manager):
    response = as_manager.get("/manage/scorecard/", {"start": "0001-01-01", "end": "9999-12-31"})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "2000" in errors["start"][0] and "2100" in errors["end"][0]


def _changelists():
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        filters = [name for name in model_admin.list_filter if isinstance(name, str)]
        relations = {name for name in filters if meta.get_field(name.split("__")[0]).is_relation}
        yield f"/admin/{meta.app_label}/{meta.model_name}/", filters, relations


def test_the_admin_changelists_answer_below_500_whatever_their_filters(as_superuser, probes):
    for path, filters, relations in _changelists():
        for query in ({"q": NUL}, {"q": f"a{NUL}"}, {"p": HUGE}, {"o": NUL}, {"o": HUGE}, {"e": NUL},
                      {"_changelist_filters": NUL}):
            probes.send(as_superuser, "get", path, data=query)
        for name in filters:
            for lookup in ("__exact", "__id__exact", "__isnull", ""):
                for value in (NUL, HUGE, "☃"):
                    if value == HUGE and name in relations and connection.vendor == "sqlite":
                        # SQLite cannot bind an integer past 64 bits to a foreign key's lookup (Django
                        # checks the range for integer fields, not relations); PostgreSQL, which
                        # production runs, compares it as a number and finds nothing.
                        continue
                    probes.send(as_superuser, "get", path, data={name + lookup: value})
    probes.check()


# --- Bad rows already stored -------------------------------------------------------------------------


def test_an_incident_stored_with_an_occurred_at_of_year_one_still_has_pages(world, as_manager, as_api, probes):
    import datetime

    incident = world["incident"]
    Incident.objects.filter(pk=incident.pk).update(
        occurred_at=datetime.datetime(1, 1, 1, tzinfo=datetime.timezone.utc))
    # West of UTC, year 1 in local time is year 0, which Python's calendar does not have.
    Location.objects.filter(pk=incident.location_id).update(timezone="America/New_York")
    probes.send(as_manager, "get", f"/incidents/{incident.reference}/")
    for path in CONSOLE:
        probes.send(as_manager, "get", path)
    probes.send(as_api, "get", f"/api/v1/incidents/{incident.pk}/")
    probes.send(as_api, "get", "/api/v1/incidents/")
    probes.check()


def test_an_occurred_at_before_2000_or_in_the_future_is_refused(as_api, world):
    from tests.helpdesk.conftest import new_incident_body

    for moment in ("0001-01-01T00:00:00Z", "1999-12-31T23:59:59Z", "2026-03-04T15:00:00Z", "9999-12-31T23:59:59Z"):
        response = as_api.post("/api/v1/incidents/", new_incident_body(occurred_at=moment), format="json")
        assert response.status_code == 400, (moment, response.content)
        assert list(response.json()["errors"]) == ["occurred_at"]
    near = as_api.post("/api/v1/incidents/", new_incident_body(occurred_at="2026-03-04T14:01:30Z"), format="json")
    assert near.status_code == 201, near.content  # within the clock skew of a helpdesk's server


def test_a_nul_in_the_address_the_query_or_a_form_is_refused_before_any_view(as_manager, as_superuser, as_api):
    # PostgreSQL refuses NUL in text: it must never reach a statement, on any door.
    assert as_manager.get("/customers/", {"q": NUL}).status_code == 400
    assert as_manager.get(f"/incidents/A{NUL}/").status_code == 400
    assert as_manager.post("/log/", {"customer_name": f"Ada{NUL}"}).status_code == 400
    assert as_superuser.get("/admin/incidents/customer/", {"q": NUL}).status_code == 400
    response = as_api.get("/api/v1/incidents/", {"external_id": NUL})
    assert response.status_code == 400 and response.json()["code"] == "bad_request"


# --- Control characters in what reaches a mail header ------------------------------------------------


@pytest.mark.parametrize("name", ["Ada\nBcc: all@example.com", "Ada\rLovelace", "Ada\tLovelace", "Ada\x1b[31m",
                                  "Ada\u2028Lovelace", "Ada\x85Lovelace"])
def test_a_name_or_label_with_a_line_break_or_control_is_refused_by_the_api(as_api, world, name):
    from tests.helpdesk.conftest import new_incident_body

    for body in (new_incident_body(customer={"name": name}), new_incident_body(category=name),
                 new_incident_body(summary=name)):
        response = as_api.post("/api/v1/incidents/", body, format="json")
        assert response.status_code == 400, response.content
        assert response.json()["code"] == "validation_error"
    assert Incident.objects.count() == 1  # the world's own


def test_the_log_form_refuses_a_name_with_a_line_break_and_reads_enter_in_the_summary_as_a_space(
        as_manager, location):
    import uuid

    form = {"form_token": str(uuid.uuid4()), "customer_name": "Ada\nBcc: all@example.com",
            "summary": "Soup cold.\r\nCustomer upset.", "channel": "in_person", "location": location.pk}
    refused = as_manager.post("/log/", form)
    assert refused.status_code == 400
    assert "one line" in refused.context["form"].errors["customer_name"][0]
    logged = as_manager.post("/log/", {**form, "customer_name": "Ada Lovelace"})
    assert logged.status_code == 302
    assert Incident.objects.latest("pk").summary == "Soup cold. Customer upset."


def test_multi_line_text_keeps_line_breaks_and_refuses_other_controls(as_api, world):
    path = f"/api/v1/incidents/{world['incident'].pk}/apology/"
    refused = as_api.post(path, {"channel": "in_person", "text": "Sor\x0bry"}, format="json")
    assert refused.status_code == 400 and list(refused.json()["errors"]) == ["text"]
    kept = as_api.post(path, {"channel": "in_person", "text": "I'm sorry.\n\tIt should not have happened."},
                       format="json")
    assert kept.status_code == 201
