"""Celery tasks of the managers' console: thin doors onto plain functions."""

from celery import shared_task

from . import export
from .digest import send_weekly_digests
from .rollups import fold_changes


@shared_task(ignore_result=True)
def send_weekly_digest():
    """Beat sends this every quarter of an hour; the function picks the managers whose Monday morning it is."""
    return send_weekly_digests()


@shared_task(ignore_result=True)
def fold_rollups():
    """Beat folds the incidents changed in the last minute into the managers' rollup."""
    return fold_changes()


@shared_task(ignore_result=True)
def write_export(job_id):
    """A large CSV export, queued when a manager asks for one; it also deletes the expired files first."""
    return export.write_export(job_id)


# The digest's name before the console became its own app. Messages queued under it (a beat pass sent
# just before a deploy) still drain; remove it the release after.
@shared_task(name="incidents.tasks.send_weekly_digest", ignore_result=True)
def send_weekly_digest_by_its_old_name():
    return send_weekly_digests()
