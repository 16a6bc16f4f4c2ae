"""Query strings decoded as the services decode them (``application/x-www-form-urlencoded``: ``+`` is a space, ``%2B``
a plus), ``/$count`` on every Business Central collection, and Business Central's refusal of ``or`` across two fields
(Microsoft Learn: "Known limitations with Business Central OData")."""

from __future__ import annotations

import json

from .conftest import Api

DISTINCT_FIELDS = "The 'OR' operator is not supported on distinct fields on an OData filter."


def _names(api: Api, path: str, key: str) -> list[str]:
    r = api.get(path)
    assert r.status_code == 200, r.text
    return sorted(row[key] for row in r.json()["value"])


# ---------------------------------------------------------------------------------------------------- + is a space
def test_dataverse_reads_plus_as_a_space(dv: Api) -> None:
    encoded = _names(dv, "accounts?$select=name&$filter=name%20eq%20'Fabrikam,%20Inc.%20(sample)'", "name")
    plus = _names(dv, "accounts?$select=name&$filter=name+eq+'Fabrikam,+Inc.+(sample)'", "name")
    assert plus == encoded == ["Fabrikam, Inc. (sample)"]
    assert dv.get("accounts/$count?$filter=name+eq+'Fabrikam,+Inc.+(sample)'").text == "1"


def test_business_central_reads_plus_as_a_space(bc: Api, cronus: str) -> None:
    base = f"companies({cronus})/customers"
    encoded = _names(bc, f"{base}?$filter=city%20eq%20'London'", "number")
    plus = _names(bc, f"{base}?$filter=city+eq+'London'&$select=number,city", "number")
    assert plus == encoded and len(plus) == 4
    # a space inside the value, and the other query options decoded the same way
    assert len(_names(bc, f"{base}?$filter=city+eq+'Arhus+C'&$orderby=number+desc", "number")) == 2
    assert bc.get(f"{base}/$count?$filter=city+eq+'London'").text == "4"


def test_percent_2b_is_a_literal_plus(dv: Api, bc: Api, cronus: str) -> None:
    created = dv.post("accounts", json={"name": "A+B Engineering"})
    assert created.status_code == 204
    assert _names(dv, "accounts?$select=name&$filter=name+eq+'A%2BB+Engineering'", "name") == ["A+B Engineering"]
    assert _names(dv, "accounts?$select=name&$filter=name+eq+'A+B+Engineering'", "name") == []  # "A B Engineering"
    base = f"companies({cronus})/customers"
    customer = bc.get(f"{base}?$filter=city+eq+'London'&$top=1").json()["value"][0]
    changed = bc.patch(f"{base}({customer['id']})", json={"phoneNumber": "+44 20 7946 0000"},
                       headers={"If-Match": customer["@odata.etag"]})
    assert changed.status_code == 200
    found = bc.get(f"{base}?$filter=phoneNumber+eq+'%2B44+20+7946+0000'").json()["value"]
    assert [c["id"] for c in found] == [customer["id"]]
    assert bc.get(f"{base}?$filter=phoneNumber+eq+'+44+20+7946+0000'").json()["value"] == []


def test_business_central_batch_requests_read_plus_as_a_space(bc: Api, cronus: str) -> None:
    body = {"requests": [{"id": "1", "method": "GET",
                          "url": f"companies({cronus})/customers?$filter=city+eq+'London'&$select=number"}]}
    r = bc.post("$batch", data=json.dumps(body), headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    assert len(r.json()["responses"][0]["body"]["value"]) == 4


# ---------------------------------------------------------------------------------------------------- /$count
def test_count_segment_on_companies(bc: Api) -> None:
    """``companies/$count``: the number of companies as ``text/plain`` (OData v4 ``$count`` path segment)."""
    r = bc.get("companies/$count")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    assert r.text == str(len(bc.get("companies").json()["value"])) == "2"
    assert bc.get("companies/$count?$filter=name+eq+'Contoso+Coffee'").text == "1"
    assert bc.get("companies/$count?$filter=name eq 'Nobody'").text == "0"
    assert bc.post("companies/$count", json={}).status_code == 405


def test_count_segment_on_collections_applies_the_filter(bc: Api, bc_custom: Api, cronus: str) -> None:
    base = f"companies({cronus})"
    for entity_set, condition in (("customers", "city eq 'London'"), ("items", "blocked eq false"),
                                  ("contacts", "type eq 'Person'"), ("salesOrders", "status eq 'Open'"),
                                  ("currencies", "code ne 'USD'"), ("salespeoplePurchasers", "startswith(code,'J')"),
                                  ("unitsOfMeasure", "code eq 'PCS'")):
        rows = bc.get(f"{base}/{entity_set}").json()["value"]
        matching = bc.get(f"{base}/{entity_set}?$filter={condition}").json()["value"]
        assert bc.get(f"{base}/{entity_set}/$count").text == str(len(rows)), entity_set
        count = bc.get(f"{base}/{entity_set}/$count?$filter={condition}")
        assert count.status_code == 200 and count.text == str(len(matching)), entity_set
    # the company given as a query option, the custom API, and $top/$skip leave the count alone
    assert bc.get(f"customers/$count?company={cronus}&$top=1&$skip=2").text == str(
        len(bc.get(f"{base}/customers").json()["value"]))
    assert bc_custom.get(f"{base}/customerPriceGroups/$count").text == str(
        len(bc_custom.get(f"{base}/customerPriceGroups").json()["value"]))
    order = bc.get(f"{base}/salesOrders?$top=1&$expand=salesOrderLines").json()["value"][0]
    items = [line for line in order["salesOrderLines"] if line["lineType"] == "Item"]
    lines = bc.get(f"{base}/salesOrders({order['id']})/salesOrderLines/$count?$filter=lineType eq 'Item'")
    assert lines.text == str(len(items))


# ---------------------------------------------------------------------------------------------------- or on two fields
def _refused(r: object) -> None:
    body = r.json()  # type: ignore[attr-defined]
    assert r.status_code == 501, r.text  # type: ignore[attr-defined]
    assert body["error"]["code"] == "BadRequest_MethodNotImplemented"
    assert body["error"]["message"].startswith(DISTINCT_FIELDS + "  CorrelationId:")


def test_business_central_refuses_or_across_two_fields(bc: Api, cronus: str) -> None:
    base = f"companies({cronus})/customers"
    _refused(bc.get(f"{base}?$filter=city eq 'London' or country eq 'GB'"))
    _refused(bc.get(f"{base}/$count?$filter=city eq 'London' or country eq 'GB'"))
    _refused(bc.get(f"{base}?$filter=contains(number,'1') or contains(displayName,'1')"))
    # the keyset cursor "after (modified-on, id)" is such a filter too
    stamp = "2024-01-01T00:00:00Z"
    _refused(bc.get(f"{base}?$filter=lastModifiedDateTime gt {stamp} or (lastModifiedDateTime eq {stamp} and "
                    f"id gt 00000000-0000-0000-0000-000000000000)"))
    _refused(bc.get(f"{base}?$filter=blocked eq ' ' and not (city eq 'London' or postalCode eq 'x')"))
    _refused(bc.get(f"companies({cronus})/salesOrders?$expand=salesOrderLines($filter=lineType eq 'Item' or "
                    f"quantity gt 1)"))
    # an unknown property is a 400 first, as before
    unknown = bc.get(f"{base}?$filter=nosuch eq 'a' or city eq 'b'")
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "BadRequest_NotFound"


def test_business_central_allows_or_on_one_field(bc: Api, cronus: str) -> None:
    base = f"companies({cronus})/customers"
    london = _names(bc, f"{base}?$filter=city eq 'London'", "number")
    birmingham = _names(bc, f"{base}?$filter=city eq 'Birmingham'", "number")
    either = _names(bc, f"{base}?$filter=city eq 'London' or city eq 'Birmingham'", "number")
    assert either == sorted(london + birmingham) and len(either) == 5
    both = _names(bc, f"{base}?$filter=(city eq 'London' or city eq 'Birmingham') and country eq 'GB'", "number")
    assert set(both) <= set(either)
    assert _names(bc, f"{base}?$filter=startswith(city,'Lon') or contains(city,'mingh')", "number") == either
    assert _names(bc, f"{base}?$filter=city in ('London','Birmingham')", "number") == either
    ids = [c["id"] for c in bc.get(f"{base}?$top=3").json()["value"]]
    assert len(bc.get(f"{base}?$filter=" + " or ".join(f"id eq {i}" for i in ids)).json()["value"]) == 3


def test_business_central_batch_request_with_or_across_fields_fails_alone(bc: Api, cronus: str) -> None:
    base = f"companies({cronus})/customers"
    body = {"requests": [
        {"id": "1", "method": "GET", "url": f"{base}?$filter=city eq 'London' or country eq 'GB'"},
        {"id": "2", "method": "GET", "url": f"{base}/$count?$filter=city eq 'London' or city eq 'Birmingham'"},
    ]}
    r = bc.post("$batch", data=json.dumps(body), headers={"Content-Type": "application/json"})
    responses = {x["id"]: x for x in r.json()["responses"]}
    assert responses["1"]["status"] == 501
    assert responses["1"]["body"]["error"]["code"] == "BadRequest_MethodNotImplemented"
    assert responses["2"]["status"] == 200


def test_dataverse_keeps_or_across_two_columns(dv: Api) -> None:
    """The limitation is Business Central's: the Dataverse Web API filters ``or`` across columns."""
    names = _names(dv, "accounts?$select=name&$filter=name eq 'Fabrikam, Inc. (sample)' or "
                   "name eq 'Litware, Inc. (sample)' or numberofemployees gt 1000000", "name")
    assert names == ["Fabrikam, Inc. (sample)", "Litware, Inc. (sample)"]
