"""Import of the integration solution into Dataverse and assignment of its security roles to the integration user,
with a Dataverse administrator's sign-in used once (BC: page 5330 CRM Connection Setup, action
Redeploy Integration Solution; Microsoft Learn: "ImportSolution Action").
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from django.db import transaction
from django.utils import timezone

from connections.clients import DataverseClient
from connections.clients.entra import AccessToken, InteractiveSignIn, authority_url
from connections.clients.errors import AuthenticationError, ClientError
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
    SOLUTION_VERSION,
    solution_package,
    version_tuple,
)

logger = logging.getLogger(__name__)


class AdminTokens(Protocol):
    """A token source of the Dataverse administrator (as DataverseClient uses one): ``token(scope)`` returns a bearer
    token or raises ClientError; ``invalidate()`` forgets it. Implemented by
    :class:`connections.clients.entra.AccessToken` (the browser's sign-in), ``DeviceCodeTokens`` (the command line's)
    and ``TokenProvider`` (client credentials of an app that holds the System Administrator role)."""

    @property
    def credential_key(self) -> str: ...

    def token(self, scope: str) -> str: ...

    def invalidate(self) -> None: ...


def integration_solution_import(*, connection: ConnectionSetup, admin_tokens: AdminTokens,
                                user: User = None, timeout: float | None = None,
                                progress: Callable[[CheckReport], None] | None = None) -> CheckReport:
    """Import the integration solution and assign the integration roles to the integration user (BC: codeunit 5330
    CRM Integration Management, ``ImportCRMSolution``; page 5330 action "Redeploy Integration Solution").

    ``admin_tokens`` is the Dataverse administrator's token source (see :class:`AdminTokens`): a person's sign-in
    (authorization code flow in the browser, device code on the command line, so multi-factor authentication works)
    or an app with the System Administrator role; it is used for this call only and invalidated at its end, never
    stored or logged.
    Steps: administrator sign-in, ImportSolution (always, i.e. a redeploy), find the integration user (WhoAmI as the
    connection's identity), assign "Integration administrator" and "Integration user" of the user's business unit.
    Returns the report (never raises for remote failures); updates ``is_solution_installed`` / ``solution_version``.
    ``progress``, when given, is called with the report after each step (the Redeploy action's status page).
    """
    report = CheckReport(checked_at=timezone.now().isoformat(), progress=progress)

    state: dict[str, Any] = {}
    try:
        admin = _admin_dataverse(connection, admin_tokens, timeout)
    except ClientError as error:
        admin_tokens.invalidate()
        report.steps.append(check_step_for_error("Administrator sign-in", error))
        report.notify()
        return _finish_solution(connection, report, state, user)
    try:
        return _import_steps(connection, admin, report, state, user, timeout)
    finally:
        admin_tokens.invalidate()  # the administrator's token is used for this import only


def _admin_dataverse(connection: ConnectionSetup, admin_tokens: AdminTokens, timeout: float | None) -> DataverseClient:
    """A Dataverse client of the connection's environment acting with the administrator's token source."""
    return DataverseClient(connection.dataverse_url, admin_tokens, api_version=connection.web_api_version or "9.2",
                           **interactive_client_options(timeout))


def admin_scope(connection: ConnectionSetup) -> str:
    """The delegated scope the administrator signs in for: ``<environment URL>/user_impersonation`` (Dataverse's
    one delegated permission, "Access Common Data Service as organization users"; Microsoft Learn: "Use OAuth
    authentication with Microsoft Dataverse")."""
    return f"{connection.dataverse_url.rstrip('/')}/user_impersonation"


def admin_sign_in(connection: ConnectionSetup, *, timeout: float = 30.0) -> InteractiveSignIn:
    """The administrator's interactive sign-in through the connection's app registration (its client secret or
    certificate makes it a confidential client for the browser's authorization code flow; the device code flow uses
    it as a public client). Raises AuthenticationError when no client ID or tenant is set."""
    if not connection.tenant_id:
        raise AuthenticationError("No tenant ID is set.", service="entra", layer="auth",
                                  fix="Enter the directory (tenant) ID in the connection setup.")
    certificate = connection.authentication_type == ConnectionSetup.AuthenticationType.CERTIFICATE
    return InteractiveSignIn(
        authority=authority_url(connection.authority_host or "https://login.microsoftonline.com", connection.tenant_id),
        client_id=connection.client_id, client_secret=None if certificate else (connection.client_secret or None),
        certificate_pem=(connection.certificate or None) if certificate else None,
        certificate_thumbprint=connection.certificate_thumbprint or None, timeout=timeout)


def admin_sign_in_start(*, connection: ConnectionSetup, redirect_uri: str, timeout: float = 15.0) -> dict[str, Any]:
    """Begin the administrator's browser sign-in (authorization code flow with PKCE, Microsoft Learn: "Microsoft
    identity platform and OAuth 2.0 authorization code flow"): msal's flow dict, whose ``auth_uri`` the browser is
    sent to; the rest (``state``, ``code_verifier``, ``nonce``) must stay on the server. Raises ClientError."""
    return admin_sign_in(connection, timeout=timeout).start_auth_code_flow(scope=admin_scope(connection),
                                                                           redirect_uri=redirect_uri)


def admin_sign_in_finish(*, connection: ConnectionSetup, flow: dict[str, Any], response: dict[str, str],
                         timeout: float = 15.0) -> AccessToken:
    """Redeem the sign-in's callback parameters: the administrator's token for this import. Raises
    AuthenticationError (consent declined ``AADSTS65004`` / ``access_denied``, ``state_mismatch``, a refused or
    expired code) or a network ClientError."""
    return admin_sign_in(connection, timeout=timeout).finish_auth_code_flow(flow=flow, response=response,
                                                                            scope=admin_scope(connection))


def _import_steps(connection: ConnectionSetup, admin: DataverseClient, report: CheckReport, state: dict[str, Any],
                  user: User, timeout: float | None) -> CheckReport:
    """The steps of :func:`integration_solution_import` once the administrator's client exists."""

    def admin_sign_in() -> str:
        who = admin.who_am_i()
        return f"Signed in as the administrator (user {who.get('UserId')})."

    if not run_check(report, "Administrator sign-in", admin_sign_in):
        return _finish_solution(connection, report, state, user)

    def installed_version() -> str | None:
        rows = list(admin.iter_rows("solutions", select=["uniquename", "version"],
                                    filter=f"uniquename eq '{SOLUTION_UNIQUE_NAME}'"))
        return str(rows[0].get("version") or "") if rows else None

    def import_solution() -> str:
        # BC's Redeploy imports its solution whatever is installed; an installed newer version would refuse the
        # import (Dataverse: "The import solution must have a higher version ..."), so say so before trying.
        before = installed_version()
        if before is not None and version_tuple(before) > version_tuple(SOLUTION_VERSION):
            raise StepFailed(CheckStep(
                "Import the integration solution", False,
                f"Solution {SOLUTION_UNIQUE_NAME} {before} is installed, newer than this portal's {SOLUTION_VERSION}.",
                layer="solution", fix="Update the portal, or uninstall the newer solution in the Power Platform "
                                      "admin center, then redeploy."))
        admin.import_solution(solution_package(), overwrite_unmanaged=True)
        DataverseClient.forget_metadata(connection.dataverse_url)  # the import may have changed tables and messages
        after = installed_version()
        if after is None:
            raise StepFailed(CheckStep("Import the integration solution", False,
                                        "ImportSolution returned but the solution is not listed.", layer="solution",
                                        fix="Check the import job in the Power Platform admin center."))
        state["is_solution_installed"] = True
        state["solution_version"] = after
        if before is None:
            return f"Solution {SOLUTION_UNIQUE_NAME}: installed {after}."
        if version_tuple(before) < version_tuple(after):
            return f"Solution {SOLUTION_UNIQUE_NAME}: upgraded {before} → {after}."
        return f"Solution {SOLUTION_UNIQUE_NAME}: already {after}, reimported."

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
    """Save what the import learned (solution installed, version, integration user), record the action, and log
    the outcome with the import step's message ("installed 1.0.0.0", "upgraded 0.9.0.0 → 1.0.0.0", "already
    1.0.0.0, reimported")."""
    with transaction.atomic():
        connection_changes_apply(connection, user, {k: v for k, v in state.items() if v is not None})
        connection_action_record(connection=connection, user=user, action="Import integration solution",
                                 outcome="succeeded" if report.ok else
                                 f"failed at {report.failed_step.name if report.failed_step else '?'}")
    imported = next((step.message for step in report.steps if step.name == "Import the integration solution"), "")
    logger.info("Integration solution import for %s: %s %s", connection.name, "ok" if report.ok else "failed",
                imported)
    return report

