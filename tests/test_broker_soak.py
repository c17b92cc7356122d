"""The embedded broker (no REDIS_URL) under load from several processes at once, the way `make run`
uses it: producers publishing while two real `celery worker` processes consume. Every message must
run exactly once and both workers must still be alive at the end.

kombu's filesystem transport failed this: a worker could take a message file before its producer
had written it and died with `Unrecoverable error: JSONDecodeError`, after which nothing ran."""

import collections
import subprocess
import sys
import time

import pytest

from tests.support.processes import BIN, ROOT, Processes, app_environment, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.xdist_group("broker-soak")]

# The worker takes from its queues in turn (settings.CELERY_TASK_QUEUES), as in `make run` where the
# engine's passes and the deliveries share it. One producer floods the engine queue, so the workers
# never run out of work and never pause to poll; the others publish deliveries a little slower than
# they are taken, so each delivery is taken the moment it is written, where a broker that is not
# safe between processes breaks. (Had every producer run ahead, a worker would only ever read
# messages written long before.)
FLOOD = 1600
PACED_PRODUCERS = 3
TASKS_PER_PACED_PRODUCER = 150
PAUSE_SECONDS = 0.1
DEADLINE_SECONDS = 60
PRODUCE = """
import sys
import time

from recovery.celery import app

queue, first, count, pause = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
with app.producer_or_acquire() as producer:
    for number in range(first, first + count):
        app.send_task("soak.record", args=[number], queue=queue, producer=producer)
        time.sleep(pause)
"""


def test_several_producers_and_workers_share_the_embedded_broker_without_losing_a_message(tmp_path):
    records = tmp_path / "records"
    records.touch()
    # The embedded default whatever this test run is on: no REDIS_URL, the broker file under a
    # private var folder, and a database nobody else uses (the task does not touch it).
    environment = app_environment(
        f"sqlite:///{tmp_path / 'db.sqlite3'}", "", folder=tmp_path,
        RECOVERY_VAR_DIR=tmp_path / "var", SOAK_RECORD_FILE=records,
    )
    processes = Processes(tmp_path)
    producers = []
    worker_command = [str(BIN / "celery"), "-A", "recovery", "worker", "-l", "info", "-I", "tests.support.soak_tasks",
                      "--without-heartbeat", "--without-mingle", "--without-gossip"]
    try:
        # As in `make run`: a prefork pool of two; and a second consumer polling the same queue.
        workers = [
            processes.start("worker-a", [*worker_command, "-n", "a@%h", "--concurrency", "2"], environment),
            processes.start("worker-b", [*worker_command, "-n", "b@%h", "--pool", "solo"], environment),
        ]
        for name in ("worker-a", "worker-b"):
            wait_for(lambda: b"ready." in (tmp_path / f"{name}.log").read_bytes(), f"{name} to be ready")

        batches = [("engine", 0, FLOOD, 0)] + [
            ("celery", FLOOD + index * TASKS_PER_PACED_PRODUCER, TASKS_PER_PACED_PRODUCER, PAUSE_SECONDS)
            for index in range(PACED_PRODUCERS)
        ]
        for index, batch in enumerate(batches):
            with open(tmp_path / f"producer-{index}.log", "wb") as log:
                producers.append(subprocess.Popen(
                    [sys.executable, "-c", PRODUCE, *map(str, batch)],
                    cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
                ))
        for index, producer in enumerate(producers):
            assert producer.wait(DEADLINE_SECONDS) == 0, (tmp_path / f"producer-{index}.log").read_text()[-2000:]

        expected = FLOOD + PACED_PRODUCERS * TASKS_PER_PACED_PRODUCER
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline and all(worker.poll() is None for worker in workers):
            if len(records.read_text().split()) >= expected:
                break
            time.sleep(0.2)
        time.sleep(1)  # a message delivered twice would show up now

        runs = collections.Counter(int(number) for number in records.read_text().split())
        dead = [name for name, worker in zip(("worker-a", "worker-b"), workers) if worker.poll() is not None]
        logs = "\n".join(f"--- {name}\n" + (tmp_path / f"{name}.log").read_text()[-2500:] for name in dead)
        assert dead == [], f"a worker died:\n{logs}"
        missing = sorted(set(range(expected)) - set(runs))
        assert not missing, f"{len(missing)} of {expected} tasks never ran (first: {missing[:5]})"
        assert [number for number, count in runs.items() if count > 1] == [], "some tasks ran more than once"
    finally:
        for producer in producers:
            if producer.poll() is None:
                producer.kill()
                producer.wait(10)
        for worker in processes.running:
            processes.kill(worker)  # nothing to finish gracefully: what ran is already counted
