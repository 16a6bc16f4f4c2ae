"""``/metrics``: the portal's state in the Prometheus text format (prometheus-client, "Exposition formats").

Read from the database at scrape time (so every process answers the same): synchronization runs, records and
errors per integration table mapping and direction, the lag since each mapping's last successful run, the job queue
entries that are due and the age of the oldest, the depth of the RQ queues. Counted where they happen: HTTP requests,
429 answers and retries per service (``connections.clients.transport``), summed over the web server's and the
workers' processes by prometheus-client's multiprocess mode when ``PROMETHEUS_MULTIPROC_DIR`` is set.

Access: a signed-in user, or ``Authorization: Bearer <METRICS_TOKEN>`` (setting; unset = sign-in only).
"""
from __future__ import annotations

import hmac
import os
from collections.abc import Iterator

import django_rq
from django.conf import settings
from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from rq import Queue

from syncjobs.models import JobQueueEntry, SynchronizationJob

COUNTERS = ("inserted", "modified", "deleted", "unchanged", "skipped", "failed", "coupled", "uncoupled")


class PortalCollector(Collector):
    """Collects the database- and queue-derived series of the module doc at each scrape."""

    def collect(self) -> Iterator[Metric]:
        runs = CounterMetricFamily("bcportal_synchronization_runs", "Synchronization jobs (passes) finished, by "
                                   "mapping, direction and result", labels=["mapping", "direction", "result"])
        records = CounterMetricFamily("bcportal_synchronization_records", "Records handled by synchronization jobs, "
                                      "by mapping, direction and outcome", labels=["mapping", "direction", "outcome"])
        errors = CounterMetricFamily("bcportal_synchronization_errors", "Records that failed to synchronize, by "
                                     "mapping and direction", labels=["mapping", "direction"])
        lag = GaugeMetricFamily("bcportal_mapping_lag_seconds", "Seconds since the mapping's last successful "
                                "synchronization job finished", labels=["mapping"])
        now = timezone.now()
        finished = SynchronizationJob.objects.filter(finished_at__isnull=False)
        rows = (finished.values("table_mapping__name", "direction")
                .annotate(runs=Count("id"), failed_runs=Count("id", filter=Q(failed__gt=0) | Q(could_not_run=True)),
                          last_success=Max("finished_at", filter=Q(failed=0, could_not_run=False)),
                          **{name: Sum(name) for name in COUNTERS}))
        last_success: dict[str, object] = {}
        for row in rows:
            mapping, direction = row["table_mapping__name"], row["direction"]
            runs.add_metric([mapping, direction, "failed"], row["failed_runs"])
            runs.add_metric([mapping, direction, "success"], row["runs"] - row["failed_runs"])
            for name in COUNTERS:
                records.add_metric([mapping, direction, name], row[name] or 0)
            errors.add_metric([mapping, direction], row["failed"] or 0)
            if row["last_success"] is not None:
                previous = last_success.get(mapping)
                last_success[mapping] = max(previous, row["last_success"]) if previous else row["last_success"]
        for mapping, when in last_success.items():
            lag.add_metric([mapping], (now - when).total_seconds())  # type: ignore[operator]
        yield from (runs, records, errors, lag)

        due = JobQueueEntry.objects.filter(status=JobQueueEntry.Status.READY).filter(
            Q(earliest_start_date_time__isnull=True) | Q(earliest_start_date_time__lte=now))
        summary = due.aggregate(count=Count("id"), oldest=Min("earliest_start_date_time"))
        yield GaugeMetricFamily("bcportal_job_queue_due_entries", "Job queue entries that are Ready and due",
                                value=summary["count"])
        oldest = summary["oldest"]
        yield GaugeMetricFamily("bcportal_job_queue_oldest_due_age_seconds", "Age of the oldest due job queue entry "
                                "(seconds past its earliest start)", value=(now - oldest).total_seconds() if oldest
                                else 0.0)
        depth = GaugeMetricFamily("bcportal_rq_queue_depth", "Jobs waiting in each RQ queue", labels=["queue"])
        for name in settings.RQ_QUEUES:
            try:
                depth.add_metric([name], Queue(name, connection=django_rq.get_connection(name)).count)
            except Exception:  # noqa: BLE001 - Redis down: the series is left out, /healthz says why
                continue
        yield depth


def _registry() -> CollectorRegistry:
    """The process's registry, or one that sums every process's files in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def metrics_text() -> bytes:
    """The exposition (text format 0.0.4) of the counters of :mod:`connections.clients.transport` and of
    :class:`PortalCollector`."""
    registry = _registry()
    body = generate_latest(registry)
    portal = CollectorRegistry()
    portal.register(PortalCollector())
    return body + generate_latest(portal)


def token_accepted(header: str) -> bool:
    """Whether an ``Authorization`` header carries the ``METRICS_TOKEN`` bearer token (constant-time compare)."""
    token = getattr(settings, "METRICS_TOKEN", "") or ""
    scheme, _, value = header.partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), token)
