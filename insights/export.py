"""The filtered incidents with their steps as CSV, streamed row by row so a million rows never sit in memory.

Managers open the file in a spreadsheet, so every text cell goes through `spreadsheet_cell`: a summary or a
customer's name typed as `=HYPERLINK(...)` must show as text, not run as a formula on the manager's machine.
"""

import csv
from decimal import Decimal

from django.http import StreamingHttpResponse

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


def rows(incidents):
    """The CSV lines: the header, then one line per incident read in chunks from a server-side cursor."""
    # csv.writer quotes a cell holding a comma, a quote or a line break, so no text can start a cell of its own.
    writer = csv.writer(_Echo())
    yield BYTE_ORDER_MARK + writer.writerow([name for name, _ in COLUMNS])
    values = incidents.order_by("logged_at", "id").values_list(*[field for _, field in COLUMNS])
    for row in values.iterator(chunk_size=2000):
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
