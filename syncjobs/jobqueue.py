"""The job queue entry state machine: claiming an entry for one run (a conditional UPDATE), enqueueing its RQ task
when the claim commits, and BC's after-run rules (BC: codeunit 448 Job Queue Dispatcher; table 472 Job Queue
Entry, fields Status, No. of Attempts to Run, Maximum No. of Attempts to Run, Rerun Delay (sec.), Inactivity
Timeout Period).

The database rows are the truth; RQ only carries work. Tasks are enqueued by their dotted path, so this module
imports no task module.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import django_rq
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from mappings.models import IntegrationTableMapping
from syncjobs.models import JobQueueEntry, JobQueueLogEntry

logger = logging.getLogger(__name__)


SYNC_QUEUE = "sync"
#: The RQ task that runs one claimed job queue entry (by dotted path: the task module imports this one).
RUN_TASK = "syncjobs.tasks.run_job_queue_entry"
#: The RQ task that runs the entry of a full synchronization review line.
FULL_SYNC_LINE_TASK = "syncjobs.tasks.run_full_sync_line"


#: Seconds a claimed entry may wait for its RQ job to appear before the claim counts as lost (enqueue after commit).
CLAIM_GRACE_SECONDS = 60


DUE_STATUSES = (JobQueueEntry.Status.READY, JobQueueEntry.Status.ON_HOLD_WITH_INACTIVITY_TIMEOUT)


@dataclass(frozen=True)
class RunOutcome:
    """What one run of a job queue entry did: records changed (inserted + modified + deleted + coupled) and failed.

    A run is idle when both are 0 (BC: table 5338 Integration Synch. Job, ``HaveJobsBeenIdle``: unchanged and
    skipped records don't count).
    """

    changed: int = 0
    failed: int = 0

    @property
    def idle(self) -> bool:
        return self.changed == 0 and self.failed == 0


def due_entries(*, now: datetime | None = None) -> QuerySet[JobQueueEntry]:
    """Entries of enabled connections that are Ready or On Hold with Inactivity Timeout and whose earliest start
    (UTC) has passed or is unset (BC: codeunit 448 Job Queue Dispatcher runs entries in those statuses)."""
    now = now or timezone.now()
    return (
        JobQueueEntry.objects.filter(status__in=DUE_STATUSES, connection__is_enabled=True)
        .filter(Q(earliest_start_date_time__isnull=True) | Q(earliest_start_date_time__lte=now))
        .order_by("earliest_start_date_time", "table_mapping__priority", "description")
    )


def new_rq_job_id(entry: JobQueueEntry) -> str:
    """A fresh RQ job id for one run of ``entry`` (known to the database before the job is enqueued)."""
    return f"jqe-{entry.pk}-{uuid.uuid4().hex[:12]}"


def claim_entry(
    entry: JobQueueEntry,
    *,
    now: datetime | None = None,
    force: bool = False,
    task: str = RUN_TASK,
    args: tuple[Any, ...] | None = None,
) -> str | None:
    """Claim ``entry`` for one run and enqueue it on the ``sync`` queue when the claim commits.

    The claim is one conditional UPDATE (status Ready or On Hold with Inactivity Timeout, due unless ``force``, and
    no other entry of the same integration table mapping In Process) so two dispatchers or a Run Now racing the
    dispatcher never start one mapping twice; on PostgreSQL the mapping row is locked first to serialise the check.
    ``task`` is the dotted path of the RQ task and ``args`` its arguments (default
    ``syncjobs.tasks.run_job_queue_entry(entry_id)``). Returns the RQ job id, or None
    when the entry was not claimable.
    """
    now = now or timezone.now()
    job_id = new_rq_job_id(entry)
    with transaction.atomic():
        if entry.table_mapping_id is not None:
            list(IntegrationTableMapping.objects.select_for_update().filter(pk=entry.table_mapping_id).values("pk"))
        busy = JobQueueEntry.objects.filter(
            table_mapping_id=OuterRef("table_mapping_id"), status=JobQueueEntry.Status.IN_PROCESS
        ).exclude(pk=OuterRef("pk"))
        claimable = JobQueueEntry.objects.filter(pk=entry.pk, status__in=DUE_STATUSES).exclude(Exists(busy))
        if not force:
            due = Q(earliest_start_date_time__isnull=True) | Q(earliest_start_date_time__lte=now)
            claimable = claimable.filter(due)
        claimed = claimable.update(status=JobQueueEntry.Status.IN_PROCESS, rq_job_id=job_id, claimed_at=now)
        if not claimed:
            return None
        _enqueue(job_id=job_id, task=task, args=args or (str(entry.pk),))
    entry.refresh_from_db()
    return job_id


def _enqueue(*, job_id: str, task: str, args: tuple[Any, ...]) -> None:
    """Enqueue the RQ task at dotted path ``task`` with ``args`` as ``job_id`` when the current transaction commits
    (django-rq's default commit mode, "on_db_commit", defers the enqueue until the claim's transaction commits)."""
    django_rq.get_queue(SYNC_QUEUE).enqueue_call(task, args=args, job_id=job_id)


def job_queue_entry_begin_run(*, entry: JobQueueEntry, rq_job_id: str = "", worker_name: str = "") -> JobQueueLogEntry:
    """Write the log entry of a run that starts now (UTC) and stamp the entry's last run start."""
    now = timezone.now()
    entry.last_run_started_at = now
    entry.save(update_fields=["last_run_started_at"])
    return JobQueueLogEntry.objects.create(
        job_queue_entry=entry,
        started_at=now,
        attempt=entry.no_of_attempts_to_run + 1,
        rq_job_id=rq_job_id,
        worker_name=worker_name,
    )


def job_queue_entry_finish_run(
    *, entry: JobQueueEntry, log: JobQueueLogEntry | None, outcome: RunOutcome | None = None, error: str = ""
) -> JobQueueEntry:
    """Apply BC's after-run rules to ``entry`` and complete its log entry (BC: codeunit 448 Job Queue Dispatcher;
    table 472 Job Queue Entry, field 52 Inactivity Timeout Period); UTC datetimes.

    - success, recurring: idle -> On Hold with Inactivity Timeout, next start now + inactivity timeout (minutes);
      activity -> Ready, next start now + minutes between runs; attempts reset to 0.
    - success, one-off -> Finished.
    - failure (``error`` non-empty): attempts + 1; below the maximum -> Ready again after the rerun delay (seconds),
      keeping the error message; at the maximum -> Error with the message.
    The update is conditional on the entry still being In Process, so a run that was already declared dead by the
    dispatcher (and retried) cannot overwrite the newer state.
    """
    now = timezone.now()
    Status = JobQueueEntry.Status
    fields: dict[str, Any] = {"last_run_finished_at": now}
    if error:
        attempts = entry.no_of_attempts_to_run + 1
        fields.update(no_of_attempts_to_run=attempts, error_message=error[:4000], last_result="Error")
        if attempts < entry.maximum_no_of_attempts_to_run:
            fields.update(status=Status.READY, earliest_start_date_time=now + timedelta(seconds=entry.rerun_delay_sec))
        else:
            fields.update(status=Status.ERROR)
    else:
        outcome = outcome or RunOutcome()
        fields.update(no_of_attempts_to_run=0, error_message="", last_result="Idle" if outcome.idle else "Success")
        if not entry.recurring_job:
            fields.update(status=Status.FINISHED)
        elif outcome.idle:
            fields.update(
                status=Status.ON_HOLD_WITH_INACTIVITY_TIMEOUT,
                earliest_start_date_time=now + timedelta(minutes=entry.inactivity_timeout_period),
            )
        else:
            fields.update(
                status=Status.READY,
                last_ready_state=now,
                earliest_start_date_time=now + timedelta(minutes=entry.no_of_minutes_between_runs),
            )
    query = JobQueueEntry.objects.filter(pk=entry.pk, status=Status.IN_PROCESS)
    if entry.rq_job_id:
        query = query.filter(rq_job_id=entry.rq_job_id)
    query.update(**fields)
    if log is not None:
        log.finished_at = now
        log.status = JobQueueLogEntry.Status.ERROR if error else JobQueueLogEntry.Status.SUCCESS
        log.error_message = error[:4000]
        if outcome is not None:
            log.idle = outcome.idle
            log.records_changed = outcome.changed
            log.records_failed = outcome.failed
        log.save(update_fields=["finished_at", "status", "error_message", "idle", "records_changed", "records_failed"])
    entry.refresh_from_db()
    return entry

