"""Health of the portal's dependencies, for /healthz."""
from __future__ import annotations

from typing import Any

import django_rq
from django.db import connection
from redis import Redis
from rq import Worker


def live_worker_count(redis: Redis) -> int:
    """The RQ workers whose heartbeat is alive: each worker keeps its hash ``rq:worker:<name>`` alive with
    ``last_heartbeat`` and a TTL of ``worker_ttl + 60`` seconds (``rq.worker.BaseWorker.heartbeat``), and writes it
    again on every beat, also after Redis lost its data; the registry set (``Worker.count``) is written only at
    the worker's birth. Counts the union of both."""
    prefix = Worker.redis_worker_namespace_prefix
    names = {name.decode() if isinstance(name, bytes) else str(name)
             for name in redis.smembers(Worker.redis_workers_keys)}
    for key in redis.scan_iter(match=f"{prefix}*", count=500):
        text = key.decode() if isinstance(key, bytes) else str(key)
        if redis.type(key) in (b"hash", "hash") and redis.hexists(key, "last_heartbeat"):
            names.add(text)
    return len(names)


def health_report() -> tuple[dict[str, Any], bool]:
    """Return ({"database": "ok"|error, "redis": "ok"|error, "workers": n}, healthy).

    ``workers`` counts live RQ workers by their heartbeats (:func:`live_worker_count`), so workers that lived
    through a Redis restart count as soon as they beat again. Healthy means the database and Redis answer and at
    least one worker is alive.
    """
    report: dict[str, Any] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        report["database"] = "ok"
    except Exception as exc:  # any driver error means "down"; its class name says which
        report["database"] = f"error: {type(exc).__name__}"
    try:

        redis = django_rq.get_connection("default")
        redis.ping()
        report["redis"] = "ok"
        report["workers"] = live_worker_count(redis)
    except Exception as exc:  # redis-py raises ConnectionError/TimeoutError and OSError subclasses
        report["redis"] = f"error: {type(exc).__name__}"
        report["workers"] = 0
    healthy = report["database"] == "ok" and report["redis"] == "ok" and report["workers"] > 0
    return report, healthy
