"""Apply the default configuration (``mappings.default_configuration``) to a connection setup.

BC: codeunit 7204 CDS Setup Defaults.ResetConfiguration + codeunit 5334 CRM Setup Defaults.ResetConfiguration,
ResetSalesOrderMappingConfiguration, ResetUnitGroupMappingConfiguration and the ownership model switch
(HandleOnEnableIntegration). One generic function applies the data for a scope of mapping names and special job kinds;
the public functions only choose the scope.

Deliberate improvement over BC: a rebuilt mapping keeps its row (and so its synchronization job history, review line
and watermarks); only what differs from the default is rewritten, and the report says exactly what changed. BC deletes
and re-inserts every mapping (CreateRecord), which also resets its watermarks — use "Run Full Synchronization" for that.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from connections.models import ConnectionSetup
from mappings import default_configuration as defaults
from mappings.models import Direction, IntegrationFieldMapping, IntegrationTableMapping
from syncjobs.models import JobQueueEntry


@dataclass
class DefaultConfigurationReport:
    """What a reset did, by mapping name and job queue entry description (for pages and the wizard's finish step)."""

    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    jobs_created: list[str] = field(default_factory=list)
    jobs_deleted: list[str] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return bool(self.created or self.changed or self.deleted or self.jobs_created or self.jobs_deleted)

    def summary(self) -> str:
        """One sentence for a page message, e.g. "Created UNIT GROUP; deleted UNIT OF MEASURE; …"."""
        parts = []
        for label, names in (("created", self.created), ("changed", self.changed), ("deleted", self.deleted),
                             ("created job queue entries", self.jobs_created),
                             ("deleted job queue entries", self.jobs_deleted)):
            if names:
                parts.append(f"{label}: {', '.join(names)}")
        if not parts:
            return "The default configuration was already in place."
        text = "; ".join(parts)
        return text[0].upper() + text[1:] + "."


def connection_conditions(connection: ConnectionSetup) -> frozenset[str]:
    """The ``when`` conditions (see default_configuration) that hold for a connection setup's options."""
    bidirectional = bool(connection.bidirectional_sales_order_integration)
    legacy = bool(connection.legacy_sales_order_integration) and not bidirectional
    held = {""}
    if connection.ownership_model == ConnectionSetup.OwnershipModel.PERSON:
        held.add("person")
    held.add("unit_group" if connection.unit_group_mapping_enabled else "no_unit_group")
    if legacy:
        held.add("legacy_so")
    if bidirectional:
        held.add("bidirectional_so")
    if legacy or bidirectional:
        held.add("any_so")
    if connection.item_availability_enabled:
        held.add("item_availability")
    if connection.auto_create_sales_orders and not bidirectional:
        held.add("auto_create")
    if connection.auto_process_sales_quotes:
        held.add("auto_process")
    return frozenset(held)


def desired_mappings(connection: ConnectionSetup) -> dict[str, defaults.MappingDefault]:
    """The default mappings that exist for the connection setup's options, by name, in priority order."""
    held = connection_conditions(connection)
    chosen = {m.name: m for m in defaults.MAPPINGS if m.when in held}
    return dict(sorted(chosen.items(), key=lambda item: item[1].priority))


def _mapping_values(definition: defaults.MappingDefault, held: frozenset[str]) -> dict[str, Any]:
    return {
        "table": definition.bc_table,
        "integration_table": definition.dataverse_table,
        "integration_table_uid_field": definition.uid_field,
        "int_tbl_modified_on_field": definition.modified_on_field,
        "direction": definition.direction.value,
        "table_filter": definition.table_filter,
        "integration_table_filter": definition.integration_table_filter,
        "synch_only_coupled_records": definition.synch_only_coupled_records,
        "dependency_filter": "|".join(name for name, when in definition.dependencies if when in held),
        "deletion_conflict_resolution": definition.deletion_conflict_resolution,
        "update_conflict_resolution": IntegrationTableMapping.UpdateConflictResolution.NONE.value,
        "table_config_template": {},
        "int_tbl_config_template": dict(definition.int_tbl_config_template),
        "synch_after_bulk_coupling": definition.synch_after_bulk_coupling,
        "create_new_in_case_of_no_match": definition.create_new_in_case_of_no_match,
        "priority": definition.priority,
        "user_defined": False,
    }


_FIELD_KEYS = ("sequence", "field_name", "integration_field_name", "direction", "constant_value", "validate_field",
               "validate_integration_table_field", "clear_value_on_failed_sync", "status", "not_null",
               "transformation_rule", "transformation_direction", "use_for_match_based_coupling",
               "case_sensitive_matching", "match_priority", "user_defined")


def _field_values(definition: defaults.MappingDefault, held: frozenset[str]) -> list[dict[str, Any]]:
    rows = []
    for field_default in definition.fields:
        if field_default.when not in held:
            continue
        direction = field_default.direction.value
        rows.append({
            "sequence": (len(rows) + 1) * 10,
            "field_name": field_default.bc_field,
            "integration_field_name": field_default.dataverse_column,
            "direction": direction,
            "constant_value": field_default.constant,
            "validate_field": field_default.validate,
            "validate_integration_table_field": False,
            "clear_value_on_failed_sync": field_default.clear_value_on_failed_sync,
            "status": IntegrationFieldMapping.Status.ENABLED.value,
            "not_null": field_default.not_null,
            "transformation_rule": "",
            # BC: table 5336, field 14 Transformation Direction: forced to match Direction unless Bidirectional.
            "transformation_direction": "" if direction == Direction.BIDIRECTIONAL else direction,
            "use_for_match_based_coupling": field_default.use_for_match_based_coupling,
            "case_sensitive_matching": False,
            "match_priority": 0,
            "user_defined": False,
        })
    return rows


def _job_values(connection: ConnectionSetup, mapping: IntegrationTableMapping,
                definition: defaults.MappingDefault) -> dict[str, Any]:
    job = definition.job
    assert job is not None
    return {
        "kind": JobQueueEntry.Kind.MAPPING.value,
        "description": f"{mapping.name} - {definition.service} synchronization job.",
        "category": job.category,
        "recurring_job": True,
        "no_of_minutes_between_runs": job.minutes_between_runs,
        "inactivity_timeout_period": job.inactivity_timeout,
        "maximum_no_of_attempts_to_run": defaults.MAPPING_JOB_MAX_ATTEMPTS,
        "rerun_delay_sec": defaults.RERUN_DELAY_SECONDS,
    }


def _status_at_creation(connection: ConnectionSetup, ready: str) -> str:
    """BC's creation status, except On Hold while the connection is disabled (BC: disabling puts entries On Hold;
    ``syncjobs.services.job_queue_entries_restore`` makes them Ready on enable)."""
    return ready if connection.is_enabled else JobQueueEntry.Status.ON_HOLD.value


def _apply_mapping_job(connection: ConnectionSetup, mapping: IntegrationTableMapping,
                       definition: defaults.MappingDefault,
                       held: frozenset[str], rebuilt: bool, report: DefaultConfigurationReport) -> None:
    existing = list(JobQueueEntry.objects.filter(table_mapping=mapping, kind=JobQueueEntry.Kind.MAPPING,
                                                 recurring_job=True))
    wanted = definition.job is not None and definition.job.when in held
    if wanted:
        values = _job_values(connection, mapping, definition)
        if not rebuilt and len(existing) == 1 and all(getattr(existing[0], k) == v for k, v in values.items()):
            return
    for entry in existing:
        report.jobs_deleted.append(entry.description)
        entry.delete()
    if wanted:
        entry = JobQueueEntry.objects.create(
            connection=connection, table_mapping=mapping, earliest_start_date_time=timezone.now(),
            status=_status_at_creation(connection, JobQueueEntry.Status.READY.value), **values,
        )
        report.jobs_created.append(entry.description)


def _apply_special_jobs(connection: ConnectionSetup, kinds: frozenset[str], held: frozenset[str],
                        report: DefaultConfigurationReport) -> None:
    for special in defaults.SPECIAL_JOBS:
        if special.kind not in kinds:
            continue
        existing = list(JobQueueEntry.objects.filter(connection=connection, kind=special.kind))
        values = {
            "description": special.description, "category": "", "recurring_job": True,
            "no_of_minutes_between_runs": special.minutes, "inactivity_timeout_period": special.minutes,
            "maximum_no_of_attempts_to_run": defaults.SPECIAL_JOB_MAX_ATTEMPTS,
            "rerun_delay_sec": defaults.RERUN_DELAY_SECONDS,
        }
        wanted = special.when in held and special.available
        if wanted and len(existing) == 1 and all(getattr(existing[0], k) == v for k, v in values.items()):
            continue
        for entry in existing:
            report.jobs_deleted.append(entry.description)
            entry.delete()
        if wanted:
            JobQueueEntry.objects.create(
                connection=connection, kind=special.kind, earliest_start_date_time=timezone.now(),
                status=_status_at_creation(connection, JobQueueEntry.Status.ON_HOLD_WITH_INACTIVITY_TIMEOUT.value),
                **values,
            )
            report.jobs_created.append(special.description)


def _apply(*, connection: ConnectionSetup, names: frozenset[str],
           job_kinds: frozenset[str]) -> DefaultConfigurationReport:
    """Make the connection's mappings named in ``names`` and its special jobs of ``job_kinds`` equal the defaults."""
    held = connection_conditions(connection)
    desired = desired_mappings(connection)
    report = DefaultConfigurationReport()
    with transaction.atomic():
        existing = {m.name: m for m in IntegrationTableMapping.objects.select_for_update()
                    .filter(connection=connection, name__in=names)}
        order = sorted(names, key=lambda n: (desired[n].priority if n in desired else 0, n))
        for name in order:
            mapping = existing.get(name)
            if name not in desired:
                if mapping is not None and not mapping.user_defined:
                    report.jobs_deleted.extend(mapping.job_queue_entries.values_list("description", flat=True))
                    mapping.delete()
                    report.deleted.append(name)
                continue
            definition = desired[name]
            values = _mapping_values(definition, held)
            wanted_fields = _field_values(definition, held)
            if mapping is None:
                mapping = IntegrationTableMapping.objects.create(connection=connection, name=name, **values)
                IntegrationFieldMapping.objects.bulk_create(
                    IntegrationFieldMapping(table_mapping=mapping, **row) for row in wanted_fields)
                report.created.append(name)
                rebuilt = True
            else:
                current_fields = list(mapping.field_mappings.order_by("sequence", "id").values(*_FIELD_KEYS))
                same = all(getattr(mapping, k) == v for k, v in values.items()) and current_fields == wanted_fields
                rebuilt = not same
                if same:
                    report.unchanged.append(name)
                else:
                    for key, value in values.items():
                        setattr(mapping, key, value)
                    mapping.save(update_fields=list(values))
                    mapping.field_mappings.all().delete()
                    IntegrationFieldMapping.objects.bulk_create(
                        IntegrationFieldMapping(table_mapping=mapping, **row) for row in wanted_fields)
                    report.changed.append(name)
            _apply_mapping_job(connection, mapping, definition, held, rebuilt, report)
        _apply_special_jobs(connection, job_kinds, held, report)
    return report


_ALL_JOB_KINDS = frozenset(special.kind for special in defaults.SPECIAL_JOBS)


def default_configuration_reset(*, connection: ConnectionSetup,
                                mapping_name: str | None = None) -> DefaultConfigurationReport:
    """Rebuild the whole default configuration of a connection setup, or one default mapping ("Use Default
    Synchronization Setup"; BC: CDS/CRM Setup Defaults.ResetConfiguration, ResetIntTableMappingDefaultConfiguration).

    The whole reset creates/updates every default mapping for the connection's options (ownership model, unit group
    mapping, legacy/bidirectional sales orders, item availability, automatic order creation/quote processing) with its
    field mappings and job queue entry, deletes default mappings the options exclude (user-defined ones are never
    touched), and recreates the special job queue entries. Raises ``ValidationError`` when ``mapping_name`` is not a
    default mapping or the connection's options exclude it.
    """
    if mapping_name is None:
        return _apply(connection=connection, names=defaults.DEFAULT_MAPPING_NAMES, job_kinds=_ALL_JOB_KINDS)
    if mapping_name not in defaults.DEFAULT_MAPPING_NAMES:
        raise ValidationError(f'"{mapping_name}" is not a default mapping, so it has no default synchronization setup.')
    if mapping_name not in desired_mappings(connection):
        raise ValidationError(
            f'"{mapping_name}" is not part of the default configuration with this connection setup\'s options '
            "(ownership model, unit group mapping, sales order integration). Change the option on the connection "
            "setup instead."
        )
    return _apply(connection=connection, names=frozenset({mapping_name}), job_kinds=frozenset())


def sales_order_configuration_reset(*, connection: ConnectionSetup) -> DefaultConfigurationReport:
    """Rebuild SALESORDER-ORDER / SOLINE-ORDERDETAIL and the sales order job queue entries for the connection's
    sales order options (BC: codeunit 5334 CRM Setup Defaults.ResetSalesOrderMappingConfiguration)."""
    return _apply(connection=connection, names=defaults.SALES_ORDER_SCOPE, job_kinds=defaults.SALES_ORDER_JOB_KINDS)


def unit_group_mapping_apply(*, connection: ConnectionSetup) -> DefaultConfigurationReport:
    """Switch between UNIT OF MEASURE and UNIT GROUP / ITEM UOM / RESOURCE UOM and adjust ITEM-PRODUCT and
    RESOURCE-PRODUCT (dependency filters, DefaultUoMId vs DefaultUoMScheduleId) (BC: codeunit 5334 CRM Setup
    Defaults.ResetUnitGroupMappingConfiguration)."""
    return _apply(connection=connection, names=defaults.UNIT_GROUP_SCOPE, job_kinds=frozenset())


def ownership_model_apply(*, connection: ConnectionSetup) -> DefaultConfigurationReport:
    """Apply the ownership model: Person creates SALESPEOPLE, its job and the owner field mappings and puts
    SALESPEOPLE in CUSTOMER/VENDOR dependency filters; Team removes them (BC: codeunit 7204 CDS Setup Defaults,
    HandleOnEnableIntegration)."""
    return _apply(connection=connection, names=defaults.OWNERSHIP_SCOPE, job_kinds=frozenset())


#: The mapping whose Inventory -> quantityonhand field mapping the item availability setting needs.
ITEM_PRODUCT = "ITEM-PRODUCT"


def special_jobs_apply(*, connection: ConnectionSetup) -> DefaultConfigurationReport:
    """Create or delete the special job queue entries after an option toggle (item availability, automatic sales
    order creation, automatic quote processing; BC: codeunit 5334 CRM Setup Defaults, RecreateJobQueueEntry). With
    item availability on, also re-adds the Inventory -> quantityonhand field mapping to ITEM-PRODUCT when it is
    missing (BC: CreateInventoryQuantityFieldMapping)."""
    report = _apply(connection=connection, names=frozenset(), job_kinds=_ALL_JOB_KINDS)
    if connection.item_availability_enabled and inventory_field_mapping_ensure(connection=connection):
        report.changed.append(ITEM_PRODUCT)
    return report



def inventory_field_mapping_ensure(*, connection: ConnectionSetup) -> bool:
    """Add the field mapping Inventory -> quantityonhand (To Integration Table, enabled) to the connection's
    ITEM-PRODUCT mapping when it has none for that pair (BC: codeunit 5334 "CRM Setup Defaults",
    CreateInventoryQuantityFieldMapping). Returns True when it was added; False when it exists or ITEM-PRODUCT does
    not."""
    mapping = IntegrationTableMapping.objects.filter(connection=connection, name=ITEM_PRODUCT).first()
    if mapping is None or mapping.field_mappings.filter(field_name="Inventory",
                                                        integration_field_name="quantityonhand").exists():
        return False
    last = mapping.field_mappings.order_by("-sequence").values_list("sequence", flat=True).first() or 0
    IntegrationFieldMapping.objects.create(
        table_mapping=mapping, sequence=last + 10, field_name="Inventory", integration_field_name="quantityonhand",
        direction=Direction.TO_INTEGRATION_TABLE, transformation_direction=Direction.TO_INTEGRATION_TABLE,
        status=IntegrationFieldMapping.Status.ENABLED)
    return True


def unit_group_update_job_schedule(*, connection: ConnectionSetup) -> JobQueueEntry | None:
    """With unit group mapping on, create the one-off "Update unit group mapping" job queue entry (BC: codeunit 5330
    CRM Integration Management, EnableUnitGroupMapping: start now + 1 s, 3 attempts, rerun delay 60 s; it runs
    codeunit 5367 "CRM Update Unit Group Mapping", here ``syncjobs.unit_groups.unit_group_mapping_update``), Ready
    while the connection is enabled and On Hold otherwise; with it off, no such entry waits. An entry of that kind
    that has not started yet is replaced, so toggling never queues the job twice; finished entries stay as history.
    Returns the new entry, or None when unit group mapping is off."""
    job = defaults.UNIT_GROUP_UPDATE_JOB
    now = timezone.now()
    with transaction.atomic():
        JobQueueEntry.objects.filter(connection=connection, kind=job.kind).filter(
            status__in=[JobQueueEntry.Status.READY, JobQueueEntry.Status.ON_HOLD]).delete()
        if not connection.unit_group_mapping_enabled:
            return None
        return JobQueueEntry.objects.create(
            connection=connection, kind=job.kind, description=job.description, category="", recurring_job=False,
            maximum_no_of_attempts_to_run=job.maximum_no_of_attempts_to_run, rerun_delay_sec=job.rerun_delay_sec,
            earliest_start_date_time=now + timedelta(seconds=job.start_delay_seconds),
            status=_status_at_creation(connection, JobQueueEntry.Status.READY.value),
        )
