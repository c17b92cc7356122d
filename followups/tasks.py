"""Celery tasks: thin doors onto `followups.services`. They carry ids, never deadlines."""

from celery import shared_task
from django.db import DatabaseError

from . import services


@shared_task(ignore_result=True)
def sweep_followups():
    """One pass of the engine. Beat sends it every SWEEP_INTERVAL_SECONDS with `expires`, so a
    stalled beat or worker never lets passes pile up; a lost pass is simply the next one's work."""
    report = services.sweep()
    return {"due": report.due, "acted": report.acted, "failed": report.failed}


@shared_task(
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    # Only the database failing is retried here, with a short backoff well under the broker's
    # visibility timeout. A mail failure is recorded on the Delivery row instead, and the sweep
    # queues it again when its next attempt is due: the schedule lives in the database.
    autoretry_for=(DatabaseError,),
    retry_backoff=5,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=5,
)
def deliver_notification(delivery_id):
    return services.deliver(delivery_id)
