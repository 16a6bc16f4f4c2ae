"""Services of integration table mappings, integration field mappings and couplings.

Rules come from BC: table 5335 Integration Table Mapping (Direction validation), table 5336 Integration Field
Mapping (field mapping flags) and table 5331 CRM Integration Record (one BC record couples to one Dataverse row per
table and back). Match-based coupling lives in ``mappings.matching`` and is
re-exported here.
"""
from __future__ import annotations

import logging
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from connections.clients import (
    BusinessCentralClient,
    DataverseClient,
    business_central_client_for,
    dataverse_client_for,
)
from connections.clients.errors import ClientError, NotFoundError
from connections.models import ConnectionSetup
from connections.solution import ACCOUNT_STATISTICS_LOOKUP, ACCOUNT_STATISTICS_SET
from mappings.catalogue import bc_table, dataverse_table, validate_filter
from mappings.models import Coupling, Direction, IntegrationFieldMapping, IntegrationTableMapping
from mappings.remote import bc_records, dataverse_rows

__all__ = [
    "CouplingConflict", "coupling_create", "coupling_delete", "couplings_delete_for_mapping", "couplings_for_mapping",
    "integration_field_mapping_create", "integration_field_mapping_update", "validate_table_mapping_change",
]

logger = logging.getLogger(__name__)

ONE_WAY = (Direction.TO_INTEGRATION_TABLE, Direction.FROM_INTEGRATION_TABLE)


# --------------------------------------------------------------------------------------------------------------------
# Couplings (BC: table 5331 CRM Integration Record)
# --------------------------------------------------------------------------------------------------------------------
class CouplingConflict(ValidationError):
    """A coupling would break one-to-one: ``existing`` is the coupling that already holds the BC record or the row."""

    def __init__(self, message: str, *, existing: Coupling) -> None:
        super().__init__(message, code="coupling_conflict")
        self.existing = existing


def _conflict_for(*, connection: ConnectionSetup, bc_table_name: str, bc_id: uuid.UUID, dataverse_table_name: str,
                  dataverse_id: uuid.UUID) -> CouplingConflict | None:
    holder = Coupling.objects.filter(connection=connection, dataverse_table=dataverse_table_name,
                                     dataverse_id=dataverse_id).first()
    if holder is not None:
        return CouplingConflict(
            f"The Dataverse {dataverse_table_name} row {dataverse_id} is already coupled to {holder.bc_table} "
            f"{holder.bc_id}. Uncouple that record first.", existing=holder)
    holder = Coupling.objects.filter(connection=connection, bc_table=bc_table_name, bc_id=bc_id,
                                     dataverse_table=dataverse_table_name).first()
    if holder is not None:
        return CouplingConflict(
            f"The {bc_table_name} record {bc_id} is already coupled to the Dataverse {dataverse_table_name} row "
            f"{holder.dataverse_id}. Uncouple it first.", existing=holder)
    return None


class CouplingRecordMissing(ValidationError):
    """A manual coupling names a record that does not exist on its side (``side`` is "Business Central" or
    "Dataverse")."""

    def __init__(self, message: str, *, side: str) -> None:
        super().__init__(message, code="coupling_record_missing")
        self.side = side


def coupling_records_verify(*, connection: ConnectionSetup, bc_table: str, bc_id: uuid.UUID, dataverse_table: str,
                            dataverse_id: uuid.UUID, bc: BusinessCentralClient | None = None) -> tuple[str, str]:
    """Check that both records of a manual coupling exist (BC reads them before it couples: page 5330's "Couple"
    action picks the Dataverse row from a list of existing rows); returns their labels (BC, Dataverse). Raises
    :class:`CouplingRecordMissing` naming the side and id, or the clients' ``ClientError`` when a side cannot be
    read."""
    found_bc = bc_records(connection, bc_table, ids=[bc_id], bc=bc)
    if not found_bc:
        raise CouplingRecordMissing(f"Nothing was coupled: Business Central has no {bc_table} record with the id "
                                    f"{bc_id}.", side="Business Central")
    found_dv = dataverse_rows(connection, dataverse_table, ids=[dataverse_id])
    if not found_dv:
        raise CouplingRecordMissing(f"Nothing was coupled: Dataverse has no {dataverse_table} row with the id "
                                    f"{dataverse_id}.", side="Dataverse")
    return found_bc[0].label, found_dv[0].label


def _holder_record_is_gone(connection: ConnectionSetup, holder: Coupling, bc: BusinessCentralClient) -> bool:
    """Whether the BC record of a coupling no longer exists (BC reads it; a 404 means it was deleted)."""

    side = bc_table(holder.bc_table)
    bc = bc or business_central_client_for(connection)
    try:
        bc.get(side.entity_set, holder.bc_id, api=side.api)
    except NotFoundError:
        return True
    return False


def coupling_create(*, connection: ConnectionSetup, bc_table: str, bc_id: uuid.UUID | str, dataverse_table: str,
                    dataverse_id: uuid.UUID | str, remove_stale: bool = False, verify_records: bool = False,
                    bc: BusinessCentralClient | None = None, bc_name: str | None = None,
                    dataverse_name: str | None = None) -> Coupling:
    """Couple one BC record (SystemId) to one Dataverse row (GUID) (BC: table 5331 CRM Integration Record).

    Raises ``CouplingConflict`` naming the coupling that already holds the record or the row; the database's unique
    constraints make this hold under concurrent attempts too (the loser of a race gets the same error).
    ``dataverse_table`` is ``IntegrationTableMapping.coupling_dataverse_table`` of the mapping.
    With ``remove_stale`` (manual coupling), a row held by a BC record that no longer exists is freed first, as BC
    does (table 5331); this reads BC through ``bc`` (a BusinessCentralClient, built when omitted) and raises the
    clients' ``ClientError`` when BC cannot be read. With ``verify_records`` (manual coupling), both records must
    exist (:func:`coupling_records_verify`; raises :class:`CouplingRecordMissing`), and their labels are stored
    as the coupling's record names unless ``bc_name`` / ``dataverse_name`` are given (at most 250 characters kept).
    """
    bc_uuid, dv_uuid = uuid.UUID(str(bc_id)), uuid.UUID(str(dataverse_id))
    if verify_records:
        bc_label, dv_label = coupling_records_verify(connection=connection, bc_table=bc_table, bc_id=bc_uuid,
                                                     dataverse_table=dataverse_table, dataverse_id=dv_uuid, bc=bc)
        bc_name, dataverse_name = bc_name or bc_label, dataverse_name or dv_label
    keys = dict(connection=connection, bc_table_name=bc_table, bc_id=bc_uuid, dataverse_table_name=dataverse_table,
                dataverse_id=dv_uuid)
    conflict = _conflict_for(**keys)
    if (conflict is not None and remove_stale and conflict.existing.dataverse_id == dv_uuid
            and conflict.existing.bc_id != bc_uuid and _holder_record_is_gone(connection, conflict.existing, bc)):
        conflict.existing.delete()
        conflict = _conflict_for(**keys)
    if conflict is not None:
        raise conflict
    try:
        with transaction.atomic():
            return Coupling.objects.create(connection=connection, bc_table=bc_table, bc_id=bc_uuid,
                                           dataverse_table=dataverse_table, dataverse_id=dv_uuid,
                                           bc_name=(bc_name or "")[:250] or None,
                                           dataverse_name=(dataverse_name or "")[:250] or None)
    except IntegrityError:
        conflict = _conflict_for(**keys)
        if conflict is None:  # the other attempt was rolled back meanwhile; report plainly rather than guess
            raise
        raise conflict from None


SALES_HEADER, SALES_LINE = "Sales Header", "Sales Line"
CUSTOMER, ACCOUNT = "Customer", "account"


def account_statistics_delete(*, connection: ConnectionSetup, account_id: uuid.UUID,
                              dv: DataverseClient | None = None) -> bool:
    """Delete the ``bcp_accountstatistics`` row of account ``account_id`` (BC: codeunit 5350 "CRM Statistics Job":
    uncoupling a customer deletes its account statistics row), found through the account's lookup
    (``bcp_accountstatisticsid``). Returns whether a row was deleted (an account without one, or gone, is nothing to
    do). Never raises: when Dataverse does not answer or refuses (e.g. 403 without Delete on the table), the failure
    is logged and the Customer Statistics job deletes the rows of uncoupled accounts on its next run
    (``syncjobs.statistics``), so an unreachable Dataverse never blocks an uncoupling and no row is left behind."""
    try:
        dv = dv or dataverse_client_for(connection)
        row_id = dv.retrieve("accounts", account_id, select=[ACCOUNT_STATISTICS_LOOKUP]).get(ACCOUNT_STATISTICS_LOOKUP)
        if not row_id:
            return False
        dv.delete(ACCOUNT_STATISTICS_SET, row_id)
    except NotFoundError:
        return False
    except ClientError as error:
        logger.warning("statistics row of uncoupled account %s of %s not deleted now (%s); the Customer Statistics "
                       "job deletes it", account_id, connection.name, error)
        return False
    return True


def coupling_delete(*, coupling: Coupling, bc: BusinessCentralClient | None = None,
                    dv: DataverseClient | None = None) -> int:
    """Uncouple: delete the coupling (the records on both sides stay; BC: "Uncouple"). Returns couplings deleted.

    With bidirectional sales order integration, uncoupling a Sales Header also uncouples its Sales Lines
    (BC: table 5331 CRM Integration Record): their SystemIds are read from BC (``salesOrderLines`` with the order's
    ``documentId``) through ``bc`` (built when omitted); raises the clients' ``ClientError`` and deletes nothing
    when BC cannot be read. Uncoupling a customer deletes its account's statistics row through ``dv``
    (:func:`account_statistics_delete`; when Dataverse does not answer, the Customer Statistics job does it later).
    """
    line_ids: list[uuid.UUID] = []
    connection = coupling.connection
    if coupling.bc_table == SALES_HEADER and connection.bidirectional_sales_order_integration:
        side = bc_table(SALES_LINE)
        bc = bc or business_central_client_for(connection)
        line_ids = [uuid.UUID(str(row["id"])) for row in bc.iter_rows(
            side.entity_set, filter=f"documentId eq {coupling.bc_id}", select=["id"], api=side.api)]
    if coupling.bc_table == CUSTOMER and coupling.dataverse_table == ACCOUNT:
        account_statistics_delete(connection=connection, account_id=coupling.dataverse_id, dv=dv)
    with transaction.atomic():
        deleted, _ = Coupling.objects.filter(connection=connection, bc_table=SALES_LINE, bc_id__in=line_ids).delete()
        coupling.delete()
    return deleted + 1


def couplings_for_mapping(mapping: IntegrationTableMapping) -> QuerySet[Coupling]:
    """The couplings of a mapping's table pair (couplings belong to the table pair, not to the mapping row)."""
    return Coupling.objects.filter(connection_id=mapping.connection_id, bc_table=mapping.table,
                                   dataverse_table=mapping.coupling_dataverse_table)


def couplings_delete_for_mapping(*, mapping: IntegrationTableMapping) -> int:
    """Delete every coupling of the mapping's table pair (BC: "Delete Couplings"); returns how many. For CUSTOMER the
    accounts' statistics rows are left to the Customer Statistics job, whose next run deletes the rows of uncoupled
    accounts in ``$batch`` requests (``syncjobs.statistics``): a request deleting thousands of couplings makes no
    remote call per account."""
    deleted, _ = couplings_for_mapping(mapping).delete()
    return deleted


# --------------------------------------------------------------------------------------------------------------------
# Integration table mappings (BC: table 5335 Integration Table Mapping)
# --------------------------------------------------------------------------------------------------------------------
def _direction_errors(mapping: IntegrationTableMapping, direction: str) -> list[str]:
    """BC: Integration Table Mapping.Direction OnValidate."""
    if mapping.is_option_mapping and direction == Direction.BIDIRECTIONAL:
        return [f"{mapping.name} maps an option set, which can only be synchronized one way; choose "
                "To integration table or From integration table."]
    if mapping.is_option_mapping or direction == mapping.direction:
        return []
    enabled = list(mapping.field_mappings.filter(status=IntegrationFieldMapping.Status.ENABLED)
                   .values_list("direction", flat=True))
    if enabled and direction not in enabled:
        label = Direction(direction).label
        return [f"No enabled field mapping of {mapping.name} has the direction \"{label}\". Set at least one field "
                "mapping to that direction first, then change the table mapping's direction."]
    return []


def dependency_filter_errors(mapping: IntegrationTableMapping, dependency_filter: str) -> list[str]:
    names = [n for n in dependency_filter.split("|") if n]
    known = set(IntegrationTableMapping.objects.filter(connection_id=mapping.connection_id)
                .values_list("name", flat=True))
    unknown = [n for n in names if n not in known]
    if mapping.name in names:
        return [f"{mapping.name} cannot depend on itself."]
    if unknown:
        return [f"The dependency filter names {', '.join(unknown)}, which this connection has no mapping of. "
                f"Use '|'-separated mapping names: {', '.join(sorted(known - {mapping.name}))}."]
    return []


def validate_table_mapping_change(mapping: IntegrationTableMapping, data: dict[str, Any]) -> None:
    """Validate changed table mapping settings: filters against the catalogue, the Direction rules of BC's table 5335
    Integration Table Mapping (field 10 Direction), the dependency filter's names. Raises ``ValidationError`` with a
    dict of field → messages."""
    errors: dict[str, list[str]] = {}
    for key, side, table in (("table_filter", "bc", mapping.table),
                             ("integration_table_filter", "dataverse", mapping.integration_table)):
        if key in data:
            try:
                validate_filter(side, table, data[key])
            except ValidationError as exc:
                errors[key] = exc.messages
    if "direction" in data and (messages := _direction_errors(mapping, data["direction"])):
        errors["direction"] = messages
    if "dependency_filter" in data and (messages := dependency_filter_errors(mapping, data["dependency_filter"])):
        errors["dependency_filter"] = messages
    if errors:
        raise ValidationError(errors)


# --------------------------------------------------------------------------------------------------------------------
# Integration field mappings (BC: table 5336 Integration Field Mapping)
# --------------------------------------------------------------------------------------------------------------------
def field_mapping_values_validate(mapping: IntegrationTableMapping, values: dict[str, Any]) -> None:
    """Field mapping rules: names from the catalogue, direction allowed by the table mapping, constants, Not Null
    only on GUID destinations, Not Null and Clear Value on Failed Sync exclusive (BC: table 5336 Integration Field
    Mapping, fields 6 Direction, 7 Constant Value, 10 Clear Value on Failed Sync, 12 Not Null)."""
    errors: dict[str, list[str]] = {}
    bc_side, dv_side = bc_table(mapping.table), dataverse_table(mapping.integration_table)
    bc_field, dv_column = values.get("field_name", ""), values.get("integration_field_name", "")
    direction, constant = values.get("direction", Direction.BIDIRECTIONAL), values.get("constant_value", "")
    if bc_field and not bc_side.has_field(bc_field):
        known = ", ".join(f.name for f in bc_side.fields)
        errors["field_name"] = [f'"{bc_field}" is not a field of the BC table {mapping.table}. Known fields: {known}.']
    if dv_column and dv_column not in dv_side.columns:
        known = ", ".join(sorted(dv_side.columns))
        errors["integration_field_name"] = [
            f'"{dv_column}" is not a column of the Dataverse table {mapping.integration_table}. '
            f"Known columns: {known}."]
    if not bc_field and not dv_column:
        errors["field_name"] = ["Name the BC field, the Dataverse column, or both."]
    elif (not bc_field or not dv_column) and not constant:
        errors["constant_value"] = ["A field mapping with only one side writes a constant value; enter it."]
    if not bc_field and dv_column and direction != Direction.TO_INTEGRATION_TABLE:
        errors.setdefault("direction", []).append(
            "A constant written into Dataverse must have the direction To integration table.")
    if bc_field and not dv_column and direction != Direction.FROM_INTEGRATION_TABLE:
        errors.setdefault("direction", []).append(
            "A constant written into BC must have the direction From integration table.")
    if mapping.direction in ONE_WAY and direction in ONE_WAY and direction != mapping.direction:
        errors.setdefault("direction", []).append(
            f"{mapping.name} synchronizes {Direction(mapping.direction).label} only, so a field mapping in the "
            "opposite direction would never run; choose the table mapping's direction or Bidirectional.")
    if values.get("not_null"):
        destination_is_guid = (
            dv_column in dv_side.columns and dv_side.columns[dv_column].is_lookup
            if direction != Direction.FROM_INTEGRATION_TABLE
            else bc_side.has_field(bc_field) and bc_side.field(bc_field).type == "guid"
        )
        if not destination_is_guid:
            errors.setdefault("not_null", []).append("Not Null applies only to fields whose destination is a GUID "
                                                     "(a Dataverse lookup such as ownerid).")
        if values.get("clear_value_on_failed_sync"):
            errors.setdefault("not_null", []).append(
                "Not Null and Clear Value on Failed Sync exclude each other; choose one.")
    if errors:
        raise ValidationError(errors)


_FIELD_EDITABLE = ("field_name", "integration_field_name", "direction", "constant_value", "validate_field",
                   "validate_integration_table_field", "clear_value_on_failed_sync", "status", "not_null",
                   "transformation_rule", "use_for_match_based_coupling", "case_sensitive_matching",
                   "match_priority")


def integration_field_mapping_update(*, field_mapping: IntegrationFieldMapping,
                                     data: dict[str, Any]) -> IntegrationFieldMapping:
    """Change a field mapping; ``data`` holds any of the editable fields. The transformation direction follows the
    direction when that is not Bidirectional (BC: table 5336, field 14 Transformation Direction). Raises
    ``ValidationError`` (dict) and saves nothing when a value is refused."""
    values = {key: data.get(key, getattr(field_mapping, key)) for key in _FIELD_EDITABLE}
    field_mapping_values_validate(field_mapping.table_mapping, values)
    for key, value in values.items():
        setattr(field_mapping, key, value)
    if field_mapping.direction != Direction.BIDIRECTIONAL:
        field_mapping.transformation_direction = field_mapping.direction
    field_mapping.save(update_fields=[*_FIELD_EDITABLE, "transformation_direction"])
    return field_mapping


def integration_field_mapping_create(*, mapping: IntegrationTableMapping,
                                     data: dict[str, Any]) -> IntegrationFieldMapping:
    """Add a user-defined field mapping at the end of the mapping's list. Raises ``ValidationError`` (dict)."""
    values = {key: data[key] for key in _FIELD_EDITABLE if key in data}
    values.setdefault("direction", mapping.direction)
    field_mapping_values_validate(mapping, values)
    last = mapping.field_mappings.order_by("-sequence").first()
    direction = values["direction"]
    return IntegrationFieldMapping.objects.create(
        table_mapping=mapping, sequence=(last.sequence + 10) if last else 10, user_defined=True,
        transformation_direction="" if direction == Direction.BIDIRECTIONAL else direction, **values,
    )
