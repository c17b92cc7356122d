"""Photos and files over the API: attach one (multipart), list them, download one; the pages' checks
and limits, problem documents with the reason on `file`, safe retries, and nothing across organizations."""

import io

import pytest
from django.urls import reverse
from PIL import Image

from attachments import services
from attachments.models import Attachment
from tests import factories
from tests.attachments.conftest import PDF, photo_bytes, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_record(helpdesk, location, customer, clock_at_start):
    return factories.log_incident(user=helpdesk.user, location=location, customer=customer)


def attachments_url(incident):
    return reverse("api:incident-attachments", args=[incident.pk])


def test_a_photo_attached_over_the_api_is_listed_and_downloaded_without_its_gps(api, on_record):
    created = api.post(attachments_url(on_record), {"file": upload("plate.jpg")}, format="multipart")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["name"] == "plate.jpg" and body["kind"] == "photo" and body["content_type"] == "image/jpeg"
    assert [row["id"] for row in api.get(attachments_url(on_record)).json()] == [body["id"]]
    download = api.get(reverse("api:incident-attachment", args=[on_record.pk, body["id"]]), HTTP_ACCEPT="image/jpeg")
    assert download.status_code == 200 and download["Content-Type"] == "image/jpeg"

    image = Image.open(io.BytesIO(b"".join(download.streaming_content)))
    assert not image.getexif()


def test_a_file_that_is_not_a_photo_or_pdf_is_a_problem_document_naming_it(api, on_record):
    answer = api.post(attachments_url(on_record), {"file": upload("virus.jpg", b"MZ not a photo")}, format="multipart")
    assert answer.status_code == 400 and answer["Content-Type"] == "application/problem+json"
    assert answer.json()["errors"]["file"] == [
        "“virus.jpg” is not a photo or a PDF: attach a JPEG, PNG or WebP photo, or a PDF receipt."]
    assert not Attachment.objects.exists()


def test_an_oversized_file_is_a_400_with_the_reason_and_a_huge_body_a_413(settings, api, on_record):
    settings.ATTACHMENT_MAX_BYTES = 5000
    answer = api.post(attachments_url(on_record), {"file": upload("big.jpg", photo_bytes(size=(900, 900)))},
                      format="multipart")
    assert answer.status_code == 400 and answer.json()["errors"]["file"][0].startswith("“big.jpg” is ")
    huge = api.post(attachments_url(on_record), {"file": upload("huge.pdf", PDF + b"0" * (2 * 1024 * 1024))},
                    format="multipart")
    assert huge.status_code == 413 and huge["Content-Type"] == "application/problem+json"


def test_a_request_without_its_one_file_is_a_field_error(api, on_record):
    answer = api.post(attachments_url(on_record), {}, format="multipart")
    assert answer.status_code == 400 and "file" in answer.json()["errors"]
    json_body = api.post(attachments_url(on_record), {"file": "x"}, format="json")
    assert json_body.status_code == 415


def test_a_retry_with_the_same_key_stores_the_file_once(api, on_record):
    data = photo_bytes()
    first = api.post(attachments_url(on_record), {"file": upload(data=data)}, format="multipart",
                     HTTP_IDEMPOTENCY_KEY="photo-1")
    again = api.post(attachments_url(on_record), {"file": upload(data=data)}, format="multipart",
                     HTTP_IDEMPOTENCY_KEY="photo-1")
    assert first.status_code == again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert Attachment.objects.count() == 1
    other = api.post(attachments_url(on_record), {"file": upload(data=photo_bytes(color=(0, 0, 255)))},
                     format="multipart", HTTP_IDEMPOTENCY_KEY="photo-1")
    assert other.status_code == 422  # another file under the same key: the content counts, not the name


def test_another_organizations_files_are_not_found(other_api, on_record, helpdesk):
    [attachment] = services.attach(on_record, by=helpdesk.user, prepared=services.prepare_all([upload()]))
    assert other_api.get(attachments_url(on_record)).status_code == 404
    assert other_api.get(reverse("api:incident-attachment", args=[on_record.pk, attachment.pk])).status_code == 404
    assert other_api.post(attachments_url(on_record), {"file": upload()}, format="multipart").status_code == 404
    assert other_api.delete(reverse("api:incident-attachment", args=[on_record.pk, attachment.pk])).status_code == 404
    assert Attachment.objects.count() == 1


def test_a_client_removes_its_own_upload_and_not_a_member_of_staffs(api, on_record, helpdesk, frontline):
    created = api.post(attachments_url(on_record), {"file": upload("wrong.jpg")}, format="multipart").json()
    [by_staff] = services.attach(on_record, by=frontline, prepared=services.prepare_all([upload()]))
    gone = api.delete(reverse("api:incident-attachment", args=[on_record.pk, created["id"]]))
    assert gone.status_code == 204
    assert list(Attachment.objects.all()) == [by_staff]
    again = api.delete(reverse("api:incident-attachment", args=[on_record.pk, created["id"]]))
    assert again.status_code == 404
    refused = api.delete(reverse("api:incident-attachment", args=[on_record.pk, by_staff.pk]))
    assert refused.status_code == 403 and refused["Content-Type"] == "application/problem+json"
    assert Attachment.objects.count() == 1


def walk_attachments(call, on_it):
    """For the contract walk (tests/helpdesk/test_contract.py): every attachment operation, from the document."""
    created = call("incidents_attachments_create", 201, path=on_it, body={"file": photo_bytes()},
                   media_type="multipart/form-data").json()
    call("incidents_attachments_create", 400, path=on_it, body={"file": b"not a photo"}, media_type="multipart/form-data")
    assert [row["id"] for row in call("incidents_attachments_list", 200, path=on_it).json()] == [created["id"]]
    call("incidents_attachments_retrieve", 200, path={**on_it, "attachment_id": created["id"]})
    call("incidents_attachments_retrieve", 404, path={**on_it, "attachment_id": created["id"] + 1000})
    call("incidents_attachments_destroy", 204, path={**on_it, "attachment_id": created["id"]})
    call("incidents_attachments_destroy", 404, path={**on_it, "attachment_id": created["id"]})
