"""Celery tasks: thin doors onto `outreach.services`."""

from celery import shared_task
from django.db import DatabaseError

from . import services


@shared_task(
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    # Only the database failing is retried here. A send that failed is recorded on the message with
    # its next attempt; this task (woken again by a send, or by beat) picks it up then.
    autoretry_for=(DatabaseError,),
    retry_backoff=5,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=5,
)
def send_messages():
    """Send every message to customers that is due. Queued when a send commits, and by beat as a
    safety net; any number may run at once (each message is claimed before it is sent)."""
    report = services.send_due()
    return {"sent": report.sent, "retried": report.retried, "failed": report.failed}
