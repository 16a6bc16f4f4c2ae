"""RQ tasks of the job queue. Tasks take ids and call a service (DESIGN "Tasks take ids").

- :func:`dispatch_due_job_queue_entries` (default queue, every minute from ``syncjobs.cron``);
- :func:`run_job_queue_entry` (sync queue): one run of a claimed job queue entry;
- :func:`run_full_sync_line` (sync queue): one run of a full synchronization review line's entry.
"""
from __future__ import annotations

import logging
from typing import Any

from django.db import close_old_connections

from syncjobs.models import FullSyncReviewLine, JobQueueEntry
from syncjobs.scheduler import RunOutcome, job_queue_entry_begin_run, job_queue_entry_finish_run

logger = logging.getLogger(__name__)


def dispatch_due_job_queue_entries() -> int:
    """Claim the due job queue entries and enqueue them; returns how many were enqueued."""
    from syncjobs.scheduler import dispatch_due_entries

    return dispatch_due_entries()


def execute_job_queue_entry(entry: JobQueueEntry) -> RunOutcome:
    """Do the work of one run of ``entry`` and return what it did; raises on a run that could not be done.

    - Mapping entries: ``syncjobs.engine.synchronize_mapping(mapping, full=False, job_queue_entry=entry)``.
    - Full synchronization entries: the same with ``full=True`` (reference 5.5: uncoupled records too, every record
      rewritten; resumed after the last committed batch when a previous run was interrupted).
    - Match-based coupling entries: ``mappings.matching.match_based_coupling_run`` with the criteria saved on the
      mapping's integration field mappings (reference 5.4: Couple Records lines), then, for a review line, a full
      synchronization that creates the records without a match.
    - Special jobs (customer statistics, item availability, sales order status/notes, archived sales orders,
      automatic order creation/quote processing, unit group update): their work arrives with later issues, so a run
      finds nothing to do and is idle (reference 7.3: idle special jobs stay On Hold with Inactivity Timeout).
    Changed = inserted + modified + deleted + coupled; failed = failed records (reference 6.6 HaveJobsBeenIdle).
    """
    Kind = JobQueueEntry.Kind
    if entry.kind in (Kind.MAPPING, Kind.FULL_SYNCHRONIZATION):
        from syncjobs.engine import synchronize_mapping

        if entry.table_mapping is None:
            raise ValueError(f"Job queue entry '{entry.description}' names no integration table mapping; delete it "
                             "or reset the default configuration.")
        jobs = synchronize_mapping(
            mapping=entry.table_mapping,
            full=entry.kind == Kind.FULL_SYNCHRONIZATION,
            job_queue_entry=entry,
            batch_size=entry.parameters.get("batch_size"),
        )
        return RunOutcome(
            changed=sum(job.inserted + job.modified + job.deleted + job.coupled for job in jobs),
            failed=sum(job.failed for job in jobs),
        )
    if entry.kind == Kind.COUPLING:
        from mappings.matching import match_based_coupling_run
        from syncjobs.engine import synchronize_mapping

        mapping = entry.table_mapping
        if mapping is None:
            raise ValueError(f"Job queue entry '{entry.description}' names no integration table mapping.")
        jobs = [match_based_coupling_run(mapping=mapping, job_queue_entry=entry,
                                         criteria=review_match_criteria(mapping))]
        if entry.parameters.get("full_sync_review_line") and not (
            mapping.synch_after_bulk_coupling or mapping.create_new_in_case_of_no_match
        ):
            # A Couple Records line of the review: existing rows are coupled first, then the full synchronization
            # creates the records that found no match (improvement on BC, whose line stops after coupling and
            # leaves the uncoupled records for a later run).
            jobs += synchronize_mapping(
                mapping=mapping, full=True, job_queue_entry=entry, batch_size=entry.parameters.get("batch_size")
            )
        return RunOutcome(
            changed=sum(job.coupled + job.inserted + job.modified + job.deleted for job in jobs),
            failed=sum(job.failed for job in jobs),
        )
    return RunOutcome()


def review_match_criteria(mapping: Any) -> list[Any]:
    """The match criteria of a Couple Records line: those chosen on the mapping's integration field mappings, else
    the name field pair (BC: GetNameFieldNo, e.g. Customer Name ⇄ account name), else the first eligible field.

    Improvement on BC, whose review stops at "Select Coupling Criteria" until someone chooses: Sync All and
    ``manage.py fullsync`` run unattended, and the name is what an administrator would pick first. Returns an empty
    list when no field mapping can be matched on (the coupling run then fails naming the fix).
    """
    from mappings.catalogue import bc_table, dataverse_table
    from mappings.matching import MatchCriterion, criteria_from_mapping, eligible_field_mappings

    chosen = criteria_from_mapping(mapping)
    if chosen:
        return chosen
    eligible = eligible_field_mappings(mapping)
    name_field = bc_table(mapping.table).name_field
    primary_name = dataverse_table(mapping.integration_table).primary_name
    named = [f for f in eligible if f.field_name == name_field and f.integration_field_name == primary_name]
    candidates = named or [f for f in eligible if f.field_name == name_field] or eligible[:1]
    return [MatchCriterion(candidate.pk) for candidate in candidates[:1]]


def _current_rq_job() -> tuple[str, str]:
    from rq import get_current_job

    job = get_current_job()
    if job is None:
        return "", ""
    return job.id, job.worker_name or ""


def run_claimed_entry(entry_id: str) -> JobQueueEntry | None:
    """Run the claimed (In Process) job queue entry ``entry_id`` once and apply the after-run state machine.

    Ignores a delivery that does not match the entry's current claim (a stale or duplicated RQ job), so one claim
    runs at most once. Errors of the run are recorded on the entry and its log (never raised to RQ, whose own
    failure handling would otherwise mark a recorded failure a second time). Returns the entry after the run.
    """
    close_old_connections()
    rq_job_id, worker_name = _current_rq_job()
    entry = JobQueueEntry.objects.select_related("table_mapping", "connection").filter(pk=entry_id).first()
    if entry is None:
        logger.warning("job queue entry %s no longer exists; nothing to run", entry_id)
        return None
    if entry.status != JobQueueEntry.Status.IN_PROCESS or (rq_job_id and entry.rq_job_id != rq_job_id):
        logger.warning("job queue entry %s is not claimed by RQ job %s; not running it", entry_id, rq_job_id)
        return entry
    log = job_queue_entry_begin_run(entry=entry, rq_job_id=rq_job_id or entry.rq_job_id, worker_name=worker_name)
    from syncjobs.review import full_sync_review_on_entry_changed

    full_sync_review_on_entry_changed(entry=entry, start_next=False)
    try:
        outcome = execute_job_queue_entry(entry)
    except Exception as exc:
        logger.exception("job queue entry %s (%s) failed", entry.pk, entry.description)
        message = str(exc) or exc.__class__.__name__
        entry = job_queue_entry_finish_run(entry=entry, log=log, error=message)
    else:
        entry = job_queue_entry_finish_run(entry=entry, log=log, outcome=outcome)
    full_sync_review_on_entry_changed(entry=entry)
    return entry


def run_job_queue_entry(entry_id: str) -> str:
    """RQ task: run the claimed job queue entry ``entry_id``; returns its status after the run."""
    entry = run_claimed_entry(entry_id)
    return entry.status if entry is not None else "missing"


def run_full_sync_line(line_id: int) -> str:
    """RQ task: run the job queue entry of full synchronization review line ``line_id`` (claimed when the line was
    started, reference 5.4) and start the lines that were waiting for it; returns the entry's status."""
    line = FullSyncReviewLine.objects.filter(pk=line_id).first()
    if line is None or line.job_queue_entry_id is None:
        logger.warning("full synchronization review line %s has no job queue entry to run", line_id)
        return "missing"
    return run_job_queue_entry(str(line.job_queue_entry_id))
