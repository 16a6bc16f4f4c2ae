"""Bulk operation messages of the Dataverse emulator: ``CreateMultiple``, ``UpdateMultiple``, ``UpsertMultiple``
bound to an entity set (``POST <set>/Microsoft.Dynamics.CRM.<message>`` ``{"Targets": [...]}``).

Source: Microsoft Learn "Use bulk operation messages": every target carries ``@odata.type``; on standard tables a
message is all-or-nothing (the request's transaction is rolled back on the first failing target); CreateMultiple
answers ``{"Ids": [...]}``; UpsertMultiple finds a row by its primary key or by an alternate key given as
``@odata.id``. DeleteMultiple exists only for elastic tables (400 here).
"""

from __future__ import annotations

from typing import Any

from ..httpcore import Response, json_response
from ..odata import parse_segment
from .core import Ctx, DataverseBase, DVError, bad, not_exist, not_found
from .schema import Table


class BulkMixin(DataverseBase):
    """``CreateMultiple``/``UpdateMultiple``/``UpsertMultiple``."""

    def bulk(self, table: Table, message: str, body: Any, ctx: Ctx) -> Response:
        if message not in ("CreateMultiple", "UpdateMultiple", "UpsertMultiple", "DeleteMultiple"):
            raise not_found(f"Microsoft.Dynamics.CRM.{message}")
        if message == "DeleteMultiple":
            raise DVError(400, "0x80040219", "DeleteMultiple has not yet been implemented.")
        if not table.bulk:
            raise DVError(400, "0x80040203", f"The '{message}' message is not supported for entity '{table.logical}'.")
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
