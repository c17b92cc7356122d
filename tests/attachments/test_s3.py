"""Production keeps the files in an S3-compatible bucket (django-storages): tested against moto's S3 server
on 127.0.0.1, no network. The same services and views, only the storage changes."""

import io
import os
import socket
import subprocess
import sys

import boto3
import pytest
import requests
from django.urls import reverse
from moto.server import ThreadedMotoServer
from PIL import Image

from attachments import services
from incidents import customer_data

from .conftest import upload

pytestmark = pytest.mark.django_db
BUCKET = "recovery-attachments"


@pytest.fixture
def bucket(settings, monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(name, value)
    requests.post(f"{endpoint}/moto-api/reset", timeout=10)  # moto's buckets outlive a server in one process
    client = boto3.client("s3", endpoint_url=endpoint, region_name="eu-west-1")
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    settings.STORAGES = {**settings.STORAGES, "attachments": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
        "bucket_name": BUCKET, "endpoint_url": endpoint, "region_name": "eu-west-1", "location": "attachments",
        "default_acl": None, "querystring_auth": True, "file_overwrite": False}}}
    yield client
    server.stop()


def keys(client):
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_a_photo_goes_to_the_bucket_without_exif_and_is_served_through_the_view(bucket, client, incident, frontline):
    [attachment] = services.attach(incident, by=frontline, prepared=services.prepare_all([upload()]))
    assert keys(bucket) == sorted([f"attachments/{attachment.file}", f"attachments/{attachment.thumbnail}"])
    stored = bucket.get_object(Bucket=BUCKET, Key=f"attachments/{attachment.file}")["Body"].read()
    assert not Image.open(io.BytesIO(stored)).getexif()
    client.force_login(frontline)
    response = client.get(reverse("attachment", args=[attachment.pk]))
    assert response.status_code == 200 and b"".join(response.streaming_content) == stored


def test_anonymizing_deletes_the_objects(bucket, django_capture_on_commit_callbacks, incident, frontline, customer):
    services.attach(incident, by=frontline, prepared=services.prepare_all([upload(), upload()]))
    assert len(keys(bucket)) == 4
    with django_capture_on_commit_callbacks(execute=True):
        customer_data.anonymize_customer(customer)
    assert keys(bucket) == []


def test_attachments_storage_s3_in_the_environment_chooses_the_bucket():
    env = {**os.environ, "ATTACHMENTS_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "photos", "DEBUG": "1",
           "DJANGO_SETTINGS_MODULE": "recovery.settings"}
    shown = subprocess.run([sys.executable, "-c", (
        "import django; django.setup(); from django.core.files.storage import storages; "
        "s = storages['attachments']; print(type(s).__name__, s.bucket_name, s.querystring_auth)")],
        capture_output=True, text=True, env=env, timeout=120)
    assert shown.stdout.split() == ["S3Storage", "photos", "True"], shown.stderr[-2000:]
