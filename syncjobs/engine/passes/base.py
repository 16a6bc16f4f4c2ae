"""One pass of one integration table mapping in one direction: the base both directions share (BC: codeunit 5340
"CRM Integration Table Synch.", SynchNAVTableToCRM / SynchCRMTableToNAV; codeunit 5335 "Integration Table Synch.").

A pass

1. writes its SynchronizationJob row before the first remote call, counts the records it will look at, and
   updates ``processed`` and the counters after every committed batch (a crash loses at most the batch in flight;
   ``resume_token`` says where a re-run continues);
2. re-processes the couplings that failed last time and are not skipped, first (BC: couplings with Skipped = false
   and a failed last result are synchronized first);
3. streams the source page by page in modified-on order. Improvement on BC: it re-reads an *overlap window*
   (:data:`OVERLAP_SECONDS`) before the watermark, so a record modified in the same second as the previous run's
   last record is never missed; the coupling's stored modified-on de-duplicates what was already synchronized;
4. on every inbound (Dataverse -> BC) pass leaves out rows last modified by the integration user (improvement on
   BC, which adds its ModifiedBy filter only to bidirectional mappings without one-way inbound fields);
5. decides per record (:mod:`syncjobs.engine.decision`), transfers the fields (:mod:`syncjobs.engine.transfer`),
   lets the table rule adjust them (:mod:`syncjobs.engine.rules`), and writes in batches
   (:mod:`syncjobs.engine.writers`). Before a Dataverse create the engine generates the row's id and commits a
   *pending* coupling, so a create whose answer was lost is repeated as an upsert of the same id, never a duplicate;
6. marks failures on the coupling: a permanent failure on the same record in two consecutive runs marks it skipped
   (BC: table 5331 "CRM Integration Record", field Skipped, "two strikes"); transient failures (network, timeout,
   429, 5xx, lock) never count;
7. advances the mapping's watermark to the newest modified-on it saw, capped at the pass start (BC: table 5335
   "Integration Table Mapping", fields "Synch. Modified On Filter" and "Synch. Int. Tbl. Mod. On Fltr.").

The directions are :class:`syncjobs.engine.passes.to_integration.ToIntegrationPass` (BC -> Dataverse) and
:class:`syncjobs.engine.passes.from_integration.FromIntegrationPass` (Dataverse -> BC).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from connections.clients.errors import ClientError, PermanentError
from mappings.models import Coupling, Direction, IntegrationTableMapping
from syncjobs.engine.context import Counters, Item, PassContext
from syncjobs.engine.couplings import insert_couplings, record_name, save_couplings, set_record_names
from syncjobs.engine.decision import Action, comparable, decide, last_result
from syncjobs.engine.errors import RecordFailure, SynchronizationNotPossible
from syncjobs.engine.odata import chunks, odata_datetime, parse_modified
from syncjobs.engine.passes.failures import decision_failure, failure_row, pending_coupling_for_failed_insert
from syncjobs.engine.rules.registry import foreign_key_rules, rule_for
from syncjobs.engine.schema import BCTableInfo, DVTableInfo, bc_info, dv_info
from syncjobs.engine.transfer import FieldRule, Resolver, field_rules
from syncjobs.models import JobQueueEntry, SynchronizationError, SynchronizationJob

#: Seconds re-read before the watermark on every incremental pass (same-second changes, clock skew).
OVERLAP_SECONDS = 5
#: Default number of records per write batch (a Dataverse bulk message / BC $batch request is capped at 100 rows).
DEFAULT_BATCH_SIZE = 500
#: Records per page when reading a source: Dataverse's maximum (Microsoft Learn: "Page results using OData"); for BC
#: (maximum 20,000: "Server-Driven Paging in OData Web Services") the same, which keeps a worker's memory flat
#: whatever the table size.
READ_PAGE_SIZE_BC = 5000
READ_PAGE_SIZE_DATAVERSE = 5000
#: Ids per ``id eq … or …`` filter when looking up destination rows.
ID_FILTER_CHUNK = 50

TO = Direction.TO_INTEGRATION_TABLE
FROM = Direction.FROM_INTEGRATION_TABLE


class Pass(ABC):
    """One direction of one mapping; see the module docstring. Use :meth:`run`.

    ``mapping`` is the integration table mapping, ``bc_client`` / ``dv_client`` the BusinessCentralClient and
    DataverseClient of its connection. ``full`` is a full synchronization (all records; uncoupled ones created;
    coupled ones written even when unchanged), ``batch_size`` the records per committed batch (default
    :data:`DEFAULT_BATCH_SIZE`), ``only_source_ids`` restricts the pass to those source ids (no watermark, no
    resume), ``force`` writes records even when unchanged (default: ``full``), ``integration_user_id`` is the
    Dataverse user the engine writes as, ``progress`` is called with the job after every committed batch.
    """

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
        # Full synchronization = BC's temporary mapping copy with "Synch. Only Coupled Records" off (BC: codeunit
        # 5330 "CRM Integration Management", full synchronization).
        self.only_coupled = mapping.synch_only_coupled_records and not full and only_source_ids is None
        self.integration_user_id = integration_user_id
        self.progress = progress
        self.seen: set[UUID] = set()
        self.max_modified: datetime | None = None
        self.job: SynchronizationJob | None = None
        self.write_started = timezone.now()
        self.bc: BCTableInfo
        self.dv: DVTableInfo
        self.field_rules: list[FieldRule]
        self.ctx: PassContext
        self.rule = rule_for(mapping.table, mapping.integration_table, self.direction)
        self.resolver = Resolver(connection=self.connection, bc_client=bc_client, dv_client=dv_client,
                                 keys=foreign_key_rules(self.connection))
        #: Read only records modified after this (UTC) once the overlap window has been handled.
        self.after: datetime | None = None
        #: (modified-on, key) of the last record an interrupted pass committed; the stream continues after it.
        self.resume_after: tuple[datetime, str] | None = None
        #: How many records the pass will read, when the caller knows it (no ``$count`` request then).
        self.known_total: int | None = None

    @property
    def counters(self) -> Counters:
        """The counters of the batch in flight (kept on the context, where the table rules count too)."""
        return self.ctx.counters

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
        self.ctx.counters = Counters()
        job.processed += processed
        if resume is not None:
            job.resume_token = resume
        self._save_job("inserted", "modified", "deleted", "unchanged", "skipped", "failed", "coupled", "uncoupled",
                       "processed", "resume_token")
        if self.progress is not None:
            self.progress(job)

    def allowed(self) -> bool:
        """Whether the mapping's direction allows this pass (BC: a pass the mapping's Direction disallows ends at
        once with a message)."""
        return self.mapping.direction in (Direction.BIDIRECTIONAL, self.direction)

    def run(self) -> SynchronizationJob:
        """Run the pass; returns its finished job (counters, message, finished at, UTC). Raises
        SynchronizationNotPossible (after recording the reason on the job) when the pass cannot run at all: unknown
        table, no enabled field mapping, or a read the clients could not complete after their retries."""
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
            self.field_rules = field_rules(self.mapping, self.direction, self.dv)
            self.ctx = PassContext(
                mapping=self.mapping, connection=self.connection, direction=self.direction,
                bc_client=self.bc_client, dv_client=self.dv_client, bc=self.bc, dv=self.dv, resolver=self.resolver,
                integration_user_id=self.integration_user_id,
            )
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

    def _check_run_owned(self) -> None:
        """Before each batch: a run that holds a lease (``job_queue_entry.lease_owner`` set by the runner) stops when
        the entry no longer carries its claim and lease, because its lease expired and the dispatcher declared the
        run dead (the retry resumes from the committed batches). Raises SynchronizationNotPossible."""
        entry = self.job_queue_entry
        if entry is None or not entry.lease_owner:
            return
        owned = JobQueueEntry.objects.filter(pk=entry.pk, status=JobQueueEntry.Status.IN_PROCESS,
                                             rq_job_id=entry.rq_job_id, lease_owner=entry.lease_owner).exists()
        if not owned:
            raise SynchronizationNotPossible(
                f"The run of '{entry.description}' lost its lease (it was not renewed in time and the run was "
                "declared dead); the retry continues after the last committed batch."
            )

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
        self.resume_after = None
        if resume_from is not None and (read_from is None or resume_from >= read_from):
            # continue after the last committed record in (modified-on, key) order
            self.resume_after = (resume_from, str(resume.get("key") or ""))
            read_from = None
        if self.only_source_ids is None:
            try:
                # known_total: the change probe already read exactly this set (syncjobs/engine/probe.py).
                job.total = self.known_total if self.known_total is not None else self.count_source(read_from)
            except PermanentError:
                job.total = None  # the service cannot count this set: progress shows records handled only
            self._save_job("total")
            failed_first = self.failed_couplings()
            for chunk in chunks(self.fetch_by_ids(failed_first), self.batch_size):
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
                for chunk in chunks(self.fetch_by_ids(pending), self.batch_size):
                    self.process(chunk, resume=None)
                self.after = since
                read_from = None
            rows = self.iter_source(read_from)
        else:
            job.total = len(self.only_source_ids)
            self._save_job("total")
            rows = self.fetch_by_ids(self.only_source_ids)
        for chunk in chunks(rows, self.batch_size):
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
        """The ``$filter`` on the source's modified-on: after :attr:`after` once the overlap window is done, else
        from ``read_from`` (UTC); "" to read everything."""
        after = self.after
        if after is not None:
            return f"{modified} gt {odata_datetime(after)}"
        return f"{modified} ge {odata_datetime(read_from)}" if read_from else ""

    def overlap_keys(self, read_from: datetime, since: datetime) -> list[UUID]:
        """Source ids modified in the overlap window [``read_from``, ``since``] that were not synchronized at that
        modified-on (or failed, or are uncoupled while uncoupled records are created)."""
        wanted: list[UUID] = []
        for chunk in chunks(self.iter_keys(read_from, since), 5000):
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
        after = self.resume_after
        if after is None:
            return ""
        stamp = odata_datetime(after[0])
        if not after[1]:
            return f"{modified} ge {stamp}"
        return f"{modified} gt {stamp} or ({modified} eq {stamp} and {key} gt {after[1]})"

    def failed_couplings(self) -> list[UUID]:
        """Source ids of couplings whose last result in this direction failed and that are not skipped."""
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
        self._check_run_owned()
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
        self.rule.after_batch(self.ctx, items)  # e.g. bi-directional orders reconcile their deleted lines
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
                # A manual "Synchronize now" names the winning side: no update conflict.
                changed = exists and self.only_source_ids is None and self.destination_changed(item)
            decision = decide(mapping=self.mapping, direction=self.direction, coupling=item.coupling,
                              source_modified=item.modified, destination_exists=exists,
                              destination_changed=bool(changed), only_coupled=self.only_coupled, force=self.force)
            item.action, item.reason = decision.action, decision.reason
            if item.action == Action.CONFLICT and item.modified is None and not self.force:
                # A source without a modified-on (BC document lines) is not known to have changed: the other
                # side's change wins and its own pass brings it over (SOLINE-ORDERDETAIL).
                item.action = Action.IGNORE

    def _overlap_echo(self, item: Item) -> bool:
        since = self.watermark()
        return since is not None and item.modified is not None and item.modified <= since

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
                    item.keep_failed_insert = True
                item.action = Action.FAIL
        self.before_write([item for item in items if item.write is not None])

    def before_write(self, items: list[Item]) -> None:
        """Hook run once per batch before writing (pending couplings are committed here); nothing by default."""
        return None

    def insert_couplings(self, couplings: list[Coupling]) -> None:
        """Commit a batch's new pending couplings (:func:`syncjobs.engine.couplings.insert_couplings`); the seam a dry
        run (:mod:`syncjobs.engine.dry_run`) replaces to keep them in memory."""
        insert_couplings(couplings)

    def delete_coupling(self, coupling: Coupling) -> None:
        """Delete a coupling whose record is created again (Restore Records); a dry run only plans it."""
        coupling.delete()

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
        """Hook run once per batch after the writes that succeeded (the table rule's); nothing by default."""
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
                if item.keep_failed_insert:
                    # A record that could not even be created keeps a pending coupling, so the next run retries it
                    # first and the two-strike rule applies (never silently dropped behind the watermark).
                    item.coupling = pending_coupling_for_failed_insert(item, mapping=self.mapping,
                                                                       direction=self.direction, job=self.job)
                failure = item.failure or decision_failure(item)
                if item.coupling is not None and item.coupling.pk:
                    if named := set_record_names(item.coupling, **self.record_names(item)):
                        item.coupling.save(update_fields=list(named))
                errors.append(failure_row(item, failure, mapping=self.mapping, direction=self.direction,
                                          job=self.job))
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
            successes.append((coupling, (*self.mark_success(item, now),
                                         *set_record_names(coupling, **self.record_names(item)))))
        save_couplings(successes)
        if errors:
            SynchronizationError.objects.bulk_create(errors)

    def record_names(self, item: Item) -> dict[str, str | None]:
        """The primary names of a record's two sides as this pass read or wrote them, for the pages that list
        records: ``{"bc_name": ..., "dataverse_name": ...}``, None where a side's name was not seen (BC: CRM Setup
        Defaults.GetNameFieldNo; the Dataverse table's primary name column)."""
        written: dict[str, Any] = {}
        if item.write is not None:
            written = {**item.write.body, **item.write.result}
        other = {**(item.destination or {}), **item.payload, **written}
        bc_row, dv_row = (item.row, other) if self.direction == TO else (other, item.row)
        return {"bc_name": record_name(bc_row, self.bc.name_property),
                "dataverse_name": record_name(dv_row, self.dv.primary_name)}

    @abstractmethod
    def mark_success(self, item: Item, now: datetime) -> list[str]:
        """Set the success on the coupling: result, job, both sides' modified-on (BC: codeunit 5345 "Integration Rec.
        Synch. Invoke", UpdateIntegrationTableTimestamp). Returns the names of the fields set; :meth:`record_results`
        saves the batch's couplings together (:func:`syncjobs.engine.couplings.save_couplings`)."""

    # -- per-direction pieces -------------------------------------------------------------------------------
    @abstractmethod
    def source_id(self, row: dict[str, Any]) -> UUID:
        """The id of a source row (BC SystemId / Dataverse primary id)."""

    @abstractmethod
    def source_modified(self, row: dict[str, Any]) -> datetime | None:
        """The modified-on of a source row (aware, UTC); None when the table has none."""

    @abstractmethod
    def label(self, row: dict[str, Any]) -> str:
        """The name of a source row in messages ("Item 1000", "product Bicycle")."""

    def select(self, row: dict[str, Any]) -> bool:
        """Whether a source row takes part at all (the table rule decides)."""
        return self.rule.select(self.ctx, row)

    @abstractmethod
    def destination_id(self, coupling: Coupling | None) -> UUID:
        """The id of the coupled record on the destination side."""

    @abstractmethod
    def count_source(self, read_from: datetime | None) -> int:
        """How many source rows the stream from ``read_from`` (UTC) holds. Raises the client's ClientError
        (PermanentError when the service cannot count)."""

    @abstractmethod
    def iter_source(self, read_from: datetime | None) -> Iterator[dict[str, Any]]:
        """The source rows modified from ``read_from`` (UTC; all when None), in (modified-on, key) order, read page
        by page. Raises the client's ClientError."""

    @abstractmethod
    def fetch_by_ids(self, ids: list[UUID]) -> Iterator[dict[str, Any]]:
        """The source rows with the given ids (missing ones are left out). Raises the client's ClientError."""

    @abstractmethod
    def fetch_destinations(self, ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
        """The destination records with the given ids, by id (deleted ones are missing). Raises the client's
        ClientError."""

    @abstractmethod
    def destination_changed(self, item: Item) -> bool:
        """Whether the coupled destination record changed since the last synchronization (update conflict)."""

    @abstractmethod
    def transfer(self, item: Item) -> dict[str, Any]:
        """The destination payload of a record (field mappings, then the table rule). Raises RecordFailure."""

    @abstractmethod
    def build_write(self, item: Item, payload: dict[str, Any]) -> None:
        """Set ``item.write`` for ``payload`` (or turn the action into Unchanged when nothing changed). Raises
        RecordFailure (an update conflict on a bidirectional field, for instance)."""

    @abstractmethod
    def writer(self) -> Any:
        """The batch writer of the destination table (:mod:`syncjobs.engine.writers`)."""

