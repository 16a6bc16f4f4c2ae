"""The assisted setup's Finish, shared by the wizard and ``manage.py setup_connection``: save, test, integration user,
solution import and roles, salesperson coupling, default configuration, enable (BC: page 1817 CRM Connection Setup
Wizard, procedure FinalizeSetup).
"""
from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from connections.actions.configuration import connection_save, default_configuration_apply
from connections.clients.errors import ClientError
from connections.diagnostics import (
    TEST_TIMEOUT,
    CheckReport,
    CheckStep,
    FinishReport,
    StepFailed,
    business_central_client,
    check_step_for_error,
    connection_test,
    dataverse_client,
    guid_or_none,
    integration_user_requirements,
    pick_company,
)
from connections.models import ConnectionSetup
from connections.open_in_bc import bc_connection_row_step
from connections.setup import User, connection_action_record, connection_changes_apply
from connections.solution_import import integration_solution_import
from mappings.bc_endpoints import bc_endpoints_required
from mappings.salespeople import (
    salespeople_couple,
    salespeople_match_by_email,
    salespeople_read,
    salesperson_users_read,
)
from syncjobs.services import job_queue_entries_set_on_hold

logger = logging.getLogger(__name__)

FINISH_STEPS = ("Save the connection setup", "Test connection", "Integration user requirements",
                "Import the integration solution and assign roles", "Default configuration", "Enable the connection")


def connection_setup_finish(*, data: dict[str, Any], user: User, timeout: float = TEST_TIMEOUT,
                            progress: Callable[[FinishReport], None] | None = None) -> FinishReport:
    """The assisted setup's Finish, shared by the wizard and ``manage.py setup_connection`` (BC: page 1817 CRM
    Connection Setup Wizard, FinalizeSetup).

    ``data`` holds the connection setup's fields (secrets plaintext; blank = keep) plus ``bc_company``,
    ``import_solution`` (bool), ``admin_tokens`` (the Dataverse administrator's token source for the import, see
    :class:`connections.solution_import.AdminTokens`; used once, never stored) and ``enable``.
    Steps, shown as a checklist: save (the connection stays disabled; what was entered is kept, secrets encrypted),
    test connection, integration user requirements, solution import and role assignment, default configuration,
    enable. The first failing step stops the run; later steps are "not run". Never raises for remote failures;
    raises ValidationError for invalid data (nothing saved). The report is stored on the connection. ``progress``,
    when given, is called with the report after each step (the Finish action's status page).
    """
    report = FinishReport(checked_at=timezone.now().isoformat(), progress=progress)
    admin_tokens = data.get("admin_tokens")
    import_solution = bool(data.get("import_solution"))
    enable = bool(data.get("enable"))
    existing = ConnectionSetup.objects.filter(name=data.get("name") or "Dynamics 365 Sales").first()
    connection = connection_save(connection=existing, data=data, user=user)
    if existing is not None and existing.is_enabled:
        report.add(FINISH_STEPS[0], True, "Saved. The connection was already enabled and stays enabled.")
    else:
        connection_changes_apply(connection, user, {"is_enabled": False})
        report.add(FINISH_STEPS[0], True, "Saved (disabled until every step succeeds); secrets are encrypted.")

    def stop(from_index: int) -> FinishReport:
        for name in FINISH_STEPS[from_index:]:
            if not any(step.name == name for step in report.steps):
                report.add(name, None, "Not run: an earlier step failed.")
        return _store_finish(connection, report, user)

    test = connection_test(connection=connection, timeout=timeout, user=user, check_roles=not import_solution,
                           bc_endpoints=bc_endpoints_required(connection=connection))
    requirement = next((s for s in test.steps if s.name == "Integration user requirements"), None)
    test_steps = [s for s in test.steps if s is not requirement]
    failed = next((s for s in test_steps if s.ok is False), None)
    if failed:
        report.add(FINISH_STEPS[1], False, f"{failed.name}: {failed.message}", fix=failed.fix, layer=failed.layer)
        return stop(2)
    report.add(FINISH_STEPS[1], True, "The environment, sign-in and Business Central company answered.",
               details=[f"{s.name}: {s.message}" for s in test_steps])
    if requirement is None:
        report.add(FINISH_STEPS[2], False, "The integration user could not be checked.", layer="integration user")
        return stop(3)
    report.steps.append(CheckStep(FINISH_STEPS[2], requirement.ok, requirement.message, requirement.fix,
                                  requirement.layer, requirement.details))
    report.notify()
    if requirement.ok is False:
        return stop(3)

    connection.refresh_from_db()
    if import_solution:
        if admin_tokens is None:
            report.add(FINISH_STEPS[3], False, "A Dataverse administrator's sign-in is needed to import the "
                       "integration solution.", layer="configuration",
                       fix="Finish the assisted setup again and sign in with Microsoft as a System Administrator.")
            return stop(4)
        solution = integration_solution_import(connection=connection, admin_tokens=admin_tokens, user=user,
                                               timeout=timeout)
        failed = solution.failed_step
        if failed:
            report.add(FINISH_STEPS[3], False, f"{failed.name}: {failed.message}", fix=failed.fix, layer=failed.layer)
            return stop(4)
        report.add(FINISH_STEPS[3], True, "Solution imported and integration roles assigned.",
                   details=[f"{s.name}: {s.message}" for s in solution.steps] +
                   [d for s in solution.steps for d in s.details])
        recheck = _recheck_roles(connection, timeout)
        if recheck:  # the solution said yes but the user still lacks a role: say so rather than enable
            report.steps[-1].ok = False
            report.steps[-1].message = " ".join(recheck)
            report.steps[-1].layer = "integration user"
            return stop(4)
    else:
        report.add(FINISH_STEPS[3], None, "Not requested.")

    connection.refresh_from_db()
    if not enable:
        try:
            with transaction.atomic():
                lines = default_configuration_apply(connection=connection, user=user)
                job_queue_entries_set_on_hold(connection=connection)
        except ValidationError as error:
            report.add(FINISH_STEPS[4], False, " ".join(error.messages), layer="mappings",
                       fix="Correct the mapping configuration, then use Default Synchronization Setup on its page.")
            return stop(5)
        report.add(FINISH_STEPS[4], True, "Default mappings and job queue entries created (On Hold).", details=lines)
        report.add(FINISH_STEPS[5], None, "Not requested: the connection stays disabled.")
    else:
        if not connection.is_solution_installed:
            report.add(FINISH_STEPS[4], None, "Not run: the connection cannot be enabled without the solution.")
            report.add(FINISH_STEPS[5], False, "The integration solution is not installed.", layer="solution",
                       fix="Tick \u201cImport the integration solution\u201d; a Dataverse administrator then signs "
                       "in with Microsoft.")
            return _store_finish(connection, report, user)
        try:
            with transaction.atomic():
                # Enabled first (BC: Modify, then ResetConfiguration), so the job queue entries start Ready.
                connection_changes_apply(connection, user, {"is_enabled": True, "disable_reason": ""})
                lines = default_configuration_apply(connection=connection, user=user)
                report.add(FINISH_STEPS[4], True, "Default mappings and job queue entries created.", details=lines)
                connection_action_record(connection=connection, user=user, action="Enabled")
        except ValidationError as error:
            report.add(FINISH_STEPS[4], False, " ".join(error.messages), layer="mappings",
                       fix="Correct the mapping configuration, then enable the connection on its page.")
            return stop(5)
        report.add(FINISH_STEPS[5], True, "The connection is enabled.")
        # "Open in Business Central" from Sales reads this row (the enable action writes it too).
        report.steps.append(bc_connection_row_step(connection=connection, timeout=timeout))
    if connection.ownership_model == ConnectionSetup.OwnershipModel.PERSON:
        # BC (CDS Connection Setup Wizard, step CoupleSalespersons): in the Person model, salespersons must be
        # coupled to Dataverse users before the first full synchronization (uncoupled salesperson codes fail their
        # records): apply the wizard's couplings.
        finish_couple_salespersons(connection=connection, data=data, report=report, timeout=timeout)
    return _store_finish(connection, report, user)


def _recheck_roles(connection: ConnectionSetup, timeout: float) -> list[str]:
    """Integration user requirements after the solution import (the roles must now be held)."""
    try:
        client = dataverse_client(connection, timeout=timeout)
        who = client.who_am_i()
        return integration_user_requirements(client=client, user_id=guid_or_none(who["UserId"]), require_roles=True)
    except ClientError as error:
        return [str(error)]


def _store_finish(connection: ConnectionSetup, report: FinishReport, user: User) -> FinishReport:
    connection.last_finish_report = report.as_dict()
    connection.save(update_fields=["last_finish_report", "modified_at"])
    connection_action_record(connection=connection, user=user, action="Assisted setup finished",
                             outcome="succeeded" if report.ok else
                             f"failed at {report.failed_step.name if report.failed_step else '?'}")
    logger.info("Assisted setup of %s finished: %s", connection.name, "ok" if report.ok else "failed")
    return report


COUPLE_STEP = "Couple salespersons"


class SalespersonListsUnavailable(Exception):
    """The wizard's salespersons step could not read BC's salespeople or Dataverse's users; ``step`` is the failed
    :class:`CheckStep` naming the layer and the fix."""

    def __init__(self, step: CheckStep) -> None:
        super().__init__(step.message)
        self.step = step

    @property
    def text(self) -> str:
        """One line for a form error: what failed, the layer, and the fix."""
        step = self.step
        return f"Could not read the salespersons and users ({step.layer or 'unknown'} layer): {step.message}" + (
            f" Fix: {step.fix}" if step.fix else "") + " Go back to correct the settings, or choose the Team " \
            "ownership model."


def salesperson_lists_read(*, connection: ConnectionSetup,
                           timeout: float = TEST_TIMEOUT) -> tuple[list[Any], list[Any]]:
    """BC's salespeople and the Dataverse users they may be coupled to, read with ``connection``'s credentials (saved
    or not) and the short Test Connection timeout (seconds, no retries).

    Returns ``(salespeople, users)``: ``mappings.salespeople.SalespersonRow`` and ``UserRow`` lists; users are those
    the SALESPEOPLE mapping reads (enabled, licensed, not an integration user) less the connection's own integration
    user (WhoAmI). A company typed as a name is resolved as Test Connection does. Raises
    :class:`SalespersonListsUnavailable` (layer and fix) on any remote failure — never a raw client error."""

    try:
        dataverse = dataverse_client(connection, timeout=timeout)
        who = guid_or_none(dataverse.who_am_i().get("UserId"))
        users = salesperson_users_read(dataverse=dataverse, exclude=who)
    except ClientError as error:
        raise SalespersonListsUnavailable(check_step_for_error("Read the Dataverse users", error)) from None
    try:
        probe = copy.copy(connection)
        if not probe.bc_company_id:
            companies = business_central_client(probe, timeout=timeout).companies()
            probe.bc_company_id = guid_or_none(pick_company(probe, companies).get("id"))
        salespeople = salespeople_read(bc=business_central_client(probe, timeout=timeout))
    except StepFailed as failed:
        raise SalespersonListsUnavailable(failed.step) from None
    except ClientError as error:
        step = check_step_for_error("Read the Business Central salespeople", error)
        if step.layer == "http":
            step.layer = "business central"
        raise SalespersonListsUnavailable(step) from None
    return salespeople, users


def finish_couple_salespersons(*, connection: ConnectionSetup, data: dict[str, Any], report: CheckReport,
                               timeout: float = TEST_TIMEOUT) -> CheckStep:
    """Finish's "Couple salespersons" step (Person model; BC: CDS Connection Setup Wizard, step
    CoupleSalespersons). Adds the step to ``report`` and returns it.

    Couples ``data["salesperson_couplings"]`` (``[{"code", "salesperson_id", "systemuserid", ...}]``, chosen on the
    wizard's salespersons step) through ``mappings.salespeople.salespeople_couple`` (idempotent). With
    ``data["couple_salespersons_by_email"]`` (``setup_connection --couple-salespersons-by-email``) the pairs are
    found by matching e-mails (case-insensitive) instead, reading both sides with ``timeout``. Without any pair the
    step is "not run" and says to couple before the first full synchronization. A read failure or a pair that
    conflicts with an existing coupling fails the step (the others are still coupled)."""
    couplings = [dict(pair) for pair in data.get("salesperson_couplings") or []]
    if data.get("couple_salespersons_by_email"):
        try:
            salespeople, users = salesperson_lists_read(connection=connection, timeout=timeout)
        except SalespersonListsUnavailable as failed:
            return report.add(COUPLE_STEP, False, f"{failed.step.name}: {failed.step.message}", layer=failed.step.layer,
                              fix=failed.step.fix or "Couple the salespersons on the Couple Salespersons page.")
        names = {user.id: user.name for user in users}
        chosen = {pair.get("code") for pair in couplings}
        matches = salespeople_match_by_email(salespeople, users)
        for person in salespeople:
            user_id = matches.get(person.code)
            if user_id and person.code not in chosen:
                couplings.append({"code": person.code, "salesperson_id": str(person.id), "systemuserid": str(user_id),
                                  "name": person.name, "user": names.get(user_id, "")})
    if not couplings:
        return report.add(COUPLE_STEP, None, "Person ownership: no salesperson was coupled. Couple each salesperson "
                          "to a Dataverse user (Couple Salespersons) before running the full synchronization.")
    result = salespeople_couple(connection=connection, couplings=couplings)
    labels = {pair.get("code"): f"{pair.get('code')} → {pair.get('user') or pair.get('systemuserid')}"
              for pair in couplings}
    details = [f"Coupled: {labels[code]}" for code in result.coupled] + \
              [f"Already coupled: {labels[code]}" for code in result.already] + result.problems
    message = f"{len(result.coupled)} salespersons coupled to Dataverse users" + (
        f"; {len(result.already)} were already coupled" if result.already else "") + "."
    if result.problems:
        return report.add(COUPLE_STEP, False, f"{message} {len(result.problems)} could not be coupled.",
                          layer="mappings", details=details,
                          fix="Open Couple Salespersons: uncouple the record named in each line, or choose another "
                          "user.")
    return report.add(COUPLE_STEP, True, message, details=details)

