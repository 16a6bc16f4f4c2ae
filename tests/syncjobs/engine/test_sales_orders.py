"""Sales orders against the emulators (reference 4.B SALESORDER-ORDER / SOLINE-ORDERDETAIL, 8.1, 8.2, 10): released
BC orders reach Dataverse with their lines (legacy, one-way), and orders submitted in Dynamics 365 Sales become
released BC orders whose changes flow back (bi-directional)."""
from __future__ import annotations

from typing import Any

import pytest

SUBMITTED = 1


@pytest.fixture
def sales_world(sync_connection: Any, run: Any, couple_salespeople: Any, clients: Any) -> dict[str, Any]:
    """Currencies, units, items and customers synchronized; returns a coupled customer (number, account id, its
    salesperson) and two coupled items (numbers -> product ids)."""
    from mappings.models import Coupling

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
    """Turn a sales order integration on through the connection's Sales settings (rebuilds the mappings, ref. 8)."""
    from connections.services import connection_sales_settings_update

    connection_sales_settings_update(connection=connection, user=user, data={setting: True})


def release(bc: Any, order_id: str, action: str = "release") -> None:
    """The companion extension's release / reopen action on a BC sales order (custom API route)."""
    result = bc.batch([{"method": "POST", "url": f"salesOrders({order_id})/Microsoft.NAV.{action}"}], api="custom")[0]
    assert result["error"] is None, result["error"]


def dv_lines(dv: Any, order_id: Any, *extra: str) -> list[dict[str, Any]]:
    return list(dv.iter_rows("salesorderdetails", select=["quantity", "priceperunit", "_productid_value",
                                                          "salesorderdetailid", *extra],
                             filter=f"_salesorderid_value eq {order_id}"))


def test_legacy_released_order_reaches_dataverse_with_lines(sync_connection: Any, admin_user: Any, run: Any,
                                                            clients: Any, sales_world: dict[str, Any],
                                                            emulator: Any) -> None:
    from mappings.models import Coupling, IntegrationTableMapping

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
    from connections.clients.errors import ClientError

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
    from connections.solution import solution_package
    from mappings.models import Coupling, IntegrationTableMapping
    from tests.syncjobs.engine.conftest import disable_unknown_columns, disable_unmatched_options

    bc, dv = clients
    admin_dv.import_solution(solution_package())  # the bcbi_* columns of the integration solution (reference 8.2)
    enable(sync_connection, admin_user, "bidirectional_sales_order_integration")
    disable_unknown_columns(sync_connection, dv)
    disable_unmatched_options(sync_connection)
    lines_mapping = IntegrationTableMapping.objects.get(connection=sync_connection, name="SOLINE-ORDERDETAIL")
    assert lines_mapping.deletion_conflict_resolution == "RemoveCoupling"
    first, second = sorted(sales_world["items"])
    price_list = next(dv.iter_rows("pricelevels", select=["pricelevelid"],
                                   filter="name eq 'Business Central default price list'"))["pricelevelid"]
    order_id = admin_dv.create("salesorders", {
        "name": "Web order 1", "customerid_account@odata.bind": f"/accounts({sales_world['account']})",
        "pricelevelid@odata.bind": f"/pricelevels({price_list})"})
    for number, quantity in ((first, 2), (second, 4)):
        product = sales_world["items"][number]
        unit = dv.retrieve("products", product, select=["_defaultuomid_value"])["_defaultuomid_value"]
        admin_dv.create("salesorderdetails", {"salesorderid@odata.bind": f"/salesorders({order_id})",
                                              "productid@odata.bind": f"/products({product})",
                                              "uomid@odata.bind": f"/uoms({unit})", "quantity": quantity})
    admin_dv.update("salesorders", order_id, {"statecode": 1, "statuscode": 3})
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
    header = dv.retrieve("salesorders", order_id, select=["bcbi_businesscentralordernumber", "statecode"])
    assert header == {**header, "bcbi_businesscentralordernumber": order["number"], "statecode": SUBMITTED}
    assert sorted(ln["bcbi_businesscentrallinenumber"] for ln in dv_lines(
        dv, order_id, "bcbi_businesscentrallinenumber")) == sorted(ln["sequence"] for ln in bc_lines)

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
    # BC order is reopened, changed and released again (reference 8.2)
    dv_line = next(ln for ln in dv_lines(dv, order_id) if float(ln["quantity"]) == 4.0)
    admin_dv.update("salesorders", order_id, {"statecode": 0, "statuscode": 1})
    admin_dv.update("salesorderdetails", dv_line["salesorderdetailid"], {"quantity": 9})
    admin_dv.update("salesorders", order_id, {"statecode": 1, "statuscode": 3})
    for job in run("SALESORDER-ORDER"):
        assert job.failed == 0, list(job.errors.values_list("message", flat=True))
    assert sorted(float(ln["quantity"]) for ln in bc.iter_rows(
        "salesOrderLines", filter=f"documentId eq {coupling.bc_id}")) == [6.0, 9.0]
    assert bc.get("salesOrders", coupling.bc_id, api="custom")["status"] == "Released"

    # a line deleted in Sales: its coupling is removed (SOLINE-ORDERDETAIL deletion-conflict resolution)
    admin_dv.update("salesorders", order_id, {"statecode": 0, "statuscode": 1})
    admin_dv.delete("salesorderdetails", dv_line["salesorderdetailid"])
    admin_dv.update("salesorders", order_id, {"statecode": 1, "statuscode": 3})
    jobs = {(j.table_mapping.name, j.direction): j for j in run("SALESORDER-ORDER")}
    assert jobs[("SOLINE-ORDERDETAIL", "ToIntegrationTable")].uncoupled == 1
    assert not Coupling.objects.filter(bc_table="Sales Line", dataverse_id=dv_line["salesorderdetailid"]).exists()
