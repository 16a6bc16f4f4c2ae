"""API v2.0 ``contactsInformation`` (Contact Business Relation, "Business Central API (v2.0)") on the BC emulator."""

from __future__ import annotations

from typing import Any

from .conftest import Api

FIELDS = {"contactId", "contactNumber", "contactName", "contactType", "relatedId", "relatedType"}


def _contoso(info: dict[str, Any]) -> str:
    return next(c["id"] for c in info["bc_companies"] if c["name"] == "Contoso Coffee")


def test_company_contacts_linked_to_customers(bc: Api, info: dict[str, Any]) -> None:
    company = _contoso(info)
    answer = bc.get(f"companies({company})/contactsInformation")
    assert answer.status_code == 200, answer.text
    rows = answer.json()["value"]
    assert answer.json()["@odata.context"].endswith(f"$metadata#companies({company})/contactsInformation")
    customers = {c["id"]: c for c in bc.get(f"companies({company})/customers").json()["value"]}
    contacts = {c["id"]: c for c in bc.get(f"companies({company})/contacts").json()["value"]}
    linked = [c for c in contacts.values() if c["type"] == "Company" and c["contactBusinessRelation"] == "Customer"]
    assert len(rows) == len(linked) == len(customers) > 0
    for row in rows:
        assert set(row) - {"@odata.etag"} == FIELDS
        contact = contacts[row["contactId"]]
        customer = customers[row["relatedId"]]
        assert (row["contactNumber"], row["contactName"], row["contactType"]) == (
            contact["number"], contact["displayName"], "Company")
        assert row["relatedType"] == "Customer" and customer["displayName"] == contact["displayName"]


def test_filter_select_and_read_only(bc: Api, info: dict[str, Any], cronus: str) -> None:
    company = _contoso(info)
    path = f"companies({company})/contactsInformation"
    some = bc.get(f"{path}?$filter=relatedType eq 'Customer'&$select=contactNumber,relatedId")
    assert some.status_code == 200 and some.json()["value"], some.text
    assert all(set(r) == {"@odata.etag", "contactNumber", "relatedId"} for r in some.json()["value"])
    number = some.json()["value"][0]["contactNumber"]
    one = bc.get(f"{path}?$filter=contactNumber eq '{number}'").json()["value"]
    assert [r["contactNumber"] for r in one] == [number]
    # BC maintains business relations from the contact and customer cards: the API page is read-only
    created = bc.post(path, json={"contactNumber": number, "relatedType": "Vendor"})
    assert created.status_code == 405 and created.json()["error"]["code"] == "BadRequest_MethodNotAllowed"
    # CRONUS's demo company contacts are prospects: none is linked to a customer
    assert bc.get(f"companies({cronus})/contactsInformation").json()["value"] == []
