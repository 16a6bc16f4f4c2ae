"""How Test Connection names a failure from the clients' error (layer + fix), for the service codes and message
shapes that decide the layer. The same classes end to end against the emulators: test_connection_test_emulator.py
and test_connection_test_privileges.py."""
from __future__ import annotations

from connections.clients.errors import AccessDeniedError, AuthenticationError, NotFoundError, TransientError
from connections.diagnostics import check_step_for_error


def test_missing_privilege() -> None:
    error = AccessDeniedError("Principal user (Id=1, type=8) is missing prvReadRole privilege (Id=2) on OTC=1036.",
                              service="dataverse", status=403, code="0x80040220")
    step = check_step_for_error("Integration user requirements", error)
    assert step.layer == "privilege"
    assert "prvReadRole" in step.message and "0x80040220" in step.message
    assert "assign the integration roles" in step.fix


def test_missing_privilege_names_the_privilege_and_table_of_dataverse_message() -> None:
    error = AccessDeniedError(
        "Principal user (Id=6d0a5f8e-1b1c-4c55-9d2f-0e2f4a7b9c11, type=8, roleCount=2, privilegeCount=512, "
        "accessMode=4), is missing prvCreateAccount privilege (Id=2d7f3b34-8f2a-4a7e-b0d4-6a3c1e9f0b22) on OTC=1 "
        "for entity 'account'. context.Caller=6d0a5f8e-1b1c-4c55-9d2f-0e2f4a7b9c11",
        service="dataverse", status=403, code="0x80040220")
    step = check_step_for_error("Organization settings", error)
    assert step.layer == "privilege"
    assert step.message.startswith("The integration user lacks the privilege prvCreateAccount on the table 'account'")
    assert "Give the integration user prvCreateAccount" in step.fix and "Security roles" in step.fix


def test_disabled_user_is_an_integration_user_problem() -> None:
    error = AccessDeniedError("The user with SystemUserId=3 is disabled.", service="dataverse", status=403,
                              code="0x80072560")
    step = check_step_for_error("Reach the Dataverse environment (WhoAmI)", error)
    assert step.layer == "integration user" and "enable it" in step.fix


def test_unknown_resource_means_not_a_dataverse_environment() -> None:
    error = AuthenticationError("AADSTS500011: The resource principal named https://www.contoso.com was not found.",
                                service="entra", status=400, code="AADSTS500011", layer="auth")
    step = check_step_for_error("Sign in to Microsoft Entra ID", error)
    assert step.layer == "environment" and "not a Dataverse environment" in step.fix
    assert step.message.count("AADSTS500011") == 1


def test_404_from_the_web_api_means_not_a_dataverse_environment() -> None:
    error = NotFoundError("Resource not found for the segment 'WhoAmI'.", service="dataverse", status=404,
                          code="0x80060888")
    step = check_step_for_error("Reach the Dataverse environment (WhoAmI)", error)
    assert step.layer == "environment"


def test_network_layers_keep_their_name_and_fix() -> None:
    error = TransientError("Read timed out.", service="dataverse", layer="timeout",
                           fix="The service did not answer in time.")
    step = check_step_for_error("Reach the Dataverse environment (WhoAmI)", error)
    assert (step.layer, step.fix) == ("timeout", "The service did not answer in time.")
