"""The reads an organization does all day, at 100k and at 1M incidents side by side: is their cost flat?

    .venv/bin/python bench/reads.py [--sizes 100000,1000000] [--runs 20] [--reload]
    .venv/bin/python bench/reads.py --smoke    # 300 incidents on DATABASE_URL (SQLite or PostgreSQL), seconds

Full runs build (once; later runs reuse them, --reload rebuilds) one PostgreSQL database per size on
BENCH_POSTGRES (default postgres://postgres@127.0.0.1:5432): `recovery_reads_100k`, `recovery_reads_1m` (the prefix
is BENCH_DATABASE_PREFIX's, if set).
Each holds one organization of 40 locations in four time zones, 200 frontline staff (five per location), a
manager of five locations and an admin; incidents spread over the last 30 days (6% open: 3% of the older
ones, a third of the last three days'), and 52 customers per 100 incidents (520k at 1M), 2% of them
flagged. One frontline person owns 300 open recoveries at every size. The fill is INSERT … SELECT over
generate_series, in time order as incidents arrive; every column it does not name gets its model field's
default (`insert_select`), so a column added later is filled or named in a clear error, never a
NotNullViolation in the middle of a run. Then the managers' rollups are rebuilt if the app keeps them.

Each size is measured in a process of its own (its own database), in-process: pages through Django's
test Client and the API through DRF's APIClient, signed in with force_login (the API also with a
helpdesk's token), DEBUG off. Every row is one warm-up and --runs timed requests: median, p99 and the
number of queries of one request, against the targets of the table. The CSV export is timed as it is
served: a job started (a redirect to its page), or a file streamed, read for at most 30 s (gunicorn's
default timeout: a longer one is a truncated file for the user).

--smoke builds 300 incidents in the configured database (a bench organization, removed afterwards),
answers every row once and checks each answered 200 (or 302 for an export job); times are not judged.
It exits 1 when a row fails, or (full runs) when a target is missed.
"""

import argparse
import base64
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SERVER = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
# The databases' names start with this: another prefix keeps a bench of one's own beside the shared ones.
PREFIX = os.environ.get("BENCH_DATABASE_PREFIX", "recovery_reads")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")  # a throwaway key, plain HTTP
os.environ.setdefault("LOG_LEVEL", "WARNING")
# An export job queued by the bench goes to a broker file of its own that no worker reads.
os.environ.setdefault("CELERY_BROKER_URL", f"sqla+sqlite:///{tempfile.gettempdir()}/recovery-bench-reads-broker.sqlite3")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from helpdesk.models import ApiClient  # noqa: E402
from helpdesk.services import create_api_client  # noqa: E402
from incidents.models import Category, Customer, Incident, Location, Organization, User  # noqa: E402

SLUG = "bench-reads"
ZONES = ["Europe/London", "Europe/Paris", "America/New_York", "America/Los_Angeles"]
BUSY_OPEN = 300  # the frontline person with this many open recoveries
EXPORT_TIMEOUT_S = 30
FIRST = ["Maria", "James", "Anna", "John", "Sofia", "David", "Emma", "Michael", "Olivia", "Daniel", "Laura", "Peter",
         "Chloe", "Thomas", "Grace", "Samuel", "Hannah", "Lucas", "Ella", "Adam", "Mia", "Oscar", "Ruby", "Noah",
         "Isla", "Leo", "Freya", "Jack", "Alice", "Harry", "Zoe", "Omar", "Priya", "Ravi", "Yuki", "Chen", "Fatima",
         "Ahmed", "Ines", "Pablo", "Marta", "Luca", "Giulia", "Sven", "Astrid", "Ingrid", "Kofi", "Amara", "Nia",
         "Tariq", "Leila", "Hugo", "Clara", "Felix", "Nora", "Ivan", "Olga", "Mateo", "Lucia", "Arjun", "Mei", "Ada",
         "Rosa", "Elias"]
LAST = ["Smith", "Jones", "Lopez", "Garcia", "Brown", "Taylor", "Wilson", "Martin", "Lee", "Walker", "Hall", "Allen",
        "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell",
        "Roberts", "Carter", "Phillips", "Evans", "Turner", "Torres", "Parker", "Collins", "Edwards", "Stewart",
        "Morris", "Murphy", "Cook", "Rogers", "Morgan", "Peterson", "Cooper", "Reed", "Bailey", "Bell", "Gomez",
        "Kelly", "Howard", "Ward", "Cox", "Diaz", "Richardson", "Wood", "Watson", "Brooks", "Bennett", "Gray",
        "James", "Reyes", "Cruz", "Hughes", "Price", "Myers", "Long", "Foster", "Sanders", "Ross", "Morales",
        "Powell", "Sullivan", "Russell", "Ortiz", "Jenkins", "Gutierrez", "Perry", "Butler", "Barnes", "Fisher",
        "Henderson", "Coleman", "Simmons", "Patterson", "Jordan", "Reynolds", "Hamilton", "Graham", "Kim",
        "Gonzales", "Alexander", "Ramos", "Wallace", "Griffin", "West", "Cole", "Hayes", "Chavez", "Gibson",
        "Bryant", "Ellis", "Stevens", "Murray", "Ford"]


# --- Building the dataset --------------------------------------------------------------------------


def insert_select(model, given, source, params):
    """`INSERT INTO <model's table> (…) SELECT … FROM <source>`, for a bench's bulk load.

    `given` maps column names to SQL expressions over `source`; every other concrete column of the model
    gets its field's default as a parameter (generated columns and the id are the database's). A column
    with no default that the bench does not give is named in an error before anything is written."""
    columns, values, params = list(given), list(given.values()), dict(params)
    for field in model._meta.concrete_fields:
        if field.primary_key or field.generated or field.column in given:
            continue
        value = field.get_default()
        if value is None and not field.null:
            raise SystemExit(f"{Path(sys.argv[0]).name}: {model._meta.label}.{field.name} has no default; "
                             f"give it a value in the bench's bulk insert")
        columns.append(field.column)
        values.append(f"%(default_{field.column})s")
        params[f"default_{field.column}"] = field.get_db_prep_save(value, connection)
    sql = f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(values)} FROM {source}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


CUSTOMER_ROWS = """(
    SELECT g, (%(first)s::text[])[1 + g %% array_length(%(first)s::text[], 1)] AS first,
              (%(last)s::text[])[1 + (g / array_length(%(first)s::text[], 1)) %% array_length(%(last)s::text[], 1)] AS last
    FROM generate_series(1, %(n)s) AS g
) AS drawn"""

CUSTOMER_COLUMNS = {
    "organization_id": "%(org)s",
    "name": "first || ' ' || last",
    "email": "lower(first) || '.' || lower(last) || g || '@example.com'",
    # +447 and nine digits, spread by a multiplier prime to 10^9: mobile numbers, all different.
    "phone": "'+447' || lpad(((g::bigint * 48271) %% 1000000000)::text, 9, '0')",
    "care_flag": "g %% 50 = 0",
    "care_note": "CASE WHEN g %% 50 = 0 THEN 'Waited an hour for a cold meal' ELSE '' END",
    "care_flagged_at": "CASE WHEN g %% 50 = 0 THEN now() END",
    "created_at": "now()",
    # Three customers in five have a lifetime value (the helpdesk sends it): the scorecard's value kept.
    "lifetime_value": "CASE WHEN g %% 5 < 3 THEN 200 + (g %% 40) * 50 END",
}

INCIDENT_ROWS = """(
    SELECT *, CASE WHEN closed THEN logged + interval '2 days' + fix_after END AS closed_time
    FROM (
        SELECT *, CASE WHEN r_resp < 0.8 THEN logged + (3 + r_fix * 16) * interval '1 minute'
                       WHEN r_resp < 0.97 THEN logged + (21 + r_fix * 90) * interval '1 minute' END AS responded,
                  g > %(busy_open)s AND ((logged < now() - interval '3 days' AND r_open > 0.03)
                      OR (logged >= now() - interval '3 days' AND r_open > 0.33)) AS closed
        FROM (
            SELECT g, now() - random() * (%(days)s * interval '1 day') AS logged,
                   (%(locations)s::int[])[1 + floor(random() * array_length(%(locations)s::int[], 1))::int] AS location,
                   CASE WHEN g <= %(busy_open)s THEN %(busy)s
                        ELSE (%(staff)s::int[])[1 + floor(random() * array_length(%(staff)s::int[], 1))::int] END AS owner,
                   %(first_customer)s + floor(random() * %(customers)s)::int AS customer,
                   (%(categories)s::int[])[1 + floor(random() * array_length(%(categories)s::int[], 1))::int] AS category,
                   (ARRAY['in_person', 'phone', 'email', 'chat'])[1 + floor(random() * 4)::int] AS channel,
                   (ARRAY['quiet', 'normal', 'busy', 'peak'])[1 + floor(random() * 4)::int] AS busyness,
                   (%(summaries)s::text[])[1 + floor(random() * array_length(%(summaries)s::text[], 1))::int] AS summary,
                   (%(notes)s::text[])[1 + floor(random() * array_length(%(notes)s::text[], 1))::int] AS note,
                   random() AS r_resp, random() AS r_fix, random() AS r_open, random() AS r_outcome, random() AS r_upd,
                   (10 + random() * 240) * interval '1 minute' AS fix_after
            FROM generate_series(1, %(n)s) AS g
        ) AS drawn
    ) AS shaped
) AS rows
ORDER BY logged  -- incidents arrive in time order, so a period's rows sit together on disk as in real use"""

SUMMARIES = ["Soup arrived cold", "Room not ready at check-in", "Wrong order delivered", "Billed twice for the stay",
             "Waited an hour for a table", "Booking lost", "Rude reply at the front desk", "Noisy room all night",
             "Breakfast missing from the bill", "Late checkout refused", "Parking barrier broken", "Wifi down all day",
             "Shower ran cold", "Spa appointment double booked", "Luggage left in the rain", "Allergy ignored by kitchen"]
NOTES = ["They missed the start of a wedding", "A birthday dinner spoiled", "Travelling with a small child",
         "On a business trip with a client", "Their anniversary weekend", "Came back after a bad stay last year",
         "Elderly parent in a wheelchair", "Had to rebook a train", "Waited in the lobby with luggage",
         "Wants a refund rather than a voucher", "Asked to speak to the manager", "Posted about it online",
         "Offered a free dessert, declined", "Chef apologized in person", "Moved to another room", "Taxi paid for by us"]
SEARCH_DOCUMENT = ("((SELECT name || E'\\n' || email FROM incidents_customer WHERE id = customer)"
                   " || E'\\n' || summary || E'\\n' || note)")

INCIDENT_COLUMNS = {
    "organization_id": "%(org)s", "customer_id": "customer", "location_id": "location", "channel": "channel",
    "category_id": "category", "severity": "'medium'", "summary": "summary", "busyness": "busyness",
    "occurred_at": "logged - interval '5 minutes'", "logged_at": "logged", "logged_by_id": "owner",
    "owner_id": "owner", "stage": "CASE WHEN closed THEN 'closed' ELSE 'fix' END",
    "follow_up_due_at": "logged + interval '20 minutes'", "responded_at": "responded",
    "breached_at": "CASE WHEN responded IS NULL OR responded > logged + interval '20 minutes' "
                   "THEN logged + interval '21 minutes' END",
    "fixed_at": "CASE WHEN closed OR r_fix < 0.5 THEN logged + fix_after END",
    "closed_at": "closed_time",
    "next_due_at": "CASE WHEN NOT closed THEN greatest(logged + interval '20 minutes', now() - r_fix * interval '1 day')"
                   " + r_fix * interval '2 days' END",
    # Changed some time between its logging and now (closed ones by their closing): about 1% in the last hour.
    "updated_at": "least(coalesce(closed_time, now()), logged + r_upd * (now() - logged))",
    "seconds_to_apology": "(60 + r_fix * 300)::int",
    "seconds_to_follow_up": "CASE WHEN responded IS NOT NULL THEN extract(epoch FROM responded - logged)::int END",
    "seconds_to_fix": "CASE WHEN closed OR r_fix < 0.5 THEN extract(epoch FROM fix_after)::int END",
    "wrapped_up_at": "CASE WHEN closed THEN logged + interval '2 days' END",
    "outcome": "CASE WHEN NOT closed THEN '' WHEN r_outcome < 0.45 THEN 'champion' WHEN r_outcome < 0.8 THEN 'retained' "
               "WHEN r_outcome < 0.92 THEN 'partial' ELSE 'lost' END",
    # The search document as incidents.services.search writes it: the customer, the summary and a note
    # (as a review's would be); on PostgreSQL its tsvector beside it, for the GIN index of migration 0022.
    "search_document": SEARCH_DOCUMENT,
    "search_vector": f"to_tsvector('simple', {SEARCH_DOCUMENT})",
}


def people(slug):
    """The bench organization, its locations, staff, manager, admin, busy frontline person and categories."""
    org = Organization.objects.create(name="Bench Reads", slug=slug, currency="GBP")
    locations = Location.objects.bulk_create(
        Location(organization=org, name=f"Hotel {i:02d}", code=f"hotel-{i:02d}", region=f"Region {i % 6}",
                 timezone="Europe/London" if i < 10 else ZONES[i % 4])
        for i in range(40)
    )
    staff = User.objects.bulk_create(
        User(username=f"{slug}-{i}", first_name="Staff", last_name=str(i), organization=org,
             role=User.Role.FRONTLINE, email=f"{slug}-{i}@example.com")
        for i in range(200)
    )
    User.locations.through.objects.bulk_create(  # five people work at each location
        User.locations.through(user_id=person.pk, location_id=locations[i // 5].pk) for i, person in enumerate(staff)
    )
    manager = User.objects.create(username=f"{slug}-manager", organization=org, role=User.Role.MANAGER)
    manager.locations.set(locations[:5])
    User.objects.create(username=f"{slug}-admin", organization=org, role=User.Role.ADMIN)
    categories = Category.objects.bulk_create(Category(organization=org, name=f"Product {i}") for i in range(25))
    return org, locations, staff, categories


def build(slug, incidents, days=30):
    """The dataset in bulk: PostgreSQL by INSERT … SELECT; SQLite (a smoke run) through the ORM."""
    started = time.perf_counter()
    remove(slug)
    n_customers = max(incidents * 52 // 100, 50)
    with transaction.atomic():
        org, locations, staff, categories = people(slug)
        busy = staff[0]
        if connection.vendor == "postgresql":
            insert_select(Customer, CUSTOMER_COLUMNS, CUSTOMER_ROWS,
                          {"org": org.pk, "n": n_customers, "first": FIRST, "last": LAST})
            first_customer = Customer.objects.filter(organization=org).order_by("id").values_list("id", flat=True)[0]
            insert_select(Incident, INCIDENT_COLUMNS, INCIDENT_ROWS, {
                "org": org.pk, "n": incidents, "days": days, "busy_open": min(BUSY_OPEN, incidents // 10), "busy": busy.pk,
                "locations": [location.pk for location in locations], "staff": [person.pk for person in staff],
                "categories": [category.pk for category in categories],
                "first_customer": first_customer, "customers": n_customers, "summaries": SUMMARIES, "notes": NOTES,
            })
        else:
            build_with_the_orm(org, locations, staff, categories, incidents, n_customers, days)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # outside the transaction: VACUUM cannot run inside one
            cursor.execute("VACUUM ANALYZE incidents_customer")
            cursor.execute("VACUUM ANALYZE incidents_incident")
    print(f"  built {incidents:,} incidents, {n_customers:,} customers in {time.perf_counter() - started:.0f} s",
          file=sys.stderr)
    rebuild_rollups()


def build_with_the_orm(org, locations, staff, categories, incidents, n_customers, days):
    """The same shape, small, for SQLite: the ORM fills every column it does not name."""
    now = timezone.now()
    customers = Customer.objects.bulk_create(
        Customer(organization=org, name=f"{FIRST[g % len(FIRST)]} {LAST[(g // len(FIRST)) % len(LAST)]}",
                 email=f"{FIRST[g % len(FIRST)].lower()}.{LAST[(g // len(FIRST)) % len(LAST)].lower()}{g}@example.com",
                 phone=f"+447{(g * 48271) % 1_000_000_000:09d}", care_flag=g % 50 == 0)
        for g in range(1, n_customers + 1)
    )
    rows = []
    for g in range(1, incidents + 1):
        logged = now - datetime.timedelta(minutes=(g * 7919) % (days * 1440))
        is_open = g <= min(BUSY_OPEN, incidents // 10) or g % 16 == 0
        owner = staff[0] if g <= min(BUSY_OPEN, incidents // 10) else staff[g % len(staff)]
        customer, summary = customers[g % len(customers)], SUMMARIES[g % len(SUMMARIES)]
        rows.append(Incident(
            organization=org, customer=customer, location=locations[g % len(locations)],
            search_document="\n".join((customer.name, customer.email, summary, NOTES[g % len(NOTES)])),
            channel="in_person", category=categories[g % len(categories)], summary=summary,
            occurred_at=logged, logged_at=logged, logged_by=owner, owner=owner,
            stage="fix" if is_open else "closed", follow_up_due_at=logged + datetime.timedelta(minutes=20),
            responded_at=logged + datetime.timedelta(minutes=5),
            closed_at=None if is_open else logged + datetime.timedelta(days=1),
            next_due_at=logged + datetime.timedelta(days=1) if is_open else None,
            outcome="" if is_open else "retained",
        ))
    Incident.objects.bulk_create(rows, batch_size=500)


def rebuild_rollups():
    """The managers' rollups, where the app keeps them: rebuilt from the incidents just loaded in bulk
    (which no service wrote). Without them the pages read the incidents, as they did before."""
    from insights import rollups

    started = time.perf_counter()
    rollups.rebuild(now=timezone.now())
    if connection.vendor == "postgresql":
        # A bulk load leaves the planner without statistics (autovacuum would gather them a while later):
        # measured without them, the pages' plans are not the ones a running database has.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE insights_tally")
    print(f"  rollups rebuilt in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def remove(slug):
    org = Organization.objects.filter(slug=slug).first()
    if org is None:
        return
    with connection.cursor() as cursor:
        mine = "SELECT id FROM incidents_incident WHERE organization_id = %s"
        for model in Incident._meta.related_objects:  # whatever refers to an incident, the rollups included
            if model.many_to_many or model.one_to_many or model.one_to_one:
                table, column = model.related_model._meta.db_table, model.field.column
                if model.many_to_many:
                    table, column = model.through._meta.db_table, "incident_id"
                cursor.execute(f"DELETE FROM {table} WHERE {column} IN ({mine})", [org.pk])
        cursor.execute("DELETE FROM incidents_incident WHERE organization_id = %s", [org.pk])
    for rows in (ApiClient.objects.filter(organization=org), User.objects.filter(organization=org), Customer.objects.filter(organization=org),
                 Category.objects.filter(organization=org), Location.objects.filter(organization=org)):
        rows.delete()
    org.delete()


# --- Measuring ------------------------------------------------------------------------------------


def cursor_at_depth(org, depth):
    """The `cursor` parameter of the list's page that starts `depth` rows down, as the list's `next`
    link would give it after depth / 50 pages (DRF's cursor: the position of the row before)."""
    row = Incident.objects.filter(organization=org).order_by("-logged_at", "-id").values_list("logged_at", flat=True)
    position = row[depth - 1] if row.count() >= depth else row.last()
    return base64.b64encode(urlencode({"p": str(position)}).encode()).decode()


def rows_to_measure(org, smoke):
    """(row, who, door, url, target ms) in the order of the issue's table."""
    depth = 10_000 if not smoke else 100
    since = (timezone.now() - datetime.timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    slug = org.slug
    busy_open = Incident.objects.filter(owner__username=f"{slug}-0", closed_at__isnull=True).count()
    # One of the last thousand incidents logged, by its reference as a person would type it.
    reference = Incident.objects.filter(organization=org).order_by("-id").values_list("reference", flat=True)[min(
        500, depth)]
    return [
        ("API first page (50)", "helpdesk", "api", "/api/v1/incidents/", 50),
        ("API ?ordering=logged_at", "helpdesk", "api", "/api/v1/incidents/?ordering=logged_at", 50),
        (f"API cursor {depth:,} deep", "helpdesk", "api",
         "/api/v1/incidents/?" + urlencode({"cursor": cursor_at_depth(org, depth)}), 50),
        ("API ?location=", "helpdesk", "api", "/api/v1/incidents/?location=hotel-07", 50),
        ("API ?open=true", "helpdesk", "api", "/api/v1/incidents/?open=true", 50),
        ("API ?updated_since=1h", "helpdesk", "api", "/api/v1/incidents/?" + urlencode({"updated_since": since}), 50),
        ("customer search: 3 letters", f"{slug}-5", "page", "/customers/search.json?q=mar", 30),
        ("customer search: a name", f"{slug}-5", "page", "/customers/search.json?" + urlencode({"q": "Maria Lopez"}), 30),
        ("customer search: phone fragment", f"{slug}-5", "page", "/customers/search.json?" + urlencode({"q": "7 4827"}), 30),
        ("search: a reference (admin)", f"{slug}-admin", "page", "/search/?" + urlencode({"q": reference}), 50),
        ("search: a customer's name (admin)", f"{slug}-admin", "page", "/search/?" + urlencode({"q": "Maria Lopez"}), 50),
        ("search: a word in 1 of 16 (admin)", f"{slug}-admin", "page", "/search/?q=wedding", 50),
        ("search: two words (manager of 5)", f"{slug}-manager", "page", "/search/?" + urlencode({"q": "cold soup"}), 50),
        ("search: a name as typed (frontline)", f"{slug}-5", "page", "/search/?q=mari", 50),
        ("API ?q= a customer's name", "helpdesk", "api", "/api/v1/incidents/?" + urlencode({"q": "Maria Lopez"}), 50),
        ("scorecard (admin, 40 locations)", f"{slug}-admin", "page", "/manage/scorecard/", 300),
        ("trends (admin, 40 locations)", f"{slug}-admin", "page", "/manage/trends/", 300),
        ("scorecard (manager of 5)", f"{slug}-manager", "page", "/manage/scorecard/", 150),
        ("trends (manager of 5)", f"{slug}-manager", "page", "/manage/trends/", 150),
        ("open recoveries (admin)", f"{slug}-admin", "page", "/manage/", 100),
        (f"frontline home ({busy_open} open)", f"{slug}-0", "page", "/", 100),
        ("CSV export (admin, all)", f"{slug}-admin", "export", "/manage/export.csv", None),
    ]


def signed_in(org, who, door):
    if door == "api":
        # A client of its own each run (its name is unique in the organization); removed with the organization.
        client, key = create_api_client(organization=org, name=f"Bench helpdesk {time.time_ns()}",
                                        rate_limit_per_minute=1_000_000)
        # A page or call that fails answers its status in the table (and the run exits 1), not a traceback.
        http = APIClient(HTTP_HOST="localhost", raise_request_exception=False)
        http.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return http
    http = Client(HTTP_HOST="localhost", raise_request_exception=False)
    http.force_login(User.objects.get(username=who))
    return http


def one_request(http, url, door):
    """(seconds, queries, status, note) of one request; an export's file is read as a browser would."""
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        response = http.get(url)
        note = ""
        if door == "export" and response.status_code == 200:
            size, deadline = 0, started + EXPORT_TIMEOUT_S
            chunks = response.streaming_content if response.streaming else [response.content]
            for chunk in chunks:
                size += len(chunk)
                if time.perf_counter() > deadline:
                    note = f"cut at {EXPORT_TIMEOUT_S} s after {size / 1e6:.1f} MB: a truncated file"
                    break
            else:
                note = f"{size / 1e6:.1f} MB in one request"
            if hasattr(response, "close"):
                response.close()
        elif door == "export" and response.status_code == 302:
            note = "a job started (redirect to its page)"
        elapsed = time.perf_counter() - started
    return elapsed, len(captured.captured_queries), response.status_code, note


def measure(org, runs, smoke):
    """Every row: one warm-up, then `runs` timed requests (an export: one)."""
    results, clients = [], {}
    for name, who, door, url, target in rows_to_measure(org, smoke):
        http = clients.get((who, door)) or clients.setdefault((who, door), signed_in(org, who, door))
        if door == "export":
            timings, queries, status, note = [], 0, None, ""
            for _ in range(1):  # one: a large export is minutes of work on a 2-core machine
                elapsed, queries, status, note = one_request(http, url, door)
                timings.append(elapsed)
            ok_status = status in (200, 302)
        else:
            one_request(http, url, door)  # warm-up: connection, caches, plans
            timings, queries, status, note = [], 0, None, ""
            for _ in range(runs):
                elapsed, queries, status, _ = one_request(http, url, door)
                timings.append(elapsed)
            ok_status = status == 200
        results.append({
            "row": name, "median_ms": statistics.median(timings) * 1000, "p99_ms": p99(timings) * 1000,
            "queries": queries, "status": status, "ok_status": ok_status, "target_ms": target, "note": note,
        })
    return results


def p99(timings):
    if len(timings) < 2:
        return timings[0]
    return statistics.quantiles(timings, n=100, method="inclusive")[98]


# --- Running --------------------------------------------------------------------------------------


def label(size):
    if size < 1000:
        return str(size)
    return f"{size // 1_000_000}m" if size % 1_000_000 == 0 else f"{size // 1000}k"


def measure_size(size, runs, reload):
    """In this process's database: build (or reuse) the dataset, then measure every row; a JSON line."""
    call_command("migrate", verbosity=0)
    org = Organization.objects.filter(slug=SLUG).first()
    if reload or org is None or Incident.objects.filter(organization=org).count() != size:
        build(SLUG, size)
        org = Organization.objects.get(slug=SLUG)
    counts = {
        "incidents": Incident.objects.filter(organization=org).count(),
        "open": Incident.objects.filter(organization=org, closed_at__isnull=True).count(),
        "customers": Customer.objects.filter(organization=org).count(),
    }
    counts["postgresql"] = connection.pg_version // 10000
    return {"counts": counts, "rows": measure(org, runs, smoke=False) if runs else []}


def database_for(size):
    import psycopg2

    name = f"{PREFIX}_{label(size)}"
    url = urlparse(SERVER)
    admin = psycopg2.connect(host=url.hostname, port=url.port or 5432, user=url.username, password=url.password,
                             dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if not cursor.fetchone():
            cursor.execute(f"CREATE DATABASE {name}")
    admin.close()
    return f"{SERVER.rstrip('/')}/{name}"


def print_table(sizes, by_size):
    database = by_size[sizes[0]]["counts"].get("postgresql")
    print(f"Reads on {f'PostgreSQL {database}' if database else connection.vendor}, in-process (Django test Client / DRF APIClient, DEBUG off); median and p99 of each row's runs, "
          f"queries of one request")
    for size in sizes:
        counts = by_size[size]["counts"]
        print(f"  {label(size)}: {counts['incidents']:,} incidents in 30 days ({counts['open']:,} open), "
              f"{counts['customers']:,} customers, 40 locations")
    heads = "".join(f"{label(size) + ' median':>12} {'p99':>8} {'SQL':>4}" for size in sizes)
    print(f"\n{'what':<34}{heads}  {'target':>8}  verdict")
    missed = False
    rows = [result["row"] for result in by_size[sizes[0]]["rows"]]
    for index, name in enumerate(rows):
        cells, verdicts, notes = "", [], []
        for size in sizes:
            result = by_size[size]["rows"][index]
            cells += f"{result['median_ms']:>10.1f}ms {result['p99_ms']:>6.0f}ms {result['queries']:>4}"
            if not result["ok_status"]:
                verdicts.append(f"{label(size)}: answered {result['status']}")
            elif result["target_ms"] is not None and result["median_ms"] > result["target_ms"]:
                verdicts.append(f"{label(size)}: missed")
            if result["note"]:
                notes.append(f"{label(size)}: {result['note']}")
        target_ms = by_size[sizes[0]]["rows"][index]["target_ms"]
        target = f"≤ {target_ms} ms" if target_ms else "a job" if name.startswith("CSV") else "-"
        missed |= bool(verdicts)
        print(f"{name:<34}{cells}  {target:>8}  {'; '.join(verdicts) or 'met'}{'  (' + '; '.join(notes) + ')' if notes else ''}")
    return missed


def smoke():
    """300 incidents in the configured database; every row answered once. Returns the exit status."""
    slug = f"{SLUG}-smoke"
    call_command("migrate", verbosity=0)
    try:
        build(slug, 300)
        org = Organization.objects.get(slug=slug)
        results = measure(org, runs=1, smoke=True)
        counts = {"incidents": 300, "open": Incident.objects.filter(organization=org, closed_at__isnull=True).count(),
                  "customers": Customer.objects.filter(organization=org).count()}
        failed = print_table([300], {300: {"counts": counts, "rows": [{**row, "target_ms": None} for row in results]}})
        for row in results:  # the export's verdict is its answer, judged here as at full size
            failed |= row["row"].startswith("CSV") and not row["note"]
    finally:
        remove(slug)
    print(f"smoke mode on {connection.vendor}: every row answered; the times are not judged at this size")
    return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--reload", action="store_true", help="rebuild the bench databases")
    parser.add_argument("--smoke", action="store_true", help="300 incidents on DATABASE_URL, every row once")
    parser.add_argument("--build-only", action="store_true", help="build (or check) the databases, measure nothing")
    parser.add_argument("--one-size", type=int, help=argparse.SUPPRESS)  # a child: measure this database
    args = parser.parse_args()
    if args.smoke:
        return smoke()
    if args.one_size:
        print(json.dumps(measure_size(args.one_size, 0 if args.build_only else args.runs, args.reload)))
        return 0
    sizes = [int(size) for size in args.sizes.split(",")]
    by_size = {}
    for size in sizes:  # one process per database: each opens its own connection from DATABASE_URL
        command = [sys.executable, __file__, "--one-size", str(size), "--runs", str(args.runs)]
        command += ["--reload"] * args.reload + ["--build-only"] * args.build_only
        done = subprocess.run(command, env={**os.environ, "DATABASE_URL": database_for(size)},
                              stdout=subprocess.PIPE, text=True, check=True)
        by_size[size] = json.loads(done.stdout.strip().splitlines()[-1])
    if args.build_only:
        for size in sizes:
            print(f"{label(size)}: {by_size[size]['counts']}")
        return 0
    return 1 if print_table(sizes, by_size) else 0


if __name__ == "__main__":
    sys.exit(main())
