"""Every benchmark in bench/ runs in its smoke mode, so none rots between the days it is run in full.

Each bench runs as a subprocess against the throwaway PostgreSQL cluster (see conftest; its migrated
template is copied, so no bench spends seconds migrating) and must exit 0, which it does only when its
own checks hold, and print its table of figures. bench/redis_outage.py has a test of its own
(test_redis_outage.py).
"""

import re
import subprocess
import sys
import time

import pytest

from tests.support.processes import ROOT, app_environment

# One xdist worker runs the whole module, so the throwaway cluster is made once; a group apart from
# the crash tests, which would otherwise wait for the benches.
pytestmark = [pytest.mark.faults, pytest.mark.xdist_group("bench-smoke")]

TEMPLATE = "recovery_template"  # made and migrated by the cluster fixture

# What each bench's figures look like: its table's header, and one row of figures under it (and, for the
# API, the peer it leaves out: django-helpdesk comes from PyPI into a virtualenv of its own).
FIGURES = {
    "api": (r"conc\s+creates/s\s+p50 ms\s+p99 ms\s+errors\s+SQL/create",
            r"Recovery POST /api/v1/incidents/\s+8\s+\d+\s+[\d.]+\s+[\d.]+\s+0\s+\d+ \(\d+ with key\)",
            r"django-helpdesk ticket create\s+- not measured: skipped in smoke mode"),
    "dashboard": (r"who\s+page\s+median\s+slowest\s+queries\s+worst query\s+target",
                  r"admin\s+open recoveries\s+\d+ms\s+\d+ms\s+\d+\s+\d+ms"),
    "messages": (r"figure\s+measured\s+target",
                 r"missing\s+0\s+0\s+met\n\s+sent twice\s+0\s+0\s+met\n\s+marked sent\s+320\s+320\s+met"),
    "load": (r"kind\s+requests\s+2xx/3xx\s+4xx\s+5xx\s+failed\s+p50 ms\s+p99 ms",
             r"API create\s+[1-9]\d*\s+[1-9]\d*\s+0\s+0\s+0\s+[\d.]+\s+[\d.]+"),
    "reads": (r"what\s+300 median\s+p99\s+SQL\s+target\s+verdict",
              r"API cursor 100 deep\s+[\d.]+ms\s+\d+ms\s+\d+\s+-\s+met",
              r"customer search: phone fragment\s+[\d.]+ms\s+\d+ms\s+\d+\s+-\s+met"),
    "reminders": (r"Reminders \(heads-up\), sweep every 1 s, 20 incidents",
                  r"missing:\s+0 reminders, 0 notifications, 0 emails\n\s+twice:\s+0 reminders, 0 notifications, 0 emails"),
    "sweep": (r"open\s+due\s+due query\s+one pass\s+per incident\s+vs first",
              r"2,000\s+20\s+[\d.]+ms\s+[\d.]+ms\s+[\d.]+ms\s+[\d.]+×"),
    "webhooks": (r"figure\s+measured\s+target",
                 r"lost\s+0\s+0\s+met\n\s+delivered twice\s+0\s+0\s+met"),
}


def _copy_of_the_template(cluster, name):
    connection = cluster.connect()
    connection.cursor().execute(f'DROP DATABASE IF EXISTS "{name}"')
    connection.cursor().execute(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE}')
    connection.close()
    return cluster.url(name)


def _command(bench, cluster, request, tmp_path):
    """The smoke run of `bench` and its environment, on a database of its own in the cluster."""
    script = [sys.executable, f"bench/{bench}.py", "--smoke"]
    # No Redis, as these benches are documented to run (the broker is then a SQLite file in the test's folder):
    # the one that needs Redis gets its own below, bench/load.py starts its own.
    url, redis_url = cluster.url("postgres"), ""
    extra = {}
    if bench == "dashboard":
        _copy_of_the_template(cluster, "recovery_bench_smoke")  # the database it looks for on BENCH_POSTGRES
        extra["BENCH_POSTGRES"] = url.rsplit("/", 1)[0]
    elif bench == "load":
        script += ["--postgres", url, "--template", TEMPLATE]  # it makes its database and its Redis
    else:
        url = _copy_of_the_template(cluster, f"bench_{bench}")
        if bench in ("messages", "reminders", "webhooks"):
            redis_url = request.getfixturevalue("redis_server").url
    # app_environment: the test run's SECRET_KEY and plain HTTP (tests/settings.py), a sweep every second.
    environment = app_environment(url, redis_url, folder=tmp_path, RECOVERY_VAR_DIR=tmp_path, LOG_LEVEL="WARNING", **extra)
    return script, environment


@pytest.mark.parametrize("bench", sorted(FIGURES))
def test_the_bench_meets_its_checks_in_smoke_mode(bench, cluster, request, tmp_path):
    script, environment = _command(bench, cluster, request, tmp_path)

    started = time.monotonic()
    result = subprocess.run(script, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120)
    print(f"bench/{bench}.py --smoke: {time.monotonic() - started:.1f} s")

    output = result.stdout[-4000:] + result.stderr[-4000:]
    assert result.returncode == 0, output
    for figures in FIGURES[bench]:
        assert re.search(figures, result.stdout), output

