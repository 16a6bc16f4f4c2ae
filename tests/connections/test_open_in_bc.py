""""Open in Business Central" (BC: table 5330 CRM Connection Setup, field 69 "Dynamics NAV URL" and the CRM NAV
Connection row it writes): enabling writes the connection's ``bcp_connection`` row in Dataverse, a new web client URL
updates that same row, and without the integration solution the failure is a named step, never an error page."""
from __future__ import annotations

from typing import Any

import pytest

from connections.actions.configuration import connection_enable, connection_save
from connections.clients import TokenProvider
from connections.diagnostics import ConnectionActionFailed
from connections.models import ConnectionSetup
from connections.open_in_bc import BC_CONNECTION_SET, STEP_NAME, bc_connection_row_step
from connections.solution_import import integration_solution_import
from mappings.remote import bc_record_url
from tests.connections.conftest import admin_dataverse

pytestmark = pytest.mark.django_db

WEB_CLIENT = "https://businesscentral.dynamics.com/contoso/Production"


def _import_solution(connection: ConnectionSetup, info: dict[str, Any]) -> None:
    """Redeploy Integration Solution with the emulator administrator's credentials."""
    tokens = TokenProvider(authority=info["entra_authority"], client_id=info["client_id"],
                           client_secret=info["client_secret"], username=info["admin_user"],
                           password=info["admin_password"], timeout=30)
    assert integration_solution_import(connection=connection, admin_tokens=tokens).ok
    connection.refresh_from_db()


def _rows(info: dict[str, Any]) -> list[dict[str, Any]]:
    return list(admin_dataverse(info).iter_rows(BC_CONNECTION_SET, select=[
        "bcp_connectionid", "bcp_name", "bcp_environmentname", "bcp_companyid", "bcp_companyname",
        "bcp_webclienturl"]))


def test_enable_writes_the_connection_row_and_a_new_url_updates_it(
        emulated_connection: ConnectionSetup, emulator_info: dict[str, Any], admin_user: Any) -> None:
    connection = connection_save(connection=emulated_connection, user=admin_user,
                                 data={"bc_web_client_url": WEB_CLIENT, "bc_environment": "Production"})
    _import_solution(connection, emulator_info)
    assert _rows(emulator_info) == []

    report = connection_enable(connection=connection, user=admin_user)
    assert report.ok and any(step.name == STEP_NAME and step.ok for step in report.steps)
    connection.refresh_from_db()
    assert connection.is_enabled and connection.bc_company_id and connection.bc_company_name
    [row] = _rows(emulator_info)
    assert row["bcp_connectionid"].lower() == str(connection.pk)
    assert (row["bcp_webclienturl"], row["bcp_environmentname"]) == (WEB_CLIENT, "Production")
    assert (row["bcp_companyid"].lower(), row["bcp_companyname"]) == (str(connection.bc_company_id),
                                                                      connection.bc_company_name)
    assert row["bcp_name"] == connection.bc_company_name

    # A new web client URL on the enabled connection updates the same row (no second row).
    moved = "https://bc.contoso.com/BC250"
    connection_save(connection=connection, user=admin_user, data={"bc_web_client_url": moved})
    [row] = _rows(emulator_info)
    assert row["bcp_connectionid"].lower() == str(connection.pk) and row["bcp_webclienturl"] == moved
    assert connection.changes.filter(action="Open in Business Central row written").count() == 1

    # Enabling again (a repeat) keeps one row.
    assert connection_enable(connection=connection, user=admin_user).ok
    assert len(_rows(emulator_info)) == 1

    # The coupled-records pages link to the record in this company of the web client (BC deep link).
    connection.refresh_from_db()
    link = bc_record_url(connection, "Customer", "5b6d3c4e-0000-0000-0000-000000000001")
    assert link.startswith(f"{moved}/?company=") and "&page=21&" in link
    assert "filter=%27SystemId%27+IS+%275b6d3c4e-0000-0000-0000-000000000001%27" in link


def test_without_the_solution_enable_and_the_row_fail_as_named_steps(
        emulated_connection: ConnectionSetup, emulator_info: dict[str, Any], admin_user: Any) -> None:
    with pytest.raises(ConnectionActionFailed) as refused:
        connection_enable(connection=emulated_connection, user=admin_user)
    assert refused.value.report.failed_step.name == "Integration solution installed"
    emulated_connection.refresh_from_db()
    assert not emulated_connection.is_enabled

    # The table is missing in Dataverse (solution not imported): the row's step fails naming the fix.
    step = bc_connection_row_step(connection=emulated_connection)
    assert step.ok is False and step.layer == "solution"
    assert BC_CONNECTION_SET in step.message and "Redeploy Integration Solution" in step.fix
