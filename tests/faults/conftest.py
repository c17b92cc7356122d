"""Fixtures for fault tests: real processes against a throwaway PostgreSQL cluster and a private
Redis (tests/support/processes.py). The cluster is made with `initdb` in a temporary folder so tests
may stop and restart it; the machine's shared PostgreSQL and Redis are never touched. Without
PostgreSQL's server binaries or redis-server these tests are skipped, and fail instead when
RECOVERY_REQUIRE_FAULTS is set (CI).
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support.processes import PG_BIN, ROOT, Cluster, PrivateRedis, Processes, app_environment


def pytest_collection_modifyitems(config, items):
    missing = [what for what, found in (("PostgreSQL server binaries", PG_BIN), ("redis-server", shutil.which("redis-server"))) if not found]
    if not missing:
        return
    if os.environ.get("RECOVERY_REQUIRE_FAULTS"):
        raise pytest.UsageError(f"Fault tests need {', '.join(missing)}")
    for item in items:
        if "faults" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=f"{', '.join(missing)} not installed"))


@pytest.fixture(scope="module")
def cluster():
    """A running cluster with a migrated template database; each test copies it."""
    # Its own folder straight under /tmp: pytest's temporary folders are closed to other users.
    folder = Path(tempfile.mkdtemp(prefix="recovery-pg-"))
    cluster = Cluster(folder).init()
    cluster.start()
    connection = cluster.connect()
    connection.cursor().execute("CREATE DATABASE recovery_template")
    connection.close()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT, env=app_environment(cluster.url("recovery_template"), "redis://127.0.0.1:1/0", folder=cluster.folder),
        check=True, timeout=300,
    )
    yield cluster
    cluster.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def database(cluster, request):
    name = f"recovery_{request.node.name[:40].lower()}"
    connection = cluster.connect()
    connection.cursor().execute(f'DROP DATABASE IF EXISTS "{name}"')
    connection.cursor().execute(f'CREATE DATABASE "{name}" TEMPLATE recovery_template')
    connection.close()
    return cluster.url(name)


@pytest.fixture
def redis_server():
    redis = PrivateRedis()
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture
def processes(tmp_path):
    running = Processes(tmp_path)
    yield running
    running.stop_all()


