"""Match-based coupling runs: save the criteria and start a one-off coupling job queue entry, then, on a worker,
couple the matched records, log each record's outcome and synchronize afterwards when asked (BC: codeunit "Int.
Coupling Job Runner"; table 5336 Integration Field Mapping, fields Use For Match-Based Coupling, Case-Sensitive
Matching and Match Priority).

Which record matches which is decided by :mod:`mappings.matching`; this module runs it as a synchronization job.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef
from django.utils import timezone

from connections.clients import business_central_client_for
from connections.clients.errors import ClientError
from mappings.catalogue import bc_table
from mappings.matching import PAGE_SIZE as MATCH_PAGE_SIZE
from mappings.matching import (
    MatchCriterion,
    MatchOutcome,
    criteria_check,
    criteria_from_mapping,
    criteria_save,
    iter_match_outcomes,
)
from mappings.models import CouplingLogEntry, Direction, IntegrationTableMapping
from mappings.services import CouplingConflict, coupling_create, couplings_for_mapping
from syncjobs.engine import SynchronizationNotPossible, synchronize_mapping
from syncjobs.models import JobQueueEntry, SynchronizationJob
from syncjobs.services import JobQueueEntryBusy, job_queue_entry_run_now

logger = logging.getLogger(__name__)


Outcome = CouplingLogEntry.Outcome


def match_based_coupling_start(*, mapping: IntegrationTableMapping, criteria: list[MatchCriterion],
                               create_new_if_no_match: bool, synch_after: bool) -> Any:
    """Save the criteria (on the field mappings) and flags (on the mapping) and run match-based coupling on a worker
    (BC: MatchBasedCoupling → one-off job queue entry of "Int. Coupling Job Runner", category BCI INTEG, max 2
    attempts). Returns the JobQueueEntry (kind Coupling), claimed and enqueued when this transaction commits.
    Raises ``ValidationError`` for unusable criteria, and ``JobQueueEntryBusy`` naming the running job while another
    job of the mapping is In Process (a mapping never runs twice at once); then nothing is saved.
    """

    criteria_check(mapping, criteria)
    try:
        with transaction.atomic():
            criteria_save(mapping, criteria)
            mapping.create_new_in_case_of_no_match = create_new_if_no_match
            mapping.synch_after_bulk_coupling = synch_after
            mapping.save(update_fields=["create_new_in_case_of_no_match", "synch_after_bulk_coupling"])
            entry = JobQueueEntry.objects.create(
                connection=mapping.connection, table_mapping=mapping, kind=JobQueueEntry.Kind.COUPLING,
                description=f"{mapping.temp_description()} - Dynamics 365 Sales coupling job.", category="BCI INTEG",
                recurring_job=False, maximum_no_of_attempts_to_run=2, rerun_delay_sec=30,
                status=JobQueueEntry.Status.READY, earliest_start_date_time=timezone.now(),
            )
            job_queue_entry_run_now(entry=entry)
    except JobQueueEntryBusy as exc:
        busy = (JobQueueEntry.objects.filter(table_mapping=mapping, status=JobQueueEntry.Status.IN_PROCESS)
                .order_by("-last_ready_state").first())
        if busy is None:
            raise
        raise JobQueueEntryBusy(f"'{busy.description.strip()}' is running; start match-based coupling again when "
                                "it has ended.") from exc
    entry.refresh_from_db()
    return entry


#: Coupling log lines written per database round trip, with ``processed`` and the counters: one page of BC records
#: as :func:`mappings.matching.iter_match_outcomes` decides them, so the pages show progress per page.
LOG_BATCH = MATCH_PAGE_SIZE


def _set_counters(job: Any, counts: dict[str, int]) -> list[str]:
    """Set the job's counters from the outcome counts; returns the fields set. Already coupled records have their
    own counter (not skipped): the coupling exists, nothing is missing."""
    job.coupled = counts.get(Outcome.COUPLED, 0)
    job.already_coupled = counts.get(Outcome.ALREADY_COUPLED, 0)
    job.skipped = sum(counts.get(k, 0) for k in (Outcome.NO_MATCH, Outcome.SEVERAL_MATCHES))
    job.failed = counts.get(Outcome.FAILED, 0)
    return ["coupled", "already_coupled", "skipped", "failed"]


def _count_bc_records(mapping: IntegrationTableMapping) -> int | None:
    """BC records the run will decide (the mapping's table filter applied), for progress; None when BC cannot count
    them (the run then shows records handled only)."""
    side = bc_table(mapping.table)
    try:
        return business_central_client_for(mapping.connection).count(
            side.entity_set, filter=mapping.table_filter or None, api=side.api)
    except ClientError as exc:
        logger.info("Match-based coupling of %s: BC records not counted (%s)", mapping.name, exc)
        return None


def _record_outcomes(job: Any, outcomes: Iterable[MatchOutcome], start: int = 1) -> None:
    CouplingLogEntry.objects.bulk_create(
        CouplingLogEntry(job=job, sequence=i, bc_id=o.bc_id, bc_name=o.bc_name[:250], outcome=o.outcome,
                         dataverse_id=o.dataverse_id, dataverse_name=o.dataverse_name[:250], message=o.message)
        for i, o in enumerate(outcomes, start=start))


def match_based_coupling_run(*, mapping: IntegrationTableMapping, job_queue_entry: Any = None,
                             criteria: list[MatchCriterion] | None = None) -> Any:
    """Run match-based coupling now (on a worker) with the criteria saved on the mapping (or ``criteria``).

    Writes a SynchronizationJob of type Coupling before the first remote call, a coupling log line per BC record
    (in batches of ``LOG_BATCH``, as the outcomes stream from :func:`mappings.matching.iter_match_outcomes`, so memory
    does not grow with the number of records), and the coupled/already coupled/skipped/failed counters with
    ``processed`` updated per page of BC records (``total`` is counted first). Afterwards, when the mapping says so
    (Synch. After Match-Based Coupling, or Create New in Case of No Match with unmatched records), synchronizes the
    mapping with the engine (``syncjobs.engine.synchronize_mapping(full=True)``: coupled records are transferred and
    uncoupled ones created, as BC's coupling job runner does). Returns the SynchronizationJob.
    """

    criteria = criteria if criteria is not None else criteria_from_mapping(mapping)
    job = SynchronizationJob.objects.create(table_mapping=mapping, job_queue_entry=job_queue_entry,
                                            type=SynchronizationJob.Type.COUPLING,
                                            direction=Direction.TO_INTEGRATION_TABLE)
    job.total = _count_bc_records(mapping)
    job.save(update_fields=["total"])
    counts: dict[str, int] = {}
    batch: list[MatchOutcome] = []
    written = 0
    try:
        for outcome in iter_match_outcomes(mapping, criteria):
            if outcome.outcome == Outcome.COUPLED:
                try:
                    coupling_create(connection=mapping.connection, bc_table=mapping.table, bc_id=outcome.bc_id,
                                    dataverse_table=mapping.coupling_dataverse_table,
                                    dataverse_id=outcome.dataverse_id, bc_name=outcome.bc_name or None,
                                    dataverse_name=outcome.dataverse_name or None)
                except CouplingConflict as exc:
                    outcome = MatchOutcome(outcome.bc_id, outcome.bc_name, Outcome.ALREADY_COUPLED,
                                           outcome.dataverse_id, outcome.dataverse_name, exc.messages[0])
            counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
            batch.append(outcome)
            if len(batch) >= LOG_BATCH:
                _record_outcomes(job, batch, start=written + 1)
                written += len(batch)
                batch = []
                job.processed = written
                job.save(update_fields=["processed", *_set_counters(job, counts)])
    except ValidationError as exc:
        job.message = " ".join(exc.messages)
        job.finished_at = timezone.now()
        job.save(update_fields=["message", "finished_at"])
        raise
    _record_outcomes(job, batch, start=written + 1)
    written += len(batch)
    job.total = job.processed = written
    fields = _set_counters(job, counts)
    job.finished_at = timezone.now()
    job.message = _summary(counts)
    job.save(update_fields=["total", *fields, "processed", "finished_at", "message"])
    unmatched = counts.get(Outcome.NO_MATCH, 0)
    if (mapping.synch_after_bulk_coupling and job.coupled) or (mapping.create_new_in_case_of_no_match and unmatched):
        _synchronize_after(mapping, job)
    return job


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{Outcome(k).label}: {v}" for k, v in counts.items() if v)


def _synchronize_after(mapping: IntegrationTableMapping, job: Any) -> None:
    """Synchronize after coupling and mark the unmatched records that now have a counterpart as Created."""

    try:
        synchronize_mapping(mapping=mapping, full=True)
    except SynchronizationNotPossible as exc:
        job.message = f"{job.message}. Synchronization after coupling could not run: {exc}"
        job.save(update_fields=["message"])
        return
    coupled_now = couplings_for_mapping(mapping).filter(bc_id=OuterRef("bc_id"))
    created = job.coupling_log.filter(outcome=Outcome.NO_MATCH).filter(Exists(coupled_now)).update(
        outcome=Outcome.CREATED, message="No row matched; the counterpart was created.")
    if created:
        job.inserted = created
        counts = dict(job.coupling_log.order_by().values("outcome").annotate(n=Count("id")).values_list("outcome", "n"))
        job.message = _summary(counts)
        job.save(update_fields=["inserted", "message"])
