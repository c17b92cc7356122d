"""The configured broker really carries messages: a SQLite file by default, Redis with REDIS_URL."""

import os

import pytest
from django.conf import settings
from kombu import Connection, Exchange, Queue
from sqlalchemy import text

from recovery.broker import transport_options

pytestmark = pytest.mark.broker


def test_the_broker_matches_the_environment():
    if os.environ.get("REDIS_URL"):
        assert settings.CELERY_BROKER_URL == os.environ["REDIS_URL"]
    else:
        assert settings.CELERY_BROKER_URL == f"sqla+sqlite:///{settings.VAR_DIR / 'broker.sqlite3'}"


def test_a_message_makes_a_round_trip_through_the_broker(tmp_path):
    queue = Queue(f"roundtrip-{os.getpid()}", Exchange(f"roundtrip-{os.getpid()}"), routing_key="roundtrip")
    url, options = settings.CELERY_BROKER_URL, settings.CELERY_BROKER_TRANSPORT_OPTIONS
    if url.startswith("sqla+sqlite"):
        # A private file, so the running app's queue is never touched.
        url = f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
        options = transport_options(url, [queue.name])
    with Connection(url, transport_options=options, connect_timeout=5) as connection:
        connection.ensure_connection(max_retries=1)
        with connection.Producer() as producer:
            producer.publish({"hello": "recovery"}, exchange=queue.exchange, routing_key="roundtrip", declare=[queue])
        simple = connection.SimpleQueue(queue)
        message = simple.get(timeout=5)
        assert message.payload == {"hello": "recovery"}
        message.ack()
        simple.close()
        queue(connection.default_channel).delete()


@pytest.mark.parametrize("redis_url,backend", [("redis://127.0.0.1:6379/0", "RedisCache"), ("", "FileBasedCache")])
def test_the_shared_cache_is_redis_when_there_is_one_and_files_otherwise(redis_url, backend):
    """Login throttling counts failures in the default cache, which every web process must share."""
    import subprocess
    import sys

    environment = {**os.environ, "REDIS_URL": redis_url, "DJANGO_SETTINGS_MODULE": "recovery.settings"}
    printed = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.CACHES['default']['BACKEND'])"],
        env=environment, capture_output=True, text=True, check=True,
    ).stdout
    assert printed.strip().endswith(backend)


def test_each_task_lands_in_exactly_one_queue():
    """The engine's passes and the deliveries have their own queues; a message bound to both would
    run twice."""
    from recovery.celery import app

    routes = {name: app.amqp.router.route({}, name)["queue"] for name in (
        "followups.tasks.sweep_followups", "helpdesk.tasks.pump_webhooks", "followups.tasks.deliver_notification")}
    assert {name: queue.name for name, queue in routes.items()} == {
        "followups.tasks.sweep_followups": "engine",
        "helpdesk.tasks.pump_webhooks": "engine",
        "followups.tasks.deliver_notification": "celery",
    }
    keys = [queue.routing_key for queue in app.amqp.queues.values()]
    assert len(keys) == len(set(keys)), f"two queues share a routing key: {keys}"


def test_the_embedded_broker_file_is_ready_before_the_first_process_uses_it(tmp_path):
    """kombu creates its tables and a row per queue on first use, guarded only against threads:
    processes starting together on a fresh file (`make run`) would race to insert the same queue.
    The first connection of each process prepares both, one process at a time, and turns on WAL."""
    import sqlite3

    url = f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
    with Connection(url, transport_options=transport_options(url, ["engine", "celery"])) as connection:
        assert connection.default_channel.session.execute(text("SELECT 1")).scalar() == 1  # the first connection

    database = sqlite3.connect(tmp_path / "broker.sqlite3")
    assert {name for (name,) in database.execute("SELECT name FROM kombu_queue")} == {"engine", "celery"}
    assert database.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    database.close()


def test_messages_already_handed_out_are_dropped_when_a_process_starts(tmp_path):
    """kombu keeps every message it has handed out, marked invisible, and never reads it again."""
    url = f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
    queue = Queue("deliveries", Exchange("deliveries"), routing_key="deliveries")
    with Connection(url, transport_options=transport_options(url, [queue.name])) as connection:
        simple = connection.SimpleQueue(queue)
        for number in range(3):
            simple.put({"n": number})
        simple.get(timeout=5).ack()
        simple.close()

    import sqlite3

    def messages():
        database = sqlite3.connect(tmp_path / "broker.sqlite3")
        rows = sorted(database.execute("SELECT visible, COUNT(*) FROM kombu_message GROUP BY visible"))
        database.close()
        return rows

    assert messages() == [(0, 1), (1, 2)]
    transport_options(url, [queue.name])["pool"].connect().close()  # the next process's first connection
    assert messages() == [(1, 2)]


def test_a_forked_process_never_reuses_a_broker_connection_of_its_parent(tmp_path):
    """A prefork worker forks replacement children from a parent whose broker connections sit in
    the pool; SQLite forbids using a connection in another process than the one that opened it."""
    import multiprocessing

    url = f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
    pool = transport_options(url, [])["pool"]
    parent = pool.connect()
    parent_connection = parent.dbapi_connection
    parent.close()  # back in the pool, as between two polls

    def child(answer):
        connection = pool.connect()
        answer.send((connection.dbapi_connection is parent_connection, connection.execute("SELECT 1").fetchone()))
        connection.close()

    receiving, sending = multiprocessing.get_context("fork").Pipe(duplex=False)
    process = multiprocessing.get_context("fork").Process(target=child, args=(sending,))
    process.start()
    reused, row = receiving.recv()
    process.join(10)
    assert (reused, row) == (False, (1,))
    assert pool.connect().dbapi_connection is parent_connection  # the parent keeps its own
