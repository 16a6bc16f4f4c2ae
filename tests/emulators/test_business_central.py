"""Business Central API emulator (Microsoft Learn "Business Central API (v2.0)")."""

from __future__ import annotations

import base64
import time
from typing import Any

import requests

from .conftest import Api


def test_companies_and_items(bc: Api, info: dict[str, Any], cronus: str) -> None:
    comps = bc.get("companies").json()["value"]
    assert {c["name"] for c in comps} == {"CRONUS International Ltd.", "Contoso Coffee"}
    r = bc.get(f"companies({cronus})/items?$filter=number eq '1896-S'&$select=number,displayName,unitPrice")
    item = r.json()["value"][0]
    assert item["displayName"] == "ATHENS Desk" and item["@odata.etag"].startswith('W/"')
    full = bc.get(f"companies({cronus})/items?$top=1").json()["value"][0]
    assert {"id", "number", "lastModifiedDateTime", "baseUnitOfMeasureCode", "itemCategoryCode"} <= set(full)
    assert r.json()["@odata.context"].endswith(f"$metadata#companies({cronus})/items")


def test_last_modified_filter_and_paging(bc: Api, cronus: str) -> None:
    base = f"companies({cronus})/customers"
    all_rows = bc.get(base).json()["value"]
    assert len(all_rows) == 66
    mark = max(c["lastModifiedDateTime"] for c in all_rows)  # seeded rows may be younger than a second
    time.sleep(0.01)
    cust = all_rows[0]
    r = bc.patch(f"{base}({cust['id']})", json={"displayName": "Changed"}, headers={"If-Match": cust["@odata.etag"]})
    assert r.status_code == 200 and r.json()["displayName"] == "Changed"
    changed = bc.get(f"{base}?$filter=lastModifiedDateTime gt {mark}").json()["value"]
    assert [c["id"] for c in changed] == [cust["id"]]
    seen, url, pages = [], base, 0
    while url:
        r = bc.get(url, headers={"Prefer": "odata.maxpagesize=25"})
        body = r.json()
        seen += [c["id"] for c in body["value"]]
        url = body.get("@odata.nextLink", "")
        pages += 1
    assert pages == 3 and len(set(seen)) == 66


def test_etag_rules(bc: Api, cronus: str) -> None:
    base = f"companies({cronus})/items"
    item = bc.get(f"{base}?$filter=number eq '1896-S'").json()["value"][0]
    url = f"{base}({item['id']})"
    r = bc.patch(url, json={"unitPrice": 700})
    assert r.status_code == 400 and r.json()["error"]["code"] == "BadRequest_InvalidToken"
    ok = bc.patch(url, json={"unitPrice": 700}, headers={"If-Match": item["@odata.etag"]})
    assert ok.status_code == 200 and ok.json()["unitPrice"] == 700
    stale = bc.patch(url, json={"unitPrice": 701}, headers={"If-Match": item["@odata.etag"]})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "Request_EntityChanged"
    assert "CorrelationId" in stale.json()["error"]["message"]
    assert bc.delete(url, headers={"If-Match": item["@odata.etag"]}).status_code == 409
    assert bc.delete(url, headers={"If-Match": ok.json()["@odata.etag"]}).status_code == 204
    assert bc.get(url).status_code == 404


def test_create_duplicate_and_validation(bc: Api, cronus: str) -> None:
    base = f"companies({cronus})/customers"
    r = bc.post(base, json={"displayName": "New Customer"})
    assert r.status_code == 201 and r.json()["number"]
    dup = bc.post(base, json={"number": "10000", "displayName": "Dup"})
    assert dup.status_code == 400 and dup.json()["error"]["code"] == "Internal_EntityWithSameKeyExists"
    bad = bc.post(base, json={"displayName": "X", "nosuch": 1})
    assert bad.status_code == 400
    rel = bc.post(base, json={"displayName": "Y", "currencyCode": "XXX"})
    assert rel.status_code == 400 and rel.json()["error"]["code"] == "Internal_InvalidTableRelation"


def test_sales_order_with_lines(bc: Api, cronus: str) -> None:
    cust = bc.get(f"companies({cronus})/customers?$filter=number eq '10000'").json()["value"][0]
    item = bc.get(f"companies({cronus})/items?$filter=number eq '1896-S'").json()["value"][0]
    order = bc.post(f"companies({cronus})/salesOrders", json={
        "customerId": cust["id"], "salesOrderLines": [{"itemId": item["id"], "quantity": 2}]}).json()
    assert order["customerNumber"] == "10000"
    got = bc.get(f"companies({cronus})/salesOrders({order['id']})?$expand=salesOrderLines").json()
    assert got["salesOrderLines"][0]["lineObjectNumber"] == "1896-S"
    assert got["totalAmountExcludingTax"] == round(2 * item["unitPrice"], 2)
    lines = bc.get(f"companies({cronus})/salesOrders({order['id']})/salesOrderLines").json()["value"]
    assert len(lines) == 1 and lines[0]["sequence"] == 10000


def test_batch(bc: Api, cronus: str) -> None:
    reqs = [{"id": str(i), "method": "GET", "url": f"companies({cronus})/items?$top=1"} for i in range(3)]
    r = bc.post("$batch", json={"requests": reqs})
    assert r.status_code == 200 and [x["status"] for x in r.json()["responses"]] == [200, 200, 200]
    too_many = [{"id": str(i), "method": "GET", "url": "companies"} for i in range(101)]
    assert bc.post("$batch", json={"requests": too_many}).status_code == 400
    atomic = [{"id": "1", "method": "POST", "url": f"companies({cronus})/itemCategories",
               "body": {"code": "NEWCAT", "displayName": "New"}, "headers": {"Content-Type": "application/json"}},
              {"id": "2", "method": "POST", "url": f"companies({cronus})/itemCategories",
               "body": {"code": "NEWCAT", "displayName": "Dup"}, "headers": {"Content-Type": "application/json"}}]
    r = bc.post("$batch", json={"requests": atomic}, headers={"Isolation": "snapshot"})
    assert [x["status"] for x in r.json()["responses"]] == [201, 400]
    cats = bc.get(f"companies({cronus})/itemCategories?$filter=code eq 'NEWCAT'").json()["value"]
    assert cats == []


def test_custom_api_and_basic_auth(bc_custom: Api, http: requests.Session, info: dict[str, Any],
                                   cronus: str) -> None:
    res = bc_custom.get(f"companies({cronus})/resources").json()["value"]
    assert {"LIFT", "MARTY"} <= {r["number"] for r in res}
    prices = bc_custom.get(f"companies({cronus})/priceListLines").json()["value"]
    assert {p["assetNumber"] for p in prices} == {"1936-S", "1972-W"}
    assert bc_custom.get(f"companies({cronus})/salesPrices").status_code == 404
    for name in ("resourceUnitsOfMeasure", "itemUnitsOfMeasure", "customerPriceGroups", "salesHeaderArchives"):
        assert bc_custom.get(f"companies({cronus})/{name}").status_code == 200
    basic = base64.b64encode(f"{info['bc_user']}:{info['bc_web_service_access_key']}".encode()).decode()
    r = http.get(info["bc_custom_api_url"] + f"/companies({cronus})/resources",
                 headers={"Authorization": f"Basic {basic}"})
    assert r.status_code == 200
    bad = base64.b64encode(f"{info['bc_user']}:wrong".encode()).decode()
    assert http.get(info["bc_api_url"] + "/companies", headers={"Authorization": f"Basic {bad}"}).status_code == 401


def test_ship_and_invoice_archives_order(bc: Api, bc_custom: Api, cronus: str) -> None:
    order = bc.get(f"companies({cronus})/salesOrders?$filter=number eq '101001'").json()["value"][0]
    assert bc.post(f"companies({cronus})/salesOrders({order['id']})/Microsoft.NAV.shipAndInvoice").status_code == 204
    inv = bc.get(f"companies({cronus})/salesInvoices?$filter=orderNumber eq '101001'").json()["value"]
    assert inv[0]["status"] == "Open"
    arch = bc_custom.get(f"companies({cronus})/salesHeaderArchives?$filter=number eq '101001'").json()["value"]
    assert len(arch) == 1


def test_company_information_and_vendors(bc: Api, cronus: str) -> None:
    """API v2.0 companyInformation (LCY = the Dataverse base currency, USD) and vendors."""
    info = bc.get(f"companies({cronus})/companyInformation").json()
    assert info["@odata.context"].endswith(f"$metadata#companies({cronus})/companyInformation")
    (company,) = info["value"]
    assert company["displayName"] == "CRONUS International Ltd." and company["currencyCode"] == "USD"
    single = bc.get(f"companies({cronus})/companyInformation({company['id']})").json()
    assert single["currencyCode"] == "USD"
    ro = bc.patch(f"companies({cronus})/companyInformation({company['id']})", json={"currencyCode": "EUR"},
                  headers={"If-Match": "*"})
    assert ro.status_code == 400 and ro.json()["error"]["code"] == "BadRequest_InvalidOperation"
    ok = bc.patch(f"companies({cronus})/companyInformation({company['id']})", json={"phoneNumber": "+1 425 555 0100"},
                  headers={"If-Match": company["@odata.etag"]})
    assert ok.status_code == 200 and ok.json()["phoneNumber"] == "+1 425 555 0100"
    vendors = bc.get(f"companies({cronus})/vendors").json()["value"]
    # v2.0 items do not carry "Vendor No.": it is an extension field (custom route)
    assert all("vendorNumber" not in i for i in bc.get(f"companies({cronus})/items").json()["value"])
    assert len(vendors) == 7 and {"id", "number", "displayName", "blocked", "balance", "paymentTermsId"} <= set(
        vendors[0])
    created = bc.post(f"companies({cronus})/vendors", json={"displayName": "Fabrikam Supplies", "blocked": "Payment"})
    assert created.status_code == 201 and created.json()["number"].startswith("V")
    bad = bc.post(f"companies({cronus})/vendors", json={"displayName": "X", "blocked": "Ship"})
    assert bad.status_code == 400


def test_count_segment(bc: Api, bc_custom: Api, cronus: str) -> None:
    """``{set}/$count`` answers the plain number (OData v4), honouring ``$filter``."""
    r = bc.get(f"companies({cronus})/customers/$count")
    assert r.status_code == 200 and r.text == "66" and r.headers["Content-Type"].startswith("text/plain")
    assert bc.get(f"companies({cronus})/items/$count?$filter=number eq '1896-S'").text == "1"
    order = bc.get(f"companies({cronus})/salesOrders?$top=1&$expand=salesOrderLines").json()["value"][0]
    lines = bc.get(f"companies({cronus})/salesOrders({order['id']})/salesOrderLines/$count").text
    assert lines == str(len(order["salesOrderLines"]))
    assert bc_custom.get(f"companies({cronus})/resources/$count").text == "4"
    assert bc.get(f"companies({cronus})/nosuch/$count").status_code == 404


def test_custom_route_shipping_agents_and_unit_groups(bc: Api, bc_custom: Api, cronus: str) -> None:
    """Tables v2.0 lacks (the companion extension's custom API) on bcportal/integration/v1.0; not on v2.0."""
    agents = bc_custom.get(f"companies({cronus})/shippingAgents").json()["value"]
    assert len(agents) == 3 and {"code", "displayName", "internetAddress"} <= set(agents[0])
    assert bc.get(f"companies({cronus})/shippingAgents").status_code == 404
    assert bc.get(f"companies({cronus})/unitGroups").status_code == 404
    groups = bc_custom.get(f"companies({cronus})/unitGroups?$filter=sourceType eq 'Item'").json()["value"]
    assert len(groups) == 94
    desk = next(g for g in groups if g["sourceNumber"] == "1896-S")
    assert desk["code"] == "ITEM 1896-S UOM GR" and desk["sourceName"] == "ATHENS Desk"
    res = bc_custom.get(f"companies({cronus})/unitGroups/$count?$filter=sourceType eq 'Resource'").text
    assert res == "4"
    r = bc_custom.patch(f"companies({cronus})/unitGroups({desk['id']})", json={"description": "x"},
                        headers={"If-Match": "*"})
    assert r.status_code == 405
    item = bc.post(f"companies({cronus})/items", json={"displayName": "New item"}).json()
    # as BC without the unit group subscriber: a new item has no unit group until createMissingUnitGroups runs
    assert bc_custom.get(f"companies({cronus})/unitGroups?$filter=sourceNumber eq '{item['number']}'").json()[
        "value"] == []


def test_extension_fields_on_custom_route(bc: Api, bc_custom: Api, cronus: str) -> None:
    """Standard tables re-exposed on the custom route with the fields v2.0 lacks; same rows, SystemId and
    lastModifiedDateTime on both routes; v2.0 does not serve the extension fields."""
    std = bc.get(f"companies({cronus})/customers?$filter=number eq '10000'").json()["value"][0]
    ext = bc_custom.get(f"companies({cronus})/customers?$filter=number eq '10000'").json()["value"][0]
    assert ext["id"] == std["id"] and ext["lastModifiedDateTime"] == std["lastModifiedDateTime"]
    assert (ext["paymentTermsCode"], ext["shipmentMethodCode"], ext["contact"]) == ("1M(8D)", "EXW", "Mr. Andy Teal")
    assert std["paymentTermsId"] and std["shipmentMethodId"]
    assert "paymentTermsCode" not in std and "faxNumber" not in std
    assert bc.get(f"companies({cronus})/customers?$select=faxNumber").status_code == 400
    patched = bc_custom.patch(f"companies({cronus})/customers({ext['id']})",
                              json={"faxNumber": "+44 20 1234", "paymentTermsCode": "14 DAYS"},
                              headers={"If-Match": ext["@odata.etag"]})
    assert patched.status_code == 200, patched.text
    after = bc.get(f"companies({cronus})/customers({std['id']})").json()
    terms = bc.get(f"companies({cronus})/paymentTerms?$filter=code eq '14 DAYS'").json()["value"][0]
    assert after["paymentTermsId"] == terms["id"] and after["lastModifiedDateTime"] == patched.json()[
        "lastModifiedDateTime"]
    assert after["@odata.etag"] == patched.json()["@odata.etag"]
    bad = bc_custom.patch(f"companies({cronus})/customers({ext['id']})", json={"paymentTermsCode": "NOPE"},
                          headers={"If-Match": "*"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "Internal_InvalidTableRelation"
    item = bc_custom.get(f"companies({cronus})/items?$filter=number eq '1896-S'").json()["value"][0]
    assert {"unitVolume", "grossWeight", "vendorNumber", "vendorItemNumber"} <= set(item)
    assert item["vendorNumber"] in {v["number"] for v in bc.get(f"companies({cronus})/vendors").json()["value"]}
    person = bc_custom.get(f"companies({cronus})/contacts?$filter=type eq 'Person'&$top=1").json()["value"][0]
    assert person["firstName"] and person["surname"] and person["displayName"].startswith(person["firstName"])
    opp = bc_custom.get(f"companies({cronus})/opportunities?$top=1").json()["value"][0]
    assert "contactCompanyNumber" in opp
    res = bc_custom.get(f"companies({cronus})/resources?$top=1").json()["value"][0]
    assert {"vendorNumber", "capacity"} <= set(res)


def test_sales_documents_on_custom_route(bc: Api, bc_custom: Api, cronus: str) -> None:
    """Sales headers/lines with Document Type, Your Reference, Work Description, terms codes (extension fields)."""
    cust = bc.get(f"companies({cronus})/customers?$filter=number eq '10000'").json()["value"][0]
    item = bc.get(f"companies({cronus})/items?$filter=number eq '1896-S'").json()["value"][0]
    order = bc_custom.post(f"companies({cronus})/salesOrders", json={
        "customerId": cust["id"], "yourReference": "PO-4711", "workDescription": "Deliver to loading bay 2",
        "shippingAgentCode": "DHL", "paymentDiscountPercent": 2.0,
        "salesOrderLines": [{"lineType": "Item", "lineObjectNumber": item["number"], "quantity": 1}]})
    assert order.status_code == 201, order.text
    body = order.json()
    assert body["documentType"] == "Order" and body["yourReference"] == "PO-4711"
    assert body["paymentTermsCode"] == "1M(8D)" or body["paymentTermsCode"] is None
    lines = bc_custom.get(f"companies({cronus})/salesOrders({body['id']})/salesOrderLines").json()["value"]
    assert lines[0]["documentType"] == "Order" and "currencyCode" in lines[0]
    std = bc.get(f"companies({cronus})/salesOrders({body['id']})").json()
    assert "yourReference" not in std and std["number"] == body["number"]
    ro = bc_custom.patch(f"companies({cronus})/salesOrders({body['id']})", json={"documentType": "Quote"},
                         headers={"If-Match": "*"})
    assert ro.status_code == 400
    assert bc_custom.get(f"companies({cronus})/salesOrders?$filter=documentType eq 'Order'&$top=1").json()["value"]
    inv = bc_custom.get(f"companies({cronus})/salesInvoices?$top=1").json()["value"][0]
    assert inv["documentType"] == "Invoice" and "shipmentDate" in inv
