"""One pass of one integration table mapping in one direction (BC: codeunit 5340 "CRM Integration Table Synch.",
SynchNAVTableToCRM / SynchCRMTableToNAV; reference 6.1-6.6).

A pass

1. writes its SynchronizationJob row before the first remote call, counts the records it will look at, and
   updates ``processed`` and the counters after every committed batch (a crash loses at most the batch in flight;
   ``resume_token`` says where a re-run continues);
2. re-processes the couplings that failed last time and are not skipped, first (reference 6.2);
3. streams the source page by page in modified-on order. Improvement on BC: it re-reads an *overlap window*
   (:data:`OVERLAP_SECONDS`) before the watermark, so a record modified in the same second as the previous run's
   last record is never missed; the coupling's stored modified-on de-duplicates what was already synchronized;
4. on every inbound (Dataverse -> BC) pass leaves out rows last modified by the integration user (improvement on
   BC, which filters only bidirectional mappings without one-way inbound fields, reference 6.5);
5. decides per record (:mod:`.decision`), transfers the fields (:mod:`.transfer`), and writes in batches
   (:mod:`.writers`). Before a Dataverse create the engine generates the row's id and commits a *pending* coupling,
   so a create whose answer was lost is repeated as an upsert of the same id, never a duplicate;
6. marks failures on the coupling: a permanent failure on the same record in two consecutive runs marks it skipped
   (reference 6.4, "two-strike"); transient failures (network, timeout, 429, 5xx, lock) never count;
7. advances the mapping's watermark to the newest modified-on it saw, capped at the pass start (reference 6.2).
"""
from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any
from uuid import UUID

from django.db import connections, router, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from connections.clients.errors import ClientError, PermanentError
from mappings.models import Coupling, Direction, IntegrationTableMapping
from syncjobs.engine import rules as sales_rules
from syncjobs.engine.decision import DATAVERSE_PRECISION, Action, comparable, decide, last_result
from syncjobs.engine.errors import RecordFailure, SynchronizationNotPossible
from syncjobs.engine.schema import BCTableInfo, DVTableInfo, bc_info, dv_info
from syncjobs.engine.transfer import (
    FieldRule,
    Resolver,
    bc_to_dataverse,
    changed_columns,
    changed_properties,
    dataverse_row_value,
    dataverse_to_bc,
    field_rules,
    to_web_api,
    values_equal,
)
from syncjobs.engine.writers import BusinessCentralWriter, DataverseWriter, Write, failure_from
from syncjobs.models import JobQueueEntry, SynchronizationError, SynchronizationJob

#: Seconds re-read before the watermark on every incremental pass (same-second changes, clock skew).
OVERLAP_SECONDS = 5
#: Default number of records per write batch (Dataverse bulk message / BC $batch is capped at 100).
DEFAULT_BATCH_SIZE = 500
#: Records per page when reading a source: Dataverse's maximum (protocols.md B7); for BC (maximum 20,000, D8) the
#: same, which keeps a worker's memory flat whatever the table size.
READ_PAGE_SIZE_BC = 5000
READ_PAGE_SIZE_DATAVERSE = 5000
#: Ids per ``id eq … or …`` filter when looking up destination rows.
ID_FILTER_CHUNK = 50
#: Couplings per statement when saving a batch's results (well under SQLite's and PostgreSQL's parameter limits).
SAVE_CHUNK = 1000

TO = Direction.TO_INTEGRATION_TABLE
FROM = Direction.FROM_INTEGRATION_TABLE


def odata_datetime(value: datetime) -> str:
    """An OData datetime literal in UTC: ``2024-05-01T10:00:00.123Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_modified(value: Any) -> datetime | None:
    """A service timestamp (ISO 8601, UTC) as an aware datetime; None when absent."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    parsed = parse_datetime(str(value).replace("Z", "+00:00"))
    if parsed is not None and timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _and(*parts: str) -> str:
    present = [p.strip() for p in parts if p and p.strip()]
    if len(present) <= 1:
        return present[0] if present else ""
    return " and ".join(f"({p})" for p in present)


@dataclass
class Counters:
    """Per-batch counters added to the job (reference 6.6)."""

    inserted: int = 0
    modified: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    coupled: int = 0
    uncoupled: int = 0


@dataclass
class Item:
    """One source record on its way through a batch."""

    row: dict[str, Any]
    source_id: UUID
    modified: datetime | None
    label: str
    coupling: Coupling | None
    action: Action = Action.IGNORE
    reason: str = ""
    destination: dict[str, Any] | None = None
    write: Write | None = None
    failure: RecordFailure | None = None
    new_coupling: bool = False
    restore: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class Pass(ABC):
    """One direction of one mapping; see the module docstring. Use :meth:`run`."""

    direction: str = TO

    def __init__(self, *, mapping: IntegrationTableMapping, bc_client: Any, dv_client: Any, full: bool = False,
                 batch_size: int | None = None, job_queue_entry: JobQueueEntry | None = None,
                 only_source_ids: list[UUID] | None = None, force: bool | None = None,
                 integration_user_id: UUID | None = None,
                 progress: Callable[[SynchronizationJob], None] | None = None) -> None:
        self.mapping = mapping
        self.connection = mapping.connection
        self.bc_client = bc_client
        self.dv_client = dv_client
        self.full = full
        self.batch_size = batch_size or DEFAULT_BATCH_SIZE
        self.job_queue_entry = job_queue_entry
        self.only_source_ids = only_source_ids
        self.force = full if force is None else force
        # Full synchronization = BC's temporary copy with "synch. only coupled records" off (reference 11).
        self.only_coupled = mapping.synch_only_coupled_records and not full and only_source_ids is None
        self.integration_user_id = integration_user_id
        self.progress = progress
        self.counters = Counters()
        self.seen: set[UUID] = set()
        self.max_modified: datetime | None = None
        self.job: SynchronizationJob | None = None
        self.write_started = timezone.now()
        self.bc: BCTableInfo
        self.dv: DVTableInfo
        self.rules: list[FieldRule]
        self.resolver = Resolver(connection=self.connection, bc_client=bc_client, dv_client=dv_client)

    # -- the job row ----------------------------------------------------------------------------------------
    def _start_job(self) -> SynchronizationJob:
        self.job = SynchronizationJob.objects.create(
            table_mapping=self.mapping, direction=self.direction, full_synchronization=self.full,
            job_queue_entry=self.job_queue_entry,
        )
        return self.job

    def _save_job(self, *fields: str) -> None:
        assert self.job is not None
        self.job.save(update_fields=list(fields))

    def _commit_counters(self, processed: int, resume: dict[str, Any] | None) -> None:
        job = self.job
        assert job is not None
        for name in ("inserted", "modified", "deleted", "unchanged", "skipped", "failed", "coupled", "uncoupled"):
            setattr(job, name, getattr(job, name) + getattr(self.counters, name))
        self.counters = Counters()
        job.processed += processed
        if resume is not None:
            job.resume_token = resume
        self._save_job("inserted", "modified", "deleted", "unchanged", "skipped", "failed", "coupled", "uncoupled",
                       "processed", "resume_token")
        if self.progress is not None:
            self.progress(job)

    def allowed(self) -> bool:
        """Whether the mapping's direction allows this pass (reference 6.1)."""
        return self.mapping.direction in (Direction.BIDIRECTIONAL, self.direction)

    def run(self) -> SynchronizationJob:
        """Run the pass; returns its finished job. Raises SynchronizationNotPossible (after recording the reason on
        the job) when the pass cannot run at all."""
        job = self._start_job()
        started = job.started_at
        if not self.allowed():
            job.message = f"Mapping {self.mapping.name} is not configured for direction {self.direction}."
            job.finished_at = timezone.now()
            self._save_job("message", "finished_at")
            return job
        try:
            self.bc = bc_info(self.mapping.table)
            self.dv = dv_info(self.mapping.integration_table)
            self.rules = field_rules(self.mapping, self.direction, self.dv)
            resume = self._take_over_interrupted()
            self._run(resume)
        except SynchronizationNotPossible as exc:
            self._fail_job(str(exc))
            raise
        except ClientError as exc:
            # Reading the source or the couplings' counterparts failed after the client's retries: the pass cannot
            # go on; what was committed stays committed and the next run resumes.
            self._fail_job(str(exc))
            raise SynchronizationNotPossible(str(exc)) from exc
        self._advance_watermark(started)
        job.finished_at = timezone.now()
        job.resume_token = {}
        if not job.message:
            job.message = self._summary()
        self._save_job("finished_at", "resume_token", "message")
        return job

    def _summary(self) -> str:
        job = self.job
        assert job is not None
        return (f"{job.inserted} inserted, {job.modified} modified, {job.unchanged} unchanged, {job.skipped} skipped, "
                f"{job.failed} failed")

    def _fail_job(self, message: str) -> None:
        job = self.job
        assert job is not None
        job.could_not_run = True
        job.message = message[:2000]
        job.finished_at = timezone.now()
        self._save_job("could_not_run", "message", "finished_at")

    def _take_over_interrupted(self) -> dict[str, Any]:
        """The resume token of an interrupted earlier pass of this mapping and direction (crashed worker), which
        this pass continues; the interrupted job is closed with a message naming this one."""
        if self.only_source_ids is not None:
            return {}
        previous = (
            SynchronizationJob.objects.filter(
                table_mapping=self.mapping, direction=self.direction, finished_at__isnull=True,
                full_synchronization=self.full,
            ).exclude(pk=self.job.pk if self.job else None).order_by("-started_at").first()
        )
        if previous is None:
            return {}
        token = dict(previous.resume_token or {})
        previous.finished_at = timezone.now()
        previous.message = f"Interrupted; resumed by synchronization job {self.job.pk if self.job else ''}."
        previous.save(update_fields=["finished_at", "message"])
        return token

    def _advance_watermark(self, started: datetime) -> None:
        if self.only_source_ids is not None or self.max_modified is None:
            return
        new = min(self.max_modified, started)
        field_name = "synch_int_tbl_mod_on_fltr" if self.direction == TO else "synch_modified_on_filter"
        current = getattr(self.mapping, field_name)
        if current is None or new > current:
            IntegrationTableMapping.objects.filter(pk=self.mapping.pk).update(**{field_name: new})
            setattr(self.mapping, field_name, new)

    def watermark(self) -> datetime | None:
        """The watermark this pass reads from (None on a full synchronization)."""
        if self.full:
            return None
        if self.direction == TO:
            return self.mapping.synch_int_tbl_mod_on_fltr
        return self.mapping.synch_modified_on_filter

    # -- the loop -------------------------------------------------------------------------------------------
    def _run(self, resume: dict[str, Any]) -> None:
        job = self.job
        assert job is not None
        since = self.watermark()
        read_from = since - timedelta(seconds=OVERLAP_SECONDS) if since is not None else None
        resume_from = parse_modified(resume.get("modified")) if resume else None
        self.resume_after: tuple[datetime, str] | None = None
        if resume_from is not None and (read_from is None or resume_from >= read_from):
            # continue after the last committed record in (modified-on, key) order
            self.resume_after = (resume_from, str(resume.get("key") or ""))
            read_from = None
        if self.only_source_ids is None:
            try:
                job.total = self.count_source(read_from)
            except PermanentError:
                job.total = None  # the service cannot count this set: progress shows records handled only
            self._save_job("total")
            failed_first = self.failed_couplings()
            for chunk in _chunks(self.fetch_by_ids(failed_first), self.batch_size):
                self.process(chunk, resume=None)
            if since is not None and read_from is not None and self._previous_read_settled(since):
                # The previous pass read this table at least OVERLAP_SECONDS after its watermark: nothing can
                # still commit with an older modified-on, so no overlap window is needed.
                self.after = since
                read_from = None
            if since is not None and read_from is not None and self.has_modified():
                # The overlap window is read as keys and modified-ons only; just the records not synchronized at that
                # time are fetched in full (a table whose records share one timestamp stays cheap to re-read).
                pending = self.overlap_keys(read_from, since)
                for chunk in _chunks(self.fetch_by_ids(pending), self.batch_size):
                    self.process(chunk, resume=None)
                self.after = since
                read_from = None
            rows = self.iter_source(read_from)
        else:
            job.total = len(self.only_source_ids)
            self._save_job("total")
            rows = self.fetch_by_ids(self.only_source_ids)
        for chunk in _chunks(rows, self.batch_size):
            self.process(chunk, resume=None, remember=False)

    def has_modified(self) -> bool:
        """Whether the source table has a modified-on (document lines in BC have none)."""
        return True

    def _previous_read_settled(self, since: datetime) -> bool:
        """Whether the last completed pass of this mapping and direction started reading at least
        :data:`OVERLAP_SECONDS` after the watermark ``since`` (so records modified up to the watermark were all
        committed when it read them)."""
        previous = (SynchronizationJob.objects.filter(table_mapping=self.mapping, direction=self.direction,
                                                      finished_at__isnull=False, could_not_run=False)
                    .exclude(pk=self.job.pk if self.job else None).order_by("-started_at")
                    .values_list("started_at", flat=True).first())
        return previous is not None and previous - since >= timedelta(seconds=OVERLAP_SECONDS)

    def _since_filter(self, modified: str, read_from: datetime | None) -> str:
        after = getattr(self, "after", None)
        if after is not None:
            return f"{modified} gt {odata_datetime(after)}"
        return f"{modified} ge {odata_datetime(read_from)}" if read_from else ""

    def overlap_keys(self, read_from: datetime, since: datetime) -> list[UUID]:
        """Source ids modified in the overlap window [``read_from``, ``since``] that were not synchronized at that
        modified-on (or failed, or are uncoupled while uncoupled records are created)."""
        wanted: list[UUID] = []
        for chunk in _chunks(self.iter_keys(read_from, since), 5000):
            ids = [self.source_id(row) for row in chunk]
            couplings = self.couplings_for(ids)
            for row, source_id in zip(chunk, ids, strict=True):
                coupling = couplings.get(source_id)
                if coupling is None:
                    if not self.only_coupled:
                        wanted.append(source_id)
                    continue
                stored = (coupling.last_synch_modified_on if self.direction == TO
                          else coupling.last_synch_crm_modified_on)
                modified = self.source_modified(row)
                if (coupling.is_pending or stored is None or modified is None
                        or modified > comparable(stored, self.direction)
                        or last_result(coupling, self.direction) == Coupling.Result.FAILURE):
                    wanted.append(source_id)
        return wanted

    @abstractmethod
    def iter_keys(self, read_from: datetime, since: datetime) -> Iterator[dict[str, Any]]:
        """Key and modified-on of the source records modified between ``read_from`` and ``since`` (inclusive)."""

    def _resume_filter(self, modified: str, key: str) -> str:
        """Records after the last committed one of an interrupted pass, in (modified-on, key) order."""
        after = getattr(self, "resume_after", None)
        if after is None:
            return ""
        stamp = odata_datetime(after[0])
        if not after[1]:
            return f"{modified} ge {stamp}"
        return f"{modified} gt {stamp} or ({modified} eq {stamp} and {key} gt {after[1]})"

    def failed_couplings(self) -> list[UUID]:
        """Source ids of couplings whose last result in this direction failed and that are not skipped (6.2)."""
        result_field = "last_synch_crm_result" if self.direction == TO else "last_synch_result"
        id_field = "bc_id" if self.direction == TO else "dataverse_id"
        return list(
            Coupling.objects.filter(
                connection=self.connection, bc_table=self.mapping.table, dataverse_table=self.mapping.integration_table,
                skipped=False, **{result_field: Coupling.Result.FAILURE},
            ).values_list(id_field, flat=True)
        )

    def couplings_for(self, ids: list[UUID]) -> dict[UUID, Coupling]:
        """The couplings of the given source ids, keyed by source id (one query per batch)."""
        id_field = "bc_id" if self.direction == TO else "dataverse_id"
        couplings = Coupling.objects.filter(
            connection=self.connection, bc_table=self.mapping.table, dataverse_table=self.mapping.integration_table,
            **{f"{id_field}__in": ids},
        )
        return {getattr(c, id_field): c for c in couplings}

    def process(self, rows: list[dict[str, Any]], *, resume: dict[str, Any] | None, remember: bool = True) -> None:
        """Decide, transfer and write one batch of source rows, then commit couplings and counters together.
        ``remember`` keeps the ids so the stream that follows skips them (the stream itself needs no memory)."""
        items: list[Item] = []
        last_modified: datetime | None = None
        for row in rows:
            source_id = self.source_id(row)
            modified = self.source_modified(row)
            if modified is not None:
                last_modified = modified if last_modified is None else max(last_modified, modified)
                self.max_modified = modified if self.max_modified is None else max(self.max_modified, modified)
            if source_id in self.seen:
                continue  # read twice in one pass (failed-first or overlap, then in the stream): done already
            if remember:
                self.seen.add(source_id)
            if not self.select(row):
                continue
            items.append(Item(row=row, source_id=source_id, modified=modified, label=self.label(row), coupling=None))
        couplings = self.couplings_for([item.source_id for item in items])
        for item in items:
            item.coupling = couplings.get(item.source_id)
        self.decide_all(items)
        self.prepare_writes(items)
        self.write_all(items)
        # Bi-directional orders: lines deleted on one side are deleted on the other (reference 8.2).
        sales_rules.reconcile_order_lines(self, items)
        with transaction.atomic():
            self.record_results(items)
            token = None
            if last_modified is not None and self.only_source_ids is None and rows:
                token = {"modified": last_modified.isoformat(), "key": str(self.source_id(rows[-1]))}
            self._commit_counters(len(rows), token)

    # -- decisions ------------------------------------------------------------------------------------------
    def decide_all(self, items: list[Item]) -> None:
        """Look up the destinations that matter (changed coupled records) and decide each record."""
        need: list[Item] = []
        for item in items:
            coupling = item.coupling
            if coupling is None or coupling.skipped and not self.force or coupling.is_pending:
                continue
            stored = coupling.last_synch_modified_on if self.direction == TO else coupling.last_synch_crm_modified_on
            changed = (self.force or stored is None or item.modified is None
                       or item.modified > comparable(stored, self.direction)
                       or last_result(coupling, self.direction) == Coupling.Result.FAILURE)
            if changed:
                need.append(item)
        destinations = self.fetch_destinations([self.destination_id(item.coupling) for item in need if item.coupling])
        looked_up = {item.source_id for item in need}
        for item in items:
            exists: bool | None = None
            changed = False
            if item.source_id in looked_up and item.coupling is not None:
                item.destination = destinations.get(self.destination_id(item.coupling))
                exists = item.destination is not None
                # A manual "Synchronize now" names the winning side: no update conflict (reference 11).
                changed = exists and self.only_source_ids is None and self.destination_changed(item)
            decision = decide(mapping=self.mapping, direction=self.direction, coupling=item.coupling,
                              source_modified=item.modified, destination_exists=exists,
                              destination_changed=bool(changed), only_coupled=self.only_coupled, force=self.force)
            item.action, item.reason = decision.action, decision.reason
            if item.action == Action.CONFLICT and item.modified is None and not self.force:
                # A source without a modified-on (BC document lines) is not known to have changed: the other
                # side's change wins and its own pass brings it over (reference 8.2, SOLINE-ORDERDETAIL).
                item.action = Action.IGNORE
            if item.action == Action.INSERT and item.coupling is None:
                skip = self.insert_rule_skip(item)
                if skip:
                    item.action = Action.IGNORE

    def _overlap_echo(self, item: Item) -> bool:
        since = self.watermark()
        return since is not None and item.modified is not None and item.modified <= since

    def insert_rule_skip(self, item: Item) -> bool:
        """Whether a Sales rule keeps an uncoupled record from being created (reference 4.B)."""
        return False

    # -- writes ---------------------------------------------------------------------------------------------
    def prepare_writes(self, items: list[Item]) -> None:
        """Transfer the fields of every record to write and build its :class:`Write`."""
        for item in items:
            if item.action == Action.RESTORE:
                item.restore = True
                item.action = Action.INSERT
            if item.action not in (Action.INSERT, Action.MODIFY, Action.FORCE_MODIFY, Action.CONFLICT):
                continue
            try:
                payload = self.transfer(item)
                self.build_write(item, payload)
            except RecordFailure as failure:
                item.failure = failure
                if item.action == Action.INSERT and (item.coupling is None or item.restore):
                    item.extra["keep_failed_insert"] = True
                item.action = Action.FAIL
        self.before_write([item for item in items if item.write is not None])

    def before_write(self, items: list[Item]) -> None:
        """Hook run once per batch before writing (pending couplings are committed here); nothing by default."""
        return None

    def write_all(self, items: list[Item]) -> None:
        """Write the batch; a failed row fails only its record."""
        writes = [item for item in items if item.write is not None]
        if not writes:
            return
        self.write_started = timezone.now()
        results = self.writer().write([item.write for item in writes if item.write is not None])
        for item, failure in zip(writes, results, strict=True):
            if failure is not None:
                item.failure = failure
                item.action = Action.FAIL
        self.after_write([item for item in writes if item.failure is None])

    def after_write(self, items: list[Item]) -> None:
        """Hook run once per batch after the writes that succeeded (Sales rules); nothing by default."""
        return None

    # -- results --------------------------------------------------------------------------------------------
    def record_results(self, items: list[Item]) -> None:
        """Count every record and store coupling state and errors (inside the batch's transaction)."""
        now = timezone.now()
        errors: list[SynchronizationError] = []
        successes: list[tuple[Coupling, tuple[str, ...]]] = []
        for item in items:
            action = item.action
            if action == Action.IGNORE:
                continue
            if action == Action.SKIP:
                if not self._overlap_echo(item) or self.force:
                    self.counters.skipped += 1
                continue
            if action == Action.REMOVE_COUPLING:
                if item.coupling is not None and item.coupling.pk:
                    item.coupling.delete()
                self.counters.uncoupled += 1
                continue
            if action == Action.FAIL:
                self.counters.failed += 1
                if item.extra.get("keep_failed_insert"):
                    # A record that could not even be created keeps a pending coupling, so the next run retries it
                    # first and the two-strike rule applies (never silently dropped behind the watermark).
                    item.coupling = self.pending_coupling_for_failed_insert(item)
                failure = item.failure or RecordFailure(
                    message=f"{item.label}: {item.reason}",
                    fix=self.fix_for(item.reason),
                    conflict=SynchronizationError.Conflict.DELETION if "deleted" in item.reason else "",
                )
                errors.append(self.mark_failed(item, failure))
                continue
            coupling = item.coupling
            if coupling is None:
                continue
            if action == Action.UNCHANGED:
                if not self._overlap_echo(item) or self.force:
                    self.counters.unchanged += 1  # re-read in the overlap window and unchanged: not counted
            elif action == Action.INSERT:
                self.counters.inserted += 1
            else:
                self.counters.modified += 1
            successes.append((coupling, tuple(self.mark_success(item, now))))
        save_couplings(successes)
        if errors:
            SynchronizationError.objects.bulk_create(errors)

    def pending_coupling_for_failed_insert(self, item: Item) -> Coupling:
        """A pending coupling for a record whose create failed before it was sent (new ids on the other side)."""
        if item.coupling is not None and item.coupling.pk:
            item.coupling.delete()
        bc_id, dv_id = (item.source_id, uuid.uuid4()) if self.direction == TO else (uuid.uuid4(), item.source_id)
        job_field = "last_synch_crm_job_id" if self.direction == TO else "last_synch_job_id"
        return Coupling.objects.create(
            connection=self.connection, bc_table=self.mapping.table, bc_id=bc_id,
            dataverse_table=self.mapping.integration_table, dataverse_id=dv_id, is_pending=True,
            **{job_field: self.job.pk if self.job else None},
        )

    def fix_for(self, reason: str) -> str:
        """What to do about a decision's failure reason."""
        if "deleted" in reason:
            return ("choose Restore Records or Delete Records on the Coupled Data Synchronization Errors page, or set "
                    "the mapping's deletion-conflict resolution")
        return ("synchronize the record choosing the winning side on the Coupled Data Synchronization Errors page, or "
                "set the mapping's update-conflict resolution")

    @abstractmethod
    def mark_success(self, item: Item, now: datetime) -> list[str]:
        """Set the success on the coupling: result, job, both sides' modified-on (reference 6.3 step 9). Returns the
        names of the fields set; :meth:`record_results` saves the batch's couplings together (:func:`save_couplings`).
        """

    def mark_failed(self, item: Item, failure: RecordFailure) -> SynchronizationError:
        """Store the failure on the coupling (two-strike rule, reference 6.4) and return the error row."""
        coupling = item.coupling
        assert self.job is not None
        if coupling is not None and coupling.pk:
            result_field = "last_synch_crm_result" if self.direction == TO else "last_synch_result"
            job_field = "last_synch_crm_job_id" if self.direction == TO else "last_synch_job_id"
            failed_before = (getattr(coupling, result_field) == Coupling.Result.FAILURE
                             and getattr(coupling, job_field) not in (None, self.job.pk))
            setattr(coupling, result_field, Coupling.Result.FAILURE)
            setattr(coupling, job_field, self.job.pk)
            fields = [result_field, job_field]
            if not failure.transient:
                coupling.failure_count = coupling.failure_count + 1
                fields.append("failure_count")
                previous = (SynchronizationError.objects.filter(coupling=coupling, direction=self.direction)
                            .exclude(job=self.job).order_by("-created_at", "-id").first()) if failed_before else None
                if previous is not None and not previous.transient:
                    # The same direction failed permanently in the previous run too: skip (two strikes, 6.4).
                    coupling.skipped = True
                    fields.append("skipped")
            coupling.save(update_fields=fields)
        source_table, destination_table = (
            (self.mapping.table, self.mapping.integration_table) if self.direction == TO
            else (self.mapping.integration_table, self.mapping.table)
        )
        destination_id = ""
        if coupling is not None:
            destination_id = str(coupling.dataverse_id if self.direction == TO else coupling.bc_id)
        return SynchronizationError(
            job=self.job, coupling=coupling if coupling is not None and coupling.pk else None,
            direction=self.direction, source_table=source_table, source_id=str(item.source_id),
            source_name=item.label[:250], destination_table=destination_table,
            destination_id="" if coupling is not None and coupling.is_pending and self.direction == FROM
            else destination_id,
            field_name=failure.field_name[:100], message=failure.message, fix=failure.fix,
            transient=failure.transient, exception_detail=failure.detail, conflict=failure.conflict,
        )

    # -- per-direction pieces -------------------------------------------------------------------------------
    @abstractmethod
    def source_id(self, row: dict[str, Any]) -> UUID:
        """Per direction."""

    @abstractmethod
    def source_modified(self, row: dict[str, Any]) -> datetime | None:
        """Per direction."""

    @abstractmethod
    def label(self, row: dict[str, Any]) -> str:
        """Per direction."""

    def select(self, row: dict[str, Any]) -> bool:
        """Whether a source row takes part at all (Sales rules; reference 4.B)."""
        return True

    @abstractmethod
    def destination_id(self, coupling: Coupling | None) -> UUID:
        """Per direction."""

    @abstractmethod
    def count_source(self, read_from: datetime | None) -> int:
        """Per direction."""

    @abstractmethod
    def iter_source(self, read_from: datetime | None) -> Iterator[dict[str, Any]]:
        """Per direction."""

    @abstractmethod
    def fetch_by_ids(self, ids: list[UUID]) -> Iterator[dict[str, Any]]:
        """Per direction."""

    @abstractmethod
    def fetch_destinations(self, ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
        """Per direction."""

    @abstractmethod
    def destination_changed(self, item: Item) -> bool:
        """Per direction."""

    @abstractmethod
    def transfer(self, item: Item) -> dict[str, Any]:
        """Per direction."""

    @abstractmethod
    def build_write(self, item: Item, payload: dict[str, Any]) -> None:
        """Per direction."""

    @abstractmethod
    def writer(self) -> Any:
        """Per direction."""


def save_couplings(updates: list[tuple[Coupling, tuple[str, ...]]]) -> None:
    """Save the named fields of many couplings in a few statements (one ``UPDATE`` per coupling made a full
    synchronization spend most of its time in the database): couplings that set the same fields are grouped, and per
    group of up to :data:`SAVE_CHUNK` couplings the fields holding one value for all of them are written by one
    ``UPDATE ... WHERE id IN (...)`` and the others by one prepared ``UPDATE ... WHERE id = %s`` executed per coupling
    (:func:`_update_each`). ``updates`` holds (saved coupling, field names); call it inside the batch's transaction so
    the batch's couplings and counters commit together."""
    groups: dict[tuple[str, ...], list[Coupling]] = {}
    for coupling, fields in updates:
        groups.setdefault(fields, []).append(coupling)
    for fields, couplings in groups.items():
        for chunk in _chunks(couplings, SAVE_CHUNK):
            constant: dict[str, Any] = {}
            varying: list[str] = []
            for name in fields:
                first = getattr(chunk[0], name)
                if all(getattr(coupling, name) == first for coupling in chunk):
                    constant[name] = first
                else:
                    varying.append(name)
            if constant:
                Coupling.objects.filter(pk__in=[coupling.pk for coupling in chunk]).update(**constant)
            if varying:
                _update_each(chunk, varying)


def insert_couplings(couplings: list[Coupling]) -> None:
    """Insert new (unsaved) couplings in one transaction and set their ids: one prepared ``INSERT`` executed per row,
    then one query for the ids by (connection, Dataverse table, Dataverse id), which is unique
    (``coupling_row_unique``). The same rows as ``bulk_create``, which compiled the SQL value by value and took a
    third of the engine's own time in a full synchronization. Raises ``IntegrityError`` (nothing inserted) when one
    of the couplings exists already."""
    if not couplings:
        return
    alias = router.db_for_write(Coupling)
    connection = connections[alias]
    quote = connection.ops.quote_name
    fields = [field for field in Coupling._meta.concrete_fields if not field.primary_key]
    sql = (f"INSERT INTO {quote(Coupling._meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    params = [[field.get_db_prep_save(field.pre_save(coupling, True), connection) for field in fields]
              for coupling in couplings]
    groups: dict[tuple[Any, str], list[UUID]] = {}
    for coupling in couplings:
        groups.setdefault((coupling.connection_id, coupling.dataverse_table), []).append(coupling.dataverse_id)
    ids: dict[tuple[Any, str, UUID], int] = {}
    with transaction.atomic(using=alias):
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)
        for (connection_id, table), dataverse_ids in groups.items():
            for chunk in _chunks(dataverse_ids, SAVE_CHUNK):
                rows = Coupling.objects.using(alias).filter(
                    connection_id=connection_id, dataverse_table=table, dataverse_id__in=chunk,
                ).values_list("dataverse_id", "pk")
                ids.update(((connection_id, table, dataverse_id), pk) for dataverse_id, pk in rows)
    for coupling in couplings:
        coupling.pk = ids[(coupling.connection_id, coupling.dataverse_table, coupling.dataverse_id)]
        coupling._state.adding = False
        coupling._state.db = alias


def _update_each(couplings: list[Coupling], names: list[str]) -> None:
    """``UPDATE ... SET <names> WHERE id = %s`` once per coupling through one ``executemany`` (one prepared statement;
    Django's ``bulk_update`` builds a ``CASE WHEN`` expression per row and field, which cost more than the rows'
    own saves at 1,000 couplings per batch)."""
    connection = connections[router.db_for_write(Coupling)]
    quote = connection.ops.quote_name
    fields = [Coupling._meta.get_field(name) for name in names]
    pk = Coupling._meta.pk
    assert pk is not None
    sql = (f"UPDATE {quote(Coupling._meta.db_table)} SET "
           + ", ".join(f"{quote(field.column)} = %s" for field in fields)
           + f" WHERE {quote(pk.column)} = %s")
    params = [[field.get_db_prep_save(getattr(coupling, field.attname), connection) for field in fields]
              + [coupling.pk] for coupling in couplings]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _id_filter(column: str, ids: list[UUID]) -> str:
    return " or ".join(f"{column} eq {i}" for i in ids)


class ToIntegrationPass(Pass):
    """BC -> Dataverse (SynchNAVTableToCRM, reference 6.2)."""

    direction = TO

    def source_id(self, row: dict[str, Any]) -> UUID:
        return UUID(str(row[self.bc.key]))

    def source_modified(self, row: dict[str, Any]) -> datetime | None:
        return parse_modified(row.get(self.bc.modified)) if self.bc.modified else None

    def label(self, row: dict[str, Any]) -> str:
        value = row.get(self.bc.natural_key) or row.get(self.bc.name_property) or row.get(self.bc.key)
        return f"{self.mapping.table} {value}"

    def select(self, row: dict[str, Any]) -> bool:
        return (sales_rules.bc_record_selected(self.mapping, row, self.bc)
                and sales_rules.line_of_coupled_document(self, row))

    def destination_id(self, coupling: Coupling | None) -> UUID:
        assert coupling is not None
        return coupling.dataverse_id

    def has_modified(self) -> bool:
        return bool(self.bc.modified)

    def _source_filter(self, read_from: datetime | None) -> str:
        if not self.bc.modified:  # a table without a modified-on (document lines): compared field by field
            return self.mapping.table_filter
        return _and(self.mapping.table_filter, self._since_filter(self.bc.modified, read_from),
                    self._resume_filter(self.bc.modified, self.bc.key))

    def iter_keys(self, read_from: datetime, since: datetime) -> Iterator[dict[str, Any]]:
        window = (f"{self.bc.modified} ge {odata_datetime(read_from)} and "
                  f"{self.bc.modified} le {odata_datetime(since)}")
        return self.bc_client.iter_rows(self.bc.entity_set, filter=_and(self.mapping.table_filter, window),
                                        select=[self.bc.key, self.bc.modified], page_size=20000, api=self.bc.api)

    def count_source(self, read_from: datetime | None) -> int:
        return self.bc_client.count(self.bc.entity_set, filter=self._source_filter(read_from) or None, api=self.bc.api)

    def iter_source(self, read_from: datetime | None) -> Iterator[dict[str, Any]]:
        return self.bc_client.iter_rows(
            self.bc.entity_set, filter=self._source_filter(read_from) or None,
            orderby=",".join(p for p in (self.bc.modified, self.bc.key) if p),
            page_size=READ_PAGE_SIZE_BC,
            api=self.bc.api,
        )

    def fetch_by_ids(self, ids: list[UUID]) -> Iterator[dict[str, Any]]:
        for chunk in _chunks(ids, ID_FILTER_CHUNK):
            yield from self.bc_client.iter_rows(self.bc.entity_set, filter=_id_filter(self.bc.key, chunk),
                                                api=self.bc.api)

    def _dv_select(self) -> list[str]:
        columns = {self.dv.primary_id, self.dv.modified_on, "_modifiedby_value"}
        for rule in self.rules:
            if rule.destination in self.dv.columns and not rule.destination.endswith("idtype"):
                columns.add(self.dv.read_name(rule.destination))
        return sorted(columns)

    def fetch_destinations(self, ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
        found: dict[UUID, dict[str, Any]] = {}
        for chunk in _chunks(ids, ID_FILTER_CHUNK):
            for row in self.dv_client.iter_rows(self.dv.entity_set, select=self._dv_select(),
                                                filter=_id_filter(self.dv.primary_id, chunk)):
                found[UUID(str(row[self.dv.primary_id]))] = row
        return found

    def destination_changed(self, item: Item) -> bool:
        """The Dataverse row changed since the last synchronization by someone other than the integration user."""
        row, coupling = item.destination, item.coupling
        if row is None or coupling is None:
            return False
        modified = parse_modified(row.get(self.dv.modified_on))
        stored = coupling.last_synch_crm_modified_on
        by = row.get("_modifiedby_value")
        if self.integration_user_id and by and UUID(str(by)) == self.integration_user_id:
            return False
        return stored is not None and modified is not None and modified > stored - DATAVERSE_PRECISION

    def transfer(self, item: Item) -> dict[str, Any]:
        payload = bc_to_dataverse(item.row, rules=self.rules, bc=self.bc, dv=self.dv, resolver=self.resolver,
                                  record=item.label)
        return sales_rules.to_dataverse_payload(self, item, payload)

    def build_write(self, item: Item, payload: dict[str, Any]) -> None:
        try:
            self._build_write(item, payload)
        except ClientError as error:  # a Sales rule's lookup failed: this record fails, the others go on
            raise failure_from(error, item.label, "Preparing") from error

    def _build_write(self, item: Item, payload: dict[str, Any]) -> None:
        if item.action == Action.INSERT:
            if item.coupling is not None and item.coupling.is_pending and not item.restore:
                key = item.coupling.dataverse_id
            else:
                key = uuid.uuid4()
            body = {**self.mapping.int_tbl_config_template, **payload} if isinstance(
                self.mapping.int_tbl_config_template, dict) else payload
            body = sales_rules.new_dataverse_row(self, item, body)
            key = item.extra.get("key", key)  # a Sales rule adopted an existing row (a unit group's base unit)
            item.extra["payload"] = body
            item.write = Write("insert", key, to_web_api(body, self.dv, entity_sets=self.entity_set_of), item.label)
            return
        changed = changed_columns(payload, item.destination, self.dv)
        if item.action == Action.CONFLICT:
            conflict = self._conflicting_field(item, payload)
            if conflict:
                raise RecordFailure(
                    message=f"{item.label}: both Business Central and Dataverse changed {conflict} since the last "
                            "synchronization (update conflict)",
                    field_name=conflict,
                    fix="synchronize the record choosing the winning side on the Coupled Data Synchronization "
                        "Errors page, or set the mapping's update-conflict resolution",
                    conflict=SynchronizationError.Conflict.UPDATE,
                )
            item.action = Action.MODIFY
        if not changed:
            item.action = Action.UNCHANGED
            return
        item.extra["payload"] = changed
        assert item.coupling is not None
        item.write = Write("update", item.coupling.dataverse_id,
                           to_web_api(changed, self.dv, entity_sets=self.entity_set_of), item.label)

    def _conflicting_field(self, item: Item, payload: dict[str, Any]) -> str:
        for rule in self.rules:
            if rule.bidirectional and rule.destination in payload and item.destination is not None:
                if not values_equal(payload[rule.destination],
                                    dataverse_row_value(item.destination, rule.destination, self.dv)):
                    return f"{rule.source} / {rule.destination}"
        return ""

    def entity_set_of(self, logical_name: str) -> str:
        """Entity set of a lookup target (catalogue first, EntityDefinitions otherwise)."""
        try:
            return dv_info(logical_name).entity_set
        except SynchronizationNotPossible:
            return self.dv_client.entity_set(logical_name)

    def before_write(self, items: list[Item]) -> None:
        """Commit a pending coupling for every create before the request is sent (lost-answer safety)."""
        sales_rules.before_dataverse_write(self, items)  # submitted orders set Active (reference 8.1)
        items = [item for item in items if item.write is not None]
        new: list[Coupling] = []
        for item in items:
            assert item.write is not None
            if item.write.kind != "insert":
                continue
            if item.coupling is not None and item.coupling.is_pending and not item.restore:
                continue
            if item.coupling is not None and item.coupling.pk:
                item.coupling.delete()  # Restore Records: the coupling of the deleted row goes (reference 6.3 step 3)
            coupling = Coupling(
                connection=self.connection, bc_table=self.mapping.table, bc_id=item.source_id,
                dataverse_table=self.mapping.integration_table, dataverse_id=item.write.key, is_pending=True,
                last_synch_crm_job_id=self.job.pk if self.job else None,
            )
            item.coupling = coupling
            item.new_coupling = True
            new.append(coupling)
        insert_couplings(new)

    def writer(self) -> DataverseWriter:
        return DataverseWriter(self.dv_client, logical_name=self.dv.logical_name, entity_set=self.dv.entity_set,
                               primary_id=self.dv.primary_id, batch_size=self.batch_size)

    def after_write(self, items: list[Item]) -> None:
        try:
            sales_rules.after_dataverse_write(self, items)
        except ClientError as error:
            # The rows landed but their price list items did not: fail them so the next run repeats both (upserts).
            for item in items:
                item.failure = failure_from(error, item.label, "Creating the price list item of")
                item.action = Action.FAIL
            return
        for item in items:
            if item.action == Action.INSERT and item.coupling is not None:
                code = str(item.row.get(self.bc.natural_key) or "")
                self.resolver.remember(bc_table=self.mapping.table, bc_id=item.source_id, code=code,
                                       dataverse_table=self.mapping.integration_table,
                                       dataverse_id=item.coupling.dataverse_id)

    def mark_success(self, item: Item, now: datetime) -> list[str]:
        coupling = item.coupling
        assert coupling is not None and self.job is not None
        if item.modified is not None and (coupling.last_synch_modified_on is None
                                          or item.modified > coupling.last_synch_modified_on):
            coupling.last_synch_modified_on = item.modified
        if item.write is not None:
            # Bulk messages do not return the rows' new modifiedon: store when the write was sent. A user's later
            # change has a modifiedon of that second or later, which the 999 ms rule still sees as a change.
            coupling.last_synch_crm_modified_on = self.write_started
        coupling.last_synch_crm_result = Coupling.Result.SUCCESS
        coupling.last_synch_crm_job_id = self.job.pk
        coupling.is_pending = False
        coupling.failure_count = 0
        return ["last_synch_modified_on", "last_synch_crm_modified_on", "last_synch_crm_result",
                "last_synch_crm_job_id", "is_pending", "failure_count"]


class FromIntegrationPass(Pass):
    """Dataverse -> BC (SynchCRMTableToNAV, reference 6.2), leaving out the integration user's own changes."""

    direction = FROM

    def source_id(self, row: dict[str, Any]) -> UUID:
        return UUID(str(row[self.dv.primary_id]))

    def source_modified(self, row: dict[str, Any]) -> datetime | None:
        return parse_modified(row.get(self.dv.modified_on))

    def label(self, row: dict[str, Any]) -> str:
        name = row.get(self.dv.primary_name) if self.dv.primary_name else None
        return f"{self.mapping.integration_table} {name or row.get(self.dv.primary_id)}"

    def destination_id(self, coupling: Coupling | None) -> UUID:
        assert coupling is not None
        return coupling.bc_id

    def select(self, row: dict[str, Any]) -> bool:
        return sales_rules.dataverse_record_selected(self, row)

    def watermark(self) -> datetime | None:
        if sales_rules.reads_every_row(self):
            return None  # order lines: all lines of coupled orders are compared (reference 8.2)
        return super().watermark()

    def _select(self) -> list[str]:
        columns = {self.dv.primary_id, self.dv.modified_on, "_modifiedby_value",
                   *sales_rules.extra_dataverse_columns(self)}
        if self.dv.primary_name and self.dv.primary_name in self.dv.columns:
            columns.add(self.dv.primary_name)
        for rule in self.rules:
            if rule.source:
                columns.add(self.dv.read_name(rule.source))
        return sorted(columns)

    def _echo_filter(self) -> str:
        return f"_modifiedby_value ne {self.integration_user_id}" if self.integration_user_id else ""

    def _source_filter(self, read_from: datetime | None) -> str:
        return _and(self.mapping.integration_table_filter, self._since_filter(self.dv.modified_on, read_from),
                    self._echo_filter(), self._resume_filter(self.dv.modified_on, self.dv.primary_id))

    def iter_keys(self, read_from: datetime, since: datetime) -> Iterator[dict[str, Any]]:
        window = (f"{self.dv.modified_on} ge {odata_datetime(read_from)} and "
                  f"{self.dv.modified_on} le {odata_datetime(since)}")
        return self.dv_client.iter_rows(
            self.dv.entity_set, select=[self.dv.primary_id, self.dv.modified_on],
            filter=_and(self.mapping.integration_table_filter, window, self._echo_filter()), page_size=5000)

    def count_source(self, read_from: datetime | None) -> int:
        return self.dv_client.count(self.dv.entity_set, filter=self._source_filter(read_from) or None)

    def iter_source(self, read_from: datetime | None) -> Iterator[dict[str, Any]]:
        return self.dv_client.iter_rows(
            self.dv.entity_set, select=self._select(), filter=self._source_filter(read_from) or None,
            orderby=f"{self.dv.modified_on} asc,{self.dv.primary_id} asc",
            page_size=READ_PAGE_SIZE_DATAVERSE,
        )

    def fetch_by_ids(self, ids: list[UUID]) -> Iterator[dict[str, Any]]:
        for chunk in _chunks(ids, ID_FILTER_CHUNK):
            yield from self.dv_client.iter_rows(self.dv.entity_set, select=self._select(),
                                                filter=_id_filter(self.dv.primary_id, chunk))

    def fetch_destinations(self, ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
        found: dict[UUID, dict[str, Any]] = {}
        for chunk in _chunks(ids, ID_FILTER_CHUNK):
            for row in self.bc_client.iter_rows(self.bc.entity_set, filter=_id_filter(self.bc.key, chunk),
                                                api=self.bc.api):
                found[UUID(str(row[self.bc.key]))] = row
        return found

    def destination_changed(self, item: Item) -> bool:
        """The BC record changed since the last synchronization (our own writes store its new modified-on)."""
        row, coupling = item.destination, item.coupling
        if row is None or coupling is None:
            return False
        modified = parse_modified(row.get(self.bc.modified))
        stored = coupling.last_synch_modified_on
        return stored is not None and modified is not None and modified > stored

    def transfer(self, item: Item) -> dict[str, Any]:
        payload = dataverse_to_bc(item.row, rules=self.rules, bc=self.bc, dv=self.dv, resolver=self.resolver,
                                  record=item.label)
        payload = {prop: value for prop, value in payload.items() if prop not in self.bc.read_only}
        return sales_rules.to_bc_payload(self, item, payload)

    def build_write(self, item: Item, payload: dict[str, Any]) -> None:
        if item.action == Action.INSERT:
            body = {**(self.mapping.table_config_template or {}), **payload}
            item.write = Write("insert", None, body, item.label)
            return
        changed = changed_properties(payload, item.destination)
        if item.action == Action.CONFLICT:
            for rule in self.rules:
                prop = self.bc.prop(rule.destination)
                if rule.bidirectional and prop in changed:
                    raise RecordFailure(
                        message=f"{item.label}: both Dataverse and Business Central changed {rule.source} / "
                                f"{rule.destination} since the last synchronization (update conflict)",
                        field_name=rule.destination,
                        fix="synchronize the record choosing the winning side on the Coupled Data Synchronization "
                            "Errors page, or set the mapping's update-conflict resolution",
                        conflict=SynchronizationError.Conflict.UPDATE,
                    )
            item.action = Action.MODIFY
        if not changed:
            item.action = Action.UNCHANGED
            return
        assert item.coupling is not None and item.destination is not None
        item.write = Write("update", item.coupling.bc_id, changed, item.label,
                           etag=item.destination.get("@odata.etag", "*"))

    def before_write(self, items: list[Item]) -> None:
        """Commit a pending coupling (BC id not known yet) for every create before the request is sent."""
        sales_rules.before_bc_write(self, items)  # released orders reopened (reference 8.2)
        items = [item for item in items if item.write is not None]
        new: list[Coupling] = []
        for item in items:
            assert item.write is not None
            if item.write.kind != "insert" or (item.coupling is not None and item.coupling.is_pending):
                continue
            if item.coupling is not None and item.coupling.pk:
                item.coupling.delete()
            coupling = Coupling(
                connection=self.connection, bc_table=self.mapping.table, bc_id=uuid.uuid4(),
                dataverse_table=self.mapping.integration_table, dataverse_id=item.source_id, is_pending=True,
                last_synch_job_id=self.job.pk if self.job else None,
            )
            item.coupling = coupling
            item.new_coupling = True
            new.append(coupling)
        insert_couplings(new)

    def _find_existing(self, write: Write) -> dict[str, Any] | None:
        """A BC record created by an earlier attempt whose answer was lost: found by its natural key (``number``)
        when the payload carries one, else as a record modified since the pending coupling was written whose
        transferred fields all equal the payload (BC assigns numbers from a number series)."""
        pending_since = write.result.get("pending_since")
        if not pending_since:
            return None
        key = self.bc.natural_key
        value = write.body.get(key) if key else None
        if value not in (None, ""):
            escaped = str(value).replace("'", "''")
            for row in self.bc_client.iter_rows(self.bc.entity_set, filter=f"{key} eq '{escaped}'", api=self.bc.api):
                return row
            return None
        if not self.bc.modified:
            return None
        since = odata_datetime(pending_since - timedelta(seconds=OVERLAP_SECONDS))
        for row in self.bc_client.iter_rows(self.bc.entity_set, filter=f"{self.bc.modified} ge {since}",
                                            api=self.bc.api):
            if all(values_equal(v, row.get(p)) for p, v in write.body.items() if p in row):
                return row
        return None

    def write_all(self, items: list[Item]) -> None:
        for item in items:
            if item.write is not None and item.write.kind == "insert" and item.coupling is not None and (
                not item.new_coupling
            ):
                item.write.result = {"pending_since": item.coupling.created_at}
        super().write_all(items)

    def after_write(self, items: list[Item]) -> None:
        sales_rules.after_bc_write(self, items)  # changed orders released again (reference 8.2)

    def writer(self) -> BusinessCentralWriter:
        return BusinessCentralWriter(self.bc_client, entity_set=self.bc.entity_set, api=self.bc.api,
                                     batch_size=self.batch_size, find_existing=self._find_existing)

    def mark_success(self, item: Item, now: datetime) -> list[str]:
        coupling = item.coupling
        assert coupling is not None and self.job is not None
        fields = ["last_synch_modified_on", "last_synch_crm_modified_on", "last_synch_result", "last_synch_job_id",
                  "is_pending", "failure_count"]
        result = item.write.result if item.write is not None else {}
        if result.get(self.bc.key) and coupling.bc_id != UUID(str(result[self.bc.key])):
            coupling.bc_id = UUID(str(result[self.bc.key]))
            fields.append("bc_id")
        written = parse_modified(result.get(self.bc.modified))
        if written is not None:
            coupling.last_synch_modified_on = written  # so the next BC -> Dataverse pass does not echo it
        if item.modified is not None and (coupling.last_synch_crm_modified_on is None
                                          or item.modified > coupling.last_synch_crm_modified_on):
            # Dataverse's modifiedon has whole seconds and is compared with 999 ms subtracted (reference 11): the
            # exact value read is stored with that margin added, so the same row is not seen as changed again.
            coupling.last_synch_crm_modified_on = item.modified + DATAVERSE_PRECISION
        coupling.last_synch_result = Coupling.Result.SUCCESS
        coupling.last_synch_job_id = self.job.pk
        coupling.is_pending = False
        coupling.failure_count = 0
        return fields
