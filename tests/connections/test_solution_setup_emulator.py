"""The portal's own integration solution (dataverse-solution/) reaches Dataverse through the assisted setup:
``setup_connection --import-solution --enable`` against the emulators installs it by content (publisher
``bcportal``, its tables and its three roles with their privileges), assigns the two integration roles, and a
package without a column leaves that column unwritable, as in Dataverse."""
from __future__ import annotations

import io
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from connections.clients.errors import ClientError
from connections.solution import (
    INTEGRATION_ROLES,
    PUBLISHER_UNIQUE_NAME,
    SOLUTION_ROLES,
    SOLUTION_UNIQUE_NAME,
    SOURCE,
    solution_package,
)
from tests.connections.admin_signin import ApprovingStream
from tests.connections.conftest import admin_dataverse

pytestmark = pytest.mark.django_db


def _setup(info: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> str:
    """Run the assisted setup from the command line; returns its output and the import's log line."""
    caplog.clear()
    caplog.set_level(logging.INFO, logger="connections.solution_import")
    line = tmp_path / "emulator.json"
    line.write_text(json.dumps(info))
    out = io.StringIO()
    call_command("setup_connection", "--from-emulator", str(line), "--import-solution", "--enable", stdout=out,
                 stderr=ApprovingStream(info))  # the administrator approves the sign-in the import asks for
    return out.getvalue() + caplog.text


def test_setup_installs_the_portal_solution_by_content(emulator_info: dict[str, Any], tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    printed = _setup(emulator_info, tmp_path, caplog)
    assert "The connection is set up." in printed
    assert f"Solution {SOLUTION_UNIQUE_NAME}: installed 1.0.0.0." in printed, printed
    admin = admin_dataverse(emulator_info)
    solutions = {row["uniquename"]: row for row in admin.iter_rows(
        "solutions", select=["uniquename", "version"], expand="publisherid($select=uniquename,customizationprefix)")}
    assert "MicrosoftDynamicsNavIntegration" not in solutions
    ours = solutions[SOLUTION_UNIQUE_NAME]
    assert ours["publisherid"]["uniquename"] == PUBLISHER_UNIQUE_NAME == "bcportal"
    assert ours["publisherid"]["customizationprefix"] == "bcp"
    tables = {row["LogicalName"] for row in admin.iter_rows("EntityDefinitions", select=["LogicalName"])}
    assert {"bcp_connection", "bcp_accountstatistics"} <= tables
    for role_id, name in SOLUTION_ROLES.items():
        granted = {p["name"] for p in admin.iter_rows(f"roles({role_id})/roleprivileges_association",
                                                      select=["name"])}
        assert granted, name
        assert ("prvReadProduct" in granted) and (("prvCreateProduct" in granted) == (name != "BC Product "
                                                                                      "Availability User")), name
    held = {str(r["roleid"]).lower() for r in admin.iter_rows(
        f"systemusers({emulator_info['application_user_id']})/systemuserroles_association", select=["roleid"])}
    assert {str(role_id) for role_id in INTEGRATION_ROLES} <= held
    assert len(INTEGRATION_ROLES) == 2

    # Redeploy: BC reimports whatever is installed
    again = _setup(emulator_info, tmp_path, caplog)
    assert f"Solution {SOLUTION_UNIQUE_NAME}: already 1.0.0.0, reimported." in again, again


def test_setup_upgrades_an_older_installed_version(emulator_info: dict[str, Any], tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    older = tmp_path / "src"
    shutil.copytree(SOURCE, older)
    manifest = older / "Other" / "Solution.xml"
    manifest.write_text(manifest.read_text().replace("<Version>1.0.0.0</Version>", "<Version>0.9.0.0</Version>"))
    admin_dataverse(emulator_info).import_solution(solution_package(older), overwrite_unmanaged=True)
    printed = _setup(emulator_info, tmp_path, caplog)
    assert f"Solution {SOLUTION_UNIQUE_NAME}: upgraded 0.9.0.0 → 1.0.0.0." in printed, printed


def test_a_column_missing_from_the_package_cannot_be_written(emulator_info: dict[str, Any], tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(SOURCE, source)
    entity = source / "Entities" / "SalesOrder" / "Entity.xml"
    text = entity.read_text()
    start = text.index('<attribute PhysicalName="bcp_BusinessCentralOrderNumber">')
    end = text.index("</attribute>", start) + len("</attribute>")
    entity.write_text(text[:start] + text[end:])
    admin = admin_dataverse(emulator_info)
    admin.import_solution(solution_package(source), overwrite_unmanaged=True)
    account = next(admin.iter_rows("accounts", select=["accountid"]))["accountid"]
    order = {"name": "Web order", "customerid_account@odata.bind": f"/accounts({account})"}
    written = admin.create("salesorders", {**order, "bcp_businesscentraldocumentoccurrencenumber": 1})
    assert written
    with pytest.raises(ClientError) as refused:
        admin.create("salesorders", {**order, "bcp_businesscentralordernumber": "101005"})
    assert refused.value.status == 400
    assert refused.value.message.startswith("The property 'bcp_businesscentralordernumber' does not exist on type "
                                            "'Microsoft.Dynamics.CRM.salesorder'.")
