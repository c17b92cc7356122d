"""Real app processes for fault tests and benchmarks: a throwaway PostgreSQL cluster, a private
Redis, and the app's own worker, beat and gunicorn, started and stopped by the caller."""

import glob
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG_BIN = next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)), None)
WAIT_SECONDS = 60


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, what, timeout=WAIT_SECONDS):
    """Poll `condition` (waiting for other processes, not for a deadline of the product)."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last seen: {value!r})")


class Cluster:
    """A PostgreSQL cluster of our own, run as the `postgres` user (initdb refuses root)."""

    def __init__(self, folder):
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None

    def _run(self, *args, check=True):
        command = [f"{PG_BIN}/{args[0]}", *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def init(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.user:
            account = pwd.getpwnam(self.user)
            os.chown(self.folder, account.pw_uid, account.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")
        return self

    def start(self):
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w", "start")

    def stop(self):
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def url(self, database):
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def connect(self, database="postgres"):
        connection = psycopg2.connect(self.url(database), connect_timeout=3)
        connection.autocommit = True
        return connection


class PrivateRedis:
    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        wait_for(lambda: _listening(self.port), "redis-server")

    def stop(self):
        if self.process:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


def _listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def app_environment(database_url, redis_url, *, folder, **extra):
    """The environment of an app process: fast clocks so a test takes seconds, mail to files.

    The test run's settings (tests/settings.py): a throwaway SECRET_KEY, and plain HTTP on 127.0.0.1 without
    the HTTPS redirect production has with DEBUG off.
    """
    environment = {
        key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")
    }
    environment.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DJANGO_SETTINGS_MODULE="tests.settings",
        EMAIL_BACKEND="tests.support.slow_mail.SlowFileBackend",
        EMAIL_FILE_PATH=str(folder / "mail"),
        SWEEP_INTERVAL_SECONDS="1",
        FOLLOWUPS_REQUEUE_AFTER_SECONDS="2",
        FOLLOWUPS_DELIVERY_LEASE_SECONDS="4",
        LOG_FORMAT="plain",
        PYTHONPATH=str(ROOT),
    )
    environment.update({key: str(value) for key, value in extra.items()})
    return environment



class Processes:
    """Start app processes (worker, beat, gunicorn) and make sure none outlives the test."""

    def __init__(self, folder):
        self.folder = folder
        self.running = []

    def start(self, name, command, environment):
        log = open(self.folder / f"{name}.log", "ab")
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.running.append(process)
        return process

    def worker(self, environment, name="worker", concurrency=None):
        """A Celery worker: one process (solo) unless `concurrency` asks for a prefork pool."""
        pool = ["--pool", "prefork", "--concurrency", str(concurrency)] if concurrency else ["--pool", "solo"]
        return self.start(name, [str(BIN / "celery"), "-A", "recovery", "worker", *pool, "-l", "info", "--without-heartbeat", "--without-mingle", "--without-gossip"], environment)

    def beat(self, environment, name="beat"):
        return self.start(name, [str(BIN / "celery"), "-A", "recovery", "beat", "-l", "info", "-s", str(self.folder / f"{name}-schedule")], environment)

    def kill(self, process, sig=signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        process.wait(10)

    def stop_all(self):
        for process in self.running:
            if process.poll() is None:
                self.kill(process, signal.SIGTERM)



def django_run(database_url, code, *, folder):
    """Run Python with Django set up against `database_url` in a fresh process; returns its stdout."""
    script = "import django; django.setup()\n" + code
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env=app_environment(database_url, "redis://127.0.0.1:1/0", folder=folder),
    )
    if result.returncode:
        raise AssertionError(result.stderr[-3000:])
    return result.stdout
