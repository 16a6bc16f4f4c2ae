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
