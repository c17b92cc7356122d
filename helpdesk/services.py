"""Writes that belong to the API: its clients, webhook endpoints, and the create that a helpdesk sends.

The recovery itself is written by `incidents.services`; these functions only resolve what a helpdesk
names (a location code, a username, a customer's contact details) and call it.
"""

import secrets
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from django.db import transaction
from django.db.models import Q
from django.utils.text import slugify

from incidents import services
from incidents.customer_data import REDACTED
from incidents.models import Category, Customer, Incident, Location, Organization, User
from incidents.selectors import visible_customers, visible_incidents, visible_locations

from . import fast_reads, tokens
from .errors import AlreadyExists, PreconditionFailed
from .models import ApiClient, ApiToken, IdempotencyKey, WebhookDelivery, WebhookEndpoint
from .throttling import client_of
from .webhooks import SCHEMES, private_address_of


@transaction.atomic
def create_api_client(*, organization, name, rate_limit_per_minute=None, scope=ApiToken.Scope.WRITE, expires_at=None):
    """A new integration for `organization` and its first token (`helpdesk.tokens`). Returns (client,
    token): show the token once, only its hash is kept."""
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
    _, key = tokens.issue(client, scope=scope, expires_at=expires_at)
    return client, key


def register_webhook(*, client, url, events=()):
    """A URL the client wants events sent to; the secret that signs them is made here."""
    check_webhook(url, events)
    endpoint = WebhookEndpoint(client=client, url=url, events=list(events))
    endpoint.full_clean()
    endpoint.save()
    return endpoint


def check_webhook(url, events):
    """Raises RecoveryError unless every event type is known and the URL's host is outside this
    network. Asked wherever an endpoint is added or changed: the API and the admin."""
    unknown = sorted(set(events) - set(WebhookEndpoint.EventType.values))
    if unknown:
        raise services.RecoveryError("Unknown event type.", field_errors={"events": [f"Unknown: {', '.join(unknown)}."]})
    # The URL field also takes ftp://, which deliveries never call.
    if urlsplit(url).scheme not in SCHEMES:
        raise services.RecoveryError("Webhooks are sent over http or https.", field_errors={"url": ["Use an https:// or http:// address."]})
    if private_address_of(url):
        raise services.RecoveryError(
            "Webhooks go to addresses on the internet, not inside this network.",
            field_errors={"url": ["This host is a private, loopback or reserved address."]},
        )


# --- What a caller may see ------------------------------------------------------------------------


def incidents_for(user):
    """An API client sees its whole organization; staff see exactly what the browser shows them."""
    client = client_of(user)
    if client is not None:
        return Incident.objects.filter(organization_id=client.organization_id)
    return visible_incidents(user)


def customers_for(user):
    client = client_of(user)
    customers = client.organization.customers.all() if client is not None else visible_customers(user)
    return customers.select_related("care_flag_cleared_by")  # the representation names who cleared the flag


def staff_for(user, *, everyone=False):
    """The organization's active people (not its integrations), for an integrator to name owners and
    helpers; `everyone`: also former staff and the integrations, who may own older incidents."""
    # An API client's own user belongs to the client's organization, like any member of staff.
    members = User.objects.filter(organization_id=user.organization_id)
    return members if everyone else members.filter(is_active=True, api_client__isnull=True)


def categories_for(user):
    return Category.objects.filter(organization_id=user.organization_id)


def locations_for(user):
    client = client_of(user)
    if client is not None:
        return Location.objects.filter(organization_id=client.organization_id)
    return visible_locations(user)


# --- Creating an incident from a ticket ----------------------------------------------------------


@transaction.atomic(savepoint=False)
def incident_rows():
    """Incidents with what their representation shows."""
    return Incident.objects.select_related("customer", "location", "category", "owner")


def update_if_as_seen(incident, *, by, as_seen, owner=None, **details):
    """PATCH: change the incident's details (`incidents.services.update_details`) and hand it to the
    staff member named `owner`, if `as_seen(row)` says the row is still the version the caller saw
    (If-Match); PreconditionFailed otherwise, and nothing changes.

    The incident's row alone is locked, then read with its joins, so the version compared is the one the
    change applies to. Locking through the joins lost the row instead: a concurrent reassignment changes
    owner_id, PostgreSQL re-checks the locked row against the owner row it had already joined, the join
    no longer matches and the SELECT finds nothing (a 500)."""
    with transaction.atomic():
        Incident.objects.select_for_update(no_key=True).filter(pk=incident.pk).values_list("pk").get()
        locked = incident_rows().get(pk=incident.pk)
        if not as_seen(locked):
            raise PreconditionFailed()
        if details:
            locked = services.update_details(locked, by=by, **details)
        if owner is not None:
            new_owner = services.staff_named(locked.organization_id, owner)
            if new_owner.pk != locked.owner_id:
                locked = services.reassign(locked, by=by, owner=new_owner)
        return locked


def decide_gesture_as(gesture, *, by, approve, manager=None):
    """Approve or refuse a gesture waiting for a manager, by the console's rule: the decider is a
    manager over the incident's location. A member of staff decides as themself; a helpdesk syncs the
    decision a manager made there, so it names that manager (`manager`, a username), who is recorded
    as the decider."""
    if services.is_integration(by):
        if not manager:
            raise services.RecoveryError(
                "Name the manager who decided.", field_errors={"manager": ["Required when a helpdesk sends the decision."]})
        by = services.staff_named(by.organization_id, manager, field="manager")
    elif manager and manager != by.username:
        raise services.NotAllowed("You decide as yourself.", field_errors={"manager": ["Leave it out, or give your own username."]})
    return services.decide_gesture(gesture, by=by, approve=approve)


def create_incident(*, by, customer, location, owner=None, category="", external_id="", now=None, **values):
    """Resolve what a helpdesk names, then log the incident through `incidents.services.log_incident`.

    `location` is a location code, `owner` a username and `category` a label, as a helpdesk knows
    them. One query reads the location with its organization, the customer, the category and whether
    the ticket was logged before; a ticket already logged answers with a pointer to the incident it became.
    No savepoint of its own: an error rolls back the caller's whole transaction (see `idempotency.once`).
    """
    names = _resolved_location(by, location, customer=customer, category=category, external_id=external_id)
    if names is None:
        raise services.RecoveryError("Unknown location code.", field_errors={"location": [f"No location '{location}'."]})
    if names.ticket is not None:
        raise _already_exists(external_id, pk=names.ticket[0], reference=names.ticket[1])
    place = names.location
    owner_user = services.staff_named(place.organization_id, owner) if owner else None
    found = services.customer_from_details(place.organization, found=names.customer, **customer)
    try:
        return services.log_incident(
            logged_by=by, customer=found, location=place, owner=owner_user, category=names.category or category,
            external_id=external_id, now=now, **values,
        )
    except services.Conflict:
        # Another request logged the same ticket at this very moment. This transaction can run no
        # more queries, so the pointer is the search that finds it.
        raise _already_exists(external_id) from None


@dataclass
class Resolved:
    """What a helpdesk's names point at: the location (with its organization), the customer its
    contact details name, the category with the label, case aside (None: nothing found), and the
    incident already logged for the ticket."""

    location: Location
    customer: Customer | None
    category: Category | None
    ticket: tuple[int, str] | None  # (id, reference)


def _resolved_location(by, code, *, customer, category, external_id):
    """The caller's location with this code and its organization, read in one query with what the
    other names point at (the customer, the category, the ticket): hand-written in
    `fast_reads.names_for_create`, since it runs on every create. None when the caller cannot see a
    location with this code."""
    if by.organization_id is None:
        return None
    found = fast_reads.names_for_create(
        organization_id=by.organization_id, code=code, label=(category or "").strip(), ticket=external_id,
        external_id=customer.get("external_id", ""), email=customer.get("email", ""),
    )
    if found is None:
        return None
    location, organization, known_customer, category_id, category_name, ticket_id, ticket_reference = found
    if client_of(by) is None and not locations_for(by).filter(pk=location.pk).exists():
        return None  # a member of staff logs only at their own locations
    return Resolved(
        location=location,
        customer=known_customer,
        category=Category(pk=category_id, organization_id=organization.pk, name=category_name)
        if category_id is not None else None,
        ticket=(ticket_id, ticket_reference) if ticket_id is not None else None,
    )


def _already_exists(external_id, *, pk=None, reference=None):
    if pk is None:
        existing = {"url": f"/api/v1/incidents/?{urlencode({'external_id': external_id})}"}
        message = f"An incident for ticket {external_id} already exists."
    else:
        existing = {"id": pk, "reference": reference, "url": f"/api/v1/incidents/{pk}/"}
        message = f"An incident for ticket {external_id} already exists: {reference}."
    return AlreadyExists(message, existing=existing, field_errors={"external_id": ["Already used."]})


def organization_named(slug):
    return Organization.objects.get(slug=slug)


def redact_api_copies(incidents):
    """Registered with `incidents.customer_data.also_redact`: webhook payloads not yet sent or kept for
    the record, and remembered answers to retried requests, hold the customer's details too. A
    forgotten answer only means a retry of that request, past its day, is treated as new."""
    ids = list(incidents.values_list("pk", flat=True))
    WebhookDelivery.objects.filter(incident_id__in=ids).update(payload={"redacted": REDACTED})
    IdempotencyKey.objects.filter(Q(response_body__id__in=ids) | Q(response_body__incident__id__in=ids)).delete()
