"""Dataverse -> BC: the pass that gets Dataverse rows into Business Central (BC: codeunit 5340 "CRM Integration
Table Synch.", SynchCRMTableToNAV).

Rows are read from the Dataverse Web API in modified-on order, leaving out the rows the integration user modified
last (the engine's own writes); their coupled BC records are read only for rows that changed. Records are written
with BC JSON ``$batch`` requests (Microsoft Learn: "Using OData transactional $batch requests"; at most 100 operations,
"Operational Limits for Business Central Online"), updates with the record's ETag in ``If-Match``. A BC create gets
its id from BC, so a create whose answer was lost is found again by its number or content before it is repeated.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from mappings.models import Coupling
from syncjobs.engine.context import Item
from syncjobs.engine.decision import DATAVERSE_PRECISION, Action
from syncjobs.engine.errors import RecordFailure
from syncjobs.engine.odata import and_filter, chunks, id_filter, odata_datetime, parse_modified
from syncjobs.engine.passes.base import FROM, ID_FILTER_CHUNK, OVERLAP_SECONDS, READ_PAGE_SIZE_DATAVERSE, Pass
from syncjobs.engine.transfer import changed_properties, dataverse_to_bc, values_equal
from syncjobs.engine.writers import BusinessCentralWriter, Write
from syncjobs.models import SynchronizationError


class FromIntegrationPass(Pass):
    """Dataverse -> BC, leaving out the integration user's own changes; see the module docstring and
    :class:`Pass`."""

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

    def watermark(self) -> datetime | None:
        if self.rule.reads_every_row(self.ctx):
            return None  # e.g. order lines: all lines of coupled orders are compared
        return super().watermark()

    def _select(self) -> list[str]:
        columns = {self.dv.primary_id, self.dv.modified_on, "_modifiedby_value",
                   *self.rule.source_columns(self.ctx)}
        if self.dv.primary_name and self.dv.primary_name in self.dv.columns:
            columns.add(self.dv.primary_name)
        for rule in self.field_rules:
            if rule.source:
                columns.add(self.dv.read_name(rule.source))
        return sorted(columns)

    def _echo_filter(self) -> str:
        return f"_modifiedby_value ne {self.integration_user_id}" if self.integration_user_id else ""

    def _source_filter(self, read_from: datetime | None) -> str:
        return and_filter(self.mapping.integration_table_filter, self._since_filter(self.dv.modified_on, read_from),
                          self._echo_filter(), self._resume_filter(self.dv.modified_on, self.dv.primary_id))

    def iter_keys(self, read_from: datetime, since: datetime) -> Iterator[dict[str, Any]]:
        window = (f"{self.dv.modified_on} ge {odata_datetime(read_from)} and "
                  f"{self.dv.modified_on} le {odata_datetime(since)}")
        return self.dv_client.iter_rows(
            self.dv.entity_set, select=[self.dv.primary_id, self.dv.modified_on],
            filter=and_filter(self.mapping.integration_table_filter, window, self._echo_filter()), page_size=5000)

    def count_source(self, read_from: datetime | None) -> int:
        return self.dv_client.count(self.dv.entity_set, filter=self._source_filter(read_from) or None)

    def iter_source(self, read_from: datetime | None) -> Iterator[dict[str, Any]]:
        return self.dv_client.iter_rows(
            self.dv.entity_set, select=self._select(), filter=self._source_filter(read_from) or None,
            orderby=f"{self.dv.modified_on} asc,{self.dv.primary_id} asc",
            page_size=READ_PAGE_SIZE_DATAVERSE,
        )

    def fetch_by_ids(self, ids: list[UUID]) -> Iterator[dict[str, Any]]:
        for chunk in chunks(ids, ID_FILTER_CHUNK):
            yield from self.dv_client.iter_rows(self.dv.entity_set, select=self._select(),
                                                filter=id_filter(self.dv.primary_id, chunk))

    def fetch_destinations(self, ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
        found: dict[UUID, dict[str, Any]] = {}
        for chunk in chunks(ids, ID_FILTER_CHUNK):
            for row in self.bc_client.iter_rows(self.bc.entity_set, filter=id_filter(self.bc.key, chunk),
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
        payload = dataverse_to_bc(item.row, rules=self.field_rules, bc=self.bc, dv=self.dv, resolver=self.resolver,
                                  record=item.label)
        payload = {prop: value for prop, value in payload.items() if prop not in self.bc.read_only}
        return self.rule.adjust_payload(self.ctx, item, payload)

    def build_write(self, item: Item, payload: dict[str, Any]) -> None:
        if item.action == Action.INSERT:
            body = {**(self.mapping.table_config_template or {}), **payload}
            item.write = Write("insert", None, body, item.label)
            return
        changed = changed_properties(payload, item.destination)
        if item.action == Action.CONFLICT:
            for rule in self.field_rules:
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
        self.rule.before_write(self.ctx, items)  # e.g. released orders reopened
        items = [item for item in items if item.write is not None]
        new: list[Coupling] = []
        for item in items:
            assert item.write is not None
            if item.write.kind != "insert" or (item.coupling is not None and item.coupling.is_pending):
                continue
            if item.coupling is not None and item.coupling.pk:
                self.delete_coupling(item.coupling)
            coupling = Coupling(
                connection=self.connection, bc_table=self.mapping.table, bc_id=uuid.uuid4(),
                dataverse_table=self.mapping.integration_table, dataverse_id=item.source_id, is_pending=True,
                last_synch_job_id=self.job.pk if self.job else None,
            )
            item.coupling = coupling
            item.new_coupling = True
            new.append(coupling)
        self.insert_couplings(new)

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
        self.rule.after_write(self.ctx, items)  # e.g. changed orders released again

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
            # Dataverse's modifiedon has whole seconds and is compared with 999 ms subtracted (as BC does): the
            # exact value read is stored with that margin added, so the same row is not seen as changed again.
            coupling.last_synch_crm_modified_on = item.modified + DATAVERSE_PRECISION
        coupling.last_synch_result = Coupling.Result.SUCCESS
        coupling.last_synch_job_id = self.job.pk
        coupling.is_pending = False
        coupling.failure_count = 0
        return fields
