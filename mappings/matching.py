"""Match-based coupling (reference 6.8; BC: "Match Based Coupling Criteria" + "Int. Coupling Job Runner").

The criteria live where BC keeps them, on the mapping's integration field mappings (Use For Match-Based Coupling,
Case-Sensitive Matching, Match Priority) and the mapping's flags (Synch. After Match-Based Coupling, Create New in
Case of No Match). Fields with the same priority are matched together; groups are tried in ascending priority.

How a BC record is decided (the preview and the run share :func:`_outcomes`, so the preview equals the run on the
same data):
* the BC record is already coupled → ``AlreadyCoupled``;
* per priority group: the Dataverse rows (within the integration table filter) whose match columns equal the record's
  values — case-insensitively unless the field is case-sensitive; empty values never match. Exactly one row → coupled
  (or ``AlreadyCoupled`` naming the holder when that row is coupled to another record, including one coupled earlier
  in the same run); several rows → the next group is tried;
* no group gives exactly one row → ``SeveralMatches`` naming the rows when some group found several, else ``NoMatch``.

Dataverse rows are read once per run (id, name and match columns only) and indexed in memory, so a run makes a
fixed number of requests per page instead of one query per BC record.
"""
from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from mappings.catalogue import bc_table, dataverse_table
from mappings.models import Coupling, CouplingLogEntry, Direction, IntegrationFieldMapping, IntegrationTableMapping

logger = logging.getLogger(__name__)

Outcome = CouplingLogEntry.Outcome
NOT_COMPARABLE_BC_TYPES = {"guid"}


@dataclass(frozen=True)
class MatchCriterion:
    """One match field: the integration field mapping's id, case sensitivity and priority group (>= 0)."""

    field_mapping_id: int
    case_sensitive: bool = False
    priority: int = 0


@dataclass(frozen=True)
class MatchOutcome:
    """What match-based coupling does (or did) with one BC record."""

    bc_id: uuid.UUID
    bc_name: str
    outcome: str
    dataverse_id: uuid.UUID | None = None
    dataverse_name: str = ""
    message: str = ""

    @property
    def outcome_label(self) -> str:
        return Outcome(self.outcome).label


def eligible_field_mappings(mapping: IntegrationTableMapping) -> list[IntegrationFieldMapping]:
    """Field mappings usable for matching (reference 3.2: no constant; comparable types — no lookups/GUIDs)."""
    bc_side, dv_side = bc_table(mapping.table), dataverse_table(mapping.integration_table)
    eligible = []
    for field_mapping in mapping.field_mappings.order_by("sequence", "id"):
        if field_mapping.constant_value or not field_mapping.field_name or not field_mapping.integration_field_name:
            continue
        if not bc_side.has_field(field_mapping.field_name):
            continue
        column = dv_side.columns.get(field_mapping.integration_field_name)
        if column is None or column.is_lookup or column.type == "Uniqueidentifier":
            continue
        if bc_side.field(field_mapping.field_name).type in NOT_COMPARABLE_BC_TYPES:
            continue
        eligible.append(field_mapping)
    return eligible


def criteria_from_mapping(mapping: IntegrationTableMapping) -> list[MatchCriterion]:
    """The criteria saved on the mapping's field mappings (Use For Match-Based Coupling set)."""
    return [MatchCriterion(f.pk, f.case_sensitive_matching, f.match_priority)
            for f in mapping.field_mappings.filter(use_for_match_based_coupling=True).order_by("sequence", "id")]


def _check(mapping: IntegrationTableMapping, criteria: list[MatchCriterion]) -> list[list[tuple[Any, Any, bool]]]:
    """Resolve criteria to priority groups of (BCField, DataverseColumn, case_sensitive); raises ValidationError
    when a criterion is unusable."""
    if mapping.is_option_mapping:
        raise ValidationError(f"{mapping.name} maps option values, not rows; couple its values by synchronizing it "
                              "(option values are matched by their label).")
    if mapping.name == "SALESORDER-ORDER" and mapping.direction == Direction.BIDIRECTIONAL:
        raise ValidationError("Match-based coupling is not available for SALESORDER-ORDER with bidirectional sales "
                              "order integration (BC does not offer it either).")
    if not criteria:
        raise ValidationError("Choose at least one field to match on.")
    eligible = {f.pk: f for f in eligible_field_mappings(mapping)}
    bc_side, dv_side = bc_table(mapping.table), dataverse_table(mapping.integration_table)
    groups: dict[int, list[tuple[Any, Any, bool]]] = defaultdict(list)
    for criterion in criteria:
        field_mapping = eligible.get(criterion.field_mapping_id)
        if field_mapping is None:
            raise ValidationError(f"Field mapping {criterion.field_mapping_id} of {mapping.name} cannot be used for "
                                  "matching (constants, lookups and GUID fields are not comparable).")
        if criterion.priority < 0:
            raise ValidationError("Match priority must be 0 or more.")
        groups[criterion.priority].append((bc_side.field(field_mapping.field_name),
                                           dv_side.columns[field_mapping.integration_field_name],
                                           criterion.case_sensitive))
    return [groups[p] for p in sorted(groups)]


def _normalise(value: Any, case_sensitive: bool) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    return text if case_sensitive else text.casefold()


def _outcomes(mapping: IntegrationTableMapping, criteria: list[MatchCriterion], *, bc: Any = None,
              dataverse: Any = None) -> list[MatchOutcome]:
    """Decide every BC record of the mapping (within its table filter); writes nothing."""
    from connections.clients import business_central_client_for, dataverse_client_for
    from mappings.services import couplings_for_mapping

    groups = _check(mapping, criteria)
    connection = mapping.connection
    bc = bc or business_central_client_for(connection)
    dataverse = dataverse or dataverse_client_for(connection)
    bc_side, dv_side = bc_table(mapping.table), dataverse_table(mapping.integration_table)
    name_property = bc_side.field(bc_side.name_field).api_property
    number_property = bc_side.field(bc_side.number_field).api_property
    dv_columns = sorted({dv_side.primary_id, dv_side.primary_name} | {col.name for g in groups for _, col, _ in g})
    dv_rows = list(dataverse.iter_rows(dv_side.entity_set, select=dv_columns,
                                       filter=mapping.integration_table_filter or None))
    indexes: list[dict[tuple[str, ...], list[dict[str, Any]]]] = []
    for group in groups:
        index: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for row in dv_rows:
            key = tuple(_normalise(row.get(col.name), cs) for _, col, cs in group)
            if None not in key:
                index[key].append(row)  # type: ignore[index]
        indexes.append(index)
    coupled_bc = {c.bc_id: c for c in couplings_for_mapping(mapping)}
    holder_of_row = {c.dataverse_id: c for c in Coupling.objects.filter(
        connection=connection, dataverse_table=mapping.coupling_dataverse_table)}
    bc_properties = sorted({bc_side.key_property, name_property, number_property}
                           | {f.api_property for g in groups for f, _, _ in g})
    outcomes: list[MatchOutcome] = []
    for record in bc.iter_rows(bc_side.entity_set, filter=mapping.table_filter or None, select=bc_properties,
                               api=bc_side.api):
        bc_id = uuid.UUID(str(record[bc_side.key_property]))
        label = " ".join(dict.fromkeys(str(record.get(p) or "") for p in (number_property, name_property))).strip()
        if bc_id in coupled_bc:
            outcomes.append(MatchOutcome(bc_id, label, Outcome.ALREADY_COUPLED, coupled_bc[bc_id].dataverse_id,
                                         message="This record is already coupled."))
            continue
        several: list[dict[str, Any]] = []
        chosen: dict[str, Any] | None = None
        for group, index in zip(groups, indexes, strict=True):
            key = tuple(_normalise(record.get(f.api_property), cs) for f, _, cs in group)
            if None in key:
                continue
            rows = index.get(key, [])  # type: ignore[arg-type]
            if len(rows) == 1:
                chosen = rows[0]
                break
            if len(rows) > 1 and not several:
                several = rows
        if chosen is not None:
            dv_id = uuid.UUID(str(chosen[dv_side.primary_id]))
            dv_name = str(chosen.get(dv_side.primary_name) or "")
            holder = holder_of_row.get(dv_id)
            if holder is not None:
                outcomes.append(MatchOutcome(bc_id, label, Outcome.ALREADY_COUPLED, dv_id, dv_name,
                                             f"The matching row is already coupled to {holder.bc_table} "
                                             f"{holder.bc_id}."))
                continue
            holder_of_row[dv_id] = Coupling(bc_table=mapping.table, bc_id=bc_id)
            outcomes.append(MatchOutcome(bc_id, label, Outcome.COUPLED, dv_id, dv_name))
        elif several:
            names = ", ".join(f"{r.get(dv_side.primary_name) or ''} ({r[dv_side.primary_id]})" for r in several)
            outcomes.append(MatchOutcome(bc_id, label, Outcome.SEVERAL_MATCHES,
                                         message=f"{len(several)} rows match: {names}."))
        else:
            outcomes.append(MatchOutcome(bc_id, label, Outcome.NO_MATCH, message=(
                "No row matches; a counterpart will be created." if mapping.create_new_in_case_of_no_match
                else "No row matches.")))
    return outcomes


def _save_criteria(mapping: IntegrationTableMapping, criteria: list[MatchCriterion]) -> None:
    chosen = {c.field_mapping_id: c for c in criteria}
    for field_mapping in mapping.field_mappings.all():
        criterion = chosen.get(field_mapping.pk)
        values = (criterion is not None, bool(criterion and criterion.case_sensitive),
                  criterion.priority if criterion else 0)
        if (field_mapping.use_for_match_based_coupling, field_mapping.case_sensitive_matching,
                field_mapping.match_priority) != values:
            (field_mapping.use_for_match_based_coupling, field_mapping.case_sensitive_matching,
             field_mapping.match_priority) = values
            field_mapping.save(update_fields=["use_for_match_based_coupling", "case_sensitive_matching",
                                              "match_priority"])


def match_based_coupling_preview(*, mapping: IntegrationTableMapping, criteria: list[MatchCriterion],
                                 create_new_if_no_match: bool | None = None) -> list[MatchOutcome]:
    """What match-based coupling would do, record by record, without writing anything (remote reads only).

    Raises ``ValidationError`` for unusable criteria and the clients' ``ClientError`` when a side cannot be read.
    """
    if create_new_if_no_match is not None:
        mapping.create_new_in_case_of_no_match = create_new_if_no_match  # in memory only: the message says so
    return _outcomes(mapping, criteria)


def match_based_coupling_start(*, mapping: IntegrationTableMapping, criteria: list[MatchCriterion],
                               create_new_if_no_match: bool, synch_after: bool) -> Any:
    """Save the criteria (on the field mappings) and flags (on the mapping) and run match-based coupling on a worker
    (BC: MatchBasedCoupling → one-off job queue entry of "Int. Coupling Job Runner", category BCI INTEG, max 2
    attempts). Returns the JobQueueEntry (kind Coupling), claimed and enqueued when this transaction commits.
    Raises ``ValidationError`` for unusable criteria.
    """
    from syncjobs.models import JobQueueEntry
    from syncjobs.services import job_queue_entry_run_now

    _check(mapping, criteria)
    with transaction.atomic():
        _save_criteria(mapping, criteria)
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
    entry.refresh_from_db()
    return entry


def _record_outcomes(job: Any, outcomes: Iterable[MatchOutcome]) -> None:
    CouplingLogEntry.objects.bulk_create(
        CouplingLogEntry(job=job, sequence=i, bc_id=o.bc_id, bc_name=o.bc_name[:250], outcome=o.outcome,
                         dataverse_id=o.dataverse_id, dataverse_name=o.dataverse_name[:250], message=o.message)
        for i, o in enumerate(outcomes, start=1))


def match_based_coupling_run(*, mapping: IntegrationTableMapping, job_queue_entry: Any = None,
                             criteria: list[MatchCriterion] | None = None) -> Any:
    """Run match-based coupling now (on a worker) with the criteria saved on the mapping (or ``criteria``).

    Writes a SynchronizationJob of type Coupling before the first remote call, a coupling log line per BC record,
    and the coupled/failed/skipped counters. Afterwards, when the mapping says so (Synch. After Match-Based Coupling,
    or Create New in Case of No Match with unmatched records), synchronizes the mapping with the engine
    (``syncjobs.engine.synchronize_mapping(full=True)``: coupled records are transferred and uncoupled ones created,
    as BC's coupling job runner does). Returns the SynchronizationJob.
    """
    from mappings.services import CouplingConflict, coupling_create
    from syncjobs.models import SynchronizationJob

    criteria = criteria if criteria is not None else criteria_from_mapping(mapping)
    job = SynchronizationJob.objects.create(table_mapping=mapping, job_queue_entry=job_queue_entry,
                                            type=SynchronizationJob.Type.COUPLING,
                                            direction=Direction.TO_INTEGRATION_TABLE)
    try:
        outcomes = _outcomes(mapping, criteria)
    except ValidationError as exc:
        job.message = " ".join(exc.messages)
        job.finished_at = timezone.now()
        job.save(update_fields=["message", "finished_at"])
        raise
    job.total = len(outcomes)
    job.save(update_fields=["total"])
    final: list[MatchOutcome] = []
    for outcome in outcomes:
        if outcome.outcome == Outcome.COUPLED:
            try:
                coupling_create(connection=mapping.connection, bc_table=mapping.table, bc_id=outcome.bc_id,
                                dataverse_table=mapping.coupling_dataverse_table, dataverse_id=outcome.dataverse_id)
            except CouplingConflict as exc:
                outcome = MatchOutcome(outcome.bc_id, outcome.bc_name, Outcome.ALREADY_COUPLED, outcome.dataverse_id,
                                       outcome.dataverse_name, exc.messages[0])
        final.append(outcome)
    _record_outcomes(job, final)
    job.coupled = sum(o.outcome == Outcome.COUPLED for o in final)
    job.skipped = sum(o.outcome in (Outcome.ALREADY_COUPLED, Outcome.NO_MATCH, Outcome.SEVERAL_MATCHES)
                      for o in final)
    job.processed = len(final)
    job.finished_at = timezone.now()
    job.message = ", ".join(f"{Outcome(k).label}: {v}" for k, v in _counts(final).items())
    job.save(update_fields=["coupled", "skipped", "processed", "finished_at", "message"])
    unmatched = [o for o in final if o.outcome == Outcome.NO_MATCH]
    if (mapping.synch_after_bulk_coupling and job.coupled) or (mapping.create_new_in_case_of_no_match and unmatched):
        _synchronize_after(mapping, job, unmatched)
    return job


def _counts(outcomes: list[MatchOutcome]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
    return counts


def _synchronize_after(mapping: IntegrationTableMapping, job: Any, unmatched: list[MatchOutcome]) -> None:
    """Synchronize after coupling and mark the unmatched records that now have a counterpart as Created."""
    from mappings.services import couplings_for_mapping
    from syncjobs.engine import SynchronizationNotPossible, synchronize_mapping

    try:
        synchronize_mapping(mapping=mapping, full=True)
    except SynchronizationNotPossible as exc:
        job.message = f"{job.message}. Synchronization after coupling could not run: {exc}"
        job.save(update_fields=["message"])
        return
    created = set(couplings_for_mapping(mapping).filter(bc_id__in=[o.bc_id for o in unmatched])
                  .values_list("bc_id", flat=True))
    if created:
        job.coupling_log.filter(bc_id__in=created, outcome=Outcome.NO_MATCH).update(
            outcome=Outcome.CREATED, message="No row matched; the counterpart was created.")
        job.inserted = len(created)
        final = [MatchOutcome(o.bc_id, o.bc_name, Outcome.CREATED if o.bc_id in created else o.outcome)
                 for o in job.coupling_log.all()]
        job.message = ", ".join(f"{Outcome(k).label}: {v}" for k, v in _counts(final).items())
        job.save(update_fields=["inserted", "message"])
