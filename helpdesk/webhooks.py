"""Webhooks: the timeline as an outbox, turned into signed deliveries to each client's URLs.

Every door (pages, the API, the admin, the follow-up sweep) writes the append-only timeline through
`incidents.services`, so reading new `Event` rows covers actions taken anywhere, not only over the API.
When an event commits, `event_committed()` makes its deliveries at once and queues the sender of each
endpoint; `pump()`, every SWEEP_INTERVAL_SECONDS, is the safety net: it remembers the last event (and
follow-up reminder) it handled and makes whatever the first path missed (a crash, the broker away).
`send_due()` sends one endpoint's due deliveries one at a time, oldest first, over one kept-open
connection; `deliver()` sends one, signs it (Standard Webhooks), logs the attempt and schedules the
next one with backoff. Delivery is at
least once: the event id in every delivery lets the receiver drop repeats.
"""

import base64
import datetime
import functools
import hashlib
import hmac
import http.client
import io
import ipaddress
import json
import logging
import os
import select
import socket
import ssl
import threading
import time
import urllib.parse

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError

from followups.models import Reminder
from incidents.models import Event, EventKind
from problems.models import ProblemEvent

from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookOutbox, new_webhook_secret

log = logging.getLogger(__name__)

# Standard Webhooks (https://www.standardwebhooks.com/): what its libraries verify.
STANDARD_ID_HEADER = "webhook-id"
STANDARD_TIMESTAMP_HEADER = "webhook-timestamp"
STANDARD_SIGNATURE_HEADER = "webhook-signature"
# Recovery's own headers from before. Recovery-Signature is kept one release for receivers that
# verify it; the others name the event as before.
SIGNATURE_HEADER = "Recovery-Signature"
EVENT_ID_HEADER = "Recovery-Event-Id"
EVENT_TYPE_HEADER = "Recovery-Event-Type"
TIMESTAMP_HEADER = "Recovery-Timestamp"
SECRET_PREFIX = "whsec_"

# Each timeline kind is sent as one of these, or is internal (incidents.models.INTERNAL_EVENT_KINDS).
EVENT_TYPES = {
    EventKind.LOGGED: "incident.created",
    EventKind.BREACHED: "followup.breached",
    EventKind.CLOSED: "incident.closed",
    EventKind.MESSAGE_SENT: "message.sent",
    EventKind.MESSAGE_FAILED: "message.failed",
    EventKind.MESSAGE_NOT_SENT: "message.failed",
    EventKind.SURVEY_ANSWERED: "survey.answered",
    **{kind: "step.recorded" for kind in (
        EventKind.APOLOGY, EventKind.REVIEW, EventKind.FIX, EventKind.FOLLOW_UP, EventKind.DEPOSITION,
        EventKind.GESTURE_GIVEN, EventKind.GESTURE_AWAITS_APPROVAL, EventKind.GESTURE_APPROVED,
        EventKind.GESTURE_REFUSED, EventKind.GESTURE_LAPSED, EventKind.REASSIGNED, EventKind.HELPER_ADDED, EventKind.HELPER_REMOVED,
        EventKind.DETAILS_CHANGED, EventKind.ATTACHED, EventKind.DETACHED,
    )},
}
# Each kind of a problem's timeline entry is sent as one of these, or is internal (PROBLEM_INTERNAL_KINDS).
PROBLEM_EVENT_TYPES = {
    ProblemEvent.Kind.OPENED: "problem.opened",
    **{kind: "problem.updated" for kind in (
        ProblemEvent.Kind.CHANGED, ProblemEvent.Kind.STATUS_CHANGED, ProblemEvent.Kind.FIX_MARKED,
        ProblemEvent.Kind.CLOSE_PROPOSED, ProblemEvent.Kind.RECURRED,
    )},
    ProblemEvent.Kind.ACTION_ADDED: "problem.action_added",
    ProblemEvent.Kind.ACTION_DONE: "problem.action_done",
    ProblemEvent.Kind.ACTION_OVERDUE: "problem.action_overdue",
    ProblemEvent.Kind.INCIDENT_LINKED: "problem.incident_linked",
}
# Customers' own words (an idea attached) and the thank-yous sent to them stay inside Recovery: a
# helpdesk hears of the problem, not of what a customer suggested.
PROBLEM_INTERNAL_KINDS = frozenset({ProblemEvent.Kind.IDEA_ATTACHED, ProblemEvent.Kind.THANKED})
# Reminders of the follow-up engine that mean "something is due now" (the missed window is `breached`).
DUE_REMINDER_KINDS = {"heads_up", "progress_report", "check_back", "wrap_up"}

# Event ids are handed out when a row is inserted, not when its transaction commits, so a slow
# transaction can commit an id below one already handled. Each pass looks this many ids back again;
# the unique (endpoint, event_id) constraint drops what was already queued.
LOOKBACK_IDS = 200
BATCH = 1000
# One pump pass takes batches until it has caught up or has run this long; the next pass goes on.
PUMP_BUDGET_SECONDS = 5


def signing_key(secret):
    """The key a `whsec_` secret stands for: the base64 after the prefix, as Standard Webhooks says.
    Secrets made before it was followed are URL-safe base64 without padding; they are read as what
    they encode (a strict decoder refuses them: rotating such a secret gives one in the standard form)."""
    encoded = secret.removeprefix(SECRET_PREFIX).replace("-", "+").replace("_", "/")
    return base64.b64decode(encoded + "=" * (-len(encoded) % 4))


def standard_signature(secrets, message_id, timestamp, body):
    """The `webhook-signature` header: "v1,<base64 HMAC-SHA256 of '<id>.<timestamp>.<body>'>" per
    secret, space-separated (during a rotation's overlap both secrets sign)."""
    message = f"{message_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(signing_key(secret), message, hashlib.sha256).digest()).decode()
        for secret in secrets
    )


def sign(secret, timestamp, body):
    """Recovery-Signature's HMAC-SHA256 of "<timestamp>.<body>", hex, keyed with the secret's text."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secrets, timestamp, body):
    """Recovery-Signature: "t=<timestamp>,v1=<hex>", one v1 per signing secret."""
    if isinstance(secrets, str):
        secrets = [secrets]
    return ",".join([f"t={timestamp}", *(f"v1={sign(secret, timestamp, body)}" for secret in secrets)])


def retry_pause(attempts):
    """30 s, 1, 2, 4 … minutes, at most an hour, after the n-th failed attempt."""
    return min(datetime.timedelta(seconds=30) * 2 ** max(attempts - 1, 0), datetime.timedelta(hours=1))


# --- The outbox pass -------------------------------------------------------------------------------


def pump(*, now=None):
    """Turn new timeline events, due reminders and problems' timeline entries into deliveries; return
    the ids due to send now.

    Batch after batch until it has caught up or PUMP_BUDGET_SECONDS have passed, so after an outage
    (the broker away, no worker) one pass moves thousands of events, not one batch."""
    now = now or timezone.now()
    WebhookOutbox.objects.get_or_create(name="default")
    stop_at = time.monotonic() + PUMP_BUDGET_SECONDS
    while _pump_batch(now) and time.monotonic() < stop_at:
        pass
    return list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at").values_list("id", flat=True)[:BATCH]
    )


def _pump_batch(now):
    """One batch of events and reminders after the outbox's cursor; True if a batch was full."""
    with transaction.atomic():
        # One pass at a time: a second beat or a slow worker waits here instead of doubling work.
        outbox = WebhookOutbox.objects.select_for_update().get(name="default")
        by_organization = {}
        for endpoint in _active_endpoints():
            by_organization.setdefault(endpoint.client.organization_id, []).append(endpoint)

        # The batch's ids first, with their organization and kind: most organizations have no
        # webhooks, and their events only move the cursor on without being read whole.
        events = list(
            Event.objects.filter(id__gt=max(outbox.last_event_id - LOOKBACK_IDS, 0))
            .order_by("id").values_list("id", "incident__organization_id", "kind")[:BATCH]
        )
        wanted = [pk for pk, organization_id, kind in events if kind in EVENT_TYPES and organization_id in by_organization]
        deliveries = []
        for event in Event.objects.filter(pk__in=wanted).select_related("incident", "incident__owner", "actor").order_by("id"):
            event_type = EVENT_TYPES[event.kind]
            payload = _event_payload(event, event_type)
            deliveries += _for_endpoints(by_organization, event.incident, event_type, f"evt_{event.id}", payload, now, event.at)
        if events:
            outbox.last_event_id = max(outbox.last_event_id, events[-1][0])

        reminders = list(_due_reminders(outbox.last_reminder_id))
        for reminder in reminders:
            if reminder.kind in DUE_REMINDER_KINDS and reminder.incident.organization_id in by_organization:
                payload = _reminder_payload(reminder)
                deliveries += _for_endpoints(by_organization, reminder.incident, "followup.due", f"rem_{reminder.id}", payload, now, reminder.sent_at)
        if reminders:
            outbox.last_reminder_id = reminders[-1].id

        problem_events = list(
            ProblemEvent.objects.filter(id__gt=max(outbox.last_problem_event_id - LOOKBACK_IDS, 0))
            .order_by("id").values_list("id", "problem__organization_id", "kind")[:BATCH]
        )
        wanted = [pk for pk, organization_id, kind in problem_events
                  if kind in PROBLEM_EVENT_TYPES and organization_id in by_organization]
        for event in ProblemEvent.objects.filter(pk__in=wanted).select_related("problem", "actor").order_by("id"):
            deliveries += _problem_event_deliveries(by_organization, event, now)
        if problem_events:
            outbox.last_problem_event_id = max(outbox.last_problem_event_id, problem_events[-1][0])

        WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
        outbox.save(update_fields=["last_event_id", "last_reminder_id", "last_problem_event_id", "updated_at"])
    return len(events) == BATCH or len(reminders) == BATCH or len(problem_events) == BATCH


def _active_endpoints(**filters):
    return list(WebhookEndpoint.objects.filter(active=True, client__active=True, **filters).select_related("client"))


def event_committed(event_id, organization_id):
    """Run once the transaction that wrote timeline event `event_id` commits (see apps.py): its
    deliveries are made now and each endpoint's sender is queued, so a receiver hears within seconds,
    not at the next pump. One query when the organization has no webhooks. Anything that fails here
    is left to the pump, which reads the timeline itself."""
    def deliveries(by_organization, now):
        event = Event.objects.select_related("incident", "incident__owner", "actor").get(pk=event_id)
        event_type = EVENT_TYPES.get(event.kind)
        if not event_type:
            return []
        return _for_endpoints(by_organization, event.incident, event_type, f"evt_{event.id}",
                              _event_payload(event, event_type), now, event.at)

    _make_and_queue(organization_id, deliveries)


def reminder_committed(reminder_id, organization_id):
    """The same for a follow-up reminder the engine wrote (`followup.due`)."""
    def deliveries(by_organization, now):
        reminder = Reminder.objects.select_related("incident", "incident__owner").get(pk=reminder_id)
        if reminder.kind not in DUE_REMINDER_KINDS:
            return []
        return _for_endpoints(by_organization, reminder.incident, "followup.due", f"rem_{reminder.id}",
                              _reminder_payload(reminder), now, reminder.sent_at)

    _make_and_queue(organization_id, deliveries)


def problem_event_committed(event_id, organization_id):
    """The same for an entry of a problem's timeline (`problem.*`); the delivery names no incident."""
    def deliveries(by_organization, now):
        event = ProblemEvent.objects.select_related("problem", "actor").get(pk=event_id)
        return _problem_event_deliveries(by_organization, event, now)

    _make_and_queue(organization_id, deliveries)


def _problem_event_deliveries(by_organization, event, now):
    from .problem_serializers import problem_payload  # the API's representation of a problem

    event_type = PROBLEM_EVENT_TYPES.get(event.kind)
    if not event_type:
        return []
    return _for_endpoints(by_organization, None, event_type, f"pev_{event.id}", problem_payload(event, event_type, now),
                          now, event.at, organization_id=event.problem.organization_id)


def _make_and_queue(organization_id, deliveries_for):
    endpoints = _active_endpoints(client__organization_id=organization_id)
    if not endpoints:
        return
    deliveries = deliveries_for({organization_id: endpoints}, timezone.now())
    WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
    # Asked after the deliveries are in: a sender at work now looks again once it lets go, and then
    # finds them, so only endpoints without one need a task.
    endpoint_ids = {delivery.endpoint_id for delivery in deliveries}
    busy = set(WebhookEndpoint.objects.filter(pk__in=endpoint_ids, sending_until__gt=timezone.now()).values_list("pk", flat=True))
    publish_senders(endpoint_ids - busy)


def on_saved(sender, instance, created, raw=False, using=None, **kwargs):
    """post_save of incidents.Event, followups.Reminder and problems.ProblemEvent, connected in apps.py
    (none of those apps knows of webhooks). Timeline writes go through Event.save (incidents.events),
    reminders through Reminder.objects.create and problem entries through problems.events.record, except
    the message worker's batch of "sent"/"failed" entries (one INSERT): those reach endpoints at the next pump."""
    if created and not raw:
        if sender is ProblemEvent:
            committed, organization_id = problem_event_committed, instance.problem.organization_id
        else:
            committed = event_committed if sender is Event else reminder_committed
            organization_id = instance.incident.organization_id
        # robust: whatever happens here, the committed write has happened and its caller must not fail.
        transaction.on_commit(functools.partial(committed, instance.pk, organization_id), using=using, robust=True)


def _due_reminders(after_id):
    # The follow-up engine's reminders are read, never written, here.
    return Reminder.objects.filter(id__gt=after_id).select_related("incident", "incident__owner").order_by("id")[:BATCH]


def _for_endpoints(by_organization, incident, event_type, event_id, payload, now, happened_at, organization_id=None):
    # An endpoint hears of what happened after it was registered, not of the look-back window before.
    # A problem's event names no incident: its organization is given instead.
    organization_id = incident.organization_id if incident is not None else organization_id
    return [
        WebhookDelivery(endpoint=endpoint, event_id=event_id, event_type=event_type, incident=incident,
                        payload={**payload, "id": event_id}, next_attempt_at=now, created_at=now)
        for endpoint in by_organization.get(organization_id, [])
        if endpoint.wants(event_type) and endpoint.created_at <= happened_at
    ]


def _incident(incident):
    iso = lambda moment: moment.isoformat() if moment else None  # noqa: E731
    return {
        "id": incident.pk, "reference": incident.reference, "external_id": incident.external_id,
        "stage": incident.stage, "owner": incident.owner.username, "follow_up_due_at": iso(incident.follow_up_due_at),
        "next_due_at": iso(incident.next_due_at), "closed_at": iso(incident.closed_at),
        "outcome": incident.outcome, "customer_outcome": incident.customer_outcome,
        "url": f"/api/v1/incidents/{incident.pk}/",
    }


def _event_payload(event, event_type):
    actor = event.actor.username if event.actor_id else event.actor_label
    return {
        "type": event_type, "created_at": event.at.isoformat(),
        "data": {"incident": _incident(event.incident),
                 "event": {"kind": event.kind, "summary": event.summary, "actor": actor, "after": event.after}},
    }


def _reminder_payload(reminder):
    return {
        "type": "followup.due", "created_at": reminder.sent_at.isoformat(),
        "data": {"incident": _incident(reminder.incident),
                 "reminder": {"kind": reminder.kind, "due_at": reminder.due_at.isoformat()}},
    }


# --- Where deliveries may go ----------------------------------------------------------------------

SCHEMES = ("http", "https")
# Well-known NAT64 prefix: 64:ff9b::a.b.c.d is translated by the network to a.b.c.d.
NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _carried_ipv4(ip):
    """The IPv4 address an IPv6 address delivers to, if it wraps one: IPv4-mapped (::ffff:a.b.c.d),
    NAT64, 6to4 (2002:aabb:ccdd::) or Teredo (the client's address)."""
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour or (ip.teredo[1] if ip.teredo else None)


def _is_public(ip):
    """True only for an address reachable on the internet. `is_private` is not enough: the shared
    address space 100.64.0.0/10 (where clouds put metadata services) is not private but not global
    either, and `is_global` alone lets site-local fec0::/10, multicast, and IPv6 addresses that wrap
    a private IPv4 address through (2002:7f00:1:: is 127.0.0.1 by way of a 6to4 relay)."""
    if ip.version == 6:
        carried = _carried_ipv4(ip)
        if carried is not None:
            return ip.is_global and _is_public(carried)
        if ip.is_site_local or ip.is_reserved:
            return False
    return ip.is_global and not ip.is_multicast


def _resolve(host, port):
    """Every address of `host` now, as (family, socket address) pairs to connect to."""
    return [(family, sockaddr) for family, _, _, _, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def _first_inward(addresses):
    """The first of the resolved addresses that is not public, or None."""
    for _, sockaddr in addresses:
        if not _is_public(ipaddress.ip_address(sockaddr[0].split("%")[0])):
            return sockaddr[0]
    return None


def private_address_of(url):
    """The first address of the URL's host that is not a public internet address (loopback,
    private, shared, link-local, site-local, reserved, or an IPv6 address wrapping one), or None.
    A client must not make the app call into its own network (SSRF). Asked at registration; each
    send checks again the very addresses it connects to, since a name can be pointed elsewhere."""
    if settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS:
        return None
    try:
        addresses = _resolve(urllib.parse.urlsplit(url).hostname or "", None)
    except (OSError, UnicodeError, ValueError):
        return None  # not resolvable now: the send fails and is retried like any unreachable host
    return _first_inward(addresses)


# --- Sending one delivery ------------------------------------------------------------------------

# The claim on a delivery lasts the send's deadline plus this: time to record the attempt, and for
# the clocks of two workers to differ a little. A send that outlived its claim would let a second
# worker claim the delivery and send it again while the first is still at it.
LEASE_MARGIN_SECONDS = 10


def _time_left(deadline):
    """Seconds until `deadline` (a time.monotonic() value), as the timeout of the next socket call."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline passed")
    return left


class _DeadlineSocket:
    """A connected socket as http.client uses it (sendall, makefile, close), whose timeout is, before
    every write and every read, the time left until the deadline. A plain socket timeout counts per
    read, so a receiver trickling a byte every few seconds could hold the send as long as it liked.
    A kept-open connection gets the next send's deadline before each request."""

    def __init__(self, sock, deadline):
        self.sock, self.deadline = sock, deadline

    def sendall(self, data):
        self.sock.settimeout(_time_left(self.deadline))
        self.sock.sendall(data)

    def recv_into(self, buffer):
        self.sock.settimeout(_time_left(self.deadline))
        return self.sock.recv_into(buffer)

    def makefile(self, mode):
        return io.BufferedReader(_AnswerReader(self))

    def closed_by_peer(self):
        """True if the receiver has closed the connection (or sent what nobody asked for): it is
        readable while no request is under way."""
        return bool(select.select([self.sock], [], [], 0)[0])

    def close(self):
        self.sock.close()


class _AnswerReader(io.RawIOBase):
    """One answer's reads from the socket. http.client closes it once the answer is read; the socket
    stays open for the next request."""

    def __init__(self, sock):
        super().__init__()
        self.sock = sock

    def readable(self):
        return True

    def readinto(self, buffer):
        return self.sock.recv_into(buffer)


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to the addresses that were checked, never to what the name resolves to
    at connect time: between a check and a second lookup the name can be pointed at this network
    (DNS rebinding). The Host header, and for https the SNI and the certificate check, keep the
    name. Every step (connect, TLS handshake, request, answer) shares one deadline."""

    def __init__(self, host, port, *, addresses, deadline, tls=None):
        super().__init__(host, port)
        self.addresses, self.deadline, self.tls = addresses, deadline, tls
        if tls:
            self.default_port = 443  # so the Host header leaves out the usual port, as for http's 80

    def set_deadline(self, deadline):
        self.deadline = deadline
        if self.sock is not None:
            self.sock.deadline = deadline

    def connect(self):
        failure = OSError("no address")
        for family, sockaddr in self.addresses:  # in the resolver's order, as socket.create_connection does
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(_time_left(self.deadline))
                sock.connect(sockaddr)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as http.client does
                if self.tls:
                    sock.settimeout(_time_left(self.deadline))  # the handshake, all its reads, within the rest
                    sock = self.tls.wrap_socket(sock, server_hostname=self.host)
                self.sock = _DeadlineSocket(sock, self.deadline)
                return
            except OSError as error:
                sock.close()
                failure = error
        raise failure


# A kept-open connection is used again only after an answer whose body is at most this long (and is
# read, within the deadline); a longer or chunked one is not read, and its connection is closed.
KEEP_ALIVE_MAX_BODY = 64 * 1024


class _KeptConnection:
    """The connection a sender keeps open to its endpoint from one delivery to the next (HTTP
    keep-alive), instead of a lookup, a connection and a TLS handshake per delivery. Every connection
    opened is to addresses looked up and checked just before; one is not used again after an error,
    when the receiver asked to close it or has closed it, or when the URL has changed."""

    def __init__(self):
        self.key = self.connection = None

    def take(self, key):
        """The open connection for `key` (scheme, host, port), or None; the caller owns it now."""
        connection, self.connection = self.connection, None
        if connection is not None and (key != self.key or connection.sock is None or connection.sock.closed_by_peer()):
            connection.close()
            connection = None
        return connection

    def keep(self, key, connection):
        self.key, self.connection = key, connection

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def _post(url, body, headers, deadline, kept=None):
    """POST `body` to `url` once, never following a redirect, given up at `deadline` (monotonic).
    Returns (status code or None, error text). With `kept`, a connection it holds is used and the
    connection is left open in it afterwards if the receiver keeps it open."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        return None, "Not sent: only http and https URLs are called."
    port = parts.port or (443 if parts.scheme == "https" else 80)
    key = (parts.scheme, parts.hostname, port)
    connection = kept.take(key) if kept is not None else None
    if connection is not None:
        try:
            return _request(connection, parts, body, headers, deadline, kept, key)
        except ConnectionError:
            # The receiver closed the kept connection as this request went out (an idle timeout):
            # once more on a new connection, as HTTP clients do.
            pass
    # Resolved once per connection: the addresses checked here are the ones connected to.
    addresses = _resolve(parts.hostname, port)
    _time_left(deadline)  # a lookup cannot be cut short, but nothing is sent once it has used up the deadline
    inward = None if settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS else _first_inward(addresses)
    if inward:
        return None, f"Not sent: {inward} is inside this network, not a public address."
    tls = ssl.create_default_context() if parts.scheme == "https" else None
    connection = _PinnedConnection(parts.hostname, port, addresses=addresses, deadline=deadline, tls=tls)
    return _request(connection, parts, body, headers, deadline, kept, key)


def _request(connection, parts, body, headers, deadline, kept, key):
    """One POST on `connection`; afterwards it is closed, or given back to `kept` for the next."""
    connection.set_deadline(deadline)
    reusable = False
    try:
        connection.request("POST", urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, "")),
                           body=body, headers=headers if kept is not None else {**headers, "Connection": "close"})
        answer = connection.getresponse()  # the status line and headers
        if kept is not None and not answer.will_close and answer.length is not None and answer.length <= KEEP_ALIVE_MAX_BODY:
            answer.read()  # the next answer starts after this one's body
            reusable = True
    finally:
        if reusable:
            kept.keep(key, connection)
        else:
            connection.close()
    if 300 <= answer.status < 400:
        # A redirect could point anywhere, this network included, and to other schemes: never followed.
        return answer.status, f"Redirect not followed: HTTP {answer.status} to {answer.getheader('Location', '')}"
    return answer.status, "" if 200 <= answer.status < 300 else f"HTTP {answer.status}"


def deliver(delivery_id, *, now=None, kept=None):
    """Send one delivery if it is due. Returns the delivery after the attempt, or None if it was
    not due (already sent, given up, or claimed by another worker). `kept`: the sender's
    _KeptConnection, to send over a connection left open by the delivery before."""
    now = now or timezone.now()
    deadline_seconds = settings.WEBHOOK_DEADLINE_SECONDS
    lease = now + datetime.timedelta(seconds=deadline_seconds + LEASE_MARGIN_SECONDS)
    # Claim it: a Celery retry and the pump's requeue may both ask; only one sends.
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=lease)
    if not claimed:
        return None
    # The deadline counts from the claim, so the name's lookup is inside it too.
    started = time.monotonic()
    deadline = started + deadline_seconds
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(now.timestamp()))
    secrets = delivery.endpoint.signing_secrets(now)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Recovery-Webhooks/1",
        # The event id is the message id: the same on every retry and redelivery, so receivers drop repeats.
        STANDARD_ID_HEADER: delivery.event_id,
        STANDARD_TIMESTAMP_HEADER: timestamp,
        STANDARD_SIGNATURE_HEADER: standard_signature(secrets, delivery.event_id, timestamp, body),
        EVENT_ID_HEADER: delivery.event_id,
        EVENT_TYPE_HEADER: delivery.event_type,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature_header(secrets, timestamp, body),
    }
    try:
        status_code, error = _post(delivery.endpoint.url, body, headers, deadline, kept)
    except TimeoutError:
        status_code, error = None, f"Timed out: no answer within {deadline_seconds:g} s."
    except (OSError, http.client.HTTPException, ValueError) as failure:
        status_code, error = None, f"{type(failure).__name__}: {failure}"
    duration_ms = int((time.monotonic() - started) * 1000)
    return _record_attempt(delivery, now, status_code, error[:2000], duration_ms)


@transaction.atomic
def _record_attempt(delivery, now, status_code, error, duration_ms):
    WebhookAttempt.objects.create(delivery=delivery, at=now, status_code=status_code, error=error, duration_ms=duration_ms)
    delivery.attempts += 1
    delivery.last_status_code = status_code
    delivery.last_error = error
    if status_code is not None and 200 <= status_code < 300:
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = now
        log.info("webhook delivered", extra={"delivery": delivery.pk, "event_id": delivery.event_id})
    elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        delivery.status = WebhookDelivery.Status.FAILED
        log.warning("webhook gave up", extra={"delivery": delivery.pk, "event_id": delivery.event_id, "error": error})
    else:
        delivery.next_attempt_at = now + retry_pause(delivery.attempts)
        log.info("webhook failed, will retry", extra={"delivery": delivery.pk, "error": error,
                                                       "next_attempt_at": delivery.next_attempt_at.isoformat()})
    delivery.save(update_fields=["attempts", "last_status_code", "last_error", "status", "delivered_at", "next_attempt_at"])
    return delivery


# --- One sender per endpoint, in order --------------------------------------------------------------

# A sender works for at most this long (or SEND_LIMIT deliveries) before it hands over to a new task,
# so one busy endpoint never keeps a worker to itself. Its claim on the endpoint outlasts that by
# one send's deadline and the margin.
SEND_BUDGET_SECONDS = 10
SEND_LIMIT = 2000


def _due_deliveries(endpoint_id, now, limit):
    return list(
        WebhookDelivery.objects.filter(endpoint_id=endpoint_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
        .order_by("id").values_list("id", flat=True)[:limit]
    )


def send_due(endpoint_id):
    """Send the endpoint's due deliveries one at a time, oldest first (the order their events were
    recorded), over one connection kept open while the receiver keeps it open. Returns (sent, retry_at): how many were attempted, and when the earliest retry falls
    due (None when none waits).

    One sender per endpoint: it claims the endpoint with a compare-and-swap on `sending_until`; a
    second task finds it claimed and leaves, since the first goes on until nothing is due. A failed
    delivery waits out its backoff while the later ones go on: one bad event never holds the
    endpoint back, and its retry is the oldest due one when the backoff ends, so it goes first then.
    """
    attempted = 0
    started = time.monotonic()
    kept = _KeptConnection()

    def within_budget():
        return attempted < SEND_LIMIT and time.monotonic() - started < SEND_BUDGET_SECONDS

    while True:
        now = timezone.now()
        until = now + datetime.timedelta(seconds=SEND_BUDGET_SECONDS + settings.WEBHOOK_DEADLINE_SECONDS + LEASE_MARGIN_SECONDS)
        free = Q(sending_until__isnull=True) | Q(sending_until__lt=now)
        if not WebhookEndpoint.objects.filter(Q(pk=endpoint_id) & free).update(sending_until=until):
            if not attempted:
                return 0, None  # another worker is sending this endpoint's deliveries
            break
        try:
            while within_budget():
                due = _due_deliveries(endpoint_id, timezone.now(), limit=100)
                if not due:
                    break
                for delivery_id in due:
                    # Checked before each send: a send started within the budget ends (its deadline)
                    # before the claim lapses, so no second sender ever starts beside it.
                    if not within_budget():
                        break
                    if deliver(delivery_id, kept=kept) is not None:
                        attempted += 1
        finally:
            kept.close()
            WebhookEndpoint.objects.filter(pk=endpoint_id, sending_until=until).update(sending_until=None)
        # A delivery made while the claim was held had its task leave at once: look again after
        # letting go. Over budget, a fresh task takes over instead.
        if not _due_deliveries(endpoint_id, timezone.now(), limit=1):
            break
        if not within_budget():
            publish_senders([endpoint_id])
            break
    retry_at = (
        WebhookDelivery.objects.filter(endpoint_id=endpoint_id, status=WebhookDelivery.Status.PENDING)
        .order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first()
    )
    return attempted, retry_at


def endpoints_with_due_deliveries(now):
    return list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
        .order_by().values_list("endpoint_id", flat=True).distinct()  # no ordering: it would join the DISTINCT
    )


def queue(delivery_ids):
    """Queue the sender of each of these deliveries' endpoints, once the transaction commits."""
    if delivery_ids:
        endpoint_ids = set(WebhookDelivery.objects.filter(pk__in=list(delivery_ids)).values_list("endpoint_id", flat=True))
        transaction.on_commit(lambda: publish_senders(endpoint_ids))


# After the broker failed to take a message, nothing is offered to it for this long: the pump
# catches up meanwhile, and requests do not each pay for finding the broker away.
BROKER_REST_SECONDS = 5
_broker_away_until = 0.0
_broker = threading.local()


def _broker_connection():
    """This thread's connection for queueing senders, kept open (a new one costs milliseconds). It
    tries the broker once, without kombu's retries: a web request that commits an event must not
    wait seconds for a broker that is away (the pump is there for that)."""
    from recovery.celery import app

    key = (os.getpid(), app.conf.broker_url)  # never a connection of the parent process, nor of another broker
    if getattr(_broker, "key", None) != key:
        _broker.key, _broker.connection = key, app.connection_for_write(transport_options={"max_retries": 0})
    return _broker.connection


def publish_senders(endpoint_ids):
    """Queue a sender task per endpoint now. With the broker unreachable, log it and return: the
    deliveries are rows, pending and due, and the next pump queues their senders again."""
    global _broker_away_until
    from . import tasks  # tasks import this module

    endpoint_ids = sorted(endpoint_ids)
    if not endpoint_ids or time.monotonic() < _broker_away_until:
        return
    for endpoint_id in endpoint_ids:
        try:
            tasks.send_webhooks.apply_async((endpoint_id,), retry=False, connection=_broker_connection())
        except OperationalError:
            # What committed stays committed (an error raised here would reach whoever committed,
            # after the fact).
            _broker_away_until = time.monotonic() + BROKER_REST_SECONDS
            _broker.connection.release()
            _broker.key = None  # the next try opens a fresh connection
            log.warning("Broker unavailable; webhook deliveries of %d endpoints wait for the next pump", len(endpoint_ids), exc_info=True)
            return


# --- What a client does over the API ------------------------------------------------------------

DEFAULT_OVERLAP = datetime.timedelta(hours=24)
MAX_OVERLAP = datetime.timedelta(days=7)


def rotate_secret(endpoint, *, overlap=DEFAULT_OVERLAP, now=None):
    """Give the endpoint a new signing secret. The one it replaces goes on signing too (a second
    signature) for `overlap`, so the receiver can switch at its own moment; a zero overlap stops
    every older secret at once (after a leak).

    Rotating again while an overlap lasts replaces the new secret only, and the secret from before
    keeps signing until `now + overlap`: a rotation retried because its answer was lost must not drop
    the one secret the receiver has."""
    now = now or timezone.now()
    if not datetime.timedelta(0) <= overlap <= MAX_OVERLAP:
        raise ValueError("overlap out of range")
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if not overlap:
            locked.previous_secret, locked.previous_secret_expires_at = "", None
        else:
            if len(locked.signing_secrets(now)) == 1:  # no overlap under way: the current secret is the one to keep
                locked.previous_secret = locked.secret
            locked.previous_secret_expires_at = now + overlap
        locked.secret = new_webhook_secret()
        locked.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    return locked


class NotRedeliverable(Exception):
    """The delivery is still pending: it is already going to be sent."""


def redeliver(delivery, *, now=None):
    """Send a delivered or given-up delivery again, now, with the same event id (so a receiver that
    did handle it drops the repeat). Its retries start afresh; its attempts so far stay in the log."""
    now = now or timezone.now()
    again = WebhookDelivery.objects.filter(pk=delivery.pk).exclude(status=WebhookDelivery.Status.PENDING).update(
        status=WebhookDelivery.Status.PENDING, attempts=0, next_attempt_at=now, delivered_at=None)
    if not again:
        raise NotRedeliverable()
    transaction.on_commit(lambda: publish_senders([delivery.endpoint_id]))
    delivery.refresh_from_db()
    return delivery
