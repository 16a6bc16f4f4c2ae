"""Dataverse queries: $select/$filter/$orderby/$top/$count/$expand, paging and change tracking (Microsoft Learn "Query
data using the Web API", "Use change tracking to synchronize data with external systems")."""

from __future__ import annotations

from typing import Any

from .conftest import Api


def test_filter_operators(dv: Api) -> None:
    def names(q: str) -> list[str]:
        r = dv.get("accounts?$select=name&$orderby=name&" + q)
        assert r.status_code == 200, r.text
        return [a["name"] for a in r.json()["value"]]

    assert names("$filter=contains(name,'coffee')") == ["Fourth Coffee (sample)"]
    assert names("$filter=startswith(name,'Litware')") == ["Litware, Inc. (sample)"]
    assert "Contoso, Ltd. (sample)" in names("$filter=endswith(name,'Ltd. (sample)')")
    assert names("$filter=name eq 'LITWARE, INC. (SAMPLE)'") == ["Litware, Inc. (sample)"]
    assert names("$filter=address1_city eq 'Dallas' and numberofemployees gt 1000") == ["Litware, Inc. (sample)"]
    assert len(names("$filter=address1_city eq null")) >= 2
    negated = names("$filter=not (address1_city eq null) or name eq 'x'")
    assert len(negated) == len(names("$filter=address1_city ne null"))
    fourth = dv.get("accounts?$filter=name eq 'Fourth Coffee (sample)'&$select=_primarycontactid_value").json()
    contact = fourth["value"][0]["_primarycontactid_value"]
    linked = dv.get(f"accounts?$filter=_primarycontactid_value eq {contact}&$select=name").json()["value"]
    assert [a["name"] for a in linked] == ["Fourth Coffee (sample)"]
    bad = dv.get("accounts?$filter=nosuch eq 1")
    assert bad.status_code == 400


def test_orderby_top_count_select(dv: Api) -> None:
    r = dv.get("accounts?$select=name,numberofemployees&$orderby=numberofemployees desc,name&$top=2&$count=true")
    body = r.json()
    assert body["@odata.count"] == 16 and len(body["value"]) == 2
    assert body["value"][0]["numberofemployees"] >= body["value"][1]["numberofemployees"]
    assert set(body["value"][0]) == {"@odata.etag", "name", "numberofemployees", "accountid"}
    assert dv.get("accounts/$count").text == "16"


def test_expand_single_and_collection(dv: Api) -> None:
    r = dv.get("accounts?$filter=name eq 'Fourth Coffee (sample)'&$select=name"
               "&$expand=primarycontactid($select=fullname),contact_customer_accounts($select=fullname)")
    acc = r.json()["value"][0]
    assert acc["primarycontactid"]["fullname"] == "Yvonne McKay (sample)"
    assert [c["fullname"] for c in acc["contact_customer_accounts"]] == ["Yvonne McKay (sample)"]
    r = dv.get("accounts?$expand=nosuchnav")
    assert r.status_code == 400


def test_annotations(dv: Api) -> None:
    r = dv.get("contacts?$select=_parentcustomerid_value,statecode&$filter=_parentcustomerid_value ne null&$top=1",
               headers={"Prefer": 'odata.include-annotations="*"'})
    row = r.json()["value"][0]
    assert row["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "account"
    assert row["_parentcustomerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty"] == \
        "parentcustomerid_account"
    assert row["statecode@OData.Community.Display.V1.FormattedValue"] == "Active"


def test_paging_with_maxpagesize(dv: Api) -> None:
    targets = [{"@odata.type": "Microsoft.Dynamics.CRM.contact", "lastname": f"Pager {i:03d}"} for i in range(23)]
    assert dv.post("contacts/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": targets}).status_code == 200
    seen: list[str] = []
    url = "contacts?$select=lastname&$filter=startswith(lastname,'Pager')"
    pages = 0
    while url:
        r = dv.get(url, headers={"Prefer": "odata.maxpagesize=10"})
        assert r.status_code == 200 and r.headers["Preference-Applied"] == "odata.maxpagesize=10"
        body = r.json()
        seen += [c["lastname"] for c in body["value"]]
        url = body.get("@odata.nextLink", "")
        if url:
            assert "$skiptoken=" in url and "pagingcookie" in url
        pages += 1
    assert pages == 3 and sorted(seen) == sorted(t["lastname"] for t in targets) and len(set(seen)) == 23
    r = dv.get("contacts?$top=3", headers={"Prefer": "odata.maxpagesize=10"})
    assert len(r.json()["value"]) == 10


def test_change_tracking(dv: Api) -> None:
    first = dv.get("accounts?$select=name", headers={"Prefer": "odata.track-changes"})
    assert first.headers["Preference-Applied"] == "odata.track-changes"
    body = first.json()
    assert len(body["value"]) == 16 and "$deltatoken=" in body["@odata.deltaLink"]
    delta = body["@odata.deltaLink"]
    created = dv.post("accounts", json={"name": "New since"}, headers={"Prefer": "return=representation"}).json()
    victim = body["value"][0]["accountid"]
    assert dv.delete(f"accounts({victim})").status_code == 204
    changes = dv.get(delta).json()
    assert changes["@odata.context"].endswith("/$delta")
    assert [v["name"] for v in changes["value"] if "name" in v] == ["New since"]
    deleted = [v for v in changes["value"] if v.get("reason") == "deleted"]
    assert deleted[0]["id"] == victim and deleted[0]["@odata.context"].endswith("accounts/$deletedEntity")
    again = dv.get(changes["@odata.deltaLink"]).json()
    assert again["value"] == []
    assert created["name"] == "New since"
    refused = dv.get("accounts?$filter=name eq 'x'", headers={"Prefer": "odata.track-changes"})
    assert refused.status_code == 400
    not_enabled = dv.get("uoms", headers={"Prefer": "odata.track-changes"})
    assert not_enabled.status_code == 400 and not_enabled.json()["error"]["code"] == "0x80072491"


def test_related_collection_and_whoami(dv: Api, info: dict[str, Any]) -> None:
    who = dv.get("WhoAmI").json()
    assert who["UserId"] == info["application_user_id"] and who["OrganizationId"] == info["organization_id"]
    assert dv.get("RetrieveVersion()").json()["Version"].startswith("9.2.")
