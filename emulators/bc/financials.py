"""Customer financial details as API v2.0 serves them (``customerFinancialDetails``: Microsoft Learn
"customerFinancialDetail resource type": ``balance`` = Balance (LCY), ``totalSalesExcludingTax`` = Sales (LCY),
``overdueAmount`` = the balance of open entries due before the work date), derived on every read from the
emulator's posted sales invoices (their ``remainingAmount`` stands in for the open customer ledger entries BC sums), so
posting an invoice changes them as it does in BC."""

from __future__ import annotations

import datetime as dt
from typing import Any


def customer_financial_details(bc: Any, company: str) -> list[dict[str, Any]]:
    """One row per customer of ``company`` (same id, number and version as the customer) summing its posted
    (non-Draft) sales invoices: remaining amounts (balance; overdue when due before today, UTC) and amounts excluding
    tax (total sales). Amounts in LCY, rounded to 2 decimals."""
    today = dt.datetime.now(dt.UTC).date().isoformat()
    totals: dict[str, list[float]] = {}
    for invoice in bc.table(company, "salesInvoices").values():
        if invoice.get("status") in (None, "Draft") or not invoice.get("customerId"):
            continue
        sums = totals.setdefault(invoice["customerId"], [0.0, 0.0, 0.0])
        remaining = float(invoice.get("remainingAmount") or 0)
        sums[0] += remaining
        sums[1] += float(invoice.get("totalAmountExcludingTax") or 0)
        if (invoice.get("dueDate") or today) < today:
            sums[2] += remaining
    rows = []
    for customer in bc.table(company, "customers").values():
        balance, sales, overdue = totals.get(customer["id"], [0.0, 0.0, 0.0])
        rows.append({"id": customer["id"], "number": customer["number"], "balance": round(balance, 2),
                     "totalSalesExcludingTax": round(sales, 2), "overdueAmount": round(overdue, 2),
                     "@v": customer["@v"]})
    return rows


def _share(line: dict[str, Any], quantity: float) -> float:
    """The part of a line's amount including tax that ``quantity`` of its quantity carries."""
    total = float(line.get("quantity") or 0)
    if not total:
        return 0.0
    return float(line.get("amountIncludingTax") or 0) * quantity / total


def customer_statistics(bc: Any, company: str) -> list[dict[str, Any]]:
    """The companion extension's ``customerStatistics`` (page "BCP Customer Statistics" on table 18 Customer): one row
    per customer with the statistics BC's "CRM Statistics Job" uploads, derived on every read from the emulator's
    documents, in LCY rounded to 2 decimals (the emulator's documents are in the local currency):

    * ``balanceLCY``, ``salesLCY``, ``overdueAmountLCY``: as :func:`customer_financial_details`;
    * ``outstandingOrdersLCY``: sales order lines' amount including tax of the quantity not shipped yet (BC: Sales Line
      "Outstanding Amount (LCY)" summed by Customer "Outstanding Orders (LCY)");
    * ``shippedNotInvoicedLCY``: the same of the quantity shipped but not invoiced (Sales Line "Shipped Not Invoiced
      (LCY)");
    * ``outstandingInvoicesLCY``: unposted (Draft) sales invoices' total including tax;
    * ``invoicedPrepaymentAmountLCY``: 0, the emulator posts no prepayment invoices;
    * ``totalAmountLCY``: balance + outstanding orders + shipped not invoiced + outstanding invoices - invoiced
      prepayments (BC: table 18 Customer, GetTotalAmountLCY);
    * ``creditLimitLCY`` from the customer."""
    orders = {order["id"]: order.get("customerId") for order in bc.table(company, "salesOrders").values()}
    open_amounts: dict[str, list[float]] = {}
    for line in bc.table(company, "salesOrderLines").values():
        customer_id = orders.get(line.get("documentId"))
        if not customer_id:
            continue
        quantity = float(line.get("quantity") or 0)
        shipped = float(line.get("shippedQuantity") or 0)
        invoiced = float(line.get("invoicedQuantity") or 0)
        sums = open_amounts.setdefault(customer_id, [0.0, 0.0, 0.0])
        sums[0] += _share(line, max(quantity - shipped, 0.0))
        sums[1] += _share(line, max(shipped - invoiced, 0.0))
    for invoice in bc.table(company, "salesInvoices").values():
        if invoice.get("status") == "Draft" and invoice.get("customerId"):
            sums = open_amounts.setdefault(invoice["customerId"], [0.0, 0.0, 0.0])
            sums[2] += float(invoice.get("totalAmountIncludingTax") or 0)
    customers = bc.table(company, "customers")
    rows = []
    for details in customer_financial_details(bc, company):
        customer = customers.get(details["id"], {})
        orders_lcy, shipped_lcy, invoices_lcy = (round(x, 2) for x in open_amounts.get(details["id"], [0.0] * 3))
        prepayments = 0.0
        rows.append({
            "id": details["id"], "number": details["number"], "displayName": customer.get("displayName"),
            "balanceLCY": details["balance"], "outstandingOrdersLCY": orders_lcy,
            "shippedNotInvoicedLCY": shipped_lcy, "outstandingInvoicesLCY": invoices_lcy,
            "salesLCY": details["totalSalesExcludingTax"], "creditLimitLCY": float(customer.get("creditLimit") or 0),
            "overdueAmountLCY": details["overdueAmount"], "invoicedPrepaymentAmountLCY": prepayments,
            "totalAmountLCY": round(details["balance"] + orders_lcy + shipped_lcy + invoices_lcy - prepayments, 2),
            "lastModifiedDateTime": customer.get("lastModifiedDateTime"), "@v": details["@v"]})
    return rows
