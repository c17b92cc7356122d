"""Benchmarks that cannot rot: every bench/*.py has a --smoke mode, and the suite runs each one.

The PostgreSQL benches run in tests/faults/test_bench_smoke.py against a throwaway PostgreSQL cluster
(with the Redis, workers and servers some of them start), in every CI run; bench/redis_outage.py has
tests/faults/test_redis_outage.py. bench/reads.py also runs here, in-process on the suite's own
database: on SQLite (its ORM builder, as `make run` would) and on PostgreSQL (its bulk SQL builder), so
both of its builders are held. bench/sweep.py runs here too in the PostgreSQL pass, against the suite's
database; on SQLite it is skipped, saying where it runs."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.faults.test_bench_smoke import FIGURES
from tests.support.processes import ROOT

BENCHES = sorted(path.stem for path in (ROOT / "bench").glob("*.py"))
OWN_TESTS = {"redis_outage": ROOT / "tests/faults/test_redis_outage.py"}


@pytest.mark.parametrize("bench", BENCHES)
def test_every_bench_has_a_smoke_mode_that_the_suite_runs(bench):
    source = (ROOT / "bench" / f"{bench}.py").read_text()

    assert '"--smoke"' in source, f"bench/{bench}.py has no --smoke mode"
    runs_it = bench in FIGURES or f"bench/{bench}.py" in OWN_TESTS.get(bench, Path(__file__)).read_text()
    assert runs_it, f"no test runs bench/{bench}.py --smoke: add it to tests/faults/test_bench_smoke.py FIGURES"


def load_reads():
    spec = importlib.util.spec_from_file_location("bench_reads", ROOT / "bench" / "reads.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_reads_bench_answers_every_row_in_smoke_mode_on_this_database(transactional_db, capsys, monkeypatch):
    # Loading the bench sets environment defaults meant for a process of its own (a broker no worker reads,
    # its log level); they are put back afterwards, or a later test's Celery worker would use that broker.
    for name in ("CELERY_BROKER_URL", "LOG_LEVEL", "DJANGO_SETTINGS_MODULE"):
        value = os.environ.get(name)
        monkeypatch.setenv(name, value or "")  # remembered as it was (set or not), restored after the test
        if value is None:
            monkeypatch.delenv(name)
    reads = load_reads()

    status = reads.smoke()

    printed = capsys.readouterr().out
    assert status == 0, printed
    for row in [r"API first page \(50\)", "API cursor 100 deep", r"API \?updated_since=1h", "customer search: a name",
                r"scorecard \(manager of 5\)", r"open recoveries \(admin\)", r"frontline home \(3\d open\)"]:
        assert re.search(row + r"\s+[\d.]+ms\s+\d+ms\s+\d+\s+-\s+met", printed), (row, printed)
    assert re.search(r"CSV export \(admin, all\)\s+[\d.]+ms.*(a job started|in one request)", printed), printed
    assert not reads.Organization.objects.filter(slug__startswith=reads.SLUG).exists()  # it tidies up


def test_the_sweep_bench_runs_in_smoke_mode_on_postgresql(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("bench/sweep.py measures PostgreSQL: on SQLite it is left to tests/faults/test_bench_smoke.py "
                    "(a throwaway PostgreSQL cluster) and to this test in the PostgreSQL pass")
    settings = connection.settings_dict
    url = f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT'] or 5432}/{settings['NAME']}"

    result = subprocess.run([sys.executable, "bench/sweep.py", "--smoke"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300, env={"PATH": "/usr/bin:/bin", "DATABASE_URL": url, "LOG_LEVEL": "WARNING"})

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for figures in FIGURES["sweep"]:
        assert re.search(figures, result.stdout), result.stdout


def test_the_attachments_bench_uploads_a_phone_photo_through_chromium_in_smoke_mode(tmp_path):
    """bench/attachments.py --smoke: gunicorn and Chromium of its own, on a SQLite file of its own."""
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("needs the system's Chromium (apt-get install chromium)")
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LOG_LEVEL": "WARNING"}
    result = subprocess.run([sys.executable, "bench/attachments.py", "--smoke"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, env=environment)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"run 1: [\d.]+ s", result.stdout), result.stdout
    assert re.search(r"attached\s+2\s+2\nEXIF/GPS left in the file\s+no\s+no", result.stdout), result.stdout
