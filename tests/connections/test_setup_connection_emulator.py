"""``manage.py setup_connection --from-emulator FILE --import-solution --enable`` against freshly seeded emulators:
exits 0 and leaves the state the wizard leaves (connection enabled, solution imported, roles assigned, default
mappings and job queue entries)."""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from connections.models import ConnectionSetup
from connections.solution import INTEGRATION_ROLES
from tests.connections.admin_signin import ApprovingStream, emulator_sign_in
from tests.connections.conftest import admin_dataverse

pytestmark = pytest.mark.django_db


def setup_state(info: dict[str, Any]) -> dict[str, Any]:
    """What a finished setup leaves, in a comparable shape (used by this test and the wizard's browser test)."""
    from mappings.models import IntegrationTableMapping
    from syncjobs.models import JobQueueEntry

    connection = ConnectionSetup.objects.get()
    admin = admin_dataverse(info)
    roles = {str(r["roleid"]).lower() for r in admin.iter_rows(
        f"systemusers({info['application_user_id']})/systemuserroles_association", select=["roleid"])}
    return {
        "enabled": connection.is_enabled,
        "solution_installed": connection.is_solution_installed,
        "integration_user": str(connection.integration_user_id),
        "roles": roles,
        "mappings": sorted(IntegrationTableMapping.objects.filter(connection=connection)
                           .values_list("name", "direction")),
        "jobs": sorted(JobQueueEntry.objects.filter(connection=connection)
                       .values_list("description", "status", "no_of_minutes_between_runs")),
    }


def test_setup_connection_from_emulator_file(emulator_info: dict[str, Any], tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    line = tmp_path / "emulator.json"
    line.write_text(json.dumps(emulator_info) + "\n")
    out = io.StringIO()
    call_command("setup_connection", "--from-emulator", str(line), "--import-solution", "--enable", stdout=out,
                 stderr=ApprovingStream(emulator_info))
    printed = out.getvalue()
    assert "The connection is set up." in printed
    logged = caplog.text + " ".join(str(record.args) for record in caplog.records)
    for secret in (emulator_info["client_secret"], emulator_info["admin_password"]):
        assert secret not in printed and secret not in logged
    state = setup_state(emulator_info)
    assert state["enabled"] and state["solution_installed"]
    assert state["integration_user"] == emulator_info["application_user_id"]
    assert {str(role_id) for role_id in INTEGRATION_ROLES} <= state["roles"]
    names = {name for name, _ in state["mappings"]}
    assert {"CUSTOMER", "CONTACT", "CURRENCY", "ITEM-PRODUCT", "OPPORTUNITY"} <= names
    assert state["jobs"]
    # Enabled before the default configuration: the recurring entries start active, not On Hold.
    assert all(status != "OnHold" for _, status, _ in state["jobs"]), state["jobs"]
    connection = ConnectionSetup.objects.get()
    assert connection.changes.filter(action="Assisted setup finished", new_value="succeeded").exists()


def test_setup_connection_exits_non_zero_with_the_reason(emulator_info: dict[str, Any], tmp_path: Path) -> None:
    from django.core.management import CommandError

    broken = {**emulator_info, "client_secret": "wrong-secret"}
    line = tmp_path / "emulator.json"
    line.write_text(json.dumps(broken))
    out = io.StringIO()
    with pytest.raises(CommandError, match="Setup failed at “Test connection”.*AADSTS7000215"):
        call_command("setup_connection", "--from-emulator", str(line), "--import-solution", "--enable", stdout=out)
    assert "[FAIL] Test connection" in out.getvalue()
    assert not ConnectionSetup.objects.get().is_enabled


def run_wizard(client: Any, info: dict[str, Any]) -> str:
    """Submit every assisted setup step for the emulators through the test client; returns the finish page."""
    from urllib.parse import urlsplit

    from django.urls import reverse

    authority = urlsplit(info["entra_authority"])
    steps = [
        ("environment", {"dataverse_url": info["dataverse_url"]}),
        ("signin", {"authentication_type": "ClientSecret", "tenant_id": info["tenant_id"],
                    "custom_authority_host": f"{authority.scheme}://{authority.netloc}", "client_id": info["client_id"],
                    "client_secret": info["client_secret"]}),
        ("businesscentral", {"bc_api_url": info["bc_api_url"], "bc_company": info["bc_companies"][0]["id"],
                             "bc_authentication_type": "OAuth", "bc_environment": info["bc_environment"],
                             "bc_tenant": info["tenant_id"]}),
        ("options", {"import_solution": "on", "web_api_version": "9.2", "enable": "on",
                     "unit_group_mapping_enabled": "on"}),
        ("ownership", {"ownership_model": "Team"}),
        ("review", {"confirm": "on"}),
    ]
    from django.test import override_settings

    response = None
    with override_settings(ALLOWED_HOSTS=["localhost"]):  # the emulator's app lists the loopback callback
        for step, values in steps:
            data = {"connection_setup_wizard-current_step": step, **{f"{step}-{k}": v for k, v in values.items()}}
            response = client.post(reverse("connections:connection-wizard"), data, HTTP_HOST="localhost")
        # Finish with the solution import: the administrator signs in with Microsoft, the callback queues Finish.
        back = urlsplit(emulator_sign_in(info, response["Location"]))
        response = client.get(f"{back.path}?{back.query}", HTTP_HOST="localhost")
    # Finish queued the remote steps: run them as an RQ worker would, then open the action's status page.
    import django_rq
    from rq import SimpleWorker

    queue = django_rq.get_queue("default")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    return client.get(response["Location"]).content.decode()


@pytest.mark.django_db(transaction=True)  # Finish's job is enqueued when the wizard's transaction commits
def test_command_and_wizard_leave_the_same_state(emulator: Any, emulator_info: dict[str, Any], admin_client: Any,
                                                  tmp_path: Path) -> None:
    finish = run_wizard(admin_client, emulator_info)
    assert 'id="action-outcome" class="action-status status-Succeeded"' in finish, finish
    by_wizard = setup_state(emulator_info)
    assert by_wizard["enabled"]

    ConnectionSetup.objects.all().delete()
    emulator.reset()
    line = tmp_path / "emulator.json"
    line.write_text(json.dumps(emulator_info))
    call_command("setup_connection", "--from-emulator", str(line), "--import-solution", "--enable",
                 stdout=io.StringIO(), stderr=ApprovingStream(emulator_info))
    assert setup_state(emulator_info) == by_wizard


def test_person_ownership_adds_salespeople_and_asks_for_salesperson_coupling(emulator_info: dict[str, Any],
                                                                             tmp_path: Path) -> None:
    line = tmp_path / "emulator.json"
    line.write_text(json.dumps(emulator_info))
    out = io.StringIO()
    call_command("setup_connection", "--from-emulator", str(line), "--import-solution", "--enable",
                 "--ownership-model", "Person", stdout=out, stderr=ApprovingStream(emulator_info))
    assert "[--  ] Couple salespersons" in out.getvalue()
    connection = ConnectionSetup.objects.get()
    assert connection.ownership_model == "Person"
    assert connection.mappings.filter(name="SALESPEOPLE").exists()
