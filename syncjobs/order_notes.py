"""The "Sales Order Notes" job: notes of coupled sales orders exchanged both ways (BC: codeunit "CRM Notes Synch Job",
in legacy and bi-directional sales order integration).

BC side: the notes (table 2000000068 "Record Link", Type Note) of Sales Header records, read and written through the
companion extension's page ``salesOrderNotes``. Dataverse side: the ``annotation`` rows regarding a ``salesorder``
(Microsoft Learn "annotation EntityType": ``objectid`` with ``objecttypecode`` salesorder, ``notetext``,
``subject``). A note written on one side is created once on the other and the pair is coupled (a coupling of BC table
"Record Link" with Dataverse table ``annotation``), so it is never copied back or twice. As in BC's job, a note is
copied when it is new; later edits of a note are not synchronized.

Which notes: every note of an order coupled by SALESORDER-ORDER (not archived), read each run and compared with the
couplings (the exact test of "new"; the notes page exposes no modification filter on the order).
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from connections.clients.errors import ClientError
from mappings.catalogue import CUSTOM_API
from mappings.models import Coupling
from syncjobs.engine import clients_for
from syncjobs.models import JobQueueEntry

logger = logging.getLogger(__name__)

NOTE_BC_TABLE, NOTE_DV_TABLE = "Record Link", "annotation"
NOTES_SET = "salesOrderNotes"
#: Dataverse: the annotation's lookup to its sales order (single-valued navigation property of the polymorphic
#: ``objectid``; Microsoft Learn "annotation EntityType").
ORDER_NAV = "objectid_salesorder"
SUBJECT = "Note from Business Central"


@dataclass
class OrderNotesResult:
    """Counters of one run: notes created in Dataverse, notes created in BC, failed (reasons in ``errors``)."""

    to_dataverse: int = 0
    to_business_central: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def _couple(connection: Any, bc_id: uuid.UUID, dv_id: uuid.UUID) -> None:
    Coupling.objects.create(connection=connection, bc_table=NOTE_BC_TABLE, bc_id=bc_id,
                            dataverse_table=NOTE_DV_TABLE, dataverse_id=dv_id,
                            last_synch_crm_result=Coupling.Result.SUCCESS)


def sales_order_notes_run(*, entry: JobQueueEntry) -> OrderNotesResult:
    """Run one "Sales Order Notes" job queue entry: create in Dataverse each BC note of a coupled order that has no
    coupled annotation, and in BC each annotation of a coupled order that has no coupled note, coupling each pair.
    A note that fails is counted with its reason and tried again by the next run. Raises SynchronizationNotPossible
    (connection disabled or incomplete) or ClientError when the notes cannot be read (the job queue retries)."""
    connection = entry.connection
    bc, dv = clients_for(connection)
    result = OrderNotesResult()
    orders = {str(bc_id).lower(): str(dv_id).lower() for bc_id, dv_id in Coupling.objects.filter(
        connection=connection, bc_table="Sales Header", dataverse_table="salesorder", is_pending=False,
        archived_sales_order=False).values_list("bc_id", "dataverse_id")}
    if not orders:
        return result
    by_dv_order = {dv_id: bc_id for bc_id, dv_id in orders.items()}
    coupled_bc, coupled_dv = set(), set()
    for bc_id, dv_id in Coupling.objects.filter(connection=connection, bc_table=NOTE_BC_TABLE,
                                                dataverse_table=NOTE_DV_TABLE).values_list("bc_id", "dataverse_id"):
        coupled_bc.add(str(bc_id).lower())
        coupled_dv.add(str(dv_id).lower())
    bc_notes = [n for n in bc.iter_rows(NOTES_SET, select=["id", "salesOrderId", "note"], api=CUSTOM_API)
                if str(n.get("salesOrderId") or "").lower() in orders]
    dv_notes = [n for n in dv.iter_rows("annotations", select=["annotationid", "_objectid_value", "notetext",
                                                                "subject"],
                                        filter="objecttypecode eq 'salesorder'")
                if str(n.get("_objectid_value") or "").lower() in by_dv_order]

    for note in bc_notes:
        if str(note["id"]).lower() in coupled_bc:
            continue
        order = orders[str(note["salesOrderId"]).lower()]
        annotation_id = uuid.uuid4()  # our own id: a create repeated after a lost answer cannot make a second note
        try:
            dv.create("annotations", {"annotationid": str(annotation_id), "subject": SUBJECT,
                                      "notetext": note.get("note") or "",
                                      f"{ORDER_NAV}@odata.bind": f"/salesorders({order})"})
        except ClientError as error:
            result.failed += 1
            result.errors.append(f"BC note {note['id']} of order {note['salesOrderId']}: {error}")
            continue
        _couple(connection, uuid.UUID(str(note["id"])), annotation_id)
        result.to_dataverse += 1

    for note in dv_notes:
        if str(note["annotationid"]).lower() in coupled_dv:
            continue
        order = by_dv_order[str(note["_objectid_value"]).lower()]
        text = note.get("notetext") or note.get("subject") or ""
        try:
            created = bc.create(NOTES_SET, {"salesOrderId": order, "note": text}, api=CUSTOM_API)
        except ClientError as error:
            result.failed += 1
            result.errors.append(f"Dataverse note {note['annotationid']}: {error}")
            continue
        _couple(connection, uuid.UUID(str(created["id"])), uuid.UUID(str(note["annotationid"])))
        result.to_business_central += 1
    for message in result.errors:
        logger.warning("sales order notes of %s: %s", connection.name, message)
    return result
