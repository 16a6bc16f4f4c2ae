"""Bulk operation messages of the Dataverse emulator: ``CreateMultiple``, ``UpdateMultiple``, ``UpsertMultiple``
bound to an entity set (``POST <set>/Microsoft.Dynamics.CRM.<message>`` ``{"Targets": [...]}``), offered where the
organization's ``sdkmessagefilters`` say so.

Sources: Microsoft Learn "Use bulk operation messages": every target carries ``@odata.type``; on standard tables a
message is all-or-nothing (the request's transaction is rolled back on the first failing target); CreateMultiple
answers ``{"Ids": [...]}``; UpsertMultiple finds a row by its primary key or by an alternate key given as
``@odata.id``; DeleteMultiple exists only for elastic tables ("DeleteMultiple has not yet been implemented.");
CreateMultiple and UpdateMultiple are available for custom tables and many, not all, standard tables, as a query of
``sdkmessagefilters`` by ``sdkmessageid/name`` and ``primaryobjecttypecode`` tells, and UpsertMultiple, which that
query does not return, where both are. A message the table lacks is refused as the platform refuses a message
without a filter for the entity: 400 ``0x80040800`` SdkEntityDoesNotSupportMessage ("Web service error codes"), with
the runtime text "The '<message>' method does not support entities of type '<table>'. MessageProcessorCache returned
MessageProcessor.Empty.".
"""

from __future__ import annotations

from typing import Any

from ..httpcore import Response, json_response
from ..odata import parse_segment
from .core import Ctx, DataverseBase, DVError, bad, not_exist, not_found
from .schema import BULK_FILTER_MESSAGES, BULK_MESSAGES, Table, stable_id
from .store import Txn


def not_supported_for(message: str, logical: str) -> DVError:
    """400 ``0x80040800`` SdkEntityDoesNotSupportMessage for a message the table has no ``sdkmessagefilter`` of."""
    return DVError(400, "0x80040800", f"The '{message}' method does not support entities of type '{logical}'. "
                   "MessageProcessorCache returned MessageProcessor.Empty.")


class BulkMixin(DataverseBase):
    """``CreateMultiple``/``UpdateMultiple``/``UpsertMultiple`` and the ``sdkmessagefilters`` that offer them."""

    def _message_id(self, message: str) -> str | None:
        return next((rid for rid, row in self.state.rows["sdkmessage"].items() if row.get("name") == message), None)

    def _filter_ids(self, message: str, logical: str) -> list[str]:
        msg = self._message_id(message)
        return [fid for fid, row in self.state.rows["sdkmessagefilter"].items()
                if msg is not None and row.get("sdkmessageid") == msg and row.get("primaryobjecttypecode") == logical]

    def bulk_message_available(self, message: str, logical: str) -> bool:
        """Whether ``message`` may be used on the table: CreateMultiple/UpdateMultiple when an ``sdkmessagefilter``
        names it for the table, UpsertMultiple when both do."""
        if message == "UpsertMultiple":
            return all(self.bulk_message_available(m, logical) for m in BULK_FILTER_MESSAGES)
        return bool(self._filter_ids(message, logical))

    def bulk_messages_change(self, logical: str, *, remove: list[str], restore: list[str]) -> dict[str, Any]:
        """Take CreateMultiple/UpdateMultiple away from a table or give them back (control endpoint
        ``/_emulator/bulk-messages``; a reset restores the seeded filters). Returns ``{"table", "available": [...]}``.
        Raises KeyError for an unknown table and ValueError for a message that has no filter of its own."""
        if logical not in self.tables:
            raise KeyError(logical)
        wrong = sorted((set(remove) | set(restore)) - set(BULK_FILTER_MESSAGES))
        if wrong:
            raise ValueError(f"unknown or derived message(s) {', '.join(wrong)}: sdkmessagefilters name "
                             f"{' and '.join(BULK_FILTER_MESSAGES)}; UpsertMultiple is available where both are")
        with self.lock:
            removed: dict[str, dict[str, Any]] = self.__dict__.setdefault("_removed_filters", {})  # id -> row
            txn = Txn()
            for message in remove:
                for fid in self._filter_ids(message, logical):
                    removed[fid] = dict(self.state.rows["sdkmessagefilter"][fid])
                    self.store.delete(txn, "sdkmessagefilter", fid)
            for message in restore:
                msg = self._message_id(message)
                if msg is None or self._filter_ids(message, logical):
                    continue
                fid = stable_id("sdkmessagefilter", message, logical)
                row = removed.pop(fid, None) or {
                    "sdkmessagefilterid": fid, "sdkmessageid": msg, "primaryobjecttypecode": logical,
                    "secondaryobjecttypecode": "none", "isvisible": True}
                row["versionnumber"] = self.store.next_version()
                self.store.put(txn, "sdkmessagefilter", fid, row)
            self._qcache.clear()
            available = [m for m in BULK_MESSAGES if self.bulk_message_available(m, logical)]
            return {"table": logical, "available": available}

    def bulk(self, table: Table, message: str, body: Any, ctx: Ctx) -> Response:
        if message not in ("CreateMultiple", "UpdateMultiple", "UpsertMultiple", "DeleteMultiple"):
            raise not_found(f"Microsoft.Dynamics.CRM.{message}")
        if message == "DeleteMultiple":
            raise DVError(400, "0x80040219", "DeleteMultiple has not yet been implemented.")
        if not self.bulk_message_available(message, table.logical):
            raise not_supported_for(message, table.logical)
        targets = body.get("Targets") if isinstance(body, dict) else None
        if not isinstance(targets, list):
            raise bad("The 'Targets' parameter is required.", "0x80040203")
        expected = f"Microsoft.Dynamics.CRM.{table.logical}"
        ids: list[str] = []
        for i, tgt in enumerate(targets):
            if not isinstance(tgt, dict):
                raise bad("Each target must be a JSON object.", "0x80040203")
            otype = (tgt.get("@odata.type") or "").lstrip("#")
            if otype != expected:
                raise bad(f"The '@odata.type' property is required on every target and must be '{expected}' "
                           f"(target {i} has '{otype}').", "0x80040203")
            pid = tgt.get(table.primary_id)
            if message == "CreateMultiple":
                ids.append(self.create_row(table, tgt, ctx))
                continue
            if message == "UpdateMultiple":
                if not pid:
                    raise bad(f"The primary key '{table.primary_id}' is required for UpdateMultiple.", "0x80040203")
                rid = str(pid).lower()
                if rid not in self.state.rows[table.logical]:
                    raise not_exist(table.logical, rid)
                self.update_row(table, rid, {k: v for k, v in tgt.items() if k != table.primary_id}, ctx)
                continue
            key: Any = str(pid).lower() if pid else None
            if key is None and tgt.get("@odata.id"):
                _name, key = parse_segment(str(tgt["@odata.id"]).rsplit("/", 1)[-1])
            if key is None:
                raise bad("UpsertMultiple targets need the primary key or an '@odata.id' alternate key reference.",
                           "0x80040203")
            rid = self.resolve_key(table, key, must_exist=False)
            if rid is not None and rid in self.state.rows[table.logical]:
                self.update_row(table, rid, {k: v for k, v in tgt.items() if k != table.primary_id}, ctx)
            else:
                data = dict(tgt)
                if isinstance(key, dict):
                    for k, v in key.items():
                        data.setdefault(k, v)
                self.create_row(table, data, ctx, rid=key if isinstance(key, str) else None)
        if message == "CreateMultiple":
            return json_response(200, {"@odata.context": self.base +
                                       "$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse", "Ids": ids},
                                 [("OData-Version", "4.0")])
        return Response(204, headers=[("OData-Version", "4.0")])
