"""BC -> Dataverse: the pass that sends Business Central records to Dataverse (BC: codeunit 5340 "CRM Integration
Table Synch.", SynchNAVTableToCRM).

Records are read from the BC API in modified-on order; their coupled Dataverse rows are read only for records that
changed. Creates are ``UpsertMultiple`` by an id the engine generates and commits (as a pending coupling) before the
request, updates ``UpdateMultiple`` of the changed columns only (Microsoft Learn: "Use bulk operation messages").
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

from connections.clients.errors import ClientError
from mappings.models import Coupling
from syncjobs.engine.context import Item
from syncjobs.engine.decision import DATAVERSE_PRECISION, Action
from syncjobs.engine.errors import RecordFailure, SynchronizationNotPossible
from syncjobs.engine.odata import and_filter, chunks, id_filter, odata_datetime, parse_modified
from syncjobs.engine.passes.base import ID_FILTER_CHUNK, READ_PAGE_SIZE_BC, TO, Pass
from syncjobs.engine.schema import dv_info
from syncjobs.engine.transfer import (
    FieldRule,
    LookupOutcome,
    bc_to_dataverse,
    changed_columns,
    dataverse_row_value,
    to_web_api,
    values_equal,
)
from syncjobs.engine.writers import DataverseWriter, Write, failure_from
from syncjobs.models import SynchronizationError

#: The decisions whose records are transferred and written (their table rule's per-record hooks run).
TRANSFERRED_ACTIONS = (Action.INSERT, Action.RESTORE, Action.MODIFY, Action.FORCE_MODIFY, Action.CONFLICT)


class ToIntegrationPass(Pass):
    """BC -> Dataverse; see the module docstring and :class:`Pass`."""

    direction = TO

    def source_id(self, row: dict[str, Any]) -> UUID:
        return UUID(str(row[self.bc.key]))

    def source_modified(self, row: dict[str, Any]) -> datetime | None:
        return parse_modified(row.get(self.bc.modified)) if self.bc.modified else None

    def label(self, row: dict[str, Any]) -> str:
        value = row.get(self.bc.natural_key) or row.get(self.bc.name_property) or row.get(self.bc.key)
        return f"{self.mapping.table} {value}"

    def destination_id(self, coupling: Coupling | None) -> UUID:
        assert coupling is not None
        return coupling.dataverse_id

    def has_modified(self) -> bool:
        return bool(self.bc.modified)

    def _source_filters(self, read_from: datetime | None) -> list[str]:
        """The ``$filter`` of each read of the source, in order ("" = everything).

        One read, except when an interrupted pass resumes after (modified-on T, key K): BC refuses ``or`` across
        two fields (Microsoft Learn: "Known limitations with Business Central OData"), so the records after it are
        read as ``modified eq T and key gt K``, then ``modified gt T``, each ordered by (modified-on, key)."""
        if not self.bc.modified:  # a table without a modified-on (document lines): compared field by field
            return [self.mapping.table_filter]
        since = self._since_filter(self.bc.modified, read_from)
        after = self.resume_after
        if after is None:
            return [and_filter(self.mapping.table_filter, since)]
        stamp = odata_datetime(after[0])
        if not after[1]:
            return [and_filter(self.mapping.table_filter, since, f"{self.bc.modified} ge {stamp}")]
        return [and_filter(self.mapping.table_filter, since,
                           f"{self.bc.modified} eq {stamp} and {self.bc.key} gt {after[1]}"),
                and_filter(self.mapping.table_filter, since, f"{self.bc.modified} gt {stamp}")]

    def iter_keys(self, read_from: datetime, since: datetime) -> Iterator[dict[str, Any]]:
        window = (f"{self.bc.modified} ge {odata_datetime(read_from)} and "
                  f"{self.bc.modified} le {odata_datetime(since)}")
        return self.bc_client.iter_rows(self.bc.entity_set, filter=and_filter(self.mapping.table_filter, window),
                                        select=[self.bc.key, self.bc.modified], page_size=20000, api=self.bc.api)

    def count_source(self, read_from: datetime | None) -> int:
        return sum(self.bc_client.count(self.bc.entity_set, filter=source_filter or None, api=self.bc.api)
                   for source_filter in self._source_filters(read_from))

    def iter_source(self, read_from: datetime | None) -> Iterator[dict[str, Any]]:
        for source_filter in self._source_filters(read_from):
            yield from self.bc_client.iter_rows(
                self.bc.entity_set, filter=source_filter or None,
                orderby=",".join(p for p in (self.bc.modified, self.bc.key) if p),
                page_size=READ_PAGE_SIZE_BC,
                api=self.bc.api,
            )

    def fetch_by_ids(self, ids: list[UUID]) -> Iterator[dict[str, Any]]:
        for chunk in chunks(ids, ID_FILTER_CHUNK):
            yield from self.bc_client.iter_rows(self.bc.entity_set, filter=id_filter(self.bc.key, chunk),
                                                api=self.bc.api)

    def _dv_select(self) -> list[str]:
        columns = {self.dv.primary_id, self.dv.modified_on, "_modifiedby_value"}
        for rule in self.field_rules:
            if rule.destination in self.dv.columns and not rule.destination.endswith("idtype"):
                columns.add(self.dv.read_name(rule.destination))
        return sorted(columns)

    def fetch_destinations(self, ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
        found: dict[UUID, dict[str, Any]] = {}
        for chunk in chunks(ids, ID_FILTER_CHUNK):
            for row in self.dv_client.iter_rows(self.dv.entity_set, select=self._dv_select(),
                                                filter=id_filter(self.dv.primary_id, chunk)):
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
        payload = bc_to_dataverse(item.row, rules=self.field_rules, bc=self.bc, dv=self.dv, resolver=self.resolver,
                                  record=item.label, lookup=self._lookup)
        return self.rule.adjust_payload(self.ctx, item, payload)

    def _lookup(self, rule: FieldRule, value: Any, row: dict[str, Any], record: str) -> LookupOutcome | None:
        return self.rule.lookup(self.ctx, rule, value, row, record)

    def prepare_writes(self, items: list[Item]) -> None:
        """Let the table rule read in bulk what the page's records need (:meth:`TableRule.prefetch`), then transfer
        and build the writes record by record. When that read fails, the records it was for fail with its error (a
        create keeps a pending coupling, so the next run retries it first)."""
        pending = [item for item in items if item.action in TRANSFERRED_ACTIONS]
        try:
            self.rule.prefetch(self.ctx, pending)
        except ClientError as error:
            for item in pending:
                item.keep_failed_insert = item.action == Action.RESTORE or (
                    item.action == Action.INSERT and item.coupling is None)
                item.fail(failure_from(error, item.label, "Preparing"))
        super().prepare_writes(items)

    def build_write(self, item: Item, payload: dict[str, Any]) -> None:
        try:
            self._build_write(item, payload)
        except ClientError as error:  # a table rule's lookup failed: this record fails, the others go on
            raise failure_from(error, item.label, "Preparing") from error

    def _build_write(self, item: Item, payload: dict[str, Any]) -> None:
        if item.action == Action.INSERT:
            if item.coupling is not None and item.coupling.is_pending and not item.restore:
                key = item.coupling.dataverse_id
            else:
                key = uuid.uuid4()
            body = {**self.mapping.int_tbl_config_template, **payload} if isinstance(
                self.mapping.int_tbl_config_template, dict) else payload
            body = self.rule.new_row(self.ctx, item, body)
            key = item.adopted_key or key  # the table rule adopted an existing row (a unit group's base unit)
            item.payload = body
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
        item.payload = changed
        assert item.coupling is not None
        item.write = Write("update", item.coupling.dataverse_id,
                           to_web_api(changed, self.dv, entity_sets=self.entity_set_of), item.label)

    def _conflicting_field(self, item: Item, payload: dict[str, Any]) -> str:
        for rule in self.field_rules:
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
        self.rule.before_write(self.ctx, items)  # e.g. submitted orders set Active
        items = [item for item in items if item.write is not None]
        new: list[Coupling] = []
        for item in items:
            assert item.write is not None
            if item.write.kind != "insert":
                continue
            if item.coupling is not None and item.coupling.is_pending and not item.restore:
                continue
            if item.coupling is not None and item.coupling.pk:
                self.delete_coupling(item.coupling)  # Restore Records: the coupling of the deleted row goes first
            coupling = Coupling(
                connection=self.connection, bc_table=self.mapping.table, bc_id=item.source_id,
                dataverse_table=self.mapping.integration_table, dataverse_id=item.write.key, is_pending=True,
                last_synch_crm_job_id=self.job.pk if self.job else None,
            )
            item.coupling = coupling
            item.new_coupling = True
            new.append(coupling)
        self.insert_couplings(new)

    def writer(self) -> DataverseWriter:
        return DataverseWriter(self.dv_client, logical_name=self.dv.logical_name, entity_set=self.dv.entity_set,
                               primary_id=self.dv.primary_id, batch_size=self.batch_size)

    def after_write(self, items: list[Item]) -> None:
        try:
            self.rule.after_write(self.ctx, items)
        except ClientError as error:
            # The rows landed but what the table rule writes after them did not: fail them so the next run repeats
            # both (upserts).
            for item in items:
                item.failure = failure_from(error, item.label, "Writing the related rows of")
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


