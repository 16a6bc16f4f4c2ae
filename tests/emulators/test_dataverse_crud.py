"""Dataverse CRUD, upsert, ETags, lookups and table rules (Microsoft Learn "Create a table row using the Web API",
"Update and delete table rows using the Web API", "Perform conditional operations using the Web API")."""

from __future__ import annotations

from typing import Any

from .conftest import Api


def _units(dv: Api) -> tuple[str, str]:
    sched = dv.get("uomschedules?$filter=name eq 'Default Unit'").json()["value"][0]
    unit = dv.get(f"uoms?$filter=_uomscheduleid_value eq {sched['uomscheduleid']} and isschedulebaseuom eq true"
                  ).json()["value"][0]
    return sched["uomscheduleid"], unit["uomid"]


def _product(dv: Api, number: str, **extra: Any) -> str:
    sched, unit = _units(dv)
    r = dv.post("products", json={"name": f"Product {number}", "productnumber": number,
                                  "defaultuomscheduleid@odata.bind": f"/uomschedules({sched})",
                                  "defaultuomid@odata.bind": f"/uoms({unit})", **extra})
    assert r.status_code == 204, r.text
    return r.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")


def test_create_retrieve_update_delete(dv: Api, info: dict[str, Any]) -> None:
    r = dv.post("accounts", json={"name": "Adatum", "accountnumber": "10000", "creditlimit": 5000})
    assert r.status_code == 204
    url = r.headers["OData-EntityId"]
    assert url.startswith(info["dataverse_url"] + "/api/data/v9.2/accounts(")
    got = dv.get(url + "?$select=name,creditlimit,statecode,_ownerid_value,createdon,versionnumber")
    assert got.status_code == 200
    body = got.json()
    assert body["@odata.context"].endswith("$metadata#accounts(name,creditlimit,statecode,_ownerid_value,createdon,"
                                           "versionnumber)/$entity")
    assert body["name"] == "Adatum" and body["creditlimit"] == 5000 and body["statecode"] == 0
    assert body["_ownerid_value"] == info["application_user_id"]
    assert body["@odata.etag"] == f'W/"{body["versionnumber"]}"' == got.headers["ETag"]
    assert body["createdon"].endswith("Z")
    r = dv.patch(url, json={"name": "Adatum Corp"}, headers={"If-Match": "*"})
    assert r.status_code == 204
    after = dv.get(url + "?$select=name,versionnumber,_modifiedby_value").json()
    assert after["name"] == "Adatum Corp" and after["versionnumber"] > body["versionnumber"]
    assert after["_modifiedby_value"] == info["application_user_id"]
    assert dv.delete(url).status_code == 204
    missing = dv.get(url)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "0x80040217"


def test_return_representation(dv: Api) -> None:
    r = dv.post("contacts?$select=fullname,firstname", json={"firstname": "Ada", "lastname": "Lovelace"},
                headers={"Prefer": "return=representation"})
    assert r.status_code == 201 and r.headers["Preference-Applied"] == "return=representation"
    assert r.json()["fullname"] == "Ada Lovelace" and "contactid" in r.json()
    cid = r.json()["contactid"]
    r = dv.patch(f"contacts({cid})", json={"lastname": "King"}, headers={"Prefer": "return=representation",
                                                                          "If-Match": "*"})
    assert r.status_code == 200 and r.json()["fullname"] == "Ada King"


def test_stale_etag_gives_412(dv: Api) -> None:
    r = dv.post("accounts", json={"name": "ETag test"}, headers={"Prefer": "return=representation"})
    acc = r.json()
    url = f"accounts({acc['accountid']})"
    assert dv.patch(url, json={"name": "v2"}, headers={"If-Match": acc["@odata.etag"]}).status_code == 204
    stale = dv.patch(url, json={"name": "v3"}, headers={"If-Match": acc["@odata.etag"]})
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "0x80060882"
    assert "RowVersion" in stale.json()["error"]["message"]
    assert dv.delete(url, headers={"If-Match": acc["@odata.etag"]}).status_code == 412
    current = dv.get(url).json()["@odata.etag"]
    assert dv.get(url, headers={"If-None-Match": current}).status_code == 304


def test_upsert_if_match_and_if_none_match(dv: Api) -> None:
    new_id = "1b2c3d4e-0000-4000-8000-000000000001"
    r = dv.patch(f"accounts({new_id})", json={"name": "Nope"}, headers={"If-Match": "*"})
    assert r.status_code == 404
    assert dv.get(f"accounts({new_id})").status_code == 404
    assert dv.patch(f"accounts({new_id})", json={"name": "Upserted"}).status_code == 204
    assert dv.get(f"accounts({new_id})?$select=name").json()["name"] == "Upserted"
    dup = dv.patch(f"accounts({new_id})", json={"name": "again"}, headers={"If-None-Match": "*"})
    assert dup.status_code == 412 and dup.json()["error"]["code"] == "0x80040237"
    assert dv.patch(f"accounts({new_id})", json={"name": "updated"}).status_code == 204


def test_bind_checks_and_unknown_property(dv: Api) -> None:
    missing = "00000000-0000-4000-8000-00000000dead"
    r = dv.post("contacts", json={"lastname": "X", "parentcustomerid_account@odata.bind": f"/accounts({missing})"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "0x80040217"
    assert missing in r.json()["error"]["message"]
    r = dv.post("accounts", json={"name": "X", "nosuchcolumn": 1})
    assert r.status_code == 400 and "nosuchcolumn" in r.json()["error"]["message"]
    r = dv.post("accounts", json={"name": "X" * 161})
    assert r.status_code == 400 and r.json()["error"]["code"] == "0x80044331"
    acc = dv.post("accounts", json={"name": "Parent"}, headers={"Prefer": "return=representation"}).json()
    r = dv.post("contacts", json={"lastname": "Child", "parentcustomerid_account@odata.bind":
                                  f"/accounts({acc['accountid']})"}, headers={"Prefer": "return=representation"})
    assert r.json()["_parentcustomerid_value"] == acc["accountid"]


def test_product_rules(dv: Api) -> None:
    r = dv.post("products", json={"name": "No unit group", "productnumber": "P-1"})
    assert r.status_code == 400 and "unit group" in r.json()["error"]["message"]
    sched = dv.post("uomschedules", json={"name": "Boxes", "baseuomname": "Box"},
                    headers={"Prefer": "return=representation"}).json()
    box = dv.get(f"uoms?$filter=_uomscheduleid_value eq {sched['uomscheduleid']}").json()["value"]
    assert [u["name"] for u in box] == ["Box"] and box[0]["isschedulebaseuom"] is True
    default_sched, primary = _units(dv)
    r = dv.post("products", json={"name": "Wrong unit", "productnumber": "P-2",
                                  "defaultuomscheduleid@odata.bind": f"/uomschedules({default_sched})",
                                  "defaultuomid@odata.bind": f"/uoms({box[0]['uomid']})"})
    assert r.status_code == 400 and "unit group" in r.json()["error"]["message"]
    _product(dv, "P-3")
    dup = dv.post("products", json={"name": "dup", "productnumber": "p-3",
                                    "defaultuomscheduleid@odata.bind": f"/uomschedules({default_sched})",
                                    "defaultuomid@odata.bind": f"/uoms({primary})"})
    assert dup.status_code == 412 and dup.json()["error"]["code"] == "0x80040237"
    r = dv.delete(f"uoms({primary})")
    assert r.status_code == 400


def test_price_list_item_and_order_lines(dv: Api) -> None:
    _sched, unit = _units(dv)
    pid = _product(dv, "1896-S", price=649.4)
    pl = dv.post("pricelevels", json={"name": "CRONUS"}, headers={"Prefer": "return=representation"}).json()
    r = dv.post("productpricelevels", json={"amount": 100.0, "productid@odata.bind": f"/products({pid})",
                                            "uomid@odata.bind": f"/uoms({unit})"})
    assert r.status_code == 400
    body = {"amount": 100.0, "pricelevelid@odata.bind": f"/pricelevels({pl['pricelevelid']})",
            "productid@odata.bind": f"/products({pid})", "uomid@odata.bind": f"/uoms({unit})"}
    assert dv.post("productpricelevels", json=body).status_code == 204
    dup = dv.post("productpricelevels", json=body)
    assert dup.status_code == 400 and dup.json()["error"]["code"] == "0x80043b08"
    acc = dv.get("accounts?$top=1&$select=name").json()["value"][0]
    order = dv.post("salesorders", json={"name": "SO",
    "customerid_account@odata.bind": f"/accounts({acc['accountid']})",
                                         "pricelevelid@odata.bind": f"/pricelevels({pl['pricelevelid']})"},
                    headers={"Prefer": "return=representation"}).json()
    assert order["ordernumber"].startswith("ORD-")
    r = dv.post("salesorderdetails", json={"quantity": 3, "productid@odata.bind": f"/products({pid})",
                                           "uomid@odata.bind": f"/uoms({unit})"})
    assert r.status_code == 400
    r = dv.post("salesorderdetails", json={"quantity": 3, "productid@odata.bind": f"/products({pid})",
                                           "uomid@odata.bind": f"/uoms({unit})",
                                           "salesorderid@odata.bind": f"/salesorders({order['salesorderid']})"},
                headers={"Prefer": "return=representation"})
    assert r.status_code == 201, r.text
    assert r.json()["priceperunit"] == 100.0 and r.json()["extendedamount"] == 300.0
    total = dv.get(f"salesorders({order['salesorderid']})?$select=totalamount").json()["totalamount"]
    assert total == 300.0
    r = dv.delete(f"salesorders({order['salesorderid']})")
    assert r.status_code == 204
    assert dv.get("salesorderdetails").json()["value"] == []


def test_state_and_status(dv: Api) -> None:
    acc = dv.post("accounts", json={"name": "S"}, headers={"Prefer": "return=representation"}).json()
    assert (acc["statecode"], acc["statuscode"]) == (0, 1)
    url = f"accounts({acc['accountid']})"
    assert dv.patch(url, json={"statecode": 1}).status_code == 204
    assert dv.get(url + "?$select=statuscode").json()["statuscode"] == 2
    bad = dv.patch(url, json={"statecode": 0, "statuscode": 2})
    assert bad.status_code == 400


def test_alternate_key_upsert_and_violation(dv: Api) -> None:
    r = dv.post("EntityDefinitions(LogicalName='account')/Keys",
                json={"SchemaName": "bcportal_accountnumber", "KeyAttributes": ["accountnumber"]})
    assert r.status_code == 204
    keys = dv.get("EntityDefinitions(LogicalName='account')/Keys?$select=SchemaName,KeyAttributes").json()["value"]
    assert keys[0]["KeyAttributes"] == ["accountnumber"]
    assert dv.patch("accounts(accountnumber='C-1')", json={"name": "By key"}).status_code == 204
    got = dv.get("accounts(accountnumber='C-1')?$select=name,accountnumber").json()
    assert got["name"] == "By key" and got["accountnumber"] == "C-1"
    assert dv.patch("accounts(accountnumber='C-1')", json={"name": "Updated"}).status_code == 204
    assert len(dv.get("accounts?$filter=accountnumber eq 'C-1'").json()["value"]) == 1
    dup = dv.post("accounts", json={"name": "dup", "accountnumber": "C-1"})
    assert dup.status_code == 412 and dup.json()["error"]["code"] == "0x80060892"
    nf = dv.get("accounts(accountnumber='NOPE')")
    assert nf.status_code == 404
    c = dv.post("contacts", json={"lastname": "K",
    "parentcustomerid_account@odata.bind": "/accounts(accountnumber='C-1')"},
                headers={"Prefer": "return=representation"})
    assert c.status_code == 201 and c.json()["_parentcustomerid_value"] == got["accountid"]


def test_single_property_and_ref(dv: Api) -> None:
    acc = dv.post("accounts", json={"name": "Prop"}, headers={"Prefer": "return=representation"}).json()
    url = f"accounts({acc['accountid']})"
    assert dv.request("PUT", url + "/telephone1", json={"value": "555-0100"}).status_code == 204
    assert dv.get(url + "/telephone1").json()["value"] == "555-0100"
    con = dv.post("contacts", json={"lastname": "Ref"}, headers={"Prefer": "return=representation"}).json()
    r = dv.request("PUT", url + "/primarycontactid/$ref",
                   json={"@odata.id": f"{dv.base}contacts({con['contactid']})"})
    assert r.status_code == 204
    assert dv.get(url + "?$select=_primarycontactid_value").json()["_primarycontactid_value"] == con["contactid"]
    assert dv.delete(url + "/primarycontactid/$ref").status_code == 204
    assert dv.get(url + "?$select=_primarycontactid_value").json()["_primarycontactid_value"] is None


def test_standard_columns_the_integration_maps(dv: Api) -> None:
    """Columns of the standard tables that the integration's field mappings use."""
    _sched, unit = _units(dv)
    pid = _product(dv, "1900-S", vendorid="10000", vendorpartnumber="4711", stockvolume=0.5)
    prod = dv.get(f"products({pid})?$select=vendorid,vendorpartnumber").json()
    assert (prod["vendorid"], prod["vendorpartnumber"]) == ("10000", "4711")
    pl = dv.post("pricelevels", json={"name": "Columns"}, headers={"Prefer": "return=representation"}).json()
    item = dv.post("productpricelevels", json={"amount": 5.0, "productid@odata.bind": f"/products({pid})",
                                               "pricelevelid@odata.bind": f"/pricelevels({pl['pricelevelid']})",
                                               "uomid@odata.bind": f"/uoms({unit})"},
                   headers={"Prefer": "return=representation"}).json()
    assert item["productnumber"] == "1900-S"  # read-only, copied from the product
    dv.patch(f"productpricelevels({item['productpricelevelid']})", json={"productnumber": "X", "amount": 6.0})
    again = dv.get(f"productpricelevels({item['productpricelevelid']})?$select=productnumber,amount").json()
    assert (again["productnumber"], again["amount"]) == ("1900-S", 6.0)
    acc = dv.post("accounts", json={"name": "Columns Ltd", "address1_primarycontactname": "Andy Teal"},
                  headers={"Prefer": "return=representation"}).json()
    assert acc["address1_primarycontactname"] == "Andy Teal" and acc["owneridtype"] == "systemuser"
    contact = dv.post("contacts", json={"lastname": "Teal", "fax": "+1 1", "pager": "+1 2",
                                        "websiteurl": "https://example.com",
                                        "parentcustomerid_account@odata.bind": f"/accounts({acc['accountid']})"},
                      headers={"Prefer": "return=representation"}).json()
    assert (contact["fax"], contact["pager"], contact["websiteurl"]) == ("+1 1", "+1 2", "https://example.com")
    assert contact["parentcustomeridtype"] == "account"
    seeded = dv.get("contacts?$filter=_parentcustomerid_value ne null&$top=1&$select=parentcustomeridtype").json()
    assert seeded["value"][0]["parentcustomeridtype"] == "account"
    address = {f"{side}_{part}": f"{side} {part}" for side in ("shipto", "billto")
               for part in ("line2", "stateorprovince")}
    for table in ("salesorders", "invoices"):
        doc = dv.post(table, json={"name": "Doc", "customerid_account@odata.bind": f"/accounts({acc['accountid']})",
                                   **address}, headers={"Prefer": "return=representation"})
        assert doc.status_code == 201, doc.text
        assert {k: doc.json()[k] for k in address} == address and doc.json()["customeridtype"] == "account"


def test_integration_solution_columns(dv: Api) -> None:
    """bcp_* columns on salesorder / salesorderdetail come with the portal's integration solution
    (dataverse-solution/)."""
    import base64

    from connections.solution import solution_package

    acc = dv.get("accounts?$top=1&$select=name").json()["value"][0]["accountid"]
    body = {"name": "SO", "customerid_account@odata.bind": f"/accounts({acc})",
            "bcp_businesscentralordernumber": "101005"}
    assert dv.post("salesorders", json=body).status_code == 400
    r = dv.post("ImportSolution", json={"CustomizationFile": base64.b64encode(solution_package()).decode(),
                                        "OverwriteUnmanagedCustomizations": True, "PublishWorkflows": True})
    assert r.status_code == 204
    order = dv.post("salesorders", json={**body, "bcp_businesscentraldocumentoccurrencenumber": 1},
                    headers={"Prefer": "return=representation"})
    assert order.status_code == 201, order.text
    assert order.json()["bcp_businesscentralordernumber"] == "101005"
    attrs = dv.get("EntityDefinitions(LogicalName='salesorderdetail')/Attributes?$select=LogicalName").json()["value"]
    assert "bcp_businesscentrallinenumber" in {a["LogicalName"] for a in attrs}
