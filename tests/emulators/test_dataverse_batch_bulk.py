"""$batch, bulk messages, ImportSolution, role $ref and metadata endpoints (Microsoft Learn "Execute batch operations
using the Web API", "Use bulk operation messages", "Query table definitions using the Web API")."""

from __future__ import annotations

import base64
from typing import Any

from connections.solution import SOLUTION_UNIQUE_NAME, SOLUTION_VERSION, solution_package
from emulators.testing import RunningEmulators

from .conftest import Api


def _batch(dv: Api, parts: list[str], boundary: str = "batch_AAA", prefer: str | None = None) -> tuple[int, str]:
    body = "".join(parts) + f"--{boundary}--\r\n"
    headers = {"Content-Type": f"multipart/mixed;boundary={boundary}"}
    if prefer:
        headers["Prefer"] = prefer
    r = dv.post("$batch", data=body.encode(), headers=headers)
    return r.status_code, r.text


def _changeset(dv: Api, requests_: list[tuple[str, str, str]], cs: str = "changeset_BBB") -> str:
    out = [f"--batch_AAA\r\nContent-Type: multipart/mixed;boundary={cs}\r\n\r\n"]
    for n, (method, url, body) in enumerate(requests_, start=1):
        out.append(f"--{cs}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
                   f"Content-ID: {n}\r\n\r\n{method} {dv.base}{url} HTTP/1.1\r\n"
                   f"Content-Type: application/json;type=entry\r\n\r\n{body}\r\n")
    out.append(f"--{cs}--\r\n")
    return "".join(out)


def test_batch_changeset_with_content_id(dv: Api) -> None:
    cs = _changeset(dv, [("POST", "accounts", '{"name":"Batch Co"}'),
                         ("POST", "contacts", '{"lastname":"Batchy","parentcustomerid_account@odata.bind":"$1"}'),
                         ("PATCH", "$1", '{"telephone1":"555-1"}')])
    get = (f"--batch_AAA\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
           f"GET {dv.base}accounts?$select=name,telephone1&$filter=name eq 'Batch Co' HTTP/1.1\r\n"
           "Accept: application/json\r\n\r\n")
    status, text = _batch(dv, [cs, get])
    assert status == 200
    assert text.count("HTTP/1.1 204 No Content") == 3 and "Content-ID: 1" in text
    assert '"telephone1":"555-1"' in text
    acc = dv.get("accounts?$filter=name eq 'Batch Co'&$expand=contact_customer_accounts($select=lastname)").json()
    assert acc["value"][0]["contact_customer_accounts"][0]["lastname"] == "Batchy"


def test_batch_changeset_rolls_back(dv: Api) -> None:
    cs = _changeset(dv, [("POST", "accounts", '{"name":"Rollback Co"}'),
                         ("POST", "contacts", '{"lastname":"X","parentcustomerid_account@odata.bind":'
                                              '"/accounts(00000000-0000-4000-8000-000000000bad)"}')])
    status, text = _batch(dv, [cs])
    assert status == 200 and "HTTP/1.1 404" in text and "0x80040217" in text
    assert dv.get("accounts?$filter=name eq 'Rollback Co'").json()["value"] == []


def test_create_update_upsert_multiple(dv: Api) -> None:
    targets = [{"@odata.type": "Microsoft.Dynamics.CRM.account", "name": f"Bulk {i}"} for i in range(5)]
    r = dv.post("accounts/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": targets})
    assert r.status_code == 200
    ids = r.json()["Ids"]
    assert len(ids) == 5 and r.json()["@odata.context"].endswith("CreateMultipleResponse")
    upd = [{"@odata.type": "Microsoft.Dynamics.CRM.account", "accountid": i, "telephone1": "1"} for i in ids]
    assert dv.post("accounts/Microsoft.Dynamics.CRM.UpdateMultiple", json={"Targets": upd}).status_code == 204
    new_id = "3a3a3a3a-0000-4000-8000-000000000001"
    ups = [{"@odata.type": "Microsoft.Dynamics.CRM.account", "accountid": ids[0], "name": "Bulk renamed"},
           {"@odata.type": "Microsoft.Dynamics.CRM.account", "accountid": new_id, "name": "Bulk new"}]
    assert dv.post("accounts/Microsoft.Dynamics.CRM.UpsertMultiple", json={"Targets": ups}).status_code == 204
    assert dv.get(f"accounts({ids[0]})?$select=name").json()["name"] == "Bulk renamed"
    assert dv.get(f"accounts({new_id})?$select=name").json()["name"] == "Bulk new"
    bad = [{"@odata.type": "Microsoft.Dynamics.CRM.account", "name": "Atomic 1"},
           {"@odata.type": "Microsoft.Dynamics.CRM.account", "name": "Atomic 2", "nosuch": 1}]
    r = dv.post("accounts/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": bad})
    assert r.status_code == 400
    assert dv.get("accounts?$filter=startswith(name,'Atomic')").json()["value"] == []
    r = dv.post("accounts/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": [{"name": "no type"}]})
    assert r.status_code == 400
    r = dv.post("accounts/Microsoft.Dynamics.CRM.DeleteMultiple", json={"Targets": []})
    assert r.status_code == 400 and "not yet been implemented" in r.json()["error"]["message"]


def _filters(dv: Api, message: str, table: str) -> list[dict[str, Any]]:
    """Microsoft Learn "Use bulk operation messages": the query that tells whether a table supports a message."""
    q = ("sdkmessagefilters?$select=sdkmessagefilterid&$filter=sdkmessageid/name eq @message and "
         f"primaryobjecttypecode eq @table&@message='{message}'&@table='{table}'")
    r = dv.get(q)
    assert r.status_code == 200, r.text
    return r.json()["value"]


def test_sdkmessagefilters_bulk_support(dv: Api) -> None:
    assert len(_filters(dv, "CreateMultiple", "product")) == 1
    assert len(_filters(dv, "UpdateMultiple", "product")) == 1
    # the documented query "will not return results for UpsertMultiple": it goes with CreateMultiple + UpdateMultiple
    assert _filters(dv, "UpsertMultiple", "product") == []
    assert _filters(dv, "CreateMultiple", "systemuser") == []
    # the standard tables whose Microsoft Learn table references list no bulk operation message
    for table in ("productpricelevel", "uom", "transactioncurrency"):
        assert _filters(dv, "CreateMultiple", table) == [] and _filters(dv, "UpdateMultiple", table) == []
    names = {r["name"] for r in dv.get("sdkmessages?$select=name").json()["value"]}
    assert {"CreateMultiple", "UpdateMultiple", "UpsertMultiple"} <= names


def test_bulk_message_of_a_table_without_it_is_refused(dv: Api) -> None:
    """SdkEntityDoesNotSupportMessage (0x80040800, Microsoft Learn "Web service error codes"), nothing written."""
    unit = dv.get("uoms?$select=uomid&$top=1").json()["value"][0]["uomid"]
    targets = [{"@odata.type": "Microsoft.Dynamics.CRM.uom", "name": "Bulk unit", "quantity": 1,
                "uomscheduleid@odata.bind": "/uomschedules(" + dv.get(f"uoms({unit})?$select=_uomscheduleid_value")
                .json()["_uomscheduleid_value"] + ")", "baseuom@odata.bind": f"/uoms({unit})"}]
    for message in ("CreateMultiple", "UpdateMultiple", "UpsertMultiple"):
        r = dv.post(f"uoms/Microsoft.Dynamics.CRM.{message}", json={"Targets": targets})
        assert r.status_code == 400, r.text
        assert r.json()["error"] == {"code": "0x80040800", "message": (
            f"The '{message}' method does not support entities of type 'uom'. MessageProcessorCache returned "
            "MessageProcessor.Empty.")}
    assert dv.get("uoms?$filter=name eq 'Bulk unit'").json()["value"] == []
    r = dv.post("productpricelevels/Microsoft.Dynamics.CRM.UpsertMultiple", json={"Targets": []})
    assert r.status_code == 400 and r.json()["error"]["code"] == "0x80040800"


def test_bulk_messages_can_be_taken_from_a_table(emu: RunningEmulators, dv: Api) -> None:
    """``POST /_emulator/bulk-messages`` removes a table's filter rows; the message is then refused, the others still
    work; restore and reset give it back."""
    assert emu.bulk_messages("account", remove=["CreateMultiple"]) == ["UpdateMultiple"]
    assert _filters(dv, "CreateMultiple", "account") == []
    assert len(_filters(dv, "UpdateMultiple", "account")) == 1
    new = [{"@odata.type": "Microsoft.Dynamics.CRM.account", "name": "Taken away"}]
    for message in ("CreateMultiple", "UpsertMultiple"):
        r = dv.post(f"accounts/Microsoft.Dynamics.CRM.{message}", json={"Targets": new})
        assert r.status_code == 400 and r.json()["error"]["code"] == "0x80040800"
    account = dv.get("accounts?$select=accountid&$top=1").json()["value"][0]["accountid"]
    r = dv.post("accounts/Microsoft.Dynamics.CRM.UpdateMultiple", json={"Targets": [
        {"@odata.type": "Microsoft.Dynamics.CRM.account", "accountid": account, "telephone1": "42"}]})
    assert r.status_code == 204
    assert emu.bulk_messages("account", restore=["CreateMultiple"]) == [
        "CreateMultiple", "UpdateMultiple", "UpsertMultiple"]
    assert dv.post("accounts/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": new}).status_code == 200
    emu.bulk_messages("product", remove=["UpdateMultiple"])
    assert _filters(dv, "UpdateMultiple", "product") == []
    emu.reset()
    assert len(_filters(dv, "UpdateMultiple", "product")) == 1
    control = f"{emu.control_url}/bulk-messages"
    assert emu.session.post(control, json={"table": "nosuch", "remove": ["CreateMultiple"]},
                            timeout=30).status_code == 404
    derived = emu.session.post(control, json={"table": "account", "remove": ["UpsertMultiple"]}, timeout=30)
    assert derived.status_code == 400 and "UpsertMultiple" in derived.json()["error"]


def _solution_zip() -> str:
    return base64.b64encode(solution_package()).decode()


def test_import_solution_and_role_assignment(dv: Api, info: dict[str, Any]) -> None:
    assert dv.get("bcp_connections").status_code == 404
    r = dv.post("ImportSolution", json={"CustomizationFile": _solution_zip(), "OverwriteUnmanagedCustomizations": True,
                                        "PublishWorkflows": True,
                                        "ImportJobId": "1b1b1b1b-0000-4000-8000-000000000001"})
    assert r.status_code == 204, r.text
    sol = dv.get(f"solutions?$filter=uniquename eq '{SOLUTION_UNIQUE_NAME}'&$select=version").json()["value"]
    assert sol[0]["version"] == SOLUTION_VERSION
    roles = dv.get("roles?$select=name,_businessunitid_value&$filter=startswith(name,'BC Integration')").json()["value"]
    assert sorted(r["name"] for r in roles) == ["BC Integration Administrator", "BC Integration User"]
    # the table exists now; reading it takes a privilege only the solution's roles grant
    denied = dv.get("bcp_connections")
    assert denied.status_code == 403 and "prvReadbcp_Connection" in denied.json()["error"]["message"]
    user = info["application_user_id"]
    for role in roles:
        r = dv.post(f"systemusers({user})/systemuserroles_association/$ref",
                    json={"@odata.id": f"{dv.base}roles({role['roleid']})"})
        assert r.status_code == 204
    assert dv.get("bcp_connections").status_code == 200
    assigned = dv.get(f"systemusers({user})/systemuserroles_association?$select=name").json()["value"]
    # the application user is seeded with "Basic User" (privileges are enforced; README "Seeded data")
    assert sorted(r["name"] for r in assigned) == ["BC Integration Administrator", "BC Integration User", "Basic User"]
    assert dv.delete(f"systemusers({user})/systemuserroles_association({roles[0]['roleid']})/$ref").status_code == 204
    assert len(dv.get(f"systemusers({user})/systemuserroles_association").json()["value"]) == 2
    stats = dv.post("bcp_accountstatisticses", json={"bcp_name": "Adatum", "bcp_balancelcy": 10.5},
                    headers={"Prefer": "return=representation"})
    assert stats.status_code == 201 and stats.json()["bcp_balancelcy_base"] == 10.5
    r = dv.post("ImportSolution", json={"CustomizationFile": "bm90IGEgemlw", "OverwriteUnmanagedCustomizations": True,
                                        "PublishWorkflows": True})
    assert r.status_code == 400


def test_metadata_endpoints(dv: Api, info: dict[str, Any]) -> None:
    r = dv.get("$metadata")
    assert r.status_code == 200 and '<EntityType Name="product"' in r.text and 'Name="products"' in r.text
    one = dv.get("EntityDefinitions?$select=LogicalName,EntitySetName,PrimaryIdAttribute&"
                 "$filter=LogicalName eq 'product'").json()["value"]
    assert one == [{"MetadataId": one[0]["MetadataId"], "LogicalName": "product", "EntitySetName": "products",
                    "PrimaryIdAttribute": "productid"}]
    ent = dv.get("EntityDefinitions(LogicalName='account')?$select=EntitySetName,PrimaryIdAttribute").json()
    assert ent["EntitySetName"] == "accounts"
    attrs = dv.get("EntityDefinitions(LogicalName='product')/Attributes?$select=LogicalName,AttributeType").json()
    assert {"LogicalName": "productnumber", "AttributeType": "String"} in [
        {k: a[k] for k in ("LogicalName", "AttributeType")} for a in attrs["value"]]
    m2o = dv.get("EntityDefinitions(LogicalName='contact')/ManyToOneRelationships").json()["value"]
    assert any(x["ReferencingEntityNavigationPropertyName"] == "parentcustomerid_account" for x in m2o)
    ct = dv.get("EntityDefinitions?$select=LogicalName&$filter=ChangeTrackingEnabled eq true").json()["value"]
    assert {"account", "product"} <= {x["LogicalName"] for x in ct}
    opts = dv.get("EntityDefinitions(LogicalName='product')/Attributes(LogicalName='producttypecode')/"
                  "Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$expand=OptionSet").json()
    assert {o["Value"] for o in opts["OptionSet"]["Options"]} == {1, 2, 3, 4}


def _product_targets(dv: Api, numbers: list[str]) -> list[dict[str, Any]]:
    sched = dv.get("uomschedules?$select=name").json()["value"][0]["uomscheduleid"]
    unit = dv.get(f"uoms?$filter=_uomscheduleid_value eq {sched}").json()["value"][0]["uomid"]
    return [{"@odata.type": "Microsoft.Dynamics.CRM.product", "name": f"Atomic {n}", "productnumber": n,
             "defaultuomscheduleid@odata.bind": f"/uomschedules({sched})", "defaultuomid@odata.bind": f"/uoms({unit})"}
            for n in numbers]


def test_create_multiple_duplicate_second_target_rolls_back_first(dv: Api) -> None:
    """CreateMultiple on a standard table is all-or-nothing ("Cannot insert duplicate key.")."""
    r = dv.post("products/Microsoft.Dynamics.CRM.CreateMultiple",
                json={"Targets": _product_targets(dv, ["ATOM-1", "ATOM-1"])})
    assert r.status_code == 412 and r.json()["error"]["code"] == "0x80040237"
    assert dv.get("products?$filter=productnumber eq 'ATOM-1'").json()["value"] == []
    existing = dv.get("accounts?$top=1&$select=name").json()["value"][0]["accountid"]
    r = dv.post("accounts/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": [
        {"@odata.type": "Microsoft.Dynamics.CRM.account", "name": "Atomic first"},
        {"@odata.type": "Microsoft.Dynamics.CRM.account", "name": "Atomic dup", "accountid": existing}]})
    assert r.status_code == 412 and r.json()["error"]["message"] == "Cannot insert duplicate key."
    assert dv.get("accounts?$filter=name eq 'Atomic first'").json()["value"] == []


def test_bulk_rolls_back_on_malformed_second_target(dv: Api) -> None:
    """A second target with a malformed lookup URL is a 400 (not a 500) and leaves nothing behind."""
    for message in ("CreateMultiple", "UpsertMultiple"):
        kind = "Microsoft.Dynamics.CRM.account"
        targets = [{"@odata.type": kind, "accountid": "5a5a5a5a-0000-4000-8000-000000000001", "name": "Atomic kept?"},
                   {"@odata.type": kind, "accountid": "5a5a5a5a-0000-4000-8000-000000000002", "name": "Atomic bad",
                    "ownerid@odata.bind": "/systemusers(not-a-key)"}]
        r = dv.post(f"accounts/Microsoft.Dynamics.CRM.{message}", json={"Targets": targets})
        assert r.status_code == 400 and r.json()["error"]["code"] == "0x80060888", (message, r.text)
        assert dv.get("accounts?$filter=startswith(name,'Atomic')").json()["value"] == []
    first = dv.get("accounts?$top=1&$select=name").json()["value"][0]
    r = dv.post("accounts/Microsoft.Dynamics.CRM.UpdateMultiple", json={"Targets": [
        {"@odata.type": "Microsoft.Dynamics.CRM.account", "accountid": first["accountid"], "name": "Atomic renamed"},
        {"@odata.type": "Microsoft.Dynamics.CRM.account", "accountid": "5a5a5a5a-0000-4000-8000-00000000dead",
         "name": "Atomic missing"}]})
    assert r.status_code == 404 and r.json()["error"]["code"] == "0x80040217"
    assert dv.get(f"accounts({first['accountid']})?$select=name").json()["name"] == first["name"]


def test_bulk_in_batch_changeset_is_atomic(dv: Api) -> None:
    """A CreateMultiple part inside a $batch change set that fails undoes the whole change set."""
    import json as _json

    targets = _json.dumps({"Targets": _product_targets(dv, ["ATOM-2", "ATOM-2"])})
    cs = _changeset(dv, [("POST", "accounts", '{"name":"Atomic in changeset"}'),
                         ("POST", "products/Microsoft.Dynamics.CRM.CreateMultiple", targets)])
    status, text = _batch(dv, [cs])
    assert status == 200 and "HTTP/1.1 412" in text
    assert dv.get("accounts?$filter=name eq 'Atomic in changeset'").json()["value"] == []
    assert dv.get("products?$filter=productnumber eq 'ATOM-2'").json()["value"] == []
