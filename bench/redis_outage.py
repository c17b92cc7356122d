"""A mixed load on loopback with Redis stopped in the middle: nothing answers 5xx, every create is made.

The whole app as `bench/load.py` runs it (gunicorn with 4 sync workers on PostgreSQL, one Celery worker
with 2 processes, beat sweeping every second), with its own Redis as cache and broker. Threads drive the
frontline pages (log a failure, the incident page, the apology), a helpdesk over the API (create,
apology, review) and fresh sign-ins with the right password. After `--before` seconds (30) Redis is
stopped for `--outage` seconds (60), then started again empty, as after a crash, and the load runs on
for `--after` seconds (30). Then the engine gets time to catch up with what fell due. The Celery worker
runs supervised, started again if it exits, as in production; the restarts are printed.

It prints, per kind of request, what was served before, during and after the outage; the 5xx answers
(target 0); the creates attempted beside those made (answered 201 or redirected to the new incident,
and found in the database; target: every one); and the reminders due by the end of the load beside
those sent, with duplicates (target: every one sent once). It exits 1 when a target is missed.

    .venv/bin/python bench/redis_outage.py [--outage 60] [--postgres postgres://postgres@127.0.0.1:5432/postgres]
    .venv/bin/python bench/redis_outage.py --smoke      # a few seconds each; the test suite runs this

It makes its own database (recovery_redis_outage) on that server and its own Redis on a spare port.
"""

import argparse
import http.cookiejar
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import load  # noqa: E402
from tests.support.processes import BIN, PrivateRedis, Processes, app_environment, django_run, free_port, wait_for  # noqa: E402

DATABASE = "recovery_redis_outage"
CREATES = {"API create": 201, "log a failure": 302}
PHASES = ("before", "outage", "after")


class PhasedRecorder(load.Recorder):
    """load.Recorder that also files each answer under the phase of the run it came in."""

    def __init__(self):
        super().__init__()
        self.phase = PHASES[0]
        self.by_phase = defaultdict(lambda: defaultdict(list))

    def add(self, kind, seconds, status):
        with self.lock:
            self.samples[kind].append((seconds, status))
            self.by_phase[self.phase][kind].append((seconds, status))


def sign_ins(base, username, recorder, stop):
    """A member of staff signing in afresh, again and again: the path that counts failures in the cache."""
    while not stop.is_set():
        cookies = http.cookiejar.CookieJar()
        opener = load._opener(cookies)
        load._call(opener, recorder, "login page", f"{base}/login/")
        load._call(opener, recorder, "log in", f"{base}/login/",
                   {"login": username, "password": load.PASSWORD, "csrfmiddlewaretoken": load._csrf(cookies)},
                   {"Referer": f"{base}/login/"})
        stop.wait(0.2)


def _row(kind, samples):
    statuses = Counter(status // 100 for _, status in samples)
    times = [seconds for seconds, _ in samples]
    return (f"{kind:<18}{len(samples):>9}{statuses[2] + statuses[3]:>9}{statuses[4]:>6}{statuses[5]:>6}{statuses[0]:>8}"
            f"{load._percentile(times, .5) * 1000:>9.1f}{load._percentile(times, .99) * 1000:>9.1f}")


def _table(title, by_kind):
    print(f"\n{title}")
    print(f"{'kind':<18}{'requests':>9}{'2xx/3xx':>9}{'4xx':>6}{'5xx':>6}{'failed':>8}{'p50 ms':>9}{'p99 ms':>9}")
    everything = []
    for kind, samples in sorted(by_kind.items()):
        print(_row(kind, samples))
        everything += samples
    print(_row("all", everything))
    return everything


class Supervised:
    """A process started again whenever it exits, as systemd (Restart=always) or a container runtime does
    in production: the Celery worker can exit on a lost broker connection (an "Unrecoverable error" while
    restoring unacknowledged messages), and what fell due meanwhile is the sweep's to send once it is back."""

    def __init__(self, start):
        self.start, self.process, self.restarts = start, start(), 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self):
        while not self.stopping.wait(0.5):
            if self.process.poll() is not None:
                self.restarts += 1
                self.process = self.start()

    def stop(self):
        self.stopping.set()
        self.thread.join(5)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=float, default=30, help="seconds of load before Redis stops")
    parser.add_argument("--outage", type=float, default=60, help="seconds Redis stays stopped")
    parser.add_argument("--after", type=float, default=30, help="seconds of load after Redis is back")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--frontline", type=int, default=3, help="frontline threads")
    parser.add_argument("--helpdesk", type=int, default=3, help="API threads")
    parser.add_argument("--sign-ins", type=int, default=1, help="threads signing in afresh")
    parser.add_argument("--catch-up", type=float, default=120, help="seconds the engine gets to send what fell due")
    parser.add_argument("--smoke", action="store_true", help="a few seconds each, one thread of each kind")
    args = parser.parse_args()
    if args.smoke:
        args.before, args.outage, args.after = 3, 4, 3
        args.frontline = args.helpdesk = args.sign_ins = 1
        args.catch_up = 60

    admin = psycopg2.connect(args.postgres)
    admin.autocommit = True
    admin.cursor().execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    admin.cursor().execute(f"CREATE DATABASE {DATABASE}")
    admin.close()
    database_url = args.postgres.rsplit("/", 1)[0] + f"/{DATABASE}"
    folder = Path(tempfile.mkdtemp(prefix="recovery-redis-outage-"))
    redis = PrivateRedis()
    redis.start()
    environment = app_environment(database_url, redis.url, folder=folder, EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
    processes = Processes(folder)
    worker = None
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=environment, check=True)
        setup = json.loads(django_run(database_url, load.SETUP.replace("STAFF", str(args.frontline + args.sign_ins)).replace("PASSWORD", repr(load.PASSWORD)), folder=folder))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        processes.start("web", [str(BIN / "gunicorn"), "recovery.wsgi", "-b", f"127.0.0.1:{port}", "-w", "4", "--timeout", "30"], environment)
        worker = Supervised(lambda: processes.worker(environment, concurrency=2))
        processes.beat(environment)
        wait_for(lambda: load._call(load._opener(), load.Recorder(), "probe", f"{base}/healthz")[0] == 200 or None, "the web server")

        recorder, stop = PhasedRecorder(), threading.Event()
        staff = setup["staff"]
        threads = [threading.Thread(target=load.frontline, args=(base, name, recorder, stop)) for name in staff[:args.frontline]]
        threads += [threading.Thread(target=load.helpdesk, args=(base, setup["token"], recorder, stop, n)) for n in range(args.helpdesk)]
        threads += [threading.Thread(target=sign_ins, args=(base, name, recorder, stop)) for name in staff[args.frontline:]]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(args.before)

        recorder.phase = "outage"
        redis.stop()
        print(f"Redis stopped at {time.monotonic() - started:.0f} s", flush=True)
        time.sleep(args.outage / 2)
        health = json.loads(load._call(load._opener(), load.Recorder(), "probe", f"{base}/healthz")[1] or "{}")
        time.sleep(args.outage / 2)
        redis.start()
        recorder.phase = "after"
        print(f"Redis started again (empty) at {time.monotonic() - started:.0f} s", flush=True)
        time.sleep(args.after)
        stop.set()
        for thread in threads:
            thread.join(60)
        load_seconds = time.monotonic() - started
        end = django_run(database_url, "from django.utils import timezone; print(timezone.now().isoformat())", folder=folder).strip()

        db = psycopg2.connect(database_url)
        db.autocommit = True
        cursor = db.cursor()
        cursor.execute("SELECT count(*) FROM incidents_incident")
        incidents_in_database = cursor.fetchone()[0]

        # Let the engine catch up with what fell due during the load (the worker reconnects to the
        # broker on its own schedule), then compare.
        expected_code = load.EXPECTED.replace("END", f"datetime.datetime.fromisoformat({end!r})")
        expected = json.loads(django_run(database_url, "import datetime\n" + expected_code, folder=folder))

        def reminders_sent():
            cursor.execute("SELECT incident_id, kind FROM followups_reminder WHERE due_at <= %s", [end])
            return [list(row) for row in cursor.fetchall()]

        must = Counter(tuple(row) for row in expected if row[1] != "heads_up")
        try:
            wait_for(lambda: Counter(map(tuple, reminders_sent())) >= must, "the engine to catch up", timeout=args.catch_up)
        except AssertionError as error:
            print(f"note: {error}")
        sent = reminders_sent()
        cursor.execute("SELECT count(*) - count(DISTINCT (recipient_id, reminder_id, kind)) FROM followups_notification")
        duplicate_notifications = cursor.fetchone()[0]
        cursor.execute("SELECT state, count(*) FROM followups_delivery GROUP BY state")
        deliveries = dict(cursor.fetchall())
        db.close()
    finally:
        if worker is not None:
            worker.stop()
        processes.stop_all()
        redis.stop()

    print(f"\nMixed load for {load_seconds:.0f} s on loopback: gunicorn (4 workers) on PostgreSQL + Redis, "
          f"{args.frontline} frontline + {args.helpdesk} API + {args.sign_ins} sign-in threads; "
          f"Redis stopped for {args.outage:.0f} s after {args.before:.0f} s")
    for phase in PHASES:
        _table(f"{phase} the outage" if phase != "outage" else f"during the outage ({args.outage:.0f} s)", recorder.by_phase[phase])
    everything = _table("the whole run", recorder.samples)
    server_errors = sum(1 for _, status in everything if status >= 500)
    failed = sum(1 for _, status in everything if status == 0)
    print(f"\n/healthz during the outage: status {health.get('status')!r}, cache {health.get('cache')!r}")
    print(f"5xx: {server_errors} (target 0); connection failures: {failed} (target 0)")
    print(f"worker restarted by its supervisor: {worker.restarts} time(s) (a Celery worker may exit when the broker "
          f"goes away; production runs it under a supervisor that starts it again)")

    attempted = sum(len(recorder.samples[kind]) for kind in CREATES)
    answered = sum(1 for kind, made in CREATES.items() for _, status in recorder.samples[kind] if status == made)
    during = sum(len(recorder.by_phase["outage"][kind]) for kind in CREATES)
    print(f"creates attempted: {attempted} ({during} during the outage); answered as made: {answered}; "
          f"incidents in the database: {incidents_in_database} (target: all three equal)")
    signed_in = sum(1 for _, status in recorder.samples["log in"] if status == 302)
    signed_in_during = sum(1 for _, status in recorder.by_phase["outage"]["log in"] if status == 302)
    print(f"sign-ins with the right password: {len(recorder.samples['log in'])}; signed in: {signed_in} "
          f"({signed_in_during} during the outage; target: every one)")

    must_send, duplicates = load.report_reminders(expected, sent, duplicate_notifications, deliveries)

    missed = [what for what, bad in (
        ("5xx answers", server_errors), ("connection failures", failed),
        ("creates not made", attempted != answered or answered != incidents_in_database),
        ("no create during the outage", during == 0), ("sign-ins refused", signed_in != len(recorder.samples["log in"])),
        ("reminders missing", must_send),
        ("reminders sent twice", duplicates or duplicate_notifications),
    ) if bad]
    print(f"\ntargets: {'all met' if not missed else 'missed: ' + ', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
