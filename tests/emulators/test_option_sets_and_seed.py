"""Option sets as Dataverse serves them (Microsoft Learn "Query table definitions using the Web API", "InsertOptionValue
Action"; the option mappings PAYMENT TERMS / SHIPMENT METHOD / SHIPPING AGENT of "Integrating with Dynamics 365
Sales"), the accounts that match CRONUS customers, and the
request counters of the control endpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from emulators.testing import RunningEmulators

from .conftest import Api

PICKLIST = "Microsoft.Dynamics.CRM.PicklistAttributeMetadata"
CRONUS_NAMES = ("Blanemark Hifi Shop", "Fairway Sound", "The Device Shop", "Progressive Home Furnishings",
                "Afrifield Corporation")


def _options(dv: Api, entity: str, attribute: str) -> dict[int, str]:
    r = dv.get(f"EntityDefinitions(LogicalName='{entity}')/Attributes(LogicalName='{attribute}')/{PICKLIST}"
               "?$select=LogicalName&$expand=OptionSet($select=Options),GlobalOptionSet($select=Options)")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["LogicalName"] == attribute and body["GlobalOptionSet"] is None
    assert set(body["OptionSet"]) <= {"Options", "MetadataId"}
    out = {}
    for o in body["OptionSet"]["Options"]:
        assert o["Label"]["UserLocalizedLabel"]["Label"] == o["Label"]["LocalizedLabels"][0]["Label"]
        out[o["Value"]] = o["Label"]["LocalizedLabels"][0]["Label"]
    return out


def _insert(dv: Api, attribute: str, label: str, **extra: Any) -> Any:
    return dv.post("InsertOptionValue", json={"EntityLogicalName": "account", "AttributeLogicalName": attribute,
                                              "Label": {"LocalizedLabels": [{"Label": label,
                                                                              "LanguageCode": 1033}]}, **extra})


@pytest.mark.parametrize(("attribute", "expected"), [
    ("paymenttermscode", {1: "Net 30", 2: "2% 10, Net 30", 3: "Net 45", 4: "Net 60"}),
    ("address1_freighttermscode", {1: "FOB", 2: "No Charge"}),
    ("address1_shippingmethodcode", {1: "Airborne", 2: "DHL", 3: "FedEx", 4: "UPS", 5: "Postal Mail",
                                     6: "Full Load", 7: "Will Call"}),
])
def test_standard_options_of_a_fresh_org(dv: Api, attribute: str, expected: dict[int, str]) -> None:
    assert _options(dv, "account", attribute) == expected
    attr = dv.get(f"EntityDefinitions(LogicalName='account')/Attributes(LogicalName='{attribute}')"
                  "?$select=AttributeType,LogicalName").json()
    assert attr["AttributeType"] == "Picklist"
    assert attr["@odata.type"] == "#Microsoft.Dynamics.CRM.PicklistAttributeMetadata"


def test_option_actions_are_declared_in_metadata(dv: Api) -> None:
    csdl = dv.get("$metadata", headers={"Accept": "application/xml"}).text
    for action in ("InsertOptionValue", "UpdateOptionValue", "DeleteOptionValue"):
        assert f'<Action Name="{action}">' in csdl
        assert f'<ActionImport Name="{action}" Action="Microsoft.Dynamics.CRM.{action}"/>' in csdl
    assert '<Property Name="NewOptionValue" Type="Edm.Int32" Nullable="false"/>' in csdl


def test_insert_option_value_then_write_and_read_back(dv: Api) -> None:
    r = _insert(dv, "paymenttermscode", "COD")
    assert r.status_code == 200, r.text
    assert r.json()["NewOptionValue"] == 100000000  # default publisher option value prefix 10000 * 10000
    assert _insert(dv, "paymenttermscode", "14 DAYS").json()["NewOptionValue"] == 100000001
    assert _insert(dv, "paymenttermscode", "COD").status_code == 200  # duplicate labels are allowed
    opts = _options(dv, "account", "paymenttermscode")
    assert opts[100000000] == "COD" and opts[100000001] == "14 DAYS" and opts[100000002] == "COD"
    assert opts[1] == "Net 30"
    # another entity's column with the same name keeps its own (local) option set
    assert 100000000 not in _options(dv, "salesorder", "paymenttermscode")
    acc = dv.post("accounts", json={"name": "Cash customer", "paymenttermscode": 100000000},
                  headers={"Prefer": "return=representation,odata.include-annotations=\"*\""})
    assert acc.status_code == 201, acc.text
    assert acc.json()["paymenttermscode@OData.Community.Display.V1.FormattedValue"] == "COD"


def test_insert_option_value_with_value_and_duplicate_value(dv: Api) -> None:
    r = _insert(dv, "address1_shippingmethodcode", "Own Log.", Value=100000050)
    assert r.status_code == 200 and r.json()["NewOptionValue"] == 100000050
    dup = _insert(dv, "address1_shippingmethodcode", "Other", Value=100000050)
    assert dup.status_code == 400 and dup.json()["error"]["code"] == "0x80040203"
    assert "100000050" in dup.json()["error"]["message"]
    assert _insert(dv, "address1_shippingmethodcode", "Clash", Value=4).status_code == 400
    assert _options(dv, "account", "address1_shippingmethodcode")[4] == "UPS"


def test_option_value_action_errors_name_what_to_fix(dv: Api) -> None:
    r = dv.post("InsertOptionValue", json={"EntityLogicalName": "account", "AttributeLogicalName": "name",
                                           "Label": {"LocalizedLabels": [{"Label": "X", "LanguageCode": 1033}]}})
    assert r.status_code == 400 and "not a picklist" in r.json()["error"]["message"]
    r = dv.post("InsertOptionValue", json={"EntityLogicalName": "account", "AttributeLogicalName": "nosuch",
                                           "Label": {"LocalizedLabels": [{"Label": "X", "LanguageCode": 1033}]}})
    assert r.status_code == 404 and "nosuch" in r.json()["error"]["message"]
    r = dv.post("InsertOptionValue", json={"EntityLogicalName": "account", "AttributeLogicalName": "paymenttermscode"})
    assert r.status_code == 400 and "Label" in r.json()["error"]["message"]


def test_update_and_delete_option_value(dv: Api) -> None:
    new = _insert(dv, "address1_freighttermscode", "EXW").json()["NewOptionValue"]
    r = dv.post("UpdateOptionValue", json={"EntityLogicalName": "account",
                                           "AttributeLogicalName": "address1_freighttermscode", "Value": new,
                                           "Label": {"LocalizedLabels": [{"Label": "Ex Warehouse",
                                                                          "LanguageCode": 1033}]},
                                           "MergeLabels": False})
    assert r.status_code == 204, r.text
    assert _options(dv, "account", "address1_freighttermscode")[new] == "Ex Warehouse"
    r = dv.post("DeleteOptionValue", json={"EntityLogicalName": "account",
                                           "AttributeLogicalName": "address1_freighttermscode", "Value": new})
    assert r.status_code == 204
    assert new not in _options(dv, "account", "address1_freighttermscode")
    gone = dv.post("accounts", json={"name": "Deleted option", "address1_freighttermscode": new})
    assert gone.status_code == 400 and gone.json()["error"]["code"] == "0x8004431a"
    again = dv.post("DeleteOptionValue", json={"EntityLogicalName": "account",
                                               "AttributeLogicalName": "address1_freighttermscode", "Value": new})
    assert again.status_code == 404


def test_option_set_changes_are_undone_by_reset(dv: Api, emulators: RunningEmulators) -> None:
    assert _insert(dv, "paymenttermscode", "COD").status_code == 200
    emulators.reset()
    assert 100000000 not in _options(dv, "account", "paymenttermscode")


@pytest.mark.parametrize(("table", "column", "bad"), [
    ("accounts", "paymenttermscode", 5), ("accounts", "address1_freighttermscode", 3),
    ("accounts", "address1_shippingmethodcode", 100000000), ("accounts", "customertypecode", 99),
])
def test_unknown_picklist_value_is_rejected(dv: Api, table: str, column: str, bad: int) -> None:
    r = dv.post(table, json={"name": "Out of range", column: bad})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "0x8004431a"
    assert err["message"] == (f"A validation error occurred.  The value {bad} of '{column}' on record of type "
                              "'account' is outside the valid range.")
    assert dv.get("accounts?$filter=name eq 'Out of range'").json()["value"] == []


def test_unknown_picklist_value_on_update_and_other_tables(dv: Api) -> None:
    acc = dv.post("accounts", json={"name": "Valid"}, headers={"Prefer": "return=representation"}).json()
    r = dv.patch(f"accounts({acc['accountid']})", json={"paymenttermscode": 9})
    assert r.status_code == 400 and r.json()["error"]["code"] == "0x8004431a"
    r = dv.post("products", json={"name": "P", "productnumber": "PT-1", "producttypecode": 7})
    assert r.status_code == 400 and "'producttypecode'" in r.json()["error"]["message"]
    r = dv.post("productpricelevels", json={"pricingmethodcode": 42})
    assert r.status_code == 400 and "'pricingmethodcode'" in r.json()["error"]["message"]


def test_accounts_matching_cronus_customers(dv: Api, info: dict[str, Any]) -> None:
    data = Path(__file__).resolve().parents[2] / "emulators" / "data" / "bc-cronus" / "customers.json"
    customers = {c["name"]: c for c in json.loads(data.read_text(encoding="utf-8"))}
    admin = dv.get(f"systemusers?$filter=domainname eq '{info['admin_user']}'&$select=systemuserid"
                   ).json()["value"][0]["systemuserid"]
    flt = " or ".join(f"name eq '{n}'" for n in CRONUS_NAMES)
    rows = dv.get(f"accounts?$select=name,address1_city,address1_postalcode,customertypecode,statecode,"
                  f"_ownerid_value,_createdby_value,accountnumber&$filter={flt}").json()["value"]
    assert sorted(r["name"] for r in rows) == sorted(CRONUS_NAMES)
    for r in rows:
        c = customers[r["name"]]
        assert r["address1_city"] == c["city"] and r["address1_postalcode"] == c["post_code"]
        assert r["customertypecode"] == 3 and r["statecode"] == 0
        assert r["_ownerid_value"] == admin and r["_createdby_value"] == admin
        assert r["_createdby_value"] != info["application_user_id"]
        assert r["accountnumber"] is None  # not coupled yet: matching is by name
    contacts = dv.get("contacts?$select=fullname&$expand=parentcustomerid_account($select=name)"
                      "&$filter=parentcustomerid_account/name eq 'Progressive Home Furnishings' or "
                      "parentcustomerid_account/name eq 'Afrifield Corporation'").json()
    assert {(c["fullname"], c["parentcustomerid_account"]["name"]) for c in contacts["value"]} == {
        ("Scott Mitchell", "Progressive Home Furnishings"), ("Ariane Peeters", "Afrifield Corporation")}
    # the published sample accounts are still there
    assert dv.get("accounts?$filter=name eq 'Fourth Coffee (sample)'&$select=name").json()["value"]


def test_state_reports_request_counts(emu: RunningEmulators, dv: Api, bc: Api, cronus: str) -> None:
    emu.reset()
    assert emu.state()["requests"] == {"dataverse": 0, "businesscentral": 0, "entra": 0}
    dv.get("WhoAmI")
    dv.get("accounts?$top=1")
    bc.get(f"companies({cronus})/customers?$top=1")
    emu.session.get(f"{emu.info['entra_authority']}/v2.0/.well-known/openid-configuration", timeout=30)
    assert emu.state()["requests"] == {"dataverse": 2, "businesscentral": 1, "entra": 1}
    emu.reset()
    assert emu.state()["requests"]["dataverse"] == 0
