"""Field transfer: integration field mappings, constants, transformation rules, foreign keys through couplings and
option sets (BC: codeunit 5336 "Integration Record Synch."; table 5336 "Integration Field Mapping").

Payloads are *logical*: a Dataverse payload maps column logical names to values, lookup columns to a UUID (or None)
and is turned into ``<navigation property>@odata.bind`` only by the writer; a BC payload maps API properties to
values. Foreign keys are translated through the couplings of the connection: BC code -> coupled Dataverse id and
back (BC: codeunit 5336 "Integration Record Synch.", foreign keys of mapped tables). Option sets are matched by label
(BC: table "CRM Option Mapping").

Nothing here knows a table by name: what differs per table comes from the table rules as a :class:`ForeignKeyRules`
(given to the :class:`Resolver`) and a :data:`LookupHook` (given to :func:`bc_to_dataverse`).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from connections.clients.errors import ClientError
from connections.models import ConnectionSetup
from mappings.models import Coupling, Direction, IntegrationFieldMapping, IntegrationTableMapping
from syncjobs.engine.errors import (
    CouplingHints,
    RecordFailure,
    SynchronizationNotPossible,
    not_coupled_failure,
    not_coupled_in_business_central_failure,
)
from syncjobs.engine.schema import BCTableInfo, DVTableInfo, bc_info, dv_info

# Transformation rules the engine applies before transfer (BC: table 5336 "Integration Field Mapping", field
# "Transformation Rule").
TRANSFORMATIONS: dict[str, Callable[[Any], Any]] = {
    "": lambda value: value,
    "UPPERCASE": lambda value: value.upper() if isinstance(value, str) else value,
    "LOWERCASE": lambda value: value.lower() if isinstance(value, str) else value,
    "TRIM": lambda value: value.strip() if isinstance(value, str) else value,
}


@dataclass(frozen=True)
class FieldRule:
    """One enabled integration field mapping seen from one pass: ``source`` -> ``destination``.

    For a ToIntegrationTable pass the source is a BC field and the destination a Dataverse column; for a
    FromIntegrationTable pass the reverse. An empty ``source`` means the ``constant`` is written.
    """

    source: str
    destination: str
    constant: str = ""
    not_null: bool = False
    clear_on_fail: bool = False
    bidirectional: bool = False
    transformation: str = ""


def dv_column(name: str, dv: DVTableInfo | None = None) -> str:
    """The Dataverse logical name of a field mapping's column ("ProductNumber" -> "productnumber"; BC's proxy names
    ending in "Enum" (PaymentTermsCodeEnum) -> the option set column "paymenttermscode")."""
    column = name.strip().lower()
    if dv is not None and column not in dv.columns and column.endswith("enum") and column[:-4] in dv.columns:
        return column[:-4]
    return column


def field_rules(mapping: IntegrationTableMapping, direction: str, dv: DVTableInfo | None = None) -> list[FieldRule]:
    """The field rules of ``mapping`` for a pass in ``direction`` (BC: codeunit 5340 "CRM Integration Table Synch.",
    BuildTempIntegrationFieldMapping):
    enabled field mappings whose direction is the pass direction or Bidirectional.

    Raises SynchronizationNotPossible when there is none (BC: "no field mapping rows for the mapping").
    """
    rows: Iterable[IntegrationFieldMapping] = mapping.field_mappings.filter(
        status=IntegrationFieldMapping.Status.ENABLED, direction__in=[direction, Direction.BIDIRECTIONAL]
    ).order_by("sequence", "id")
    rules: list[FieldRule] = []
    for row in rows:
        bidirectional = row.direction == Direction.BIDIRECTIONAL
        rule_kwargs = dict(
            not_null=row.not_null, clear_on_fail=row.clear_value_on_failed_sync, bidirectional=bidirectional,
            transformation=(row.transformation_rule or "").upper(),
        )
        if direction == Direction.TO_INTEGRATION_TABLE:
            if not row.integration_field_name:
                continue  # a constant written into BC
            rules.append(FieldRule(source=row.field_name, destination=dv_column(row.integration_field_name, dv),
                                   constant=row.constant_value if not row.field_name else "", **rule_kwargs))
        else:
            if not row.field_name:
                continue  # a constant pushed to Dataverse
            source = dv_column(row.integration_field_name, dv) if row.integration_field_name else ""
            rules.append(FieldRule(source=source, destination=row.field_name,
                                   constant=row.constant_value if not row.integration_field_name else "",
                                   **rule_kwargs))
    if not rules:
        raise SynchronizationNotPossible(
            f"Integration table mapping {mapping.name} has no enabled field mapping for direction {direction}: "
            "enable a field mapping or use the default synchronization setup"
        )
    for rule in rules:
        if rule.transformation not in TRANSFORMATIONS:
            raise SynchronizationNotPossible(
                f"Integration table mapping {mapping.name}: unknown transformation rule {rule.transformation!r} on "
                f"{rule.source or rule.constant} -> {rule.destination}; use one of "
                + ", ".join(sorted(t for t in TRANSFORMATIONS if t))
            )
    return rules


def values_equal(left: Any, right: Any) -> bool:
    """Compare two field values the way both services store them: None == "" , numbers by value, GUIDs by text."""
    if left in (None, "") and right in (None, ""):
        return True
    if isinstance(left, bool) or isinstance(right, bool):
        return bool(left) == bool(right) if {type(left), type(right)} <= {bool, int} else str(left) == str(right)
    try:
        if isinstance(left, int | float | Decimal) or isinstance(right, int | float | Decimal):
            return abs(Decimal(str(left)) - Decimal(str(right))) < Decimal("0.000001")
    except (InvalidOperation, TypeError, ValueError):
        return False
    if isinstance(left, str) and isinstance(right, str) and len(left) >= 10 and len(right) >= 10 and (
        left[4:5] == "-" and right[4:5] == "-"
    ):
        return left.rstrip("Z").split(".")[0][: len(right.rstrip("Z"))] == right.rstrip("Z").split(".")[0][: len(left)]
    return str(left).lower() == str(right).lower() if _is_guid(left) or _is_guid(right) else left == right


def _is_guid(value: Any) -> bool:
    if isinstance(value, UUID):
        return True
    try:
        UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        return False
    return True


#: Owners (items, resources) whose owner-scoped codes one filtered request reads (:meth:`Resolver.read_owner_codes`).
OWNER_FILTER_CHUNK = 50


@dataclass(frozen=True)
class ForeignKeyRules:
    """The table-specific parts of foreign key translation, supplied by the table rules (see
    ``syncjobs.engine.rules.registry.foreign_key_rules``); the defaults translate every key the same way.

    * ``blank_codes``: Dataverse table -> (Dataverse id, BC table) that a blank BC code stands for (a blank currency
      code is the local currency: the connection's base currency);
    * ``owner_scoped_codes``: BC table whose codes are unique per owner record only -> (API property holding the
      owner's number, the owner's BC table); such codes are keyed "<owner number>|<code>";
    * ``default_targets``: polymorphic lookup column -> the target table used when the payload names none;
    * ``kept_targets``: (lookup column, target table) pairs whose uncoupled Dataverse value leaves the BC field as it
      is instead of failing the record;
    * ``hints``: how the messages about a missing coupling word particular tables.
    """

    blank_codes: Mapping[str, tuple[UUID, str]] = field(default_factory=dict)
    owner_scoped_codes: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    default_targets: Mapping[str, str] = field(default_factory=dict)
    kept_targets: frozenset[tuple[str, str]] = frozenset()
    hints: CouplingHints = field(default_factory=CouplingHints)


@dataclass(frozen=True)
class LookupOutcome:
    """What a :data:`LookupHook` decided for one Dataverse lookup column: write ``value`` (a Dataverse id or None) with
    ``target`` as its table when not empty, or leave the column out of the payload (``write`` False)."""

    value: UUID | None = None
    target: str = ""
    write: bool = True


#: A table rule's say on one lookup column of a BC -> Dataverse transfer: called with the field rule, the source
#: value (transformed), the BC row and the record's name for messages; returns None to let the couplings translate
#: the value as usual. May raise RecordFailure naming the record, the field and the fix.
LookupHook = Callable[["FieldRule", Any, dict[str, Any], str], LookupOutcome | None]


class Resolver:
    """Translates foreign keys through the couplings of one connection, caching per pass.

    BC -> Dataverse: a BC code ("JO", "EUR", "10000") of the BC table coupled to the lookup's target table ->
    the BC record's SystemId (one paged read of that table, cached) -> its coupling -> the Dataverse id.
    Dataverse -> BC: the reverse. ``keys`` holds the table rules' exceptions (blank codes, codes unique per owner,
    default and kept lookup targets). ``bc_client`` is a BusinessCentralClient, ``dv_client`` a DataverseClient
    (only needed for choice columns' options).
    """

    def __init__(self, *, connection: ConnectionSetup, bc_client: Any, dv_client: Any = None,
                 keys: ForeignKeyRules | None = None) -> None:
        self.connection = connection
        self.bc_client = bc_client
        self.dv_client = dv_client
        self.keys = keys or ForeignKeyRules()
        self._bc_tables: dict[str, list[str]] = {}
        self._codes: dict[str, tuple[dict[str, UUID], dict[UUID, str]]] = {}
        #: Owner-scoped code tables read owner by owner (:meth:`read_owner_codes`): upper-case owners read so far.
        self._owners_read: dict[str, set[str]] = {}
        self._couplings: dict[tuple[str, str], tuple[dict[UUID, UUID], dict[UUID, UUID]]] = {}
        self._options: dict[tuple[str, str], dict[int, str]] = {}

    def bc_tables_for(self, dataverse_table: str) -> list[str]:
        """BC tables coupled to ``dataverse_table`` by the connection's mappings ("product" -> Item, Resource)."""
        if dataverse_table not in self._bc_tables:
            try:
                primary_id = dv_info(dataverse_table).primary_id
            except SynchronizationNotPossible:
                primary_id = f"{dataverse_table}id"
            # Option-set mappings (PAYMENT TERMS -> account.paymenttermscode) are keyed by a column, not the row id.
            rows = IntegrationTableMapping.objects.filter(
                connection=self.connection, integration_table=dataverse_table,
                integration_table_uid_field__in=["", primary_id],
            ).order_by("priority", "name").values_list("table", flat=True)
            self._bc_tables[dataverse_table] = list(dict.fromkeys(rows))
        return self._bc_tables[dataverse_table]

    def _code_maps(self, bc_table: str) -> tuple[dict[str, UUID], dict[UUID, str]]:
        if bc_table not in self._codes:
            self._read_codes(bc_table)
        return self._codes[bc_table]

    def _read_codes(self, bc_table: str, filter_: str | None = None) -> None:
        """Read ``bc_table``'s records (all, or those of ``filter_``) into its code map."""
        info = bc_info(bc_table)
        by_code, by_id = self._codes.setdefault(bc_table, ({}, {}))
        owner = self.keys.owner_scoped_codes.get(bc_table)
        if not info.natural_key:
            return
        select = [info.key, info.natural_key] + ([owner[0]] if owner else [])
        for row in self.bc_client.iter_rows(info.entity_set, select=select, filter=filter_, api=info.api):
            code = str(row.get(info.natural_key) or "")
            if owner:  # codes of one owner record (its units of measure): keyed "<owner no.>|<code>"
                code = f"{row.get(owner[0]) or ''}|{code}"
            ident = UUID(str(row[info.key]))
            by_code[code.upper()] = ident
            by_id[ident] = code

    def read_owner_codes(self, bc_table: str, owners: Iterable[str]) -> None:
        """Have the codes of ``owners`` (numbers of items or resources) of the owner-scoped code table ``bc_table``
        (their units of measure) at hand for this pass: with one filtered request (``itemNumber eq 'A' or …``) when
        at most :data:`OWNER_FILTER_CHUNK` owners are missing and the table was not read whole, else by reading the
        whole table as a first lookup does. A table rule calls it per page (``prefetch``), so that an incremental
        run with a few changed items does not read every unit of every item. Raises the client's ClientError."""
        owner = self.keys.owner_scoped_codes.get(bc_table)
        if owner is None or (bc_table in self._codes and bc_table not in self._owners_read):
            return  # not owner-scoped, or read whole already
        read = self._owners_read.get(bc_table, set())
        missing = sorted({number for number in owners if number and number.upper() not in read})
        if not missing:
            return
        if len(missing) > OWNER_FILTER_CHUNK:
            self._owners_read.pop(bc_table, None)
            self._codes.pop(bc_table, None)
            self._read_codes(bc_table)
            return
        self._read_codes(bc_table, " or ".join(f"{owner[0]} eq '{number.replace(chr(39), chr(39) * 2)}'"
                                               for number in missing))
        self._owners_read[bc_table] = read | {number.upper() for number in missing}

    def _coupling_maps(self, bc_table: str, dataverse_table: str) -> tuple[dict[UUID, UUID], dict[UUID, UUID]]:
        key = (bc_table, dataverse_table)
        if key not in self._couplings:
            forward: dict[UUID, UUID] = {}
            backward: dict[UUID, UUID] = {}
            for bc_id, dv_id in Coupling.objects.filter(
                connection=self.connection, bc_table=bc_table, dataverse_table=dataverse_table, is_pending=False
            ).values_list("bc_id", "dataverse_id").iterator(chunk_size=5000):
                forward[bc_id] = dv_id
                backward[dv_id] = bc_id
            self._couplings[key] = (forward, backward)
        return self._couplings[key]

    def coupled_dataverse_id(self, *, bc_table: str, dataverse_table: str, bc_id: UUID) -> UUID | None:
        """The Dataverse id coupled to BC record ``bc_id`` of ``bc_table`` in ``dataverse_table`` (settled couplings
        only, read once per table pair and pass); None when it is not coupled."""
        forward, _ = self._coupling_maps(bc_table, dataverse_table)
        return forward.get(bc_id)

    def coupled_ids(self, *, bc_table: str, dataverse_table: str) -> dict[UUID, UUID]:
        """{BC id: Dataverse id} of the settled couplings of a table pair (read once per table pair and pass)."""
        return self._coupling_maps(bc_table, dataverse_table)[0]

    def code_of(self, *, bc_table: str, bc_id: UUID) -> str | None:
        """The code (number) of BC record ``bc_id`` of ``bc_table`` (one paged read of the table per pass); None when
        the table has no such record."""
        _, by_id = self._code_maps(bc_table)
        return by_id.get(bc_id)

    def picklist_options(self, table: str, column: str) -> dict[int, str]:
        """The options {value: label} of a Dataverse choice column, read once per pass from the attribute
        metadata (Microsoft Learn: "Query table definitions using the Web API"); {} when the metadata cannot be
        read."""
        key = (table, column)
        cache = self._options
        if key not in cache:
            options: dict[int, str] = {}
            if self.dv_client is not None:
                path = (f"EntityDefinitions(LogicalName='{table}')/Attributes(LogicalName='{column}')/"
                        "Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$expand=OptionSet")
                try:
                    metadata = self.dv_client.execute(path)
                except ClientError:
                    metadata = {}
                for option in (metadata.get("OptionSet") or {}).get("Options", []):
                    label = option.get("Label") or {}
                    text = (label.get("UserLocalizedLabel") or {}).get("Label") if isinstance(label, dict) else label
                    options[int(option["Value"])] = str(text or option["Value"])
            cache[key] = options
        return cache[key]

    def remember(self, *, bc_table: str, bc_id: UUID, code: str, dataverse_table: str, dataverse_id: UUID) -> None:
        """Record a coupling made during this pass, so records later in the same pass can refer to it."""
        if bc_table in self._codes:
            self._codes[bc_table][0][code.upper()] = bc_id
            self._codes[bc_table][1][bc_id] = code
        if (bc_table, dataverse_table) in self._couplings:
            self._couplings[(bc_table, dataverse_table)][0][bc_id] = dataverse_id
            self._couplings[(bc_table, dataverse_table)][1][dataverse_id] = bc_id

    def dataverse_id(self, *, target: str, code: str, owner: tuple[str, str] | None = None) -> tuple[UUID | None, str]:
        """The Dataverse ``target`` row coupled to the BC record with ``code``; returns (id or None, BC table).

        ``owner`` = (BC table, number) of the record the code belongs to, for codes that are only unique per
        item or resource (the units of measure of unit group mode: Item 1000's "PCS")."""
        if code in (None, ""):
            if target in self.keys.blank_codes:
                return self.keys.blank_codes[target]
            return None, ""
        tables = self.bc_tables_for(target)
        for bc_table in tables:
            unit_owner = self.keys.owner_scoped_codes.get(bc_table)
            if unit_owner and (owner is None or owner[0] != unit_owner[1]):
                continue
            key = f"{owner[1]}|{code}" if unit_owner and owner else str(code)
            if unit_owner and owner and bc_table in self._owners_read:
                self.read_owner_codes(bc_table, [owner[1]])  # an owner the page's prefetch did not name
            by_code, _ = self._code_maps(bc_table)
            bc_id = by_code.get(key.upper())
            if bc_id is None:
                continue
            forward, _ = self._coupling_maps(bc_table, target)
            if bc_id in forward:
                return forward[bc_id], bc_table
        return None, tables[0] if tables else ""

    def bc_code(self, *, target: str, dataverse_id: UUID | None) -> tuple[str | None, str]:
        """The BC code coupled to Dataverse row ``dataverse_id`` of ``target``; returns (code or None, BC table).

        The Dataverse id a blank code stands for (``keys.blank_codes``: the base currency) is the blank code."""
        if dataverse_id is None:
            return "", ""
        blank = self.keys.blank_codes.get(target)
        if blank is not None and blank[0] == dataverse_id:
            return "", blank[1]
        tables = self.bc_tables_for(target)
        for bc_table in tables:
            _, backward = self._coupling_maps(bc_table, target)
            bc_id = backward.get(dataverse_id)
            if bc_id is None:
                continue
            _, by_id = self._code_maps(bc_table)
            if bc_id in by_id:
                return by_id[bc_id].split("|")[-1], bc_table  # an owner-scoped code without its owner's number
        return None, tables[0] if tables else ""


def constant_for(constant: str, column_type: str) -> Any:
    """A constant value evaluated into the destination column's type (BC: table 5336 "Integration Field Mapping",
    field "Constant Value"): "1"/"true"/"yes" for
    Boolean, numbers for Integer/Decimal/Money/Double; text otherwise (option labels are matched later)."""
    if column_type == "Boolean":
        return constant.strip().lower() in ("1", "true", "yes")
    if column_type in ("Integer", "BigInt"):
        try:
            return int(constant)
        except ValueError:
            return constant
    if column_type in ("Decimal", "Money", "Double"):
        try:
            return float(constant)
        except ValueError:
            return constant
    return constant


def _transform(rule: FieldRule, value: Any) -> Any:
    return TRANSFORMATIONS[rule.transformation](value)


def as_uuid(value: Any) -> UUID | None:
    """``value`` as a UUID; None for None, "" and the empty GUID."""
    if value in (None, "", "00000000-0000-0000-0000-000000000000"):
        return None
    return value if isinstance(value, UUID) else UUID(str(value))


def _normal(text: Any) -> str:
    return "".join(ch for ch in str(text).lower() if ch.isalnum())


def _option_value(options: dict[int, str], value: Any) -> int | None:
    """The option value whose label matches ``value`` ("CurrencyAmount" matches "Currency Amount"); an option value
    itself is accepted. Raises KeyError when none matches."""
    if value in (None, ""):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and (value in options or not options):
        return value
    text = _normal(value)
    for number, label in options.items():
        if _normal(label) == text or str(number) == str(value).strip():
            return number
    raise KeyError(value)


def bc_to_dataverse(
    row: dict[str, Any], *, rules: list[FieldRule], bc: BCTableInfo, dv: DVTableInfo, resolver: Resolver,
    record: str, lookup: LookupHook | None = None,
) -> dict[str, Any]:
    """The Dataverse payload for BC ``row`` (API properties) under ``rules`` (BC: codeunit 5336 "Integration Record
    Synch.", field transfer).

    Returns a logical payload (lookups as UUID or None; polymorphic owner/customer types under "<col>type").
    ``lookup`` is the table rule's hook for lookup columns (a company contact number feeding an account lookup, for
    instance): when it returns a :class:`LookupOutcome` that outcome is written instead of the coupled id.
    Raises RecordFailure naming the record, the field and the fix when a referenced record is not coupled or an
    option has no match (unless the field mapping has "Clear Value on Failed Sync").
    """
    payload: dict[str, Any] = {}
    for rule in rules:
        column = rule.destination
        if rule.source:
            value = row.get(bc.prop(rule.source))
        else:
            value = constant_for(rule.constant, dv.types.get(column, ""))
        value = _transform(rule, value)
        if column.endswith("idtype") and column[:-4] in dv.lookups:
            payload[column] = str(value)  # polymorphic target type (OwnerIdType = 'systemuser': codeunit 5334)
            continue
        if column in dv.lookups and lookup is not None:
            outcome = lookup(rule, value, row, record)
            if outcome is not None:
                if outcome.write:
                    payload[column] = outcome.value
                    if outcome.value is not None and outcome.target:
                        payload[f"{column}type"] = outcome.target
                continue
        if column in dv.lookups:
            targets_of = dv.lookups[column].targets
            wanted = payload.get(f"{column}type") or resolver.keys.default_targets.get(column)
            targets = [wanted] if wanted in targets_of else list(targets_of)
            target_id: UUID | None = None
            bc_table = ""
            owner = (bc.name, str(row.get(bc.natural_key) or "")) if bc.natural_key else None
            for target in targets:
                target_id, bc_table = resolver.dataverse_id(target=target, code=value, owner=owner)
                if target_id is not None:
                    payload[f"{column}type"] = target
                    break
            if value not in (None, "") and target_id is None:
                if rule.clear_on_fail:
                    payload[column] = None
                    continue
                raise not_coupled_failure(record=record, field_name=rule.source or column,
                                          referenced_table=bc_table or "/".join(targets), value=str(value),
                                          destination_table=targets[0] if targets else column,
                                          hints=resolver.keys.hints)
            if target_id is None and rule.not_null:
                continue  # Not Null keeps the destination's value (BC: table 5336, field "Not Null")
            payload[column] = target_id
            continue
        if column in dv.picklists:
            options = resolver.picklist_options(dv.logical_name, column)
            try:
                payload[column] = _option_value(options, value)
            except KeyError:
                if rule.clear_on_fail:
                    payload[column] = None
                    continue
                labels = ", ".join(options.values()) or "(none)"
                raise RecordFailure(
                    message=f"{record}: {rule.source or 'constant'} {value!r} has no matching option in "
                            f"{dv.logical_name}.{column}",
                    field_name=rule.source or column,
                    fix=f"use one of {labels} in Business Central, or add the option in Dataverse",
                ) from None
            continue
        payload[column] = value
    return payload


def dataverse_to_bc(
    row: dict[str, Any], *, rules: list[FieldRule], bc: BCTableInfo, dv: DVTableInfo, resolver: Resolver,
    record: str,
) -> dict[str, Any]:
    """The BC payload (API properties) for Dataverse ``row`` under ``rules`` (BC: codeunit 5336 "Integration Record
    Synch.", field transfer).

    Raises RecordFailure naming the record, the column and the fix when a looked-up row is not coupled.
    """
    payload: dict[str, Any] = {}
    for rule in rules:
        prop = bc.prop(rule.destination)
        if not rule.source:
            payload[prop] = _transform(rule, rule.constant)
            continue
        column = rule.source
        if column in dv.lookups:
            ident = as_uuid(row.get(dv.read_name(column)))
            target = row.get(f"{dv.read_name(column)}@Microsoft.Dynamics.CRM.lookuplogicalname")
            targets = [target] if target else list(dv.lookups[column].targets)
            code: str | None = None
            bc_table = ""
            for candidate in targets:
                code, bc_table = resolver.bc_code(target=candidate, dataverse_id=ident)
                if code is not None:
                    break
            if code is None:
                if rule.clear_on_fail:
                    payload[prop] = ""
                    continue
                if (column, target) in resolver.keys.kept_targets:
                    continue  # e.g. a team-owned row keeps the BC salesperson
                raise not_coupled_in_business_central_failure(record=record, column=column, dataverse_id=ident,
                                                              bc_table=bc_table, targets=targets,
                                                              hints=resolver.keys.hints)
            if code == "" and rule.not_null:
                continue
            payload[prop] = _transform(rule, code)
            continue
        value = row.get(column)
        if column in dv.picklists and value is not None:
            value = resolver.picklist_options(dv.logical_name, column).get(int(value), value)
        payload[prop] = _transform(rule, value)
    return payload


def dataverse_row_value(row: dict[str, Any], column: str, dv: DVTableInfo) -> Any:
    """A column's current value in a retrieved Dataverse row (lookups as UUID)."""
    value = row.get(dv.read_name(column))
    return as_uuid(value) if column in dv.lookups else value


def changed_columns(payload: dict[str, Any], existing: dict[str, Any] | None, dv: DVTableInfo) -> dict[str, Any]:
    """The part of a Dataverse ``payload`` that differs from ``existing`` (all of it when there is none)."""
    if existing is None:
        return dict(payload)
    changed: dict[str, Any] = {}
    for column, value in payload.items():
        if column.endswith("idtype"):
            continue
        if not values_equal(value, dataverse_row_value(existing, column, dv)):
            changed[column] = value
    if changed:
        for column in list(changed):
            if f"{column}type" in payload:
                changed[f"{column}type"] = payload[f"{column}type"]
    return changed


def changed_properties(payload: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    """The part of a BC ``payload`` that differs from the ``existing`` BC record (all of it when there is none)."""
    if existing is None:
        return dict(payload)
    return {prop: value for prop, value in payload.items() if not values_equal(value, existing.get(prop))}


def to_web_api(payload: dict[str, Any], dv: DVTableInfo, *, entity_sets: Callable[[str], str]) -> dict[str, Any]:
    """Turn a logical Dataverse payload into Web API JSON: lookups become ``<nav>@odata.bind`` (Microsoft Learn:
    "Associate and disassociate table rows using the Web API")."""
    body: dict[str, Any] = {}
    for column, value in payload.items():
        if column.endswith("idtype") and column[:-4] in dv.lookups:
            continue
        if column in dv.lookups:
            lookup = dv.lookups[column]
            target = payload.get(f"{column}type") or lookup.targets[0]
            nav = lookup.nav_for(target)
            if value is None:
                body[f"{nav}@odata.bind"] = None
            else:
                body[f"{nav}@odata.bind"] = f"/{entity_sets(target)}({value})"
            continue
        body[column] = str(value) if isinstance(value, UUID) else value
    return body
