"""Test Connection against the emulators over real HTTPS: success, and each failure class named with its layer
and fix — unknown tenant, wrong client id, wrong secret (AADSTS codes), TLS, not a Dataverse environment,
integration user disabled / System Administrator / missing integration roles, missing privilege, timeout."""
from __future__ import annotations

import uuid
from typing import Any

import pytest

from connections.diagnostics import CheckReport, connection_test
from connections.models import ConnectionSetup
from connections.solution import SYSTEM_ADMINISTRATOR_ROLE_TEMPLATE_ID, solution_package
from tests.connections.conftest import admin_dataverse

pytestmark = pytest.mark.django_db


def _set(connection: ConnectionSetup, **values: Any) -> ConnectionSetup:
    for name, value in values.items():
        setattr(connection, name, value)
    connection.save()
    return connection


def _test(connection: ConnectionSetup, **kwargs: Any) -> CheckReport:
    return connection_test(connection=connection, timeout=kwargs.pop("timeout", 10), **kwargs)


def test_succeeds_and_reads_the_server(emulated_connection: ConnectionSetup, emulator_info: dict[str, Any]) -> None:
    admin_dataverse(emulator_info).import_solution(solution_package())
    report = _test(emulated_connection, check_roles=False)
    assert report.ok, report.as_dict()
    emulated_connection.refresh_from_db()
    assert emulated_connection.server_version.startswith("9.")
    assert str(emulated_connection.integration_user_id) == emulator_info["application_user_id"]
    assert emulated_connection.base_currency_code
    assert emulated_connection.bc_company_id is not None
    assert emulated_connection.is_solution_installed
    names = [step.name for step in report.steps]
    assert "Local currency in Dataverse" in names and "Business Central company" in names
    # BC's local currency (companyInformation.currencyCode) was read and found among Dataverse's currencies.
    currency = next(step for step in report.steps if step.name == "Local currency in Dataverse")
    assert currency.ok and currency.message == "Local currency USD exists in Dataverse."


@pytest.mark.parametrize(("field", "value", "code"), [
    ("tenant_id", str(uuid.uuid4()), "AADSTS90002"),
    ("client_id", str(uuid.uuid4()), "AADSTS700016"),
    ("client_secret", "not-the-secret", "AADSTS7000215"),
])
def test_sign_in_failures_name_the_aadsts_code(emulated_connection: ConnectionSetup, field: str, value: str,
                                               code: str) -> None:
    report = _test(_set(emulated_connection, **{field: value}))
    step = report.failed_step
    assert step.name == "Sign in to Microsoft Entra ID"
    assert report.failing_layer == "auth"
    assert code in step.message
    assert step.fix
    assert "not-the-secret" not in str(report.as_dict())


def test_untrusted_certificate_is_a_tls_failure(emulated_connection: ConnectionSetup, settings: Any) -> None:
    settings.OUTBOUND_CA_BUNDLE = None
    report = _test(emulated_connection)
    assert report.failing_layer == "tls"
    assert "OUTBOUND_CA_BUNDLE" in report.failed_step.fix


def test_url_that_is_not_a_dataverse_environment(emulated_connection: ConnectionSetup) -> None:
    # The emulator answers on this origin, but no Dataverse Web API lives under this version's path.
    report = _test(_set(emulated_connection, web_api_version="7.0"))
    assert report.failing_layer == "environment"
    assert "not a Dataverse environment" in report.failed_step.fix


def test_integration_user_who_is_system_administrator(emulated_connection: ConnectionSetup,
                                                      emulator_info: dict[str, Any]) -> None:
    admin = admin_dataverse(emulator_info)
    user_id = emulator_info["application_user_id"]
    user = admin.retrieve("systemusers", user_id, select=["businessunitid"])
    role = next(admin.iter_rows("roles", select=["roleid"], filter=(
        f"_roletemplateid_value eq {SYSTEM_ADMINISTRATOR_ROLE_TEMPLATE_ID} and "
        f"_businessunitid_value eq {user['_businessunitid_value']}")))
    admin.associate("systemusers", user_id, "systemuserroles_association", "roles", role["roleid"])
    report = _test(emulated_connection)
    step = next(s for s in report.steps if s.name == "Integration user requirements")
    assert step.ok is False and step.layer == "integration user"
    assert "System Administrator role" in step.message
    assert not report.ok


def test_integration_user_missing_the_integration_roles(emulated_connection: ConnectionSetup,
                                                        emulator_info: dict[str, Any]) -> None:
    admin = admin_dataverse(emulator_info)
    basic = next(admin.iter_rows("roles", select=["roleid"], filter="name eq 'Basic User'"))
    admin.associate("systemusers", emulator_info["application_user_id"], "systemuserroles_association", "roles",
                    basic["roleid"])
    admin.import_solution(solution_package())  # the integration roles now exist, but are not assigned
    report = _test(emulated_connection)
    step = next(s for s in report.steps if s.name == "Integration user requirements")
    assert step.ok is False and step.layer == "integration user"
    assert "lacks the integration role(s) BC Integration Administrator, BC Integration User" in step.message
    assert "Redeploy Integration Solution" in step.message
    assert not report.ok


def test_disabled_application_user_fails_test_connection(emulated_connection: ConnectionSetup,
                                                         emulator_info: dict[str, Any]) -> None:
    """An administrator disables the application user in Dataverse; Test Connection names it and the fix."""
    admin_dataverse(emulator_info).update("systemusers", emulator_info["application_user_id"], {"isdisabled": True})
    report = _test(emulated_connection)
    assert report.ok is False
    assert report.failing_layer == "integration user"
    assert "disabled" in report.failed_step.message.lower()
    assert "Activate" in report.failed_step.fix


def test_disabled_integration_user(emulator_info: dict[str, Any]) -> None:
    # The requirement check itself, on the emulator's seeded disabled user (read as the administrator).
    from connections.diagnostics import integration_user_requirements

    admin = admin_dataverse(emulator_info)
    disabled = next(admin.iter_rows("systemusers", select=["systemuserid"],
                                    filter="lastname eq 'INTEGRATION' and isdisabled eq true"))
    problems = integration_user_requirements(client=admin, user_id=uuid.UUID(disabled["systemuserid"]))
    assert any("is disabled: enable the user" in problem for problem in problems)
    enabled = integration_user_requirements(client=admin, user_id=uuid.UUID(emulator_info["application_user_id"]),
                                            require_roles=False)
    assert enabled == []


def test_timeout_names_the_layer(emulated_connection: ConnectionSetup, emulator: Any) -> None:
    emulator.control(latency_ms=3000)
    report = _test(emulated_connection, timeout=1)
    assert report.failing_layer == "timeout"
    assert "did not answer in time" in report.failed_step.fix


def test_integration_user_without_any_role(emulated_connection: ConnectionSetup, emulator_info: dict[str, Any]) -> None:
    admin = admin_dataverse(emulator_info)
    user_id = emulator_info["application_user_id"]
    for role in admin.iter_rows(f"systemusers({user_id})/systemuserroles_association", select=["roleid"]):
        admin.disassociate("systemusers", user_id, "systemuserroles_association", role["roleid"])
    report = _test(emulated_connection)
    assert report.ok is False
    assert report.failing_layer == "integration user"
    assert "has no security role" in report.failed_step.message
    assert "0x80040220" in report.failed_step.message
    assert "Redeploy Integration Solution" in report.failed_step.fix
