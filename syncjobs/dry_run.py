"""Dry runs of a full synchronization or of one mapping: start one on a worker, run it, read its rows (improvement on
BC, whose page 5331 "Dataverse Full Synch. Review" only recommends, and whose match-based coupling preview covers
coupling only).

A dry run reads both sides as the real run does and decides, transfers and couples with the engine itself
(:mod:`syncjobs.engine.dry_run`), but writes nothing outside its own rows: no Dataverse or BC write, no coupling, no
watermark, no skipped record, no synchronization job. A database guard refuses any other write while it plans
(:func:`writes_refused`), so a table rule that would write is a failed dry run, never a silent change. It takes no
lease and waits for none: a real run of the same mapping may go on meanwhile (the dry run then shows the state it
read).

The full synchronization's dry run takes the review's lines as Sync All would (BC: table 5373 "CRM Full Synch.
Review Line", Start and FindLinesThatCanBeStarted): the lines not started yet, in dependency order, a Couple Records
line as match-based coupling followed by the full synchronization (as :func:`syncjobs.runner.execute_job_queue_entry`
runs it), and carries the couplings planned by earlier lines to later ones.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import django_rq
from django.core.exceptions import ValidationError
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Count, Min, QuerySet
from django.utils import timezone

from connections.clients.errors import ClientError
from connections.models import ConnectionSetup
from mappings.models import CouplingLogEntry, Direction, IntegrationTableMapping
from syncjobs.engine import SynchronizationNotPossible, clients_for, integration_user_id
from syncjobs.engine.dry_run import DryRunPlan, PlannedRow, plan_mapping, plan_match_based_coupling
from syncjobs.models import DryRun, DryRunRow, FullSyncReviewLine, JobQueueEntry
from syncjobs.review import OPTION_MAPPINGS, applicable_mappings, count_tables, initial_synch_recommendation
from syncjobs.runner import review_match_criteria
from syncjobs.services import connection_require_enabled

logger = logging.getLogger(__name__)

#: The RQ task that runs a dry run, by dotted path (enqueued on the ``default`` queue, not ``sync``: a dry run never
#: holds up the real runs' workers).
DRY_RUN_TASK = "syncjobs.tasks_dry_run.run_dry_run"
DRY_RUN_QUEUE = "default"
#: Seconds a dry run may take on its worker (a 20,000-record catalogue reads for minutes).
DRY_RUN_TIMEOUT = 4 * 3600
#: Rows stored per database round trip (memory stays flat whatever the number of records).
ROW_BATCH = 500

Recommendation = FullSyncReviewLine.Recommendation
Action = DryRunRow.Action


class DryRunWriteRefused(Exception):
    """Something tried to write to the database during a dry run (the statement is refused and named)."""


def dry_run_start(*, connection: ConnectionSetup, mapping: IntegrationTableMapping | None = None, full: bool = True,
                  requested_by: str = "") -> DryRun:
    """Queue a dry run of the connection's full synchronization (``mapping`` None) or of one mapping (``full``: as a
    full synchronization, else as its next scheduled run) and return it (Queued); the RQ task
    :data:`DRY_RUN_TASK` is enqueued when the transaction commits.

    Raises ``syncjobs.services.ConnectionDisabled`` on a disabled connection (like Run Now and Sync All) and
    ValueError when the mapping belongs to another connection.
    """
    connection_require_enabled(connection=connection)
    if mapping is not None and mapping.connection_id != connection.pk:
        raise ValueError(f"Mapping {mapping.name} belongs to another connection than {connection.name}.")
    with transaction.atomic():
        dry_run = DryRun.objects.create(connection=connection, table_mapping=mapping,
                                        full=True if mapping is None else full, requested_by=requested_by[:150])
        django_rq.get_queue(DRY_RUN_QUEUE).enqueue_call(DRY_RUN_TASK, args=(dry_run.pk,),
                                                        job_id=f"dry-run-{dry_run.pk}", timeout=DRY_RUN_TIMEOUT)
    return dry_run


@contextmanager
def writes_refused(allowed: tuple[str, ...]) -> Iterator[None]:
    """Refuse every INSERT, UPDATE or DELETE of this thread's database connection except on the tables ``allowed``
    (raises :class:`DryRunWriteRefused` naming the statement); reads and savepoints pass."""

    def guard(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        words = sql.lstrip().split(None, 3)
        verb = words[0].upper() if words else ""
        if verb in ("INSERT", "UPDATE", "DELETE"):
            target = words[2] if verb in ("INSERT", "DELETE") and len(words) > 2 else words[1] if len(words) > 1 else ""
            if target.strip('"`') not in allowed:
                raise DryRunWriteRefused(f"A dry run does not write, but the engine tried: {sql[:160]}")
        return execute(sql, params, many, context)

    with db_connection.execute_wrapper(guard):
        yield


class _RowWriter:
    """Stores planned rows :data:`ROW_BATCH` at a time and keeps ``rows_planned`` current."""

    def __init__(self, dry_run: DryRun) -> None:
        self.dry_run = dry_run
        self.buffer: list[DryRunRow] = []
        self.sequence = 0

    def __call__(self, row: PlannedRow) -> None:
        self.sequence += 1
        self.buffer.append(DryRunRow(
            dry_run=self.dry_run, sequence=self.sequence, mapping_name=row.mapping, direction=row.direction,
            action=row.action, source_table=row.source_table, source_id=row.source_id,
            source_name=row.source_name[:250], destination_table=row.destination_table,
            destination_id=row.destination_id, destination_name=row.destination_name[:250],
            changes=[list(change) for change in row.changes], message=row.message,
        ))
        if len(self.buffer) >= ROW_BATCH:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            DryRunRow.objects.bulk_create(self.buffer)
            self.buffer = []
        DryRun.objects.filter(pk=self.dry_run.pk).update(rows_planned=self.sequence)


def dry_run_execute(*, dry_run_id: int) -> DryRun | None:
    """Run the queued dry run ``dry_run_id`` (on a worker) and return it finished, or failed with the reason (never
    raises for a failure of the run itself); None when it no longer exists. A dry run that is not Queued (already
    taken by another delivery) is left alone."""
    taken = DryRun.objects.filter(pk=dry_run_id, status=DryRun.Status.QUEUED).update(
        status=DryRun.Status.RUNNING, started_at=timezone.now())
    dry_run = DryRun.objects.select_related("connection", "table_mapping").filter(pk=dry_run_id).first()
    if dry_run is None or not taken:
        return dry_run
    writer = _RowWriter(dry_run)
    note = ""
    try:
        bc_client, dv_client = clients_for(dry_run.connection)
        plan = DryRunPlan.for_clients(bc_client=bc_client, dv_client=dv_client, sink=writer,
                                      integration_user_id=integration_user_id(dry_run.connection, dv_client))
        with writes_refused((DryRunRow._meta.db_table, DryRun._meta.db_table)):
            if dry_run.table_mapping is not None:
                plan_mapping(mapping=dry_run.table_mapping, plan=plan, full=dry_run.full)
            else:
                note = plan_full_synchronization(connection=dry_run.connection, plan=plan)
            writer.flush()
    except (SynchronizationNotPossible, ClientError, ValidationError, DryRunWriteRefused) as exc:
        writer.flush()
        return _finish(dry_run, DryRun.Status.FAILED, " ".join(getattr(exc, "messages", [])) or str(exc))
    except Exception as exc:  # recorded on the dry run: RQ would only log it
        logger.exception("dry run %s failed", dry_run.pk)
        writer.flush()
        return _finish(dry_run, DryRun.Status.FAILED, f"{exc.__class__.__name__}: {exc}")
    return _finish(dry_run, DryRun.Status.FINISHED, note)


def _finish(dry_run: DryRun, status: str, message: str) -> DryRun:
    dry_run.status = status
    dry_run.message = message[:4000]
    dry_run.finished_at = timezone.now()
    dry_run.rows_planned = DryRunRow.objects.filter(dry_run=dry_run).count()
    dry_run.save(update_fields=["status", "message", "finished_at", "rows_planned"])
    return dry_run


@dataclass
class PlannedLine:
    """A review line as the dry run of Sync All takes it: name, mapping, recommendation, the names of its
    dependencies, whether it is removed from the run, and its job queue entry status ("" = not started)."""

    name: str
    mapping: IntegrationTableMapping
    recommendation: str
    dependencies: list[str]
    excluded: bool = False
    status: str = ""


def review_lines_for_dry_run(*, connection: ConnectionSetup, bc_client: Any = None,
                             dv_client: Any = None) -> list[PlannedLine]:
    """The review's lines, or, when the review has none yet, the lines Sync All would generate (counted through the
    clients ``bc_client`` / ``dv_client``, built from the connection when None; stored nowhere). Raises the
    clients' ClientError when a side cannot be counted."""
    stored = list(FullSyncReviewLine.objects.filter(connection=connection).select_related("table_mapping"))
    if stored:
        return [PlannedLine(line.name, line.table_mapping, line.recommendation,
                            [n.strip() for n in line.dependency_filter.split("|") if n.strip()], line.excluded,
                            line.job_queue_entry_status) for line in stored]
    lines = []
    for mapping in applicable_mappings(connection=connection):
        recommendation = initial_synch_recommendation(mapping_name=mapping.name, counts=count_tables(
            mapping=mapping, bc=bc_client, dataverse=dv_client))
        lines.append(PlannedLine(mapping.name, mapping, recommendation,
                                 [n.strip() for n in mapping.dependency_filter.split("|") if n.strip()]))
    return lines


def plan_full_synchronization(*, connection: ConnectionSetup, plan: DryRunPlan) -> str:
    """Plan Sync All: the lines not started yet, wave by wave in dependency order (a line runs once every line it
    depends on has finished or found no records). A line that could not run at all gets one Fail row with the reason
    and the lines waiting for it one Skip row each. When every line has started already, all active lines are
    planned as after Reset. Returns a note naming the lines left out, "" when none."""
    lines = review_lines_for_dry_run(connection=connection, bc_client=plan.bc_client, dv_client=plan.dv_client)
    active = [line for line in lines if not line.excluded and line.recommendation != Recommendation.NO_RECORDS_FOUND]
    left_out = [line for line in active if line.status]
    note = ""
    if active and len(left_out) == len(active):
        note = "Every line of the review has started already; planned as after Reset (recommendations kept)."
        left_out = []
    elif left_out:
        note = ("Left out, as Sync All leaves them: " + ", ".join(f"{line.name} ({line.status})" for line in left_out)
                + ".")
    names = {line.name for line in lines if not line.excluded}
    done = {line.name for line in lines if line.recommendation == Recommendation.NO_RECORDS_FOUND or (
        line.status == JobQueueEntry.Status.FINISHED and line in left_out)}
    pending = [line for line in active if line not in left_out]
    failed: dict[str, str] = {}
    while pending:
        wave = [line for line in pending if all(d in done or d not in names for d in line.dependencies)]
        if not wave:
            break
        for line in wave:
            pending.remove(line)
            try:
                plan_review_line(line=line, plan=plan)
            except (SynchronizationNotPossible, ClientError, ValidationError) as exc:
                reason = " ".join(getattr(exc, "messages", [])) or str(exc)
                failed[line.name] = reason
                plan.add(PlannedRow(mapping=line.name, direction=line.mapping.direction, action=Action.FAIL,
                                    source_table=line.mapping.table, source_name=f"the {line.name} line",
                                    message=f"The line could not run: {reason}"))
            else:
                done.add(line.name)
    for line in pending:
        waits = [d for d in line.dependencies if d in names and d not in done]
        reasons = ", ".join(f"{d}, which {'would fail' if d in failed else 'has not finished'}" for d in waits)
        plan.add(PlannedRow(mapping=line.name, direction=line.mapping.direction, action=Action.SKIP,
                            source_table=line.mapping.table, source_name=f"the {line.name} line",
                            message=f"The line would wait for {reasons}."))
    return note


def plan_review_line(*, line: PlannedLine, plan: DryRunPlan) -> None:
    """Plan one review line as its job queue entry runs (:func:`syncjobs.runner.execute_job_queue_entry`): a Couple
    Records line couples by match first, then synchronizes as the mapping's flags say; any other line is a full
    synchronization. Raises SynchronizationNotPossible, ValidationError or the clients' ClientError."""
    mapping = line.mapping
    if line.recommendation != Recommendation.COUPLE_RECORDS or mapping.name in OPTION_MAPPINGS:
        plan_mapping(mapping=mapping, plan=plan, full=True)
        return
    outcomes = Counter(plan_match_based_coupling(mapping=mapping, criteria=review_match_criteria(mapping), plan=plan))
    Outcome = CouplingLogEntry.Outcome
    if not (mapping.synch_after_bulk_coupling or mapping.create_new_in_case_of_no_match) or (
            mapping.synch_after_bulk_coupling and outcomes[Outcome.COUPLED]) or (
            mapping.create_new_in_case_of_no_match and outcomes[Outcome.NO_MATCH]):
        plan_mapping(mapping=mapping, plan=plan, full=True)


# --- reading a dry run -----------------------------------------------------------------------------------------------


def dry_run_rows(*, dry_run: DryRun, mapping_name: str = "", action: str = "") -> QuerySet[DryRunRow]:
    """The rows of a dry run in planned order, filtered by mapping name and action when given."""
    rows = DryRunRow.objects.filter(dry_run=dry_run)
    if mapping_name:
        rows = rows.filter(mapping_name=mapping_name)
    if action:
        rows = rows.filter(action=action)
    return rows.order_by("sequence")


@dataclass(frozen=True)
class DryRunSummary:
    """Counts of a dry run's rows: ``by_action`` {action: count} (every action, 0 when none), ``by_mapping`` a list of
    (mapping name, {action: count}) in planned order, ``total``."""

    by_action: dict[str, int]
    by_mapping: list[tuple[str, dict[str, int]]]
    total: int


def dry_run_summary(*, dry_run: DryRun) -> DryRunSummary:
    """Count a dry run's rows per action and per mapping (one grouped query)."""
    by_action = dict.fromkeys(Action.values, 0)
    mappings: dict[str, dict[str, int]] = {}
    first: dict[str, int] = {}
    grouped = (DryRunRow.objects.filter(dry_run=dry_run).values("mapping_name", "action")
               .annotate(n=Count("id"), first=Min("sequence")).order_by())
    for entry in grouped:
        by_action[entry["action"]] = by_action.get(entry["action"], 0) + entry["n"]
        mappings.setdefault(entry["mapping_name"], dict.fromkeys(Action.values, 0))[entry["action"]] = entry["n"]
        first[entry["mapping_name"]] = min(first.get(entry["mapping_name"], entry["first"]), entry["first"])
    ordered = sorted(mappings.items(), key=lambda item: first[item[0]])
    return DryRunSummary(by_action=by_action, by_mapping=ordered, total=sum(by_action.values()))


#: The CSV columns of a dry run.
CSV_HEADER = ["Sequence", "Mapping", "Direction", "Action", "Source table", "Source id", "Source name",
              "Destination table", "Destination id", "Destination name", "Changes", "Message"]


def _cell(value: Any) -> str:
    """A CSV cell; text starting with = + @ is prefixed with ' so a spreadsheet does not run it as a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "@") else text


def changes_text(changes: list[Any]) -> str:
    """``field: old → new`` per change, joined with "; " (an Insert's values as ``field: new``)."""
    parts = []
    for name, old, new in changes:
        parts.append(f"{name}: {new}" if old in (None, "") else f"{name}: {old} → {new}")
    return "; ".join(parts)


def dry_run_csv_rows(*, dry_run: DryRun, mapping_name: str = "", action: str = "") -> Iterator[list[str]]:
    """The header, then one list of cells per row (streamed from the database in chunks)."""
    yield CSV_HEADER
    directions = dict(Direction.choices)
    for row in dry_run_rows(dry_run=dry_run, mapping_name=mapping_name, action=action).iterator(chunk_size=2000):
        yield [_cell(v) for v in (row.sequence, row.mapping_name, directions.get(row.direction, row.direction),
                                  row.action, row.source_table, row.source_id, row.source_name,
                                  row.destination_table, row.destination_id, row.destination_name,
                                  changes_text(row.changes), row.message)]
