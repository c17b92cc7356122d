"""The configured broker really carries messages: the filesystem broker by default, Redis with REDIS_URL."""

import os

import pytest
from django.conf import settings
from kombu import Connection, Exchange, Queue

pytestmark = pytest.mark.broker


def test_the_broker_matches_the_environment():
    if os.environ.get("REDIS_URL"):
        assert settings.CELERY_BROKER_URL == os.environ["REDIS_URL"]
    else:
        assert settings.CELERY_BROKER_URL.startswith("filesystem://")


def test_a_message_makes_a_round_trip_through_the_broker(tmp_path):
    options = dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        # A private folder, so the running app's queue is never touched.
        for key in ("data_folder_in", "data_folder_out"):
            options[key] = str(tmp_path)
        options["processed_folder"] = str(tmp_path)
        options["control_folder"] = str(tmp_path)
    queue = Queue(f"roundtrip-{os.getpid()}", Exchange(f"roundtrip-{os.getpid()}"), routing_key="roundtrip")
    with Connection(settings.CELERY_BROKER_URL, transport_options=options, connect_timeout=5) as connection:
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
        "followups.tasks.sweep_followups", "incidents.api.tasks.pump_webhooks", "followups.tasks.deliver_notification")}
    assert {name: queue.name for name, queue in routes.items()} == {
        "followups.tasks.sweep_followups": "engine",
        "incidents.api.tasks.pump_webhooks": "engine",
        "followups.tasks.deliver_notification": "celery",
    }
    keys = [queue.routing_key for queue in app.amqp.queues.values()]
    assert len(keys) == len(set(keys)), f"two queues share a routing key: {keys}"
