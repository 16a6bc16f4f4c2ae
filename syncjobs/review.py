"""The full synchronization review (BC: page 5331 "Dataverse Full Synch. Review", table 5373 "CRM Full Synch. Review
Line").

One line per integration table mapping that applies (BC: Generate), with the initial synchronization recommendation
(BC: GetInitialSynchRecommendation). Sync All starts every line whose dependencies have finished (BC: Start,
FindLinesThatCanBeStarted); each line runs as a one-off job queue entry on the ``sync`` queue, so independent lines
run at the same time on different RQ workers, and when a line's entry leaves In Process the next wave starts. A
failed line leaves its dependants waiting for it until it is restarted.

Improvements on BC: the page shows live progress (records processed of the total counted at the start, rate, time
remaining) and says what a waiting line waits for; a restarted full synchronization resumes after its last committed
batch instead of starting over.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from connections.clients import (
    BusinessCentralClient,
    DataverseClient,
    business_central_client_for,
    dataverse_client_for,
)
from connections.clients.errors import ClientError
from connections.models import ConnectionSetup
from mappings.catalogue import bc_table, dataverse_table
from mappings.models import Direction, IntegrationFieldMapping, IntegrationTableMapping
from syncjobs.jobqueue import FULL_SYNC_LINE_TASK, claim_entry
from syncjobs.models import FullSyncReviewLine, JobQueueEntry, SynchronizationJob
from syncjobs.progress import job_progress

logger = logging.getLogger(__name__)

Recommendation = FullSyncReviewLine.Recommendation
JobStatus = FullSyncReviewLine.JobStatus
Status = JobQueueEntry.Status

#: Mappings never given a line (BC: table 5373 CRM Full Synch. Review Line, Generate): lines ride along with their
#: headers.
ALWAYS_EXCLUDED = ("SOLINE-ORDERDETAIL", "POSTEDSALESLINE-INV")
UNIT_MAPPINGS = ("UNIT OF MEASURE", "UNIT GROUP", "ITEM UOM", "RESOURCE UOM")
OPTION_MAPPINGS = ("PAYMENT TERMS", "SHIPPING AGENT", "SHIPMENT METHOD")
FILTERED_CRM_COUNT_MAPPINGS = ("CUSTOMER", "VENDOR", "CONTACT", "CURRENCY")
#: A full synchronization may be retried after a dead worker or a transient failure this many times in all.
FULL_SYNC_MAX_ATTEMPTS = 3


class ReviewActionRefused(Exception):
    """An action of the review that its state does not allow (the message says why and what to do)."""


@dataclass(frozen=True)
class TableCounts:
    """Record counts of a mapping's two tables for the recommendation (BC: GetInitialSynchRecommendation).

    ``dataverse`` counts the mapping's view (integration table filter) for CUSTOMER/VENDOR/CONTACT/CURRENCY and the
    uomschedule table for the unit mappings, else the whole table. ``currency_exchange_rate`` is the exchange rate
    of the single Dataverse transactioncurrency (CURRENCY only, when there is exactly one).
    """

    bc: int
    dataverse: int
    currency_exchange_rate: Decimal | None = None


# --- which lines and what they recommend -----------------------------------------------------------------------------


def applicable_mappings(*, connection: ConnectionSetup) -> list[IntegrationTableMapping]:
    """The connection's mappings that get a line (BC: Generate, with the Sales integration enabled): all but
    SOLINE-ORDERDETAIL and POSTEDSALESLINE-INV, SALESPEOPLE only in the Person ownership model, SALESORDER-ORDER only
    with bidirectional sales order integration; in prioritized order."""
    excluded = list(ALWAYS_EXCLUDED)
    if connection.ownership_model == connection.OwnershipModel.TEAM:
        excluded.append("SALESPEOPLE")
    if not connection.bidirectional_sales_order_integration:
        excluded.append("SALESORDER-ORDER")
    return list(IntegrationTableMapping.objects.filter(connection=connection).exclude(name__in=excluded))


def initial_synch_recommendation(*, mapping_name: str, counts: TableCounts) -> str:
    """The recommendation for one mapping (BC: table 5373 CRM Full Synch. Review Line, GetInitialSynchRecommendation).

    - SALESPEOPLE: Full Synchronization.
    - CURRENCY: Full Synchronization when Dataverse has exactly one currency with exchange rate 1.00, else Couple
      Records.
    - Unit mappings (uomschedule count): BC empty and Dataverse <= 1 -> No Records Found; BC non-empty and
      Dataverse > 1 -> Couple Records; else Full Synchronization (a fresh org has one default unit group).
    - PAYMENT TERMS, SHIPPING AGENT, SHIPMENT METHOD: BC empty -> No Records Found, else Couple Records.
    - Any other: both empty -> No Records Found; both non-empty -> Couple Records; else Full Synchronization.
    Returns a ``FullSyncReviewLine.Recommendation`` value.
    """
    if mapping_name == "SALESPEOPLE":
        return Recommendation.FULL_SYNCHRONIZATION
    if mapping_name == "CURRENCY":
        single_base = counts.dataverse == 1 and counts.currency_exchange_rate == Decimal("1")
        return Recommendation.FULL_SYNCHRONIZATION if single_base else Recommendation.COUPLE_RECORDS
    if mapping_name in UNIT_MAPPINGS:
        if counts.bc == 0 and counts.dataverse <= 1:
            return Recommendation.NO_RECORDS_FOUND
        if counts.bc > 0 and counts.dataverse > 1:
            return Recommendation.COUPLE_RECORDS
        return Recommendation.FULL_SYNCHRONIZATION
    if mapping_name in OPTION_MAPPINGS:
        return Recommendation.NO_RECORDS_FOUND if counts.bc == 0 else Recommendation.COUPLE_RECORDS
    if counts.bc == 0 and counts.dataverse == 0:
        return Recommendation.NO_RECORDS_FOUND
    if counts.bc > 0 and counts.dataverse > 0:
        return Recommendation.COUPLE_RECORDS
    return Recommendation.FULL_SYNCHRONIZATION


def count_tables(*, mapping: IntegrationTableMapping, bc: BusinessCentralClient | None = None,
                 dataverse: DataverseClient | None = None) -> TableCounts:
    """Count the mapping's BC and Dataverse records through the clients for :func:`initial_synch_recommendation`.

    ``bc``/``dataverse`` are clients to reuse (built from the connection when omitted). Raises the clients'
    ``ClientError`` when a side cannot be read (the caller names the mapping and the fix).
    """

    connection = mapping.connection
    bc = bc or business_central_client_for(connection)
    dataverse = dataverse or dataverse_client_for(connection)
    name = mapping.name
    rate: Decimal | None = None
    if name in OPTION_MAPPINGS:
        # Option-set mappings: the Dataverse side is an option set, only the BC side counts (as in BC).
        bc_side = bc_table(mapping.table)
        return TableCounts(bc=bc.count(bc_side.entity_set, api=bc_side.api), dataverse=0)
    bc_side = bc_table(mapping.table)
    bc_count = bc.count(bc_side.entity_set, api=bc_side.api)
    if name in UNIT_MAPPINGS:
        dv_count = dataverse.count(dataverse_table("uomschedule").entity_set)
    elif name in FILTERED_CRM_COUNT_MAPPINGS:
        dv_side = dataverse_table(mapping.integration_table)
        dv_filter = mapping.integration_table_filter or None
        dv_count = dataverse.count(dv_side.entity_set, filter=dv_filter)
        if name == "CURRENCY" and dv_count == 1:
            row = next(iter(dataverse.iter_rows(dv_side.entity_set, select=["exchangerate"], filter=dv_filter)), {})
            value = row.get("exchangerate")
            rate = Decimal(str(value)) if value is not None else None
    else:
        dv_count = dataverse.count(dataverse_table(mapping.integration_table).entity_set)
    return TableCounts(bc=bc_count, dataverse=dv_count, currency_exchange_rate=rate)


def full_sync_review_generate(
    *, connection: ConnectionSetup, counts: dict[str, TableCounts] | None = None
) -> list[FullSyncReviewLine]:
    """Create or refresh one line per applicable mapping (BC: table 5373 CRM Full Synch. Review Line, Generate) and
    return the lines.

    A line keeps its recommendation once it has started (job queue entry status set) or was overridden; lines of
    mappings that no longer apply are deleted; lines removed from this run stay removed. ``counts`` maps mapping
    names to counts (for callers that counted already); missing ones are counted through the clients. A mapping
    whose records cannot be counted gets Couple Records (never duplicates) and an error message naming the
    service's error; a connection whose clients cannot be built raises the clients' ``ClientError``.
    """
    counts = dict(counts or {})
    mappings = applicable_mappings(connection=connection)
    existing = {line.name: line for line in FullSyncReviewLine.objects.filter(connection=connection)}
    clients: dict[str, Any] = {}
    lines: list[FullSyncReviewLine] = []
    for mapping in mappings:
        line = existing.get(mapping.name)
        if line is not None and (line.job_queue_entry_status or line.recommendation_overridden):
            lines.append(line)
            continue
        count_error = ""
        if mapping.name not in counts:
            if not clients:
                clients = {"bc": business_central_client_for(connection), "dataverse": dataverse_client_for(connection)}
            try:
                counts[mapping.name] = count_tables(mapping=mapping, **clients)
            except ClientError as exc:
                count_error = (f"Could not count the records of {mapping.name}: {exc}. Couple Records is recommended "
                               "because it never duplicates a record; Reset counts again.")
                logger.warning("%s", count_error)
        table_counts = counts.get(mapping.name)
        if table_counts is None:
            recommendation = Recommendation.COUPLE_RECORDS
        else:
            recommendation = initial_synch_recommendation(mapping_name=mapping.name, counts=table_counts)
        values = {
            "table_mapping": mapping,
            "dependency_filter": mapping.dependency_filter,
            "direction": mapping.direction,
            "recommendation": recommendation,
            "bc_record_count": table_counts.bc if table_counts else None,
            "dataverse_record_count": table_counts.dataverse if table_counts else None,
            "error_message": count_error,
        }
        line, _ = FullSyncReviewLine.objects.update_or_create(connection=connection, name=mapping.name, defaults=values)
        lines.append(line)
    FullSyncReviewLine.objects.filter(connection=connection).exclude(name__in=[m.name for m in mappings]).delete()
    return lines


# --- dependency order ------------------------------------------------------------------------------------------------


def dependency_names(line: FullSyncReviewLine) -> list[str]:
    """The mapping names of the line's dependency filter ('|'-separated, BC: Dependency Filter)."""
    return [name.strip() for name in line.dependency_filter.split("|") if name.strip()]


def _dependency_satisfied(line: FullSyncReviewLine) -> bool:
    return line.job_queue_entry_status == Status.FINISHED or line.recommendation == Recommendation.NO_RECORDS_FOUND


def startable_lines(lines: list[FullSyncReviewLine]) -> list[FullSyncReviewLine]:
    """The lines that can start now (BC: table 5373, FindLinesThatCanBeStarted / AreAllParentalJobsFinished).

    A line starts when it has not started (blank job queue entry status), is not removed from this run, does not
    recommend No Records Found, and every line named by its dependency filter has Finished or found no records.
    Dependencies without a line (or removed from this run) don't block.
    """
    by_name = {line.name: line for line in lines if not line.excluded}
    startable = []
    for line in lines:
        if line.excluded or line.job_queue_entry_status or line.recommendation == Recommendation.NO_RECORDS_FOUND:
            continue
        parents = [by_name[name] for name in dependency_names(line) if name in by_name]
        if all(_dependency_satisfied(parent) for parent in parents):
            startable.append(line)
    return startable


def review_settled(lines: list[FullSyncReviewLine]) -> bool:
    """Whether a review has nothing left to do: no line Ready or In Process, and none that could start now. Decide
    it from ONE read of the lines: a line finishing between two reads would otherwise look neither running (its
    dependants not taken yet) nor startable (taken by the time of the second read)."""
    running = any(not line.excluded and line.job_queue_entry_status in (Status.IN_PROCESS, Status.READY)
                  for line in lines)
    return not running and not startable_lines(lines)


def waiting_message(line: FullSyncReviewLine, lines: list[FullSyncReviewLine]) -> str:
    """What a not-yet-started line waits for, e.g. "waiting for ITEM-PRODUCT, which failed"; '' if nothing."""
    if line.excluded or line.job_queue_entry_status or line.recommendation == Recommendation.NO_RECORDS_FOUND:
        return ""
    by_name = {other.name: other for other in lines if not other.excluded}
    parts = []
    for name in dependency_names(line):
        parent = by_name.get(name)
        if parent is None or _dependency_satisfied(parent):
            continue
        state = {
            Status.ERROR: "which failed",
            Status.IN_PROCESS: "which is running",
            Status.READY: "which is queued",
        }.get(parent.job_queue_entry_status, "which has not started")
        parts.append(f"{name}, {state}")
    return f"waiting for {'; '.join(parts)}" if parts else ""


# --- starting and chaining -------------------------------------------------------------------------------------------


def _line_entry(line: FullSyncReviewLine, now: datetime, batch_size: int | None) -> JobQueueEntry:
    """The one-off job queue entry of a line (BC: codeunit 5330 CRM Integration Management, EnqueueFullSyncJob, with
    the one-off entries of codeunit 7204 CDS Setup Defaults, CreateJobQueueEntry): Ready now, not recurring, category
    BCI INTEG, rerun delay 30 s; a full synchronization or, for Couple Records, a match-based coupling run. Option-set
    mappings (PAYMENT TERMS, SHIPMENT METHOD, SHIPPING AGENT) couple their values by label inside the synchronization
    (BC: "CDS Int. Option Couple"), so their Couple Records line runs the synchronization."""
    mapping = line.table_mapping
    coupling = line.recommendation == Recommendation.COUPLE_RECORDS and mapping.name not in OPTION_MAPPINGS
    kind = JobQueueEntry.Kind.COUPLING if coupling else JobQueueEntry.Kind.FULL_SYNCHRONIZATION
    what = "coupling" if coupling else "full synchronization"
    return JobQueueEntry.objects.create(
        connection=line.connection,
        table_mapping=mapping,
        kind=kind,
        description=f" {mapping.name} - Dynamics 365 Sales {what} job.",
        category="BCI INTEG",
        recurring_job=False,
        maximum_no_of_attempts_to_run=FULL_SYNC_MAX_ATTEMPTS,
        rerun_delay_sec=30,
        status=Status.READY,
        earliest_start_date_time=now,
        parameters={"full_sync_review_line": line.pk, **({"batch_size": batch_size} if batch_size else {})},
    )


def _hold_recurring_entries(*, mapping: IntegrationTableMapping, now: datetime) -> None:
    """Put the mapping's recurring entries On Hold while its full synchronization runs (BC:
    SetOriginalJobQueueEntryOnHold), remembering their status; In Process ones finish first."""
    held = JobQueueEntry.objects.filter(
        table_mapping=mapping, recurring_job=True, status__in=[Status.READY, Status.ON_HOLD_WITH_INACTIVITY_TIMEOUT]
    )
    for entry in held:
        JobQueueEntry.objects.filter(pk=entry.pk, status=entry.status).update(
            status=Status.ON_HOLD, status_before_hold=entry.status
        )
    IntegrationTableMapping.objects.filter(pk=mapping.pk).update(full_sync_is_running=True, last_full_sync_start=now)


def _restore_recurring_entries(*, mapping_id: Any) -> None:
    """Return the mapping's held recurring entries to their status, due now (BC: SetOriginalJobQueueEntryStatus)."""
    now = timezone.now()
    for entry in JobQueueEntry.objects.filter(table_mapping_id=mapping_id, status=Status.ON_HOLD).exclude(
        status_before_hold=""
    ):
        JobQueueEntry.objects.filter(pk=entry.pk, status=Status.ON_HOLD).update(
            status=Status.READY, status_before_hold="", earliest_start_date_time=now
        )
    IntegrationTableMapping.objects.filter(pk=mapping_id).update(full_sync_is_running=False)


def full_sync_review_start(*, connection: ConnectionSetup, batch_size: int | None = None) -> list[FullSyncReviewLine]:
    """Sync All (BC: page 5331 action Sync All, table 5373 Start): start every line that can start now and return
    the started lines.

    Each started line gets a one-off job queue entry that is claimed at once and enqueued as
    ``syncjobs.tasks.run_full_sync_line(line_id)`` on the ``sync`` queue when this transaction commits (if the
    mapping's recurring entry is running right now, the entry stays Ready and the dispatcher starts it when that run
    ends). A line is taken with a conditional UPDATE, so two workers finishing lines at the same moment never start a
    dependant twice. Lines are generated first if the review has none. ``batch_size`` (records per committed
    batch) is passed to the engine and kept for the lines started later in the chain.
    """
    if not FullSyncReviewLine.objects.filter(connection=connection).exists():
        full_sync_review_generate(connection=connection)
    started: list[FullSyncReviewLine] = []
    now = timezone.now()
    lines = list(FullSyncReviewLine.objects.filter(connection=connection).select_related("table_mapping", "connection"))
    for line in startable_lines(lines):
        with transaction.atomic():
            taken = FullSyncReviewLine.objects.filter(
                pk=line.pk, job_queue_entry_status="", job_queue_entry__isnull=True
            ).update(job_queue_entry_status=Status.READY)
            if not taken:
                continue
            entry = _line_entry(line, now, batch_size)
            _hold_recurring_entries(mapping=line.table_mapping, now=now)
            line.job_queue_entry = entry
            line.job_queue_entry_status = Status.READY
            line.error_message = ""
            line.save(update_fields=["job_queue_entry", "job_queue_entry_status", "error_message"])
            if claim_entry(entry, now=now, force=True, task=FULL_SYNC_LINE_TASK, args=(line.pk,)):
                line.job_queue_entry_status = Status.IN_PROCESS
                line.save(update_fields=["job_queue_entry_status"])
        started.append(line)
    return started


def _job_status(job: SynchronizationJob | None) -> str:
    """BC GetSynchJobStatus (table 5373 CRM Full Synch. Review Line): none -> blank; unfinished -> In Process;
    failed records -> Error."""
    if job is None:
        return JobStatus.NONE
    if job.finished_at is None:
        return JobStatus.IN_PROCESS
    return JobStatus.ERROR if job.failed else JobStatus.SUCCESS


COUNTERS = ("inserted", "modified", "deleted", "unchanged", "skipped", "failed", "coupled", "already_coupled")


def latest_jobs(entry_ids: list[Any]) -> dict[tuple[Any, str], SynchronizationJob]:
    """The newest synchronization job per (job queue entry id, direction) of the given entries, in one query."""
    return jobs_of_entries(entry_ids)[0]


def jobs_of_entries(
    entry_ids: list[Any], *, now: datetime | None = None
) -> tuple[dict[tuple[Any, str], SynchronizationJob], dict[Any, dict[str, float]]]:
    """One query over the synchronization jobs of the given job queue entries: the newest job per (entry id,
    direction) for progress, and per entry the counters summed over all its jobs plus their seconds (a Couple
    Records line has a coupling job and a synchronization; a resumed run has the interrupted pass and its
    continuation, each counting only its own records)."""
    latest: dict[tuple[Any, str], SynchronizationJob] = {}
    totals: dict[Any, dict[str, float]] = {}
    if not entry_ids:
        return latest, totals
    now = now or timezone.now()
    jobs = SynchronizationJob.objects.filter(job_queue_entry_id__in=entry_ids).select_related("table_mapping")
    for job in jobs.order_by("started_at"):
        latest[(job.job_queue_entry_id, job.direction)] = job
        total = totals.setdefault(job.job_queue_entry_id, dict.fromkeys((*COUNTERS, "seconds"), 0))
        for counter in COUNTERS:
            total[counter] += getattr(job, counter)
        total["seconds"] += max(((job.finished_at or now) - job.started_at).total_seconds(), 0.0)
    return latest, totals


def full_sync_review_on_entry_changed(*, entry: JobQueueEntry, start_next: bool = True) -> None:
    """Mirror a job queue entry's status onto its review line and, when the entry left In Process for good
    (Finished or Error), restore the mapping's recurring entries and start the next wave (BC:
    OnBeforeModifyJobQueueEntry in codeunit 5340 CRM Integration Table Synch. calls Start again).

    Called by the run task before and after each run and by the dead-worker recovery. Lines of other entries are
    untouched.
    """
    lines = list(FullSyncReviewLine.objects.filter(job_queue_entry=entry).select_related("connection"))
    if not lines:
        return
    jobs = latest_jobs([entry.pk])
    for line in lines:
        line.job_queue_entry_status = entry.status
        line.to_int_table_job = jobs.get((entry.pk, Direction.TO_INTEGRATION_TABLE), line.to_int_table_job)
        line.from_int_table_job = jobs.get((entry.pk, Direction.FROM_INTEGRATION_TABLE), line.from_int_table_job)
        line.error_message = entry.error_message if entry.status == Status.ERROR else ""
        line.save(update_fields=["job_queue_entry_status", "to_int_table_job", "from_int_table_job", "error_message"])
    if entry.status in (Status.FINISHED, Status.ERROR):
        if entry.table_mapping_id:
            _restore_recurring_entries(mapping_id=entry.table_mapping_id)
        if start_next and entry.status == Status.FINISHED:
            full_sync_review_start(connection=lines[0].connection, batch_size=entry.parameters.get("batch_size"))


def _active(connection: ConnectionSetup) -> bool:
    return FullSyncReviewLine.objects.filter(
        connection=connection, job_queue_entry_status__in=[Status.IN_PROCESS, Status.READY]
    ).exists()


def full_sync_review_running(*, connection: ConnectionSetup) -> bool:
    """Whether a full synchronization of ``connection`` runs: a line of its review is Ready or In Process."""
    return _active(connection)


def full_sync_review_lines(*, connection: ConnectionSetup) -> list[FullSyncReviewLine]:
    """The review's lines: the existing ones when the review has any, else freshly generated ones
    (:func:`full_sync_review_generate`).

    A start (``manage.py fullsync``, Sync All) attaches to the review as it is: recounting lines that have not
    started yet would flip them (the records a running line created make both sides non-empty, so Full
    Synchronization would become Couple Records). Only Reset (:func:`full_sync_review_reset`) generates a review
    again (BC: page 5331 CRM Full Synch. Review, actions Sync All and Reset). Raises the clients' ``ClientError``
    when the review must be generated and a connection client cannot be built.
    """
    lines = list(FullSyncReviewLine.objects.filter(connection=connection).select_related("table_mapping"))
    return lines or full_sync_review_generate(connection=connection)


def full_sync_review_restart(*, line: FullSyncReviewLine) -> list[FullSyncReviewLine]:
    """Restart a Finished or failed line (BC: page 5331 action Restart) and start what can start; returns the
    started lines.

    The line keeps its recommendation; a full synchronization resumes after its last committed batch. Raises
    ReviewActionRefused when the line is not Finished or Error.
    """
    if line.job_queue_entry_status not in (Status.FINISHED, Status.ERROR):
        raise ReviewActionRefused(f"{line.name} can be restarted only when it has finished or failed.")
    FullSyncReviewLine.objects.filter(pk=line.pk).update(
        job_queue_entry=None,
        job_queue_entry_status="",
        to_int_table_job=None,
        from_int_table_job=None,
        error_message="",
    )
    return full_sync_review_start(connection=line.connection)


def full_sync_review_reset(*, connection: ConnectionSetup) -> list[FullSyncReviewLine]:
    """Reset (BC: page 5331 action Reset): delete every line (overrides and removals too) and generate them again.

    Raises ReviewActionRefused while a line is running or queued.
    """
    if _active(connection):
        raise ReviewActionRefused("The review cannot be reset while lines are running; wait for them to finish.")
    with transaction.atomic():
        FullSyncReviewLine.objects.filter(connection=connection).delete()
        return full_sync_review_generate(connection=connection)


def full_sync_review_recommend_full(*, line: FullSyncReviewLine) -> FullSyncReviewLine:
    """Recommend Full Synchronization for a Couple Records line (BC: page 5331 action ScheduleFullSynch); the
    override survives regeneration. Raises ReviewActionRefused for other lines or while lines run."""
    if line.recommendation != Recommendation.COUPLE_RECORDS or line.job_queue_entry_status:
        raise ReviewActionRefused(f"{line.name} does not recommend Couple Records, or has already started.")
    if _active(line.connection):
        raise ReviewActionRefused("Wait for the running lines to finish before changing a recommendation.")
    line.recommendation = Recommendation.FULL_SYNCHRONIZATION
    line.recommendation_overridden = True
    line.save(update_fields=["recommendation", "recommendation_overridden"])
    return line


def full_sync_review_remove(*, line: FullSyncReviewLine) -> FullSyncReviewLine:
    """Remove a line from this run (BC: deleting a line on page 5331): it no longer starts nor blocks; Reset brings
    it back. Raises ReviewActionRefused for a line that is running or queued."""
    if line.job_queue_entry_status in (Status.IN_PROCESS, Status.READY):
        raise ReviewActionRefused(f"{line.name} is running; it cannot be removed now.")
    line.excluded = True
    line.save(update_fields=["excluded"])
    return line


# --- live status -----------------------------------------------------------------------------------------------------


def _job_summary(job: SynchronizationJob | None, now: datetime) -> dict[str, Any] | None:
    return job_progress(job, now)


def full_sync_review_status(*, connection: ConnectionSetup) -> dict[str, Any]:
    """The review's live status as JSON-ready data (a fixed number of queries): per line its recommendation, job
    queue entry status, waiting message, To and From job progress (:func:`syncjobs.progress.job_progress`: state in
    words, records processed of the total counted at the start, rate in records/second, time remaining, the reason
    when nothing was written), ``totals`` (counters and seconds summed over all the line's
    synchronization jobs), the whole run's progress, and ``settled`` (:func:`review_settled`, from the same read of
    the lines)."""
    now = timezone.now()
    lines = list(
        FullSyncReviewLine.objects.filter(connection=connection).select_related(
            "table_mapping", "job_queue_entry", "to_int_table_job__table_mapping", "from_int_table_job__table_mapping"
        )
    )
    jobs, totals = jobs_of_entries([line.job_queue_entry_id for line in lines if line.job_queue_entry_id], now=now)
    criteria = match_criteria_by_mapping([line.table_mapping_id for line in lines])
    empty_totals = dict.fromkeys((*COUNTERS, "seconds"), 0)
    result_lines = []
    total = processed = 0
    for line in lines:
        to_job = jobs.get((line.job_queue_entry_id, Direction.TO_INTEGRATION_TABLE), line.to_int_table_job)
        from_job = jobs.get((line.job_queue_entry_id, Direction.FROM_INTEGRATION_TABLE), line.from_int_table_job)
        for job in (to_job, from_job):
            if job is not None and not line.excluded:
                total += job.total or 0
                processed += min(job.processed, job.total or job.processed)
        entry = line.job_queue_entry
        result_lines.append(
            {
                "id": line.pk,
                "name": line.name,
                "dependency_filter": line.dependency_filter,
                "direction": line.get_direction_display(),
                "recommendation": line.get_recommendation_display(),
                "recommendation_value": line.recommendation,
                "match_criteria": (
                    ", ".join(criteria.get(line.table_mapping_id, [])) or "no criteria chosen: matches on the name"
                    if line.recommendation == Recommendation.COUPLE_RECORDS
                    else ""
                ),
                "excluded": line.excluded,
                "status": (entry.status if entry else line.job_queue_entry_status) or "",
                "status_display": (entry.get_status_display() if entry else line.get_job_queue_entry_status_display())
                or "",
                "error": (entry.error_message if entry else line.error_message) or "",
                "waiting": waiting_message(line, lines),
                "to": _job_summary(to_job, now),
                "from": _job_summary(from_job, now),
                "totals": {
                    key: round(value, 1) if key == "seconds" else int(value)
                    for key, value in totals.get(line.job_queue_entry_id, empty_totals).items()
                },
            }
        )
    active_lines = [line for line in result_lines if not line["excluded"]]
    runnable = [line for line in active_lines if line["recommendation_value"] != Recommendation.NO_RECORDS_FOUND]
    finished = [line for line in runnable if line["status"] == Status.FINISHED]
    return {
        "lines": result_lines,
        "total": total,
        "processed": processed,
        "lines_total": len(runnable),
        "lines_finished": len(finished),
        "lines_failed": len([line for line in runnable if line["status"] == Status.ERROR]),
        "running": any(line["status"] in (Status.IN_PROCESS, Status.READY) for line in active_lines),
        "done": bool(runnable) and len(finished) == len(runnable),
        "settled": review_settled(lines),
        "generated_at": now.isoformat(),
    }


def match_criteria_by_mapping(mapping_ids: list[Any]) -> dict[Any, list[str]]:
    """The match-based coupling criteria of each mapping (integration field mappings used for matching), one query."""
    criteria: dict[Any, list[str]] = {}
    rows = IntegrationFieldMapping.objects.filter(
        Q(table_mapping_id__in=mapping_ids), use_for_match_based_coupling=True
    ).order_by("match_priority", "sequence")
    for row in rows:
        criteria.setdefault(row.table_mapping_id, []).append(row.field_name or row.integration_field_name)
    return criteria
