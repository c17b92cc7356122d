"""Celery tasks of the recovery record: thin doors onto plain functions."""

from celery import shared_task

from incidents.insights.digest import send_weekly_digests


@shared_task(ignore_result=True)
def send_weekly_digest():
    """Beat sends this every quarter of an hour; the function picks the managers whose Monday morning it is."""
    return send_weekly_digests()
