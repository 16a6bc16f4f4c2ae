"""``manage.py setup_connection --import-solution`` signs the Dataverse administrator in with the device code flow:
the command prints Entra's message (where to go, which code) on stderr when the import starts and waits; the test
approves the code on the Entra emulator's verification page over HTTP, and the setup finishes with the solution
imported. The removed ``--admin-username`` / ``--admin-password-file`` say what to use instead."""
from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from connections.models import ConnectionSetup
from connections.solution import INTEGRATION_ROLES
from tests.connections.admin_signin import approve_device_code
from tests.connections.test_setup_connection_emulator import setup_state

pytestmark = pytest.mark.django_db(transaction=True)  # the command runs in another thread


def _emulator_file(info: dict[str, Any], tmp_path: Path) -> Path:
    line = tmp_path / "emulator.json"
    line.write_text(json.dumps(info) + "\n")
    return line


def test_import_solution_with_the_device_code_flow(emulator_info: dict[str, Any], tmp_path: Path) -> None:
    info = emulator_info
    line = _emulator_file(info, tmp_path)
    out, err = io.StringIO(), io.StringIO()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            call_command("setup_connection", "--from-emulator", str(line), "--import-solution", "--enable",
                         stdout=out, stderr=err)
        except BaseException as error:  # reported to the test's thread below
            outcome["error"] = error

    command = threading.Thread(target=run, daemon=True)
    command.start()
    deadline = time.monotonic() + 90
    while "enter the code" not in err.getvalue():
        assert command.is_alive(), (outcome, out.getvalue())
        assert time.monotonic() < deadline, out.getvalue()
        time.sleep(0.2)
    message = err.getvalue()
    assert ConnectionSetup.objects.get().last_test_report  # the prompt comes when the import starts, after the test
    assert "You have signed in" in approve_device_code(info, message)
    command.join(60)
    assert not command.is_alive() and "error" not in outcome, (outcome, out.getvalue())

    printed = out.getvalue() + message
    assert "The connection is set up." in printed and info["admin_password"] not in printed
    state = setup_state(info)
    assert state["enabled"] and state["solution_installed"]
    assert {str(role_id) for role_id in INTEGRATION_ROLES} <= state["roles"]


@pytest.mark.parametrize("option", ["--admin-username", "--admin-password-file"])
def test_removed_admin_options_say_what_to_use(option: str, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=f"{option} was removed.*device code.*--admin-client-id"):
        call_command("setup_connection", "--dataverse-url", "https://contoso.crm.dynamics.com", "--import-solution",
                     option, "admin@contoso.com", stdout=io.StringIO())
    assert not ConnectionSetup.objects.exists()


def test_admin_app_without_a_secret_is_refused(emulator_info: dict[str, Any], tmp_path: Path) -> None:
    line = _emulator_file(emulator_info, tmp_path)
    with pytest.raises(CommandError, match="--admin-client-id needs --admin-client-secret-file"):
        call_command("setup_connection", "--from-emulator", str(line), "--import-solution",
                     "--admin-client-id", emulator_info["client_id"], stdout=io.StringIO())


def test_import_solution_with_an_administrator_app(emulator_info: dict[str, Any], tmp_path: Path) -> None:
    """Client credentials of an app whose application user is a System Administrator: no person signs in (the
    demo's unattended setup uses the emulators' administrator app)."""
    line = _emulator_file(emulator_info, tmp_path)
    secret = tmp_path / "admin-secret"
    secret.write_text(emulator_info["admin_client_secret"])
    out, err = io.StringIO(), io.StringIO()
    call_command("setup_connection", "--from-emulator", str(line), "--import-solution", "--enable",
                 "--admin-client-id", emulator_info["admin_client_id"], "--admin-client-secret-file", str(secret),
                 stdout=out, stderr=err)
    assert "The connection is set up." in out.getvalue() and "enter the code" not in err.getvalue()
    assert emulator_info["admin_client_secret"] not in out.getvalue() + err.getvalue()
    state = setup_state(emulator_info)
    assert state["enabled"] and state["solution_installed"]
    assert {str(role_id) for role_id in INTEGRATION_ROLES} <= state["roles"]


def test_admin_app_from_emulator_for_the_demo(emulator_info: dict[str, Any], tmp_path: Path) -> None:
    line = _emulator_file(emulator_info, tmp_path)
    out = io.StringIO()
    call_command("setup_connection", "--from-emulator", str(line), "--import-solution", "--admin-app-from-emulator",
                 "--enable", stdout=out, stderr=io.StringIO())
    assert "The connection is set up." in out.getvalue()
    assert setup_state(emulator_info)["solution_installed"]
