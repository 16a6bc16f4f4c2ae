"""What the dashboard shows: the connection, job queue entries by status, failures of the last 24 hours, and records
synchronized per hour over the last 7 days (a fixed number of queries whatever the data)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, F, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from connections.models import ConnectionSetup
from syncjobs.models import JobQueueEntry, JobQueueLogEntry, SynchronizationJob

CHART_HOURS = 7 * 24
CHART_WIDTH = 840
CHART_HEIGHT = 120


def records_per_hour(*, now: Any = None, hours: int = CHART_HOURS) -> list[dict[str, Any]]:
    """Records synchronized (inserted + modified + deleted + coupled) per hour, oldest first, one dict per hour
    ``{"hour": datetime (UTC, start of the hour), "records": int}`` over the last ``hours`` hours; one query."""
    now = now or timezone.now()
    end = now.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=hours - 1)
    rows = (
        SynchronizationJob.objects.filter(started_at__gte=start)
        .annotate(hour=TruncHour("started_at"))
        .values("hour")
        .annotate(records=Sum(F("inserted") + F("modified") + F("deleted") + F("coupled")))
    )
    by_hour = {row["hour"]: row["records"] or 0 for row in rows}
    hours_list = [start + timedelta(hours=i) for i in range(hours)]
    return [{"hour": hour, "records": by_hour.get(hour, 0)} for hour in hours_list]


def chart_bars(series: list[dict[str, Any]]) -> dict[str, Any]:
    """SVG geometry of the records-per-hour chart: bars with x, y, width, height (pixels) and a title."""
    peak = max((point["records"] for point in series), default=0)
    width = CHART_WIDTH / max(len(series), 1)
    bars = []
    for index, point in enumerate(series):
        height = round(CHART_HEIGHT * point["records"] / peak, 1) if peak else 0
        bars.append(
            {
                "x": round(index * width, 2),
                "y": round(CHART_HEIGHT - height, 1),
                "width": round(max(width - 1, 1), 2),
                "height": height,
                "title": f"{point['hour']:%Y-%m-%d %H:00} UTC: {point['records']} records",
            }
        )
    return {"bars": bars, "peak": peak, "width": CHART_WIDTH, "height": CHART_HEIGHT,
            "total": sum(point["records"] for point in series)}


def dashboard_context() -> dict[str, Any]:
    """The dashboard's template context (five queries): ``connections``, ``entry_counts`` (list of (status label,
    status value, count)), ``failures`` (synchronization jobs with failed records and failed job queue runs of the
    last 24 hours, newest first, at most 20 each) and ``chart`` (see :func:`chart_bars`)."""

    now = timezone.now()
    since = now - timedelta(hours=24)
    counts = dict(JobQueueEntry.objects.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    entry_counts = [(label, value, counts.get(value, 0)) for value, label in JobQueueEntry.Status.choices]
    failed_jobs = list(
        SynchronizationJob.objects.filter(started_at__gte=since, failed__gt=0)
        .select_related("table_mapping")
        .order_by("-started_at")[:20]
    )
    failed_runs = list(
        JobQueueLogEntry.objects.filter(started_at__gte=since, status=JobQueueLogEntry.Status.ERROR)
        .select_related("job_queue_entry")
        .order_by("-started_at")[:20]
    )
    return {
        "connections": list(ConnectionSetup.objects.order_by("name")),
        "entry_counts": entry_counts,
        "entries_total": sum(counts.values()),
        "failed_jobs": failed_jobs,
        "failed_runs": failed_runs,
        "chart": chart_bars(records_per_hour(now=now)),
    }
