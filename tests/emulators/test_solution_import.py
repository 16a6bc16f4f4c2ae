"""ImportSolution in the Dataverse emulator creates what the package defines, and refuses a bad package as Dataverse
does (Microsoft Learn "ImportSolution Action", "Solution concepts"; the troubleshooting article "The import solution
must have a higher version than the existing solution it is upgrading")."""

from __future__ import annotations

import base64
import io
import shutil
import zipfile
from pathlib import Path
from typing import Any

from connections.solution import SOURCE, solution_package

from .conftest import Api

ROLE = """<?xml version="1.0" encoding="utf-8"?>
<Role id="{7d0b5d9e-1c2a-4f3e-9a8b-6c5d4e3f2a10}" name="Contoso Reader">
  <RolePrivileges>
    <RolePrivilege name="prvReadAccount" level="Local" />
    <RolePrivilege name="prvReadcontoso_Thing" level="Global" />
  </RolePrivileges>
</Role>
"""


def _post(api: Api, package: bytes) -> Any:
    return api.post("ImportSolution", json={"CustomizationFile": base64.b64encode(package).decode(),
                                             "OverwriteUnmanagedCustomizations": True, "PublishWorkflows": False})


def _zip(**members: str | bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _copy(tmp_path: Path) -> Path:
    source = tmp_path / "src"
    shutil.copytree(SOURCE, source)
    return source


def _members(package: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_malformed_packages_fail_with_dataverse_error(admin_dv: Api) -> None:
    good = _members(solution_package())
    cases = {
        "not a zip": b"PK-not-a-zip",
        "no customizations.xml": _zip(**{"solution.xml": good["solution.xml"]}),
        "no solution.xml": _zip(**{"customizations.xml": good["customizations.xml"]}),
        "malformed customizations.xml": _zip(**{"solution.xml": good["solution.xml"],
                                                "customizations.xml": b"<ImportExportXml><Entities>"}),
    }
    for case, package in cases.items():
        answer = _post(admin_dv, package)
        assert answer.status_code == 400, case
        error = answer.json()["error"]
        assert error["code"] == "0x80048060" and error["message"].startswith("The import file is invalid."), case
    # nothing was created by the refused imports
    assert admin_dv.get("bcp_connections").status_code == 404
    assert admin_dv.get("solutions?$filter=uniquename eq 'BusinessCentralPortalIntegration'").json()["value"] == []


def test_a_component_without_the_publisher_prefix_is_refused(admin_dv: Api, tmp_path: Path) -> None:
    source = _copy(tmp_path)
    entity = source / "Entities" / "SalesOrder" / "Entity.xml"
    entity.write_text(entity.read_text().replace("bcp_BusinessCentralOrderNumber", "new_BusinessCentralOrderNumber")
                      .replace("bcp_businesscentralordernumber", "new_businesscentralordernumber"))
    answer = _post(admin_dv, solution_package(source))
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "0x80048060" and "'new_businesscentralordernumber'" in error["message"]
    assert "prefix 'bcp_'" in error["message"]
    attributes = admin_dv.get("EntityDefinitions(LogicalName='salesorder')/Attributes?$select=LogicalName").json()
    assert not any(a["LogicalName"].startswith(("bcp_", "new_")) for a in attributes["value"])


def test_a_role_of_the_package_is_created_with_its_privileges(admin_dv: Api, tmp_path: Path) -> None:
    source = _copy(tmp_path)
    solution = source / "Other" / "Solution.xml"
    solution.write_text(solution.read_text().replace("<UniqueName>BusinessCentralPortalIntegration</UniqueName>",
                                                     "<UniqueName>ContosoThings</UniqueName>")
                        .replace("<CustomizationPrefix>bcp</CustomizationPrefix>",
                                 "<CustomizationPrefix>contoso</CustomizationPrefix>"))
    for folder in (source / "Entities", source / "Roles", source / "Other" / "Relationships"):
        shutil.rmtree(folder)
    (source / "Other" / "Relationships.xml").unlink()
    (source / "Entities" / "contoso_Thing").mkdir(parents=True)
    (source / "Entities" / "contoso_Thing" / "Entity.xml").write_text(
        (SOURCE / "Entities" / "bcp_Connection" / "Entity.xml").read_text().replace("bcp_", "contoso_")
        .replace("bcp_connections", "contoso_things").replace("contoso_Connection", "contoso_Thing")
        .replace("contoso_connection", "contoso_thing").replace("contoso_connections", "contoso_things"))
    (source / "Roles").mkdir()
    (source / "Roles" / "Contoso Reader.xml").write_text(ROLE)
    answer = _post(admin_dv, solution_package(source))
    assert answer.status_code == 204, answer.text
    role = admin_dv.get("roles(7d0b5d9e-1c2a-4f3e-9a8b-6c5d4e3f2a10)?$select=name").json()
    assert role["name"] == "Contoso Reader"
    granted = admin_dv.get("roles(7d0b5d9e-1c2a-4f3e-9a8b-6c5d4e3f2a10)/roleprivileges_association?$select=name")
    assert sorted(p["name"] for p in granted.json()["value"]) == ["prvReadAccount", "prvReadcontoso_Thing"]
    assert admin_dv.get("contoso_things").status_code == 200
    # a role's privileges are not changed through the relationship
    privilege = granted.json()["value"][0]["privilegeid"]
    refused = admin_dv.post("roles(7d0b5d9e-1c2a-4f3e-9a8b-6c5d4e3f2a10)/roleprivileges_association/$ref",
                            json={"@odata.id": f"{admin_dv.base}privileges({privilege})"})
    assert refused.status_code == 400


def test_a_role_granting_an_unknown_privilege_is_refused(admin_dv: Api, tmp_path: Path) -> None:
    source = _copy(tmp_path)
    role = source / "Roles" / "BC Integration User.xml"
    role.write_text(role.read_text().replace('name="prvReadAccount"', 'name="prvReadAcount"'))
    answer = _post(admin_dv, solution_package(source))
    assert answer.status_code == 400 and "prvReadAcount" in answer.json()["error"]["message"]
    assert admin_dv.get("roles?$filter=name eq 'BC Integration User'").json()["value"] == []


def test_versions_upgrade_and_an_older_package_is_refused(admin_dv: Api, tmp_path: Path) -> None:
    source = _copy(tmp_path)
    solution = source / "Other" / "Solution.xml"
    solution.write_text(solution.read_text().replace("<Version>1.0.0.0</Version>", "<Version>1.0.10.0</Version>"))
    assert _post(admin_dv, solution_package(source)).status_code == 204
    older = _post(admin_dv, solution_package())
    assert older.status_code == 400
    assert older.json()["error"]["code"] == "0x80048541"
    assert older.json()["error"]["message"].startswith(
        "The import solution must have a higher version than the existing solution it is upgrading.")
    assert _post(admin_dv, solution_package(source)).status_code == 204  # the same version: reimported
    versions = admin_dv.get("solutions?$filter=uniquename eq 'BusinessCentralPortalIntegration'&$select=version")
    assert [row["version"] for row in versions.json()["value"]] == ["1.0.10.0"]
