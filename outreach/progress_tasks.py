"""Beat's door onto the daily progress report: one thin task over `progress_reports.run_pass`."""

from celery import shared_task

from . import progress_reports


@shared_task(ignore_result=True)
def run_progress_reports():
    """Draft today's reports where it is open, close the days that ended (a missed report is
    escalated), send the ones that go by themselves. Beat sends it every few minutes with `expires`:
    the state lives in the database, so a lost pass is simply the next one's work."""
    report = progress_reports.run_pass()
    return {"drafted": report.drafted, "missed": report.missed, "sent": report.sent_by_themselves}
