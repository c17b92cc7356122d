"""Celery task of the satisfaction check: a thin door onto `outreach.survey`."""

from celery import shared_task

from . import survey


@shared_task(ignore_result=True)
def send_satisfaction_checks():
    """Beat: one satisfaction check to each customer whose wrap-up went out long enough ago. A pass
    that never ran is the next one's work: what is due is read from the database."""
    return survey.send_satisfaction_checks()
