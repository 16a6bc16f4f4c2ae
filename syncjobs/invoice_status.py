"""The second pass of the "Customer Statistics" job: the payment status of posted sales invoices written to their
coupled Dataverse ``invoice`` rows (BC: codeunit 5350 "CRM Statistics Job" with the invoice status rules of codeunit
"CRM Synch. Helper").

BC's rule, per posted invoice coupled to a Dataverse invoice:

* canceled (a corrective credit memo was posted) -> ``statecode`` Canceled (3), ``statuscode`` Canceled (100003);
* nothing left to pay -> Paid (2) / Complete (100001);
* partly paid -> Paid (2) / Partial (100002);
* unpaid -> Active (0) / Billed (4) (an invoice that was Paid or Canceled is re-activated).

Source: API v2.0 ``salesInvoices`` (Microsoft Learn "salesInvoice resource type": ``status`` Open / Paid / Canceled /
Corrected and ``remainingAmount`` of a posted invoice). Deliberate difference from BC, which walks the Detailed Cust.
Ledg. Entries after its watermark ("Last Update Invoice Entry No."): the API has no customer ledger entries, so the
pass compares each coupled invoice's status with the state the Dataverse row holds and writes only the differences
(a status that changed is never missed, an unchanged row is never rewritten).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from mappings.models import Coupling
from syncjobs.engine.writers import DataverseWriter, Write

#: BC's posted invoice table and the Dataverse table it is coupled to (mapping POSTEDSALESINV-INV).
INVOICE_BC_TABLE, INVOICE_DV_TABLE = "Sales Invoice Header", "invoice"
BATCH_SIZE = 100
#: Dataverse ``invoice`` (statecode, statuscode) pairs (Microsoft Learn: "invoice EntityType", statecode and
#: statuscode choices).
ACTIVE_BILLED = (0, 4)
PAID_COMPLETE = (2, 100001)
PAID_PARTIAL = (2, 100002)
CANCELED = (3, 100003)


@dataclass
class InvoiceStatusResult:
    """Counters of one pass: Dataverse invoices whose state was changed, left as they were, failed."""

    modified: int = 0
    unchanged: int = 0
    failed: int = 0


def invoice_state(invoice: dict[str, Any]) -> tuple[int, int]:
    """The Dataverse (statecode, statuscode) of a posted BC invoice (``status``, ``remainingAmount`` and
    ``totalAmountIncludingTax`` of API v2.0 ``salesInvoices``), by BC's rule (module docstring)."""
    if invoice.get("status") in ("Canceled", "Corrected"):
        return CANCELED
    remaining = round(float(invoice.get("remainingAmount") or 0), 2)
    total = round(float(invoice.get("totalAmountIncludingTax") or 0), 2)
    if remaining <= 0:
        return PAID_COMPLETE
    if remaining < total:
        return PAID_PARTIAL
    return ACTIVE_BILLED


def invoice_payment_status_run(*, connection: Any, bc: Any, dv: Any) -> InvoiceStatusResult:
    """Write the payment status of every coupled (not skipped) posted invoice whose Dataverse state differs from BC's
    (:func:`invoice_state`), with UpdateMultiple in batches of 100 (or ``$batch`` change sets where the table lacks
    the message). A failed row is counted failed and found again by the next run. Raises the clients' ClientError
    when a read fails (the job queue retries the entry)."""
    result = InvoiceStatusResult()
    couplings = {str(c.bc_id): str(c.dataverse_id) for c in Coupling.objects.filter(
        connection=connection, bc_table=INVOICE_BC_TABLE, dataverse_table=INVOICE_DV_TABLE, skipped=False,
        is_pending=False)}
    if not couplings:
        return result
    stored = {row["invoiceid"]: (row.get("statecode"), row.get("statuscode"))
              for row in dv.iter_rows("invoices", select=["invoiceid", "statecode", "statuscode"])}
    writes: list[Write] = []
    for invoice in bc.iter_rows("salesInvoices", filter="status ne 'Draft'",
                                select=["id", "number", "status", "remainingAmount", "totalAmountIncludingTax"]):
        invoice_id = couplings.get(str(invoice["id"]))
        if invoice_id is None or invoice_id not in stored:
            continue
        state, status = invoice_state(invoice)
        if stored[invoice_id] == (state, status):
            result.unchanged += 1
            continue
        writes.append(Write("update", UUID(invoice_id), {"statecode": state, "statuscode": status},
                            f"the payment status of invoice {invoice.get('number')}"))
    writer = DataverseWriter(dv, logical_name=INVOICE_DV_TABLE, entity_set="invoices", primary_id="invoiceid",
                             batch_size=BATCH_SIZE)
    for failure in writer.write(writes):
        if failure is None:
            result.modified += 1
        else:
            result.failed += 1
    return result
