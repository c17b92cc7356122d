"""The Celery app. Every periodic schedule of the product lives here, in one static table."""

import os

from celery import Celery

from recovery import broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recovery.settings")

app = Celery("recovery")
app.config_from_object("django.conf:settings", namespace="CELERY")
if app.conf.broker_url.startswith(broker.URL_PREFIX):
    # The embedded broker: how its SQLite file is opened is code, not a setting.
    app.conf.broker_transport_options = broker.transport_options(
        app.conf.broker_url, [queue.name for queue in app.conf.task_queues or ()])
app.autodiscover_tasks()
# The daily progress report's pass has a module of its own beside outreach's sending tasks.
app.autodiscover_tasks(related_name="progress_tasks")
# The satisfaction check's pass has a module of its own beside outreach's sending tasks.
app.autodiscover_tasks(related_name="survey_tasks")


def _beat_schedule():
    from django.conf import settings

    interval = settings.SWEEP_INTERVAL_SECONDS
    return {
        # The follow-up engine. Deadlines live in the database, so a pass that never ran is the
        # next pass's work: `expires` drops passes a stalled worker did not start in time instead
        # of letting them pile up. Run exactly one beat process.
        "sweep-followups": {
            "task": "followups.tasks.sweep_followups",
            "schedule": interval,
            "options": {"expires": interval},
        },
        # Webhooks: new timeline events become signed deliveries; due retries are queued again.
        "pump-webhooks": {
            "task": "helpdesk.tasks.pump_webhooks",
            "schedule": interval,
            "options": {"expires": interval},
        },
        # Messages to customers: a send wakes the worker at once; this pass is the safety net for a
        # wake-up the broker lost, a retry come due and a message scheduled for later.
        "send-messages": {
            "task": "outreach.tasks.send_messages",
            "schedule": interval,
            "options": {"expires": interval},
        },
        # The daily progress report to customers: drafted each morning in the location's opening
        # hours, sent by itself at the organization's hour, escalated when the day ended unsent.
        "progress-reports": {
            "task": "outreach.progress_tasks.run_progress_reports",
            "schedule": 5 * 60,
            "options": {"expires": 5 * 60},
        },
        # The customer's satisfaction check, a while after the wrap-up went out (an organization's
        # setting of hours or days): a quarter-hourly pass is soon enough.
        "satisfaction-checks": {
            "task": "outreach.survey_tasks.send_satisfaction_checks",
            "schedule": 15 * 60,
            "options": {"expires": 15 * 60},
        },
        # The managers' rollup (scorecard, trends): the incidents changed since the last pass are
        # folded in, so the pages are at most a minute behind the recoveries.
        "fold-rollups": {
            "task": "insights.tasks.fold_rollups",
            "schedule": 60,
            "options": {"expires": 60},
        },
        # The managers' weekly digest: each manager's Monday morning in their location's time zone is
        # decided by the task, so a quarter-hourly beat reaches every zone and catches up a missed run.
        "weekly-digest": {
            "task": "insights.tasks.send_weekly_digest",
            "schedule": 15 * 60,
            "options": {"expires": 15 * 60},
        },
    }


app.conf.beat_schedule = _beat_schedule()
