"""Photos and files of a failure: checked by their content, stripped of where and when they were taken,
stored with a thumbnail, all or nothing with what they are attached to, and gone with the customer."""

import io
import json

import pytest
from django.core.files.storage import storages
from PIL import Image

from attachments import services
from attachments.models import Attachment
from incidents import customer_data
from incidents.models import Customer, Event, EventKind, Incident
from incidents.services import RecoveryError
from tests import factories

from .conftest import GPS_IFD, PDF, photo_bytes, upload

pytestmark = pytest.mark.django_db


def stored_image(name):
    with storages["attachments"].open(name) as file:
        image = Image.open(io.BytesIO(file.read()))
        image.load()
    return image


def test_a_photo_is_stored_without_its_gps_position_or_any_exif(incident, frontline):
    assert GPS_IFD in Image.open(io.BytesIO(photo_bytes())).getexif()  # the phone's file has it
    [attachment] = services.attach(incident, by=frontline, prepared=services.prepare_all([upload()]))
    image = stored_image(attachment.file)
    assert image.format == "JPEG" and image.size == (640, 480)
    assert not image.getexif() and "exif" not in image.info and "xmp" not in image.info
    assert attachment.content_type == "image/jpeg" and attachment.kind == "photo"
    assert attachment.size_bytes == storages["attachments"].size(attachment.file)


def test_a_photo_taken_sideways_is_stored_upright(incident, frontline):
    # Orientation 6: the camera was turned; the pixels are stored turned back, the tag dropped.
    [attachment] = services.attach(incident, by=frontline, prepared=services.prepare_all(
        [upload(data=photo_bytes(size=(640, 480), orientation=6))]))
    assert stored_image(attachment.file).size == (480, 640)
    assert (attachment.width, attachment.height) == (480, 640)


@pytest.mark.parametrize("format", ["PNG", "WEBP"])
def test_png_and_webp_photos_are_kept_in_their_format_without_exif(incident, frontline, format):
    [attachment] = services.attach(incident, by=frontline, prepared=services.prepare_all(
        [upload(f"screen.{format.lower()}", photo_bytes(format=format))]))
    image = stored_image(attachment.file)
    assert image.format == format and not image.getexif()


def test_a_thumbnail_is_made_at_upload(incident, frontline):
    [attachment] = services.attach(incident, by=frontline, prepared=services.prepare_all(
        [upload(data=photo_bytes(size=(4000, 3000)))]))
    thumbnail = stored_image(attachment.thumbnail)
    assert thumbnail.format == "JPEG" and max(thumbnail.size) == 320


def test_a_pdf_receipt_is_kept_as_sent_with_no_thumbnail(incident, frontline):
    [attachment] = services.attach(incident, by=frontline, prepared=services.prepare_all(
        [upload("receipt.pdf", PDF, "application/pdf")]))
    assert attachment.kind == "pdf" and attachment.thumbnail == ""
    with storages["attachments"].open(attachment.file) as file:
        assert file.read() == PDF


def test_the_content_decides_not_the_name(incident, frontline):
    with pytest.raises(RecoveryError) as refused:
        services.prepare_all([upload("cold-plate.jpg", b"MZ\x90\x00 not a photo at all", "image/jpeg")])
    assert "“cold-plate.jpg” is not a photo or a PDF" in refused.value.field_errors["files"][0]
    # A real photo sent under a PDF's name and type is still a photo.
    [prepared] = services.prepare_all([upload("receipt.pdf", photo_bytes(), "application/pdf")])
    assert prepared.content_type == "image/jpeg"


def test_a_gif_or_a_truncated_photo_is_refused(incident, frontline):
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    for data in (gif.getvalue(), photo_bytes()[:2000]):
        with pytest.raises(RecoveryError):
            services.prepare_all([upload("x.jpg", data)])


def test_a_file_over_the_size_limit_is_refused_naming_it(settings, incident, frontline):
    settings.ATTACHMENT_MAX_BYTES = 1000
    with pytest.raises(RecoveryError) as refused:
        services.prepare_all([upload("big.jpg")])
    assert refused.value.field_errors["files"][0].startswith("“big.jpg” is ")
    assert "a file can be at most 0.0 MB" in refused.value.message


def test_an_incident_holds_at_most_so_many_files(settings, incident, frontline):
    settings.ATTACHMENTS_PER_INCIDENT = 2
    services.attach(incident, by=frontline, prepared=services.prepare_all([upload(), upload()]))
    with pytest.raises(RecoveryError, match="at most 2 photos and files"):
        services.attach(incident, by=frontline, prepared=services.prepare_all([upload()]))
    assert Attachment.objects.count() == 2


def test_attaching_writes_one_timeline_entry_naming_the_files(incident, frontline):
    services.attach(incident, by=frontline, prepared=services.prepare_all(
        [upload("plate.jpg"), upload("receipt.pdf", PDF)]))
    event = Event.objects.get(incident=incident, kind=EventKind.ATTACHED)
    assert event.summary == "Attached: plate.jpg, receipt.pdf" and event.actor == frontline


def test_nobody_attaches_to_another_organizations_incident(incident):
    stranger = factories.UserFactory(organization=factories.OrganizationFactory())
    with pytest.raises(RecoveryError):
        services.attach(incident, by=stranger, prepared=services.prepare_all([upload()]))
    assert not Attachment.objects.exists()


def test_a_refused_file_logs_nothing(frontline, location, attachments_storage):
    with pytest.raises(RecoveryError):
        services.log_with_attachments(
            uploads=[upload("plate.jpg"), upload("notes.txt", b"just words")], logged_by=frontline,
            form_token="7d3b1c2e-0000-4000-8000-000000000001", new_customer={"name": "Grace Hopper"},
            location=location, summary="Cold plate", channel="in_person")
    assert not Incident.objects.exists() and not Customer.objects.exists() and not Attachment.objects.exists()
    assert not attachments_storage.exists() or not any(attachments_storage.rglob("*.*"))


def test_logging_with_photos_attaches_them_once_even_when_the_form_is_sent_twice(frontline, location):
    values = {"logged_by": frontline, "form_token": "7d3b1c2e-0000-4000-8000-000000000002",
              "new_customer": {"name": "Grace Hopper"}, "location": location, "summary": "Cold plate",
              "channel": "in_person"}
    incident, created = services.log_with_attachments(uploads=[upload()], **values)
    again, created_again = services.log_with_attachments(uploads=[upload()], **values)
    assert created and not created_again and again == incident
    assert list(incident.attachments.values_list("step", flat=True)) == ["logging"]


def test_a_failure_while_storing_leaves_no_file_behind(monkeypatch, incident, frontline, attachments_storage):
    def fail(*args, **kwargs):
        raise RuntimeError("the database went away")
    monkeypatch.setattr(Attachment.objects, "bulk_create", fail)
    with pytest.raises(RuntimeError):
        services.attach(incident, by=frontline, prepared=services.prepare_all([upload(), upload()]))
    assert not any(path.is_file() for path in attachments_storage.rglob("*"))


def test_anonymizing_the_customer_deletes_their_photos_and_files(
        django_capture_on_commit_callbacks, incident, frontline, customer, attachments_storage):
    other = factories.log_incident(user=frontline, customer=factories.CustomerFactory(organization=customer.organization))
    services.attach(incident, by=frontline, prepared=services.prepare_all([upload(), upload("r.pdf", PDF)]))
    [kept] = services.attach(other, by=frontline, prepared=services.prepare_all([upload()]))
    with django_capture_on_commit_callbacks(execute=True):
        customer_data.anonymize_customer(customer)
    assert list(Attachment.objects.all()) == [kept]
    left = {str(path.relative_to(attachments_storage)) for path in attachments_storage.rglob("*") if path.is_file()}
    assert left == {kept.file, kept.thumbnail}


def test_a_cmyk_scan_is_stored_as_an_rgb_jpeg(incident, frontline):
    data = io.BytesIO()
    Image.new("CMYK", (64, 64), (0, 128, 128, 0)).save(data, "JPEG", icc_profile=b"not an RGB profile")
    [attachment] = services.attach(incident, by=frontline, prepared=services.prepare_all([upload(data=data.getvalue())]))
    image = stored_image(attachment.file)
    assert image.mode == "RGB" and "icc_profile" not in image.info


def test_whoever_attached_it_or_a_manager_removes_a_file_and_it_goes_once_that_commits(
        django_capture_on_commit_callbacks, incident, frontline, manager, location, attachments_storage):
    first, second = services.attach(incident, by=frontline, prepared=services.prepare_all([upload("wrong.jpg"), upload()]))
    colleague = factories.UserFactory(organization=incident.organization, locations=[location])
    with pytest.raises(RecoveryError, match="Only whoever attached it"):
        services.remove(first, by=colleague)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.remove(first, by=frontline)
    assert (attachments_storage / first.file).is_file()  # until the removal commits
    for callback in callbacks:
        callback()
    assert not (attachments_storage / first.file).exists() and not (attachments_storage / first.thumbnail).exists()
    assert list(Attachment.objects.all()) == [second]
    event = Event.objects.get(incident=incident, kind=EventKind.DETACHED)
    assert event.summary == "Removed: wrong.jpg" and event.actor == frontline
    with django_capture_on_commit_callbacks(execute=True):
        services.remove(second, by=manager)
    assert not Attachment.objects.exists() and not any(path.is_file() for path in attachments_storage.rglob("*"))


def test_nobody_removes_another_organizations_file(incident, frontline):
    [attachment] = services.attach(incident, by=frontline, prepared=services.prepare_all([upload()]))
    stranger = factories.UserFactory(organization=factories.OrganizationFactory(), role="admin")
    with pytest.raises(RecoveryError):
        services.remove(attachment, by=stranger)
    assert Attachment.objects.count() == 1


def test_the_customers_data_export_lists_their_photos_and_files(incident, frontline, customer):
    other = factories.log_incident(user=frontline, customer=customer, summary="Room not ready")
    services.attach(incident, by=frontline, prepared=services.prepare_all([upload("plate.jpg"), upload("r.pdf", PDF)]))
    exported = {row["reference"]: row for row in customer_data.export_customer(customer)["incidents"]}
    assert [(f["name"], f["kind"], f["content_type"]) for f in exported[incident.reference]["attachments"]] == [
        ("plate.jpg", "photo", "image/jpeg"), ("r.pdf", "pdf", "application/pdf")]
    assert exported[other.reference]["attachments"] == []
    json.dumps(exported)  # plain JSON
