"""Celery tasks: thin doors onto `webhooks` and `idempotency`. They carry ids, never payloads."""

from celery import shared_task
from django.utils import timezone

from . import idempotency, webhooks


@shared_task(ignore_result=True)
def pump_webhooks():
    """Beat sends this every SWEEP_INTERVAL_SECONDS: new timeline events become deliveries, due
    deliveries are queued, and idempotency keys past their day are forgotten."""
    due = webhooks.pump()
    webhooks.queue(due)
    idempotency.prune()
    return len(due)


@shared_task(bind=True, ignore_result=True, acks_late=True, max_retries=None)
def deliver_webhook(self, delivery_id):
    """One delivery. A failure is retried by Celery after the backoff the delivery row records
    (which also bounds the number of attempts); the pump requeues any retry a worker lost."""
    delivery = webhooks.deliver(delivery_id)
    if delivery is not None and delivery.status == delivery.Status.PENDING:
        wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
        raise self.retry(countdown=max(wait, 1))


# The names these tasks had while the API lived inside `incidents`. Messages queued under them (a beat
# pass or a retry sent just before a deploy) still drain; remove them the release after.
@shared_task(name="incidents.api.tasks.pump_webhooks", ignore_result=True)
def pump_webhooks_by_its_old_name():
    return pump_webhooks()


@shared_task(name="incidents.api.tasks.deliver_webhook", ignore_result=True, acks_late=True)
def deliver_webhook_by_its_old_name(delivery_id):
    # Sent on to the task of today's name, which retries with the backoff the delivery row records.
    deliver_webhook.delay(delivery_id)
