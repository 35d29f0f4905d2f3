"""What `/healthz` reports: can the database answer, and is a worker taking jobs off the queue.

The worker's heartbeat is a no-op task: each probe enqueues one when none is waiting, and the
worker running it is the heartbeat. So the check needs no table of its own, sees exactly what a
real job would (the same queue, the same database), and works with any number of workers. A
heartbeat waiting longer than DEALGATE_WORKER_MAX_LAG seconds means no worker is taking jobs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.utils import timezone
from django_tasks import task

HEARTBEAT_PATH = f"{__name__}.heartbeat"


# With the Redis queue (DEALGATE_TASK_BACKEND=rq) the heartbeat's times live in the shared cache (Redis).
LAST_BEAT_KEY = "dealgate:worker-heartbeat:finished"
WAITING_BEAT_KEY = "dealgate:worker-heartbeat:enqueued"


@task()
def heartbeat() -> None:
    """Nothing else to do: a worker finishing this task is the sign it is alive."""
    if settings.TASK_BACKEND == "rq":
        cache.set(LAST_BEAT_KEY, timezone.now(), None)
        cache.delete(WAITING_BEAT_KEY)


def health_report() -> tuple[bool, dict[str, Any]]:
    """(healthy, details): the database first, then the worker's heartbeat."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return False, {"status": "unavailable", "database": {"ok": False, "error": str(exc).splitlines()[0][:200]}}
    redis = redis_report()
    if redis is not None and not redis["ok"] and settings.TASK_BACKEND == "rq":
        worker = {"ok": False, "error": "the queue is in Redis (DEALGATE_TASK_BACKEND=rq), which does not answer"}
    else:
        worker = worker_heartbeat()
    healthy = worker["ok"]
    report = {"status": "ok" if healthy else "unavailable", "database": {"ok": True}, "worker": worker}
    if redis is not None:
        report["redis"] = redis
        if healthy and not redis["ok"]:
            # Pages still work (computed without the cache): degraded, not down, so a load balancer keeps
            # sending requests; the JSON says Redis is down for the alerting (decision 039).
            report["status"] = "degraded"
    return healthy, report


def redis_report() -> dict[str, Any] | None:
    """None without DEALGATE_REDIS_URL; else whether Redis answers a PING now."""
    if not settings.REDIS_URL:
        return None
    ping = getattr(cache, "ping", None)
    error = ping() if ping is not None else None
    if error is None:
        return {"ok": True}
    return {"ok": False, "error": f"Redis (DEALGATE_REDIS_URL) does not answer: {error}"}


def worker_heartbeat() -> dict[str, Any]:
    """Age of the last heartbeat a worker finished, and how long the current one has waited."""
    if settings.TASK_BACKEND == "rq":
        return rq_heartbeat()
    if "django_tasks_db" not in settings.TASKS["default"]["BACKEND"]:
        heartbeat.enqueue()  # the immediate backend runs it here and now: there is no separate worker
        return {"ok": True, "backend": "immediate", "heartbeat_age_seconds": 0, "waiting_seconds": 0}
    from django_tasks_db.models import DBTaskResult

    beats = DBTaskResult.objects.filter(task_path=HEARTBEAT_PATH)
    now = timezone.now()
    last = beats.exclude(finished_at=None).order_by("-finished_at").values_list("finished_at", flat=True).first()
    waiting = beats.filter(finished_at=None).order_by("enqueued_at").values_list("enqueued_at", flat=True).first()
    if waiting is None:
        heartbeat.enqueue()
        if last is not None:  # keep one finished heartbeat: the table does not grow with the probes
            beats.exclude(finished_at=None).filter(finished_at__lt=last).delete()
    return beat_report(last, waiting, now)


def beat_report(last: dt.datetime | None, waiting: dt.datetime | None, now: dt.datetime) -> dict[str, Any]:
    waited = seconds_between(waiting, now)
    return {
        "ok": waited <= settings.DEALGATE_WORKER_MAX_LAG,
        "heartbeat_age_seconds": None if last is None else seconds_between(last, now),
        "waiting_seconds": waited,
        "max_lag_seconds": settings.DEALGATE_WORKER_MAX_LAG,
    }


def seconds_between(earlier: dt.datetime | None, later: dt.datetime) -> int:
    return 0 if earlier is None else max(0, int((later - earlier).total_seconds()))


def rq_heartbeat() -> dict[str, Any]:
    """The same probe on the Redis queue: `cache.add` lets one web process of many queue the beat."""
    from redis.exceptions import RedisError

    now = timezone.now()
    try:
        if cache.add(WAITING_BEAT_KEY, now, None):
            heartbeat.enqueue()
        return beat_report(cache.get(LAST_BEAT_KEY), cache.get(WAITING_BEAT_KEY), now)
    except RedisError as exc:
        return {"ok": False, "error": f"Redis (DEALGATE_REDIS_URL) does not answer: {str(exc)[:200]}"}
