"""A bounded mixed load on loopback against the whole app, with a worker killed midway.

gunicorn (4 sync workers) on PostgreSQL + Redis, one Celery worker (2 processes) and beat (sweep every second).
For `--seconds` (60), threads drive:
  * frontline staff in the browser's shoes: their recoveries, log a failure (one form), the
    incident page, the apology;
  * a helpdesk over the API: create an incident, record apology and review;
while beat sweeps. The organization's windows are shortened (30 s to respond, heads-up 10 s before,
admins 15 s after) so reminders, breaches and escalations really fall due during the run. Halfway
through, the worker is killed with SIGKILL and a new one started.

It prints requests served, errors (target: no 5xx), p50/p99 latency per kind, and the reminders due
by the end of the load beside those sent, with duplicates (target: equal, none). It exits 1 when a
target is missed, or when a kind of request was never served (the load no longer fits the app).

    .venv/bin/python bench/load.py [--seconds 60] [--postgres postgres://postgres@127.0.0.1:5432/postgres]
    .venv/bin/python bench/load.py --smoke      # 6 s, one thread of each kind; the test suite runs this

It makes its own database (recovery_load) on that server and its own Redis on a spare port.
"""

import argparse
import http.cookiejar
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.processes import BIN, PrivateRedis, Processes, app_environment, django_run, free_port, wait_for  # noqa: E402

DATABASE = "recovery_load"
PASSWORD = "load-test-password"
SETUP = """
import datetime, json
from django.core.management import call_command
from incidents import services
from helpdesk import services as api_services
from incidents.models import Location, User
organization = services.create_organization(
    name="Load Hotels", slug="load",
    follow_up_window=datetime.timedelta(seconds=30), heads_up_before=datetime.timedelta(seconds=10),
    escalate_after=datetime.timedelta(seconds=15),
)
location = Location.objects.create(organization=organization, name="Dock", code="dock", region="East", timezone="UTC")
staff = []
for n in range(STAFF):
    user = User.objects.create_user(f"clerk{n}", f"clerk{n}@example.com", PASSWORD, organization=organization)
    user.locations.set([location])
    staff.append(user.username)
manager = User.objects.create_user("boss", "boss@example.com", PASSWORD, organization=organization, role="manager")
manager.locations.set([location])
User.objects.create_user("chief", "chief@example.com", PASSWORD, organization=organization, role="admin")
client, token = api_services.create_api_client(organization=organization, name="Helpdesk", rate_limit_per_minute=100000)
print(json.dumps({"staff": staff, "token": token}))
"""
EXPECTED = """
import json
from incidents import clock, services
from incidents.models import Incident
due = []
for incident in Incident.objects.select_related("location__organization"):
    policy = services.policy_for(incident.location.organization, incident.location)
    for moment in clock.engine_moments(services.facts_for(incident), policy):
        if moment.due_at <= END:
            due.append([incident.pk, moment.kind])
print(json.dumps(due))
"""

class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.samples = defaultdict(list)  # kind -> [(seconds, status)]

    def add(self, kind, seconds, status):
        with self.lock:
            self.samples[kind].append((seconds, status))


def _opener(cookies=None):
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    handlers = [NoRedirect()]
    if cookies is not None:
        handlers.append(urllib.request.HTTPCookieProcessor(cookies))
    return urllib.request.build_opener(*handlers)


def _call(opener, recorder, kind, url, data=None, headers=None, method=None):
    body = None
    if data is not None:
        body = json.dumps(data).encode() if headers and headers.get("Content-Type") == "application/json" else urllib.parse.urlencode(data).encode()
    request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    started = time.perf_counter()
    try:
        with opener.open(request, timeout=30) as answer:
            status, text, location = answer.status, answer.read().decode(), answer.headers.get("Location")
    except urllib.error.HTTPError as error:
        status, text, location = error.code, error.read().decode(errors="replace"), error.headers.get("Location")
    except OSError:
        status, text, location = 0, "", None
    recorder.add(kind, time.perf_counter() - started, status)
    return status, text, location


def _csrf(cookies):
    return next((cookie.value for cookie in cookies if cookie.name == "csrftoken"), "")


def frontline(base, username, recorder, stop):
    cookies = http.cookiejar.CookieJar()
    opener = _opener(cookies)
    _call(opener, recorder, "login page", f"{base}/login/")
    _call(opener, recorder, "log in", f"{base}/login/", {"login": username, "password": PASSWORD, "csrfmiddlewaretoken": _csrf(cookies)}, {"Referer": f"{base}/login/"})
    customer = 0
    while not stop.is_set():
        customer += 1
        _call(opener, recorder, "my recoveries", f"{base}/")
        status, page, _ = _call(opener, recorder, "log form", f"{base}/log/")
        token = re.search(r'name="form_token" value="([^"]+)"', page)
        # One location: a hidden field; several: the list, its chosen one first.
        location = (re.search(r'name="location" value="(\d+)"', page)
                    or re.search(r'<select name="location"[^>]*>\s*(?:<option value="\d+">[^<]*</option>\s*)*?<option value="(\d+)"[^>]*selected', page)
                    or re.search(r'<select name="location"[^>]*>\s*<option value="(\d+)"', page))
        if not (token and location):
            continue
        form = {
            "csrfmiddlewaretoken": _csrf(cookies), "form_token": token.group(1), "customer_name": f"{username} guest {customer}",
            "summary": "Room not ready at check-in", "channel": "in_person", "location": location.group(1), "category": "Rooms",
        }
        status, _, incident_url = _call(opener, recorder, "log a failure", f"{base}/log/", form, {"Referer": f"{base}/log/"})
        if status != 302 or not incident_url:
            continue
        incident_url = urllib.parse.urljoin(base, incident_url)
        _call(opener, recorder, "incident page", incident_url)
        apology = {"csrfmiddlewaretoken": _csrf(cookies), "expected_version": "0", "channel": "in_person", "text": "I am so sorry; that is on us."}
        _call(opener, recorder, "apology (page)", incident_url.rstrip("/") + "/apology/", apology, {"Referer": incident_url})


def helpdesk(base, token, recorder, stop, number):
    opener = _opener()
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    ticket = 0
    while not stop.is_set():
        ticket += 1
        body = {
            "customer": {"name": f"Caller {number}-{ticket}", "email": f"caller{number}-{ticket}@example.com"},
            "summary": "Charged twice", "channel": "phone", "category": "Billing", "location": "dock",
            "external_id": f"T-{number}-{ticket}",
        }
        status, text, _ = _call(opener, recorder, "API create", f"{base}/api/v1/incidents/", body, headers)
        if status != 201:
            continue
        incident = json.loads(text)["id"]
        _call(opener, recorder, "API apology", f"{base}/api/v1/incidents/{incident}/apology/", {"channel": "phone", "text": "I am sorry."}, headers)
        _call(opener, recorder, "API review", f"{base}/api/v1/incidents/{incident}/review/", {"customer_account": "Two charges", "customer_needs": "A refund"}, headers)


def _percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--frontline", type=int, default=4, help="frontline threads")
    parser.add_argument("--helpdesk", type=int, default=4, help="API threads")
    parser.add_argument("--worker-processes", type=int, default=2, help="Celery worker pool size")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--template", help="a migrated database on that server to copy, instead of migrating")
    parser.add_argument("--smoke", action="store_true", help="6 s, one thread of each kind, 2 web workers, 1 worker process")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.frontline, args.helpdesk, args.worker_processes, args.web_workers = 6, 1, 1, 1, 2

    admin = psycopg2.connect(args.postgres)
    admin.autocommit = True
    admin.cursor().execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    admin.cursor().execute(f"CREATE DATABASE {DATABASE}" + (f' TEMPLATE "{args.template}"' if args.template else ""))
    database_url = args.postgres.rsplit("/", 1)[0] + f"/{DATABASE}"
    folder = Path(tempfile.mkdtemp(prefix="recovery-load-"))
    redis = PrivateRedis()
    redis.start()
    environment = app_environment(database_url, redis.url, folder=folder, EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
    processes = Processes(folder)
    try:
        if not args.template:
            subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=environment, check=True)
        setup = json.loads(django_run(database_url, SETUP.replace("STAFF", str(args.frontline)).replace("PASSWORD", repr(PASSWORD)), folder=folder))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        processes.start("web", [str(BIN / "gunicorn"), "recovery.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(args.web_workers), "--timeout", "30"], environment)
        worker = processes.worker(environment, concurrency=args.worker_processes)
        processes.beat(environment)
        wait_for(lambda: _call(_opener(), Recorder(), "probe", f"{base}/healthz")[0] == 200 or None, "the web server")

        recorder, stop = Recorder(), threading.Event()
        threads = [threading.Thread(target=frontline, args=(base, name, recorder, stop)) for name in setup["staff"]]
        threads += [threading.Thread(target=helpdesk, args=(base, setup["token"], recorder, stop, n)) for n in range(args.helpdesk)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(args.seconds / 2)
        processes.kill(worker)
        print(f"worker killed with SIGKILL at {time.monotonic() - started:.0f} s; starting a new one", flush=True)
        processes.worker(environment, name="worker-2", concurrency=args.worker_processes)
        time.sleep(args.seconds / 2)
        stop.set()
        for thread in threads:
            thread.join(60)
        load_seconds = time.monotonic() - started
        end = django_run(database_url, "from django.utils import timezone; print(timezone.now().isoformat())", folder=folder).strip()

        # Let the engine catch up with what fell due during the load, then compare.
        db = psycopg2.connect(database_url)
        db.autocommit = True
        expected_code = EXPECTED.replace("END", f"datetime.datetime.fromisoformat({end!r})")
        expected = json.loads(django_run(database_url, "import datetime\n" + expected_code, folder=folder))
        cursor = db.cursor()

        def reminders_sent():
            cursor.execute("SELECT incident_id, kind FROM followups_reminder WHERE due_at <= %s", [end])
            return [list(row) for row in cursor.fetchall()]

        try:
            must = Counter(tuple(row) for row in expected if row[1] != "heads_up")
            wait_for(lambda: Counter(map(tuple, reminders_sent())) >= must, "the engine to catch up", timeout=60)
        except AssertionError as error:
            print(f"note: {error}")
        sent = reminders_sent()
        cursor.execute("SELECT count(*) - count(DISTINCT (recipient_id, reminder_id, kind)) FROM followups_notification")
        duplicate_notifications = cursor.fetchone()[0]
        cursor.execute("SELECT state, count(*) FROM followups_delivery GROUP BY state")
        deliveries = dict(cursor.fetchall())
    finally:
        processes.stop_all()
        redis.stop()

    print(f"\nMixed load for {load_seconds:.0f} s on loopback: gunicorn ({args.web_workers} workers) on PostgreSQL + Redis, "
          f"{args.frontline} frontline + {args.helpdesk} API threads, worker killed midway\n")
    print(f"{'kind':<18}{'requests':>10}{'2xx/3xx':>10}{'4xx':>6}{'5xx':>6}{'failed':>8}{'p50 ms':>9}{'p99 ms':>9}")
    everything = []
    for kind, samples in sorted(recorder.samples.items()):
        statuses = Counter(status // 100 for _, status in samples)
        times = [seconds for seconds, _ in samples]
        everything += samples
        print(f"{kind:<18}{len(samples):>10}{statuses[2] + statuses[3]:>10}{statuses[4]:>6}{statuses[5]:>6}{statuses[0]:>8}"
              f"{_percentile(times, .5) * 1000:>9.1f}{_percentile(times, .99) * 1000:>9.1f}")
    statuses = Counter(status // 100 for _, status in everything)
    times = [seconds for seconds, _ in everything]
    print(f"{'all':<18}{len(everything):>10}{statuses[2] + statuses[3]:>10}{statuses[4]:>6}{statuses[5]:>6}{statuses[0]:>8}"
          f"{_percentile(times, .5) * 1000:>9.1f}{_percentile(times, .99) * 1000:>9.1f}")
    print(f"\nrequests served: {len(everything)} ({len(everything) / load_seconds:.0f}/s); 5xx: {statuses[5]} (target 0); "
          f"connection failures: {statuses[0]}; p99: {_percentile(times, .99) * 1000:.0f} ms")
    must_send, duplicates = report_reminders(expected, sent, duplicate_notifications, deliveries)

    kinds = ("my recoveries", "log form", "log a failure", "incident page", "apology (page)") * bool(args.frontline)
    kinds += ("API create", "API apology", "API review") * bool(args.helpdesk)
    unserved = [kind for kind in kinds if not any(200 <= status < 400 for _, status in recorder.samples[kind])]
    missed = [what for what, bad in (
        ("5xx answers", statuses[5]), ("reminders missing", must_send),
        ("reminders sent twice", duplicates or duplicate_notifications),
        (f"never served: {', '.join(unserved)}", unserved),
    ) if bad]
    print(f"\ntargets: {'all met' if not missed else 'missed: ' + ', '.join(missed)}")
    return 1 if missed else 0


def report_reminders(expected, sent, duplicate_notifications, deliveries):
    """Print the reminders due against those sent, kind by kind; returns (missing, sent twice).

    A heads-up the sweep reaches only after the deadline is skipped by design (the missed-window
    reminder says what matters), so it is counted apart from what must never be missing."""
    due_by_kind, sent_by_kind = Counter(kind for _, kind in expected), Counter(kind for _, kind in sent)
    missing = Counter(map(tuple, expected)) - Counter(map(tuple, sent))
    duplicates = sum(count - 1 for count in Counter(map(tuple, sent)).values() if count > 1)
    print(f"\n{'reminder kind':<18}{'due':>8}{'sent':>8}{'missing':>9}")
    for kind in sorted(due_by_kind):
        gone = sum(count for (_, k), count in missing.items() if k == kind)
        late = "  (skipped once its deadline passed)" if kind == "heads_up" and gone else ""
        print(f"{kind:<18}{due_by_kind[kind]:>8}{sent_by_kind[kind]:>8}{gone:>9}{late}")
    must_send = sum(count for (_, kind), count in missing.items() if kind != "heads_up")
    print(f"reminders due by the end of the load: {len(expected)}; sent: {len(sent)}; missing (other than late heads-ups): "
          f"{must_send}; duplicate reminders: {duplicates}; duplicate notifications: {duplicate_notifications} (targets: 0, 0, 0)")
    print(f"email deliveries: {deliveries} (pending ones are queued rows the workers had not reached yet)")
    return must_send, duplicates


if __name__ == "__main__":
    sys.exit(main())
