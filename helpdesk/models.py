"""The helpdesk API's own records: clients, idempotency keys, webhook endpoints and their deliveries.

They were created by the `incidents` app's migrations and keep those tables (`db_table`): the move to
this app changed only where Django looks for them (helpdesk's migration 0001), not a row.
"""

import base64
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy


def new_webhook_secret():
    """`whsec_` and 32 random bytes in standard base64, the form Standard Webhooks libraries decode.
    (Secrets made before that used the URL-safe alphabet; rotating one gives the new form.)"""
    return f"whsec_{base64.b64encode(secrets.token_bytes(32)).decode()}"


class ApiClient(models.Model):
    """One integration (a helpdesk), belonging to one organization.

    It acts through its own member-of-staff row (`user`, no password, no locations), so every step it
    records goes through `incidents.services` and the timeline names it like anyone else. It signs in
    with its `ApiToken`s (`helpdesk.tokens`).
    """

    organization = models.ForeignKey("incidents.Organization", on_delete=models.CASCADE, related_name="api_clients")
    name = models.CharField(max_length=100)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_client")
    rate_limit_per_minute = models.PositiveIntegerField(
        default=600, help_text=gettext_lazy("Requests per minute before the API answers 429.")
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "incidents_apiclient"
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="api_client_name_unique")]
        ordering = ["name"]
        verbose_name = "API client"

    def __str__(self):
        return self.name


class ApiToken(models.Model):
    """A secret an API client signs in with. Only its SHA-256 is kept: the token itself is shown once,
    when it is made. Its first characters (`prefix`) name it in logs and on the settings page."""

    class Scope(models.TextChoices):
        READ = "read", gettext_lazy("Read only")
        WRITE = "write", gettext_lazy("Read and write")

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="tokens")
    prefix = models.CharField(max_length=20, help_text=gettext_lazy("The token's first characters, to recognize it."))
    key_hash = models.CharField(max_length=64, unique=True, help_text=gettext_lazy("SHA-256 of the whole token, hex."))
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.WRITE)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text=gettext_lazy("Empty: until revoked."))
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self):
        return f"{self.prefix}…"


class IdempotencyKey(models.Model):
    """The first answer to a POST sent with an `Idempotency-Key`, replayed to every repeat.

    The unique constraint on (user, key) is what makes concurrent repeats safe: the second INSERT waits
    for the first transaction and then fails, and the repeat reads the committed answer.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64, help_text=gettext_lazy("SHA-256 of method, path and body."))
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "incidents_idempotencykey"
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once_per_user")]


class WebhookEndpoint(models.Model):
    class EventType(models.TextChoices):
        INCIDENT_CREATED = "incident.created", gettext_lazy("Incident created")
        STEP_RECORDED = "step.recorded", gettext_lazy("Step recorded")
        FOLLOWUP_DUE = "followup.due", gettext_lazy("Follow-up due")
        FOLLOWUP_BREACHED = "followup.breached", gettext_lazy("Twenty-minute window breached")
        INCIDENT_CLOSED = "incident.closed", gettext_lazy("Incident closed")
        MESSAGE_SENT = "message.sent", gettext_lazy("Message to the customer sent")
        MESSAGE_FAILED = "message.failed", gettext_lazy("Message to the customer failed")
        SURVEY_ANSWERED = "survey.answered", gettext_lazy("The customer answered the satisfaction check")
        PROBLEM_OPENED = "problem.opened", gettext_lazy("Problem opened")
        PROBLEM_UPDATED = "problem.updated", gettext_lazy("Problem changed (details, status, fix, recurrence)")
        PROBLEM_ACTION_ADDED = "problem.action_added", gettext_lazy("Corrective action added")
        PROBLEM_ACTION_DONE = "problem.action_done", gettext_lazy("Corrective action done")
        PROBLEM_ACTION_OVERDUE = "problem.action_overdue", gettext_lazy("Corrective action overdue")
        PROBLEM_INCIDENT_LINKED = "problem.incident_linked", gettext_lazy("Incident linked to a problem")

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, blank=True, help_text=gettext_lazy("Event types to send; empty means all."))
    secret = models.CharField(max_length=100, default=new_webhook_secret, help_text=gettext_lazy("Signs every delivery."))
    # After a rotation the replaced secret signs too, until it expires, so the receiver can switch over.
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # The claim of the one worker sending this endpoint's deliveries (in order, one at a time).
    sending_until = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "incidents_webhookendpoint"
        ordering = ["id"]

    def __str__(self):
        return self.url

    def wants(self, event_type):
        return not self.events or event_type in self.events

    def signing_secrets(self, now):
        """The secrets that sign a delivery made at `now`: the current one, then the replaced one
        while its overlap lasts."""
        if self.previous_secret and self.previous_secret_expires_at and now < self.previous_secret_expires_at:
            return [self.secret, self.previous_secret]
        return [self.secret]


class WebhookDelivery(models.Model):
    """One event for one endpoint. At least once: the event id lets the receiver drop repeats."""

    class Status(models.TextChoices):
        PENDING = "pending", gettext_lazy("Pending")
        DELIVERED = "delivered", gettext_lazy("Delivered")
        FAILED = "failed", gettext_lazy("Gave up")

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=40)
    event_type = models.CharField(max_length=40)
    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="+", null=True)
    payload = models.JSONField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "incidents_webhookdelivery"
        constraints = [
            # The outbox pass may look at an event twice; the endpoint gets it once.
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_once_per_event")
        ]
        indexes = [
            # Serves the requeue of deliveries whose retry is due.
            models.Index(fields=["next_attempt_at"], name="webhook_delivery_due", condition=Q(status="pending")),
            # Serves an endpoint's sender (its pending deliveries, oldest first) and its delivery log.
            models.Index(fields=["endpoint", "id"], name="webhook_delivery_by_endpoint"),
        ]
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self):
        return f"{self.event_type} {self.event_id} → {self.endpoint}"


class WebhookAttempt(models.Model):
    """The log of every HTTP attempt of a delivery."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "incidents_webhookattempt"
        ordering = ["at", "id"]


class WebhookOutbox(models.Model):
    """Where the outbox pass stands in the timeline (Event ids), the follow-up reminders and the
    problems' timeline (ProblemEvent ids)."""

    name = models.CharField(max_length=40, unique=True)
    last_event_id = models.BigIntegerField(default=0)
    last_reminder_id = models.BigIntegerField(default=0)
    last_problem_event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "incidents_webhookoutbox"
        verbose_name_plural = "webhook outbox"
