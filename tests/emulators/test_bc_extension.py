"""The BC emulator serves the companion extension's custom API exactly as its AL source declares it: entity sets,
fields, read-only pages and bound actions; without the extension the whole route answers 404."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from emulators.testing import RunningEmulators, client_token, start_emulators
from tests.emulators.conftest import Api
from tests.test_bc_extension_contract import EXTENSION, al_pages


def test_every_served_custom_entity_set_is_an_al_page(bc_custom: Api) -> None:
    served = {s["name"] for s in bc_custom.get("").json()["value"]} - {"companies"}
    pages = al_pages()
    assert served == set(pages)
    metadata = bc_custom.get("$metadata").text
    assert '<Action Name="createMissingUnitGroups" IsBound="true">' in metadata
    assert '<Action Name="release" IsBound="true">' in metadata


def test_fields_and_sets_the_extension_does_not_declare_are_refused(bc_custom: Api, bc: Api, cronus: str) -> None:
    missing = bc_custom.get(f"companies({cronus})/salesPrices")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "BadRequest_ResourceNotFound"
    # taxAreaDisplayName is a v2.0 field the extension's customers page does not bind
    assert bc.get(f"companies({cronus})/customers?$select=taxAreaDisplayName").status_code == 200
    refused = bc_custom.get(f"companies({cronus})/customers?$select=taxAreaDisplayName")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "BadRequest_NotFound"
    assert "Could not find a property named 'taxAreaDisplayName' on type 'Microsoft.NAV.customer'" in refused.text


def test_price_lists_are_seeded_as_the_price_list_upgrade_makes_them(bc_custom: Api, cronus: str) -> None:
    headers = bc_custom.get(f"companies({cronus})/priceListHeaders").json()["value"]
    assert [(h["code"], h["sourceType"], h["currencyCode"], h["status"]) for h in headers] == [
        ("S00001", "All Customers", None, "Active"), ("S00002", "All Customers", "EUR", "Active")]
    lines = bc_custom.get(f"companies({cronus})/priceListLines?$orderby=lineNumber").json()["value"]
    assert [(ln["priceListCode"], ln["assetType"], ln["assetNumber"], ln["unitPrice"]) for ln in lines] == [
        ("S00001", "Item", "1936-S", 1232.0), ("S00002", "Item", "1972-W", 843.345)]
    assert set(lines[0]) >= {"lineNumber", "sourceType", "sourceNumber", "unitOfMeasureCode", "currencyCode",
                             "startingDate", "endingDate", "minimumQuantity", "priceType", "amountType"}


def test_create_missing_unit_groups_creates_bc_coded_groups_and_returns_the_count(bc: Api, bc_custom: Api,
                                                                                   cronus: str) -> None:
    groups = bc_custom.get(f"companies({cronus})/unitGroups?$filter=sourceType eq 'Resource'").json()["value"]
    assert {g["code"] for g in groups} >= {"RESOURCE LIFT UOM GR", "RESOURCE MARTY UOM GR"}
    item = bc.post(f"companies({cronus})/items", json={"displayName": "Brand new"}).json()
    (info,) = bc_custom.get(f"companies({cronus})/integrationInfo").json()["value"]
    action = f"companies({cronus})/integrationInfo({info['id']})/Microsoft.NAV.createMissingUnitGroups"
    first = bc_custom.post(action)
    assert first.status_code == 200 and first.json()["value"] == 1
    assert bc_custom.post(action).json()["value"] == 0
    (group,) = bc_custom.get(f"companies({cronus})/unitGroups?$filter=sourceNumber eq '{item['number']}'").json()[
        "value"]
    assert (group["code"], group["sourceId"]) == (f"ITEM {item['number']} UOM GR", item["id"])
    unknown = bc_custom.post(f"companies({cronus})/integrationInfo({info['id']})/Microsoft.NAV.nope")
    assert unknown.status_code == 400


def test_integration_info_reports_the_extension_version(bc_custom: Api, cronus: str) -> None:
    manifest = json.loads((EXTENSION / "app.json").read_text())
    (info,) = bc_custom.get(f"companies({cronus})/integrationInfo").json()["value"]
    assert (info["extensionVersion"], info["extensionName"]) == (manifest["version"], manifest["name"])
    assert info["unitGroupCount"] > 0


def test_bc_couplings_and_table_mappings_are_served_read_only(bc_custom: Api, bc: Api, cronus: str) -> None:
    records = bc_custom.get(f"companies({cronus})/crmIntegrationRecords").json()["value"]
    customers = {c["id"]: c["displayName"] for c in bc.get(f"companies({cronus})/customers").json()["value"]}
    assert len(records) == 5 and all(r["tableId"] == 18 and r["integrationId"] in customers for r in records)
    mappings = bc_custom.get(f"companies({cronus})/integrationTableMappings").json()["value"]
    assert {m["name"] for m in mappings} == {"CUSTOMER", "ITEM-PRODUCT", "CONTACT"}
    assert all(m["tableFilter"].startswith("VERSION(1)") for m in mappings)
    for entity_set in ("crmIntegrationRecords", "integrationTableMappings", "unitGroups"):
        post = bc_custom.post(f"companies({cronus})/{entity_set}", json={})
        assert post.status_code == 405 and post.json()["error"]["code"] == "BadRequest_MethodNotAllowed"
    patch = bc_custom.patch(f"companies({cronus})/crmIntegrationRecords({records[0]['id']})", json={"skipped": True},
                            headers={"If-Match": "*"})
    assert patch.status_code == 405


def test_bc_couplings_point_to_seeded_dataverse_accounts(bc_custom: Api, dv: Api, cronus: str) -> None:
    records = bc_custom.get(f"companies({cronus})/crmIntegrationRecords").json()["value"]
    for record in records:
        assert dv.get(f"accounts({record['crmId']})?$select=name").status_code == 200


@pytest.fixture(scope="module")
def without_extension(tmp_path_factory: pytest.TempPathFactory) -> Any:
    running: RunningEmulators = start_emulators(Path(tmp_path_factory.mktemp("no-extension")), bc_extension=False)
    try:
        yield running
    finally:
        running.stop()


def test_without_the_extension_the_custom_route_answers_404_and_v2_keeps_working(without_extension: Any) -> None:
    info = without_extension.info
    assert info["bc_extension"] == "absent"
    session = without_extension.session
    token = client_token(info, "https://api.businesscentral.dynamics.com/.default", session=session)
    headers = {"Authorization": f"Bearer {token}"}
    company = info["bc_companies"][0]["id"]
    for path in ("companies", f"companies({company})/resources", "$metadata"):
        r = session.get(f"{info['bc_custom_api_url']}/{path}", headers=headers)
        assert r.status_code == 404 and r.json()["error"]["code"] == "BadRequest_NotFound", path
    assert session.get(f"{info['bc_api_url']}/companies({company})/items", headers=headers).status_code == 200
