"""Health of the portal's dependencies, for /healthz."""
from __future__ import annotations

from typing import Any

import django_rq
from django.db import connection
from rq import Worker


def health_report() -> tuple[dict[str, Any], bool]:
    """Return ({"database": "ok"|error, "redis": "ok"|error, "workers": n}, healthy).

    ``workers`` counts live RQ workers (RQ drops a worker from its registry when its heartbeat expires).
    Healthy means the database and Redis answer and at least one worker is alive.
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
        report["workers"] = Worker.count(connection=redis)
    except Exception as exc:  # redis-py raises ConnectionError/TimeoutError and OSError subclasses
        report["redis"] = f"error: {type(exc).__name__}"
        report["workers"] = 0
    healthy = report["database"] == "ok" and report["redis"] == "ok" and report["workers"] > 0
    return report, healthy
