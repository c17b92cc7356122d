"""Writes that belong to the API: its clients, webhook endpoints, and the create that a helpdesk sends.

The recovery itself is written by `incidents.services`; these functions only resolve what a helpdesk
names (a location code, a username, a customer's contact details) and call it.
"""

import secrets

from django.db import IntegrityError, transaction
from django.utils.text import slugify
from rest_framework.authtoken.models import Token

from incidents import services
from incidents.models import Incident, Location, Organization, User
from incidents.selectors import visible_customers, visible_incidents, visible_locations

from .errors import AlreadyExists
from .models import ApiClient, WebhookEndpoint
from .throttling import client_of
from .webhooks import private_address_of


@transaction.atomic
def create_api_client(*, organization, name, rate_limit_per_minute=None):
    """A new integration for `organization`. Returns (client, token key): show the key once."""
    username = f"api-{slugify(name)[:80] or 'client'}-{secrets.token_hex(3)}"
    user = User(username=username, first_name=name[:150], organization=organization, role=User.Role.FRONTLINE)
    # No password: the client signs in with its token only, never on the log-in page or the admin.
    user.set_unusable_password()
    user.save()
    client = ApiClient(organization=organization, name=name, user=user)
    if rate_limit_per_minute is not None:
        client.rate_limit_per_minute = rate_limit_per_minute
    client.full_clean(exclude=["user"])
    client.save()
    token = Token.objects.create(user=user)
    return client, token.key


def register_webhook(*, client, url, events=()):
    """A URL the client wants events sent to; the secret that signs them is made here."""
    unknown = sorted(set(events) - set(WebhookEndpoint.EventType.values))
    if unknown:
        raise services.RecoveryError("Unknown event type.", field_errors={"events": [f"Unknown: {', '.join(unknown)}."]})
    endpoint = WebhookEndpoint(client=client, url=url, events=list(events))
    endpoint.full_clean()
    if private_address_of(url):
        raise services.RecoveryError(
            "Webhooks go to addresses on the internet, not inside this network.",
            field_errors={"url": ["This host is a private, loopback or reserved address."]},
        )
    endpoint.save()
    return endpoint


# --- What a caller may see ------------------------------------------------------------------------


def incidents_for(user):
    """An API client sees its whole organization; staff see exactly what the browser shows them."""
    client = client_of(user)
    if client is not None:
        return Incident.objects.filter(organization_id=client.organization_id)
    return visible_incidents(user)


def customers_for(user):
    client = client_of(user)
    if client is not None:
        return client.organization.customers.all()
    return visible_customers(user)


def locations_for(user):
    client = client_of(user)
    if client is not None:
        return Location.objects.filter(organization_id=client.organization_id)
    return visible_locations(user)


# --- Creating an incident from a ticket ----------------------------------------------------------


@transaction.atomic(savepoint=False)
def create_incident(*, by, customer, location, owner=None, now=None, **values):
    """Find or create the customer, then log the incident through `incidents.services.log_incident`.

    `location` is a location code and `owner` a username, as a helpdesk knows them. A ticket already
    logged answers with a pointer to the incident it became. No savepoint of its own: an error rolls
    back the caller's whole transaction (see `idempotency.once`), which saves two statements a create.
    """
    place = locations_for(by).select_related("organization").filter(code=location).first()
    if place is None:
        raise services.RecoveryError("Unknown location code.", field_errors={"location": [f"No location '{location}'."]})
    owner_user = None
    if owner:
        owner_user = User.objects.filter(organization_id=place.organization_id, username=owner, is_active=True).first()
        if owner_user is None:
            raise services.RecoveryError("Unknown owner.", field_errors={"owner": [f"No active staff '{owner}'."]})
    found = _customer(place.organization, customer)
    try:
        return services.log_incident(logged_by=by, customer=found, location=place, owner=owner_user, now=now, **values)
    except services.Conflict:
        external_id = values.get("external_id") or ""
        existing = Incident.objects.filter(organization_id=place.organization_id, external_id=external_id).first()
        if not external_id or existing is None:
            raise
        raise _already_exists(existing) from None


def _customer(organization, details):
    if not details.get("external_id"):
        return services.find_or_create_customer(organization, **details)
    try:
        with transaction.atomic():
            return services.find_or_create_customer(organization, **details)
    except IntegrityError:
        # Another request created this customer (same external id) at the same moment: use theirs.
        return services.find_or_create_customer(organization, **details)


def _already_exists(incident):
    return AlreadyExists(
        f"An incident for ticket {incident.external_id} already exists: {incident.reference}.",
        existing={"id": incident.pk, "reference": incident.reference, "url": f"/api/v1/incidents/{incident.pk}/"},
        field_errors={"external_id": ["Already used."]},
    )


def organization_named(slug):
    return Organization.objects.get(slug=slug)
