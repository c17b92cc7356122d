"""Celery tasks: thin doors onto `webhooks` and `idempotency`. They carry ids, never payloads."""

from celery import shared_task
from django.utils import timezone

from . import idempotency, webhooks
from .models import WebhookDelivery

# A retry further off than this is left to the pump rather than held by a worker as a countdown
# (a message held past the broker's visibility timeout would be handed out a second time).
RETRY_COUNTDOWN_LIMIT_SECONDS = 240


@shared_task(ignore_result=True)
def pump_webhooks():
    """Beat sends this every SWEEP_INTERVAL_SECONDS: new timeline events that the commit hook
    missed become deliveries, the sender of every endpoint with due deliveries is queued, and
    idempotency keys past their day are forgotten."""
    due = webhooks.pump()
    webhooks.publish_senders(webhooks.endpoints_with_due_deliveries(timezone.now()))
    idempotency.prune()
    return len(due)


@shared_task(ignore_result=True, acks_late=True)
def send_webhooks(endpoint_id):
    """Send one endpoint's due deliveries in order (`webhooks.send_due`). When this run sent some
    and a failed one waits for its backoff, a run is queued for when it falls due."""
    attempted, retry_at = webhooks.send_due(endpoint_id)
    if attempted and retry_at is not None:
        wait = (retry_at - timezone.now()).total_seconds()
        if wait <= RETRY_COUNTDOWN_LIMIT_SECONDS:
            send_webhooks.apply_async((endpoint_id,), countdown=max(wait, 0.5))


@shared_task(ignore_result=True, acks_late=True)
def deliver_webhook(delivery_id):
    """The task of one delivery, from before deliveries were sent per endpoint: a message queued
    before a deploy sends its endpoint's due deliveries, in order. Remove it the release after."""
    endpoint_id = WebhookDelivery.objects.filter(pk=delivery_id).values_list("endpoint_id", flat=True).first()
    if endpoint_id is not None:
        send_webhooks(endpoint_id)


# The names these tasks had while the API lived inside `incidents`. Messages queued under them (a beat
# pass or a retry sent just before a deploy) still drain; remove them the release after.
@shared_task(name="incidents.api.tasks.pump_webhooks", ignore_result=True)
def pump_webhooks_by_its_old_name():
    return pump_webhooks()


@shared_task(name="incidents.api.tasks.deliver_webhook", ignore_result=True, acks_late=True)
def deliver_webhook_by_its_old_name(delivery_id):
    deliver_webhook(delivery_id)
