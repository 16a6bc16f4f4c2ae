"""Sales orders against the emulators (BC: codeunit 5334 "CRM Setup Defaults", SALESORDER-ORDER /
SOLINE-ORDERDETAIL; codeunit 5341 "CRM Int. Table. Subscriber"; table 5330 "CRM Connection Setup", legacy and
bidirectional sales order integration): released BC orders reach Dataverse with their lines (legacy, one-way), and
orders submitted in Dynamics 365 Sales become released BC orders whose changes flow back (bi-directional)."""
from __future__ import annotations

from typing import Any

import pytest

from connections.actions.configuration import connection_sales_settings_update
from connections.clients.errors import ClientError
from connections.solution import solution_package
from mappings.models import Coupling, IntegrationTableMapping
from tests.syncjobs.engine.conftest import disable_unknown_columns, disable_unmatched_options

SUBMITTED = 1


@pytest.fixture
def sales_world(sync_connection: Any, run: Any, couple_salespeople: Any, clients: Any) -> dict[str, Any]:
    """Currencies, units, items and customers synchronized; returns a coupled customer (number, account id, its
    salesperson) and two coupled items (numbers -> product ids)."""
    couple_salespeople(JO="admin", OF="integration")
    run("CURRENCY", "UNIT OF MEASURE", "ITEM-PRODUCT", "CUSTOMER", full=True)
    bc, _ = clients
    accounts = {str(c.bc_id): c.dataverse_id for c in Coupling.objects.filter(
        connection=sync_connection, bc_table="Customer", is_pending=False)}
    customer = next(c for c in bc.iter_rows("customers") if c["id"] in accounts)
    products = {str(c.bc_id): c.dataverse_id for c in Coupling.objects.filter(
        connection=sync_connection, bc_table="Item", is_pending=False)}
    items = {i["number"]: products[i["id"]] for i in bc.iter_rows("items") if i["id"] in products}
    return {"customer": customer, "account": accounts[customer["id"]], "items": dict(list(sorted(items.items()))[:2])}


def enable(connection: Any, user: Any, setting: str) -> None:
    """Turn a sales order integration on through the connection's Sales settings (rebuilds the mappings)."""
    connection_sales_settings_update(connection=connection, user=user, data={setting: True})


def release(bc: Any, order_id: str, action: str = "release") -> None:
    """The companion extension's release / reopen action on a BC sales order (custom API route)."""
    result = bc.batch([{"method": "POST", "url": f"salesOrders({order_id})/Microsoft.NAV.{action}"}], api="custom")[0]
    assert result["error"] is None, result["error"]


def enable_bidirectional(connection: Any, user: Any, dv: Any, admin_dv: Any) -> None:
    """Import the integration solution (the bcp_* columns) and turn bi-directional sales order
    integration on, disabling the field mappings the emulated environment cannot hold."""
    admin_dv.import_solution(solution_package())
    enable(connection, user, "bidirectional_sales_order_integration")
    disable_unknown_columns(connection, dv)
    disable_unmatched_options(connection)


def add_dv_line(dv: Any, admin_dv: Any, order_id: Any, product: Any, quantity: float) -> Any:
    """A user's order product (salesorderdetail) in the product's default unit; returns its id."""
    unit = dv.retrieve("products", product, select=["_defaultuomid_value"])["_defaultuomid_value"]
    return admin_dv.create("salesorderdetails", {"salesorderid@odata.bind": f"/salesorders({order_id})",
                                                 "productid@odata.bind": f"/products({product})",
                                                 "uomid@odata.bind": f"/uoms({unit})", "quantity": quantity})


def submitted_order(dv: Any, admin_dv: Any, sales_world: dict[str, Any], quantities: dict[str, float]) -> Any:
    """A Dataverse order of the coupled customer with one line per item number -> quantity, submitted by a user
    (statecode Submitted); returns its id."""
    price_list = next(dv.iter_rows("pricelevels", select=["pricelevelid"],
                                   filter="name eq 'Business Central default price list'"))["pricelevelid"]
    order_id = admin_dv.create("salesorders", {
        "name": "Web order 1", "customerid_account@odata.bind": f"/accounts({sales_world['account']})",
        "pricelevelid@odata.bind": f"/pricelevels({price_list})"})
    for number, quantity in quantities.items():
        add_dv_line(dv, admin_dv, order_id, sales_world["items"][number], quantity)
    admin_dv.update("salesorders", order_id, {"statecode": 1, "statuscode": 3})
    return order_id


def dv_lines(dv: Any, order_id: Any, *extra: str) -> list[dict[str, Any]]:
    return list(dv.iter_rows("salesorderdetails", select=["quantity", "priceperunit", "_productid_value",
                                                          "salesorderdetailid", *extra],
                             filter=f"_salesorderid_value eq {order_id}"))


def test_legacy_released_order_reaches_dataverse_with_lines(sync_connection: Any, admin_user: Any, run: Any,
                                                            clients: Any, sales_world: dict[str, Any],
                                                            emulator: Any) -> None:
    enable(sync_connection, admin_user, "legacy_sales_order_integration")
    mapping = IntegrationTableMapping.objects.get(connection=sync_connection, name="SALESORDER-ORDER")
    assert mapping.direction == "ToIntegrationTable"
    bc, dv = clients
    customer, (first, second) = sales_world["customer"], sorted(sales_world["items"])
    order = bc.create("salesOrders", {"customerNumber": customer["number"], "salesOrderLines": [
        {"lineType": "Item", "lineObjectNumber": first, "quantity": 3},
        {"lineType": "Item", "lineObjectNumber": second, "quantity": 5}]})
    draft = bc.create("salesOrders", {"customerNumber": customer["number"], "salesOrderLines": [
        {"lineType": "Item", "lineObjectNumber": first, "quantity": 1}]})
    release(bc, order["id"])

    jobs = run("SALESORDER-ORDER", full=True)

    assert [j.table_mapping.name for j in jobs] == ["SALESORDER-ORDER"]  # legacy: no line mapping
    assert (jobs[0].inserted, jobs[0].failed) == (1, 0), list(jobs[0].errors.values_list("message", flat=True))
    coupling = Coupling.objects.get(connection=sync_connection, bc_table="Sales Header", bc_id=order["id"])
    assert not Coupling.objects.filter(bc_table="Sales Header", bc_id=draft["id"]).exists()  # not released
    header = dv.retrieve("salesorders", coupling.dataverse_id, select=[
        "ordernumber", "name", "statecode", "_customerid_value", "_transactioncurrencyid_value", "_ownerid_value"])
    assert header["ordernumber"] == order["number"] and header["name"] == order["number"]
    assert header["statecode"] == SUBMITTED
    assert header["_customerid_value"] == str(sales_world["account"])
    expected_currency = sync_connection.base_currency_id if not customer.get("currencyCode") else None
    if expected_currency is not None:
        assert header["_transactioncurrencyid_value"] == str(expected_currency)
    users = {u["domainname"]: u["systemuserid"] for u in dv.iter_rows("systemusers",
                                                                      select=["systemuserid", "domainname"])}
    owner = {"JO": users[emulator.info["admin_user"]], "OF": users[emulator.info["integration_user"]]}.get(
        customer.get("salespersonCode") or "")
    if owner is not None:
        assert header["_ownerid_value"] == owner
    lines = dv_lines(dv, coupling.dataverse_id)
    assert sorted((ln["_productid_value"], float(ln["quantity"])) for ln in lines) == sorted(
        [(str(sales_world["items"][first]), 3.0), (str(sales_world["items"][second]), 5.0)])

    # a change in BC (reopen, change a line, release) reaches the submitted order on the next scheduled run; a
    # released order refuses changes until it is reopened (BC: TestStatusOpen)
    line = next(ln for ln in bc.iter_rows("salesOrderLines", filter=f"documentId eq {order['id']}")
                if ln["lineObjectNumber"] == first)
    with pytest.raises(ClientError, match="Status must be equal to 'Open'"):
        bc.update("salesOrderLines", line["id"], {"quantity": 7}, etag=line["@odata.etag"])
    release(bc, order["id"], "reopen")
    bc.update("salesOrderLines", line["id"], {"quantity": 7}, etag=line["@odata.etag"])
    release(bc, order["id"])
    again = run("SALESORDER-ORDER")[0]
    assert (again.modified, again.failed) == (1, 0), list(again.errors.values_list("message", flat=True))
    assert sorted(float(ln["quantity"]) for ln in dv_lines(dv, coupling.dataverse_id)) == [5.0, 7.0]
    assert dv.retrieve("salesorders", coupling.dataverse_id, select=["statecode"])["statecode"] == SUBMITTED


def test_bidirectional_orders_submitted_in_sales_become_released_bc_orders(
        sync_connection: Any, admin_user: Any, run: Any, clients: Any, sales_world: dict[str, Any],
        admin_dv: Any) -> None:
    bc, dv = clients
    enable_bidirectional(sync_connection, admin_user, dv, admin_dv)
    lines_mapping = IntegrationTableMapping.objects.get(connection=sync_connection, name="SOLINE-ORDERDETAIL")
    assert lines_mapping.deletion_conflict_resolution == "RemoveCoupling"
    first, second = sorted(sales_world["items"])
    order_id = submitted_order(dv, admin_dv, sales_world, {first: 2, second: 4})
    order_number = dv.retrieve("salesorders", order_id, select=["ordernumber"])["ordernumber"]

    jobs = {(j.table_mapping.name, j.direction): j for j in run("SALESORDER-ORDER", full=True)}

    header_job = jobs[("SALESORDER-ORDER", "FromIntegrationTable")]
    line_job = jobs[("SOLINE-ORDERDETAIL", "FromIntegrationTable")]
    for job in jobs.values():
        assert job.failed == 0, list(job.errors.values_list("message", flat=True))
    assert (header_job.inserted, line_job.inserted) == (1, 2)
    coupling = Coupling.objects.get(connection=sync_connection, bc_table="Sales Header", dataverse_id=order_id)
    order = bc.get("salesOrders", coupling.bc_id, api="custom")
    assert order["status"] == "Released" and order["customerNumber"] == sales_world["customer"]["number"]
    assert order["yourReference"] == order_number
    bc_lines = list(bc.iter_rows("salesOrderLines", filter=f"documentId eq {coupling.bc_id}"))
    assert sorted((ln["lineType"], ln["lineObjectNumber"], float(ln["quantity"])) for ln in bc_lines) == [
        ("Item", first, 2.0), ("Item", second, 4.0)]

    # the next scheduled run writes the BC order number and line numbers back; the order stays Submitted
    for job in run("SALESORDER-ORDER"):
        assert job.failed == 0, list(job.errors.values_list("message", flat=True))
    header = dv.retrieve("salesorders", order_id, select=["bcp_businesscentralordernumber", "statecode"])
    assert header == {**header, "bcp_businesscentralordernumber": order["number"], "statecode": SUBMITTED}
    assert sorted(ln["bcp_businesscentrallinenumber"] for ln in dv_lines(
        dv, order_id, "bcp_businesscentrallinenumber")) == sorted(ln["sequence"] for ln in bc_lines)

    # a change in BC (reopen, change a line, release) flows back to the submitted order
    release(bc, str(coupling.bc_id), "reopen")
    line = next(ln for ln in bc_lines if ln["lineObjectNumber"] == first)
    bc.update("salesOrderLines", line["id"], {"quantity": 6}, etag="*")
    release(bc, str(coupling.bc_id))
    for job in run("SALESORDER-ORDER"):
        assert job.failed == 0, list(job.errors.values_list("message", flat=True))
    assert sorted(float(ln["quantity"]) for ln in dv_lines(dv, order_id)) == [4.0, 6.0]
    assert dv.retrieve("salesorders", order_id, select=["statecode"])["statecode"] == SUBMITTED

    # Sales refuses changes to a submitted order; the user reactivates it, changes a line and submits it again: the
    # BC order is reopened, changed and released again (BC: codeunit 414 "Release Sales Document")
    dv_line = next(ln for ln in dv_lines(dv, order_id) if float(ln["quantity"]) == 4.0)
    admin_dv.update("salesorders", order_id, {"statecode": 0, "statuscode": 1})
    admin_dv.update("salesorderdetails", dv_line["salesorderdetailid"], {"quantity": 9})
    admin_dv.update("salesorders", order_id, {"statecode": 1, "statuscode": 3})
    for job in run("SALESORDER-ORDER"):
        assert job.failed == 0, list(job.errors.values_list("message", flat=True))
    assert sorted(float(ln["quantity"]) for ln in bc.iter_rows(
        "salesOrderLines", filter=f"documentId eq {coupling.bc_id}")) == [6.0, 9.0]
    assert bc.get("salesOrders", coupling.bc_id, api="custom")["status"] == "Released"


@pytest.fixture
def coupled_order(sync_connection: Any, admin_user: Any, run: Any, clients: Any, sales_world: dict[str, Any],
                  admin_dv: Any) -> dict[str, Any]:
    """A bi-directional order submitted in Sales with lines first x2 and second x4, synchronized into a released
    BC order and back (line numbers written back): {"dv": order id, "bc": BC order id, "first", "second"}."""
    _, dv = clients
    enable_bidirectional(sync_connection, admin_user, dv, admin_dv)
    first, second = sorted(sales_world["items"])
    order_id = submitted_order(dv, admin_dv, sales_world, {first: 2, second: 4})
    for full in (True, False):  # the first run creates the BC order (full synchronization, as the existing test)
        for job in run("SALESORDER-ORDER", full=full):
            assert job.failed == 0, list(job.errors.values_list("message", flat=True))
    coupling = Coupling.objects.get(connection=sync_connection, bc_table="Sales Header", dataverse_id=order_id)
    assert Coupling.objects.filter(connection=sync_connection, bc_table="Sales Line", is_pending=False).count() == 2
    return {"dv": order_id, "bc": str(coupling.bc_id), "first": first, "second": second}


def run_as_scheduler(run: Any) -> dict[tuple[str, str], Any]:
    """Both order mappings, both directions, as the scheduler's SALESORDER-ORDER entry runs them; no failures."""
    jobs = {(j.table_mapping.name, j.direction): j for j in run("SALESORDER-ORDER")}
    assert set(jobs) == {(name, direction) for name in ("SALESORDER-ORDER", "SOLINE-ORDERDETAIL")
                         for direction in ("ToIntegrationTable", "FromIntegrationTable")}
    for job in jobs.values():
        assert job.failed == 0, list(job.errors.values_list("message", flat=True))
    return jobs


def order_state(bc: Any, dv: Any, order: dict[str, Any], items: dict[str, Any]) -> dict[str, Any]:
    """Both sides of the order: BC (item number, quantity) lines and status, Dataverse (item number, quantity)
    lines and statecode, and the number of line couplings."""
    numbers = {str(product): number for number, product in items.items()}
    return {
        "bc": sorted((ln["lineObjectNumber"], float(ln["quantity"])) for ln in bc.iter_rows(
            "salesOrderLines", filter=f"documentId eq {order['bc']}")),
        "bc_status": bc.get("salesOrders", order["bc"], api="custom")["status"],
        "dv": sorted((numbers[ln["_productid_value"]], float(ln["quantity"])) for ln in dv_lines(dv, order["dv"])),
        "dv_state": dv.retrieve("salesorders", order["dv"], select=["statecode"])["statecode"],
        "couplings": Coupling.objects.filter(bc_table="Sales Line", is_pending=False).count(),
    }


def test_bidirectional_line_deleted_in_sales_is_deleted_in_bc(run: Any, clients: Any, admin_dv: Any,
                                                              sales_world: dict[str, Any],
                                                              coupled_order: dict[str, Any]) -> None:
    bc, dv = clients
    first, second = coupled_order["first"], coupled_order["second"]
    removed = next(ln for ln in dv_lines(dv, coupled_order["dv"]) if float(ln["quantity"]) == 2.0)
    # the user reactivates the order, deletes a line, adds a new one and submits again
    admin_dv.update("salesorders", coupled_order["dv"], {"statecode": 0, "statuscode": 1})
    admin_dv.delete("salesorderdetails", removed["salesorderdetailid"])
    add_dv_line(dv, admin_dv, coupled_order["dv"], sales_world["items"][first], 5)
    admin_dv.update("salesorders", coupled_order["dv"], {"statecode": 1, "statuscode": 3})

    jobs = run_as_scheduler(run)

    assert jobs[("SALESORDER-ORDER", "FromIntegrationTable")].deleted == 1  # the BC line of the deleted one
    assert jobs[("SOLINE-ORDERDETAIL", "FromIntegrationTable")].inserted == 1  # the new, not yet coupled line
    assert jobs[("SOLINE-ORDERDETAIL", "ToIntegrationTable")].inserted == 0  # not recreated in Sales
    expected = {"bc": [(first, 5.0), (second, 4.0)], "bc_status": "Released", "dv": [(first, 5.0), (second, 4.0)],
                "dv_state": SUBMITTED, "couplings": 2}
    assert order_state(bc, dv, coupled_order, sales_world["items"]) == expected

    for _ in range(2):  # later scheduled runs: nothing deleted or created again
        again = run_as_scheduler(run)
        assert [(j.inserted, j.deleted) for j in again.values()] == [(0, 0)] * 4
        assert order_state(bc, dv, coupled_order, sales_world["items"]) == expected


def test_bidirectional_line_deleted_in_bc_is_deleted_in_sales(run: Any, clients: Any, sales_world: dict[str, Any],
                                                             coupled_order: dict[str, Any]) -> None:
    bc, dv = clients
    first, second = coupled_order["first"], coupled_order["second"]
    line = next(ln for ln in bc.iter_rows("salesOrderLines", filter=f"documentId eq {coupled_order['bc']}")
                if ln["lineObjectNumber"] == second)
    # the BC user reopens the order, deletes a line, adds another one and releases it again
    release(bc, coupled_order["bc"], "reopen")
    bc.delete("salesOrderLines", line["id"], etag="*")
    bc.create("salesOrderLines", {"documentId": coupled_order["bc"], "lineType": "Item", "lineObjectNumber": second,
                                  "quantity": 7})
    release(bc, coupled_order["bc"])

    jobs = run_as_scheduler(run)

    assert jobs[("SALESORDER-ORDER", "ToIntegrationTable")].deleted == 1  # the Dataverse line of the deleted one
    assert jobs[("SOLINE-ORDERDETAIL", "ToIntegrationTable")].inserted == 1  # the new, not yet coupled line
    assert jobs[("SOLINE-ORDERDETAIL", "FromIntegrationTable")].inserted == 0  # not recreated in BC
    expected = {"bc": [(first, 2.0), (second, 7.0)], "bc_status": "Released", "dv": [(first, 2.0), (second, 7.0)],
                "dv_state": SUBMITTED, "couplings": 2}
    assert order_state(bc, dv, coupled_order, sales_world["items"]) == expected

    for _ in range(2):
        again = run_as_scheduler(run)
        assert [(j.inserted, j.deleted) for j in again.values()] == [(0, 0)] * 4
        assert order_state(bc, dv, coupled_order, sales_world["items"]) == expected


def test_order_whose_lines_all_go_cannot_be_released_and_fails_naming_it(
        run: Any, clients: Any, admin_dv: Any, sales_world: dict[str, Any], coupled_order: dict[str, Any]) -> None:
    bc, dv = clients
    admin_dv.update("salesorders", coupled_order["dv"], {"statecode": 0, "statuscode": 1})
    for line in dv_lines(dv, coupled_order["dv"]):
        admin_dv.delete("salesorderdetails", line["salesorderdetailid"])
    admin_dv.update("salesorders", coupled_order["dv"], {"statecode": 1, "statuscode": 3})

    jobs = {(j.table_mapping.name, j.direction): j for j in run("SALESORDER-ORDER")}

    header_job = jobs[("SALESORDER-ORDER", "FromIntegrationTable")]
    assert (header_job.deleted, header_job.failed) == (2, 1)
    error = header_job.errors.get()
    number = bc.get("salesOrders", coupled_order["bc"], api="custom")["number"]
    assert "Deleting the order lines removed on the other side" in error.message
    assert f"There is nothing to release for the document of type Order with the number {number}" in error.message
    assert error.field_name == "Sales Line" and error.fix
    # nothing half-done: the lines are gone on both sides, their couplings too, and none is recreated
    assert list(bc.iter_rows("salesOrderLines", filter=f"documentId eq {coupled_order['bc']}")) == []
    assert dv_lines(dv, coupled_order["dv"]) == []
    assert not Coupling.objects.filter(bc_table="Sales Line").exists()
