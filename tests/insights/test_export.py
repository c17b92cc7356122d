import csv
import datetime
import io

import pytest
from django.http import StreamingHttpResponse

from tests import factories

pytestmark = pytest.mark.django_db

UTC = datetime.timezone.utc
AT = datetime.datetime(2026, 3, 4, 10, tzinfo=UTC)


def read_csv(response):
    assert isinstance(response, StreamingHttpResponse)
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_export_streams_the_filtered_incidents_with_their_steps(client, build, manager, location, frontline):
    done = build(at=AT, location=location, owner=frontline, apology=2, fix=15, wrap_up=60, outcome="champion",
                 gesture_cost="20", busyness="peak")
    build(at=AT + datetime.timedelta(hours=1), location=location, owner=frontline, busyness="quiet")
    client.force_login(manager)
    response = client.get("/manage/export.csv?start=2026-03-01&end=2026-03-07&busyness=peak")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = read_csv(response)
    assert len(rows) == 1
    row = rows[0]
    assert row["reference"] == done.reference
    assert row["apology"] == "I'm so sorry." and row["apology_accepted"] == "False"
    assert row["fix"] == "New soup" and row["root_cause"] == "Kitchen"
    assert row["outcome"] == "champion" and row["gesture_cost"] == "20.00"
    assert row["logged_at"] == "2026-03-04T10:00:00+00:00"


def test_the_export_holds_only_my_locations(client, build, manager, other_location, organization):
    stranger = factories.UserFactory(organization=organization, locations=[other_location])
    build(at=AT, location=other_location, owner=stranger)
    client.force_login(manager)
    assert read_csv(client.get("/manage/export.csv?start=2026-03-01&end=2026-03-07")) == []


def test_frontline_staff_cannot_export(client, frontline):
    client.force_login(frontline)
    assert client.get("/manage/export.csv").status_code == 403


def test_the_export_reads_in_chunks_with_a_fixed_number_of_queries(client, build, manager, location, frontline,
                                                                   django_assert_max_num_queries):
    for hour in range(5):
        build(at=AT + datetime.timedelta(hours=hour), location=location, owner=frontline, apology=1, fix=3)
    client.force_login(manager)
    with django_assert_max_num_queries(8):
        rows = read_csv(client.get("/manage/export.csv?start=2026-03-01&end=2026-03-07"))
    assert len(rows) == 5
