"""Large CSV exports are jobs: written by a worker in chunks, shown with a progress bar, told when ready,
downloaded only by the person who asked (or their organization's admins), deleted when they expire."""

import csv
import datetime
import io
import re

import pytest
import time_machine
from django.core.files.storage import storages
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext

from followups.models import Notification
from insights import export, tasks
from insights.models import ExportJob
from tests import factories

pytestmark = pytest.mark.django_db

UTC = datetime.timezone.utc
AT = datetime.datetime(2026, 3, 4, 10, tzinfo=UTC)
ASKED = datetime.datetime(2026, 3, 10, 9, tzinfo=UTC)
PERIOD = "start=2026-03-01&end=2026-03-07"


@pytest.fixture(autouse=True)
def exports_kept_in(settings, tmp_path):
    """A threshold of three rows, and the exports storage in a folder of the test's own."""
    settings.EXPORT_IMMEDIATE_MAX_ROWS = 3
    settings.STORAGES = {**settings.STORAGES, "exports": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)},
    }}
    return tmp_path


def logged(build, location, owner, n):
    return [build(at=AT + datetime.timedelta(hours=hour), location=location, owner=owner) for hour in range(n)]


def ask(client, person, query=PERIOD):
    client.force_login(person)
    with time_machine.travel(ASKED, tick=False):
        return client.get(f"/manage/export.csv?{query}")


def csv_rows(data):
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_a_small_export_stays_immediate(client, build, manager, location, frontline, django_capture_on_commit_callbacks):
    made = logged(build, location, frontline, 3)
    with django_capture_on_commit_callbacks() as queued:
        response = ask(client, manager)
    assert isinstance(response, StreamingHttpResponse)
    rows = csv_rows(b"".join(response.streaming_content))
    assert {row["reference"] for row in rows} == {incident.reference for incident in made}
    assert not ExportJob.objects.exists() and queued == []


def test_a_large_export_becomes_a_job_queued_for_a_worker(client, build, manager, location, frontline,
                                                         django_capture_on_commit_callbacks):
    logged(build, location, frontline, 4)
    with django_capture_on_commit_callbacks() as queued:
        response = ask(client, manager, PERIOD + "&busyness=")
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/manage/exports/{job.pk}/"
    assert job.status == ExportJob.Status.QUEUED and job.requested_by == manager
    assert job.query == "start=2026-03-01&end=2026-03-07" and job.filename == "incidents-20260301.csv"
    assert len(queued) == 1
    page = client.get(f"/manage/exports/{job.pk}/").content.decode()
    assert "Waiting for a worker" in page and "<progress" in page and "data-running" in page
    assert "export_job.js" in page


def test_the_job_writes_every_row_in_chunks_moving_its_progress(client, build, manager, location, frontline,
                                                                 exports_kept_in):
    made = logged(build, location, frontline, 7)
    outside = build(at=AT + datetime.timedelta(days=10), location=location, owner=frontline)
    ask(client, manager)
    job = ExportJob.objects.get()
    with CaptureQueriesContext(connection) as queries:
        written = export.write_export(job.pk, chunk_rows=2)
    assert written == 7
    progress = [int(n) for query in queries.captured_queries if query["sql"].startswith('UPDATE "insights_exportjob"')
                for n in re.findall(r'"rows_written" = (\d+)', query["sql"])]
    assert progress == [0, 2, 4, 6, 7]  # claimed, a chunk at a time, then ready with the count written
    job.refresh_from_db()
    assert job.status == ExportJob.Status.READY and job.rows_written == job.rows_expected == 7
    assert job.expires_at == job.finished_at + datetime.timedelta(days=7)
    with storages["exports"].open(job.file_name, "rb") as stored:
        rows = csv_rows(stored.read())
    assert sorted(row["reference"] for row in rows) == sorted(incident.reference for incident in made)
    assert outside.reference not in {row["reference"] for row in rows}
    assert list(exports_kept_in.rglob("*.csv")) == [exports_kept_in / job.file_name]


def test_the_person_is_told_and_the_page_links_the_download(client, build, manager, location, frontline):
    logged(build, location, frontline, 4)
    ask(client, manager)
    job = ExportJob.objects.get()
    export.write_export(job.pk)
    told = Notification.objects.get(recipient=manager)
    assert told.incident is None and told.link == f"/manage/exports/{job.pk}/"
    assert told.title == "Your export is ready: incidents-20260301.csv" and "4 incidents" in told.body
    page = client.get(f"/manage/exports/{job.pk}/").content.decode()
    assert f'href="/manage/exports/{job.pk}/download/"' in page and "data-running" not in page
    download = client.get(f"/manage/exports/{job.pk}/download/")
    assert download.status_code == 200 and "attachment" in download["Content-Disposition"]
    assert len(csv_rows(b"".join(download.streaming_content))) == 4


def test_the_celery_task_delegates_to_the_export(client, build, manager, location, frontline, eager_celery,
                                                 django_capture_on_commit_callbacks):
    logged(build, location, frontline, 4)
    with django_capture_on_commit_callbacks(execute=True):
        ask(client, manager)
    assert ExportJob.objects.get().status == ExportJob.Status.READY
    assert tasks.write_export(ExportJob.objects.get().pk) is None  # a second run writes nothing


def test_only_the_person_who_asked_and_the_organizations_admins_may_download(client, build, manager, admin, location,
                                                                             frontline, organization):
    logged(build, location, frontline, 4)
    ask(client, manager)
    job = ExportJob.objects.get()
    export.write_export(job.pk)
    url = f"/manage/exports/{job.pk}/download/"
    other_manager = factories.UserFactory(organization=organization, role="manager", locations=[location])
    stranger_admin = factories.UserFactory(role="admin")
    client.logout()
    assert client.get(url).status_code == 302  # to the sign-in
    # Anyone else's export answers as one that does not exist (404), so its number tells nothing.
    for person, status in [(manager, 200), (admin, 200), (other_manager, 404), (frontline, 404), (stranger_admin, 404)]:
        client.force_login(person)
        assert client.get(url).status_code == status, person
        assert client.get(f"/manage/exports/{job.pk}/").status_code == status, person


def test_a_ready_file_expires_after_seven_days_and_the_next_export_deletes_it(client, build, manager, location,
                                                                             frontline, exports_kept_in):
    logged(build, location, frontline, 4)
    ask(client, manager)
    job = ExportJob.objects.get()
    with time_machine.travel(ASKED, tick=False):
        export.write_export(job.pk)
    job.refresh_from_db()
    assert storages["exports"].exists(job.file_name)
    with time_machine.travel(job.expires_at - datetime.timedelta(minutes=1), tick=False):
        assert client.get(f"/manage/exports/{job.pk}/download/").status_code == 200
    with time_machine.travel(job.expires_at, tick=False):
        assert client.get(f"/manage/exports/{job.pk}/download/").status_code == 404
        assert "Expired" in client.get(f"/manage/exports/{job.pk}/").content.decode()
        ask(client, manager)
        later = ExportJob.objects.latest("pk")
        export.write_export(later.pk)
    job.refresh_from_db()
    assert job.status == ExportJob.Status.EXPIRED and job.file_name == ""
    assert list(exports_kept_in.rglob("*.csv")) == [exports_kept_in / ExportJob.objects.get(pk=later.pk).file_name]
    assert export.delete_expired_exports(now=job.expires_at + datetime.timedelta(days=30)) == 1  # the later one


def test_a_failed_job_says_so_keeps_nothing_and_can_be_retried(client, build, manager, location, frontline,
                                                               exports_kept_in, monkeypatch, eager_celery,
                                                               django_capture_on_commit_callbacks):
    logged(build, location, frontline, 4)
    ask(client, manager)
    job = ExportJob.objects.get()

    def full_disk(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(type(storages["exports"]), "save", full_disk)
    assert export.write_export(job.pk) is None
    job.refresh_from_db()
    assert job.status == ExportJob.Status.FAILED and "OSError" in job.error and not job.file_name
    assert list(exports_kept_in.rglob("*.csv")) == []
    page = client.get(f"/manage/exports/{job.pk}/").content.decode()
    assert "The export failed." in page and "Try again" in page and "download/" not in page
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/manage/exports/{job.pk}/retry/")
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ExportJob.Status.READY and job.rows_written == 4


def test_a_job_whose_worker_went_quiet_shows_as_failed_and_can_be_retried(client, build, manager, location, frontline,
                                                                          django_capture_on_commit_callbacks):
    logged(build, location, frontline, 4)
    ask(client, manager)
    job = ExportJob.objects.get()
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.RUNNING, progress_at=ASKED, rows_written=2000)
    with time_machine.travel(ASKED + datetime.timedelta(minutes=9), tick=False):
        assert "data-running" in client.get(f"/manage/exports/{job.pk}/?partial=1").content.decode()
        with django_capture_on_commit_callbacks() as queued:
            client.post(f"/manage/exports/{job.pk}/retry/")
        assert queued == [] and ExportJob.objects.get(pk=job.pk).status == ExportJob.Status.RUNNING
    with time_machine.travel(ASKED + datetime.timedelta(minutes=11), tick=False):
        partial = client.get(f"/manage/exports/{job.pk}/?partial=1").content.decode()
        assert "<html" not in partial and "The export failed." in partial
        with django_capture_on_commit_callbacks() as queued:
            client.post(f"/manage/exports/{job.pk}/retry/")
    assert len(queued) == 1 and ExportJob.objects.get(pk=job.pk).status == ExportJob.Status.QUEUED


def test_someone_who_lost_the_console_gets_a_failed_job_not_the_rows(client, build, manager, location, frontline):
    logged(build, location, frontline, 4)
    ask(client, manager)
    job = ExportJob.objects.get()
    manager.role = "frontline"
    manager.save()
    export.write_export(job.pk)
    job.refresh_from_db()
    assert job.status == ExportJob.Status.FAILED and "no longer have the managers' console" in job.error
