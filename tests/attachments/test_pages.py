"""Photos on the pages: on the Log a failure form, on any step, from the incident page, and served only to
whoever may read the incident."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from attachments import services
from attachments.models import Attachment
from incidents.models import Apology, Incident
from tests import factories

from .conftest import PDF, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def fran_client(client, frontline):
    client.force_login(frontline)
    return client


def log_fields(client, location, **extra):
    body = client.get("/log/").content.decode()
    token = re.search(r'name="form_token" value="([^"]+)"', body).group(1)
    return {"form_token": token, "customer_name": "Grace Hopper", "summary": "Cold plate at table 4",
            "channel": "in_person", "location": location.pk, **extra}


def test_the_log_form_offers_the_camera_and_files(fran_client):
    body = fran_client.get("/log/").content.decode()
    assert 'enctype="multipart/form-data"' in body
    assert 'accept="image/*,application/pdf"' in body and 'multiple' in body
    assert 'capture="environment"' in body


def test_a_failure_logged_with_a_photo_shows_it_on_the_incident(fran_client, location, clock_at_start):
    response = fran_client.post("/log/", log_fields(fran_client, location, files=[upload("plate.jpg")]))
    incident = Incident.objects.get()
    assert response.status_code == 302
    attachment = incident.attachments.get()
    assert attachment.step == "logging" and attachment.original_name == "plate.jpg"
    body = fran_client.get(response["Location"]).content.decode()
    assert reverse("attachment_thumbnail", args=[attachment.pk]) in body and "plate.jpg" in body


def test_an_oversized_photo_keeps_the_form_and_logs_nothing(settings, fran_client, location, clock_at_start):
    settings.ATTACHMENT_MAX_BYTES = 2000
    response = fran_client.post("/log/", log_fields(fran_client, location, files=[upload("IMG_0042.jpg")]))
    body = response.content.decode()
    assert response.status_code == 400
    assert "“IMG_0042.jpg” is " in body and "a file can be at most" in body
    assert "Cold plate at table 4" in body and 'value="Grace Hopper"' in body  # what was typed is kept
    assert not Incident.objects.exists() and not Attachment.objects.exists()


def test_a_file_that_is_not_a_photo_keeps_the_form_and_logs_nothing(fran_client, location, clock_at_start):
    response = fran_client.post("/log/", log_fields(
        fran_client, location, files=[upload("plate.jpg"), upload("notes.jpg", b"some words", "image/jpeg")]))
    body = response.content.decode()
    assert response.status_code == 400 and "“notes.jpg” is not a photo or a PDF" in body
    assert "Cold plate at table 4" in body
    assert not Incident.objects.exists() and not Attachment.objects.exists()


def test_a_step_saved_with_a_photo_keeps_both(fran_client, incident):
    response = fran_client.post(reverse("incident_step", args=[incident.reference, "apology"]), {
        "expected_version": 0, "channel": "in_person", "text": "I am so sorry.", "files": [upload("table.jpg")]})
    assert response.status_code == 302
    assert Apology.objects.filter(incident=incident).exists()
    assert incident.attachments.get().step == "apology"


def test_a_refused_photo_saves_no_step(fran_client, incident):
    response = fran_client.post(reverse("incident_step", args=[incident.reference, "apology"]), {
        "expected_version": 0, "channel": "in_person", "text": "I am so sorry.",
        "files": [upload("x.jpg", b"nope", "image/jpeg")]})
    body = response.content.decode()
    assert response.status_code == 400 and "“x.jpg” is not a photo or a PDF" in body and "I am so sorry." in body
    assert not Apology.objects.filter(incident=incident).exists() and not Attachment.objects.exists()


def test_every_step_form_takes_photos(fran_client, incident):
    body = fran_client.get(reverse("incident", args=[incident.reference])).content.decode()
    assert body.count('enctype="multipart/form-data"') >= 3  # the open steps and the incident page's own form
    assert 'id="apology-files"' in body and 'id="attach-files"' in body


def test_adding_a_photo_from_the_incident_page(fran_client, incident):
    response = fran_client.post(reverse("attach_files", args=[incident.reference]),
                                {"files": [upload("part.jpg"), upload("receipt.pdf", PDF)]}, follow=True)
    assert "2 files attached." in response.content.decode()
    assert sorted(incident.attachments.values_list("original_name", flat=True)) == ["part.jpg", "receipt.pdf"]


def test_a_refused_file_from_the_incident_page_says_which(fran_client, incident):
    response = fran_client.post(reverse("attach_files", args=[incident.reference]),
                                {"files": [upload("a.txt", b"text")]}, follow=True)
    assert "“a.txt” is not a photo or a PDF" in response.content.decode()
    assert not Attachment.objects.exists()


def test_a_photo_is_served_to_whoever_reads_the_incident(fran_client, incident, frontline):
    [attachment] = services.attach(incident, by=frontline, prepared=services.prepare_all([upload()]))
    response = fran_client.get(reverse("attachment", args=[attachment.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"
    assert "private" in response["Cache-Control"]
    thumbnail = fran_client.get(reverse("attachment_thumbnail", args=[attachment.pk]))
    assert thumbnail.status_code == 200 and thumbnail["Content-Type"] == "image/jpeg"


def test_a_pdf_is_downloaded_not_shown_inline(fran_client, incident, frontline):
    [attachment] = services.attach(incident, by=frontline, prepared=services.prepare_all([upload("r.pdf", PDF)]))
    response = fran_client.get(reverse("attachment", args=[attachment.pk]))
    assert response["Content-Type"] == "application/pdf" and response["Content-Disposition"].startswith("attachment")


def test_nobody_outside_the_incident_gets_its_files(client, incident, frontline, other_location):
    [attachment] = services.attach(incident, by=frontline, prepared=services.prepare_all([upload()]))
    stranger = factories.UserFactory(organization=factories.OrganizationFactory())
    elsewhere = factories.UserFactory(organization=incident.organization, locations=[other_location])
    for user in (stranger, elsewhere):
        client.force_login(user)
        for name in ("attachment", "attachment_thumbnail"):
            assert client.get(reverse(name, args=[attachment.pk])).status_code == 404, (user, name)
        assert client.post(reverse("attach_files", args=[incident.reference]),
                           {"files": [upload()]}).status_code == 404
    client.logout()
    assert client.get(reverse("attachment", args=[attachment.pk])).status_code == 302  # to the log-in page


def test_a_file_missing_from_the_storage_is_not_found_not_a_server_error(fran_client, incident, frontline,
                                                                         attachments_storage):
    [attachment] = services.attach(incident, by=frontline, prepared=services.prepare_all([upload()]))
    (attachments_storage / attachment.file).unlink()
    assert fran_client.get(reverse("attachment", args=[attachment.pk])).status_code == 404


def test_removing_a_photo_from_the_incident_page(fran_client, incident, frontline, location):
    [attachment] = services.attach(incident, by=frontline, prepared=services.prepare_all([upload("wrong.jpg")]))
    page = fran_client.get(reverse("incident", args=[incident.reference])).content.decode()
    assert reverse("remove_attachment", args=[attachment.pk]) in page
    colleague = factories.UserFactory(organization=incident.organization, locations=[location])
    client = Client()
    client.force_login(colleague)
    assert reverse("remove_attachment", args=[attachment.pk]) not in client.get(
        reverse("incident", args=[incident.reference])).content.decode()
    refused = client.post(reverse("remove_attachment", args=[attachment.pk]), follow=True)
    assert "Only whoever attached it, or a manager" in refused.content.decode()
    assert fran_client.get(reverse("remove_attachment", args=[attachment.pk])).status_code == 405
    removed = fran_client.post(reverse("remove_attachment", args=[attachment.pk]), follow=True)
    assert "wrong.jpg removed." in removed.content.decode()
    assert not Attachment.objects.exists()
    assert fran_client.get(reverse("attachment", args=[attachment.pk])).status_code == 404
    assert fran_client.post(reverse("remove_attachment", args=[attachment.pk])).status_code == 404
