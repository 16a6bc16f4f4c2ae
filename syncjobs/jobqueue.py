"""The job queue entry state machine: claiming an entry for one run (a conditional UPDATE), enqueueing its RQ task
when the claim commits, and BC's after-run rules (BC: codeunit 448 Job Queue Dispatcher; table 472 Job Queue
Entry, fields Status, No. of Attempts to Run, Maximum No. of Attempts to Run, Rerun Delay (sec.), Inactivity
Timeout Period).

The database rows are the truth; RQ only carries work. Tasks are enqueued by their dotted path, so this module
imports no task module.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import django_rq
from django.conf import settings
from django.db import connections, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from mappings.models import IntegrationTableMapping
from syncjobs.models import FullSyncReviewLine, JobQueueEntry, JobQueueLogEntry

logger = logging.getLogger(__name__)


SYNC_QUEUE = "sync"
#: The RQ task that runs one claimed job queue entry (by dotted path: the task module imports this one).
RUN_TASK = "syncjobs.tasks.run_job_queue_entry"
#: The RQ task that runs the entry of a full synchronization review line.
FULL_SYNC_LINE_TASK = "syncjobs.tasks.run_full_sync_line"


#: Seconds a claimed entry may wait for its RQ job to appear before the claim counts as lost (enqueue after commit).
CLAIM_GRACE_SECONDS = 60


#: Seconds a run's lease lasts: the dispatcher declares a run dead (and another run of its mapping may start) only
#: this long after its work-horse last renewed it (settings.SYNC_RUN_LEASE_SECONDS overrides).
DEFAULT_LEASE_SECONDS = 90
#: Seconds between two renewals of a run's lease by its work-horse (settings.SYNC_RUN_LEASE_RENEW_SECONDS).
DEFAULT_LEASE_RENEW_SECONDS = 30


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


def mappings_waiting_for_full_sync() -> QuerySet[FullSyncReviewLine]:
    """The mapping ids (a ``values("table_mapping")`` queryset) whose full synchronization review line has not started
    yet while the review of their connection runs (a line Ready or In Process): lines not removed from the run and
    not recommending No Records To Synchronize Now (BC: table 5373 CRM Full Synch. Review Line)."""
    Status = JobQueueEntry.Status
    running = FullSyncReviewLine.objects.filter(job_queue_entry_status__in=[Status.READY, Status.IN_PROCESS])
    return (FullSyncReviewLine.objects.filter(job_queue_entry_status="", excluded=False,
                                              connection__in=running.values("connection"))
            .exclude(recommendation=FullSyncReviewLine.Recommendation.NO_RECORDS_FOUND)
            .values("table_mapping"))


def due_entries(*, now: datetime | None = None) -> QuerySet[JobQueueEntry]:
    """Entries of enabled connections that are Ready or On Hold with Inactivity Timeout and whose earliest start
    (UTC) has passed or is unset (BC: codeunit 448 Job Queue Dispatcher runs entries in those statuses).

    A running full synchronization goes first: the recurring entries of the mappings whose review line waits for its
    turn (:func:`mappings_waiting_for_full_sync`) are not due until that line starts (it then holds them, BC:
    SetOriginalJobQueueEntryOnHold) or the review stops running. Otherwise a recurring run taken on the first
    dispatcher tick would make the line wait behind it, and would run against couplings the full synchronization has
    not made yet."""
    now = now or timezone.now()
    return (
        JobQueueEntry.objects.filter(status__in=DUE_STATUSES, connection__is_enabled=True)
        .filter(Q(earliest_start_date_time__isnull=True) | Q(earliest_start_date_time__lte=now))
        .exclude(recurring_job=True, table_mapping__in=mappings_waiting_for_full_sync())
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
    no other entry of the same integration table mapping In Process or holding a live run lease) so two dispatchers
    or a Run Now racing the dispatcher never start one mapping twice; on PostgreSQL the mapping row is locked first
    to serialise the check. ``task`` is the dotted path of the RQ task and ``args`` its arguments (default
    ``syncjobs.tasks.run_job_queue_entry(entry_id)``). Returns the RQ job id, or None when the entry was not
    claimable.
    """
    now = now or timezone.now()
    job_id = new_rq_job_id(entry)
    with transaction.atomic():
        if entry.table_mapping_id is not None:
            list(IntegrationTableMapping.objects.select_for_update().filter(pk=entry.table_mapping_id).values("pk"))
        busy = JobQueueEntry.objects.filter(
            Q(status=JobQueueEntry.Status.IN_PROCESS) | Q(lease_expires_at__gt=now),
            table_mapping_id=OuterRef("table_mapping_id"),
        ).exclude(pk=OuterRef("pk"))
        claimable = JobQueueEntry.objects.filter(pk=entry.pk, status__in=DUE_STATUSES).exclude(Exists(busy))
        if not force:
            due = Q(earliest_start_date_time__isnull=True) | Q(earliest_start_date_time__lte=now)
            claimable = claimable.filter(due)
        claimed = claimable.update(status=JobQueueEntry.Status.IN_PROCESS, rq_job_id=job_id, claimed_at=now,
                                   lease_owner="", lease_expires_at=None)
        if not claimed:
            return None
        _enqueue(job_id=job_id, task=task, args=args or (str(entry.pk),))
    entry.refresh_from_db()
    return job_id


def _enqueue(*, job_id: str, task: str, args: tuple[Any, ...]) -> None:
    """Enqueue the RQ task at dotted path ``task`` with ``args`` as ``job_id`` when the current transaction commits
    (django-rq's default commit mode, "on_db_commit", defers the enqueue until the claim's transaction commits). A
    full synchronization line goes to the front of the queue, ahead of recurring runs already waiting there."""
    django_rq.get_queue(SYNC_QUEUE).enqueue_call(task, args=args, job_id=job_id,
                                                 at_front=task == FULL_SYNC_LINE_TASK)


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
    *, entry: JobQueueEntry, log: JobQueueLogEntry | None, outcome: RunOutcome | None = None, error: str = "",
    lease_seen: tuple[str, datetime | None] | None = None,
) -> JobQueueEntry:
    """Apply BC's after-run rules to ``entry`` and complete its log entry (BC: codeunit 448 Job Queue Dispatcher;
    table 472 Job Queue Entry, field 52 Inactivity Timeout Period); UTC datetimes.

    - success, recurring: idle -> On Hold with Inactivity Timeout, next start now + inactivity timeout (minutes);
      activity -> Ready, next start now + minutes between runs; attempts reset to 0.
    - success, one-off -> Finished.
    - failure (``error`` non-empty): attempts + 1; below the maximum -> Ready again after the rerun delay (seconds),
      keeping the error message; at the maximum -> Error with the message.
    The update is conditional on the entry still being In Process, so a run that was already declared dead by the
    dispatcher (and retried) cannot overwrite the newer state. The run's lease is released. The dispatcher passes
    ``lease_seen`` (the lease owner and expiry it judged, ``("", None)`` for no lease) when it declares a run dead:
    the update then also requires the lease to be unchanged, so a work-horse that took or renewed its lease meanwhile
    keeps its run.
    """
    now = timezone.now()
    Status = JobQueueEntry.Status
    fields: dict[str, Any] = {"last_run_finished_at": now, "lease_owner": "", "lease_expires_at": None}
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
    if lease_seen is not None:
        query = query.filter(lease_owner=lease_seen[0], lease_expires_at=lease_seen[1])
    if not query.update(**fields) and lease_seen is not None:
        entry.refresh_from_db()
        return entry
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



def job_queue_entry_requeue(*, entry: JobQueueEntry, now: datetime | None = None) -> bool:
    """Put back to Ready, due now, a claimed entry whose RQ job was lost before its run started (Redis lost its
    data): no attempt is counted and no error is recorded, the dispatcher claims and enqueues it again. Conditional
    on the entry still holding the same claim without a live lease. Returns whether the entry was put back."""
    now = now or timezone.now()
    return bool(
        JobQueueEntry.objects.filter(pk=entry.pk, status=JobQueueEntry.Status.IN_PROCESS, rq_job_id=entry.rq_job_id)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now))
        .update(status=JobQueueEntry.Status.READY, rq_job_id="", claimed_at=None, earliest_start_date_time=now,
                lease_owner="", lease_expires_at=None)
    )


def lease_seconds() -> float:
    """Seconds a run's lease lasts after its last renewal (settings.SYNC_RUN_LEASE_SECONDS, default 90)."""
    return float(getattr(settings, "SYNC_RUN_LEASE_SECONDS", DEFAULT_LEASE_SECONDS))


def lease_renew_seconds() -> float:
    """Seconds between renewals of a run's lease (settings.SYNC_RUN_LEASE_RENEW_SECONDS, default 30)."""
    return float(getattr(settings, "SYNC_RUN_LEASE_RENEW_SECONDS", DEFAULT_LEASE_RENEW_SECONDS))


def this_process() -> str:
    """The lease owner name of the current process: ``"<host name>:<process id>"``."""
    return f"{socket.gethostname()}:{os.getpid()}"


class RunLease:
    """The database lease of one run of a claimed job queue entry, renewed by a thread of the work-horse.

    :meth:`take` acquires it (a conditional UPDATE: the entry is In Process under the claim ``rq_job_id`` and holds
    no live lease of another process); :meth:`start` renews it every :func:`lease_renew_seconds` for
    :func:`lease_seconds` until :meth:`stop`. A renewal that finds the claim gone (the run was declared dead after
    its lease expired, e.g. the process was frozen) sets :attr:`lost` and ends the renewals; the engine sees the
    lost claim at its next batch. The entry, not Redis or RQ, is the truth about whether the run lives (BC: table
    472 Job Queue Entry, the running session recorded on the entry).
    """

    def __init__(self, *, entry_id: Any, rq_job_id: str, owner: str) -> None:
        self.entry_id = entry_id
        self.rq_job_id = rq_job_id
        self.owner = owner
        self.lost = False
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def take(cls, entry: JobQueueEntry, *, rq_job_id: str, owner: str | None = None,
             now: datetime | None = None) -> RunLease | None:
        """Acquire the lease of ``entry``'s run claimed as ``rq_job_id`` for ``owner`` (default: this process);
        returns the lease, or None when the entry is not In Process under that claim or another process holds a live
        lease. Updates ``entry`` in memory."""
        now = now or timezone.now()
        owner = owner or this_process()
        expires = now + timedelta(seconds=lease_seconds())
        taken = (
            JobQueueEntry.objects.filter(pk=entry.pk, status=JobQueueEntry.Status.IN_PROCESS, rq_job_id=rq_job_id)
            .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now) | Q(lease_owner=owner))
            .update(lease_owner=owner, lease_expires_at=expires)
        )
        if not taken:
            return None
        entry.lease_owner, entry.lease_expires_at = owner, expires
        return cls(entry_id=entry.pk, rq_job_id=rq_job_id, owner=owner)

    def renew(self, *, now: datetime | None = None) -> bool:
        """Extend the lease to ``now`` + :func:`lease_seconds`; False (and :attr:`lost`) when the claim is gone."""
        now = now or timezone.now()
        renewed = JobQueueEntry.objects.filter(
            pk=self.entry_id, status=JobQueueEntry.Status.IN_PROCESS, rq_job_id=self.rq_job_id, lease_owner=self.owner
        ).update(lease_expires_at=now + timedelta(seconds=lease_seconds()))
        if not renewed:
            self.lost = True
        return bool(renewed)

    def start(self) -> RunLease:
        """Start renewing in a daemon thread (its own database connection, closed when it ends); returns self."""
        self._thread = threading.Thread(target=self._keep, name=f"lease-{self.entry_id}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop renewing (the lease itself is released by :func:`job_queue_entry_finish_run`)."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _keep(self) -> None:
        try:
            while not self._stopped.wait(lease_renew_seconds()):
                try:
                    if not self.renew():
                        logger.warning("job queue entry %s: the run lost its claim; its lease is no longer renewed",
                                       self.entry_id)
                        return
                except Exception:  # database unreachable for a moment: the next renewal tries again
                    logger.exception("could not renew the lease of job queue entry %s", self.entry_id)
        finally:
            connections.close_all()
