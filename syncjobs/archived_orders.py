"""The "Archived Sales Orders" job of bi-directional sales order integration (BC: codeunit 5366 "CRM Archived Sales
Orders Job"; table 5331 "CRM Integration Record" fields 14 "Archived Sales Order" and 15 "Archived Sales Order
Updated").

When a coupled BC sales order is deleted, typically because posting it shipped and invoiced it in full, BC keeps a
copy in the archive (Sales & Receivables Setup "Archive Orders", which bi-directional integration turns on) and marks
the coupling archived. The job then writes to the Dataverse order, from the latest archived version of its BC number
(Sales Header Archive / Sales Line Archive, the companion extension's pages ``salesHeaderArchives`` and
``salesLineArchives``):

* ``datefulfilled`` := the archive's Shipment Date, ``discountpercentage`` := its Payment Discount %;
* each Dataverse line whose ``bcp_businesscentrallinenumber`` is an archived line: quantity, quantity shipped,
  manual discount, price per unit; the lines the archive no longer has are deleted;
* when BC posted an invoice for the order (API v2.0 ``salesInvoices`` with its ``orderNumber``): state Invoiced.

A Dataverse order that is not Active is read-only, so it is re-activated for the changes and then set Invoiced, or
back to Submitted (Microsoft Learn "salesorder EntityType": statecode Active 0, Submitted 1, Invoiced 4).

Improvement on BC, whose table subscriber marks the coupling the moment the order is deleted: the portal sees BC only
through its API, so each run first marks the couplings whose BC order no longer exists (one read of the order ids).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.utils import timezone

from connections.clients.errors import ClientError, NotFoundError
from mappings.catalogue import CUSTOM_API
from mappings.models import Coupling, Direction, IntegrationTableMapping
from syncjobs.engine import clients_for
from syncjobs.engine.rules.sales_orders import ORDER_ACTIVE, ORDER_SUBMITTED
from syncjobs.models import JobQueueEntry, SynchronizationError, SynchronizationJob

logger = logging.getLogger(__name__)

ORDER_INVOICED = {"statecode": 4, "statuscode": 100003}
SALES_HEADER, SALESORDER = "Sales Header", "salesorder"
ORDER_NUMBER = "bcp_businesscentralordernumber"
LINE_NUMBER = "bcp_businesscentrallinenumber"


@dataclass
class ArchivedOrdersResult:
    """Counters of one run: couplings marked archived, Dataverse orders updated from their archive, failed (with the
    reasons in ``errors``: one sentence per order naming it and what to do)."""

    archived: int = 0
    modified: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def archived_couplings_mark(*, connection: Any, bc: Any) -> int:
    """Mark archived every not-yet-archived Sales Header coupling whose BC order no longer exists (BC: table 5331
    field 14 "Archived Sales Order"); returns how many. Raises ClientError when BC cannot be read."""
    live = {UUID(str(row["id"])) for row in bc.iter_rows("salesOrders", select=["id"], api=CUSTOM_API)}
    gone = [pk for pk, bc_id in Coupling.objects.filter(
        connection=connection, bc_table=SALES_HEADER, dataverse_table=SALESORDER, archived_sales_order=False,
        is_pending=False).values_list("pk", "bc_id") if bc_id not in live]
    return Coupling.objects.filter(pk__in=gone).update(archived_sales_order=True, archived_sales_order_updated=False)


def _latest_archive(bc: Any, number: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The latest archived version of order ``number`` (highest occurrence, then version) and its lines."""
    versions = list(bc.iter_rows("salesHeaderArchives", api=CUSTOM_API,
                                 filter=f"documentType eq 'Order' and number eq {_quote(number)}"))
    if not versions:
        return None, []
    header = max(versions, key=lambda a: (a.get("docNoOccurrence") or 0, a.get("versionNumber") or 0))
    lines = list(bc.iter_rows("salesLineArchives", api=CUSTOM_API, filter=(
        f"documentType eq 'Order' and documentNumber eq {_quote(number)} and docNoOccurrence eq "
        f"{header.get('docNoOccurrence') or 1} and versionNumber eq {header.get('versionNumber') or 1}")))
    return header, lines


def _line_changes(archived: dict[str, Any]) -> dict[str, Any]:
    """The ``salesorderdetail`` columns BC writes from one archived line."""
    return {"quantity": float(archived.get("quantity") or 0),
            "quantityshipped": float(archived.get("shippedQuantity") or 0),
            "manualdiscountamount": float(archived.get("discountAmount") or 0),
            "priceperunit": float(archived.get("unitPrice") or 0), "ispriceoverridden": True}


def archived_order_update(*, bc: Any, dv: Any, coupling: Coupling) -> bool:
    """Write the latest archived version of the coupling's BC order to its Dataverse order (module docstring) and
    mark the coupling updated (field 15 "Archived Sales Order Updated"). Returns False when the Dataverse order no
    longer exists (nothing to update; the coupling is marked updated). Raises ClientError when a side refuses, and
    LookupError naming the fix when the Dataverse order has no BC order number or BC has no archive of it."""
    try:
        order = dv.retrieve("salesorders", coupling.dataverse_id, select=["salesorderid", "statecode", ORDER_NUMBER])
    except NotFoundError:
        Coupling.objects.filter(pk=coupling.pk).update(archived_sales_order_updated=True)
        return False
    number = order.get(ORDER_NUMBER)
    if not number:
        raise LookupError(f"Dataverse order {coupling.dataverse_id} has no Business Central order number "
                          f"({ORDER_NUMBER}); it was not written by the bi-directional integration.")
    header, archived_lines = _latest_archive(bc, number)
    if header is None:
        raise LookupError(f"Order {number} was deleted in Business Central without an archived version: turn on "
                          "\"Archive Orders\" in Sales & Receivables Setup (bi-directional integration needs it).")
    invoiced = next(iter(bc.iter_rows("salesInvoices", select=["id"], top=1,
                                      filter=f"orderNumber eq {_quote(number)} and status ne 'Draft'")), None)
    if order.get("statecode") != ORDER_ACTIVE["statecode"]:
        dv.update("salesorders", coupling.dataverse_id, dict(ORDER_ACTIVE))
    dv.update("salesorders", coupling.dataverse_id, {
        "datefulfilled": header.get("shipmentDate"),
        "discountpercentage": float(header.get("paymentDiscountPercent") or 0)})
    by_number = {int(line.get("sequence") or 0): line for line in archived_lines}
    for line in dv.iter_rows("salesorderdetails", select=["salesorderdetailid", LINE_NUMBER],
                             filter=f"_salesorderid_value eq {coupling.dataverse_id}"):
        archived = by_number.get(int(line.get(LINE_NUMBER) or 0))
        if archived is None:
            dv.delete("salesorderdetails", line["salesorderdetailid"])
        else:
            dv.update("salesorderdetails", line["salesorderdetailid"], _line_changes(archived))
    final = ORDER_INVOICED if invoiced is not None else ORDER_SUBMITTED
    dv.update("salesorders", coupling.dataverse_id, dict(final))
    Coupling.objects.filter(pk=coupling.pk).update(archived_sales_order_updated=True)
    return True


def archived_sales_orders_run(*, entry: JobQueueEntry) -> ArchivedOrdersResult:
    """Run one "Archived Sales Orders" job queue entry: mark the couplings of deleted BC orders archived
    (:func:`archived_couplings_mark`), then update each archived, not yet updated order
    (:func:`archived_order_update`). The run is logged as a synchronization job of SALESORDER-ORDER (BC -> Dataverse)
    with one synchronization error per order that failed, which the next run retries. Raises
    SynchronizationNotPossible (connection disabled or incomplete) or ClientError when BC's orders cannot be read."""
    connection = entry.connection
    bc, dv = clients_for(connection)
    result = ArchivedOrdersResult(archived=archived_couplings_mark(connection=connection, bc=bc))
    pending = list(Coupling.objects.filter(connection=connection, bc_table=SALES_HEADER, dataverse_table=SALESORDER,
                                           archived_sales_order=True, archived_sales_order_updated=False))
    mapping = IntegrationTableMapping.objects.filter(connection=connection, table=SALES_HEADER,
                                                     integration_table=SALESORDER).first()
    job = None
    if pending and mapping is not None:
        job = SynchronizationJob.objects.create(table_mapping=mapping, job_queue_entry=entry, total=len(pending),
                                                direction=Direction.TO_INTEGRATION_TABLE)
    for coupling in pending:
        try:
            if archived_order_update(bc=bc, dv=dv, coupling=coupling):
                result.modified += 1
        except (ClientError, LookupError) as error:
            result.failed += 1
            result.errors.append(str(error))
            logger.warning("archived sales order %s: %s", coupling.bc_id, error)
            if job is not None:
                SynchronizationError.objects.create(
                    job=job, coupling=coupling, direction=Direction.TO_INTEGRATION_TABLE, source_table=SALES_HEADER,
                    source_id=str(coupling.bc_id), destination_table=SALESORDER,
                    destination_id=str(coupling.dataverse_id),
                    message=f"Archived sales order: {error}", transient=isinstance(error, ClientError)
                    and error.transient)
    if job is not None:
        job.modified, job.failed, job.processed = result.modified, result.failed, len(pending)
        job.message = (f"Archived sales orders: {result.archived} marked archived, {result.modified} updated from "
                       f"their archive, {result.failed} failed")
        job.finished_at = timezone.now()
        job.save()
    return result
