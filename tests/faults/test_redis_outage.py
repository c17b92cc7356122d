"""bench/redis_outage.py in its smoke mode: Redis stopped for a few seconds under load, against a
throwaway PostgreSQL cluster (the bench makes its own database and its own Redis)."""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support.processes import ROOT, Cluster

pytestmark = [pytest.mark.faults, pytest.mark.xdist_group("faults")]


@pytest.fixture
def postgres_server():
    folder = Path(tempfile.mkdtemp(prefix="recovery-pg-"))  # not pytest's: closed to the postgres user
    cluster = Cluster(folder).init()
    cluster.start()
    yield cluster
    cluster.stop()
    shutil.rmtree(folder, ignore_errors=True)


def test_the_redis_outage_bench_meets_its_targets_in_smoke_mode(postgres_server):
    result = subprocess.run(
        [sys.executable, "bench/redis_outage.py", "--smoke", "--postgres", postgres_server.url("postgres")],
        cwd=ROOT, capture_output=True, text=True, timeout=400,
    )

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "5xx: 0 (target 0)" in result.stdout
    assert "targets: all met" in result.stdout
