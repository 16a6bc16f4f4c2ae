"""One description of each side's tables and fields: the BC tables as the BC API serves them and the Dataverse
tables and columns (Microsoft Learn: "Business Central API (v2.0)", "Developing a custom API", and the Dataverse and
Dynamics 365 Sales "table/entity reference" pages, e.g. "Product table/entity reference").

Filters, field mappings, pages and the synchronization engine all validate against this module.

* BC side: a table is named by its BC table name ("Item", "Salesperson/Purchaser"); each field by its BC field name
  ("No.", "Unit Price") and carries the API property the BC API uses for it ("number", "unitPrice"). Tables that API
  v2.0 lacks (Resource, price list headers and lines, unit groups, item/resource units of measure, shipping
  agents; Microsoft Learn: "Business Central API (v2.0)") are served by the portal's custom API route
  (``api=CUSTOM_API``; Microsoft Learn: "Developing a custom API"); fields the v2.0 entity lacks are marked
  ``extension=True`` (served by the same custom route's extension of the entity).
  The table filter of a mapping is an OData ``$filter`` over the API properties.
* Dataverse side: a table is its logical name (``product``), its columns their logical names (``productnumber``);
  lookups carry their target tables and the navigation property for ``@odata.bind`` (Microsoft Learn: "Associate
  and disassociate table rows using the Web API"). The integration table filter is an OData ``$filter`` over
  logical names, where a lookup is filtered as ``_<lookup>_value`` (Web API convention; Microsoft Learn: "Query data
  using the Web API").
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from django.core.exceptions import ValidationError
from odata_query import ast
from odata_query.exceptions import ODataException
from odata_query.grammar import ODataLexer, ODataParser

STANDARD_API = "v2.0"
#: The custom API of the companion extension for the tables API v2.0 lacks (Microsoft Learn: "Developing a custom
#: API"); the BC client resolves it to its configured route (api/bcportal/integration/v1.0).
CUSTOM_API = "custom"

FieldType = Literal["code", "text", "integer", "decimal", "boolean", "date", "datetime", "guid", "option"]


@dataclass(frozen=True)
class BCField:
    """One BC field: ``name`` is the BC field name, ``api_property`` the API property, ``type`` its kind."""

    name: str
    api_property: str
    type: FieldType = "text"
    extension: bool = False
    read_only: bool = False


@dataclass(frozen=True)
class BCTable:
    """One BC table as its API serves it (Microsoft Learn: "Business Central API (v2.0)", "Developing a custom API").

    ``entity_set`` is relative to ``companies({id})``; ``api`` is ``STANDARD_API`` or ``CUSTOM_API``; the key is the
    SystemId (API property ``id``) and the change marker ``lastModifiedDateTime`` (UTC); document lines have none
    (``modified_property`` empty; Microsoft Learn: "Business Central API (v2.0)"): their changes show on the header.
    ``name_field`` is the BC field shown in logs and coupling lists (BC: CRM Setup Defaults.GetNameFieldNo).
    """

    name: str
    entity_set: str
    api: str
    name_field: str
    number_field: str
    fields: tuple[BCField, ...]
    key_property: str = "id"
    modified_property: str = "lastModifiedDateTime"

    def field(self, name: str) -> BCField:
        """The field named ``name`` (BC field name); raises KeyError when the table has none."""
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(name)

    def has_field(self, name: str) -> bool:
        """Whether the table has a field with this BC field name."""
        return any(candidate.name == name for candidate in self.fields)

    def api_properties(self) -> set[str]:
        """The API properties a filter may name (fields plus key and modified marker)."""
        return {f.api_property for f in self.fields} | {self.key_property, self.modified_property} - {""}


@dataclass(frozen=True)
class DataverseColumn:
    """One Dataverse column: ``type`` uses Dataverse AttributeType names; lookups name their ``targets`` and the
    navigation property per target for ``@odata.bind`` (Microsoft Learn: "Associate and disassociate table rows
    using the Web API")."""

    name: str
    type: str
    targets: tuple[str, ...] = ()
    navigation: dict[str, str] = field(default_factory=dict)
    read_only: bool = False

    @property
    def is_lookup(self) -> bool:
        return self.type in ("Lookup", "Customer", "Owner")

    def navigation_property(self, target: str) -> str:
        """Navigation property for ``<nav>@odata.bind`` to ``target`` (defaults to the lookup's own name)."""
        return self.navigation.get(target, self.name)


@dataclass(frozen=True)
class DataverseTable:
    """One Dataverse table (Microsoft Learn: its "table/entity reference" page): entity set, primary id column,
    primary name column, modified-on column."""

    logical_name: str
    entity_set: str
    primary_id: str
    primary_name: str
    columns: dict[str, DataverseColumn]
    modified_on: str = "modifiedon"

    def column(self, name: str) -> DataverseColumn:
        """The column ``name``; raises KeyError when the table has none."""
        return self.columns[name]

    def filter_names(self) -> set[str]:
        """Names a ``$filter`` may use: plain columns, and lookups only as ``_<lookup>_value`` (Web API convention)."""
        names = {c.name for c in self.columns.values() if not c.is_lookup}
        names |= {f"_{c.name}_value" for c in self.columns.values() if c.is_lookup}
        return names


# --------------------------------------------------------------------------------------------------------------------
# Business Central tables
# --------------------------------------------------------------------------------------------------------------------
def _f(name: str, prop: str, kind: FieldType = "text", *, ext: bool = False, ro: bool = False) -> BCField:
    return BCField(name, prop, kind, extension=ext, read_only=ro)


def _address(prefix: str = "", api_prefix: str = "", *, ext_address2: bool = False) -> tuple[BCField, ...]:
    """Address fields; BC field names ``<prefix>Address`` etc., API properties as the API v2.0 documents (Microsoft
    Learn: "Business Central API (v2.0)")."""
    if not prefix:
        return (
            _f("Address", "addressLine1"), _f("Address 2", "addressLine2"), _f("City", "city"),
            _f("County", "state"), _f("Country/Region Code", "country", "code"), _f("Post Code", "postalCode", "code"),
        )
    return (
        _f(f"{prefix}Name", f"{api_prefix}Name"),
        _f(f"{prefix}Address", f"{api_prefix}AddressLine1"), _f(f"{prefix}Address 2", f"{api_prefix}AddressLine2"),
        _f(f"{prefix}City", f"{api_prefix}City"), _f(f"{prefix}County", f"{api_prefix}State"),
        _f(f"{prefix}Country/Region Code", f"{api_prefix}Country", "code"),
        _f(f"{prefix}Post Code", f"{api_prefix}PostCode", "code"),
    )


_PARTY_EXTENSIONS = (
    _f("Contact", "contact", ext=True), _f("Fax No.", "faxNumber", ext=True),
    _f("Shipment Method Code", "shipmentMethodCode", "code", ext=True),
    _f("Shipping Agent Code", "shippingAgentCode", "code", ext=True),
    _f("Payment Terms Code", "paymentTermsCode", "code", ext=True),
    _f("Primary Contact No.", "primaryContactNumber", "code", ext=True),
)

_DOCUMENT_EXTENSIONS = (
    _f("Document Type", "documentType", "option", ext=True, ro=True),
    _f("Shipping Agent Code", "shippingAgentCode", "code", ext=True),
    _f("Payment Terms Code", "paymentTermsCode", "code", ext=True),
    _f("Shipment Method Code", "shipmentMethodCode", "code", ext=True),
    _f("Work Description", "workDescription", ext=True),
    _f("Your Reference", "yourReference", ext=True),
    _f("Payment Discount %", "paymentDiscountPercent", "decimal", ext=True),
)

_BC_TABLE_LIST: tuple[BCTable, ...] = (
    BCTable("Salesperson/Purchaser", "salespeoplePurchasers", STANDARD_API, "Name", "Code", (
        _f("Code", "code", "code"), _f("Name", "displayName"), _f("E-Mail", "email"), _f("E-Mail 2", "email2"),
        _f("Phone No.", "phoneNo"), _f("Job Title", "jobTitle"), _f("Commission %", "commisionPercent", "decimal"),
        _f("Privacy Blocked", "privacyBlocked", "boolean"), _f("Blocked", "blocked", "boolean"),
    )),
    BCTable("Customer", "customers", STANDARD_API, "Name", "No.", (
        _f("No.", "number", "code"), _f("Name", "displayName"), _f("Type", "type", "option"), *_address(),
        _f("Phone No.", "phoneNumber"), _f("E-Mail", "email"), _f("Home Page", "website"),
        _f("Salesperson Code", "salespersonCode", "code"), _f("Balance Due", "balanceDue", "decimal", ro=True),
        _f("Credit Limit (LCY)", "creditLimit", "decimal"), _f("Currency Code", "currencyCode", "code"),
        _f("Currency Id", "currencyId", "guid"), _f("Payment Terms Id", "paymentTermsId", "guid"),
        _f("Shipment Method Id", "shipmentMethodId", "guid"), _f("Blocked", "blocked", "option"),
        *_PARTY_EXTENSIONS,
    )),
    BCTable("Vendor", "vendors", STANDARD_API, "Name", "No.", (
        _f("No.", "number", "code"), _f("Name", "displayName"), *_address(), _f("Phone No.", "phoneNumber"),
        _f("E-Mail", "email"), _f("Home Page", "website"), _f("Currency Code", "currencyCode", "code"),
        _f("Currency Id", "currencyId", "guid"), _f("Payment Terms Id", "paymentTermsId", "guid"),
        _f("Blocked", "blocked", "option"), _f("Balance", "balance", "decimal", ro=True),
        _f("Purchaser Code", "purchaserCode", "code", ext=True), *_PARTY_EXTENSIONS,
    )),
    BCTable("Contact", "contacts", STANDARD_API, "Name", "No.", (
        _f("No.", "number", "code"), _f("Type", "type", "option"), _f("Name", "displayName"),
        _f("Job Title", "jobTitle"), _f("Company No.", "companyNumber", "code"), _f("Company Name", "companyName"),
        *_address(), _f("Phone No.", "phoneNumber"), _f("Mobile Phone No.", "mobilePhoneNumber"),
        _f("E-Mail", "email"), _f("Home Page", "website"), _f("Privacy Blocked", "privacyBlocked", "boolean"),
        _f("First Name", "firstName", ext=True), _f("Middle Name", "middleName", ext=True),
        _f("Surname", "surname", ext=True), _f("Fax No.", "faxNumber", ext=True), _f("Pager", "pager", ext=True),
        _f("Currency Code", "currencyCode", "code", ext=True),
        _f("Salesperson Code", "salespersonCode", "code", ext=True),
    )),
    BCTable("Currency", "currencies", STANDARD_API, "Code", "Code", (
        _f("Code", "code", "code"), _f("Description", "displayName"), _f("Symbol", "symbol"),
        _f("Amount Decimal Places", "amountDecimalPlaces"),
        _f("Amount Rounding Precision", "amountRoundingPrecision", "decimal"),
    )),
    BCTable("Payment Terms", "paymentTerms", STANDARD_API, "Code", "Code", (
        _f("Code", "code", "code"), _f("Description", "displayName"),
        _f("Due Date Calculation", "dueDateCalculation"), _f("Discount Date Calculation", "discountDateCalculation"),
        _f("Discount %", "discountPercent", "decimal"),
    )),
    BCTable("Shipment Method", "shipmentMethods", STANDARD_API, "Code", "Code", (
        _f("Code", "code", "code"), _f("Description", "displayName"),
    )),
    BCTable("Shipping Agent", "shippingAgents", CUSTOM_API, "Code", "Code", (
        _f("Code", "code", "code"), _f("Name", "displayName"), _f("Internet Address", "internetAddress"),
    )),
    BCTable("Unit of Measure", "unitsOfMeasure", STANDARD_API, "Code", "Code", (
        _f("Code", "code", "code"), _f("Description", "displayName"),
        _f("International Standard Code", "internationalStandardCode", "code"), _f("Symbol", "symbol"),
    )),
    BCTable("Unit Group", "unitGroups", CUSTOM_API, "Code", "Code", (
        _f("Source Type", "sourceType", "option"), _f("Source No.", "sourceNumber", "code"),
        _f("Code", "code", "code"), _f("Description", "description"),
    )),
    BCTable("Item Unit of Measure", "itemUnitsOfMeasure", CUSTOM_API, "Code", "Code", (
        _f("Item No.", "itemNumber", "code"), _f("Code", "code", "code"),
        _f("Qty. per Unit of Measure", "qtyPerUnitOfMeasure", "decimal"),
    )),
    BCTable("Resource Unit of Measure", "resourceUnitsOfMeasure", CUSTOM_API, "Code", "Code", (
        _f("Resource No.", "resourceNumber", "code"), _f("Code", "code", "code"),
        _f("Qty. per Unit of Measure", "qtyPerUnitOfMeasure", "decimal"),
    )),
    BCTable("Item", "items", STANDARD_API, "No.", "No.", (
        _f("No.", "number", "code"), _f("Description", "displayName"), _f("Description 2", "displayName2"),
        _f("Type", "type", "option"), _f("Blocked", "blocked", "boolean"), _f("GTIN", "gtin", "code"),
        _f("Inventory", "inventory", "decimal", ro=True), _f("Unit Price", "unitPrice", "decimal"),
        _f("Unit Cost", "unitCost", "decimal"), _f("Item Category Code", "itemCategoryCode", "code"),
        _f("Base Unit of Measure", "baseUnitOfMeasureCode", "code"),
        _f("Base Unit of Measure Id", "baseUnitOfMeasureId", "guid"),
        _f("Unit Volume", "unitVolume", "decimal", ext=True), _f("Gross Weight", "grossWeight", "decimal", ext=True),
        _f("Vendor No.", "vendorNumber", "code", ext=True), _f("Vendor Item No.", "vendorItemNumber", ext=True),
    )),
    BCTable("Resource", "resources", CUSTOM_API, "No.", "No.", (
        _f("No.", "number", "code"), _f("Name", "displayName"), _f("Type", "type", "option"),
        _f("Blocked", "blocked", "boolean"), _f("Unit Price", "unitPrice", "decimal"),
        _f("Unit Cost", "unitCost", "decimal"), _f("Base Unit of Measure", "baseUnitOfMeasureCode", "code"),
        _f("Vendor No.", "vendorNumber", "code", ext=True), _f("Capacity", "capacity", "decimal", ext=True),
    )),
    # Extended price calculation (BC: table 7000 "Price List Header", table 7001 "Price List Line").
    BCTable("Price List Header", "priceListHeaders", CUSTOM_API, "Code", "Code", (
        _f("Code", "code", "code"), _f("Description", "description"), _f("Source Type", "sourceType", "option"),
        _f("Source No.", "sourceNumber", "code"), _f("Currency Code", "currencyCode", "code"),
        _f("Starting Date", "startingDate", "date"), _f("Ending Date", "endingDate", "date"),
        _f("Price Type", "priceType", "option"), _f("Amount Type", "amountType", "option"),
        _f("Status", "status", "option"), _f("Allow Updating Defaults", "allowUpdatingDefaults", "boolean"),
    )),
    BCTable("Price List Line", "priceListLines", CUSTOM_API, "Asset No.", "Line No.", (
        _f("Price List Code", "priceListCode", "code"), _f("Line No.", "lineNumber", "integer"),
        _f("Source Type", "sourceType", "option"), _f("Source No.", "sourceNumber", "code"),
        _f("Asset Type", "assetType", "option"), _f("Asset No.", "assetNumber", "code"),
        _f("Unit of Measure Code", "unitOfMeasureCode", "code"), _f("Currency Code", "currencyCode", "code"),
        _f("Starting Date", "startingDate", "date"), _f("Ending Date", "endingDate", "date"),
        _f("Minimum Quantity", "minimumQuantity", "decimal"), _f("Unit Price", "unitPrice", "decimal"),
        _f("Price Type", "priceType", "option"), _f("Amount Type", "amountType", "option"),
        _f("Status", "status", "option"),
    )),
    BCTable("Sales Invoice Header", "salesInvoices", STANDARD_API, "No.", "No.", (
        _f("No.", "number", "code"), _f("Invoice Date", "invoiceDate", "date"), _f("Due Date", "dueDate", "date"),
        _f("Status", "status", "option"), _f("Order No.", "orderNumber", "code"),
        _f("Sell-to Customer No.", "customerNumber", "code"), _f("Salesperson Code", "salesperson", "code"),
        _f("Currency Code", "currencyCode", "code"), *_address("Ship-to ", "shipTo"),
        *_address("Bill-to ", "billTo"), _f("Shipment Date", "shipmentDate", "date", ext=True),
        _f("Amount", "totalAmountExcludingTax", "decimal", ro=True),
        _f("Amount Including VAT", "totalAmountIncludingTax", "decimal", ro=True),
        _f("Invoice Discount Amount", "discountAmount", "decimal"), *_DOCUMENT_EXTENSIONS,
    )),
    BCTable("Sales Invoice Line", "salesInvoiceLines", STANDARD_API, "Description", "Line No.", (
        _f("Document Id", "documentId", "guid"), _f("Line No.", "sequence", "integer"),
        _f("Type", "lineType", "option"), _f("No.", "lineObjectNumber", "code"), _f("Description", "description"),
        _f("Quantity", "quantity", "decimal"), _f("Unit Price", "unitPrice", "decimal"),
        _f("Unit of Measure Code", "unitOfMeasureCode", "code"),
        _f("Line Discount Amount", "discountAmount", "decimal"),
        _f("Amount", "amountExcludingTax", "decimal", ro=True),
        _f("Amount Including VAT", "amountIncludingTax", "decimal", ro=True),
    ), modified_property=""),
    BCTable("Opportunity", "opportunities", STANDARD_API, "Description", "No.", (
        _f("No.", "number", "code"), _f("Description", "description"), _f("Contact No.", "contactNumber", "code"),
        _f("Contact Name", "contactName"), _f("Contact Company Name", "contactCompanyName"),
        _f("Contact Company No.", "contactCompanyNumber", "code", ext=True, ro=True),
        _f("Salesperson Code", "salespersonCode", "code"), _f("Status", "status", "option"),
        _f("Closed", "closed", "boolean"), _f("Creation Date", "creationDate", "date"),
        _f("Date Closed", "dateClosed", "date"), _f("Estimated Value (LCY)", "estimatedValue", "decimal"),
        _f("Estimated Closing Date", "estimatedClosingDate", "date"),
        _f("Chances of Success %", "chancesOfSuccessPrc", "decimal"),
    )),
    BCTable("Sales Header", "salesOrders", STANDARD_API, "No.", "No.", (
        _f("No.", "number", "code"), _f("Order Date", "orderDate", "date"), _f("Status", "status", "option"),
        _f("External Document No.", "externalDocumentNumber"), _f("Sell-to Customer No.", "customerNumber", "code"),
        _f("Salesperson Code", "salesperson", "code"), _f("Currency Code", "currencyCode", "code"),
        *_address("Ship-to ", "shipTo"), *_address("Bill-to ", "billTo"),
        _f("Requested Delivery Date", "requestedDeliveryDate", "date"),
        _f("Last Shipment Date", "lastShipmentDate", "date", ext=True, ro=True),
        _f("Amount", "totalAmountExcludingTax", "decimal", ro=True),
        _f("Amount Including VAT", "totalAmountIncludingTax", "decimal", ro=True),
        _f("Invoice Discount Amount", "discountAmount", "decimal"), *_DOCUMENT_EXTENSIONS,
    )),
    BCTable("Sales Line", "salesOrderLines", STANDARD_API, "Description", "Line No.", (
        _f("Document Id", "documentId", "guid"), _f("Document Type", "documentType", "option", ext=True),
        _f("Line No.", "sequence", "integer"), _f("Type", "lineType", "option"), _f("No.", "lineObjectNumber", "code"),
        _f("Description", "description"), _f("Quantity", "quantity", "decimal"),
        _f("Quantity Shipped", "shippedQuantity", "decimal", ro=True), _f("Unit Price", "unitPrice", "decimal"),
        _f("Unit of Measure Code", "unitOfMeasureCode", "code"),
        _f("Amount", "amountExcludingTax", "decimal", ro=True),
        _f("Amount Including VAT", "amountIncludingTax", "decimal", ro=True),
        _f("Currency Code", "currencyCode", "code", ext=True),
    ), modified_property=""),
)

def _route(table: BCTable) -> BCTable:
    """A standard table with fields API v2.0 lacks is read and written through the companion extension's custom
    route, which serves the same records (same SystemId, ETag and lastModifiedDateTime) with the v2.0 fields plus
    the extension fields; v2.0 itself refuses those fields (Microsoft Learn: "Developing a custom API")."""
    if table.api == STANDARD_API and any(f.extension for f in table.fields):
        return replace(table, api=CUSTOM_API)
    return table


BC_TABLES: dict[str, BCTable] = {table.name: _route(table) for table in _BC_TABLE_LIST}


# --------------------------------------------------------------------------------------------------------------------
# Dataverse tables (system columns and tables as Microsoft Learn's "table/entity reference" pages list them)
# --------------------------------------------------------------------------------------------------------------------
def _c(name: str, kind: str = "String", *targets: str, nav: dict[str, str] | None = None,
       ro: bool = False) -> DataverseColumn:
    return DataverseColumn(name, kind, tuple(targets), nav or {}, ro)


def _lookup(name: str, *targets: str, kind: str = "Lookup", nav: dict[str, str] | None = None) -> DataverseColumn:
    return _c(name, kind, *targets, nav=nav)


_ADDRESS1 = ("address1_line1", "address1_line2", "address1_city", "address1_stateorprovince", "address1_postalcode",
             "address1_country", "address1_primarycontactname")
_DOC_ADDRESS = tuple(f"{side}_{part}" for side in ("shipto", "billto")
                     for part in ("name", "line1", "line2", "city", "stateorprovince", "postalcode", "country"))


def _dv_table(logical: str, entity_set: str, primary_name: str, *columns: DataverseColumn,
              owned: bool = False, currency: bool = False, states: bool = True) -> DataverseTable:
    cols: dict[str, DataverseColumn] = {f"{logical}id": _c(f"{logical}id", "Uniqueidentifier", ro=True)}
    for system in ("createdon", "modifiedon"):
        cols[system] = _c(system, "DateTime", ro=True)
    for system in ("createdby", "modifiedby"):
        cols[system] = _c(system, "Lookup", "systemuser", ro=True)
    cols["versionnumber"] = _c("versionnumber", "BigInt", ro=True)
    if states:
        cols["statecode"] = _c("statecode", "State")
        cols["statuscode"] = _c("statuscode", "Status")
    if owned:
        cols["ownerid"] = _c("ownerid", "Owner", "systemuser", "team")
        # BC's field mappings write 'systemuser' here; in the Web API the type follows the ownerid@odata.bind target.
        cols["owneridtype"] = _c("owneridtype", "EntityName")
    if currency:
        cols["transactioncurrencyid"] = _lookup("transactioncurrencyid", "transactioncurrency")
        cols["exchangerate"] = _c("exchangerate", "Decimal", ro=True)
    for column in columns:
        cols[column.name] = column
    return DataverseTable(logical, entity_set, f"{logical}id", primary_name, cols)


def _strings(*names: str) -> tuple[DataverseColumn, ...]:
    return tuple(_c(n) for n in names)


def _doc_header(number_column: str) -> tuple[DataverseColumn, ...]:
    return (
        _c("name"), _c(number_column),
        _lookup("customerid", "account", "contact", kind="Customer",
                nav={"account": "customerid_account", "contact": "customerid_contact"}),
        _c("customeridtype", "EntityName"),
        _lookup("pricelevelid", "pricelevel"), _lookup("opportunityid", "opportunity"),
        _c("totalamount", "Money", ro=True), _c("totallineitemamount", "Money", ro=True),
        _c("totaltax", "Money", ro=True), _c("totalamountlessfreight", "Money", ro=True),
        _c("discountamount", "Money"), _c("discountpercentage", "Decimal"), _c("freightamount", "Money"),
        _c("ispricelocked", "Boolean"), _c("description", "Memo"), _c("paymenttermscode", "Picklist"),
        _c("shippingmethodcode", "Picklist"), _c("freighttermscode", "Picklist"), *_strings(*_DOC_ADDRESS),
    )


def _doc_lines(parent: str) -> tuple[DataverseColumn, ...]:
    return (
        _lookup(parent, parent.removesuffix("id")), _lookup("productid", "product"), _lookup("uomid", "uom"),
        _c("productdescription"), _c("isproductoverridden", "Boolean"), _c("quantity", "Decimal"),
        _c("priceperunit", "Money"), _c("ispriceoverridden", "Boolean"), _c("manualdiscountamount", "Money"),
        _c("tax", "Money"), _c("baseamount", "Money", ro=True), _c("extendedamount", "Money", ro=True),
        _c("lineitemnumber", "Integer"), _c("sequencenumber", "Integer"), _c("quantityshipped", "Decimal"),
        _c("producttypecode", "Picklist"), _c("description", "Memo"), _c("bcp_businesscentrallinenumber", "Integer"),
    )


_DATAVERSE_TABLE_LIST: tuple[DataverseTable, ...] = (
    _dv_table("systemuser", "systemusers", "fullname",
              *_strings("domainname", "firstname", "lastname", "internalemailaddress", "title", "mobilephone",
                        "address1_telephone1"),
              _c("fullname", ro=True), _c("azureactivedirectoryobjectid", "Uniqueidentifier"),
              _c("applicationid", "Uniqueidentifier"), _lookup("businessunitid", "businessunit"),
              _c("isdisabled", "Boolean", ro=True), _c("islicensed", "Boolean"), _c("accessmode", "Picklist"),
              _c("isintegrationuser", "Boolean"), states=False),
    _dv_table("team", "teams", "name", _c("name"), _lookup("businessunitid", "businessunit"),
              _c("teamtype", "Picklist"), _c("isdefault", "Boolean", ro=True), states=False),
    _dv_table("transactioncurrency", "transactioncurrencies", "currencyname",
              _c("isocurrencycode"), _c("currencyname"), _c("currencysymbol"), _c("exchangerate", "Decimal"),
              _c("currencyprecision", "Integer")),
    _dv_table("uomschedule", "uomschedules", "name", _c("name"), _c("baseuomname"), _c("description", "Memo")),
    _dv_table("uom", "uoms", "name", _c("name"), _lookup("uomscheduleid", "uomschedule"),
              _lookup("baseuom", "uom"), _c("quantity", "Decimal"), _c("isschedulebaseuom", "Boolean", ro=True),
              states=False),
    _dv_table("product", "products", "name",
              _c("name"), _c("productnumber"), _c("producttypecode", "Picklist"), _c("productstructure", "Picklist"),
              _lookup("defaultuomscheduleid", "uomschedule"), _lookup("defaultuomid", "uom"),
              _lookup("pricelevelid", "pricelevel"), _c("quantitydecimal", "Integer"),
              _c("quantityonhand", "Decimal"), _c("price", "Money"), _c("standardcost", "Money"),
              _c("currentcost", "Money"), _c("description", "Memo"), _c("isstockitem", "Boolean"),
              _c("iskit", "Boolean"), _lookup("parentproductid", "product"), _c("stockweight", "Decimal"),
              _c("stockvolume", "Decimal"),
              *_strings("vendorname", "vendorpartnumber", "vendorid", "suppliername", "size", "producturl"),
              _c("validfromdate", "DateTime"), _c("validtodate", "DateTime"), currency=True),
    _dv_table("pricelevel", "pricelevels", "name", _c("name"), _c("begindate", "DateTime"),
              _c("enddate", "DateTime"), _c("description", "Memo"), _c("freighttermscode", "Picklist"),
              _c("paymentmethodcode", "Picklist"), _c("shippingmethodcode", "Picklist"), currency=True),
    _dv_table("productpricelevel", "productpricelevels", "productnumber",
              _lookup("pricelevelid", "pricelevel"), _lookup("productid", "product"), _c("productnumber"),
              _lookup("uomid", "uom"), _lookup("uomscheduleid", "uomschedule"), _c("amount", "Money"),
              _c("percentage", "Decimal"), _c("pricingmethodcode", "Picklist"),
              _c("quantitysellingcode", "Picklist"), currency=True, states=False),
    _dv_table("account", "accounts", "name",
              *_strings("name", "accountnumber", "telephone1", "telephone2", "fax", "emailaddress1", "websiteurl",
                        *_ADDRESS1),
              _c("address1_freighttermscode", "Picklist"), _c("address1_shippingmethodcode", "Picklist"),
              _lookup("parentaccountid", "account"), _lookup("primarycontactid", "contact"),
              _lookup("defaultpricelevelid", "pricelevel"), _c("customertypecode", "Picklist"),
              _c("paymenttermscode", "Picklist"), _c("creditlimit", "Money"), _c("description", "Memo"),
              owned=True, currency=True),
    _dv_table("contact", "contacts", "fullname",
              *_strings("firstname", "middlename", "lastname", "emailaddress1", "telephone1", "mobilephone",
                        "jobtitle", "fax", "pager", "websiteurl", *_ADDRESS1),
              _c("fullname", ro=True),
              _lookup("parentcustomerid", "account", "contact", kind="Customer",
                      nav={"account": "parentcustomerid_account", "contact": "parentcustomerid_contact"}),
              _c("parentcustomeridtype", "EntityName"), _c("description", "Memo"), owned=True, currency=True),
    _dv_table("opportunity", "opportunities", "name",
              _c("name"),
              _lookup("customerid", "account", "contact", kind="Customer",
                      nav={"account": "customerid_account", "contact": "customerid_contact"}),
              _lookup("parentaccountid", "account"), _lookup("parentcontactid", "contact"),
              _lookup("pricelevelid", "pricelevel"), _c("estimatedvalue", "Money"),
              _c("estimatedclosedate", "DateTime"), _c("closeprobability", "Integer"), _c("actualvalue", "Money"),
              _c("actualclosedate", "DateTime"), _c("description", "Memo"), _c("stepname"),
              owned=True, currency=True),
    _dv_table("salesorder", "salesorders", "name", *_doc_header("ordernumber"), _lookup("quoteid", "quote"),
              _c("requestdeliveryby", "DateTime"), _c("datefulfilled", "DateTime"), _c("submitdate", "DateTime"),
              _c("bcp_businesscentralordernumber"), owned=True, currency=True),
    _dv_table("salesorderdetail", "salesorderdetails", "productdescription", *_doc_lines("salesorderid"),
              currency=True, states=False),
    _dv_table("invoice", "invoices", "name", *_doc_header("invoicenumber"), _lookup("salesorderid", "salesorder"),
              _c("duedate", "DateTime"), _c("datedelivered", "DateTime"), owned=True, currency=True),
    _dv_table("invoicedetail", "invoicedetails", "productdescription", *_doc_lines("invoiceid"),
              currency=True, states=False),
)

DATAVERSE_TABLES: dict[str, DataverseTable] = {table.logical_name: table for table in _DATAVERSE_TABLE_LIST}


def bc_table(name: str) -> BCTable:
    """The BC table named ``name`` (BC table name, e.g. "Item"); raises ValidationError naming the known tables."""
    try:
        return BC_TABLES[name]
    except KeyError:
        raise ValidationError(
            f'"{name}" is not a Business Central table the portal knows. Choose one of: {", ".join(sorted(BC_TABLES))}.'
        ) from None


def dataverse_table(logical_name: str) -> DataverseTable:
    """The Dataverse table ``logical_name`` (e.g. "product"); raises ValidationError naming the known tables."""
    try:
        return DATAVERSE_TABLES[logical_name]
    except KeyError:
        raise ValidationError(
            f'"{logical_name}" is not a Dataverse table the portal knows. '
            f'Choose one of: {", ".join(sorted(DATAVERSE_TABLES))}.'
        ) from None


class _Lexer(ODataLexer):
    """odata-query's lexer with the lambda operators ``any``/``all`` as whole words only, so that a property such as
    ``allowUpdatingDefaults`` is one identifier (OData Version 4.01, Part 2: URL Conventions, lambda operators)."""

    tokens = ODataLexer.tokens

    @_(r"any(?![\w.])")  # type: ignore[name-defined]  # noqa: F821
    def ANY(self, t: Any) -> Any:  # noqa: N802
        return ODataLexer.ANY(self, t)

    @_(r"all(?![\w.])")  # type: ignore[name-defined]  # noqa: F821
    def ALL(self, t: Any) -> Any:  # noqa: N802
        return ODataLexer.ALL(self, t)


_FUNCTIONS = {"contains", "startswith", "endswith", "tolower", "toupper", "length", "trim", "year", "month", "day"}


def _identifiers(node: ast._Node) -> list[str]:
    """Every column name an OData filter AST refers to (function names excluded)."""
    found: list[str] = []
    if isinstance(node, ast.Identifier):
        found.append(".".join((*node.namespace, node.name)))
    elif isinstance(node, ast.Call):
        for argument in node.args:
            found.extend(_identifiers(argument))
    elif isinstance(node, ast.BoolOp | ast.Compare | ast.BinOp):
        found.extend(_identifiers(node.left))
        found.extend(_identifiers(node.right))
    elif isinstance(node, ast.UnaryOp):
        found.extend(_identifiers(node.operand))
    elif isinstance(node, ast.List):
        for value in node.val:
            found.extend(_identifiers(value))
    return found


def _or_across_fields(node: ast._Node) -> list[str]:
    """The columns of an ``or`` in the tree whose two sides name different columns, sorted; [] when there is none."""
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
        names = sorted(set(_identifiers(node)))
        if len(names) > 1:
            return names
    children: list[ast._Node] = []
    if isinstance(node, ast.BoolOp | ast.Compare | ast.BinOp):
        children = [node.left, node.right]
    elif isinstance(node, ast.UnaryOp):
        children = [node.operand]
    elif isinstance(node, ast.Call):
        children = list(node.args)
    for child in children:
        found = _or_across_fields(child)
        if found:
            return found
    return []


def validate_filter(side: Literal["bc", "dataverse"], table: str, expression: str) -> None:
    """Check an OData ``$filter`` expression against one side's table (odata-query's parser; BC: table 5335
    Integration Table Mapping, fields 14 Table Filter and 15 Integration Table Filter).

    ``side`` is "bc" (names are the BC table's API properties) or "dataverse" (column logical names or
    ``_<lookup>_value``). An empty expression is valid. Raises ``ValidationError`` naming the syntax error position
    or the unknown column and the table's known columns, and, on the BC side, an ``or`` across two fields, which BC
    refuses (Microsoft Learn: "Known limitations with Business Central OData").
    """
    if not expression.strip():
        return
    known = bc_table(table).api_properties() if side == "bc" else dataverse_table(table).filter_names()
    where = f'the Business Central table "{table}"' if side == "bc" else f'the Dataverse table "{table}"'
    try:
        tree = ODataParser().parse(_Lexer().tokenize(expression))
    except ODataException as exc:
        detail = re.sub(r"Token\(type='(\w+)', value=(.*?), lineno=\d+, index=(\d+)\)",
                        r"\2 at position \3", str(exc))
        if detail.endswith("at: None"):
            detail = "the expression ends too early"
        raise ValidationError(f"The filter {expression!r} is not valid OData: {detail}.") from None
    unknown = [name for name in _identifiers(tree) if name not in known and name not in _FUNCTIONS]
    if unknown:
        names = ", ".join(f'"{name}"' for name in dict.fromkeys(unknown))
        raise ValidationError(
            f"The filter names {names}, which {where} does not have. Known columns: {', '.join(sorted(known))}."
        )
    if side == "bc":
        mixed = _or_across_fields(tree)
        if mixed:
            raise ValidationError(
                f"Business Central cannot combine different fields with \"or\" (here {' and '.join(mixed)}): "
                "\"The 'OR' operator is not supported on distinct fields on an OData filter.\" Use \"or\" on one "
                "field only (status eq 'A' or status eq 'B'), or \"in\"."
            )
