"""The filtered incidents with their steps as CSV: small exports streamed at once, large ones written by a worker.

Up to settings.EXPORT_IMMEDIATE_MAX_ROWS rows the answer streams straight away (well inside any request
timeout). Beyond it the export is an ExportJob: a Celery task writes the whole file in chunks from a
server-side cursor into the "exports" storage, moving the job's progress as it goes; the page shows a
progress bar, the person is told when the file is ready, and only then can it be downloaded. A file is
never handed out half-written: a request killed by a timeout would have sent `200 OK` and part of the rows.
Finished files expire after settings.EXPORT_KEEP_FOR; every export task first deletes the expired ones.

Managers open the file in a spreadsheet, so every text cell goes through `spreadsheet_cell`: a summary or a
customer's name typed as `=HYPERLINK(...)` must show as text, not run as a formula on the manager's machine.
"""

import csv
import datetime
import io
import logging
import tempfile
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.core.files.storage import storages
from django.db import transaction
from django.db.models import Q
from django.http import FileResponse, Http404, QueryDict, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.formats import date_format

from followups.models import Notification
from followups.services import tell
from incidents.models import User

from .models import ExportJob
from .scope import Filters, categories_of, period_of, scope_for, staff_of
from .selectors import period_incidents

logger = logging.getLogger(__name__)

# Rows written between two progress updates (and fetched per round trip from the cursor).
CHUNK_ROWS = 2000
# A running job whose worker has not written a chunk for this long has died (killed, deployed over):
# its page says it failed and it can be retried.
STALLED_AFTER = datetime.timedelta(minutes=10)

COLUMNS = [
    ("reference", "reference"), ("location", "location__name"), ("region", "location__region"),
    ("logged_at", "logged_at"), ("occurred_at", "occurred_at"), ("channel", "channel"), ("category", "category__name"),
    ("severity", "severity"), ("busyness", "busyness"), ("summary", "summary"), ("customer", "customer__name"),
    ("owner", "owner__username"), ("logged_by", "logged_by__username"), ("stage", "stage"),
    ("follow_up_due_at", "follow_up_due_at"), ("responded_at", "responded_at"), ("breached_at", "breached_at"),
    ("apologized_at", "apology__apologized_at"), ("apology", "apology__text"),
    ("apology_accepted", "apology__customer_accepted"), ("reviewed_at", "review__reviewed_at"),
    ("customer_needs", "review__customer_needs"), ("fix", "fix__description"), ("fixed_at", "fixed_at"),
    ("root_cause", "deposition__root_cause"), ("prevention", "deposition__prevention"),
    ("wrapped_up_at", "wrapped_up_at"), ("outcome", "outcome"), ("satisfaction", "resolution__satisfaction"),
    ("closed_at", "closed_at"), ("gesture_cost", "gesture_cost"),
]


# The characters that make Excel, LibreOffice and Google Sheets read a cell as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Excel reads a CSV without a byte order mark in the machine's legacy code page, mangling "Zoë" and "£".
BYTE_ORDER_MARK = "\ufeff"


class _Echo:
    """A file-like object whose write() hands the line back, for csv.writer inside a generator."""

    def write(self, value):
        return value


def rows(incidents, *, chunk_size=2000):
    """The CSV lines: the header, then one line per incident read in chunks from a server-side cursor."""
    # csv.writer quotes a cell holding a comma, a quote or a line break, so no text can start a cell of its own.
    writer = csv.writer(_Echo())
    yield BYTE_ORDER_MARK + writer.writerow([name for name, _ in COLUMNS])
    values = incidents.order_by("logged_at", "id").values_list(*[field for _, field in COLUMNS])
    for row in values.iterator(chunk_size=chunk_size):
        yield writer.writerow([spreadsheet_cell(value) for value in row])


def spreadsheet_cell(value):
    """One value as a CSV cell a spreadsheet shows and never runs.

    Text (whatever someone typed: a summary, a name, an apology) that starts like a formula gets a leading single
    quote, which spreadsheets read as "this is text". Numbers, dates and booleans the export formats itself stay
    as they are, so a gesture cost of -8.00 still adds up in a column sum.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    if isinstance(value, Decimal):
        return f"{value:.2f}"  # SQLite hands back 20 where PostgreSQL hands back 20.00
    return value.isoformat() if hasattr(value, "isoformat") else value


def streamed(incidents, filename):
    response = StreamingHttpResponse(rows(incidents), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- Large exports: jobs ------------------------------------------------------------------------


def export(scope, values, *, now):
    """The export of the console's filtered incidents: a streamed response when it is small, else a new
    ExportJob queued for a worker (the caller shows its page)."""
    start, end = period_of(values, scope, now)
    incidents = period_incidents(scope, values, start, end, now)
    filename = f"incidents-{start:%Y%m%d}.csv"
    limit = settings.EXPORT_IMMEDIATE_MAX_ROWS
    # Counting stops one row past the limit: a million rows cost no more to classify than 5,001.
    if incidents.order_by()[: limit + 1].count() <= limit:
        return streamed(incidents, filename)
    kept = {**values, "start": start.date(), "end": (end - datetime.timedelta(days=1)).date()}
    job = ExportJob.objects.create(
        organization_id=scope.user.organization_id, requested_by=scope.user, query=_query(kept),
        filename=filename, created_at=now,
    )
    _queue(job)
    return job


def _query(values):
    kept = {key: value for key, value in values.items() if value not in (None, "", False)}
    return urlencode({key: value.isoformat() if hasattr(value, "isoformat") else value for key, value in kept.items()})


def _queue(job):
    from . import tasks  # the tasks import this module

    transaction.on_commit(lambda: tasks.write_export.delay(job.pk))


def job_for(user, pk):
    """The export job `pk` if `user` may see it: the person who asked, or an admin of its organization.
    Http404 for anyone else's, as for one that does not exist, so a job's number tells nothing."""
    jobs = ExportJob.objects.filter(pk=pk, organization_id=user.organization_id) if user.is_authenticated else ExportJob.objects.none()
    if user.is_authenticated and user.role != User.Role.ADMIN:
        jobs = jobs.filter(requested_by=user)
    job = jobs.first()
    if job is None:
        raise Http404(gettext("No such export."))
    return job


def state_of(job, now):
    """The job's status as its page shows it: a running job whose worker went quiet has failed."""
    if job.status == ExportJob.Status.RUNNING and job.progress_at and job.progress_at < now - STALLED_AFTER:
        return ExportJob.Status.FAILED
    if job.status == ExportJob.Status.READY and job.expires_at and job.expires_at <= now:
        return ExportJob.Status.EXPIRED
    return job.status


def download(user, pk, *, now):
    """The finished file of job `pk` for `user` (same rule as its page); 404 until it is ready or once expired."""
    job = job_for(user, pk)
    if state_of(job, now) != ExportJob.Status.READY:
        raise Http404(gettext("This export is not ready, or has expired."))
    return FileResponse(storages["exports"].open(job.file_name, "rb"), as_attachment=True, filename=job.filename,
                        content_type="text/csv")


def retry(user, pk, *, now):
    """Queue a failed (or stalled) job again, from the start. Returns the job."""
    job = job_for(user, pk)
    retryable = Q(status=ExportJob.Status.FAILED) | Q(status=ExportJob.Status.RUNNING, progress_at__lt=now - STALLED_AFTER)
    # Compare-and-set: two clicks (or a click and a late worker) queue it once.
    if ExportJob.objects.filter(retryable, pk=job.pk).update(
        status=ExportJob.Status.QUEUED, error="", rows_written=0, rows_expected=0, progress_at=None
    ) == 1:
        _queue(job)
    job.refresh_from_db()
    return job


def write_export(job_id, *, now=None, chunk_rows=CHUNK_ROWS):
    """The worker's half of an export: claim the queued job, write every row to the exports storage, then
    mark it ready and tell the person who asked. Running it twice for one job writes one file.

    The rows are read again with the requester's scope as it is now (someone who lost the managers'
    console gets a failed job, not the data). The file is spooled on the worker's disk (constant memory)
    and stored only once complete, so the storage never holds a partial file; the count written is
    the count the page and the notification give.
    """
    now = now or timezone.now()
    delete_expired_exports(now=now)
    claimed = ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.QUEUED).update(
        status=ExportJob.Status.RUNNING, progress_at=now, rows_written=0, error="",
    )
    if claimed != 1:
        return None  # already written, being written, or gone
    job = ExportJob.objects.select_related("requested_by").get(pk=job_id)
    try:
        incidents = _incidents_of(job, now)
        ExportJob.objects.filter(pk=job.pk).update(rows_expected=incidents.count())
        with tempfile.TemporaryFile() as spool:
            written = _write(incidents, spool, job, chunk_rows)
            spool.seek(0)
            name = export_storage_name(job)
            stored = storages["exports"].save(name, File(spool, name=name))
    except Exception as error:  # the job says it failed and can be retried; nothing half-written is kept
        logger.exception("Export %s failed", job.pk)
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJob.Status.FAILED, error=_reason(error), progress_at=timezone.now(),
        )
        return None
    finished = timezone.now()
    with transaction.atomic():
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJob.Status.READY, file_name=stored, rows_written=written, rows_expected=written,
            progress_at=finished, finished_at=finished, expires_at=finished + settings.EXPORT_KEEP_FOR,
        )
        tell([job.requested_by], kind=Notification.Kind.EXPORT_READY, title=gettext("Your export is ready: %(filename)s") % {"filename": job.filename},
             body=gettext("%(written)s incidents, ready to download until %(value)s.") % {"written": written, "value": date_format(finished + settings.EXPORT_KEEP_FOR, "d M Y")},
             dedupe_key=f"export-ready-{job.pk}-{finished.timestamp():.0f}", now=finished,
             link=reverse("insights:export_job", args=[job.pk]))
    return written


def _incidents_of(job, now):
    scope = scope_for(job.requested_by)  # PermissionDenied if they are no longer a manager
    form = Filters(QueryDict(job.query), scope=scope, staff=staff_of(scope), categories=categories_of(scope))
    values = form.values()
    start, end = period_of(values, scope, now)
    return period_incidents(scope, values, start, end, now)


def _write(incidents, spool, job, chunk_rows):
    """Every CSV line into `spool`, the job's progress moved after each chunk. Returns the rows written."""
    text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
    written = 0
    lines = rows(incidents, chunk_size=chunk_rows)
    text.write(next(lines))  # the header
    for line in lines:
        text.write(line)
        written += 1
        if written % chunk_rows == 0:
            ExportJob.objects.filter(pk=job.pk).update(rows_written=written, progress_at=timezone.now())
    text.flush()
    text.detach()  # leave the spool open for the storage
    return written


def export_storage_name(job):
    return f"{job.organization_id}/{job.pk}-{job.created_at:%Y%m%d%H%M%S}-{job.filename}"


def _reason(error):
    if isinstance(error, PermissionDenied):
        return gettext("You no longer have the managers' console, so the export was not written.")
    return gettext("The export stopped (%(name)s). Nothing was kept; try again.") % {"name": type(error).__name__}


def delete_expired_exports(*, now):
    """Delete the files of ready exports past their date and mark the jobs expired. Returns how many."""
    expired = 0
    for job in ExportJob.objects.filter(status=ExportJob.Status.READY, expires_at__lte=now).order_by("expires_at")[:100]:
        # Claim first, so two workers never both delete (and the second never marks a live file expired).
        if ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.READY).update(status=ExportJob.Status.EXPIRED) == 1:
            if job.file_name:
                storages["exports"].delete(job.file_name)
            ExportJob.objects.filter(pk=job.pk).update(file_name="")
            expired += 1
    return expired
