"""Crashes with real processes: a worker killed mid-delivery, beat down for an hour, PostgreSQL
restarted under load. Each runs the app's own worker, beat and gunicorn against a throwaway
PostgreSQL cluster and a private Redis (see conftest)."""

import email
import json
import threading
import time
import urllib.error
import urllib.request

import pytest

from tests.support.processes import BIN, app_environment, django_run, free_port, wait_for

# One xdist worker runs the whole module, so the throwaway cluster is made once.
pytestmark = [pytest.mark.faults, pytest.mark.xdist_group("faults")]

TEAM = """
import datetime
import json
from tests import factories
organization = factories.OrganizationFactory(name="Fault Inn", slug="fault-inn")
# The clock is the real one: open round the clock, so no email waits for the team to be on duty.
location = factories.LocationFactory(organization=organization, name="Quay", code="quay", timezone="UTC",
                                    opens_at=datetime.time(0), closes_at=datetime.time(0))
owner = factories.UserFactory(username="owner", organization=organization, locations=[location])
manager = factories.UserFactory(username="boss", organization=organization, role="manager", locations=[location])
admin = factories.UserFactory(username="chief", organization=organization, role="admin")
colleagues = [factories.UserFactory(username=f"mate{n}", organization=organization, locations=[location]) for n in range(3)]
"""


def _states(connection):
    cursor = connection.cursor()
    cursor.execute("SELECT state, count(*) FROM followups_delivery GROUP BY state")
    return dict(cursor.fetchall())


def _mailed(folder):
    """(recipient, Message-ID) of every email written by the mail backend."""
    sent = []
    for path in sorted((folder / "mail").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes())
        sent.append((message["To"], message["Message-ID"]))
    return sent


def _connect(cluster, database_url):
    return cluster.connect(database_url.rsplit("/", 1)[1])


def test_a_worker_killed_mid_delivery_is_replaced_and_each_email_goes_out_once(cluster, database, redis_server, processes, tmp_path):
    # The internal alert goes to the location's staff other than the owner: four emails.
    team = json.loads(django_run(database, TEAM + """
factories.log_incident(user=owner, location=location)
print(json.dumps(sorted(person.email for person in [*colleagues, manager])))
""", folder=tmp_path))
    slow = app_environment(database, redis_server.url, folder=tmp_path, SLOW_MAIL_SECONDS=3)
    processes.beat(slow)
    worker = processes.worker(slow)
    db = _connect(cluster, database)

    wait_for(lambda: _states(db).get("sending"), "a worker to start sending an email")
    processes.kill(worker)  # SIGKILL: no clean-up, the message is not acknowledged
    assert _mailed(tmp_path) == []

    processes.worker(app_environment(database, redis_server.url, folder=tmp_path), name="replacement")
    wait_for(lambda: _states(db) == {"sent": len(team)}, "every email to be sent")
    time.sleep(3)  # a few more sweeps, in case anything would be sent again
    mailed = _mailed(tmp_path)
    assert sorted(recipient for recipient, _ in mailed) == team
    assert len({message_id for _, message_id in mailed}) == len(team)


def test_beat_back_after_an_hour_down_sends_every_due_reminder_once(cluster, database, redis_server, processes, tmp_path):
    expected = json.loads(django_run(database, TEAM + """
import datetime
from django.utils import timezone
from incidents import clock, services
now = timezone.now()
hour_ago = now - datetime.timedelta(hours=1)
incidents = [factories.log_incident(user=owner, location=location, now=hour_ago + datetime.timedelta(minutes=m)) for m in (0, 10, 30, 45, 55)]
# One was answered in time: no breach, no escalation for it.
services.record_apology(incidents[1], by=owner, channel="in_person", text="I am so sorry.", now=hour_ago + datetime.timedelta(minutes=12))
services.record_follow_up(incidents[1], by=owner, kind="immediate", channel="phone", note="Checked back", now=hour_ago + datetime.timedelta(minutes=15))
due = []
for incident in incidents:
    incident.refresh_from_db()
    policy = services.policy_for(incident.location.organization, incident.location)
    for moment in clock.engine_moments(services.facts_for(incident), policy):
        # A heads-up whose deadline has also passed is superseded by the missed-window reminder.
        superseded = moment.kind == clock.HEADS_UP and incident.follow_up_due_at <= now
        if moment.due_at <= now and not superseded:
            due.append([incident.pk, moment.kind])
print(json.dumps(sorted(due)))
""", folder=tmp_path))
    kinds = {kind for _, kind in expected}  # the hour held every kind of the first hour
    assert {"internal_alert", "heads_up", "twenty_minute", "escalate_admins"} <= kinds

    fast = app_environment(database, redis_server.url, folder=tmp_path)
    processes.worker(fast)
    beat = processes.beat(fast)
    db = _connect(cluster, database)

    def reminders():
        cursor = db.cursor()
        cursor.execute("SELECT incident_id, kind FROM followups_reminder ORDER BY incident_id, kind")
        return sorted([list(row) for row in cursor.fetchall()])

    wait_for(lambda: reminders() == expected, "the reminders that fell due while beat was down")
    wait_for(lambda: set(_states(db)) == {"sent"}, "every email to be sent")

    # Beat restarts again: nothing is sent twice.
    processes.kill(beat)
    processes.beat(fast, name="beat-again")
    cursor = db.cursor()
    cursor.execute("SELECT last_run_at FROM followups_engineheartbeat")
    before = cursor.fetchone()[0]

    def swept_since():
        cursor.execute("SELECT last_run_at FROM followups_engineheartbeat")
        return cursor.fetchone()[0] > before

    wait_for(swept_since, "a sweep by the restarted beat")
    time.sleep(2)
    assert reminders() == expected
    cursor.execute("SELECT count(*) FROM followups_delivery")
    deliveries = cursor.fetchone()[0]
    mailed = _mailed(tmp_path)
    assert len(mailed) == deliveries
    assert len(set(mailed)) == len(mailed), "an email went out twice"


def test_postgresql_restarted_under_load_fails_fast_and_recovers_by_itself(cluster, database, redis_server, processes, tmp_path):
    token = django_run(database, TEAM + """
from helpdesk import services as api_services
print(api_services.create_api_client(organization=organization, name="Desk", rate_limit_per_minute=100000)[1])
""", folder=tmp_path).strip().splitlines()[-1]
    environment = app_environment(database, redis_server.url, folder=tmp_path, DB_CONNECT_TIMEOUT=2)
    port = free_port()
    processes.start("web", [str(BIN / "gunicorn"), "recovery.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2", "--timeout", "30"], environment)
    processes.worker(environment)
    processes.beat(environment)
    base = f"http://127.0.0.1:{port}"
    tickets = iter(range(1_000_000))

    def call(kind):
        """('health', status) or ('create', status): a health check, or a helpdesk logging a ticket."""
        request = urllib.request.Request(f"{base}/healthz")
        if kind == "create":
            body = {"customer": {"name": "Caller"}, "summary": "Line dropped", "channel": "phone",
                    "category": "Phone", "location": "quay", "external_id": f"T-{next(tickets)}"}
            request = urllib.request.Request(f"{base}/api/v1/incidents/", data=json.dumps(body).encode(), headers={
                "Authorization": f"Token {token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            return None

    wait_for(lambda: call("health") == 200, "the web process to answer")
    results, stop = [], threading.Event()

    def load(kind):
        while not stop.is_set():
            started = time.monotonic()
            code = call(kind)
            results.append((kind, started, time.monotonic() - started, code))

    threads = [threading.Thread(target=load, args=(kind,)) for kind in ("health", "health", "create", "create")]
    for thread in threads:
        thread.start()
    try:
        time.sleep(2)
        cluster.stop()
        down_at = time.monotonic()
        time.sleep(3)  # the outage
        restarting_at = time.monotonic()
        cluster.start()
        back_at = time.monotonic()
        wait_for(lambda: any(started > back_at and code == 200 for kind, started, _, code in results if kind == "health"),
                 "a healthy answer", timeout=10)
        recovered_at = min(started for kind, started, _, code in results if kind == "health" and started > back_at and code == 200)
        time.sleep(2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)

    during = {code for _, started, _, code in results if down_at < started < restarting_at}
    assert during == {503}, f"the outage is answered with 503 (health and API alike), not hung: {during}"
    assert max(duration for _, _, duration, _ in results) < 5, "no request hung past 5 s"
    assert recovered_at - back_at < 10
    settled = [(kind, code) for kind, started, _, code in results if started > recovered_at + 1]
    assert settled and all(code == (201 if kind == "create" else 200) for kind, code in settled)
    assert any(kind == "create" and code == 201 for kind, code in settled)

    db = _connect(cluster, database)
    cursor = db.cursor()

    def stuck():
        """Sessions left inside a transaction, or waiting on a lock, for more than 2 s: the app keeps
        running meanwhile, so a brief one is normal work, a lasting one is what a crash leaves."""
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction' AND now() - state_change > interval '2 seconds'"
        )
        idle = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE NOT l.granted AND now() - a.query_start > interval '2 seconds'"
        )
        return idle + cursor.fetchone()[0]

    assert stuck() == 0
    # Nothing half-written: every incident the API created has its timeline's first event.
    cursor.execute("SELECT count(*) FROM incidents_incident i WHERE NOT EXISTS (SELECT 1 FROM incidents_event e WHERE e.incident_id = i.id)")
    assert cursor.fetchone()[0] == 0
    # The worker and beat recovered too: the sweep runs again after the restart.
    wait_for(lambda: cursor.execute("SELECT count(*) FROM followups_engineheartbeat WHERE last_run_at > now() - interval '3 seconds'") or cursor.fetchone()[0], "a sweep after the restart", timeout=20)
