"""Import from Business Central's own Dynamics 365 Sales integration, so that switching to the portal loses nothing:
BC's couplings (BC: table 5331 "CRM Integration Record": Integration ID = the BC record's SystemId, CRM ID = the
Dataverse row id, Table ID = the BC table, Skipped, Last Synch. Modified On / Last Synch. CR Modified On and their
results) and the filters of BC's table mappings (BC: table 5335 "Integration Table Mapping", fields Table Filter and
Integration Table Filter), read through the companion extension's read-only API pages ``crmIntegrationRecords`` and
``integrationTableMappings``.

:func:`bc_import_preview` reads both sides and says what an import would do (per table: couplings to import, already
coupled, conflicts, missing records; per mapping: each filter converted to the portal's OData ``$filter`` or why it
cannot be); :func:`bc_import_apply` does it in one transaction, with the coupling rules of
``mappings.services.coupling_create`` (one BC record ⇄ one Dataverse row).

BC stores a filter as a table view with field numbers (``Record.GetView(false)``, e.g. ``VERSION(1) SORTING(Field1)
WHERE(Field39=1(0))``; option values as their index). Only the fields listed in :data:`BC_FILTER_FIELDS` and
:data:`DATAVERSE_FILTER_FIELDS` (numbers checked against BC's table objects) and simple values (``v``, ``v1|v2``,
``<>v``) are converted; anything else is reported, never guessed.
"""
from __future__ import annotations

import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.dateparse import parse_datetime

from connections.clients import BusinessCentralClient, business_central_client_for
from connections.clients.businesscentral import CUSTOM_API
from connections.models import ConnectionSetup
from mappings.models import Coupling, IntegrationTableMapping
from mappings.remote import bc_records, dataverse_rows
from mappings.services import CouplingConflict, coupling_create, validate_table_mapping_change

#: BC table numbers (BC Base Application table objects) of the tables the portal couples, as the catalogue names
#: them. Option mappings (Payment Terms, Shipment Method, Shipping Agent) are coupled by BC in table 5334 "CRM Option
#: Mapping", not in table 5331, and so are not listed.
BC_TABLE_NUMBERS: dict[int, str] = {
    4: "Currency", 13: "Salesperson/Purchaser", 18: "Customer", 23: "Vendor", 27: "Item", 36: "Sales Header",
    37: "Sales Line", 112: "Sales Invoice Header", 113: "Sales Invoice Line", 156: "Resource", 204: "Unit of Measure",
    205: "Resource Unit of Measure", 5050: "Contact", 5092: "Opportunity", 5400: "Unit Group",
    5404: "Item Unit of Measure", 7000: "Price List Header", 7001: "Price List Line",
}

#: (BC table no., field no.) → (API property, kind, values by option index) for the BC side of a filter (BC: table
#: 18 Customer field 1 "No.", 39 Blocked enum "Customer Blocked"; table 23 Vendor field 39 Blocked enum "Vendor
#: Blocked"; table 27 Item field 54 Blocked; table 5050 Contact field 5050 Type enum "Contact Type", 5051 "Company
#: No.").
BC_FILTER_FIELDS: dict[tuple[int, int], tuple[str, str, tuple[Any, ...]]] = {
    (18, 1): ("number", "text", ()), (18, 39): ("blocked", "option", (" ", "Ship", "Invoice", "All")),
    (23, 1): ("number", "text", ()), (23, 39): ("blocked", "option", (" ", "Payment", "All")),
    (27, 1): ("number", "text", ()), (27, 54): ("blocked", "boolean", ()),
    (5050, 1): ("number", "text", ()), (5050, 5050): ("type", "option", ("Company", "Person")),
    (5050, 5051): ("companyNumber", "text", ()),
}
#: (CRM table no., field no.) → (column, kind, option values by index; None = no value) for the Dataverse side (BC:
#: table 5341 "CRM Account", field 54 StateCode (Active 0, Inactive 1) and field 6 CustomerTypeCode (" " -1,
#: Competitor 1 … Other 12)).
DATAVERSE_FILTER_FIELDS: dict[tuple[int, int], tuple[str, str, tuple[Any, ...]]] = {
    (5341, 54): ("statecode", "number", (0, 1)),
    (5341, 6): ("customertypecode", "number", (None, *range(1, 13))),
}

_WHERE = re.compile(r"WHERE\((.*)\)\s*$", re.DOTALL)
_CONDITION = re.compile(r"^Field(\d+)=([01])\((.*)\)$", re.DOTALL)


class Outcome:
    """What the import does with one BC coupling (the preview's words)."""

    IMPORT = "to import"
    ALREADY = "already coupled"
    CONFLICT = "conflict"
    MISSING = "record missing"
    UNMAPPED = "no portal mapping"


@dataclass
class CouplingLine:
    """One BC coupling (a row of table 5331) and what the import does with it (``outcome``, ``reason``)."""

    table_id: int
    bc_table: str
    bc_id: uuid.UUID | None
    dataverse_table: str
    dataverse_id: uuid.UUID | None
    skipped: bool
    record: dict[str, Any]
    outcome: str = Outcome.IMPORT
    reason: str = ""


@dataclass
class FilterLine:
    """One filter of one of BC's table mappings: BC's text, the portal mapping it goes to, and the OData filter it
    converts to (``odata`` None when it cannot be converted; ``problem`` says why)."""

    bc_mapping: str
    mapping: IntegrationTableMapping | None
    side: str  # "table_filter" or "integration_table_filter"
    bc_text: str
    odata: str | None
    problem: str = ""

    @property
    def side_label(self) -> str:
        """BC's name of the filter (table 5335 field Table Filter or Integration Table Filter)."""
        return "Table Filter" if self.side == "table_filter" else "Integration Table Filter"


@dataclass
class BCImportPreview:
    """What :func:`bc_import_apply` would do: every BC coupling with its outcome, every filter with its conversion."""

    couplings: list[CouplingLine] = field(default_factory=list)
    filters: list[FilterLine] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        """``{BC table: {outcome: n}}`` (tables sorted; outcomes as :class:`Outcome` words)."""
        counts: dict[str, Counter[str]] = {}
        for line in self.couplings:
            counts.setdefault(line.bc_table or f"table {line.table_id}", Counter())[line.outcome] += 1
        return {table: dict(counter) for table, counter in sorted(counts.items())}

    @property
    def to_import(self) -> list[CouplingLine]:
        return [line for line in self.couplings if line.outcome == Outcome.IMPORT]

    @property
    def problems(self) -> list[CouplingLine]:
        """Couplings that will not be imported, and why (conflicts, missing records, unmapped tables)."""
        return [line for line in self.couplings if line.outcome not in (Outcome.IMPORT, Outcome.ALREADY)]

    @property
    def filters_converted(self) -> list[FilterLine]:
        return [line for line in self.filters if line.odata is not None and line.mapping is not None]


@dataclass
class BCImportResult:
    """What an import did: couplings created (of them skipped), filters set (``"MAPPING: side"``)."""

    coupled: int
    skipped: int
    filters_set: list[str]
    preview: BCImportPreview


# ---- filters (BC: table 5335, Table Filter and Integration Table Filter) ---------------------------------------------
def _split_conditions(text: str) -> list[str]:
    """Split ``a=1(x),b=0(y)`` at the commas outside parentheses."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]


def _literal(kind: str, values: tuple[Any, ...], raw: str) -> str:
    """One BC filter value as an OData literal; raises ValueError when it cannot be converted."""
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        raw = raw[1:-1]
    if not raw or any(token in raw for token in ("..", "*", "@", "&", "<", ">", "=")):
        raise ValueError(f"the value {raw!r} is not a plain value")
    if kind == "boolean":
        if raw not in ("0", "1", "No", "Yes"):
            raise ValueError(f"{raw!r} is not a Boolean")
        return "true" if raw in ("1", "Yes") else "false"
    if values:
        if not raw.isdigit() or int(raw) >= len(values) or values[int(raw)] is None:
            raise ValueError(f"{raw!r} is not an option index the portal knows")
        value = values[int(raw)]
        return str(value) if kind == "number" else "'" + str(value).replace("'", "''") + "'"
    return "'" + raw.replace("'", "''") + "'"


def filter_convert(table_no: int, view: str, fields: dict[tuple[int, int], tuple[str, str, tuple[Any, ...]]]
                   ) -> tuple[str | None, str]:
    """Convert BC's stored table view ``view`` of table ``table_no`` to an OData ``$filter`` over ``fields`` (the
    catalogue's names). Returns (filter, "") — ``""`` for a view without WHERE — or (None, why not).

    Conditions ``Field<n>=0(<v>)`` (CONST) and ``Field<n>=1(<filter>)`` (FILTER) join with ``and``; a filter of
    ``v1|v2`` becomes ``(p eq v1 or p eq v2)`` (an ``or`` on one field, which BC's OData accepts), ``<>v`` becomes
    ``p ne v``."""
    view = (view or "").strip()
    if not view:
        return "", ""
    where = _WHERE.search(view)
    if not where:
        return ("", "") if view.startswith(("VERSION(", "SORTING(")) else (None, f"{view!r} is not a table view")
    clauses = []
    for condition in _split_conditions(where.group(1)):
        match = _CONDITION.match(condition)
        if not match:
            return None, f"the condition {condition!r} is not in the field-number form"
        number = int(match.group(1))
        if (table_no, number) not in fields:
            return None, f"field {number} of table {table_no} has no counterpart the portal knows"
        prop, kind, values = fields[(table_no, number)]
        expression = match.group(3)
        try:
            if expression.startswith("<>") and "|" not in expression:
                clauses.append(f"{prop} ne {_literal(kind, values, expression[2:])}")
                continue
            literals = [_literal(kind, values, part) for part in expression.split("|")]
        except ValueError as error:
            return None, f"field {number} of table {table_no}: {error}"
        terms = [f"{prop} eq {literal}" for literal in literals]
        clauses.append(terms[0] if len(terms) == 1 else "(" + " or ".join(terms) + ")")
    return " and ".join(clauses), ""


def _portal_mapping(row: dict[str, Any], mappings: list[IntegrationTableMapping]) -> IntegrationTableMapping | None:
    """The portal mapping of one of BC's table mappings: the one of the same name, else the only one of its table."""
    named = [m for m in mappings if m.name == row.get("name")]
    if named:
        return named[0]
    table = BC_TABLE_NUMBERS.get(int(row.get("tableId") or 0))
    same_table = [m for m in mappings if m.table == table]
    return same_table[0] if len(same_table) == 1 else None


def _filter_lines(rows: list[dict[str, Any]], mappings: list[IntegrationTableMapping]) -> list[FilterLine]:
    lines = []
    for row in rows:
        mapping = _portal_mapping(row, mappings)
        for side, key, table_key, fields in (
                ("table_filter", "tableFilter", "tableId", BC_FILTER_FIELDS),
                ("integration_table_filter", "integrationTableFilter", "integrationTableId", DATAVERSE_FILTER_FIELDS)):
            text = str(row.get(key) or "")
            if not text.strip():
                continue
            odata, problem = filter_convert(int(row.get(table_key) or 0), text, fields)
            if mapping is None:
                problem = problem or f"no portal mapping corresponds to BC's mapping {row.get('name')}"
            elif odata is not None:
                try:
                    validate_table_mapping_change(mapping, {side: odata})
                except ValidationError as error:
                    odata, problem = None, " ".join(error.messages)
            lines.append(FilterLine(str(row.get("name") or ""), mapping, side, text, odata, problem))
    return lines


# ---- couplings (BC: table 5331 CRM Integration Record) ---------------------------------------------------------------
def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def _coupling_lines(connection: ConnectionSetup, records: list[dict[str, Any]],
                    mappings: list[IntegrationTableMapping], bc: BusinessCentralClient) -> list[CouplingLine]:
    by_table: dict[str, set[str]] = {}
    for mapping in mappings:
        by_table.setdefault(mapping.table, set()).add(mapping.coupling_dataverse_table)
    lines: list[CouplingLine] = []
    for record in records:
        table_id = int(record.get("tableId") or 0)
        bc_table = BC_TABLE_NUMBERS.get(table_id, "")
        targets = sorted(by_table.get(bc_table, ()))
        line = CouplingLine(table_id, bc_table, _uuid(record.get("integrationId")), targets[0] if targets else "",
                            _uuid(record.get("crmId")), bool(record.get("skipped")), record)
        if line.bc_id is None or line.dataverse_id is None:
            line.outcome, line.reason = Outcome.CONFLICT, "the coupling has no Integration ID or no CRM ID"
        elif not bc_table or not targets:
            line.outcome = Outcome.UNMAPPED
            line.reason = f"the portal has no mapping of BC table {table_id}" + (f" ({bc_table})" if bc_table else "")
        elif len(targets) > 1:
            line.outcome = Outcome.UNMAPPED
            line.reason = f"{bc_table} is mapped to several Dataverse tables ({', '.join(targets)})"
        lines.append(line)
    _mark_conflicts(connection, [line for line in lines if line.outcome == Outcome.IMPORT])
    _mark_missing(connection, [line for line in lines if line.outcome == Outcome.IMPORT], bc)
    return lines


def _mark_conflicts(connection: ConnectionSetup, lines: list[CouplingLine]) -> None:
    """Compare with the portal's couplings (and with the other BC couplings): the same pair is already coupled; a
    record or row coupled to another counterpart is a conflict (one-to-one, BC: table 5331)."""
    existing = Coupling.objects.filter(connection=connection)
    by_bc = {(c.bc_table, c.bc_id, c.dataverse_table): c.dataverse_id for c in existing.filter(
        bc_id__in=[line.bc_id for line in lines])}
    by_row = {(c.dataverse_table, c.dataverse_id): (c.bc_table, c.bc_id) for c in existing.filter(
        dataverse_id__in=[line.dataverse_id for line in lines])}
    seen_bc: set[tuple[str, uuid.UUID | None, str]] = set()
    seen_row: set[tuple[str, uuid.UUID | None]] = set()
    for line in lines:
        bc_key, row_key = (line.bc_table, line.bc_id, line.dataverse_table), (line.dataverse_table, line.dataverse_id)
        held = by_bc.get(bc_key)
        if held == line.dataverse_id:
            line.outcome, line.reason = Outcome.ALREADY, "the portal couples the same pair"
        elif held is not None:
            line.outcome = Outcome.CONFLICT
            line.reason = f"the portal couples this {line.bc_table} record to the {line.dataverse_table} row {held}"
        elif row_key in by_row:
            line.outcome = Outcome.CONFLICT
            line.reason = (f"the portal couples this {line.dataverse_table} row to the {by_row[row_key][0]} record "
                           f"{by_row[row_key][1]}")
        elif bc_key in seen_bc or row_key in seen_row:
            line.outcome, line.reason = Outcome.CONFLICT, "BC couples this record or row twice"
        seen_bc.add(bc_key)
        seen_row.add(row_key)


def _mark_missing(connection: ConnectionSetup, lines: list[CouplingLine], bc: BusinessCentralClient) -> None:
    """A coupling whose BC record or Dataverse row no longer exists is not imported (BC keeps such couplings until
    its "Delete Couplings" or a synchronization finds them)."""
    pending = [line for line in lines if line.outcome == Outcome.IMPORT]
    for bc_table in sorted({line.bc_table for line in pending}):
        ids = [line.bc_id for line in pending if line.bc_table == bc_table]
        found = {record.id for record in bc_records(connection, bc_table, ids=ids, bc=bc)}
        for line in pending:
            if line.bc_table == bc_table and line.bc_id not in found:
                line.outcome, line.reason = Outcome.MISSING, f"BC has no {bc_table} record {line.bc_id}"
    pending = [line for line in pending if line.outcome == Outcome.IMPORT]
    for dataverse_table in sorted({line.dataverse_table for line in pending}):
        ids = [line.dataverse_id for line in pending if line.dataverse_table == dataverse_table]
        found = {row.id for row in dataverse_rows(connection, dataverse_table, ids=ids)}
        for line in pending:
            if line.dataverse_table == dataverse_table and line.dataverse_id not in found:
                line.outcome = Outcome.MISSING
                line.reason = f"Dataverse has no {dataverse_table} row {line.dataverse_id}"


# ---- preview and import ----------------------------------------------------------------------------------------------
def bc_integration_read(*, connection: ConnectionSetup, bc: BusinessCentralClient | None = None
                        ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """BC's couplings (``crmIntegrationRecords``) and table mappings (``integrationTableMappings``) of the
    connection's company, read page by page through the companion extension. Raises the clients' ClientError (a
    404 ``NotFoundError`` when the extension is not installed)."""
    bc = bc or business_central_client_for(connection)
    return (list(bc.iter_rows("crmIntegrationRecords", api=CUSTOM_API)),
            list(bc.iter_rows("integrationTableMappings", api=CUSTOM_API)))


def bc_import_preview(*, connection: ConnectionSetup, records: list[dict[str, Any]] | None = None,
                      table_mappings: list[dict[str, Any]] | None = None,
                      bc: BusinessCentralClient | None = None) -> BCImportPreview:
    """What an import would do (nothing is written). ``records`` and ``table_mappings`` are BC's rows as
    :func:`bc_integration_read` returns them (read when omitted). Reads BC and Dataverse to find couplings whose
    record or row no longer exists; raises the clients' ClientError when a side cannot be read."""
    bc = bc or business_central_client_for(connection)
    if records is None or table_mappings is None:
        records, table_mappings = bc_integration_read(connection=connection, bc=bc)
    mappings = list(IntegrationTableMapping.objects.filter(connection=connection))
    return BCImportPreview(couplings=_coupling_lines(connection, records, mappings, bc),
                           filters=_filter_lines(table_mappings, mappings))


def _result(value: Any) -> str:
    return value if value in (Coupling.Result.SUCCESS, Coupling.Result.FAILURE) else Coupling.Result.NONE


def bc_import_apply(*, connection: ConnectionSetup, records: list[dict[str, Any]] | None = None,
                    table_mappings: list[dict[str, Any]] | None = None,
                    bc: BusinessCentralClient | None = None) -> BCImportResult:
    """Import BC's couplings and converted filters, as :func:`bc_import_preview` (computed afresh) lists them, in one
    transaction: each coupling through ``coupling_create`` (one-to-one), with BC's Skipped flag, last synchronized
    timestamps (UTC) and results; each converted filter onto its portal mapping. Couplings and filters the preview
    reports as problems are left out. Raises ValidationError (nothing written) when a coupling conflicts meanwhile,
    and the clients' ClientError when a side cannot be read."""
    preview = bc_import_preview(connection=connection, records=records, table_mappings=table_mappings, bc=bc)
    coupled = skipped = 0
    filters_set: list[str] = []
    with transaction.atomic():
        for line in preview.to_import:
            try:
                coupling = coupling_create(connection=connection, bc_table=line.bc_table, bc_id=line.bc_id,
                                           dataverse_table=line.dataverse_table, dataverse_id=line.dataverse_id)
            except CouplingConflict as error:
                raise ValidationError(f"Nothing was imported: {error.messages[0]}") from None
            coupling.skipped = line.skipped
            coupling.last_synch_modified_on = parse_datetime(str(line.record.get("lastSynchModifiedOn") or ""))
            coupling.last_synch_crm_modified_on = parse_datetime(str(line.record.get("lastSynchCrmModifiedOn") or ""))
            coupling.last_synch_result = _result(line.record.get("lastSynchResult"))
            coupling.last_synch_crm_result = _result(line.record.get("lastSynchCrmResult"))
            coupling.save(update_fields=["skipped", "last_synch_modified_on", "last_synch_crm_modified_on",
                                         "last_synch_result", "last_synch_crm_result"])
            coupled += 1
            skipped += int(line.skipped)
        for filter_line in preview.filters_converted:
            mapping = filter_line.mapping
            assert mapping is not None
            setattr(mapping, filter_line.side, filter_line.odata)
            mapping.save(update_fields=[filter_line.side])
            filters_set.append(f"{mapping.name}: {filter_line.side.replace('_', ' ')}")
    return BCImportResult(coupled=coupled, skipped=skipped, filters_set=filters_set, preview=preview)
