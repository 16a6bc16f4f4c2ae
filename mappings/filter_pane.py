"""The filter pane of an integration table mapping: rows of "field caption / operator / value" that build the OData
``$filter`` of the table filter (BC side) and the integration table filter (Dataverse side), and the reverse split of
a stored filter into the rows the pane can show and an "Advanced" rest.

Business Central edits a mapping's filters in a filter pane of field captions (BC: table 5335 Integration Table
Mapping, fields 14 Table Filter and 15 Integration Table Filter, edited through FilterPageBuilder); the portal stores
them as OData ``$filter`` text, so this module turns captions back into the names the APIs filter on: BC API
properties (Microsoft Learn: "Business Central API (v2.0)") and Dataverse column logical names, lookups as
``_<lookup>_value`` (Microsoft Learn: "Query data using the Web API", "Filter rows").

Literals follow "OData Version 4.01. Part 2: URL Conventions" and "OData ABNF Construction Rules": strings in
single quotes with a single quote doubled, numbers, ``true`` / ``false``, dates ``YYYY-MM-DD``, date-times in ISO
8601 with an offset or ``Z``, GUIDs bare, ``null``. BC option fields are strings in the API (``type eq 'Person'``);
Dataverse choices (Picklist, State, Status) are integers (``statecode eq 0``).

Shapes: a :class:`Condition` is (OData name, operator, value as typed); :func:`filter_build` joins conditions and an
advanced expression with ``and``; :func:`filter_split` is its inverse for every expression it can represent (what it
cannot goes to the advanced text unchanged). Errors are ``ValidationError`` naming the row's field caption.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from django.core.exceptions import ValidationError

from mappings.catalogue import bc_table, dataverse_table, validate_filter

Side = Literal["bc", "dataverse"]
Kind = Literal["text", "number", "boolean", "date", "datetime", "guid"]

#: Operators of a pane row: OData operator -> caption. The three functions apply to text fields only.
OPERATORS: dict[str, str] = {
    "eq": "is", "ne": "is not", "gt": "is greater than", "ge": "is at least", "lt": "is less than",
    "le": "is at most", "contains": "contains", "startswith": "starts with", "endswith": "ends with",
}
COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")
TEXT_FUNCTIONS = ("contains", "startswith", "endswith")

#: BC field types (``mappings.catalogue.BCField.type``) and Dataverse attribute types -> the literal they take.
_BC_KINDS: dict[str, Kind] = {"code": "text", "text": "text", "option": "text", "integer": "number",
                              "decimal": "number", "boolean": "boolean", "date": "date", "datetime": "datetime",
                              "guid": "guid"}
_DV_KINDS: dict[str, Kind] = {"String": "text", "Memo": "text", "EntityName": "text", "Integer": "number",
                              "BigInt": "number", "Decimal": "number", "Double": "number", "Money": "number",
                              "Picklist": "number", "State": "number", "Status": "number", "Boolean": "boolean",
                              "DateTime": "datetime", "Uniqueidentifier": "guid", "Lookup": "guid",
                              "Customer": "guid", "Owner": "guid"}

#: Dataverse display names of the columns the catalogue knows (Microsoft Learn: each table's "table/entity
#: reference" page, Display Name). Per-table names first, then names shared by every table.
_DISPLAY_NAMES_BY_TABLE: dict[str, dict[str, str]] = {
    "account": {"name": "Account Name", "telephone1": "Main Phone", "telephone2": "Other Phone",
                "description": "Description"},
    "contact": {"telephone1": "Business Phone", "parentcustomerid": "Company Name"},
    "opportunity": {"name": "Topic", "customerid": "Potential Customer", "parentaccountid": "Account",
                    "parentcontactid": "Contact"},
    "salesorder": {"name": "Name", "ordernumber": "Order ID", "customerid": "Customer", "opportunityid": "Opportunity",
                   "quoteid": "Quote", "pricelevelid": "Price List"},
    "invoice": {"invoicenumber": "Invoice ID", "customerid": "Customer", "salesorderid": "Order",
                "pricelevelid": "Price List"},
    "systemuser": {"isdisabled": "Status", "title": "Title"},
    "team": {"name": "Team Name"},
    "product": {"pricelevelid": "Default Price List", "description": "Description"},
    "productpricelevel": {"productnumber": "Product ID", "amount": "Amount"},
    "transactioncurrency": {"currencyname": "Currency Name", "exchangerate": "Exchange Rate"},
    "uomschedule": {"name": "Name", "baseuomname": "Base Unit Name"},
    "uom": {"name": "Name", "quantity": "Quantity", "baseuom": "Base Unit"},
}
_DISPLAY_NAMES: dict[str, str] = {
    "statecode": "Status", "statuscode": "Status Reason", "createdon": "Created On", "modifiedon": "Modified On",
    "createdby": "Created By", "modifiedby": "Modified By", "versionnumber": "Version Number", "ownerid": "Owner",
    "owneridtype": "Owner Type", "transactioncurrencyid": "Currency", "exchangerate": "Exchange Rate",
    "name": "Name", "description": "Description", "accountnumber": "Account Number", "fax": "Fax",
    "emailaddress1": "Email", "websiteurl": "Website", "address1_line1": "Address 1: Street 1",
    "address1_line2": "Address 1: Street 2", "address1_city": "Address 1: City",
    "address1_stateorprovince": "Address 1: State/Province", "address1_postalcode": "Address 1: ZIP/Postal Code",
    "address1_country": "Address 1: Country/Region", "address1_primarycontactname": "Address 1: Primary Contact Name",
    "address1_freighttermscode": "Address 1: Freight Terms",
    "address1_shippingmethodcode": "Address 1: Shipping Method",
    "parentaccountid": "Parent Account", "primarycontactid": "Primary Contact", "defaultpricelevelid": "Price List",
    "customertypecode": "Relationship Type", "paymenttermscode": "Payment Terms", "creditlimit": "Credit Limit",
    "firstname": "First Name", "middlename": "Middle Name", "lastname": "Last Name", "fullname": "Full Name",
    "jobtitle": "Job Title", "mobilephone": "Mobile Phone", "pager": "Pager", "telephone1": "Business Phone",
    "parentcustomeridtype": "Company Name Type", "customeridtype": "Customer Type", "domainname": "User Name",
    "internalemailaddress": "Primary Email", "address1_telephone1": "Address 1: Telephone 1",
    "azureactivedirectoryobjectid": "Azure AD Object ID", "applicationid": "Application ID",
    "businessunitid": "Business Unit", "islicensed": "User Licensed", "accessmode": "Access Mode",
    "isintegrationuser": "Integration user mode", "teamtype": "Team Type", "isdefault": "Is Default",
    "isocurrencycode": "Currency Code", "currencysymbol": "Currency Symbol", "currencyprecision": "Currency Precision",
    "uomscheduleid": "Unit Schedule", "isschedulebaseuom": "Is Schedule Base Unit", "productnumber": "Product ID",
    "producttypecode": "Product Type", "productstructure": "Product Structure", "defaultuomscheduleid": "Unit Group",
    "defaultuomid": "Default Unit", "quantitydecimal": "Decimals Supported", "quantityonhand": "Quantity On Hand",
    "price": "List Price", "standardcost": "Standard Cost", "currentcost": "Current Cost", "isstockitem": "Stock Item",
    "iskit": "Is Kit", "parentproductid": "Parent", "stockweight": "Stock Weight", "stockvolume": "Stock Volume",
    "vendorname": "Vendor Name", "vendorpartnumber": "Vendor Part Number", "vendorid": "Vendor ID",
    "suppliername": "Supplier Name", "size": "Size", "producturl": "URL", "validfromdate": "Valid From",
    "validtodate": "Valid To", "begindate": "Start Date", "enddate": "End Date", "freighttermscode": "Freight Terms",
    "paymentmethodcode": "Payment Method", "shippingmethodcode": "Shipping Method", "productid": "Product",
    "uomid": "Unit", "percentage": "Percentage", "pricingmethodcode": "Pricing Method",
    "quantitysellingcode": "Quantity Selling Option", "estimatedvalue": "Est. Revenue",
    "estimatedclosedate": "Est. Close Date", "closeprobability": "Probability", "actualvalue": "Actual Revenue",
    "actualclosedate": "Actual Close Date", "stepname": "Pipeline Phase", "totalamount": "Total Amount",
    "totallineitemamount": "Total Detail Amount", "totaltax": "Total Tax",
    "totalamountlessfreight": "Total Pre-Freight Amount", "discountamount": "Order Discount Amount",
    "discountpercentage": "Order Discount (%)", "freightamount": "Freight Amount", "ispricelocked": "Prices Locked",
    "requestdeliveryby": "Requested Delivery Date", "datefulfilled": "Date Fulfilled", "submitdate": "Date Submitted",
    "duedate": "Due Date", "datedelivered": "Date Delivered", "productdescription": "Write-In Product",
    "isproductoverridden": "Select Product", "quantity": "Quantity", "priceperunit": "Price Per Unit",
    "ispriceoverridden": "Pricing", "manualdiscountamount": "Manual Discount", "tax": "Tax", "baseamount": "Amount",
    "extendedamount": "Extended Amount", "lineitemnumber": "Line Item Number", "sequencenumber": "Sequence Number",
    "quantityshipped": "Quantity Shipped",
}
_SIDE_NAMES = {"bc": "table filter", "dataverse": "integration table filter"}
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


@dataclass(frozen=True)
class FilterField:
    """One field the pane offers: ``name`` is what OData filters on (BC API property, Dataverse logical name or
    ``_<lookup>_value``), ``caption`` what the pane shows (BC field name; Dataverse display name), ``kind`` the
    literal it takes ("text", "number", "boolean", "date", "datetime", "guid")."""

    name: str
    caption: str
    kind: Kind


@dataclass(frozen=True)
class Condition:
    """One row of the pane: ``field`` (the OData name of a :class:`FilterField`), ``operator`` (a key of
    :data:`OPERATORS`) and ``value`` as the user typed it (unquoted; an empty value means empty text on a text field
    and ``null`` on the others)."""

    field: str
    operator: str
    value: str


def dataverse_display_name(table: str, column: str) -> str:
    """The display name of a Dataverse column (``column`` is a logical name, or ``_<lookup>_value``); the logical name
    itself when the portal does not know it."""
    logical = column[1:-6] if column.startswith("_") and column.endswith("_value") else column
    if logical == f"{table}id":
        return "Unique ID"
    return _DISPLAY_NAMES_BY_TABLE.get(table, {}).get(logical) or _DISPLAY_NAMES.get(logical) or logical


def filter_fields(side: Side, table: str) -> list[FilterField]:
    """The fields a filter of ``side`` ("bc" or "dataverse") on ``table`` (BC table name or Dataverse logical name)
    can use, sorted by caption. Raises ``ValidationError`` for an unknown table (from the catalogue)."""
    if side == "bc":
        bc = bc_table(table)
        fields = [FilterField(f.api_property, f.name, _BC_KINDS.get(f.type, "text")) for f in bc.fields]
        if bc.modified_property:
            fields.append(FilterField(bc.modified_property, "Last Date Modified", "datetime"))
        fields.append(FilterField(bc.key_property, "SystemId", "guid"))
    else:
        dv = dataverse_table(table)
        fields = []
        for column in dv.columns.values():
            name = f"_{column.name}_value" if column.is_lookup else column.name
            fields.append(FilterField(name, dataverse_display_name(table, column.name),
                                      _DV_KINDS.get(column.type, "text")))
    seen: dict[str, FilterField] = {}
    for candidate in fields:
        seen.setdefault(candidate.name, candidate)
    return sorted(seen.values(), key=lambda f: (f.caption.lower(), f.name))


def quote(value: str) -> str:
    """An OData string literal: ``value`` in single quotes, each single quote doubled (OData URL Conventions)."""
    return "'" + value.replace("'", "''") + "'"


def _literal(field: FilterField, operator: str, value: str, where: str) -> str:
    """The OData literal of ``value`` for ``field``; raises ValidationError naming ``where`` (the row's caption)."""
    if operator in TEXT_FUNCTIONS:
        if field.kind != "text":
            raise ValidationError(f'{where}: "{OPERATORS[operator]}" works on text fields only; choose "is" or '
                                  f'"is not".')
        return quote(value)
    if field.kind == "text":
        return quote(value)
    text = value.strip()
    if not text:
        if operator not in ("eq", "ne"):
            raise ValidationError(f'{where}: enter a value (an empty value only works with "is" and "is not").')
        return "null"
    if field.kind == "boolean":
        if operator not in ("eq", "ne"):
            raise ValidationError(f'{where}: a Yes/No field takes "is" or "is not".')
        lowered = text.lower()
        if lowered in ("true", "yes"):
            return "true"
        if lowered in ("false", "no"):
            return "false"
        raise ValidationError(f'{where}: "{value}" is not Yes/No; enter true or false.')
    if field.kind == "number":
        if not _NUMBER.fullmatch(text):
            raise ValidationError(f'{where}: "{value}" is not a number; enter digits such as 0, 12 or 3.5.')
        return text
    if field.kind == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise ValidationError(f'{where}: "{value}" is not a date; enter it as YYYY-MM-DD.') from None
    if field.kind == "datetime":
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(f'{where}: "{value}" is not a date and time; enter it as '
                                  "YYYY-MM-DDTHH:MM:SSZ (UTC).") from None
        if moment.tzinfo is None or "T" not in text:
            raise ValidationError(f'{where}: "{value}" needs a time and a time zone; enter it as '
                                  "YYYY-MM-DDTHH:MM:SSZ (UTC).")
        return moment.isoformat().replace("+00:00", "Z")
    if operator not in ("eq", "ne"):
        raise ValidationError(f'{where}: an id takes "is" or "is not".')
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise ValidationError(f'{where}: "{value}" is not an id (GUID such as '
                              "00000000-0000-0000-0000-000000000000).") from None


def condition_text(side: Side, table: str, condition: Condition, *, row: int | None = None) -> str:
    """The OData text of one pane row, e.g. ``blocked eq false`` or ``contains(displayName,'O''Neil')``.

    Raises ``ValidationError`` naming the filter, the row and the field caption: unknown field or operator, a value
    that does not fit the field (not a number, not Yes/No, not a date, not a GUID)."""
    fields = {f.name: f for f in filter_fields(side, table)}
    place = f"{_SIDE_NAMES[side].capitalize()}{f', row {row}' if row is not None else ''}"
    field = fields.get(condition.field)
    if field is None:
        raise ValidationError(f'{place}: "{condition.field}" is not a field of {table}; choose one from the list.')
    if condition.operator not in OPERATORS:
        raise ValidationError(f'{place} ({field.caption}): "{condition.operator}" is not an operator; choose one of '
                              f'{", ".join(OPERATORS.values())}.')
    literal = _literal(field, condition.operator, condition.value, f"{place} ({field.caption})")
    if condition.operator in TEXT_FUNCTIONS:
        return f"{condition.operator}({field.name},{literal})"
    return f"{field.name} {condition.operator} {literal}"


def filter_description(side: Side, table: str, expression: str) -> list[str]:
    """A stored filter in words for readers of the mapping page: one line per pane row ("Blocked is false",
    "Status is 0"), then the advanced rest as OData text; [] for an empty filter."""
    captions = {f.name: f.caption for f in filter_fields(side, table)}
    rows, advanced = filter_split(side, table, expression)
    lines = []
    for row in rows:
        # blank or space-padded values (BC's blank option ' ') are shown quoted so they can be seen
        value = row.value if row.value and row.value.strip() == row.value else quote(row.value)
        lines.append(f"{captions[row.field]} {OPERATORS[row.operator]} {value}")
    return lines + ([advanced] if advanced else [])


def conjuncts(expression: str) -> list[str]:
    """The parts of ``expression`` joined by a top-level ``and`` (outside quotes and parentheses), stripped; [] for
    an empty expression. ``a eq 1 and (b eq 2 or b eq 3)`` gives ``["a eq 1", "(b eq 2 or b eq 3)"]``."""
    parts: list[str] = []
    depth = 0
    start = 0
    in_string = False
    i = 0
    text = expression
    while i < len(text):
        char = text[i]
        if in_string:
            if char == "'":
                if i + 1 < len(text) and text[i + 1] == "'":
                    i += 2
                    continue
                in_string = False
        elif char == "'":
            in_string = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and text[i:i + 5].lower() == " and ":
            parts.append(text[start:i])
            start = i + 5
            i += 5
            continue
        i += 1
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]


_COMPARISON = re.compile(r"^([A-Za-z_]\w*)\s+(eq|ne|gt|ge|lt|le)\s+(.+)$")
_FUNCTION = re.compile(r"^(contains|startswith|endswith)\(\s*([A-Za-z_]\w*)\s*,\s*('(?:[^']|'')*')\s*\)$")
_STRING = re.compile(r"^'((?:[^']|'')*)'$")


def _condition_of(part: str) -> Condition | None:
    """The pane row a conjunct stands for, or None when it has another shape."""
    if match := _FUNCTION.match(part):
        operator, name, literal = match.groups()
    elif match := _COMPARISON.match(part):
        name, operator, literal = match.groups()
    else:
        return None
    literal = literal.strip()
    if string := _STRING.match(literal):
        return Condition(name, operator, string.group(1).replace("''", "'"))
    if literal == "null":
        return Condition(name, operator, "")
    if re.fullmatch(r"[\w.:+-]+", literal):
        return Condition(name, operator, literal)
    return None


def filter_split(side: Side, table: str, expression: str) -> tuple[list[Condition], str]:
    """Split a stored filter into the pane rows that represent it exactly and the advanced rest (its other conjuncts,
    joined by ``and``, in their order). ``filter_build(side, table, *filter_split(side, table, e))`` has the same
    conjuncts as ``e``. Never raises for a bad expression: what the pane cannot show stays advanced text."""
    rows: list[Condition] = []
    rest: list[str] = []
    for part in conjuncts(expression):
        condition = _condition_of(part)
        if condition is not None:
            try:
                if condition_text(side, table, condition) == part:
                    rows.append(condition)
                    continue
            except ValidationError:
                pass
        rest.append(part)
    return rows, " and ".join(rest)


def filter_build(side: Side, table: str, conditions: list[Condition], advanced: str = "") -> str:
    """The OData ``$filter`` of the pane rows and the advanced text, joined by ``and``; a conjunct that occurs twice
    is kept once. Validates the result against the catalogue (:func:`mappings.catalogue.validate_filter`): raises
    ``ValidationError`` naming the row and field caption of a bad row, or what is wrong with the advanced text."""
    parts: list[str] = []
    errors: list[str] = []
    for row, condition in enumerate(conditions, start=1):
        try:
            parts.append(condition_text(side, table, condition, row=row))
        except ValidationError as exc:
            errors.extend(exc.messages)
    if errors:
        raise ValidationError(errors)
    parts.extend(conjuncts(advanced))
    expression = " and ".join(dict.fromkeys(parts))
    validate_filter(side, table, expression)
    return expression


def same_filter(first: str, second: str) -> bool:
    """Whether two filters have the same conjuncts (in any order, duplicates ignored): saving the pane unchanged
    keeps the stored text."""
    return set(conjuncts(first)) == set(conjuncts(second))
