"""One run of a claimed job queue entry: check the claim, write the run's log entry, do the work of its kind (a
mapping's synchronization, a full synchronization, a match-based coupling run), apply the after-run state machine,
and move the full synchronization review on (BC: codeunit 5339 Integration Synch. Job Runner; codeunit 448 Job Queue
Dispatcher).

Called by the thin RQ tasks of :mod:`syncjobs.tasks`; errors of a run are recorded, never raised to RQ.
"""
from __future__ import annotations

import logging
from typing import Any

from django.db import close_old_connections
from rq import get_current_job

from mappings.catalogue import bc_table, dataverse_table
from mappings.matching import MatchCriterion, criteria_from_mapping, eligible_field_mappings
from syncjobs.alerts import alerts_after_run
from syncjobs.archived_orders import archived_sales_orders_run
from syncjobs.coupling import match_based_coupling_run
from syncjobs.engine import synchronize_mapping
from syncjobs.item_availability import item_availability_run
from syncjobs.jobqueue import RunLease, RunOutcome, job_queue_entry_begin_run, job_queue_entry_finish_run
from syncjobs.models import FullSyncReviewLine, JobQueueEntry
from syncjobs.order_notes import sales_order_notes_run
from syncjobs.review import full_sync_review_on_entry_changed
from syncjobs.statistics import customer_statistics_run
from syncjobs.unit_groups import unit_group_mapping_update

logger = logging.getLogger(__name__)


def execute_job_queue_entry(entry: JobQueueEntry) -> RunOutcome:
    """Do the work of one run of ``entry`` and return what it did; raises on a run that could not be done.

    - Mapping entries: ``syncjobs.engine.synchronize_mapping(mapping, full=False, job_queue_entry=entry)``.
    - Full synchronization entries: the same with ``full=True`` (BC: EnqueueFullSyncJob's temporary mapping:
      uncoupled records too, every record rewritten; resumed after the last committed batch when a previous run was
      interrupted).
    - Match-based coupling entries: ``mappings.matching.match_based_coupling_run`` with the criteria saved on the
      mapping's integration field mappings (BC: Couple Records lines of page 5331), then, for a review line, a full
      synchronization that creates the records without a match.
    - Update unit group mapping entries: ``syncjobs.unit_groups.unit_group_mapping_update`` (BC creates the missing
      unit groups, the unit group mappings are reset; changed = unit groups created).
    - Customer statistics entries: ``syncjobs.statistics.customer_statistics_run`` (changed = statistics rows
      inserted + modified and invoices whose payment status changed; BC: codeunit 5350 "CRM Statistics Job").
    - Item availability entries: ``syncjobs.item_availability.item_availability_run`` (changed = products whose
      quantity on hand was updated; BC: codeunit 5356 "CRM Item Availability Job").
    - Archived sales orders entries: ``syncjobs.archived_orders.archived_sales_orders_run`` (changed = couplings
      marked archived + Dataverse orders updated from their archive; BC: codeunit 5366 "CRM Archived Sales Orders
      Job").
    - Sales order notes entries: ``syncjobs.order_notes.sales_order_notes_run`` (changed = notes created on either
      side; BC: codeunit "CRM Notes Synch Job").
    - Other special jobs (sales order status, automatic order creation, quote processing) have no handler yet;
      the default configuration does not create them, and a run of such an entry finds nothing to do and is idle
      (BC: idle special jobs stay On Hold with Inactivity Timeout, table 472 Job Queue Entry).
    Changed = inserted + modified + deleted + coupled; failed = failed records (BC: table 5338 Integration Synch.
    Job, HaveJobsBeenIdle).
    """
    Kind = JobQueueEntry.Kind
    if entry.kind in (Kind.MAPPING, Kind.FULL_SYNCHRONIZATION):
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
    if entry.kind == Kind.UNIT_GROUP_UPDATE:
        return RunOutcome(changed=unit_group_mapping_update(entry=entry))
    if entry.kind == Kind.CUSTOMER_STATISTICS:
        statistics = customer_statistics_run(entry=entry)
        return RunOutcome(changed=statistics.changed, failed=statistics.failures)
    if entry.kind == Kind.ITEM_AVAILABILITY:
        availability = item_availability_run(entry=entry)
        return RunOutcome(changed=availability.modified, failed=availability.failed)
    if entry.kind == Kind.SALES_ORDER_NOTES:
        notes = sales_order_notes_run(entry=entry)
        return RunOutcome(changed=notes.to_dataverse + notes.to_business_central, failed=notes.failed)
    if entry.kind == Kind.ARCHIVED_SALES_ORDERS:
        archived = archived_sales_orders_run(entry=entry)
        return RunOutcome(changed=archived.archived + archived.modified, failed=archived.failed)
    return RunOutcome()


def review_match_criteria(mapping: Any) -> list[Any]:
    """The match criteria of a Couple Records line: those chosen on the mapping's integration field mappings, else
    the name field pair (BC: GetNameFieldNo, e.g. Customer Name ⇄ account name), else the first eligible field.

    Improvement on BC, whose review stops at "Select Coupling Criteria" until someone chooses: Sync All and
    ``manage.py fullsync`` run unattended, and the name is what an administrator would pick first. Returns an empty
    list when no field mapping can be matched on (the coupling run then fails naming the fix).
    """

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
    lease = RunLease.take(entry, rq_job_id=entry.rq_job_id)
    if lease is None:
        logger.warning("job queue entry %s: another process holds the lease of its run; not running it", entry_id)
        return entry
    lease.start()
    log = job_queue_entry_begin_run(entry=entry, rq_job_id=rq_job_id or entry.rq_job_id, worker_name=worker_name)

    full_sync_review_on_entry_changed(entry=entry, start_next=False)
    try:
        outcome = execute_job_queue_entry(entry)
    except Exception as exc:
        logger.exception("job queue entry %s (%s) failed", entry.pk, entry.description)
        message = str(exc) or exc.__class__.__name__
        entry = job_queue_entry_finish_run(entry=entry, log=log, error=message)
    else:
        entry = job_queue_entry_finish_run(entry=entry, log=log, outcome=outcome)
    finally:
        lease.stop()
    full_sync_review_on_entry_changed(entry=entry)
    entry = alerts_after_run(entry=entry)
    return entry



def full_sync_line_run(*, line_id: int) -> JobQueueEntry | None:
    """Run the job queue entry of full synchronization review line ``line_id`` (claimed when the line was started;
    BC: page 5331 CRM Full Synch. Review, action Start) and start the lines that were waiting for it. Returns the
    entry after the run, or None when the line or its entry no longer exists."""
    line = FullSyncReviewLine.objects.filter(pk=line_id).first()
    if line is None or line.job_queue_entry_id is None:
        logger.warning("full synchronization review line %s has no job queue entry to run", line_id)
        return None
    return run_claimed_entry(str(line.job_queue_entry_id))
