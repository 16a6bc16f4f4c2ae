"""URL routing of the emulators (werkzeug URL maps) and ``$filter`` lambda operators, over HTTPS."""

from __future__ import annotations

from .conftest import Api


def test_dataverse_paths_percent_encoded_or_not(dv: Api) -> None:
    """A segment means the same whether its characters arrive percent-encoded or not (RFC 3986 section 2.4)."""
    assert dv.get("accounts/%24count").text == dv.get("accounts/$count").text == "16"
    account = dv.get("accounts?$top=1&$select=name").json()["value"][0]
    plain = dv.get(f"accounts({account['accountid']})?$select=name").json()
    encoded = dv.get(f"accounts%28{account['accountid']}%29?$select=name").json()
    assert plain["name"] == encoded["name"] == account["name"]
    assert dv.get("%24metadata").status_code == 200


def test_dataverse_unrouted_paths(dv: Api) -> None:
    """The first segment that addresses nothing is named; a missing row before it is its own 404."""
    r = dv.get("accounts/nosuch")
    assert r.status_code == 404 and r.json()["error"]["message"] == "Resource not found for the segment 'nosuch'."
    r = dv.get("accounts(00000000-0000-4000-8000-000000000001)/name/extra")
    assert r.status_code == 404 and r.json()["error"]["code"] == "0x80040217"
    r = dv.get("EntityDefinitions(LogicalName='account')/Nosuch")
    assert r.status_code == 404 and "'Nosuch'" in r.json()["error"]["message"]
    assert dv.get("accounts?fetchXml=x").status_code == 501
    assert dv.request("PUT", "accounts").status_code == 405


def test_dataverse_lambda_operators(dv: Api) -> None:
    def names(flt: str) -> list[str]:
        r = dv.get(f"accounts?$select=name&$orderby=name&$filter={flt}")
        assert r.status_code == 200, r.text
        return [a["name"] for a in r.json()["value"]]

    expanded = dv.get("accounts?$select=name&$expand=contact_customer_accounts($select=fullname)").json()["value"]
    expected = sorted((a["name"] for a in expanded
                       if any(c["fullname"] == "Yvonne McKay (sample)" for c in a["contact_customer_accounts"])),
                      key=str.lower)
    assert "Fourth Coffee (sample)" in expected
    assert names("contact_customer_accounts/any(c: c/fullname eq 'Yvonne McKay (sample)')") == expected
    with_contacts = names("contact_customer_accounts/any()")
    assert "Fourth Coffee (sample)" in with_contacts and len(with_contacts) < 16
    everyone = names("contact_customer_accounts/all(c: c/fullname ne null)")
    assert len(everyone) == 16
    bad = dv.get("accounts?$filter=contact_customer_accounts/any(c: fullname eq 'x')")
    assert bad.status_code == 400


def test_bc_paths(bc: Api, cronus: str) -> None:
    r = bc.get(f"companies({cronus})/items(not-a-key)")
    assert r.status_code == 400 and r.json()["error"]["code"] == "BadRequest_InvalidRequestUrl"
    r = bc.get(f"companies({cronus})/items/nosuch")
    assert r.status_code == 404 and "'nosuch'" in r.json()["error"]["message"]
    assert bc.get(f"companies%28{cronus}%29/items/%24count").text == bc.get(f"companies({cronus})/items/$count").text
    r = bc.get(f"items?company={cronus}&$top=1&$select=number")
    assert r.status_code == 200 and len(r.json()["value"]) == 1
