"""Server time and query count of the managers' pages over 1M incidents in PostgreSQL.

    python bench/dashboard.py [--incidents 1000000] [--days 365] [--runs 7] [--reload]
    python bench/dashboard.py --smoke    # 2,000 incidents in recovery_bench_smoke; the test suite runs this

Creates its own database (`recovery_bench` on the PostgreSQL of BENCH_POSTGRES, by default
postgres://postgres@127.0.0.1:5432), migrates it, and fills it once with one organization of 40
locations in four time zones, 200 staff and --incidents incidents spread over the last --days days
(about 1% of the older ones still open, the last three days partly open, 30% with a gesture), inserted
in time order as real incidents arrive. The fill is one INSERT … SELECT over generate_series, then the
gesture totals are copied onto the incidents as the services keep them; later runs reuse the data
(--reload rebuilds it).

Then, through Django's test client (so the figures include the view, the template and the queries, as
a request would), it times the open-recoveries page, the scorecard and the trends page (heatmap,
breakdowns and clusters) for a manager of five locations and for the organization's admin (all 40),
and prints the median and the slowest of --runs runs after one warm-up, with the number of queries.
Targets: open recoveries under 100 ms; the scorecard and the trends (read from the managers' rollup,
which it builds after loading; --from-incidents reads the incidents instead, the figures before the
rollup) under 150 ms for the manager and 300 ms for the admin; it exits 1 when one is missed (in smoke
mode only when a page does not answer 200: the speed of a few thousand rows on a busy machine says nothing).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SERVER = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
# Read before the settings load, which is before the arguments are parsed: a smoke run gets a database of
# its own, so it never wipes the million incidents a full run took minutes to build.
SMOKE = "--smoke" in sys.argv[1:]
DATABASE = "recovery_bench_smoke" if SMOKE else "recovery_bench"


def create_database():
    import psycopg2

    url = urlparse(SERVER)
    connection = psycopg2.connect(host=url.hostname, port=url.port or 5432, user=url.username,
                                  password=url.password, dbname="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE])
        if not cursor.fetchone():
            cursor.execute(f"CREATE DATABASE {DATABASE}")
    connection.close()


create_database()
os.environ["DATABASE_URL"] = f"{SERVER.rstrip('/')}/{DATABASE}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")  # a throwaway key, plain HTTP
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

import logging  # noqa: E402

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from incidents.models import Category, Customer, Incident, Location, Organization, User  # noqa: E402
from insights import rollups  # noqa: E402
from insights.models import Tally, TallyCursor  # noqa: E402

SLUG = "bench-dashboard"
ZONES = ["Europe/London", "Europe/Paris", "America/New_York", "America/Los_Angeles"]


def build(incidents, days):
    """The bench organization and its incidents, in bulk."""
    Organization.objects.filter(slug=SLUG).exists() and wipe()
    with transaction.atomic():
        org = Organization.objects.create(name="Bench Hotels", slug=SLUG, currency="GBP")
        locations = Location.objects.bulk_create(
            Location(organization=org, name=f"Hotel {i:02d}", code=f"hotel-{i:02d}", region=f"Region {i % 6}",
                     timezone="Europe/London" if i < 10 else ZONES[i % 4])
            for i in range(40)
        )
        staff = User.objects.bulk_create(
            User(username=f"bench-{i}", first_name="Staff", last_name=str(i), organization=org,
                 role=User.Role.FRONTLINE, email=f"bench-{i}@example.com")
            for i in range(200)
        )
        # Five people work at each location.
        User.locations.through.objects.bulk_create(
            User.locations.through(user_id=person.pk, location_id=locations[i // 5].pk) for i, person in enumerate(staff)
        )
        manager = User.objects.create(username="bench-manager", organization=org, role=User.Role.MANAGER,
                                      email="m@example.com")
        manager.locations.set(locations[:5])
        User.objects.create(username="bench-admin", organization=org, role=User.Role.ADMIN, email="a@example.com")
        Customer.objects.bulk_create(
            Customer(organization=org, name=f"Guest {i}", email=f"g{i}@example.com", lifetime_value=500 + i % 50 * 100)
            for i in range(20000)
        )
        categories = Category.objects.bulk_create(Category(organization=org, name=f"Product {i}") for i in range(25))
    customer_ids = list(Customer.objects.filter(organization=org).values_list("id", flat=True))
    params = {
        "org": org.pk, "n": incidents, "days": days,
        "locations": [location.pk for location in locations], "staff": [person.pk for person in staff],
        "categories": [category.pk for category in categories],
        "first_customer": min(customer_ids), "customers": len(customer_ids),
    }
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(INSERT_INCIDENTS, params)
        cursor.execute(INSERT_GESTURES, params)
        cursor.execute(GESTURE_TOTALS, params)
    with connection.cursor() as cursor:  # outside the transaction: VACUUM cannot run inside one
        cursor.execute("VACUUM ANALYZE incidents_incident")
        cursor.execute("VACUUM ANALYZE incidents_gesture")
    print(f"Loaded {incidents:,} incidents over {days} days in {time.perf_counter() - started:.0f} s")


INSERT_INCIDENTS = """
INSERT INTO incidents_incident (
    organization_id, customer_id, location_id, channel, category_id, severity, summary, busyness,
    occurred_at, logged_at, logged_by_id, owner_id, external_id, stage, follow_up_due_at, responded_at,
    breached_at, fixed_at, closed_at, next_due_at, updated_at, seconds_to_apology, seconds_to_follow_up,
    seconds_to_fix, wrapped_up_at, outcome, gesture_count, gesture_cost, customer_outcome, next_step,
    search_document)
SELECT %(org)s, customer, location, channel, category, 'medium', 'Bench incident', busyness,
       logged - interval '5 minutes', logged, owner, owner, '', CASE WHEN closed THEN 'closed' ELSE 'fix' END,
       logged + interval '20 minutes', responded,
       CASE WHEN responded IS NULL OR responded > logged + interval '20 minutes' THEN logged + interval '21 minutes' END,
       CASE WHEN closed OR r_fix < 0.5 THEN logged + fix_after END,
       CASE WHEN closed THEN logged + interval '2 days' + fix_after END,
       CASE WHEN NOT closed THEN greatest(logged + interval '20 minutes', now() - r_fix * interval '1 day')
                                 + r_fix * interval '2 days' END,
       now(), (60 + r_fix * 300)::int,
       CASE WHEN responded IS NOT NULL THEN extract(epoch FROM responded - logged)::int END,
       CASE WHEN closed OR r_fix < 0.5 THEN extract(epoch FROM fix_after)::int END,
       CASE WHEN closed THEN logged + interval '2 days' END,
       CASE WHEN NOT closed THEN ''
            WHEN r_outcome < 0.45 THEN 'champion' WHEN r_outcome < 0.8 THEN 'retained'
            WHEN r_outcome < 0.92 THEN 'partial' ELSE 'lost' END,
       0, 0, '', '', 'Bench incident'  -- the search document as the services write it: the summary
FROM (
    SELECT g, logged, location, owner, customer, category, channel, busyness, r_fix, r_outcome, fix_after,
           CASE WHEN r_resp < 0.8 THEN logged + (3 + r_fix * 16) * interval '1 minute'
                WHEN r_resp < 0.97 THEN logged + (21 + r_fix * 90) * interval '1 minute' END AS responded,
           (logged < now() - interval '3 days' AND r_open > 0.01)
               OR (logged >= now() - interval '3 days' AND r_open > 0.5) AS closed
    FROM (
        SELECT g, logged, (%(locations)s::int[])[place] AS location,
               -- The owner is one of the five who work at the location, as the services require.
               (%(staff)s::int[])[(place - 1) * 5 + 1 + floor(random() * 5)::int] AS owner,
               customer, category, channel, busyness, r_resp, r_fix, r_open, r_outcome, fix_after
        FROM (
        SELECT g,
               now() - random() * (%(days)s * interval '1 day') AS logged,
               1 + floor(random() * array_length(%(locations)s::int[], 1))::int AS place,
               %(first_customer)s + floor(random() * %(customers)s)::int AS customer,
               (%(categories)s::int[])[1 + floor(random() * array_length(%(categories)s::int[], 1))::int] AS category,
               (ARRAY['in_person', 'phone', 'email', 'chat'])[1 + floor(random() * 4)::int] AS channel,
               (ARRAY['quiet', 'normal', 'busy', 'peak'])[1 + floor(random() * 4)::int] AS busyness,
               random() AS r_resp, random() AS r_fix, random() AS r_open, random() AS r_outcome,
               (10 + random() * 240) * interval '1 minute' AS fix_after
        FROM generate_series(1, %(n)s) AS g
        ) AS placed
    ) AS drawn
) AS shaped
ORDER BY logged  -- incidents arrive in time order, so a period's rows sit together on disk as in real use
"""

INSERT_GESTURES = """
INSERT INTO incidents_gesture (incident_id, kind, description, cost, currency, given_by_id, given_at, approval)
SELECT id, 'gift', 'Dessert', round((random() * 80)::numeric, 2), 'GBP', owner_id, logged_at + interval '15 minutes',
       CASE WHEN closed_at IS NULL AND random() < 0.05 THEN 'pending' ELSE 'not_needed' END
FROM incidents_incident
WHERE organization_id = %(org)s AND random() < 0.3
"""


GESTURE_TOTALS = """
UPDATE incidents_incident AS i SET gesture_count = g.n, gesture_cost = g.cost
FROM (SELECT incident_id, count(*) AS n, sum(cost) AS cost FROM incidents_gesture
      WHERE approval IN ('not_needed', 'approved') GROUP BY incident_id) AS g
WHERE g.incident_id = i.id AND i.organization_id = %(org)s
"""


def wipe():
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE incidents_gesture, incidents_incident_helpers, incidents_event, incidents_incident CASCADE")
    Customer.objects.filter(organization__slug=SLUG).delete()
    Category.objects.filter(organization__slug=SLUG).delete()
    User.objects.filter(organization__slug=SLUG).delete()
    Location.objects.filter(organization__slug=SLUG).delete()
    Organization.objects.filter(slug=SLUG).delete()


def measure(client, url, runs):
    client.get(url)  # warm-up: connection, caches, plans
    timings, queries = [], 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - started
        assert response.status_code == 200, (url, response.status_code)
        timings.append(elapsed)
        queries = len(captured.captured_queries)
        slowest_query = max(float(query["time"]) for query in captured.captured_queries)
    return statistics.median(timings), max(timings), queries, slowest_query


# Targets in seconds for (manager of five locations, admin of all 40): the managers' pages read the
# rollup, so they should not grow with the incidents.
PAGES = [
    ("open recoveries", "/manage/", (0.1, 0.1)),
    ("scorecard (28 days, per location)", "/manage/scorecard/", (0.15, 0.3)),
    ("scorecard (28 days, per staff)", "/manage/scorecard/?by=staff", (0.15, 0.3)),
    ("trends (heatmap, breakdowns, clusters)", "/manage/trends/", (0.15, 0.3)),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--reload", action="store_true", help="rebuild the bench data")
    parser.add_argument("--from-incidents", action="store_true",
                        help="read the incidents instead of the managers' rollup (the figures before it)")
    parser.add_argument("--smoke", action="store_true", help="2,000 incidents over 30 days, 1 run: a few seconds")
    args = parser.parse_args()
    if args.smoke:
        args.incidents, args.days, args.runs = 2000, 30, 1
    logging.disable(logging.INFO)
    call_command("migrate", verbosity=0)
    existing = Incident.objects.filter(organization__slug=SLUG).count()
    if args.reload or existing != args.incidents:
        build(args.incidents, args.days)
        TallyCursor.objects.all().delete()  # new incidents: the rollup is built again below
    if args.from_incidents:
        TallyCursor.objects.all().delete()  # the pages read the incidents, as before the rollup
    elif not rollups.is_built():
        started = time.perf_counter()
        folded = rollups.rebuild()
        print(f"Rollup built: {folded:,} location-days, {Tally.objects.count():,} rows, "
              f"in {time.perf_counter() - started:.0f} s")
    total = Incident.objects.filter(organization__slug=SLUG).count()
    open_count = Incident.objects.filter(organization__slug=SLUG, closed_at__isnull=True).count()
    print(f"{total:,} incidents ({open_count:,} open) in database {DATABASE}; PostgreSQL "
          f"{connection.pg_version // 10000}; {args.runs} runs after a warm-up\n")
    print(f"{'who':<8} {'page':<40} {'median':>9} {'slowest':>9} {'queries':>8} {'worst query':>12}  target")
    failed = False
    for who in ("bench-manager", "bench-admin"):
        client = Client(HTTP_HOST="localhost")
        client.force_login(User.objects.get(username=who))
        for name, url, targets in PAGES:
            target = targets[who == "bench-admin"]
            median, slowest, queries, worst = measure(client, url, args.runs)
            ok = median < target
            failed |= not ok
            print(f"{who[6:]:<8} {name:<40} {median * 1000:>7.0f}ms {slowest * 1000:>7.0f}ms {queries:>8} "
                  f"{worst * 1000:>10.0f}ms  < {target * 1000:.0f} ms {'ok' if ok else 'MISSED'}")
    print("\nmanager: 5 locations (about 1/8 of the incidents); admin: the whole organization, 40 locations, 4 time zones.")
    if args.smoke:
        print("smoke mode: every page answered 200; the times are not judged at this size")
        return 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
