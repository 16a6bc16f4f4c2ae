"""Integration table mappings together with their job queue entries: a new user-defined mapping gets its recurring
synchronization job, and a direction change puts a Ready entry On Hold with Inactivity Timeout (BC: table 5335
Integration Table Mapping, field Direction, OnValidate; page Integration Table Mapping List, New Table Mapping).
"""
from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from connections.models import ConnectionSetup
from mappings.catalogue import bc_table, dataverse_table, validate_filter
from mappings.models import Direction, IntegrationFieldMapping, IntegrationTableMapping
from mappings.services import dependency_filter_errors, field_mapping_values_validate, validate_table_mapping_change
from syncjobs.models import JobQueueEntry


def integration_table_mapping_update(*, mapping: IntegrationTableMapping, data: dict[str, Any]) -> list[str]:
    """Change a mapping's editable settings (direction, filters, synch. only coupled records, dependency filter,
    conflict resolutions, match-based coupling flags, event job rescheduling). Returns the names of changed fields.

    Direction side effects (BC: Direction OnValidate): an option mapping's field mappings take the new direction; a
    change to To integration table puts a Ready job queue entry On Hold with Inactivity Timeout. Raises
    ``ValidationError`` (dict) and saves nothing when a value is refused.
    """
    validate_table_mapping_change(mapping, data)
    changed = [key for key, value in data.items() if getattr(mapping, key) != value]
    if not changed:
        return []
    with transaction.atomic():
        for key in changed:
            setattr(mapping, key, data[key])
        mapping.save(update_fields=changed)
        if "direction" in changed:
            if mapping.is_option_mapping:
                mapping.field_mappings.update(direction=mapping.direction, transformation_direction=mapping.direction)
            if mapping.direction == Direction.TO_INTEGRATION_TABLE:
                mapping.job_queue_entries.filter(status=JobQueueEntry.Status.READY, recurring_job=True).update(
                    status=JobQueueEntry.Status.ON_HOLD_WITH_INACTIVITY_TIMEOUT)
    return changed


_NAME_RE = re.compile(r"^[A-Z0-9][A-Z0-9 ._/-]{0,19}$")


def integration_table_mapping_create(*, connection: ConnectionSetup, name: str, bc_table_name: str,
                                     dataverse_table_name: str,
                                     direction: str, field_pairs: list[tuple[str, str, str]],
                                     table_filter: str = "", integration_table_filter: str = "",
                                     dependency_filter: str = "", create_job: bool = True) -> IntegrationTableMapping:
    """Add a user-defined mapping for another table pair from the catalogue (BC: New Table Mapping wizard).

    ``field_pairs`` are (BC field name, Dataverse column, direction). Creates a recurring job queue entry
    (every 30 minutes, inactivity timeout 720 minutes, as BC's codeunit 7204 CDS Setup Defaults,
    RecreateJobQueueEntryFromIntTableMapping) unless ``create_job`` is false. Raises ``ValidationError`` (dict of
    form field → messages) and creates nothing when anything is refused.
    """
    errors: dict[str, list[str]] = {}
    name = name.strip().upper()
    if not _NAME_RE.match(name):
        errors["name"] = ["Use 1 to 20 capital letters, digits, spaces or . _ / - (BC: Code[20])."]
    elif IntegrationTableMapping.objects.filter(connection=connection, name=name).exists():
        errors["name"] = [f"This connection already has a mapping named {name}."]
    try:
        bc_side = bc_table(bc_table_name)
    except ValidationError as exc:
        errors["bc_table"] = exc.messages
        bc_side = None
    try:
        dv_side = dataverse_table(dataverse_table_name)
    except ValidationError as exc:
        errors["dataverse_table"] = exc.messages
        dv_side = None
    if bc_side is not None and dv_side is not None:
        candidate = IntegrationTableMapping(connection=connection, name=name, table=bc_side.name,
                                            integration_table=dv_side.logical_name, direction=direction,
                                            integration_table_uid_field=dv_side.primary_id)
        for index, (bc_field, dv_column, field_direction) in enumerate(field_pairs, start=1):
            try:
                field_mapping_values_validate(candidate, {"field_name": bc_field, "integration_field_name": dv_column,
                                                   "direction": field_direction, "constant_value": ""})
            except ValidationError as exc:
                errors.setdefault("fields", []).extend(f"Field mapping {index}: {m}" for m in exc.messages)
        if not field_pairs:
            errors.setdefault("fields", []).append("Map at least one field.")
        for key, side, table, value in (("table_filter", "bc", bc_side.name, table_filter),
                                        ("integration_table_filter", "dataverse", dv_side.logical_name,
                                         integration_table_filter)):
            try:
                validate_filter(side, table, value)
            except ValidationError as exc:
                errors[key] = exc.messages
        if dependency_filter and (messages := dependency_filter_errors(candidate, dependency_filter)):
            errors["dependency_filter"] = messages
    if errors:
        raise ValidationError(errors)
    assert bc_side is not None and dv_side is not None
    last = IntegrationTableMapping.objects.filter(connection=connection).order_by("-priority").first()
    with transaction.atomic():
        mapping = IntegrationTableMapping.objects.create(
            connection=connection, name=name, table=bc_side.name, integration_table=dv_side.logical_name,
            integration_table_uid_field=dv_side.primary_id, int_tbl_modified_on_field=dv_side.modified_on,
            direction=direction, table_filter=table_filter, integration_table_filter=integration_table_filter,
            dependency_filter=dependency_filter, user_defined=True, priority=(last.priority + 10) if last else 10,
        )
        IntegrationFieldMapping.objects.bulk_create(
            IntegrationFieldMapping(
                table_mapping=mapping, sequence=index * 10, field_name=bc_field, integration_field_name=dv_column,
                direction=field_direction, user_defined=True, validate_field=True,
                transformation_direction="" if field_direction == Direction.BIDIRECTIONAL else field_direction)
            for index, (bc_field, dv_column, field_direction) in enumerate(field_pairs, start=1))
        if create_job:
            JobQueueEntry.objects.create(
                connection=connection, table_mapping=mapping, kind=JobQueueEntry.Kind.MAPPING,
                description=f"{name} - Dataverse synchronization job.", category="", recurring_job=True,
                no_of_minutes_between_runs=30, inactivity_timeout_period=720, maximum_no_of_attempts_to_run=10,
                rerun_delay_sec=30, earliest_start_date_time=timezone.now(),
                status=JobQueueEntry.Status.READY if connection.is_enabled else JobQueueEntry.Status.ON_HOLD,
            )
    return mapping

