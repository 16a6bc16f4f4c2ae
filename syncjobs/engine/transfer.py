"""Field transfer: integration field mappings, constants, transformation rules, foreign keys through couplings and
option sets (BC: codeunit 5336 "Integration Record Synch.", reference 3.2 and 6.3 step 5).

Payloads are *logical*: a Dataverse payload maps column logical names to values, lookup columns to a UUID (or None)
and is turned into ``<navigation property>@odata.bind`` only by the writer; a BC payload maps API properties to
values. Foreign keys are translated through the couplings of the connection: BC code -> coupled Dataverse id and
back (reference 6.3 step 5; 10 for the owner). Option sets are matched by label (reference 6.3 step 5, "CRM Option
Mapping").
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from connections.clients.errors import ClientError
from connections.models import ConnectionSetup
from mappings.models import Coupling, Direction, IntegrationFieldMapping, IntegrationTableMapping
from syncjobs.engine.errors import RecordFailure, SynchronizationNotPossible, not_coupled_failure
from syncjobs.engine.schema import BCTableInfo, DVTableInfo, bc_info, dv_info

# Transformation rules the engine applies before transfer (reference 3.2 field 13).
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
    """The field rules of ``mapping`` for a pass in ``direction`` (BC: BuildTempIntegrationFieldMapping, 6.1):
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


class Resolver:
    """Translates foreign keys through the couplings of one connection, caching per pass.

    BC -> Dataverse: a BC code ("JO", "EUR", "10000") of the BC table coupled to the lookup's target table ->
    the BC record's SystemId (one paged read of that table, cached) -> its coupling -> the Dataverse id.
    Dataverse -> BC: the reverse. A blank currency code is the local currency: the connection's base currency
    (BC: LCY). ``bc_client`` is a BusinessCentralClient.
    """

    def __init__(self, *, connection: ConnectionSetup, bc_client: Any, dv_client: Any = None) -> None:
        self.connection = connection
        self.bc_client = bc_client
        self.dv_client = dv_client
        self._bc_tables: dict[str, list[str]] = {}
        self._codes: dict[str, tuple[dict[str, UUID], dict[UUID, str]]] = {}
        self._couplings: dict[tuple[str, str], tuple[dict[UUID, UUID], dict[UUID, UUID]]] = {}
        self._company_customers: dict[str, UUID] | None = None

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
            info = bc_info(bc_table)
            by_code: dict[str, UUID] = {}
            by_id: dict[UUID, str] = {}
            owner = UNIT_TABLES.get(bc_table)
            if info.natural_key:
                select = [info.key, info.natural_key] + ([owner[0]] if owner else [])
                for row in self.bc_client.iter_rows(info.entity_set, select=select, api=info.api):
                    code = str(row.get(info.natural_key) or "")
                    if owner:  # units of measure of one item/resource: keyed "<item no.>|<code>"
                        code = f"{row.get(owner[0]) or ''}|{code}"
                    ident = UUID(str(row[info.key]))
                    by_code[code.upper()] = ident
                    by_id[ident] = code
            self._codes[bc_table] = (by_code, by_id)
        return self._codes[bc_table]

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

    def picklist_options(self, table: str, column: str) -> dict[int, str]:
        """The options {value: label} of a Dataverse choice column, read once per pass from the attribute
        metadata (protocols.md B17); {} when the metadata cannot be read."""
        key = (table, column)
        cache: dict[tuple[str, str], dict[int, str]] = self.__dict__.setdefault("_options", {})
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
            if target == "transactioncurrency" and self.connection.base_currency_id:
                return self.connection.base_currency_id, "Currency"
            return None, ""
        tables = self.bc_tables_for(target)
        for bc_table in tables:
            unit_owner = UNIT_TABLES.get(bc_table)
            if unit_owner and (owner is None or owner[0] != unit_owner[1]):
                continue
            key = f"{owner[1]}|{code}" if unit_owner and owner else str(code)
            by_code, _ = self._code_maps(bc_table)
            bc_id = by_code.get(key.upper())
            if bc_id is None:
                continue
            forward, _ = self._coupling_maps(bc_table, target)
            if bc_id in forward:
                return forward[bc_id], bc_table
        return None, tables[0] if tables else ""

    def customer_of_company_contact(self, contact_number: str) -> UUID | None:
        """The SystemId of the customer a BC company contact is linked to through its Contact Business Relation
        (Link to Table = Customer), or None when it has none. All relations are read once per pass from API v2.0
        ``contactsInformation`` (protocols.md D10), never per record.

        Raises SynchronizationNotPossible when Business Central does not serve ``contactsInformation``."""
        if self._company_customers is None:
            links: dict[str, UUID] = {}
            try:
                for row in self.bc_client.iter_rows("contactsInformation", filter="relatedType eq 'Customer'",
                                                    select=["contactNumber", "relatedId", "relatedType"]):
                    if row.get("relatedType") == "Customer" and _as_uuid(row.get("relatedId")) is not None:
                        links.setdefault(str(row.get("contactNumber") or "").upper(), UUID(str(row["relatedId"])))
            except ClientError as error:
                raise SynchronizationNotPossible(
                    f"Business Central did not answer the contact business relations (contactsInformation): {error}; "
                    "the account of a contact's company is found through them"
                ) from error
            self._company_customers = links
        return self._company_customers.get(str(contact_number).upper())

    def account_of_company_contact(self, *, contact_number: str, record: str, field_name: str) -> UUID | None:
        """The Dataverse account of a BC company contact: contact number -> its Contact Business Relation with
        Link to Table = Customer -> that customer -> the account coupled to it (BC: CRM Synch. Helper,
        FindNewValueForSpecialMapping / FindParentCRMAccountForOpportunity, OPPORTUNITY "Contact Company No." ->
        ParentAccountId, reference 4.B).

        Returns None when the company contact is not linked to a customer (a prospect): BC leaves ParentAccountId
        empty then, and so do we. Raises RecordFailure naming ``record``, the customer and the fix when the linked
        customer is not coupled to an account (where BC silently leaves the field empty, we say which customer to
        synchronize first; "Clear Value on Failed Sync" gives BC's behaviour)."""
        customer_id = self.customer_of_company_contact(contact_number)
        if customer_id is None:
            return None
        forward, _ = self._coupling_maps("Customer", "account")
        if customer_id in forward:
            return forward[customer_id]
        _, by_id = self._code_maps("Customer")
        raise not_coupled_failure(record=record, field_name=field_name, referenced_table="Customer",
                                  value=f"{by_id.get(customer_id, customer_id)} (of contact {contact_number})",
                                  destination_table="account")

    def bc_code(self, *, target: str, dataverse_id: UUID | None) -> tuple[str | None, str]:
        """The BC code coupled to Dataverse row ``dataverse_id`` of ``target``; returns (code or None, BC table).

        The connection's base currency is the blank (local) currency code."""
        if dataverse_id is None:
            return "", ""
        if target == "transactioncurrency" and self.connection.base_currency_id == dataverse_id:
            return "", "Currency"
        tables = self.bc_tables_for(target)
        for bc_table in tables:
            _, backward = self._coupling_maps(bc_table, target)
            bc_id = backward.get(dataverse_id)
            if bc_id is None:
                continue
            _, by_id = self._code_maps(bc_table)
            if bc_id in by_id:
                return by_id[bc_id].split("|")[-1], bc_table  # a unit's code without its item number
        return None, tables[0] if tables else ""


def constant_for(constant: str, column_type: str) -> Any:
    """A constant value evaluated into the destination column's type (reference 3.2 field 7): "1"/"true"/"yes" for
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


#: BC fields holding a company contact's number: an account lookup fed by one resolves through the contact's
#: business relation to a customer, not by looking the number up among customer numbers (BC: CRM Int. Table.
#: Subscriber; reference 4.B OPPORTUNITY "Contact Company No." -> ParentAccountId).
COMPANY_CONTACT_FIELDS = frozenset({"Contact Company No."})

#: BC tables whose code is unique per item/resource: the API property naming the owner and the owner's table.
UNIT_TABLES = {
    "Item Unit of Measure": ("itemNumber", "Item"),
    "Resource Unit of Measure": ("resourceNumber", "Resource"),
}


def _transform(rule: FieldRule, value: Any) -> Any:
    return TRANSFORMATIONS[rule.transformation](value)


def _as_uuid(value: Any) -> UUID | None:
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
    record: str,
) -> dict[str, Any]:
    """The Dataverse payload for BC ``row`` (API properties) under ``rules`` (reference 6.3 step 5).

    Returns a logical payload (lookups as UUID or None; polymorphic owner/customer types under "<col>type").
    A company contact number (:data:`COMPANY_CONTACT_FIELDS`) feeding an account lookup resolves through the
    contact's business relation to a customer (:meth:`Resolver.account_of_company_contact`; a prospect company, linked
    to no customer, leaves it empty as in BC); a "Contact No." that is the company contact itself leaves the contact
    lookup empty (company contacts are not Dataverse contacts).
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
            payload[column] = str(value)  # polymorphic target type (OwnerIdType = 'systemuser', reference 4.B)
            continue
        if column in dv.lookups and rule.source in COMPANY_CONTACT_FIELDS and "account" in dv.lookups[column].targets:
            if value in (None, ""):
                if not rule.not_null:
                    payload[column] = None
                continue
            try:
                payload[column] = resolver.account_of_company_contact(contact_number=str(value), record=record,
                                                                      field_name=rule.source)
            except RecordFailure:
                if not rule.clear_on_fail:
                    raise
                payload[column] = None
            if payload[column] is not None:
                payload[f"{column}type"] = "account"
            continue
        if (column in dv.lookups and rule.source == "Contact No." and dv.lookups[column].targets == ("contact",)
                and value not in (None, "") and "Contact Company No." in bc.fields
                and str(row.get(bc.fields["Contact Company No."]) or "") == str(value)):
            # The opportunity's contact is the company itself: company contacts are not Dataverse contacts (6.2
            # step 3); the company arrives as the parent account ("Contact Company No.") instead.
            if not rule.not_null:
                payload[column] = None
            continue
        if column in dv.lookups:
            lookup = dv.lookups[column]
            wanted = payload.get(f"{column}type") or ("systemuser" if column == "ownerid" else None)
            targets = [wanted] if wanted in lookup.targets else list(lookup.targets)
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
                                          destination_table=targets[0] if targets else column)
            if target_id is None and rule.not_null:
                continue  # Not Null: a null source keeps the destination's value (reference 3.2 field 12)
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
    """The BC payload (API properties) for Dataverse ``row`` under ``rules`` (reference 6.3 step 5, 10).

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
            ident = _as_uuid(row.get(dv.read_name(column)))
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
                if column == "ownerid" and target == "team":
                    continue  # team-owned rows keep the BC salesperson (reference 10)
                raise RecordFailure(
                    message=f"{record}: {column} {ident} is not coupled to a Business Central "
                            f"{bc_table or 'record'}",
                    field_name=column,
                    fix=("couple the user under Couple Salespersons" if targets and targets[0] == "systemuser" else
                         f"couple it on the coupled records page of the mapping for {bc_table or targets[0]}")
                    + "; then retry this record",
                )
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
    return _as_uuid(value) if column in dv.lookups else value


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
    """Turn a logical Dataverse payload into Web API JSON: lookups become ``<nav>@odata.bind`` (protocols.md B5)."""
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


def record_label(table: str, row: dict[str, Any], key: str) -> str:
    """A record's name for messages: "Item 1000", "product Bicycle"."""
    value = row.get(key) if key else None
    return f"{table} {value}" if value not in (None, "") else table


def dv_info_for(mapping: IntegrationTableMapping) -> DVTableInfo:
    """The Dataverse table of ``mapping``."""
    return dv_info(mapping.integration_table)


def bc_info_for(mapping: IntegrationTableMapping) -> BCTableInfo:
    """The BC table of ``mapping``."""
    return bc_info(mapping.table)
