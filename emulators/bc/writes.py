"""Writes in the Business Central emulator: POST/PATCH/DELETE on API pages, derived fields (document totals, line
amounts, related codes), bound actions (``Microsoft.NAV.post``, ``shipAndInvoice``, and the companion extension's
``release``/``reopen``).

Sources: Microsoft Learn "Business Central API (v2.0)" (the salesOrder, salesOrderLine, salesInvoice and
salesQuote resources, "post" and "shipAndInvoice" bound actions; PATCH and DELETE need ``If-Match``) and "Developing a
custom API" (bound actions of custom API pages).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from ..httpcore import Response, json_response
from ..odata import GUID_RE, parse_datetime
from .apis import STORAGE, entity_for
from .core import BusinessCentralBase
from .schema import BOOL, DATE, DATETIME, DEC, ENTITIES, GUID, INT, LINES_OF, STR, Entity
from .state import BC_JSON, BCError, now_bc, stable_id


class WritesMixin(BusinessCentralBase):
    """Create, update, delete and bound actions."""

    def _coerce(self, ent: Entity, name: str, v: Any) -> Any:
        t = ent.fields[name]
        if v is None:
            return None
        try:
            if t == STR:
                if not isinstance(v, str):
                    raise ValueError
                if name in ("number", "code") and len(v) > 20:
                    raise BCError(400, "Application_StringExceededLength", f"The length of the string is {len(v)}, "
                                  f"but it must be less than or equal to 20 characters. Value: {v}")
                allowed = ent.enums.get(name)
                if allowed and v not in allowed:
                    raise BCError(400, "BadRequest", f"Invalid Request Body: the value '{v}' is not valid for "
                                  f"{name}. Allowed values: {', '.join(allowed)}.")
                return v
            if t == INT:
                if isinstance(v, bool) or not isinstance(v, int):
                    raise ValueError
                return v
            if t == DEC:
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise ValueError
                return float(v)
            if t == BOOL:
                if not isinstance(v, bool):
                    raise ValueError
                return v
            if t == DATE:
                return parse_datetime(str(v)).strftime("%Y-%m-%d")
            if t == DATETIME:
                return parse_datetime(str(v)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            if t == GUID:
                if not isinstance(v, str) or not GUID_RE.match(v):
                    raise BCError(400, "Application_InvalidGUID", f"The value '{v}' is not a valid GUID.")
                return v.lower()
        except ValueError:
            raise BCError(400, "BadRequest", f"Invalid Request Body: cannot convert the value of '{name}'.") from None
        return v

    def _apply(self, company: str, ent: Entity, row: dict[str, Any], data: dict[str, Any], creating: bool) -> None:
        for k, v in data.items():
            if k.startswith("@odata"):
                continue
            if k in ent.parts:
                continue
            if k not in ent.fields:
                raise BCError(400, "BadRequest", f"The property '{k}' does not exist on type "
                              f"'Microsoft.NAV.{ent.entity_type}'. Make sure to only use property names that are "
                              "defined by the type.")
            if k in ent.read_only and not (creating and k == "id") and not (creating and k == "number"
                                                                            and ent.key_field == "number"):
                raise BCError(400, "BadRequest_InvalidOperation", f"The field '{k}' is read-only.")
            row[k] = self._coerce(ent, k, v)
        for id_f, code_f, target, tcode in ent.lookups:
            tbl = self.table(company, target)
            if id_f in data and row.get(id_f):
                other = tbl.get(row[id_f])
                if other is None:
                    raise BCError(400, "Internal_InvalidTableRelation", f"The field {id_f} of table "
                                  f"{ent.entity_type} contains a value ({row[id_f]}) that cannot be found in the "
                                  f"related table ({target}).")
                row[code_f] = other.get(tcode)
            elif code_f in data and row.get(code_f):
                match = next((r for r in tbl.values() if r.get(tcode) == row[code_f]), None)
                if match is None:
                    raise BCError(400, "Internal_InvalidTableRelation", f"The field {code_f} of table "
                                  f"{ent.entity_type} contains a value ({row[code_f]}) that cannot be found in the "
                                  f"related table ({target}).")
                row[id_f] = match["id"]
            elif code_f in data or id_f in data:
                row[id_f] = None
                row[code_f] = None

    def create(self, company: str, ent: Entity, data: dict[str, Any], parent_id: str | None) -> dict[str, Any]:
        """POST: number from the No. Series when omitted; 400 on duplicate key."""
        row: dict[str, Any] = {f: None for f in ent.fields}
        row.update(ent.defaults)
        self._apply(company, ent, row, data, True)
        row["id"] = (row.get("id") or str(uuid.uuid4())).lower()
        tbl = self.table(company, ent.name)
        if row["id"] in tbl:
            raise BCError(400, "Internal_EntityWithSameKeyExists", f"The {ent.entity_type} already exists. "
                          f"Identification fields and values: Id='{row['id']}'")
        if ent.key_field:
            if not row.get(ent.key_field):
                if not ent.series:
                    raise BCError(400, "BadRequest_RequiredParamNotProvided", f"The field '{ent.key_field}' must "
                                  "have a value.")
                n = self.state.counters.get(company + ent.name, 0) + 1
                self.state.counters[company + ent.name] = n
                row[ent.key_field] = f"{ent.series}{n:06d}"
            if any(r.get(ent.key_field) == row[ent.key_field] for r in tbl.values()):
                raise BCError(400, "Internal_EntityWithSameKeyExists", f"The {ent.entity_type} already exists. "
                              f"Identification fields and values: No.='{row[ent.key_field]}'")
        if ent.parent:
            fk, header_set = ent.parent
            pid = parent_id or row.get(fk)
            header = self.table(company, header_set).get(pid or "")
            if header is None:
                raise BCError(400, "Internal_RecordNotFound", f"The {ENTITIES[header_set].entity_type} does not "
                              f"exist. Identification fields and values: Id='{pid}'")
            self._editable(header_set, header)
            row[fk] = pid
            if not row.get("sequence"):
                seqs = [r.get("sequence") or 0 for r in self.table(company, ent.name).values() if r.get(fk) == pid]
                row["sequence"] = (max(seqs) if seqs else 0) + 10000
        self._derive(company, ent, row)
        row["@v"] = self.next_version()
        if "lastModifiedDateTime" in ent.fields:
            row["lastModifiedDateTime"] = now_bc()
        tbl[row["id"]] = row
        self._after(company, ent, row)
        for nav, target in ent.parts.items():
            lines = data.get(nav)
            if isinstance(lines, list):
                for line in lines:
                    self.create(company, entity_for(ent.api, target), dict(line), row["id"])
        return tbl[row["id"]]

    def _editable(self, header_set: str, header: dict[str, Any]) -> None:
        if header_set == "salesInvoices" and header.get("status") not in ("Draft", None):
            raise BCError(400, "BadRequest_InvalidOperation", "A posted sales invoice cannot be changed.")
        if header_set == "salesOrders" and header.get("status") == "Released":
            # BC: Sales Header.TestStatusOpen (a released order is reopened before it is changed)
            raise BCError(400, "Application_TestFieldError", "Status must be equal to 'Open'  in Sales Header: "
                          f"Document Type=Order, No.={header.get('number')}. Current value is 'Released'.")

    def update(self, company: str, ent: Entity, rid: str, data: dict[str, Any]) -> dict[str, Any]:
        tbl = self.table(company, ent.name)
        if ent.name in ("salesInvoices", "salesOrders"):
            self._editable(ent.name, tbl[rid])
        if ent.parent:
            header = self.table(company, ent.parent[1]).get(tbl[rid].get(ent.parent[0]) or "")
            if header is not None:
                self._editable(ent.parent[1], header)
        row = dict(tbl[rid])
        self._apply(company, ent, row, data, False)
        if ent.key_field and row.get(ent.key_field) != tbl[rid].get(ent.key_field):
            if any(r.get(ent.key_field) == row[ent.key_field] for i, r in tbl.items() if i != rid):
                raise BCError(400, "Internal_EntityWithSameKeyExists", f"The {ent.entity_type} already exists. "
                              f"Identification fields and values: No.='{row[ent.key_field]}'")
        self._derive(company, ent, row)
        row["@v"] = self.next_version()
        if "lastModifiedDateTime" in ent.fields:
            row["lastModifiedDateTime"] = now_bc()
        tbl[rid] = row
        self._after(company, ent, row)
        return row

    def delete(self, company: str, ent: Entity, rid: str) -> None:
        tbl = self.table(company, ent.name)
        row = tbl[rid]
        if ent.name == "salesInvoices":
            self._editable(ent.name, row)
        if ent.parent:
            header = self.table(company, ent.parent[1]).get(row.get(ent.parent[0]) or "")
            if header is not None:
                self._editable(ent.parent[1], header)
        del tbl[rid]
        if ent.name in LINES_OF:
            ltbl = self.table(company, LINES_OF[ent.name])
            for lid in [i for i, r in ltbl.items() if r.get("documentId") == rid]:
                del ltbl[lid]
        if ent.parent:
            self._after(company, ent, row)

    def _derive(self, company: str, ent: Entity, row: dict[str, Any]) -> None:
        if ent.name == "salesOrderNotes":
            # the page's OnInsertRecord: SalesHeader.GetBySystemId(salesOrderId), then the link's Created and User ID
            if (row.get("salesOrderId") or "").lower() not in self.table(company, "salesOrders"):
                raise BCError(400, "Internal_RecordNotFound", "The Sales Header does not exist. Identification "
                              f"fields and values: SystemId='{row.get('salesOrderId')}'")
            row["created"] = row.get("created") or now_bc()
            row["userId"] = row.get("userId") or "BCPORTAL INTEGRATION"
        if ent.name in ("salesOrders", "salesInvoices", "salesQuotes"):
            cust = None
            if not row.get("customerId") and row.get("customerNumber"):
                # BC validates "Sell-to Customer No." (the extension's pages bind it directly)
                cust = next((r for r in self.table(company, "customers").values()
                             if r.get("number") == row["customerNumber"]), None)
                if cust is None:
                    raise BCError(400, "Internal_RecordNotFound", "The Customer does not exist. Identification "
                                  f"fields and values: No.='{row['customerNumber']}'")
                row["customerId"] = cust["id"]
            if row.get("customerId"):
                cust = self.table(company, "customers").get(row["customerId"])
            if cust is not None:
                row["customerNumber"] = cust.get("number")
                row["customerName"] = cust.get("displayName")
                row["billToName"] = row.get("billToName") or cust.get("displayName")
                row["billToCustomerId"] = row.get("billToCustomerId") or cust["id"]
                row["billToCustomerNumber"] = row.get("billToCustomerNumber") or cust.get("number")
                row["shipToName"] = row.get("shipToName") or cust.get("displayName")
                row["sellToAddressLine1"] = row.get("sellToAddressLine1") or cust.get("addressLine1")
                row["sellToCity"] = row.get("sellToCity") or cust.get("city")
                row["sellToPostCode"] = row.get("sellToPostCode") or cust.get("postalCode")
                row["sellToCountry"] = row.get("sellToCountry") or cust.get("country")
                if not row.get("currencyCode") and cust.get("currencyCode"):
                    row["currencyCode"], row["currencyId"] = cust.get("currencyCode"), cust.get("currencyId")
                row["salesperson"] = row.get("salesperson") or cust.get("salespersonCode")
            elif not row.get("customerId") and not row.get("customerNumber"):
                raise BCError(400, "Application_FieldValidationException", "You must specify a customer "
                              "(customerId or customerNumber) for the sales document.")
            lines = [r for r in self.table(company, LINES_OF[ent.name]).values() if r.get("documentId") == row["id"]]
            net = round(sum(r.get("netAmount") or 0 for r in lines) - float(row.get("discountAmount") or 0), 2)
            tax = round(sum(r.get("netTaxAmount") or 0 for r in lines), 2)
            row["totalAmountExcludingTax"] = net
            row["totalTaxAmount"] = tax
            row["totalAmountIncludingTax"] = round(net + tax, 2)
        if ent.parent:
            header = self.table(company, ent.parent[1]).get(row.get(ent.parent[0]) or "")
            if header is not None:
                row["currencyCode"] = header.get("currencyCode")
            if row.get("itemId"):
                item = self.table(company, "items").get(row["itemId"])
                if item is None:
                    raise BCError(400, "Internal_InvalidTableRelation", f"The item with id {row['itemId']} does "
                                  "not exist.")
                row["lineType"] = row.get("lineType") or "Item"
                row["lineObjectNumber"] = item.get("number")
                row["description"] = row.get("description") or item.get("displayName")
                if row.get("unitPrice") is None:
                    row["unitPrice"] = item.get("unitPrice")
                row["unitOfMeasureCode"] = row.get("unitOfMeasureCode") or item.get("baseUnitOfMeasureCode")
                row["unitOfMeasureId"] = row.get("unitOfMeasureId") or item.get("baseUnitOfMeasureId")
            elif row.get("lineType") == "Item" and row.get("lineObjectNumber"):
                item = next((r for r in self.table(company, "items").values()
                             if r.get("number") == row["lineObjectNumber"]), None)
                if item is None:
                    raise BCError(400, "Internal_InvalidTableRelation", f"The Item does not exist. Identification "
                                  f"fields and values: No.='{row['lineObjectNumber']}'")
                row["itemId"] = item["id"]
                return self._derive(company, ent, row)
            qty = float(row.get("quantity") or 0)
            price = float(row.get("unitPrice") or 0)
            gross = qty * price
            disc = float(row.get("discountAmount") or 0) or round(
                gross * float(row.get("discountPercent") or 0) / 100, 2)
            net = round(gross - disc, 2)
            taxp = float(row.get("taxPercent") or 0)
            row["amountExcludingTax"] = row["netAmount"] = net
            row["totalTaxAmount"] = row["netTaxAmount"] = round(net * taxp / 100, 2)
            row["amountIncludingTax"] = row["netAmountIncludingTax"] = round(net * (1 + taxp / 100), 2)
            row["invoiceDiscountAllocation"] = 0.0

    def _after(self, company: str, ent: Entity, row: dict[str, Any]) -> None:
        if ent.parent:
            fk, header_set = ent.parent
            header = self.table(company, header_set).get(row.get(fk) or "")
            if header is not None:
                h = dict(header)
                self._derive(company, ENTITIES[header_set], h)
                h["@v"] = self.next_version()
                h["lastModifiedDateTime"] = now_bc()
                self.table(company, header_set)[h["id"]] = h

    def _cancel_invoice(self, tbl: dict[str, dict[str, Any]], rid: str, row: dict[str, Any]) -> Response:
        """``Microsoft.NAV.cancel`` on a posted sales invoice (Microsoft Learn "cancel action salesInvoices"): BC posts
        a corrective credit memo applied to it, so it is Canceled with nothing left to pay. Only an Open invoice
        without payments can be canceled."""
        if row.get("status") != "Open" or float(row.get("remainingAmount") or 0) != float(
                row.get("totalAmountIncludingTax") or 0):
            raise BCError(400, "Application_DialogException",
                          f"You cannot cancel the posted sales invoice {row.get('number')} because it is "
                          f"{'paid' if row.get('status') == 'Open' else (row.get('status') or 'a draft').lower()}.")
        tbl[rid] = {**row, "status": "Canceled", "remainingAmount": 0.0, "@v": self.next_version(),
                    "lastModifiedDateTime": now_bc()}
        return Response(204)

    def _post_payments(self, company: str, journal_id: str) -> Response:
        """``Microsoft.NAV.post`` on a customer payment journal (Microsoft Learn "post action
        customerPaymentJournals"): every payment line is applied to the posted invoice it names
        (``appliesToInvoiceId`` or ``appliesToInvoiceNumber``), lowering its ``remainingAmount``; an invoice paid in
        full is Paid. The lines are removed. A line naming no posted invoice fails the whole posting (nothing is
        applied)."""
        payments = [r for r in self.table(company, "customerPayments").values() if r.get("journalId") == journal_id]
        invoices = self.table(company, "salesInvoices")
        by_number = {inv.get("number"): inv for inv in invoices.values()}
        applied: list[tuple[dict[str, Any], float]] = []
        for payment in payments:
            invoice = invoices.get(payment.get("appliesToInvoiceId") or "") or by_number.get(
                payment.get("appliesToInvoiceNumber"))
            if invoice is None or invoice.get("status") in (None, "Draft", "Canceled"):
                raise BCError(400, "Application_DialogException",
                              f"Payment line {payment.get('lineNumber')} applies to no open posted sales invoice.")
            applied.append((invoice, float(payment.get("amount") or 0)))
        for invoice, amount in applied:
            current = invoices[invoice["id"]]
            remaining = round(max(float(current.get("remainingAmount") or 0) - amount, 0.0), 2)
            invoices[invoice["id"]] = {**current, "remainingAmount": remaining,
                                       "status": "Paid" if remaining == 0 else "Open",
                                       "@v": self.next_version(), "lastModifiedDateTime": now_bc()}
        for payment in payments:
            del self.table(company, "customerPayments")[payment["id"]]
        return Response(204)

    def bound_action(self, company: str, ent: Entity, rid: str, action: str) -> Response:
        """``Microsoft.NAV.post`` on a draft invoice (status -> Open), ``cancel`` on a posted one
        (:meth:`_cancel_invoice`), ``post`` on a customer payment journal (:meth:`_post_payments`) and
        ``shipAndInvoice`` on an order (creates the posted invoice, archives and removes the order)."""
        tbl = self.table(company, ent.name)
        row = tbl.get(rid, {})
        if ent.name == "salesInvoices" and action == "post":
            self._editable(ent.name, row)
            new = dict(row)
            new.update({"status": "Open", "remainingAmount": row.get("totalAmountIncludingTax"),
                        "postingDate": row.get("postingDate") or dt.date.today().isoformat(),
                        "@v": self.next_version(), "lastModifiedDateTime": now_bc()})
            tbl[rid] = new
            return Response(204)
        if ent.name == "salesInvoices" and action == "cancel":
            return self._cancel_invoice(tbl, rid, row)
        if ent.name == "customerPaymentJournals" and action == "post":
            return self._post_payments(company, rid)
        if ent.name == "salesOrders" and action == "shipAndInvoice":
            lines = [r for r in self.table(company, "salesOrderLines").values() if r.get("documentId") == rid]
            inv_fields = STORAGE["salesInvoices"].fields
            inv = {k: v for k, v in row.items() if k in inv_fields and k not in ("id", "number", "status",
                                                                                 "documentType")}
            inv.update({"orderId": rid, "orderNumber": row.get("number"), "status": "Open",
                        "invoiceDate": dt.date.today().isoformat(), "postingDate": dt.date.today().isoformat(),
                        "remainingAmount": row.get("totalAmountIncludingTax")})
            created = self.insert_seed(company, "salesInvoices", {**inv, "id": str(uuid.uuid4()),
                                                                  "number": self._series(company, "salesInvoices")})
            for ln in lines:
                lrow = {k: v for k, v in ln.items() if k in STORAGE["salesInvoiceLines"].fields and k != "id"}
                lrow["documentId"] = created["id"]
                self.insert_seed(company, "salesInvoiceLines", lrow)
            # BC archives the order when posting deletes it (Sales & Receivables Setup "Archive Orders"): the next
            # version of its number's occurrence, with its lines as posted (shipped and invoiced in full)
            versions = [a.get("versionNumber") or 1 for a in self.table(company, "salesHeaderArchives").values()
                        if a.get("number") == row.get("number") and a.get("documentType") == "Order"]
            version = max(versions, default=0) + 1
            today = dt.date.today().isoformat()
            self.insert_seed(company, "salesHeaderArchives", {
                "documentType": "Order", "number": row.get("number"), "sellToCustomerNumber": row.get("customerNumber"),
                "sellToCustomerName": row.get("customerName"), "orderDate": row.get("orderDate"), "status": "Released",
                "amount": row.get("totalAmountExcludingTax"), "amountIncludingVAT": row.get("totalAmountIncludingTax"),
                "currencyCode": row.get("currencyCode"), "dateArchived": today, "versionNumber": version,
                "shipmentDate": row.get("shipmentDate") or today,
                "paymentDiscountPercent": row.get("paymentDiscountPercent") or 0.0})
            for ln in lines:
                self.insert_seed(company, "salesLineArchives", {
                    "documentType": "Order", "documentNumber": row.get("number"), "versionNumber": version,
                    "sequence": ln.get("sequence"), "lineType": ln.get("lineType"),
                    "lineObjectNumber": ln.get("lineObjectNumber"), "description": ln.get("description"),
                    "unitOfMeasureCode": ln.get("unitOfMeasureCode"), "quantity": ln.get("quantity"),
                    "shippedQuantity": ln.get("quantity"), "invoicedQuantity": ln.get("quantity"),
                    "unitPrice": ln.get("unitPrice"), "discountAmount": ln.get("discountAmount") or 0.0,
                    "amountExcludingTax": ln.get("amountExcludingTax"),
                    "amountIncludingTax": ln.get("amountIncludingTax")})
            self.delete(company, ent, rid)
            return Response(204)
        if ent.api == "custom" and action not in ent.actions:
            raise BCError(400, "BadRequest_MethodNotImplemented", f"The action '{action}' is not available on "
                          f"{ent.name}.")
        if ent.name == "salesOrders" and action in ("release", "reopen"):
            return self._release_or_reopen(company, tbl, rid, action)
        if ent.name == "integrationInfo" and action == "createMissingUnitGroups":
            created = self.create_missing_unit_groups(company)
            return json_response(200, {"@odata.context": self.base_url(self.state.environment, ent.api)
                                       + "$metadata#Edm.Int32", "value": created},
                                 [("OData-Version", "4.0")], content_type=BC_JSON)
        raise BCError(400, "BadRequest_MethodNotImplemented", f"The action '{action}' is not available on "
                      f"{ent.name}.")

    def _release_or_reopen(self, company: str, tbl: dict[str, dict[str, Any]], rid: str, action: str) -> Response:
        """The companion extension's ``Microsoft.NAV.release`` / ``Microsoft.NAV.reopen`` on its salesOrders page
        (API v2.0 has no release action): codeunit "Release Sales Document" sets the
        status Released (an order without a line with a quantity has nothing to release), Reopen sets it Open.
        A released order's header and lines refuse changes until it is reopened (``_editable``)."""
        row = tbl[rid]
        if action == "release":
            if row.get("status") == "Released":
                return Response(204)
            lines = [r for r in self.table(company, "salesOrderLines").values()
                     if r.get("documentId") == rid and r.get("lineType") != "Comment" and (r.get("quantity") or 0)]
            if not lines:
                raise BCError(400, "Application_DialogException", "There is nothing to release for the document of "
                              f"type Order with the number {row.get('number')}.")
            status = "Released"
        else:
            if row.get("status") != "Released":
                return Response(204)
            status = "Open"
        tbl[rid] = {**row, "status": status, "@v": self.next_version(), "lastModifiedDateTime": now_bc()}
        return Response(204)

    def _series(self, company: str, entity: str) -> str:
        n = self.state.counters.get(company + entity, 0) + 1
        self.state.counters[company + entity] = n
        return f"{ENTITIES[entity].series}{n:06d}"

    def create_missing_unit_groups(self, company: str) -> int:
        """A Unit Group for each item and resource of ``company`` that has none; returns how many were created (the
        extension's ``createMissingUnitGroups``, as BC: codeunit 5367 "CRM Update Unit Group Mapping" does). The code
        is BC's: table 5400 "Unit Group" GetCode = 'ITEM <No.> UOM GR' / 'RESOURCE <No.> UOM GR'; the description
        and source name are the item's Description / the resource's Name (GetSourceName)."""
        groups = self.table(company, "unitGroups")
        have = {(g["sourceType"], g["sourceId"]) for g in groups.values()}
        created = 0
        for source_type, source_set in (("Item", "items"), ("Resource", "resources")):
            for source in sorted(self.table(company, source_set).values(), key=lambda r: r.get("number") or ""):
                if (source_type, source["id"]) in have:
                    continue
                self.insert_seed(company, "unitGroups", unit_group_row(company, source_type, source))
                created += 1
        return created


def unit_group_row(company: str, source_type: str, source: dict[str, Any]) -> dict[str, Any]:
    """The Unit Group of an item or resource row (``source_type`` "Item" or "Resource"): BC: table 5400 "Unit Group"
    (key Source Type + Source Id; GetCode = '<ITEM|RESOURCE> <No.> UOM GR'; GetSourceName = Description / Name)."""
    number = source.get("number")
    return {"id": stable_id(company, "unitGroup", source_type, source["id"]), "sourceType": source_type,
            "sourceId": source["id"], "sourceNumber": number, "code": f"{source_type.upper()} {number} UOM GR",
            "description": source.get("displayName"), "sourceName": source.get("displayName")}

