import http.server
import threading
import uuid

import pytest
from rest_framework.test import APIClient

from helpdesk import services as api_services
from tests import factories


@pytest.fixture(autouse=True)
def fresh_rate_limits(settings):
    """Rate counters live in a shared cache (Redis in CI): each test counts in its own key space."""
    settings.API_RATE_LIMIT_PREFIX = f"test-{uuid.uuid4().hex}"


@pytest.fixture(autouse=True)
def local_webhook_receivers(settings):
    """The tests' webhook receivers listen on 127.0.0.1."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def helpdesk(organization):
    client, key = api_services.create_api_client(organization=organization, name="Helpdesk")
    client.key = key
    return client


@pytest.fixture
def api(helpdesk):
    """An HTTP client that signs in as the helpdesk integration."""
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Token {helpdesk.key}")
    return http


@pytest.fixture
def other_organization(db):
    return factories.OrganizationFactory(name="Summit Stores", slug="summit")


@pytest.fixture
def other_api(other_organization):
    client, key = api_services.create_api_client(organization=other_organization, name="Their helpdesk")
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return http


def new_incident_body(**overrides):
    body = {
        "customer": {"name": "Ada Lovelace", "email": "ada@example.com"},
        "summary": "Soup arrived cold",
        "channel": "in_person",
        "category": "Kitchen",
        "location": "riverside",
    }
    body.update(overrides)
    return body


@pytest.fixture
def create(api, location):
    """POST a new incident as the helpdesk; returns the response."""

    def post(**overrides):
        return api.post("/api/v1/incidents/", new_incident_body(**overrides), format="json")

    return post


class Receiver:
    """A helpdesk's webhook URL: a real HTTP server in a thread that answers with the next status."""

    def __init__(self):
        self.requests = []
        self.statuses = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()
