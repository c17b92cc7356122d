"""The cost of one follow-up sweep pass as open incidents grow: 1k, 10k, 100k, 1M, 1% of them due.

    DATABASE_URL=postgres://…/scratch python bench/sweep.py [--sizes 1000,10000,100000,1000000]

Needs PostgreSQL. Incidents are inserted in bulk with SQL into a bench organization (removed at
the end unless --keep); the rest of the database is left alone. A pass acts on a fixed batch of
due incidents (--batch, 10 by default: all that is due at 1k), so the figures compare the same
work and show what the number of open incidents adds: with the partial index, nothing much.
Each pass is timed several times (the acted-on rows are put back between runs); the median is
printed with the plan of the due query.

    DATABASE_URL=postgres://…/scratch python bench/sweep.py --smoke    # 500 and 2,000; the test suite runs this
"""

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")  # a throwaway key, plain HTTP

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from followups import selectors, services  # noqa: E402
from followups.models import Notification, Reminder  # noqa: E402
from incidents.models import Customer, Incident, Location, Organization, User  # noqa: E402
from reads import insert_select  # noqa: E402  (bench/ is this script's folder, first on the path)

SLUG = "bench-sweep"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the bench incidents afterwards")
    parser.add_argument("--smoke", action="store_true", help="two small sizes, a batch of 5, 3 runs: a few seconds")
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.batch, args.runs = "500,2000", 5, 3
    if connection.vendor != "postgresql":
        sys.exit("bench/sweep.py measures PostgreSQL: set DATABASE_URL=postgres://…")
    call_command("migrate", verbosity=0)
    remove_bench_data()
    org, location, owner, customer = bench_people()
    now = timezone.now()
    services._publish = lambda ids: None  # bench staff have no email; nothing to hand to a worker

    print(f"Sweep pass cost, batch of {args.batch} due incidents, median of {args.runs} runs, PostgreSQL")
    print(f"{'open':>9} {'due':>7} {'due query':>10} {'one pass':>10} {'per incident':>13} {'vs first':>9}")
    first = None
    try:
        for size in [int(value) for value in args.sizes.split(",")]:
            grow_to(size, org, location, owner, customer, now)
            due = Incident.objects.filter(organization=org, closed_at__isnull=True, next_due_at__lte=now).count()
            query_ms = median_ms(lambda: selectors.due_incident_ids(now, limit=args.batch), args.runs)
            pass_ms = median_pass_ms(now, args.batch, args.runs)
            first = first or pass_ms
            print(
                f"{size:>9,} {due:>7,} {query_ms:>8.2f}ms {pass_ms:>8.1f}ms {pass_ms / args.batch:>11.2f}ms "
                f"{pass_ms / first:>8.2f}×"
            )
        print(f"\nPlan of the due query at {size:,} open incidents:")
        sql, params = (
            Incident.objects.filter(closed_at__isnull=True, next_due_at__isnull=False, next_due_at__lte=now)
            .order_by("next_due_at").values_list("id", flat=True)[: args.batch].query.sql_with_params()
        )
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            for (line,) in cursor.fetchall():
                print("  " + line)
    finally:
        if not args.keep:
            remove_bench_data()


def bench_people():
    org = Organization.objects.create(name="Bench Sweep", slug=SLUG)
    location = Location.objects.create(organization=org, name="Bench", code="bench", opens_at=datetime.time(0), closes_at=datetime.time(0))
    owner = User.objects.create(username="bench-owner", organization=org, role="frontline")
    manager = User.objects.create(username="bench-manager", organization=org, role="manager")
    owner.locations.add(location)
    manager.locations.add(location)
    customer = Customer.objects.create(organization=org, name="Bench Customer")
    return org, location, owner, customer


def grow_to(size, org, location, owner, customer, now):
    """Insert incidents up to `size`: every hundredth one is due (its heads-up came a minute ago),
    the rest were answered and are due some time in the next day."""
    have = Incident.objects.filter(organization=org).count()
    if have >= size:
        return
    # Every column not named here gets its model field's default (reads.insert_select), so a column the
    # incidents gain later is filled, or named in a clear error, instead of failing the INSERT.
    insert_select(Incident, {
        "organization_id": "%(org)s", "customer_id": "%(customer)s", "location_id": "%(location)s",
        "logged_by_id": "%(owner)s", "owner_id": "%(owner)s", "channel": "'in_person'", "summary": "'Bench incident'",
        "occurred_at": "logged", "logged_at": "logged", "follow_up_due_at": "logged + interval '20 minutes'",
        "responded_at": "CASE WHEN n %% 100 = 0 THEN NULL ELSE logged + interval '5 minutes' END",
        "next_due_at": "CASE WHEN n %% 100 = 0 THEN logged + interval '15 minutes' "
                       "ELSE %(now)s + (n %% 86400) * interval '1 second' END",
        "updated_at": "%(now)s",
    }, """(SELECT n, CASE WHEN n %% 100 = 0 THEN %(now)s - interval '16 minutes' ELSE %(now)s - interval '2 hours' END AS logged
           FROM generate_series(%(start)s, %(stop)s) AS n) AS rows""",
        {"now": now, "customer": customer.pk, "owner": owner.pk, "location": location.pk, "org": org.pk,
         "start": have + 1, "stop": size})
    # Settle the table the way a running system's would be (statistics fresh, no autovacuum of
    # the bulk insert running during the timings).
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE incidents_incident")
        cursor.execute("CHECKPOINT")


def median_ms(function, runs):
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def median_pass_ms(now, batch, runs):
    timings = []
    for _ in range(runs + 1):  # the first run warms caches and is left out
        due_ids = selectors.due_incident_ids(now, limit=batch)
        started = time.perf_counter()
        report = services.sweep(now=now, batch_size=batch)
        timings.append((time.perf_counter() - started) * 1000)
        assert report.acted == batch, report
        # Put the rows back as they were, so every run does the same work.
        Notification.objects.filter(incident_id__in=due_ids).delete()
        Reminder.objects.filter(incident_id__in=due_ids).delete()
        Incident.objects.filter(pk__in=due_ids).update(next_due_at=now - datetime.timedelta(minutes=1))
    return statistics.median(timings[1:])


def remove_bench_data():
    org = Organization.objects.filter(slug=SLUG).first()
    if org is None:
        return
    with connection.cursor() as cursor:
        bench = "SELECT id FROM incidents_incident WHERE organization_id = %s"
        for table in ("followups_delivery", "followups_notification"):
            column = "notification_id IN (SELECT id FROM followups_notification WHERE incident_id IN ({}))" if table == "followups_delivery" else "incident_id IN ({})"
            cursor.execute(f"DELETE FROM {table} WHERE " + column.format(bench), [org.pk])
        for table in ("followups_reminder", "followups_sweepfailure", "incidents_event"):
            cursor.execute(f"DELETE FROM {table} WHERE incident_id IN ({bench})", [org.pk])
        cursor.execute("DELETE FROM incidents_incident WHERE organization_id = %s", [org.pk])
    Customer.objects.filter(organization=org).delete()
    User.objects.filter(organization=org).delete()
    Location.objects.filter(organization=org).delete()
    org.coach_phrases.all().delete()
    org.delete()


if __name__ == "__main__":
    main()
