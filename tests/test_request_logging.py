import json
import logging

import pytest

from recovery.request_logging import JsonFormatter, RequestIdFilter


@pytest.mark.django_db
def test_every_response_carries_a_request_id_and_keeps_a_sane_incoming_one(client):
    made = client.get("/login/")["X-Request-ID"]
    assert len(made) == 32
    assert client.get("/login/", HTTP_X_REQUEST_ID="lb-1234")["X-Request-ID"] == "lb-1234"
    assert client.get("/login/", HTTP_X_REQUEST_ID="<script>")["X-Request-ID"] != "<script>"


@pytest.mark.django_db
def test_the_access_log_is_one_json_object_with_the_request_id(client, caplog):
    with caplog.at_level(logging.INFO, logger="recovery.requests"):
        client.get("/login/", HTTP_X_REQUEST_ID="trace-42")
    [record] = [r for r in caplog.records if r.name == "recovery.requests"]
    RequestIdFilter().filter(record)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["request_id"] == "trace-42"
    assert entry["path"] == "/login/"
    assert entry["status"] == 200
    assert entry["message"] == "request"
    assert "duration_ms" in entry
