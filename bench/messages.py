"""How fast the worker sends customers' emails into a local SMTP server, and how soon one arrives.

    DATABASE_URL=postgres://…/scratch REDIS_URL=redis://127.0.0.1:6379/N python bench/messages.py
    … python bench/messages.py --smoke    # 300 queued, 20 sends; the test suite runs this

Two figures, with the real Celery worker (two processes, `--concurrency 2`) and beat:
- drain: 10,000 customer emails queued (scheduled and due, as `send_message` leaves them) before the
  worker starts; the worker is woken, claims them in batches (OUTREACH_BATCH, one SMTP connection
  each) and the bench times from the wake-up until the local SMTP server accepted the last one:
  messages per second. Target: at least 200 on a 2-core machine.
- delay: with the queue empty, 200 messages sent one by one through `send_message` (10 a second);
  for each, the time from its transaction's commit to the server accepting it. Target: p99 at most 5 s.
Every message must arrive once: none missing, none twice (counted by Message-ID at the server).
The SMTP server is tests/smtp_server.py, in this process. Its bench organization is removed
afterwards. Exits 1 when a target is missed (in smoke mode: when one is missing or twice).
"""

import argparse
import collections
import datetime
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")  # a throwaway key, plain HTTP

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from followups.models import Notification, Reminder  # noqa: E402
from incidents import services as incident_services  # noqa: E402
from incidents.models import Customer, Incident, Location, Organization, User  # noqa: E402
from outreach import services, tasks  # noqa: E402
from outreach.models import Message, MessageAttempt  # noqa: E402
from recovery.celery import app  # noqa: E402
from tests.smtp_server import SMTPServer  # noqa: E402

SLUG = "bench-messages"
CUSTOMERS = 100


class TimedSMTPServer(SMTPServer):
    """Keeps when each message was accepted, by Message-ID."""

    def __init__(self):
        super().__init__()
        self.accepted = collections.defaultdict(list)

    def _keep(self, received):
        message_id = received.message["Message-ID"] or ""
        if message_id.startswith("<recovery-message-"):  # not the staff's reminders beat may send
            with self._lock:
                self.accepted[message_id].append(time.time())

    def count(self):
        with self._lock:
            return sum(len(times) for times in self.accepted.values())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queued", type=int, default=10_000)
    parser.add_argument("--sends", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10, help="sends per second in the delay run")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="300 queued, 20 sends: checks, not figures")
    args = parser.parse_args()
    if args.smoke:
        args.queued, args.sends, args.rate = 300, 20, 20
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        sys.exit("bench/messages.py runs on PostgreSQL and Redis, as in production: set DATABASE_URL and REDIS_URL")
    call_command("migrate", verbosity=0)
    remove_bench_data()
    app.control.purge()

    owner, incidents = bench_records()
    smtp = TimedSMTPServer().start()
    folder = tempfile.mkdtemp(prefix="recovery-bench-messages-")
    print(f"Queueing {args.queued:,} customer emails …", flush=True)
    queue(incidents, owner, args.queued)
    processes = start_processes(smtp.port, args.concurrency, folder)
    try:
        wait_for_worker()
        drain_seconds = drain(smtp, args.queued, args.concurrency)
        delays = send_one_by_one(owner, incidents, smtp, args.sends, args.rate, args.queued)
    finally:
        stop_processes(processes)
        smtp.stop()
    met = report(smtp, args, drain_seconds, delays)
    remove_bench_data()
    return 0 if met else 1


def bench_records():
    # No quiet hours (start = end) and open round the clock: the bench runs at any hour.
    org = Organization.objects.create(name="Bench Messages", slug=SLUG, quiet_hours_start=datetime.time(0),
                                      quiet_hours_end=datetime.time(0))
    location = Location.objects.create(organization=org, name="Bench", code="bench", opens_at=datetime.time(0),
                                       closes_at=datetime.time(0))
    owner = User.objects.create(username="bench-messages-owner", first_name="Bea", last_name="Bench",
                                organization=org, email="owner@bench.example")
    owner.locations.add(location)
    incidents = []
    for number in range(CUSTOMERS):
        customer = Customer.objects.create(organization=org, name=f"Bench Customer {number}",
                                           email=f"customer{number}@bench.example")
        incidents.append(incident_services.log_incident(
            logged_by=owner, customer=customer, location=location, summary=f"Bench {number}", channel="in_person",
            now=timezone.now()))
    return owner, incidents


def queue(incidents, owner, count):
    """Rows as `send_message` leaves them (scheduled, due now, author and address set), written in
    bulk: the drain measures the worker, not 10,000 page requests."""
    now = timezone.now()
    rows = []
    for number in range(count):
        incident = incidents[number % len(incidents)]
        rows.append(Message(
            incident=incident, kind=Message.Kind.PROGRESS_REPORT, channel=Message.Channel.EMAIL,
            to=incident.customer.email, subject="How we are getting on", author=owner,
            body=f"Dear {incident.customer.name},\n\nToday we replaced the part; tomorrow the engineer checks it.\n\nBea",
            status=Message.Status.SCHEDULED, scheduled_for=now, next_attempt_at=now))
    Message.objects.bulk_create(rows, batch_size=2000)


def start_processes(port, concurrency, folder):
    env = {**os.environ, "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "127.0.0.1",
           "EMAIL_PORT": str(port), "EMAIL_USE_TLS": "0", "LOG_LEVEL": "WARNING"}
    celery = [sys.executable, "-m", "celery", "-A", "recovery"]
    return [
        subprocess.Popen([*celery, "worker", "--loglevel", "WARNING", "--concurrency", str(concurrency)], cwd=ROOT, env=env),
        subprocess.Popen([*celery, "beat", "--loglevel", "WARNING", "-s", str(Path(folder) / "beat-schedule")],
                         cwd=ROOT, env=env),
    ]


def wait_for_worker(timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.control.ping(timeout=1):
            return
    raise SystemExit("The worker did not start.")


def drain(smtp, count, concurrency):
    """Wake the worker (as the last send's commit does, once per worker process) and time until the
    server has accepted every queued message."""
    started = time.time()
    for _ in range(concurrency):
        tasks.send_messages.apply_async()
    deadline = time.monotonic() + max(120, count / 20)
    while smtp.count() < count and time.monotonic() < deadline:
        time.sleep(0.05)
    last = max((times[0] for times in list(smtp.accepted.values())), default=started)
    return last - started


def send_one_by_one(owner, incidents, smtp, sends, rate, already):
    """Each message drafted and sent through `send_message` in its own transaction; its delay runs
    from the commit to the server's acceptance."""
    committed = {}
    for number in range(sends):
        incident = incidents[number % len(incidents)]
        with transaction.atomic():
            message = services.draft_message(incident, kind=Message.Kind.WRAP_UP, author=owner,
                                             body=f"Dear {incident.customer.name},\n\nThank you.\n\nBea")
            services.send_message(message, by=owner)
        committed[message.pk] = time.time()
        time.sleep(1 / rate)
    deadline = time.monotonic() + 30
    while smtp.count() < already + sends and time.monotonic() < deadline:
        time.sleep(0.05)
    delays = []
    for message_id, at in committed.items():
        accepted = smtp.accepted.get(f"<recovery-message-{message_id}@localhost>")
        if accepted:
            delays.append(accepted[0] - at)
    return delays


def stop_processes(processes):
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def p99(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(int(round(0.99 * len(ordered))) - 1, 0))] if ordered else float("inf")


def report(smtp, args, drain_seconds, delays):
    expected = args.queued + args.sends
    twice = sum(1 for times in smtp.accepted.values() if len(times) > 1)
    sent = Message.objects.filter(incident__organization__slug=SLUG, status=Message.Status.SENT).count()
    missing = expected - len(smtp.accepted)
    rate = args.queued / drain_seconds if drain_seconds > 0 else 0.0
    judged = not args.smoke

    def verdict(ok):
        return ("met" if ok else "NOT met") if judged else "not judged (smoke)"

    rate_ok, delay_ok = rate >= 200, p99(delays) <= 5
    print()
    print(f"Messages to customers: {args.queued:,} queued emails, then {args.sends} sent one by one "
          f"({args.rate:g}/s); worker --concurrency {args.concurrency}, batches of "
          f"{settings.OUTREACH_BATCH}, one SMTP connection each")
    print(f"  {'figure':<44}{'measured':>10}  {'target':<8}")
    print(f"  {'drain (messages/s)':<44}{rate:>10.0f}  {'>= 200':<8}{verdict(rate_ok)}")
    print(f"  {'drain time (s)':<44}{drain_seconds:>10.1f}")
    print(f"  {'send to accepted, p50 (s)':<44}{statistics.median(delays) if delays else float('inf'):>10.2f}")
    print(f"  {'send to accepted, p99 (s)':<44}{p99(delays):>10.2f}  {'<= 5':<8}{verdict(delay_ok)}")
    print(f"  {'missing':<44}{missing:>10}  {'0':<8}{'met' if missing == 0 else 'NOT met'}")
    print(f"  {'sent twice':<44}{twice:>10}  {'0':<8}{'met' if twice == 0 else 'NOT met'}")
    print(f"  {'marked sent':<44}{sent:>10}  {expected:<8}{'met' if sent == expected else 'NOT met'}")
    ok = missing == 0 and twice == 0 and sent == expected
    return ok and (rate_ok and delay_ok if judged else True)


def remove_bench_data():
    org = Organization.objects.filter(slug=SLUG).first()
    if org is None:
        return
    incidents = Incident.objects.filter(organization=org)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # The timeline's append-only trigger refuses deletes, rightly; this scratch data is the
            # one thing ever deleted, so triggers are off for this transaction only (needs a superuser).
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = replica")
        MessageAttempt.objects.filter(message__incident__in=incidents).delete()
        Message.objects.filter(incident__in=incidents).delete()
        Notification.objects.filter(incident__in=incidents).delete()
        Reminder.objects.filter(incident__in=incidents).delete()
        for incident in incidents:
            incident.events.all()._raw_delete(incident.events.db)
        incidents.delete()
        Customer.objects.filter(organization=org).delete()
        User.objects.filter(organization=org).delete()
        Location.objects.filter(organization=org).delete()
        org.delete()


if __name__ == "__main__":
    sys.exit(main())
