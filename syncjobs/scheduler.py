"""The job queue dispatcher (BC: codeunit 448 Job Queue Dispatcher): recovery of dead runs, wake-up of idle entries
whose mapping changed, and the claiming of due entries (:mod:`syncjobs.jobqueue` holds the state machine).

The database rows are the truth; RQ only carries work. Every minute RQ's cron scheduler calls
:func:`dispatch_due_entries`, which

1. detects dead runs (:func:`recover_abandoned_entries`): a run holding a lease is dead only once its lease expired
   (its work-horse stopped renewing it), whatever Redis or RQ say; a run without a lease (still queued) whose RQ job
   is gone, failed, or whose worker's heartbeat stopped is dead too. Dead runs are recorded as failed with the reason,
   to be retried after the rerun delay; a queued run whose RQ job Redis lost is simply enqueued again;
2. wakes entries On Hold with Inactivity Timeout when either side changed (:func:`wake_entries_on_hold`, a cheap probe
   of BC ``lastModifiedDateTime`` and Dataverse ``modifiedon`` beyond the mapping's watermarks). Improvement on BC:
   BC only re-checks an idle mapping after the inactivity timeout (12 or 24 hours) or at a user's sign-in;
3. claims the due entries atomically (a conditional UPDATE from Ready / On Hold with Inactivity Timeout to In Process,
   refused while another entry of the same integration table mapping is In Process) and enqueues
   ``syncjobs.tasks.run_job_queue_entry`` on the ``sync`` queue when the claim commits.
"""
from __future__ import annotations

import logging
import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import django_rq
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.worker import Worker

from syncjobs.alerts import alerts_check_stale
from syncjobs.engine import ChangeProbe, clients_for
from syncjobs.jobqueue import (
    CLAIM_GRACE_SECONDS,
    SYNC_QUEUE,
    claim_entry,
    due_entries,
    job_queue_entry_finish_run,
    job_queue_entry_requeue,
)
from syncjobs.models import FullSyncReviewLine, JobQueueEntry, JobQueueLogEntry
from syncjobs.review import full_sync_review_on_entry_changed

logger = logging.getLogger(__name__)

#: Seconds without a worker heartbeat after which a busy worker counts as dead. RQ's busy worker beats every
#: ``job_monitoring_interval`` (30 s) with a TTL of interval + 60 s; twice that is a safe verdict.
DEFAULT_WORKER_HEARTBEAT_TIMEOUT = 180


def dispatch_due_entries(*, now: datetime | None = None) -> int:
    """The cron job: recover dead runs, wake changed entries on hold, claim and enqueue due entries.

    Returns how many entries were enqueued. Remote failures of the wake-up probe are logged, never raised.
    """
    recover_abandoned_entries(now=now)
    reconcile_review_lines()
    wake_entries_on_hold(now=now)
    alerts_check_stale(now=now)
    enqueued = 0
    for entry in due_entries(now=now).select_related("table_mapping"):
        if claim_entry(entry, now=now):
            enqueued += 1
    return enqueued


def _worker_heartbeat_timeout() -> int:
    return int(getattr(settings, "SYNC_WORKER_HEARTBEAT_TIMEOUT", DEFAULT_WORKER_HEARTBEAT_TIMEOUT))


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine runs (a zombie, killed but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True


def _owner_process_gone(owner: str) -> bool:
    """True when the lease owner ``"<host>:<pid>"`` is a process of this machine that no longer exists."""
    host, _, pid = owner.rpartition(":")
    return host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid))


def _run_verdict(entry: JobQueueEntry, now: datetime) -> tuple[str | None, bool]:
    """(why the run of ``entry`` is dead or None, whether it died before it started because its RQ job was lost).

    The run's lease decides first; RQ's view only counts for a run that holds no lease (queued, or lost before its
    work-horse took the lease)."""
    if entry.lease_expires_at is not None:
        if entry.lease_is_live(now):
            if entry.lease_owner and _owner_process_gone(entry.lease_owner):
                return (f"its work-horse (process {entry.lease_owner}) died while running the job", False)
            return None, False
        expired = entry.lease_expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        return (f"its lease expired at {expired} UTC: the work-horse {entry.lease_owner or '?'} stopped renewing it",
                False)
    connection = django_rq.get_connection(SYNC_QUEUE)
    claimed_at = entry.claimed_at or entry.last_run_started_at
    old_claim = claimed_at is None or (now - claimed_at).total_seconds() > CLAIM_GRACE_SECONDS
    if not entry.rq_job_id:
        return ("the run has no RQ job (claimed without being enqueued)" if old_claim else None), old_claim
    try:
        job = Job.fetch(entry.rq_job_id, connection=connection)
    except NoSuchJobError:
        reason = f"RQ job {entry.rq_job_id} no longer exists (Redis restarted or the job was lost)"
        return (reason if old_claim else None), old_claim
    status = job.get_status(refresh=True)
    if status in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
        return None, False
    if status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
        detail = ""
        result = job.latest_result()
        if result is not None and result.exc_string:
            detail = ": " + result.exc_string.strip().splitlines()[-1]
        return f"RQ job {entry.rq_job_id} {status.value} without the run recording its end{detail}", False
    if status == JobStatus.FINISHED:
        return f"RQ job {entry.rq_job_id} finished without the run recording its end", False
    # Started (or unknown) without a lease: check the worker that holds it.
    worker_name = job.worker_name
    if not worker_name:
        return None, False
    worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + worker_name, connection=connection)
    if worker is None:
        return f"worker {worker_name} that ran RQ job {entry.rq_job_id} is gone (no heartbeat in Redis)", False
    if worker.hostname == socket.gethostname() and worker.pid and not _pid_alive(worker.pid):
        return f"worker {worker_name} (process {worker.pid} on {worker.hostname}) died while running the job", False
    if worker.last_heartbeat is not None:
        last = worker.last_heartbeat
        if timezone.is_naive(last):
            last = last.replace(tzinfo=UTC)
        silent = (now - last).total_seconds()
        if silent > _worker_heartbeat_timeout():
            return f"worker {worker_name} sent no heartbeat for {int(silent)} s while running the job", False
    return None, False


def run_death_reason(entry: JobQueueEntry, *, now: datetime | None = None) -> str | None:
    """Why the In Process run of ``entry`` is dead, or None while it is alive or waiting in the queue (UTC ``now``).

    A run that holds a lease (:class:`syncjobs.jobqueue.RunLease`, renewed by its work-horse) is alive until the
    lease expires, whatever Redis or RQ say about its worker or job (the worker's main process may be gone while its
    work-horse still writes; Redis may have lost its data); it is dead once the lease expired, or at once when the
    lease owner is a process of this machine that no longer exists. A run without a lease is judged from RQ: the RQ
    job is missing once the claim is older than CLAIM_GRACE_SECONDS; RQ marked it failed, stopped or canceled; it
    finished without the run recording its end; it is started but its worker is gone from Redis, is a process of
    this machine that no longer exists, or has sent no heartbeat for SYNC_WORKER_HEARTBEAT_TIMEOUT seconds.
    Raises Redis' errors when Redis is needed and unreachable.
    """
    return _run_verdict(entry, now or timezone.now())[0]


def recover_abandoned_entries(*, now: datetime | None = None) -> list[JobQueueEntry]:
    """Record every In Process run that is dead as failed with the reason, and schedule its retry; put back to
    Ready a claimed entry whose RQ job was lost before its run started (Redis lost its data), without counting an
    attempt, so the dispatcher enqueues it again.

    Uses :func:`run_death_reason`; the failure goes through :func:`job_queue_entry_finish_run` (conditional on the
    lease being as judged: not taken or renewed meanwhile), so the entry is retried after its rerun delay until the
    maximum number of attempts, then stays Error. Also completes the run's open log entry. A full synchronization
    that is retried resumes after its last committed batch (the engine continues from the unfinished
    synchronization job's resume token). Returns the recovered entries (failed or put back).
    """
    now = now or timezone.now()
    recovered: list[JobQueueEntry] = []
    for entry in JobQueueEntry.objects.filter(status=JobQueueEntry.Status.IN_PROCESS):
        try:
            reason, lost_before_start = _run_verdict(entry, now)
        except Exception:  # Redis unreachable: nothing can be concluded now; the next minute tries again.
            logger.exception("could not check the run of job queue entry %s", entry.pk)
            continue
        if reason is None:
            continue
        log = entry.log_entries.filter(status=JobQueueLogEntry.Status.IN_PROCESS).first()
        if lost_before_start and log is None:
            if job_queue_entry_requeue(entry=entry, now=now):
                logger.warning("job queue entry %s (%s): %s; enqueued again", entry.pk, entry.description, reason)
                entry.refresh_from_db()
                recovered.append(entry)
            continue
        logger.warning("job queue entry %s (%s): %s", entry.pk, entry.description, reason)
        entry = job_queue_entry_finish_run(entry=entry, log=log, error=f"The run was interrupted: {reason}.",
                                           lease_seen=(entry.lease_owner, entry.lease_expires_at))
        if entry.status == JobQueueEntry.Status.IN_PROCESS:
            continue  # its work-horse took or renewed the lease meanwhile: alive after all
        recovered.append(entry)

        full_sync_review_on_entry_changed(entry=entry)
    return recovered


def reconcile_review_lines() -> list[FullSyncReviewLine]:
    """Complete the review lines whose job queue entry ended (Finished or Error) while the line still shows another
    status: the run's process died after recording the entry's end and before mirroring it onto the line, and the
    review would otherwise wait for that line for ever. Mirrors the entry onto the line, restores the mapping's
    recurring entries and starts the next wave (:func:`syncjobs.review.full_sync_review_on_entry_changed`, which is
    idempotent). Returns the lines it completed."""
    Status = JobQueueEntry.Status
    ended = (Status.FINISHED, Status.ERROR)
    stale = list(FullSyncReviewLine.objects.filter(job_queue_entry__status__in=ended)
                 .exclude(job_queue_entry_status__in=ended).select_related("job_queue_entry"))
    for line in stale:
        logger.warning("full synchronization review line %s: its job queue entry ended as %s but the line showed "
                       "'%s'; completed it", line.name, line.job_queue_entry.status, line.job_queue_entry_status)
        full_sync_review_on_entry_changed(entry=line.job_queue_entry)
    return stale


def mapping_has_changes(mapping: Any, *, probes: dict[Any, Any] | None = None) -> bool:
    """The engine's cheap probe (``syncjobs.engine.ChangeProbe``): True when BC or Dataverse has records modified
    beyond the mapping's watermarks. ``probes`` caches one probe per connection, so one dispatcher run builds each
    connection's clients (and gets its tokens) once. Raises the engine's SynchronizationNotPossible."""
    probes = {} if probes is None else probes
    probe = probes.get(mapping.connection_id)
    if probe is None:
        probe = probes[mapping.connection_id] = ChangeProbe(clients=clients_for(mapping.connection))
    return bool(probe.has_changes(mapping=mapping))


def wake_entries_on_hold(*, now: datetime | None = None) -> list[JobQueueEntry]:
    """Set Ready, due now, every recurring mapping entry that waits (On Hold with Inactivity Timeout, or Ready but
    not due for more than a minute) while its mapping has changes on either side (BC: the wake-up of table 472 Job
    Queue Entry entries On Hold with Inactivity Timeout and the event-driven rescheduling of codeunit 5330 CRM
    Integration Management; BC only sees BC-side edits and re-checks idle entries at sign-in, here both sides are
    probed every minute). Probe errors are logged and leave the entry as it is. Returns the woken entries."""
    now = now or timezone.now()
    woken: list[JobQueueEntry] = []
    Status = JobQueueEntry.Status
    sleeping = JobQueueEntry.objects.filter(
        Q(status=Status.ON_HOLD_WITH_INACTIVITY_TIMEOUT, earliest_start_date_time__gt=now)
        | Q(status=Status.READY, earliest_start_date_time__gt=now + timedelta(seconds=60)),
        recurring_job=True,
        kind=JobQueueEntry.Kind.MAPPING,
        table_mapping__isnull=False,
        table_mapping__full_sync_is_running=False,
        connection__is_enabled=True,
    ).select_related("table_mapping", "table_mapping__connection")
    probes: dict[Any, Any] = {}
    for entry in sleeping:
        try:
            changed = mapping_has_changes(entry.table_mapping, probes=probes)
        except Exception as exc:  # the entry stays on hold; its own run reports the problem when it is due
            logger.warning("change probe failed for job queue entry %s (%s): %s", entry.pk, entry.description, exc)
            continue
        if changed:
            updated = JobQueueEntry.objects.filter(pk=entry.pk, status=entry.status).update(
                status=Status.READY, earliest_start_date_time=now, last_ready_state=now
            )
            if updated:
                entry.refresh_from_db()
                woken.append(entry)
    return woken

