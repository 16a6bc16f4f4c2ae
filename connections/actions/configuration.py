"""Enable, disable and the Sales settings of a connection, with what they change in the mappings and the job queue
(BC: table 5330 CRM Connection Setup, EnableIntegration and DisableIntegration; codeunit 5334 CRM Setup Defaults,
ResetConfiguration and ResetSalesOrderMappingConfiguration).

These sit above the job queue and the mappings because enabling a connection configures both.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from connections.diagnostics import TEST_TIMEOUT, CheckReport, CheckStep, ConnectionActionFailed, connection_test
from connections.models import ConnectionSetup
from connections.open_in_bc import bc_connection_row_step
from connections.setup import (
    SALES_SETTINGS,
    User,
    connection_action_record,
    connection_changes_apply,
    connection_values_save,
)
from connections.validation import validate_sales_order_options
from mappings.bc_endpoints import bc_endpoints_required
from mappings.privileges import table_privileges_required
from syncjobs.defaults import (
    default_configuration_reset,
    ownership_model_apply,
    sales_order_configuration_reset,
    special_jobs_apply,
    unit_group_mapping_apply,
    unit_group_update_job_schedule,
)
from syncjobs.services import (
    active_scheduled_jobs,
    job_queue_entries_restore,
    job_queue_entries_set_on_hold,
    synchronize_modified_records,
)


def default_configuration_lines(result: Any) -> list[str]:
    """Readable lines of a mappings ``DefaultConfigurationReport``: what was created, changed and deleted."""
    if result is None:
        return []
    lines = []
    for label, attr in (("Mappings created", "created"), ("Mappings changed", "changed"),
                        ("Mappings deleted", "deleted"), ("Job queue entries created", "jobs_created"),
                        ("Job queue entries deleted", "jobs_deleted")):
        names = getattr(result, attr, None)
        if names:
            lines.append(f"{label}: {', '.join(str(name) for name in names)}")
    return lines or [result.summary() if hasattr(result, "summary") else str(result)]


def default_configuration_apply(*, connection: ConnectionSetup, user: User,
                                mapping_name: str | None = None) -> list[str]:
    """"Use Default Synchronization Setup" (BC: page 5330 CRM Connection Setup action; codeunit 5334 CRM Setup
    Defaults, ResetConfiguration): rebuild the default integration table mappings, field mappings and job queue
    entries for the connection's options through ``default_configuration_reset``. Returns the report's lines (what
    was created, changed, deleted)."""
    with transaction.atomic():
        result = default_configuration_reset(connection=connection, mapping_name=mapping_name)
        lines = default_configuration_lines(result)
        connection_action_record(connection=connection, user=user, action="Use Default Synchronization Setup",
                                 outcome="; ".join(lines)[:2000])
    return lines


def connection_enable(*, connection: ConnectionSetup, user: User, timeout: float = TEST_TIMEOUT,
                      progress: Callable[[CheckReport], None] | None = None) -> CheckReport:
    """Enable the connection (BC: table 5330 CRM Connection Setup, EnableCRMConnection): Test Connection (incl.
    integration user requirements and local currency), the integration solution must be installed, the connection's
    ``bcp_connection`` row for "Open in Business Central" is written (:mod:`connections.open_in_bc`), then in one
    transaction: apply the default configuration when the connection has no mappings yet, otherwise restore its job
    queue entries (On Hold → Ready), queue the "Update unit group mapping" job when unit group mapping is on (BC:
    EnableUnitGroupMapping), set Enabled and clear the disable reason. Raises ConnectionActionFailed with the
    report when a step fails (the connection stays disabled). ``progress``, when given, is called with the report
    after the connection test and after each later step (the Enable action's status page). When the connection has
    mappings (a re-enable), the test also checks the integration user's privileges on their tables; at first setup
    there are none yet."""
    report = connection_test(connection=connection, timeout=timeout, user=user,
                             required_privileges=table_privileges_required(connection=connection) or None,
                             bc_endpoints=bc_endpoints_required(connection=connection))
    report.progress = progress
    report.notify()
    if not report.ok:
        raise ConnectionActionFailed("The connection test failed; the connection stays disabled.", report)
    connection.refresh_from_db()
    if not connection.is_solution_installed:
        report.add("Integration solution installed", False, "The integration solution is not installed.",
                   layer="solution", fix="Use Redeploy Integration Solution with a Dataverse administrator's "
                   "credentials, then enable again.")
        raise ConnectionActionFailed("The integration solution is missing; the connection stays disabled.", report)
    # BC: EnableCRMConnection → ResetConfiguration writes the web client URL into the CRM NAV Connection row
    report.steps.append(bc_connection_row_step(connection=connection, timeout=timeout))
    report.notify()
    if not report.ok:
        raise ConnectionActionFailed("Open in Business Central could not be set up in Dataverse; the connection stays "
                                     "disabled.", report)
    _enable_apply(connection=connection, user=user, report=report)
    return report


def _enable_apply(*, connection: ConnectionSetup, user: User, report: CheckReport) -> None:
    try:
        with transaction.atomic():
            locked = ConnectionSetup.objects.select_for_update().get(pk=connection.pk)
            # Enabled first (BC: Modify, then ResetConfiguration), so new job queue entries start Ready.
            connection_changes_apply(locked, user, {"is_enabled": True, "disable_reason": ""})
            if not locked.mappings.exists():
                lines = default_configuration_apply(connection=locked, user=user)
                report.add("Default configuration", True, "Default mappings and job queue entries created.",
                           details=lines)
            else:
                restored = job_queue_entries_restore(connection=locked)
                report.add("Default configuration", True,
                           f"Mappings kept; {restored} job queue entries set back to Ready.")
            # BC: EnableCRMConnection applies the unit group choice (EnableUnitGroupMapping queues the job that
            # creates the unit groups BC lacks)
            if unit_group_update_job_schedule(connection=locked) is not None:
                report.add("Unit group mapping", True, "The job that creates Business Central's missing unit groups "
                           "is queued.")
            connection_action_record(connection=locked, user=user, action="Enabled")
    except ValidationError as error:
        report.add("Default configuration", False, " ".join(error.messages), layer="mappings",
                   fix="Correct the mapping configuration, then enable again.")
        raise ConnectionActionFailed("The default configuration failed; the connection stays disabled.",
                                     report) from None
    connection.refresh_from_db()
    report.add("Enable the connection", True, "The connection is enabled.")


def connection_disable(*, connection: ConnectionSetup, user: User, reason: str = "") -> int:
    """Disable the connection (BC: table 5330 CRM Connection Setup, Is Enabled := false, and
    UpdateCRMJobQueueEntriesStatus): set Enabled off with the reason, clear the server version, and put the
    connection's job queue entries On Hold. Returns how many entries were put on hold."""
    with transaction.atomic():
        locked = ConnectionSetup.objects.select_for_update().get(pk=connection.pk)
        connection_changes_apply(locked, user,
                                 {"is_enabled": False, "disable_reason": reason[:250], "server_version": ""})
        count = job_queue_entries_set_on_hold(connection=locked)
        connection_action_record(connection=locked, user=user, action="Disabled",
                                 outcome=f"{count} job queue entries On Hold"
                                 + (f"; reason: {reason}" if reason else ""))
    connection.refresh_from_db()
    return count


@dataclass
class SettingsUpdateReport:
    """What a Sales settings change did: the fields changed and the lines of each rebuild (mappings and jobs)."""

    changed: list[str] = field(default_factory=list)
    rebuilds: list[str] = field(default_factory=list)


def connection_sales_settings_update(*, connection: ConnectionSetup, user: User,
                                     data: dict[str, Any]) -> SettingsUpdateReport:
    """Save the Sales settings (BC: table 5330 CRM Connection Setup) and rebuild what they govern, in one
    transaction:

    * legacy / bi-directional sales order integration, automatic sales order creation and quote processing →
      ``sales_order_configuration_reset`` (BC: codeunit 5334 CRM Setup Defaults, ResetSalesOrderMappingConfiguration);
    * item availability → ``special_jobs_apply`` (its job queue entry; BC: field 140 Item Availability Enabled);
    * unit group mapping (only while the connection is disabled; BC: field 151 Unit Group Mapping Enabled) →
      ``unit_group_mapping_apply``, and turned on, the one-off "Update unit group mapping" job queue entry that has
      BC create the unit groups its items and resources lack (``unit_group_update_job_schedule``; BC: codeunit 5330
      CRM Integration Management, EnableUnitGroupMapping).

    Rebuilds run only when the connection already has mappings (before that, enabling applies the defaults).
    Raises ValidationError (mutual exclusion, unit group mapping while enabled); nothing is saved then.
    """
    values = {name: bool(data.get(name, False)) for name in SALES_SETTINGS if name in data}
    merged = {name: values.get(name, getattr(connection, name)) for name in SALES_SETTINGS}
    validate_sales_order_options(legacy=merged["legacy_sales_order_integration"],
                                 bidirectional=merged["bidirectional_sales_order_integration"],
                                 auto_create=merged["auto_create_sales_orders"])
    report = SettingsUpdateReport()
    with transaction.atomic():
        locked = ConnectionSetup.objects.select_for_update().get(pk=connection.pk)
        if locked.is_enabled and values.get("unit_group_mapping_enabled", locked.unit_group_mapping_enabled) != \
                locked.unit_group_mapping_enabled:
            raise ValidationError("Unit group mapping can be changed only while the connection is disabled.")
        report.changed = connection_changes_apply(locked, user, values)
        if report.changed and locked.mappings.exists():
            changed = set(report.changed)
            if changed & {"legacy_sales_order_integration", "bidirectional_sales_order_integration",
                          "auto_create_sales_orders", "auto_process_sales_quotes"}:
                report.rebuilds += default_configuration_lines(sales_order_configuration_reset(connection=locked))
            if "item_availability_enabled" in changed:
                report.rebuilds += default_configuration_lines(special_jobs_apply(connection=locked))
            if "unit_group_mapping_enabled" in changed:
                report.rebuilds += default_configuration_lines(unit_group_mapping_apply(connection=locked))
                # BC: EnableUnitGroupMapping queues "CRM Update Unit Group Mapping"; turning it off drops a waiting one
                update = unit_group_update_job_schedule(connection=locked)
                if update is not None:
                    report.rebuilds.append(f"Job queue entries created: {update.description}")
            if report.rebuilds:
                connection_action_record(connection=locked, user=user, action="Rebuilt mappings and job queue entries",
                                         outcome="; ".join(report.rebuilds)[:2000])
    connection.refresh_from_db()
    return report


def connection_synchronize_modified_records(*, connection: ConnectionSetup, user: User) -> int:
    """"Synchronize Modified Records" (BC: page 5330 CRM Connection Setup action, ``SynchronizeNow(false)``;
    codeunit 5334 CRM Setup Defaults, GetPrioritizedMappingList): one-off run per mapping in BC's priority order
    through ``synchronize_modified_records``. Returns how many runs were enqueued.
    Raises ValidationError when the connection is disabled."""
    if not connection.is_enabled:
        raise ValidationError("Enable the connection before synchronizing modified records.")
    entries = synchronize_modified_records(connection=connection)
    connection_action_record(connection=connection, user=user, action="Synchronize Modified Records",
                             outcome=f"{len(entries)} mappings enqueued")
    return len(entries)


def active_scheduled_jobs_text(*, connection: ConnectionSetup) -> str:
    """"Active scheduled synchronization jobs: X of Y" (BC: page 5330 CRM Connection Setup, CountCRMJobQueueEntries;
    0 of 0 while disabled)."""
    if not connection.is_enabled:
        return "0 of 0"

    active, total = active_scheduled_jobs(connection=connection)
    return f"{active} of {total}"



def connection_save(*, connection: ConnectionSetup | None, data: dict[str, Any], user: User) -> ConnectionSetup:
    """Create or update a connection setup (:func:`connections.setup.connection_values_save`) and, in the same
    transaction, apply a changed ownership model to its mappings: Person adds SALESPEOPLE and the owner field
    mappings, Team removes them (BC: codeunit 7204 CDS Setup Defaults, HandleOnEnableIntegration). Raises
    ValidationError; nothing is half-saved."""
    with transaction.atomic():
        saved, changed = connection_values_save(connection=connection, data=data, user=user)
        if "ownership_model" in changed and saved.mappings.exists():
            lines = default_configuration_lines(ownership_model_apply(connection=saved))
            connection_action_record(connection=saved, user=user, action="Ownership model applied",
                                     outcome="; ".join(lines)[:2000])
    if changed_open_in_bc(changed) and saved.is_enabled:
        connection_bc_connection_row_update(connection=saved, user=user)
    return saved


#: Connection fields the Dataverse connection row of "Open in Business Central" holds.
OPEN_IN_BC_FIELDS = frozenset({"bc_web_client_url", "bc_environment", "bc_company_id", "bc_company_name"})


def changed_open_in_bc(changed: list[str]) -> bool:
    """Whether a change of the fields ``changed`` (connection field names) must be written to the connection's
    ``bcp_connection`` row."""
    return bool(OPEN_IN_BC_FIELDS & set(changed))


def connection_bc_connection_row_update(*, connection: ConnectionSetup, user: User,
                                        timeout: float = TEST_TIMEOUT) -> CheckStep:
    """Write the enabled connection's web client URL, environment and company to its ``bcp_connection`` row in
    Dataverse (BC: table 5330 CRM Connection Setup, field 69 "Dynamics NAV URL", OnValidate updates the CRM NAV
    Connection row; page 5330 action "Reset Web Client URL"), and record the outcome in the connection's history.
    Returns the step (failed with the fix when Dataverse refuses; never raises for remote failures)."""
    step = bc_connection_row_step(connection=connection, timeout=timeout)
    connection_action_record(connection=connection, user=user, action="Open in Business Central row written"
                             if step.ok else "Open in Business Central row not written",
                             outcome=(step.message if step.ok else f"{step.message} {step.fix}")[:2000])
    return step
