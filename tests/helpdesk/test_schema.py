"""The OpenAPI schema, the browsable docs, and a bounded schemathesis run against the schema."""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.test import APIClient
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests import factories

pytestmark = pytest.mark.django_db


def test_the_schema_is_openapi_3_with_every_endpoint(db):
    response = APIClient().get("/api/v1/schema/?format=json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = set(schema["paths"])
    for step in ("apology", "review", "fix", "follow-ups", "deposition", "outcome", "timeline"):
        assert f"/api/v1/incidents/{{id}}/{step}/" in paths
    assert {"/api/v1/incidents/", "/api/v1/incidents/{id}/", "/api/v1/customers/", "/api/v1/customers/{id}/"} <= paths
    create = schema["paths"]["/api/v1/incidents/"]["post"]
    assert create["requestBody"]["content"]["application/json"]["examples"]
    assert {"201", "400", "401", "409", "422", "429"} <= set(create["responses"])


def test_the_docs_page_loads_its_scripts_from_this_server_only(db):
    response = APIClient().get("/api/v1/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower() and "https://" not in html
    # The page obeys the CSP (script-src 'self'): no inline script.
    assert "<script>" not in html.replace(" ", "")


@pytest.fixture
def wsgi_schema(organization, location):
    # Called straight through WSGI, each request would end by closing "old" connections, the test's
    # transaction included; Django's own test client switches that off the same way.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


schema = schemathesis.pytest.from_fixture("wsgi_schema")


@pytest.fixture
def token(organization, location, frontline, customer):
    from helpdesk import services as api_services

    client, key = api_services.create_api_client(organization=organization, name="Fuzzer", rate_limit_per_minute=100_000)
    # Something to find: an incident with the smallest ids, so some generated ids hit real rows.
    factories.log_incident(user=client.user, location=location, customer=customer)
    return key


@schema.parametrize()
@settings(
    max_examples=20, deadline=None, database=None, derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_every_generated_request_without_5xx_and_as_documented(case, token):
    case.call_and_validate(
        headers={"Authorization": f"Token {token}"},
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    )
