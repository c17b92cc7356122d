"""Deliveries are signed per Standard Webhooks, checked with its official library (`standardwebhooks`),
and a secret can be rotated with an overlap during which both secrets sign."""

import base64
import datetime
import hashlib
import hmac
import json

import pytest
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from helpdesk import services as api_services
from helpdesk import webhooks
from helpdesk.models import WebhookEndpoint
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(helpdesk, receiver, clock_at_start):
    return api_services.register_webhook(client=helpdesk, url=receiver.url)


def send_one(frontline, location, customer):
    factories.log_incident(user=frontline, location=location, customer=customer)
    (delivery_id,) = webhooks.pump(now=timezone.now())
    return webhooks.deliver(delivery_id, now=timezone.now())


def test_the_official_library_verifies_a_delivery_with_the_endpoints_secret(
    endpoint, receiver, frontline, location, customer, clock_at_start
):
    delivery = send_one(frontline, location, customer)

    (request,) = receiver.requests
    payload = Webhook(endpoint.secret).verify(request["body"], request["headers"])
    assert payload["id"] == delivery.event_id == request["headers"]["webhook-id"]
    assert request["headers"]["webhook-timestamp"] == str(int(timezone.now().timestamp()))
    other = WebhookEndpoint(secret=WebhookEndpoint._meta.get_field("secret").default())
    with pytest.raises(WebhookVerificationError):
        Webhook(other.secret).verify(request["body"], request["headers"])


def test_the_signature_is_exactly_the_specs_hmac_of_id_timestamp_and_body(
    endpoint, receiver, frontline, location, customer, clock_at_start
):
    send_one(frontline, location, customer)

    (request,) = receiver.requests
    headers = request["headers"]
    key = base64.b64decode(endpoint.secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + request["body"]
    assert headers["webhook-signature"] == "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert len(key) == 32


def test_the_old_recovery_signature_is_still_sent(endpoint, receiver, frontline, location, customer, clock_at_start):
    send_one(frontline, location, customer)

    (request,) = receiver.requests
    timestamp = request["headers"]["Recovery-Timestamp"]
    expected = hmac.new(endpoint.secret.encode(), f"{timestamp}.".encode() + request["body"], hashlib.sha256).hexdigest()
    assert request["headers"]["Recovery-Signature"] == f"t={timestamp},v1={expected}"


def test_a_replayed_delivery_fails_the_libraries_timestamp_check(endpoint, receiver, frontline, location, customer, clock_at_start):
    send_one(frontline, location, customer)
    (request,) = receiver.requests

    clock_at_start.shift(datetime.timedelta(minutes=6))

    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(endpoint.secret).verify(request["body"], request["headers"])


def test_during_the_overlap_both_secrets_sign_and_after_it_only_the_new_one(
    endpoint, receiver, frontline, location, customer, clock_at_start
):
    old_secret = endpoint.secret
    rotated = webhooks.rotate_secret(endpoint, overlap=datetime.timedelta(hours=1))
    assert rotated.secret != old_secret and rotated.secret.startswith("whsec_")

    send_one(frontline, location, customer)
    during = receiver.requests[-1]
    assert len(during["headers"]["webhook-signature"].split(" ")) == 2
    for secret in (old_secret, rotated.secret):
        Webhook(secret).verify(during["body"], during["headers"])

    clock_at_start.shift(datetime.timedelta(hours=1))
    incident = factories.log_incident(user=frontline, location=location, customer=customer)
    (delivery_id,) = webhooks.pump(now=timezone.now())
    webhooks.deliver(delivery_id, now=timezone.now())
    after = receiver.requests[-1]
    assert json.loads(after["body"])["data"]["incident"]["id"] == incident.pk
    Webhook(rotated.secret).verify(after["body"], after["headers"])
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(after["body"], after["headers"])


def test_a_rotation_without_overlap_stops_the_old_secret_at_once(endpoint, receiver, frontline, location, customer, clock_at_start):
    old_secret = endpoint.secret
    rotated = webhooks.rotate_secret(endpoint, overlap=datetime.timedelta(0))

    send_one(frontline, location, customer)

    (request,) = receiver.requests
    Webhook(rotated.secret).verify(request["body"], request["headers"])
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(request["body"], request["headers"])


def test_rotating_again_during_the_overlap_keeps_the_secret_from_before_it(endpoint, clock_at_start):
    original = endpoint.secret
    first = webhooks.rotate_secret(endpoint, overlap=datetime.timedelta(hours=1))
    second = webhooks.rotate_secret(first, overlap=datetime.timedelta(hours=1))

    assert second.signing_secrets(timezone.now()) == [second.secret, original]
    assert first.secret not in second.signing_secrets(timezone.now())


def test_a_secret_of_the_old_url_safe_form_signs_with_the_bytes_it_encodes(clock_at_start):
    key = bytes(range(200, 232))  # encodes with "-" and "_" in the URL-safe alphabet
    old_form = "whsec_" + base64.urlsafe_b64encode(key).decode().rstrip("=")
    assert "-" in old_form or "_" in old_form

    assert webhooks.signing_key(old_form) == key
    assert webhooks.signing_key("whsec_" + base64.b64encode(key).decode()) == key
