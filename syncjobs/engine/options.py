"""Option-set mappings: BC code tables to the choices of a Dataverse column (PAYMENT TERMS -> account.paymenttermscode,
SHIPMENT METHOD -> account.address1_freighttermscode, SHIPPING AGENT -> account.address1_shippingmethodcode).

BC: codeunit "CDS Int. Option Synch" with the "CRM Option Mapping" table (codeunit 5340 "CRM Integration Table
Synch." hands option-keyed mappings to it). Each BC record becomes one option of the column, labelled with its code:
an option whose label already equals the code is coupled, otherwise the option is added with the Web API action
``InsertOptionValue`` (Microsoft Learn: "InsertOptionValue Action"; the options are read as in "Query table
definitions using the Web API"). A coupling's Dataverse id is ``UUID(int=<option value>)`` (the
convention of ``IntegrationTableMapping.coupling_dataverse_table``). The mapping is always BC -> Dataverse.

The same codes are added to the other tables' choice columns that carry them (:func:`companion_columns`: the sales
order's, quote's and invoice's payment terms, freight terms and shipping method), each a local option set of its
table: the documents are written with the option whose label is the BC code, so a code missing there would fail
every order that uses it.
"""
from __future__ import annotations

import traceback
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils import timezone

from connections.clients.errors import ClientError
from mappings.models import Coupling, Direction, IntegrationFieldMapping, IntegrationTableMapping
from syncjobs.engine.errors import SynchronizationNotPossible
from syncjobs.engine.schema import bc_info
from syncjobs.models import JobQueueEntry, SynchronizationError, SynchronizationJob

#: Language of the labels the portal adds (English, as BC's own option synchronization writes them).
LANGUAGE_CODE = 1033


def option_label(option: dict[str, Any]) -> str:
    """The label of one option of a PicklistAttributeMetadata.OptionSet (user-localized first, then any)."""
    label = option.get("Label") or {}
    if not isinstance(label, dict):
        return str(label)
    localized = (label.get("UserLocalizedLabel") or {}).get("Label")
    if localized:
        return str(localized)
    for entry in label.get("LocalizedLabels") or []:
        if entry.get("Label"):
            return str(entry["Label"])
    return str(option.get("Value"))


def picklist_options(dv_client: Any, table: str, column: str) -> dict[int, str]:
    """The options {value: label} of the choice column ``table.column``, read from the attribute metadata
    (Microsoft Learn: "Query table definitions using the Web API"). Raises ClientError when the metadata cannot be
    read."""
    path = (f"EntityDefinitions(LogicalName='{table}')/Attributes(LogicalName='{column}')/"
            "Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet($select=Options)")
    metadata = dv_client.execute(path)
    return {int(option["Value"]): option_label(option)
            for option in (metadata.get("OptionSet") or {}).get("Options", [])}


def same_label(label: str, code: str) -> bool:
    """Whether an option's label stands for a BC code (trimmed, case-insensitive)."""
    return label.strip().casefold() == code.strip().casefold()


def option_field_mapping(mapping: IntegrationTableMapping) -> IntegrationFieldMapping:
    """The enabled field mapping from a BC field to the option column of an option-set mapping. Raises
    SynchronizationNotPossible naming the fix when there is none."""
    column = mapping.integration_table_uid_field
    field_mapping = (IntegrationFieldMapping.objects
                     .filter(table_mapping=mapping, integration_field_name=column,
                             status=IntegrationFieldMapping.Status.ENABLED)
                     .exclude(field_name="").first())
    if field_mapping is None:
        raise SynchronizationNotPossible(
            f"{mapping.name} has no enabled field mapping from a BC field to {mapping.integration_table}.{column}: "
            "add one (Code -> the option column) or use Default Synchronization Setup for this mapping."
        )
    return field_mapping


def companion_columns(mapping: IntegrationTableMapping) -> list[tuple[str, str]]:
    """The other choice columns that carry the codes of an option-set mapping's BC table: ``[(table, column)]`` of
    the connection's enabled field mappings from the BC field ``"<table> Code"`` (BC: the "Payment Terms Code",
    "Shipment Method Code" and "Shipping Agent Code" fields of table 18 Customer, 36 Sales Header and 112 Sales
    Invoice Header) into a Dataverse column other than the mapping's own, e.g. PAYMENT TERMS ->
    ``salesorder.paymenttermscode``, ``invoice.paymenttermscode``. Each is a local option set of its table, so
    every BC code must be an option there too, or the order, quote or invoice carrying it cannot be written."""
    own = (mapping.integration_table, mapping.integration_table_uid_field)
    rows = (IntegrationFieldMapping.objects
            .filter(table_mapping__connection=mapping.connection, field_name=f"{mapping.table} Code",
                    status=IntegrationFieldMapping.Status.ENABLED)
            .exclude(integration_field_name="")
            .values_list("table_mapping__integration_table", "integration_field_name"))
    columns = {(table, column.lower().removesuffix("enum")) for table, column in rows}
    return sorted(columns - {own})


def _add_option(dv_client: Any, table: str, column: str, code: str) -> int:
    """Add an option labelled ``code`` to the local option set ``table.column`` (Microsoft Learn "InsertOptionValue
    Action"; the value is the next free one of the publisher's prefix); returns its value. Raises ClientError."""
    answer = dv_client.execute("InsertOptionValue", {
        "EntityLogicalName": table, "AttributeLogicalName": column,
        "Label": {"LocalizedLabels": [{"Label": code, "LanguageCode": LANGUAGE_CODE}]},
    })
    return int(answer["NewOptionValue"])


def synchronize_option_mapping(
    *, mapping: IntegrationTableMapping, bc_client: Any, dv_client: Any, job_queue_entry: JobQueueEntry | None = None,
    full: bool = False,
) -> SynchronizationJob:
    """Synchronize the BC codes of an option-set mapping to the options of its Dataverse column.

    Returns the SynchronizationJob (ToIntegrationTable) with inserted (options added), coupled (existing options
    coupled by label), unchanged and failed counters. Per-record failures are SynchronizationError rows naming the
    code and the fix; a failure to read the BC table or the column's metadata ends the pass with its message.
    Raises SynchronizationNotPossible when the mapping has no enabled field mapping for its option column.
    """
    column = mapping.integration_table_uid_field
    field_mapping = option_field_mapping(mapping)
    info = bc_info(mapping.table)
    code_property = info.prop(field_mapping.field_name)
    dataverse_table = mapping.coupling_dataverse_table
    job = SynchronizationJob.objects.create(
        table_mapping=mapping, job_queue_entry=job_queue_entry, direction=Direction.TO_INTEGRATION_TABLE,
        full_synchronization=full,
    )
    try:
        options = picklist_options(dv_client, mapping.integration_table, column)
        records = list(bc_client.iter_rows(info.entity_set, select=[info.key, code_property], api=info.api))
        companions = {key: picklist_options(dv_client, *key) for key in companion_columns(mapping)}
    except ClientError as error:
        job.message = f"{mapping.name} could not read {error.service}: {error.message}"
        job.finished_at = timezone.now()
        job.save(update_fields=["message", "finished_at"])
        return job
    couplings = {c.bc_id: c for c in Coupling.objects.filter(
        connection=mapping.connection, bc_table=mapping.table, dataverse_table=dataverse_table)}
    job.total = len(records)
    job.save(update_fields=["total"])
    for row in records:
        bc_id = UUID(str(row[info.key]))
        code = str(row.get(code_property) or "")
        coupling = couplings.get(bc_id)
        coupled_value = coupling.dataverse_id.int if coupling is not None else None
        target = (mapping.integration_table, column)
        try:
            added_elsewhere = False
            for (table, other), known in companions.items():
                target = (table, other)
                if not any(same_label(label, code) for label in known.values()):
                    known[_add_option(dv_client, table, other, code)] = code
                    added_elsewhere = True
            target = (mapping.integration_table, column)
            if coupled_value is not None and coupled_value in options and same_label(options[coupled_value], code):
                if added_elsewhere:
                    job.modified += 1
                else:
                    job.unchanged += 1
                job.processed += 1
                continue
            value = next((number for number, label in options.items() if same_label(label, code)), None)
            if value is None:
                value = _add_option(dv_client, mapping.integration_table, column, code)
                options[value] = code
                job.inserted += 1
            else:
                job.coupled += 1
            with transaction.atomic():
                if coupling is not None:
                    coupling.delete()
                Coupling.objects.create(
                    connection=mapping.connection, bc_table=mapping.table, bc_id=bc_id, dataverse_table=dataverse_table,
                    dataverse_id=UUID(int=value), last_synch_crm_result=Coupling.Result.SUCCESS,
                    last_synch_crm_job_id=job.id, last_synch_modified_on=timezone.now(),
                )
        except (ClientError, IntegrityError) as error:
            job.failed += 1
            message = error.message if isinstance(error, ClientError) else "another BC code holds this option"
            SynchronizationError.objects.create(
                job=job, direction=Direction.TO_INTEGRATION_TABLE, source_table=mapping.table, source_id=str(bc_id),
                source_name=code, destination_table=dataverse_table, field_name=field_mapping.field_name,
                message=f"{mapping.table} {code}: the option could not be added to "
                        f"{target[0]}.{target[1]}: {message}",
                fix="Check that the integration user may customize the column (System Customizer privileges on "
                    f"{target[0]}), or add an option labelled {code!r} in Dataverse; then retry.",
                transient=isinstance(error, ClientError) and error.transient,
                exception_detail=traceback.format_exc(),
            )
        job.processed += 1
    job.finished_at = timezone.now()
    job.save()
    return job
