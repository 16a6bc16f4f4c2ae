"""Business Central API emulator (protocols.md D)."""

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
    time.sleep(0.01)
    mark = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 1)) + ".000Z"
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
    prices = bc_custom.get(f"companies({cronus})/salesPrices").json()["value"]
    assert {p["itemNumber"] for p in prices} == {"1936-S", "1972-W"}
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
