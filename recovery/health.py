"""`/healthz` for a load balancer or a monitor: the database, the broker, the shared cache, and how
long ago the follow-up sweep last finished (which needs both beat and a worker).

Only a database that does not answer makes the answer 503 by default: a web process without its
database cannot serve anyone, while a broker outage loses nothing (messages wait in the database),
a cache outage only leaves the API's rate limits unenforced (incidents are still logged, sign-ins
still work: `recovery.shared_cache`; and every web process would fail it at once), and a stopped
beat is not this web process's fault. Monitors that want to hear about those too ask
`/healthz?strict=1`, which answers 503 whenever any check fails.
"""

import time

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from recovery.celery import app as celery_app

BROKER_TIMEOUT_SECONDS = 2


def _timed(check):
    started = time.monotonic()
    try:
        detail = check()
        ok = detail.pop("ok", True)
    except Exception as error:  # any failure is the answer itself, not a 500
        ok, detail = False, {"error": f"{type(error).__name__}: {error}"[:300]}
    return {"ok": ok, "ms": round((time.monotonic() - started) * 1000, 1), **detail}


def check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def check_broker():
    with celery_app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT_SECONDS)
        return {"transport": broker.transport.driver_type}


CACHE_OK = "ok"
CACHE_UNAVAILABLE = "unavailable: degraded, rate limits not enforced"


def check_cache():
    """Ask each cache alias for a key (a round trip), with the cache's own short timeouts. Asked
    directly, not through `shared_cache`, whose pause after a failure would hide a recovery."""
    for alias in ("api", "default"):
        caches[alias].get("healthz")
    return {"state": CACHE_OK}


def check_beat():
    from followups.models import EngineHeartbeat
    from followups.services import SWEEP_HEARTBEAT

    heartbeat = EngineHeartbeat.objects.filter(name=SWEEP_HEARTBEAT).first()
    if heartbeat is None:
        return {"ok": False, "last_run_age_seconds": None, "error": "the follow-up sweep has never run"}
    age = (timezone.now() - heartbeat.last_run_at).total_seconds()
    return {"ok": age <= settings.HEALTH_BEAT_MAX_AGE_SECONDS, "last_run_age_seconds": round(age, 1)}


@never_cache
@require_GET
def healthz(request):
    database = _timed(check_database)
    checks = {
        "database": database,
        "broker": _timed(check_broker),
        "cache": _timed(check_cache),
        # Without a database the heartbeat cannot be read; say so instead of timing out twice.
        "beat": _timed(check_beat) if database["ok"] else {"ok": False, "error": "database unavailable"},
    }
    healthy = all(check["ok"] for check in checks.values())
    strict = request.GET.get("strict") in ("1", "true", "yes")
    status = 200 if database["ok"] and (healthy or not strict) else 503
    if not checks["cache"]["ok"]:
        checks["cache"]["state"] = CACHE_UNAVAILABLE
    return JsonResponse({
        "status": "ok" if healthy else ("down" if not database["ok"] else "degraded"),
        "cache": checks["cache"]["state"],
        "checks": checks,
    }, status=status)
