"""Import of the integration solution into Dataverse and assignment of its security roles to the integration user,
with a Dataverse administrator's sign-in used once (BC: page 5330 CRM Connection Setup, action
Redeploy Integration Solution; Microsoft Learn: "ImportSolution Action").
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from connections.clients import DataverseClient, TokenProvider
from connections.clients.entra import authority_url
from connections.clients.errors import ClientError
from connections.diagnostics import (
    CheckReport,
    CheckStep,
    StepFailed,
    check_step_for_error,
    dataverse_client,
    guid_or_none,
    interactive_client_options,
    run_check,
)
from connections.models import ConnectionSetup
from connections.setup import User, connection_action_record, connection_changes_apply
from connections.solution import (
    INTEGRATION_ROLES,
    SOLUTION_UNIQUE_NAME,
    solution_package,
)

logger = logging.getLogger(__name__)


def integration_solution_import(*, connection: ConnectionSetup, admin_username: str, admin_password: str,
                                user: User = None, timeout: float | None = None,
                                progress: Callable[[CheckReport], None] | None = None) -> CheckReport:
    """Import the integration solution and assign the integration roles to the integration user (BC: codeunit 5330
    CRM Integration Management, ``ImportCRMSolution``; page 5330 action "Redeploy Integration Solution").

    Signs in once as the Dataverse administrator (user name + password through the app registration, ROPC on the
    confidential client, Microsoft Learn: "Microsoft identity platform and OAuth 2.0 Resource Owner Password
    Credentials"); the credentials are used for this call only, never stored or logged.
    Steps: administrator sign-in, ImportSolution (always, i.e. a redeploy), find the integration user (WhoAmI as the
    connection's identity), assign "Integration administrator" and "Integration user" of the user's business unit.
    Returns the report (never raises for remote failures); updates ``is_solution_installed`` / ``solution_version``.
    ``progress``, when given, is called with the report after each step (the Redeploy action's status page).
    """
    report = CheckReport(checked_at=timezone.now().isoformat(), progress=progress)

    state: dict[str, Any] = {}
    try:
        tokens, admin = _admin_dataverse(connection, admin_username, admin_password, timeout)
    except ClientError as error:
        report.steps.append(check_step_for_error("Administrator sign-in", error))
        report.notify()
        return _finish_solution(connection, report, state, user)
    try:
        return _import_steps(connection, admin, report, state, user, timeout)
    finally:
        tokens.invalidate()  # the administrator's tokens are used for this import only


def _admin_dataverse(connection: ConnectionSetup, username: str, password: str,
                     timeout: float | None) -> tuple[Any, Any]:
    """A Dataverse client signed in as the administrator (ROPC through the connection's app registration)."""

    tokens = TokenProvider(
        authority=authority_url(connection.authority_host or "https://login.microsoftonline.com", connection.tenant_id),
        client_id=connection.client_id, client_secret=connection.client_secret or None, username=username,
        password=password, timeout=timeout or 30.0)
    client = DataverseClient(connection.dataverse_url, tokens, api_version=connection.web_api_version or "9.2",
                             **interactive_client_options(timeout))
    return tokens, client


def _import_steps(connection: ConnectionSetup, admin: DataverseClient, report: CheckReport, state: dict[str, Any],
                  user: User, timeout: float | None) -> CheckReport:
    """The steps of :func:`integration_solution_import` once the administrator's client exists."""

    def admin_sign_in() -> str:
        who = admin.who_am_i()
        return f"Signed in as the administrator (user {who.get('UserId')})."

    if not run_check(report, "Administrator sign-in", admin_sign_in):
        return _finish_solution(connection, report, state, user)

    def import_solution() -> str:
        admin.import_solution(solution_package(), overwrite_unmanaged=True)
        rows = list(admin.iter_rows("solutions", select=["uniquename", "version"],
                                    filter=f"uniquename eq '{SOLUTION_UNIQUE_NAME}'"))
        if not rows:
            raise StepFailed(CheckStep("Import the integration solution", False,
                                        "ImportSolution returned but the solution is not listed.", layer="solution",
                                        fix="Check the import job in the Power Platform admin center."))
        state["is_solution_installed"] = True
        state["solution_version"] = rows[0].get("version", "")
        return f"Solution {SOLUTION_UNIQUE_NAME} {state['solution_version']} imported."

    if not run_check(report, "Import the integration solution", import_solution):
        return _finish_solution(connection, report, state, user)

    def assign_roles() -> tuple[str, list[str]]:
        who = dataverse_client(connection, timeout=timeout).who_am_i()
        user_id = guid_or_none(who.get("UserId"))
        state["integration_user_id"] = user_id
        member = admin.retrieve("systemusers", user_id, select=["fullname", "_businessunitid_value"])
        business_unit = member.get("_businessunitid_value")
        held = {guid_or_none(r.get("roleid")) for r in admin.iter_rows(
            f"systemusers({user_id})/systemuserroles_association", select=["roleid"])}
        details = []
        for root_id, name in INTEGRATION_ROLES.items():
            candidates = list(admin.iter_rows(
                "roles", select=["roleid", "name"],
                filter=f"_businessunitid_value eq {business_unit} and "
                       f"(roleid eq {root_id} or _parentrootroleid_value eq {root_id} or name eq '{name}')",
            ))
            if not candidates:
                raise StepFailed(CheckStep("Assign the integration roles", False,
                                            f"The role {name} does not exist in the user's business unit.",
                                            layer="solution", fix="Redeploy the integration solution."))
            role_id = guid_or_none(candidates[0]["roleid"])
            if role_id in held:
                details.append(f"{name}: already assigned")
                continue
            admin.associate("systemusers", user_id, "systemuserroles_association", "roles", role_id)
            details.append(f"{name}: assigned")
        return f"Integration roles assigned to {member.get('fullname') or user_id}.", details

    run_check(report, "Assign the integration roles", assign_roles)
    return _finish_solution(connection, report, state, user)


def _finish_solution(connection: ConnectionSetup, report: CheckReport, state: dict[str, Any],
                     user: User) -> CheckReport:
    with transaction.atomic():
        connection_changes_apply(connection, user, {k: v for k, v in state.items() if v is not None})
        connection_action_record(connection=connection, user=user, action="Import integration solution",
                                 outcome="succeeded" if report.ok else
                                 f"failed at {report.failed_step.name if report.failed_step else '?'}")
    logger.info("Integration solution import for %s: %s", connection.name, "ok" if report.ok else "failed")
    return report

