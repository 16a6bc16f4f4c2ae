"""Table rules of the Dataverse emulator: derived columns and the business rules that make the order of writes
matter (unit groups and units, products and price list items, order and invoice lines and their header totals, sales
document numbers, notes, currency columns).

Sources: Microsoft Learn "Unit group (UoMSchedule) table/entity reference", "Product table/entity reference",
"Price List Item (ProductPriceLevel) table/entity reference", "Order Product (SalesOrderDetail) table/entity
reference" (``pricingerrorcode``, ``extendedamount``), "Order (SalesOrder) table/entity reference" (totals), "Note
(Annotation) table/entity reference" and "Currency (TransactionCurrency) table/entity reference" (``<money>_base``
columns converted with ``exchangerate``).
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

from .core import Ctx, DataverseBase, DVError
from .schema import Table
from .store import now_iso


class RulesMixin(DataverseBase):
    """What Dataverse derives and checks on each write of the tables the integration uses."""

    def before_write(self, table: Table, rid: str, row: dict[str, Any], old: dict[str, Any] | None,
                     ctx: Ctx) -> None:
        """Derived columns and the business rules that make dependency order matter."""
        name = table.logical
        for poly in ("customerid", "parentcustomerid", "ownerid"):  # <lookup>type (EntityName) of polymorphic lookups
            if poly + "type" in table.columns:
                row[poly + "type"] = (row.get(poly + "@t") or table.columns[poly].targets[0]) if row.get(poly) \
                    else None
        if name in ("contact", "systemuser"):
            row["fullname"] = " ".join(x for x in (row.get("firstname"), row.get("lastname")) if x) or None
        if name == "uom":
            sched = row.get("uomscheduleid")
            if old is None:
                if not sched:
                    raise DVError(400, "0x80040203", "The unit group (uomscheduleid) is missing. A unit must "
                                  "belong to a unit group.")
                if not row.get("baseuom") and not row.get("isschedulebaseuom"):
                    row["baseuom"] = self._schedule_base(sched)
                row.setdefault("quantity", 1.0)
                if row.get("quantity") is None:
                    row["quantity"] = 1.0
            base = self._row("uom", row.get("baseuom"))
            if base is not None and base.get("uomscheduleid") != sched:
                raise DVError(400, "0x80040203", "The base unit does not belong to the unit group of this unit.")
        if name == "product":
            sched, unit = row.get("defaultuomscheduleid"), row.get("defaultuomid")
            if not sched:
                raise DVError(400, "0x80040203", "The unit group (defaultuomscheduleid) is missing. A product "
                              "needs an existing unit group.")
            if not unit:
                raise DVError(400, "0x80040203", "The default unit (defaultuomid) is missing. A product needs a "
                              "default unit from its unit group.")
            if self.state.rows["uom"][unit].get("uomscheduleid") != sched:
                raise DVError(400, "0x80040203", "The default unit does not belong to the product's unit group.")
        if name == "productpricelevel":
            prod = self._row("product", row.get("productid"))
            unit = self._row("uom", row.get("uomid"))
            if prod is not None and unit is not None and unit.get("uomscheduleid") != prod.get("defaultuomscheduleid"):
                raise DVError(400, "0x80040203", "The unit does not belong to the unit group of the product.")
            if prod is not None:
                row["uomscheduleid"] = prod.get("defaultuomscheduleid")
                row["productnumber"] = prod.get("productnumber")
            pl = self._row("pricelevel", row.get("pricelevelid"))
            if pl is not None:
                row["transactioncurrencyid"] = pl.get("transactioncurrencyid")
        if name in ("salesorderdetail", "invoicedetail"):
            self._line_rules(table, row, old)
        if name in ("salesorder", "invoice", "quote"):
            if old is not None and name == "salesorder" and old.get("statecode") != 0 and row.get("statecode") != 0:
                changed = {k for k, v in row.items() if old.get(k) != v} - {"statecode", "statuscode"}
                if changed:
                    raise DVError(400, "0x80040203", "The sales order can't be edited because it isn't in the "
                                  "Active state.")
            if old is None:
                num_col = {"salesorder": "ordernumber", "invoice": "invoicenumber", "quote": "quotenumber"}[name]
                if not row.get(num_col):
                    n = self.state.counters.get(name, 1000) + 1
                    self.state.counters[name] = n
                    prefix = {"salesorder": "ORD", "invoice": "INV", "quote": "QUO"}[name]
                    row[num_col] = f"{prefix}-{n:05d}-{uuid.uuid4().hex[:6].upper()}"
                if name == "quote":
                    row["revisionnumber"] = 0
            if not row.get("transactioncurrencyid"):
                pl = self._row("pricelevel", row.get("pricelevelid"))
                row["transactioncurrencyid"] = (pl or {}).get("transactioncurrencyid")
            self._header_totals(name, rid, row)
        if name == "annotation":
            row["objecttypecode"] = row.get("objectid@t") if row.get("objectid") else None
            body = row.get("documentbody")
            row["filesize"] = len(base64.b64decode(body + "==", validate=False)) if body else None
        if table.currency:
            if not row.get("transactioncurrencyid") and self.state.base_currency_id:
                row["transactioncurrencyid"] = self.state.base_currency_id
            cur = self._row("transactioncurrency", row.get("transactioncurrencyid"))
            rate = float(cur.get("exchangerate") or 1.0) if cur else 1.0
            row["exchangerate"] = rate
            for c in table.columns.values():
                if c.type == "Money" and c.name.endswith("_base"):
                    v = row.get(c.name[:-5])
                    row[c.name] = None if v is None else round(v / rate, 4)

    def _schedule_base(self, sched: str) -> str | None:
        for uid, u in self.state.rows["uom"].items():
            if u.get("uomscheduleid") == sched and u.get("isschedulebaseuom"):
                return uid
        return None

    def _line_rules(self, table: Table, row: dict[str, Any], old: dict[str, Any] | None) -> None:
        parent_col = "salesorderid" if table.logical == "salesorderdetail" else "invoiceid"
        parent_table = "salesorder" if parent_col == "salesorderid" else "invoice"
        parent = self._row(parent_table, row.get(parent_col))
        if parent is None:
            raise DVError(400, "0x80040203", f"The parent {parent_table} ({parent_col}) is missing. A line needs "
                          "its order or invoice.")
        if parent.get("statecode") != 0:
            raise DVError(400, "0x80040203", f"Lines can only be changed while the {parent_table} is Active.")
        row["transactioncurrencyid"] = parent.get("transactioncurrencyid")
        err = 0
        if not row.get("isproductoverridden"):
            if not row.get("productid"):
                err = 6
            elif not row.get("uomid"):
                err = 10
            elif not row.get("ispriceoverridden"):
                pl = parent.get("pricelevelid")
                if not pl:
                    err = 2
                else:
                    rid = self.store.find_by("productpricelevel", "pricelistitem",
                                             (pl, row.get("productid"), row.get("uomid")))
                    if rid is None:
                        err = 11
                        row["priceperunit"] = 0.0
                    else:
                        row["priceperunit"] = float(self.state.rows["productpricelevel"][rid].get("amount") or 0)
        row["pricingerrorcode"] = err
        qty = float(row.get("quantity") or 0)
        price = float(row.get("priceperunit") or 0)
        row["baseamount"] = round(qty * price, 4)
        row["extendedamount"] = round(row["baseamount"] - float(row.get("manualdiscountamount") or 0)
                                      + float(row.get("tax") or 0), 4)

    def _header_totals(self, name: str, rid: str, row: dict[str, Any]) -> None:
        if name == "quote":
            row.setdefault("totalamount", 0.0)
            return
        line_table, col = (("salesorderdetail", "salesorderid") if name == "salesorder"
                           else ("invoicedetail", "invoiceid"))
        lines = [r for r in self.state.rows[line_table].values() if r.get(col) == rid]
        self._set_totals(row, lines)

    def _set_totals(self, row: dict[str, Any], lines: list[dict[str, Any]]) -> None:
        total_lines = round(sum(float(x.get("extendedamount") or 0) for x in lines), 4)
        tax = round(sum(float(x.get("tax") or 0) for x in lines), 4)
        disc = float(row.get("discountamount") or 0)
        freight = float(row.get("freightamount") or 0)
        row["totallineitemamount"] = total_lines
        row["totaltax"] = tax
        row["totalamountlessfreight"] = round(total_lines - disc, 4)
        row["totalamount"] = round(total_lines - disc + freight, 4)

    def after_write(self, table: Table, rid: str, row: dict[str, Any], old: dict[str, Any] | None,
                    ctx: Ctx) -> None:
        name = table.logical
        if name == "uomschedule" and old is None:
            # the platform creates the group's base unit with the group (UoMSchedule.BaseUoMName)
            base_id = str(uuid.uuid4())
            now = now_iso()
            base = {"uomid": base_id, "name": row["baseuomname"], "uomscheduleid": rid, "baseuom": base_id,
                    "quantity": 1.0, "isschedulebaseuom": True, "createdon": now, "modifiedon": now,
                    "createdby": ctx.caller_id, "modifiedby": ctx.caller_id,
                    "versionnumber": self.store.next_version()}
            self.store.put(ctx.txn, "uom", base_id, base)
        if name in ("salesorderdetail", "invoicedetail"):
            self._recalc_parent(name, row)
            if old is not None:
                parent_col = "salesorderid" if name == "salesorderdetail" else "invoiceid"
                if old.get(parent_col) != row.get(parent_col):
                    self._recalc_parent(name, old)

    def _recalc_parent(self, line_table: str, line: dict[str, Any]) -> None:
        col, parent_table = (("salesorderid", "salesorder") if line_table == "salesorderdetail"
                             else ("invoiceid", "invoice"))
        pid = line.get(col)
        parent = self._row(parent_table, pid)
        if parent is None:
            return
        lines = [r for r in self.state.rows[line_table].values() if r.get(col) == pid]
        self._set_totals(parent, lines)
