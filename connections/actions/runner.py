"""Running one connection action on a worker: claim the row (Queued to Running) with one conditional UPDATE, take the
administrator's access token out of it before any remote call, run Finish, Enable or Redeploy Integration Solution
with a progress callback that writes the checklist into the row, and end Succeeded or Failed.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from connections.actions.configuration import connection_enable
from connections.actions.finish import connection_setup_finish
from connections.clients.entra import AccessToken
from connections.diagnostics import CheckReport, ConnectionActionFailed
from connections.models import ConnectionAction
from connections.solution_import import integration_solution_import

logger = logging.getLogger(__name__)


Kind = ConnectionAction.Kind


Status = ConnectionAction.Status


#: Per-request client timeout of the actions (seconds). A worker can wait longer than a page (15 s): a real
#: ImportSolution takes tens of seconds.
ACTION_TIMEOUT = 120.0


def connection_action_claim(*, action_id: str) -> ConnectionAction | None:
    """Claim the Queued action ``action_id`` for this worker: one conditional ``UPDATE ... WHERE status='Queued'``
    (the database row is the truth, RQ only carries the id), so two workers given the same job never both run it.
    Returns the claimed action, or None when it was already claimed, finished or deleted."""
    claimed = ConnectionAction.objects.filter(pk=action_id, status=Status.QUEUED).update(
        status=Status.RUNNING, started_at=timezone.now())
    if not claimed:
        return None
    return ConnectionAction.objects.select_related("connection", "requested_by").get(pk=action_id)


def _take_credentials(action: ConnectionAction) -> AccessToken | None:
    """Read the administrator's access token (and who signed in) and blank them in the row at once, before any
    remote call (used once for the solution import, as BC's page 1817 CRM Connection Setup Wizard, FinalizeSetup,
    asks for the administrator only to import the solution; never kept). Returns the token source, or None when the
    action carries no token."""
    account, token = action.admin_username, action.admin_password
    if account or token:
        ConnectionAction.objects.filter(pk=action.pk).update(admin_username="", admin_password="")
        action.admin_username = action.admin_password = ""
    if not token:
        return None
    return AccessToken(token, resource=action.connection.dataverse_url, account=account)


def _progress_writer(action: ConnectionAction) -> Callable[[CheckReport], None]:
    """A ``progress`` callback writing the report so far into the action's row (the status page polls it)."""

    def write(report: CheckReport) -> None:
        ConnectionAction.objects.filter(pk=action.pk, status=Status.RUNNING).update(report=report.as_dict())

    return write


def _finish(action: ConnectionAction, *, report: dict[str, Any], ok: bool, message: str) -> ConnectionAction:
    """Set the final status, report and message (only while Running: a recovered action stays as recovered)."""
    ConnectionAction.objects.filter(pk=action.pk, status=Status.RUNNING).update(
        status=Status.SUCCEEDED if ok else Status.FAILED, report=report, message=message[:500],
        finished_at=timezone.now(), admin_username="", admin_password="")
    action.refresh_from_db()
    return action


def _run_finish(action: ConnectionAction, admin_tokens: AccessToken | None,
                progress: Callable[[CheckReport], None]) -> tuple[CheckReport, str]:
    # The connection setup itself was saved by the wizard: only its name, Finish's options and the admin's token.
    data = {**action.options, "name": action.connection.name, "admin_tokens": admin_tokens}
    report = connection_setup_finish(data=data, user=action.requested_by, timeout=ACTION_TIMEOUT,
                                              progress=progress)
    if report.ok:
        return report, "The assisted setup finished."
    step = report.failed_step
    return report, f"The assisted setup stopped at \u201c{step.name}\u201d." if step else "The assisted setup failed."


def _run_enable(action: ConnectionAction, progress: Callable[[CheckReport], None]
                ) -> tuple[CheckReport, str]:
    try:
        report = connection_enable(connection=action.connection, user=action.requested_by,
                                            timeout=ACTION_TIMEOUT, progress=progress)
    except ConnectionActionFailed as failure:
        return failure.report, str(failure)
    return report, "The connection is enabled."


def _run_redeploy(action: ConnectionAction, admin_tokens: AccessToken | None,
                  progress: Callable[[CheckReport], None]) -> tuple[CheckReport, str]:
    if admin_tokens is None:
        report = CheckReport(checked_at=timezone.now().isoformat(), progress=progress)
        report.add("Administrator sign-in", False, "The action carries no administrator sign-in.", layer="auth",
                   fix="Use Redeploy Integration Solution again and sign in with Microsoft.")
        return report, "The integration solution import failed."
    report = integration_solution_import(
        connection=action.connection, admin_tokens=admin_tokens, user=action.requested_by,
        timeout=ACTION_TIMEOUT, progress=progress)
    if report.ok:
        return report, "The integration solution was imported and the integration roles assigned."
    return report, "The integration solution import failed."


def connection_action_run(*, action_id: str) -> str:
    """Run the connection action ``action_id`` and record its outcome (called by the RQ task
    :func:`connections.tasks.run_connection_action`).

    Claims the action (Queued → Running), blanks the administrator's token in its row, runs the service of its
    kind (:func:`connections.actions.finish.connection_setup_finish`,
    :func:`connections.actions.configuration.connection_enable`,
    :func:`connections.solution_import.integration_solution_import`) with a progress callback that writes the checklist
    into the row after each step, and ends Succeeded or Failed with the report and a one-sentence message. Any
    exception ends the action Failed with a step naming the error (never a stuck Running); it is logged, not
    re-raised, so RQ does not record the failure a second time. Returns the final status (or "not claimed").
    """
    action = connection_action_claim(action_id=action_id)
    if action is None:
        logger.warning("connection action %s is not Queued; not running it", action_id)
        return "not claimed"
    progress = _progress_writer(action)
    partial = CheckReport(checked_at=timezone.now().isoformat())

    def remember(report: CheckReport) -> None:
        partial.steps = list(report.steps)
        progress(report)

    try:
        admin_tokens = _take_credentials(action)
        if action.kind == Kind.FINISH:
            report, message = _run_finish(action, admin_tokens, remember)
        elif action.kind == Kind.ENABLE:
            report, message = _run_enable(action, remember)
        elif action.kind == Kind.REDEPLOY:
            report, message = _run_redeploy(action, admin_tokens, remember)
        else:
            raise ValueError(f"Unknown connection action kind {action.kind!r}.")
    except Exception as error:  # any failure must end the action Failed, never leave it Running
        logger.exception("connection action %s (%s) failed", action.pk, action.kind)
        partial.add("Unexpected error", False, f"{type(error).__name__}: {error}", layer="unexpected",
                    fix="Check the connection setup and run the action again; if it fails the same way, report "
                        "this message (the worker's log has the details).")
        action = _finish(action, report=partial.as_dict(), ok=False,
                         message=f"The action stopped with an unexpected error: {type(error).__name__}.")
    else:
        action = _finish(action, report=report.as_dict(), ok=report.ok, message=message)
    logger.info("connection action %s (%s) of %s: %s", action.pk, action.kind, action.connection.name, action.status)
    return str(action.status)

