"""Bi-directional sales order integration on the demo data.

* After the assisted setup's full synchronization every released CRONUS order reaches Dynamics 365 Sales with its
  payment terms, shipment method and shipping agent codes as options of the sales order (BC: codeunit "CDS Int.
  Option Synch" adds each code with InsertOptionValue), and no code is cleared in BC first.
* A coupled order that BC posts (ship and invoice) and so deletes is archived; the Archived Sales Orders job writes
  the archive to the Dataverse order and marks it Invoiced (BC: codeunit 5366 "CRM Archived Sales Orders Job").
"""
from __future__ import annotations

from typing import Any

import pytest

from connections.actions.configuration import connection_sales_settings_update
from mappings.models import Coupling
from syncjobs.engine import clients_for
from syncjobs.engine.options import picklist_options
from syncjobs.models import JobQueueEntry, SynchronizationJob
from syncjobs.runner import execute_job_queue_entry
from tests.syncjobs.test_special_jobs import synchronize_demo

pytestmark = pytest.mark.django_db(transaction=True)

#: salesorder column -> the BC order's code it carries (default SALESORDER-ORDER field mappings, bidirectional)
CODE_COLUMNS = {"paymenttermscode": "paymentTermsCode", "freighttermscode": "shipmentMethodCode",
                "shippingmethodcode": "shippingAgentCode"}
INVOICED = (4, 100003)


def _orders(bc: Any) -> dict[str, dict[str, Any]]:
    return {o["id"]: o for o in bc.iter_rows("salesOrders", api="custom", select=[
        "id", "number", "status", *CODE_COLUMNS.values()])}


def bidirectional_demo(emulator: Any, connection: Any, queue: Any, user: Any) -> dict[str, dict[str, Any]]:
    """Turn bi-directional integration on, release every CRONUS order, couple the salespeople of the orders and
    customers to users (the assisted setup's Couple Salespersons step, needed in the Person ownership model; BC: page
    "Users - Dataverse") and run the full synchronization; returns the released orders as they were before it."""
    connection_sales_settings_update(connection=connection, user=user,
                                     data={"bidirectional_sales_order_integration": True})
    bc, dv = clients_for(connection)
    orders = [o["id"] for o in bc.iter_rows("salesOrders", select=["id"], api="custom")]
    results = bc.batch([{"method": "POST", "url": f"salesOrders({order})/Microsoft.NAV.release"} for order in orders],
                       api="custom")
    assert [r["error"] for r in results if r["error"] is not None] == []
    before = _orders(bc)
    assert before and {o["status"] for o in before.values()} == {"Released"}
    assert any(o["paymentTermsCode"] for o in before.values())
    users = [u["systemuserid"] for u in dv.iter_rows("systemusers", select=["systemuserid", "applicationid"],
                                                     filter="isdisabled eq false") if not u.get("applicationid")]
    people = {p["code"]: p["id"] for p in bc.iter_rows("salespeoplePurchasers", select=["id", "code"])}
    codes = sorted({o["salesperson"] for o in bc.iter_rows("salesOrders", select=["salesperson"]) if o["salesperson"]}
                   | {c["salespersonCode"] for c in bc.iter_rows("customers", select=["salespersonCode"])
                      if c["salespersonCode"]})
    assert len(users) >= len(codes)
    for code, user_id in zip(codes, users, strict=False):
        Coupling.objects.create(connection=connection, bc_table="Salesperson/Purchaser", bc_id=people[code],
                                dataverse_table="systemuser", dataverse_id=user_id)
    synchronize_demo(emulator, connection, queue)
    return before


def test_every_released_demo_order_reaches_sales_with_its_codes(emulator: Any, emulator_connection: Any,
                                                                  sync_queue: Any, admin_user: Any) -> None:
    connection = emulator_connection
    before = bidirectional_demo(emulator, connection, sync_queue, admin_user)
    bc, dv = clients_for(connection)
    coupled = {str(c.bc_id): c.dataverse_id for c in Coupling.objects.filter(
        connection=connection, bc_table="Sales Header", is_pending=False)}
    assert set(coupled) == set(before), "every released order is coupled"
    options = {column: picklist_options(dv, "salesorder", column) for column in CODE_COLUMNS}
    for bc_id, dv_id in coupled.items():
        row = dv.retrieve("salesorders", dv_id, select=list(CODE_COLUMNS))
        for column, field in CODE_COLUMNS.items():
            code = before[bc_id][field]
            assert (options[column].get(row[column]) if row[column] is not None else None) == (code or None), (
                before[bc_id]["number"], column)
    assert _orders(bc) == before  # no code cleared, nothing changed in BC


def test_a_posted_and_deleted_order_is_archived_and_marked_invoiced(emulator: Any, emulator_connection: Any,
                                                                    sync_queue: Any, admin_user: Any) -> None:
    connection = emulator_connection
    bidirectional_demo(emulator, connection, sync_queue, admin_user)
    entry = JobQueueEntry.objects.get(connection=connection, kind=JobQueueEntry.Kind.ARCHIVED_SALES_ORDERS)
    bc, dv = clients_for(connection)
    coupling = Coupling.objects.filter(connection=connection, bc_table="Sales Header", is_pending=False).first()
    assert coupling is not None
    lines = {ln["sequence"]: ln for ln in bc.iter_rows("salesOrderLines", filter=f"documentId eq {coupling.bc_id}",
                                                       api="custom")}
    assert lines
    assert execute_job_queue_entry(entry).changed == 0  # nothing posted yet

    posted = bc.batch([{"method": "POST", "url": f"salesOrders({coupling.bc_id})/Microsoft.NAV.shipAndInvoice"}])
    assert posted[0]["error"] is None
    outcome = execute_job_queue_entry(entry)
    assert (outcome.changed, outcome.failed) == (2, 0)  # one coupling archived, one order updated
    coupling.refresh_from_db()
    assert coupling.archived_sales_order and coupling.archived_sales_order_updated
    order = dv.retrieve("salesorders", coupling.dataverse_id, select=["statecode", "statuscode", "datefulfilled"])
    assert (order["statecode"], order["statuscode"]) == INVOICED
    assert order["datefulfilled"]
    details = list(dv.iter_rows("salesorderdetails", select=["quantity", "quantityshipped",
                                                             "bcp_businesscentrallinenumber"],
                                filter=f"_salesorderid_value eq {coupling.dataverse_id}"))
    assert details
    for detail in details:
        line = lines[detail["bcp_businesscentrallinenumber"]]
        assert float(detail["quantityshipped"]) == float(detail["quantity"]) == float(line["quantity"])
    job = SynchronizationJob.objects.filter(job_queue_entry=entry).latest("started_at")
    assert (job.modified, job.failed) == (1, 0)

    assert execute_job_queue_entry(entry).changed == 0  # a second run has nothing to do
    # the order's own synchronization leaves the archived order alone on both sides (BC: archived couplings are
    # excluded from further header synchronization)
    orders = JobQueueEntry.objects.get(connection=connection, recurring_job=True,
                                       table_mapping__name="SALESORDER-ORDER")
    assert execute_job_queue_entry(orders).failed == 0
    order = dv.retrieve("salesorders", coupling.dataverse_id, select=["statecode", "statuscode"])
    assert (order["statecode"], order["statuscode"]) == INVOICED
    assert Coupling.objects.filter(pk=coupling.pk).exists()
