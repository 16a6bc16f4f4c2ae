"""The companion extension's AL source is the contract of the custom BC API: everything the portal asks of
``api/bcportal/integration/v1.0`` must be declared by an API page of ``bc-extension/src``.

The AL is read here by a small parser of its own (the portal's code does not import the emulators, and this test
must not trust the emulator's reader to check the emulator)."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mappings.catalogue import BC_TABLES, CUSTOM_API
from mappings.models import IntegrationTableMapping
from syncjobs.engine import synchronize_mapping
from syncjobs.engine.errors import SynchronizationNotPossible
from tests.syncjobs.engine.conftest import make_sync_connection

EXTENSION = Path(__file__).resolve().parent.parent / "bc-extension"
ROUTE = ("bcportal", "integration", "v1.0")


def al_pages(folder: Path = EXTENSION) -> dict[str, dict[str, Any]]:
    """EntitySetName -> {"route": (publisher, group, version), "fields": {names}, "actions": {names},
    "source_table": name} of the API pages in ``folder/src``."""
    pages: dict[str, dict[str, Any]] = {}
    for path in sorted((folder / "src").glob("*.al")):
        text = re.sub(r"//[^\n]*", "", path.read_text(encoding="utf-8"))
        props = dict(re.findall(r"^\s{4}(\w+) = (.+?);$", text, re.M))
        if props.get("PageType") != "API":
            continue
        route = tuple(props[p].strip("'") for p in ("APIPublisher", "APIGroup", "APIVersion"))
        pages[props["EntitySetName"].strip("'")] = {
            "route": route, "source_table": props["SourceTable"].strip('"'),
            "fields": set(re.findall(r"\bfield\((\w+);", text)) | set(re.findall(r"\bpart\((\w+);", text)),
            "actions": set(re.findall(r"\[ServiceEnabled\]\s*procedure (\w+)\(", text))}
    return pages


def test_the_extension_ships_an_app_manifest_and_api_pages_on_its_route():
    manifest = json.loads((EXTENSION / "app.json").read_text())
    assert manifest["name"] == "Business Central Portal Integration" and manifest["publisher"] == "bcportal"
    assert {r["from"] for r in manifest["idRanges"]} == {50100}
    pages = al_pages()
    assert pages and all(page["route"] == ROUTE for page in pages.values())
    permissions = (EXTENSION / "src" / "BCPortalIntegration.PermissionSet.al").read_text()
    assert 'permissionset 50100 "BCPORTAL INTEGRATION"' in permissions and "Assignable = true;" in permissions
    for path in (EXTENSION / "src").glob("*.Page.al"):
        name = re.search(r'^page \d+ "([^"]+)"', path.read_text(), re.M).group(1)
        assert f'page "{name}" = X' in permissions, name


def test_every_custom_table_and_extension_field_of_the_catalogue_is_an_al_page_field():
    pages = al_pages()
    for table in BC_TABLES.values():
        if table.api != CUSTOM_API:
            continue
        assert table.entity_set in pages, f"no AL page for {table.name} ({table.entity_set})"
        declared = pages[table.entity_set]["fields"]
        missing = {f.api_property for f in table.fields} - declared
        assert not missing, f"{table.entity_set}: {sorted(missing)} not on the AL page"
        assert {"id", table.modified_property} - {""} <= declared


def test_every_custom_api_request_of_a_full_synchronization_is_backed_by_an_al_page(emulator, settings, db):
    connection = make_sync_connection(emulator, settings)
    emulator.reset()  # only the synchronization's own requests
    for mapping in IntegrationTableMapping.objects.filter(connection=connection).order_by("pk"):
        try:
            synchronize_mapping(mapping=mapping, full=True)
        except SynchronizationNotPossible:
            continue  # option mappings whose column the emulated environment lacks (disabled by make_sync_connection)
    requests = [r for r in emulator.bc_requests() if r["api"] == "custom"]
    assert requests, "the full synchronization asked nothing of the custom API"
    pages = al_pages()
    asked: set[str] = set()
    for request in requests:
        segments = re.sub(r"^companies\([^)]*\)/", "", request["path"]).split("/")
        entity_set = re.sub(r"\(.*$", "", segments[0])
        asked.add(entity_set)
        assert entity_set in pages, f"{request['method']} {request['path']}: no AL page {entity_set!r}"
        page = pages[entity_set]
        selected = set(filter(None, (request["select"] or "").split(",")))
        assert selected <= page["fields"], f"{entity_set}: {sorted(selected - page['fields'])} not on the AL page"
        assert set(request["body"]) <= page["fields"], f"{entity_set}: body {sorted(set(request['body']))}"
        for segment in segments[1:]:
            if segment.startswith("Microsoft.NAV."):
                assert segment.removeprefix("Microsoft.NAV.") in page["actions"], segment
    assert "unitGroups" in asked or "customers" in asked
