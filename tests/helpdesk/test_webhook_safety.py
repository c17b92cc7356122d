"""Webhook sends cannot be turned inward: no redirects, one lookup whose checked address is the one
connected to, only public addresses, and a deadline that ends every send before its claim does."""

import datetime
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest
from django.utils import timezone

from helpdesk import services as api_services
from helpdesk import webhooks
from helpdesk.models import WebhookDelivery, WebhookEndpoint
from incidents.services import RecoveryError
from tests import factories
from tests.helpdesk.conftest import Receiver

pytestmark = pytest.mark.django_db

PUBLIC = "93.184.216.34"


@pytest.fixture
def due_delivery(frontline, location, customer, clock_at_start):
    """Logs an incident and returns the id of the delivery due for the endpoint registered first."""

    def make():
        factories.log_incident(user=frontline, location=location, customer=customer)
        (delivery_id,) = webhooks.pump(now=timezone.now())
        return delivery_id

    return make


def resolves(monkeypatch, host, *answers):
    """socket.getaddrinfo answers `host` with each address in turn (the last one from then on), as a
    name server that changes its answer would. Returns the list of lookups made."""
    real = socket.getaddrinfo
    lookups = []

    def getaddrinfo(name, port, *args, **kwargs):
        if name != host:
            return real(name, port, *args, **kwargs)
        lookups.append(name)
        address = answers[min(len(lookups), len(answers)) - 1]
        if ":" in address:
            return [(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port or 0, 0, 0))]
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port or 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lookups


def connects(monkeypatch, refuse=()):
    """Records every address a socket connects to; those in `refuse` are refused (nothing listens on
    the internet from here)."""
    real = socket.socket.connect
    targets = []

    def connect(sock, address):
        targets.append(address[0])
        if address[0] in refuse:
            raise ConnectionRefusedError(111, "Connection refused")
        return real(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return targets


# --- Redirects -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307])
def test_a_redirect_into_this_network_is_recorded_as_a_failure_and_not_followed(
    helpdesk, receiver, due_delivery, status
):
    inside = Receiver()  # what the redirect points at: something on this machine
    receiver.statuses = [status]
    original = receiver.server.RequestHandlerClass.send_response

    def send_response(handler, code, message=None):
        original(handler, code, message)
        if 300 <= code < 400:
            handler.send_header("Location", inside.url)

    receiver.server.RequestHandlerClass.send_response = send_response
    try:
        api_services.register_webhook(client=helpdesk, url=receiver.url)
        delivery_id = due_delivery()

        delivery = webhooks.deliver(delivery_id, now=timezone.now())
    finally:
        inside.close()

    assert len(receiver.requests) == 1
    assert inside.requests == []
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.last_status_code == status
    assert delivery.last_error == f"Redirect not followed: HTTP {status} to {inside.url}"
    # Retried like any failure.
    assert delivery.next_attempt_at == timezone.now() + datetime.timedelta(seconds=30)


# --- One lookup, and the checked address is the one connected to -----------------------------------


def test_a_name_that_answers_this_network_on_a_second_lookup_is_still_sent_to_the_checked_address(
    helpdesk, receiver, due_delivery, settings, monkeypatch
):
    port = receiver.server.server_address[1]
    api_services.register_webhook(client=helpdesk, url=f"http://hooks.example.com:{port}/hooks")
    delivery_id = due_delivery()
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    lookups = resolves(monkeypatch, "hooks.example.com", PUBLIC, "127.0.0.1")
    targets = connects(monkeypatch, refuse={PUBLIC})

    delivery = webhooks.deliver(delivery_id, now=timezone.now())

    assert lookups == ["hooks.example.com"]
    assert targets == [PUBLIC]
    assert receiver.requests == []
    assert "ConnectionRefusedError" in delivery.last_error


def test_the_host_header_names_the_host_not_the_address_connected_to(helpdesk, receiver, due_delivery, monkeypatch):
    port = receiver.server.server_address[1]
    api_services.register_webhook(client=helpdesk, url=f"http://hooks.example.com:{port}/hooks?team=7")
    delivery_id = due_delivery()
    resolves(monkeypatch, "hooks.example.com", "127.0.0.1")

    delivery = webhooks.deliver(delivery_id, now=timezone.now())

    assert delivery.status == WebhookDelivery.Status.DELIVERED
    (request,) = receiver.requests
    assert request["headers"]["Host"] == f"hooks.example.com:{port}"


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for hooks.example.com, made with the openssl command."""
    if not shutil.which("openssl"):
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=hooks.example.com",
         "-addext", "subjectAltName=DNS:hooks.example.com", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


def test_https_names_the_host_for_sni_and_the_certificate_check(
    helpdesk, receiver, due_delivery, monkeypatch, certificate
):
    cert, key = certificate
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(cert, key)
    names = []
    server_side.sni_callback = lambda tls_socket, name, context: names.append(name)
    receiver.server.socket = server_side.wrap_socket(receiver.server.socket, server_side=True)
    port = receiver.server.server_address[1]
    # The app trusts this test certificate as it trusts the system's authorities.
    default_context = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context", lambda *args, **kwargs: default_context(cafile=str(cert)))
    api_services.register_webhook(client=helpdesk, url=f"https://hooks.example.com:{port}/hooks")
    delivery_id = due_delivery()
    resolves(monkeypatch, "hooks.example.com", "127.0.0.1")

    delivery = webhooks.deliver(delivery_id, now=timezone.now())

    assert delivery.status == WebhookDelivery.Status.DELIVERED, delivery.last_error
    assert names == ["hooks.example.com"]
    assert receiver.requests[0]["headers"]["Host"] == f"hooks.example.com:{port}"


# --- Only public addresses -----------------------------------------------------------------------

INWARD = [
    "100.64.0.1",  # shared address space (carrier NAT), where a cloud metadata service can live
    "2002:7f00:1::1",  # 6to4 wrapping 127.0.0.1
    "fec0::1",  # site-local
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "169.254.169.254",  # link-local, the usual metadata address
    "0.0.0.0",  # "this host"
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, its client 127.0.0.1
    "64:ff9b::a00:7",  # NAT64 of 10.0.0.7
    "224.0.0.1",  # multicast
]


@pytest.mark.parametrize("address", INWARD)
def test_a_name_that_resolves_to_an_address_off_the_internet_is_not_sent_to(
    helpdesk, due_delivery, settings, monkeypatch, address
):
    api_services.register_webhook(client=helpdesk, url="https://hooks.example.com/hooks")
    delivery_id = due_delivery()
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    resolves(monkeypatch, "hooks.example.com", address)
    targets = connects(monkeypatch)

    delivery = webhooks.deliver(delivery_id, now=timezone.now())

    assert targets == []
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.last_error == f"Not sent: {address} is inside this network, not a public address."


@pytest.mark.parametrize("address", INWARD)
def test_an_address_off_the_internet_is_refused_at_registration(settings, address):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    host = f"[{address}]" if ":" in address else address

    with pytest.raises(RecoveryError) as refused:
        api_services.check_webhook(f"https://{host}/hooks", [])

    assert refused.value.field_errors == {"url": ["This host is a private, loopback or reserved address."]}


@pytest.mark.parametrize("address", [PUBLIC, "2606:4700::1111", "2002:5db8:d822::1", "::ffff:8.8.8.8"])
def test_a_public_address_may_be_registered(settings, address):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    host = f"[{address}]" if ":" in address else address

    api_services.check_webhook(f"https://{host}/hooks", [])


@pytest.mark.parametrize("url", ["ftp://hooks.example.com/hooks", "file:///etc/passwd"])
def test_only_http_and_https_urls_are_called(helpdesk, due_delivery, monkeypatch, url):
    endpoint = api_services.register_webhook(client=helpdesk, url="https://hooks.example.com/hooks")
    delivery_id = due_delivery()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=url)  # as if written past the checks
    lookups = resolves(monkeypatch, "hooks.example.com", "127.0.0.1")
    targets = connects(monkeypatch)

    delivery = webhooks.deliver(delivery_id, now=timezone.now())

    assert lookups == targets == []
    assert delivery.last_error == "Not sent: only http and https URLs are called."
    with pytest.raises(RecoveryError):
        api_services.check_webhook(url, [])


# --- The deadline --------------------------------------------------------------------------------


class Trickler:
    """A receiver that answers a status line and then one header byte every half second, for eight
    seconds unless the sender hangs up first."""

    def __init__(self):
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hooks"
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with connection:
                try:
                    connection.recv(65536)
                    connection.sendall(b"HTTP/1.1 200 OK\r\n")
                    for _ in range(16):
                        time.sleep(0.5)
                        connection.sendall(b"X")
                    connection.sendall(b"-Trickled: yes\r\n\r\n")
                except OSError:
                    pass  # the sender hung up

    def close(self):
        self.stopped.set()
        self.thread.join()
        self.listener.close()


def test_a_receiver_that_trickles_its_answer_is_cut_off_at_the_deadline_before_the_claim_ends(
    helpdesk, due_delivery, settings, monkeypatch, clock_at_start
):
    settings.WEBHOOK_DEADLINE_SECONDS = 1.5
    trickler = Trickler()
    post = webhooks._post
    claims = []

    def post_and_note_the_claim(url, *args):
        claims.append(WebhookDelivery.objects.values_list("next_attempt_at", flat=True).get())
        return post(url, *args)

    monkeypatch.setattr(webhooks, "_post", post_and_note_the_claim)
    try:
        api_services.register_webhook(client=helpdesk, url=trickler.url)
        delivery_id = due_delivery()
        now = timezone.now()

        started = time.monotonic()
        delivery = webhooks.deliver(delivery_id, now=now)
        took = time.monotonic() - started

        (lease,) = claims  # how long the claim held the delivery while it was being sent
        assert 1.5 <= took < 2.5
        assert took < (lease - now).total_seconds()
        assert delivery.status == WebhookDelivery.Status.PENDING
        assert delivery.last_status_code is None
        assert delivery.last_error == "Timed out: no answer within 1.5 s."
        # A second worker just before the claim would have run out finds nothing to send.
        clock_at_start.move_to(lease - datetime.timedelta(microseconds=1))
        assert webhooks.deliver(delivery_id, now=timezone.now()) is None
        assert trickler.connections == 1
        assert delivery.attempts == WebhookDelivery.objects.get(pk=delivery_id).attempts == 1
    finally:
        trickler.close()
