"""Business Central API emulator (protocols.md D).

Routes (``{bc}`` = ``{origin}/v2.0/{tenant}/{environment}``; the tenant segment may be omitted as in
``/v2.0/{environment}/api/...``, D1):

* ``{bc}/api/v2.0/companies`` and ``{bc}/api/v2.0/companies({id})/{entitySet}[({id})[/{lines}]]`` for
  the standard entity sets of D10 (items, itemCategories, unitsOfMeasure, customers, vendors, contacts,
  currencies, salespeoplePurchasers, paymentTerms, shipmentMethods, opportunities, salesQuotes,
  salesQuoteLines, salesOrders, salesOrderLines, salesInvoices, salesInvoiceLines) and
  ``companyInformation`` (API v2.0 "companyInformation": one row, ``currencyCode`` = LCY) and the read-only
  ``contactsInformation`` (Contact Business Relation: contactId, contactNumber, contactName, contactType,
  relatedId, relatedType);
  ``{entitySet}/$count`` answers the plain number (OData v4);
* ``{bc}/api/bcportal/integration/v1.0/companies({id})/{entitySet}`` - the custom API pages of the
  portal's companion extension for what v2.0 lacks (D11 option 2, Microsoft's recommended route):
  ``resources``, ``resourceUnitsOfMeasure``, ``itemUnitsOfMeasure``, ``customerPriceGroups``,
  ``salesPrices``, ``salesHeaderArchives``, ``shippingAgents``, ``unitGroups`` (derived from items and
  resources), and the standard tables of :data:`EXTENSION_FIELDS` re-exposed with the fields v2.0 lacks
  (same rows, SystemId and ``lastModifiedDateTime`` as on v2.0);
* ``{bc}/api/v2.0/$batch`` and ``{bc}/api/bcportal/integration/v1.0/$batch`` - JSON batch (D9),
  at most 100 operations, ``Isolation: snapshot`` makes it atomic.

Behaviour: ``lastModifiedDateTime`` on every row (UTC, milliseconds), ``$filter``/``$select``/
``$orderby``/``$top``/``$skip``/``$count``/``$expand`` (single level), server-driven paging at 20,000
rows or ``Prefer: odata.maxpagesize`` (D4), ``@odata.etag`` with ``If-Match`` required on PATCH and
DELETE, stale ETag -> 409 ``Request_EntityChanged`` (D6), errors ``{"error": {"code", "message"}}``
with a ``CorrelationId`` suffix (D7).  Sign-in: Entra bearer token for
``https://api.businesscentral.dynamics.com`` from a registered application or user, or HTTP Basic
with the user name and web service access key (on-premises style, D2).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .httpcore import Request, Response, json_response
from .odata import (
    GUID_RE,
    ODataError,
    compile_filter,
    parse_datetime,
    parse_expand,
    parse_orderby,
    parse_segment,
    parse_select,
)

CUSTOM_API = ("bcportal", "integration", "v1.0")
BC_JSON = "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8"
_NS = uuid.UUID("5b0c2f7e-8d1a-4c3b-9e6f-1a2b3c4d5e6f")

STR, INT, DEC, BOOL, DATE, DATETIME, GUID = "str", "int", "dec", "bool", "date", "datetime", "guid"


def now_bc() -> str:
    """UTC now as BC writes ``lastModifiedDateTime`` (milliseconds, ``Z``)."""
    n = dt.datetime.now(dt.UTC)
    return n.strftime("%Y-%m-%dT%H:%M:%S.") + f"{n.microsecond // 1000:03d}Z"


def stable_id(*parts: str) -> str:
    """Deterministic SystemId for seeded rows (stable across restarts)."""
    return str(uuid.uuid5(_NS, "/".join(parts)))


@dataclass
class Entity:
    """An API page: entity set name, fields (name -> type), read-only fields, key/number field,
    lookups (id field, code field, target set, target code field), parent (fk, header set)."""

    name: str
    fields: dict[str, str]
    read_only: set[str] = field(default_factory=set)
    key_field: str | None = None
    series: str | None = None
    lookups: list[tuple[str, str, str, str]] = field(default_factory=list)
    parent: tuple[str, str] | None = None
    api: str = "v2.0"
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    entity_type: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)


def _addr(prefix: str) -> dict[str, str]:
    return {f"{prefix}AddressLine1": STR, f"{prefix}AddressLine2": STR, f"{prefix}City": STR,
            f"{prefix}Country": STR, f"{prefix}State": STR, f"{prefix}PostCode": STR}


_DOC_COMMON = {"id": GUID, "number": STR, "externalDocumentNumber": STR, "postingDate": DATE, "customerId": GUID,
               "customerNumber": STR, "customerName": STR, "billToName": STR, "billToCustomerId": GUID,
               "billToCustomerNumber": STR, "shipToName": STR, "shipToContact": STR, **_addr("sellTo"),
               **_addr("billTo"), **_addr("shipTo"), "currencyId": GUID, "currencyCode": STR,
               "paymentTermsId": GUID, "shipmentMethodId": GUID, "salesperson": STR, "discountAmount": DEC,
               "discountAppliedBeforeTax": BOOL, "totalAmountExcludingTax": DEC, "totalTaxAmount": DEC,
               "totalAmountIncludingTax": DEC, "status": STR, "lastModifiedDateTime": DATETIME,
               "phoneNumber": STR, "email": STR}
_DOC_RO = {"id", "number", "customerName", "billToName", "totalAmountExcludingTax", "totalTaxAmount",
           "totalAmountIncludingTax", "lastModifiedDateTime", "status"}
_LINE = {"id": GUID, "documentId": GUID, "sequence": INT, "itemId": GUID, "accountId": GUID, "lineType": STR,
         "lineObjectNumber": STR, "description": STR, "description2": STR, "unitOfMeasureId": GUID,
         "unitOfMeasureCode": STR, "quantity": DEC, "unitPrice": DEC, "discountAmount": DEC, "discountPercent": DEC,
         "discountAppliedBeforeTax": BOOL, "amountExcludingTax": DEC, "taxCode": STR, "taxPercent": DEC,
         "totalTaxAmount": DEC, "amountIncludingTax": DEC, "invoiceDiscountAllocation": DEC, "netAmount": DEC,
         "netTaxAmount": DEC, "netAmountIncludingTax": DEC, "shipmentDate": DATE, "itemVariantId": GUID,
         "locationId": GUID}
_LINE_RO = {"id", "amountExcludingTax", "totalTaxAmount", "amountIncludingTax", "invoiceDiscountAllocation",
            "netAmount", "netTaxAmount", "netAmountIncludingTax"}
_LINE_TYPES = ("Comment", "Account", "Item", "Resource", "Fixed Asset", "Charge")
_DOC_LOOKUPS = [("customerId", "customerNumber", "customers", "number"),
                ("currencyId", "currencyCode", "currencies", "code"),
                ("paymentTermsId", "paymentTermsCode", "paymentTerms", "code"),
                ("shipmentMethodId", "shipmentMethodCode", "shipmentMethods", "code")]
_PARTY_LOOKUPS = [("currencyId", "currencyCode", "currencies", "code"),
                  ("paymentTermsId", "paymentTermsCode", "paymentTerms", "code"),
                  ("shipmentMethodId", "shipmentMethodCode", "shipmentMethods", "code")]


def _entities() -> dict[str, Entity]:
    e: list[Entity] = [
        Entity("companies", {"id": GUID, "systemVersion": STR, "timestamp": INT, "name": STR, "displayName": STR,
                             "businessProfileId": STR, "systemCreatedAt": DATETIME, "systemCreatedBy": GUID,
                             "systemModifiedAt": DATETIME, "systemModifiedBy": GUID},
               read_only={"id", "systemVersion", "timestamp", "name", "systemCreatedAt", "systemCreatedBy",
                          "systemModifiedAt", "systemModifiedBy"}, entity_type="company"),
        Entity("items", {"id": GUID, "number": STR, "displayName": STR, "displayName2": STR, "type": STR,
                         "itemCategoryId": GUID, "itemCategoryCode": STR, "blocked": BOOL, "gtin": STR,
                         "inventory": DEC, "unitPrice": DEC, "priceIncludesTax": BOOL, "unitCost": DEC,
                         "taxGroupId": GUID, "taxGroupCode": STR, "baseUnitOfMeasureId": GUID,
                         "baseUnitOfMeasureCode": STR, "generalProductPostingGroupId": GUID,
                         "generalProductPostingGroupCode": STR, "inventoryPostingGroupId": GUID,
                         "inventoryPostingGroupCode": STR, "lastModifiedDateTime": DATETIME},
               read_only={"id", "inventory", "lastModifiedDateTime"}, key_field="number", series="I",
               lookups=[("itemCategoryId", "itemCategoryCode", "itemCategories", "code"),
                        ("baseUnitOfMeasureId", "baseUnitOfMeasureCode", "unitsOfMeasure", "code")],
               enums={"type": ("Inventory", "Service", "Non-Inventory")}, entity_type="item",
               defaults={"type": "Inventory", "blocked": False, "inventory": 0.0, "unitPrice": 0.0, "unitCost": 0.0,
                         "priceIncludesTax": False}),
        Entity("itemCategories", {"id": GUID, "code": STR, "displayName": STR, "lastModifiedDateTime": DATETIME},
               read_only={"id", "lastModifiedDateTime"}, key_field="code", entity_type="itemCategory"),
        Entity("unitsOfMeasure", {"id": GUID, "code": STR, "displayName": STR, "internationalStandardCode": STR,
                                  "symbol": STR, "lastModifiedDateTime": DATETIME},
               read_only={"id", "lastModifiedDateTime"}, key_field="code", entity_type="unitOfMeasure"),
        Entity("customers", {"id": GUID, "number": STR, "displayName": STR, "type": STR, "addressLine1": STR,
                             "addressLine2": STR, "city": STR, "state": STR, "country": STR, "postalCode": STR,
                             "phoneNumber": STR, "email": STR, "website": STR, "salespersonCode": STR,
                             "balanceDue": DEC, "creditLimit": DEC, "taxLiable": BOOL, "taxAreaId": GUID,
                             "taxAreaDisplayName": STR, "taxRegistrationNumber": STR, "currencyId": GUID,
                             "currencyCode": STR, "paymentTermsId": GUID, "shipmentMethodId": GUID,
                             "paymentMethodId": GUID, "blocked": STR, "lastModifiedDateTime": DATETIME},
               read_only={"id", "balanceDue", "lastModifiedDateTime"}, key_field="number", series="C",
               lookups=list(_PARTY_LOOKUPS),
               enums={"type": ("Company", "Person"), "blocked": (" ", "Ship", "Invoice", "All")},
               entity_type="customer", defaults={"type": "Company", "blocked": " ", "balanceDue": 0.0,
                                                 "creditLimit": 0.0, "taxLiable": False}),
        Entity("vendors", {"id": GUID, "number": STR, "displayName": STR, "addressLine1": STR, "addressLine2": STR,
                           "city": STR, "state": STR, "country": STR, "postalCode": STR, "phoneNumber": STR,
                           "email": STR, "website": STR, "taxRegistrationNumber": STR, "currencyId": GUID,
                           "currencyCode": STR, "irs1099Code": STR, "paymentTermsId": GUID, "paymentMethodId": GUID,
                           "taxLiable": BOOL, "blocked": STR, "balance": DEC, "lastModifiedDateTime": DATETIME},
               read_only={"id", "balance", "lastModifiedDateTime"}, key_field="number", series="V",
               lookups=[("currencyId", "currencyCode", "currencies", "code"),
                        ("paymentTermsId", "paymentTermsCode", "paymentTerms", "code")],
               enums={"blocked": (" ", "Payment", "All")}, entity_type="vendor",
               defaults={"blocked": " ", "balance": 0.0, "taxLiable": False}),
        Entity("companyInformation", {"id": GUID, "displayName": STR, "addressLine1": STR, "addressLine2": STR,
                                      "city": STR, "state": STR, "country": STR, "postalCode": STR,
                                      "phoneNumber": STR, "faxNumber": STR, "email": STR, "website": STR,
                                      "taxRegistrationNumber": STR, "currencyCode": STR,
                                      "currentFiscalYearStartDate": DATE, "industry": STR,
                                      "lastModifiedDateTime": DATETIME},
               read_only={"id", "currencyCode", "currentFiscalYearStartDate", "lastModifiedDateTime"},
               entity_type="companyInformation"),
        Entity("contacts", {"id": GUID, "number": STR, "type": STR, "displayName": STR, "jobTitle": STR,
                            "companyNumber": STR, "companyName": STR, "contactBusinessRelation": STR,
                            "addressLine1": STR, "addressLine2": STR, "city": STR, "state": STR, "country": STR,
                            "postalCode": STR, "phoneNumber": STR, "mobilePhoneNumber": STR, "email": STR,
                            "website": STR, "searchName": STR, "privacyBlocked": BOOL, "taxRegistrationNumber": STR,
                            "lastInteractionDate": DATE, "lastModifiedDateTime": DATETIME},
               read_only={"id", "companyName", "contactBusinessRelation", "lastModifiedDateTime"},
               key_field="number", series="CT", enums={"type": ("Company", "Person")}, entity_type="contact",
               defaults={"type": "Person", "privacyBlocked": False, "contactBusinessRelation": "None"}),
        Entity("currencies", {"id": GUID, "code": STR, "displayName": STR, "symbol": STR,
                              "amountDecimalPlaces": STR, "amountRoundingPrecision": DEC,
                              "lastModifiedDateTime": DATETIME},
               read_only={"id", "lastModifiedDateTime"}, key_field="code", entity_type="currency"),
        Entity("salespeoplePurchasers", {"id": GUID, "code": STR, "displayName": STR, "email": STR, "email2": STR,
                                         "phoneNo": STR, "jobTitle": STR, "commisionPercent": DEC,
                                         "privacyBlocked": BOOL, "blocked": BOOL, "lastModifiedDateTime": DATETIME},
               read_only={"id", "lastModifiedDateTime"}, key_field="code", entity_type="salespersonPurchaser",
               defaults={"blocked": False, "privacyBlocked": False, "commisionPercent": 0.0}),
        Entity("paymentTerms", {"id": GUID, "code": STR, "displayName": STR, "dueDateCalculation": STR,
                                "discountDateCalculation": STR, "discountPercent": DEC,
                                "calculateDiscountOnCreditMemos": BOOL, "lastModifiedDateTime": DATETIME},
               read_only={"id", "lastModifiedDateTime"}, key_field="code", entity_type="paymentTerm"),
        Entity("shipmentMethods", {"id": GUID, "code": STR, "displayName": STR, "lastModifiedDateTime": DATETIME},
               read_only={"id", "lastModifiedDateTime"}, key_field="code", entity_type="shipmentMethod"),
        Entity("opportunities", {"id": GUID, "number": STR, "contactNumber": STR, "contactName": STR,
                                 "contactCompanyName": STR, "salespersonCode": STR, "description": STR,
                                 "status": STR, "closed": BOOL, "creationDate": DATE, "dateClosed": DATE,
                                 "calculatedCurrentValue": DEC, "chancesOfSuccessPrc": DEC, "completedPrc": DEC,
                                 "estimatedClosingDate": DATE, "estimatedValue": DEC, "systemCreatedAt": DATETIME,
                                 "lastModifiedDateTime": DATETIME},
               read_only={"id", "contactName", "contactCompanyName", "systemCreatedAt", "lastModifiedDateTime"},
               key_field="number", series="OP",
               enums={"status": ("Not Started", "In Progress", "Won", "Lost")}, entity_type="opportunity",
               defaults={"status": "Not Started", "closed": False}),
        Entity("salesQuotes", {**_DOC_COMMON, "documentDate": DATE, "dueDate": DATE, "sentDate": DATETIME,
                               "validUntilDate": DATE, "acceptedDate": DATE},
               read_only=_DOC_RO, key_field="number", series="SQ", lookups=list(_DOC_LOOKUPS),
               entity_type="salesQuote", defaults={"status": "Draft", "discountAmount": 0.0}),
        Entity("salesOrders", {**_DOC_COMMON, "orderDate": DATE, "pricesIncludeTax": BOOL, "partialShipping": BOOL,
                               "requestedDeliveryDate": DATE, "fullyShipped": BOOL},
               read_only=_DOC_RO | {"fullyShipped"}, key_field="number", series="SO", lookups=list(_DOC_LOOKUPS),
               entity_type="salesOrder", defaults={"status": "Draft", "discountAmount": 0.0, "fullyShipped": False,
                                                   "pricesIncludeTax": False, "partialShipping": True}),
        Entity("salesInvoices", {**_DOC_COMMON, "invoiceDate": DATE, "dueDate": DATE, "promisedPayDate": DATE,
                                 "customerPurchaseOrderReference": STR, "orderId": GUID, "orderNumber": STR,
                                 "remainingAmount": DEC, "pricesIncludeTax": BOOL},
               read_only=_DOC_RO | {"remainingAmount", "orderId", "orderNumber"}, key_field="number", series="SI",
               lookups=list(_DOC_LOOKUPS), entity_type="salesInvoice",
               defaults={"status": "Draft", "discountAmount": 0.0, "remainingAmount": 0.0,
                         "pricesIncludeTax": False}),
        Entity("salesQuoteLines", dict(_LINE), read_only=set(_LINE_RO), parent=("documentId", "salesQuotes"),
               enums={"lineType": _LINE_TYPES}, entity_type="salesQuoteLine"),
        Entity("salesOrderLines", {**_LINE, "shippedQuantity": DEC, "invoicedQuantity": DEC, "invoiceQuantity": DEC,
                                   "shipQuantity": DEC},
               read_only=set(_LINE_RO) | {"shippedQuantity", "invoicedQuantity"},
               parent=("documentId", "salesOrders"), enums={"lineType": _LINE_TYPES}, entity_type="salesOrderLine"),
        Entity("salesInvoiceLines", dict(_LINE), read_only=set(_LINE_RO), parent=("documentId", "salesInvoices"),
               enums={"lineType": _LINE_TYPES}, entity_type="salesInvoiceLine"),
        # custom API pages (bcportal/integration/v1.0) for what v2.0 lacks (protocols.md D11)
        Entity("resources", {"id": GUID, "number": STR, "displayName": STR, "type": STR,
                             "baseUnitOfMeasureCode": STR, "unitPrice": DEC, "unitCost": DEC, "directUnitCost": DEC,
                             "blocked": BOOL, "jobTitle": STR, "generalProductPostingGroupCode": STR,
                             "vendorNumber": STR, "capacity": DEC, "lastModifiedDateTime": DATETIME},
               read_only={"id", "capacity", "lastModifiedDateTime"}, key_field="number", series="R", api="custom",
               enums={"type": ("Person", "Machine")}, entity_type="resource",
               defaults={"type": "Person", "blocked": False, "unitPrice": 0.0, "unitCost": 0.0, "capacity": 0.0}),
        Entity("shippingAgents", {"id": GUID, "code": STR, "displayName": STR, "internetAddress": STR,
                                  "accountNumber": STR, "lastModifiedDateTime": DATETIME},
               read_only={"id", "lastModifiedDateTime"}, key_field="code", api="custom", entity_type="shippingAgent"),
        Entity("unitGroups", {"id": GUID, "sourceType": STR, "sourceId": GUID, "sourceNumber": STR, "code": STR,
                              "description": STR, "sourceName": STR, "lastModifiedDateTime": DATETIME},
               read_only={"id", "sourceType", "sourceId", "sourceNumber", "code", "description", "sourceName",
                          "lastModifiedDateTime"}, api="custom", enums={"sourceType": ("Item", "Resource")},
               entity_type="unitGroup"),
        Entity("resourceUnitsOfMeasure", {"id": GUID, "resourceNumber": STR, "code": STR,
                                          "qtyPerUnitOfMeasure": DEC, "relatedToBaseUnitOfMeasure": BOOL,
                                          "lastModifiedDateTime": DATETIME},
               read_only={"id", "lastModifiedDateTime"}, api="custom", entity_type="resourceUnitOfMeasure",
               defaults={"qtyPerUnitOfMeasure": 1.0, "relatedToBaseUnitOfMeasure": True}),
        Entity("itemUnitsOfMeasure", {"id": GUID, "itemNumber": STR, "code": STR, "qtyPerUnitOfMeasure": DEC,
                                      "qtyRoundingPrecision": DEC, "lastModifiedDateTime": DATETIME},
               read_only={"id", "lastModifiedDateTime"}, api="custom", entity_type="itemUnitOfMeasure",
               defaults={"qtyPerUnitOfMeasure": 1.0}),
        Entity("customerPriceGroups", {"id": GUID, "code": STR, "description": STR, "priceIncludesVAT": BOOL,
                                       "allowInvoiceDisc": BOOL, "allowLineDisc": BOOL,
                                       "lastModifiedDateTime": DATETIME},
               read_only={"id", "lastModifiedDateTime"}, api="custom", entity_type="customerPriceGroup",
               defaults={"priceIncludesVAT": False, "allowInvoiceDisc": True, "allowLineDisc": True}),
        Entity("salesPrices", {"id": GUID, "itemNumber": STR, "salesType": STR, "salesCode": STR,
                               "currencyCode": STR, "startingDate": DATE, "endingDate": DATE,
                               "unitOfMeasureCode": STR, "minimumQuantity": DEC, "unitPrice": DEC,
                               "lastModifiedDateTime": DATETIME},
               read_only={"id", "lastModifiedDateTime"}, api="custom",
               enums={"salesType": ("Customer", "Customer Price Group", "All Customers", "Campaign")},
               entity_type="salesPrice", defaults={"salesType": "All Customers", "minimumQuantity": 0.0}),
        # Contact Business Relation as API v2.0 serves it (protocols.md D10 "contactsInformation"; read-only): one
        # row per business relation linked to a table (relatedType "Customer", "Vendor", ...).
        Entity("contactsInformation", {"contactId": GUID, "contactNumber": STR, "contactName": STR,
                                       "contactType": STR, "relatedId": GUID, "relatedType": STR},
               read_only={"contactId", "contactNumber", "contactName", "contactType", "relatedId", "relatedType"},
               enums={"contactType": ("Company", "Person"),
                      "relatedType": (" ", "Customer", "Vendor", "Bank Account", "Employee")},
               entity_type="contactInformation"),
        Entity("salesHeaderArchives", {"id": GUID, "documentType": STR, "number": STR, "docNoOccurrence": INT,
                                       "versionNumber": INT, "sellToCustomerNumber": STR, "sellToCustomerName": STR,
                                       "orderDate": DATE, "status": STR, "amount": DEC, "amountIncludingVAT": DEC,
                                       "currencyCode": STR, "dateArchived": DATE, "lastModifiedDateTime": DATETIME},
               read_only={"id", "lastModifiedDateTime"}, api="custom", entity_type="salesHeaderArchive",
               defaults={"documentType": "Order", "docNoOccurrence": 1, "versionNumber": 1}),
    ]
    return {x.name: x for x in e}


ENTITIES = _entities()

#: Fields the companion extension adds to standard tables (protocols.md D11 option 2): what the integration maps but
#: API v2.0 does not serve (mappings/catalogue.py ``extension=True``).  Entity set -> {field: type}.
_PARTY_EXT = {"contact": STR, "faxNumber": STR, "paymentTermsCode": STR, "shipmentMethodCode": STR,
              "shippingAgentCode": STR, "primaryContactNumber": STR}
_DOC_EXT = {"documentType": STR, "paymentTermsCode": STR, "shipmentMethodCode": STR, "shippingAgentCode": STR,
            "yourReference": STR, "workDescription": STR, "paymentDiscountPercent": DEC}
EXTENSION_FIELDS: dict[str, dict[str, str]] = {
    "customers": dict(_PARTY_EXT),
    "vendors": {**_PARTY_EXT, "purchaserCode": STR},
    "contacts": {"firstName": STR, "middleName": STR, "surname": STR, "faxNumber": STR, "pager": STR,
                 "currencyCode": STR, "salespersonCode": STR},
    "items": {"unitVolume": DEC, "grossWeight": DEC, "vendorNumber": STR, "vendorItemNumber": STR},
    "opportunities": {"contactCompanyNumber": STR},
    "salesQuotes": {**_DOC_EXT, "shipmentDate": DATE},
    "salesOrders": {**_DOC_EXT, "shipmentDate": DATE, "lastShipmentDate": DATE},
    "salesInvoices": {**_DOC_EXT, "shipmentDate": DATE},
    "salesQuoteLines": {"documentType": STR, "currencyCode": STR},
    "salesOrderLines": {"documentType": STR, "currencyCode": STR},
    "salesInvoiceLines": {"documentType": STR, "currencyCode": STR},
}
_DOC_TYPE = {"salesQuotes": "Quote", "salesOrders": "Order", "salesInvoices": "Invoice",
             "salesQuoteLines": "Quote", "salesOrderLines": "Order", "salesInvoiceLines": "Invoice"}
_EXT_READ_ONLY = {"documentType", "currencyCode", "contactCompanyNumber", "lastShipmentDate"}


def _extended(base: Entity) -> Entity:
    """The custom-route page of a standard table: the v2.0 fields plus :data:`EXTENSION_FIELDS`, stored in the same
    rows (same SystemId and lastModifiedDateTime, so a change through either route shows in both)."""
    ext = EXTENSION_FIELDS[base.name]
    read_only = set(base.read_only) | {f for f in ext if f in _EXT_READ_ONLY and not (
        base.name == "contacts" and f == "currencyCode")}
    constants = {"documentType": _DOC_TYPE[base.name]} if base.name in _DOC_TYPE else {}
    return Entity(base.name, {**base.fields, **ext}, read_only, base.key_field, base.series, list(base.lookups),
                  base.parent, "custom", dict(base.enums), base.entity_type, dict(base.defaults), constants)


#: Standard tables re-exposed with their extension fields on ``api/bcportal/integration/v1.0``.
CUSTOM_EXTENDED: dict[str, Entity] = {name: _extended(ENTITIES[name]) for name in EXTENSION_FIELDS}


def routable(api: str, name: str) -> Entity | None:
    """The entity set ``name`` as served on ``api`` ("v2.0" or "custom"), or ``None`` when that route lacks it."""
    if api == "custom":
        if name in CUSTOM_EXTENDED:
            return CUSTOM_EXTENDED[name]
        ent = ENTITIES.get(name)
        return ent if ent is not None and ent.api == "custom" else None
    ent = ENTITIES.get(name)
    return ent if ent is not None and ent.api == "v2.0" and name != "companies" else None


def entity_for(api: str, name: str) -> Entity:
    """Like :func:`routable` but falls back to the standard page (for expansions of related records)."""
    return routable(api, name) or ENTITIES[name]
#: Entity sets that accept GET only (BC maintains their rows): POST/PATCH/DELETE answer 405.
READ_ONLY_SETS = ("companyInformation", "unitGroups", "contactsInformation")
LINES_OF = {"salesOrders": "salesOrderLines", "salesInvoices": "salesInvoiceLines", "salesQuotes": "salesQuoteLines"}
NAV_SINGLE = {"customer": ("customerId", "customers"), "currency": ("currencyId", "currencies"),
              "paymentTerm": ("paymentTermsId", "paymentTerms"), "shipmentMethod": ("shipmentMethodId",
              "shipmentMethods"),
              "itemCategory": ("itemCategoryId", "itemCategories"), "item": ("itemId", "items"),
              "unitOfMeasure": ("unitOfMeasureId", "unitsOfMeasure")}


@dataclass
class BCState:
    """Companies and their rows: ``companies[id] = {"row": {...}, "tables": {set: {id: row}}}``."""

    environment: str = "production"
    companies: dict[str, dict[str, Any]] = field(default_factory=dict)
    version: int = 1
    counters: dict[str, int] = field(default_factory=dict)


class BCError(Exception):
    """An error in BC's envelope (protocols.md D7)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def etag(version: int) -> str:
    """Opaque weak ETag like BC's ``W/"JzQ0Oz..."`` (base64 of the record version, protocols.md D6)."""
    inner = f"{version}1"
    raw = f"'{len(inner) + 2};{inner};00;'".encode()
    return 'W/"' + base64.b64encode(raw).decode() + '"'


class BusinessCentral:
    """The BC API emulator for one tenant and environment."""

    def __init__(self, state: BCState, settings: Any) -> None:
        self.settings = settings
        self.lock = threading.RLock()
        self.origin = ""
        self.tenant_id = ""
        self.tenant_domain = ""
        self.load(state)

    def load(self, state: BCState) -> None:
        with self.lock:
            self.state = state

    # ------------------------------------------------------------------ helpers
    def err(self, e: BCError) -> Response:
        corr = str(uuid.uuid4())
        return json_response(e.status, {"error": {"code": e.code, "message": f"{e.message}  CorrelationId:  {corr}."}},
                             [("OData-Version", "4.0"), ("request-id", corr)],
                             content_type=BC_JSON)

    def base_url(self, env: str, api: str) -> str:
        path = "api/v2.0" if api == "v2.0" else "api/" + "/".join(CUSTOM_API)
        return f"{self.origin}/v2.0/{self.tenant_id}/{env}/{path}/"

    def table(self, company: str, entity: str) -> dict[str, dict[str, Any]]:
        return self.state.companies[company]["tables"].setdefault(entity, {})

    def next_version(self) -> int:
        self.state.version += 1
        return self.state.version

    def insert_seed(self, company: str, entity: str, row: dict[str, Any]) -> dict[str, Any]:
        """Insert a seeded row (fills defaults, derived fields, version and timestamps)."""
        ent = CUSTOM_EXTENDED.get(entity) or ENTITIES[entity]
        full = {f: None for f in ent.fields if f not in ent.constants}
        full.update(ent.defaults)
        full.update(row)
        full["id"] = full.get("id") or str(uuid.uuid4())
        if "lastModifiedDateTime" in ent.fields and not full.get("lastModifiedDateTime"):
            full["lastModifiedDateTime"] = now_bc()
        full["@v"] = self.next_version()
        self.table(company, entity)[full["id"]] = full
        return full

    # ------------------------------------------------------------------ routing
    def handle(self, req: Request, segs: list[str], principal: Any) -> Response:
        """``segs`` = path segments after ``/v2.0/{tenant}/{environment}/``."""
        try:
            with self.lock:
                return self._route(req, segs, principal)
        except BCError as e:
            return self.err(e)

    def _route(self, req: Request, segs: list[str], principal: Any) -> Response:
        env = self.state.environment
        if len(segs) >= 2 and segs[0] == "api" and segs[1] == "v2.0":
            api, rest = "v2.0", segs[2:]
        elif len(segs) >= 4 and segs[0] == "api" and tuple(segs[1:4]) == CUSTOM_API:
            api, rest = "custom", segs[4:]
        else:
            raise BCError(404, "BadRequest_NotFound", "No HTTP resource was found that matches the request URI.")
        base = self.base_url(env, api)
        if not rest:
            return json_response(200, {"@odata.context": base + "$metadata", "value": [
                {"name": e.name, "kind": "EntitySet", "url": e.name} for e in _sets(api)]})
        if rest[0] == "$metadata":
            return Response(200, self._csdl(api).encode(), [("Content-Type", "application/xml")])
        if rest[0] == "$batch":
            if req.method != "POST":
                raise BCError(405, "BadRequest_MethodNotAllowed", "The requested method is not allowed.")
            return self.batch(req, api, principal)
        query = dict(req.query)
        if req.headers.get("prefer"):
            query["__prefer__"] = req.headers.get("prefer") or ""
        return self.execute(req.method, rest, query, req.headers, req.body, api, base)

    def execute(self, method: str, rest: list[str], query: dict[str, str], headers: Any, body: bytes, api: str,
                base: str) -> Response:
        name, key = parse_segment(rest[0]) if "(" in rest[0] else (rest[0], None)
        company_id = query.get("company")
        if name == "companies":
            if key is None:
                if len(rest) > 1 or method != "GET":
                    raise BCError(405, "BadRequest_MethodNotAllowed", "The requested method is not allowed.")
                rows = [c["row"] for c in self.state.companies.values()]
                return self._list(ENTITIES["companies"], rows, query, base + "$metadata#companies", base, None)
            company_id = str(key).lower()
            if company_id not in self.state.companies:
                raise BCError(404, "Internal_CompanyNotFound", f"The company with id '{key}' does not exist.")
            if len(rest) == 1:
                if method != "GET":
                    raise BCError(405, "BadRequest_MethodNotAllowed", "The requested method is not allowed.")
                row = self.state.companies[company_id]["row"]
                return self._single(ENTITIES["companies"], row, query, base + "$metadata#companies/$entity", None)
            rest = rest[1:]
            name, key = parse_segment(rest[0]) if "(" in rest[0] else (rest[0], None)
        elif company_id:
            company_id = company_id.strip("'").lower()
            match = [cid for cid, c in self.state.companies.items()
                     if cid == company_id or c["row"]["name"].lower() == company_id]
            if not match:
                raise BCError(404, "Internal_CompanyNotFound", f"The company '{company_id}' does not exist.")
            company_id = match[0]
        else:
            raise BCError(400, "Internal_CompanyNotFound", "Cannot process the request because the default company "
                          "cannot be found. You can specify a default company in the service configuration file, or "
                          "specify one for each tenant, or you can add a query string in the form of "
                          "'company=name'.")
        ent = routable(api, name)
        if ent is None:
            raise BCError(404, "BadRequest_ResourceNotFound", f"Resource not found for the segment '{name}'.")
        ctx_base = f"{base}$metadata#companies({company_id})/{name}"
        if key is None:
            if len(rest) == 2 and rest[1] == "$count" and method == "GET":
                return self._count(ent, self._rows(company_id, ent), query)
            if len(rest) != 1:
                raise BCError(404, "BadRequest_ResourceNotFound", f"Resource not found for the segment '{rest[1]}'.")
            if method == "GET":
                return self._list(ent, self._rows(company_id, ent), query, ctx_base, base, company_id)
            if name in READ_ONLY_SETS:
                raise BCError(405, "BadRequest_MethodNotAllowed", "The requested method is not allowed.")
            if method == "POST":
                row = self.create(company_id, ent, self._json(body), None)
                return self._single(ent, row, query, ctx_base + "/$entity", company_id, status=201)
            raise BCError(405, "BadRequest_MethodNotAllowed", "The requested method is not allowed.")
        rid = self._key(key)
        rows = self.table(company_id, name) if name != "unitGroups" else {r["id"]: r for r in
                                                                           self._rows(company_id, ent)}
        if rid not in rows:
            raise BCError(404, "Internal_RecordNotFound", f"The {ent.entity_type} does not exist. Identification "
                          f"fields and values: Id='{rid}'")
        if len(rest) == 1:
            if method == "GET":
                return self._single(ent, rows[rid], query, ctx_base + "/$entity", company_id)
            if method == "PATCH":
                if name == "unitGroups":
                    raise BCError(405, "BadRequest_MethodNotAllowed", "Unit groups are maintained by Business "
                                  "Central from items and resources.")
                if name == "contactsInformation":
                    raise BCError(405, "BadRequest_MethodNotAllowed", "The requested method is not allowed.")
                self._check_if_match(rows[rid], headers)
                row = self.update(company_id, ent, rid, self._json(body))
                return self._single(ent, row, query, ctx_base + "/$entity", company_id)
            if method == "DELETE":
                if name in READ_ONLY_SETS:
                    raise BCError(405, "BadRequest_MethodNotAllowed", "The requested method is not allowed.")
                self._check_if_match(rows[rid], headers)
                self.delete(company_id, ent, rid)
                return Response(204)
            raise BCError(405, "BadRequest_MethodNotAllowed", "The requested method is not allowed.")
        sub = rest[1]
        if name in LINES_OF and sub.split("(")[0] == LINES_OF[name]:
            lent = entity_for(api, LINES_OF[name])
            lname, lkey = parse_segment(sub) if "(" in sub else (sub, None)
            lctx = f"{base}$metadata#companies({company_id})/{name}({rid})/{lname}"
            if lkey is None:
                if len(rest) == 3 and rest[2] == "$count" and method == "GET":
                    lines = [r for r in self.table(company_id, lent.name).values() if r.get("documentId") == rid]
                    return self._count(lent, lines, query)
                if method == "GET":
                    lines = [r for r in self.table(company_id, lent.name).values() if r.get("documentId") == rid]
                    return self._list(lent, lines, query, lctx, base, company_id)
                if method == "POST":
                    data = self._json(body)
                    row = self.create(company_id, lent, data, rid)
                    return self._single(lent, row, query, lctx + "/$entity", company_id, status=201)
                raise BCError(405, "BadRequest_MethodNotAllowed", "The requested method is not allowed.")
            return self.execute(method, [f"{lent.name}({lkey})"], {**query, "company": company_id}, headers, body,
                                api, base)
        if sub.startswith("Microsoft.NAV."):
            if method != "POST":
                raise BCError(405, "BadRequest_MethodNotAllowed", "The requested method is not allowed.")
            return self.bound_action(company_id, ent, rid, sub.split(".")[-1])
        if sub in NAV_SINGLE and method == "GET":
            fk, target = NAV_SINGLE[sub]
            other = self.table(company_id, target).get(rows[rid].get(fk) or "")
            if other is None:
                return Response(204)
            return self._single(entity_for(api, target), other, query,
                                f"{base}$metadata#companies({company_id})/{target}/$entity", company_id)
        raise BCError(404, "BadRequest_ResourceNotFound", f"Resource not found for the segment '{sub}'.")

    def _key(self, key: Any) -> str:
        if isinstance(key, dict) and "id" in key:
            key = key["id"]
        if not isinstance(key, str) or not GUID_RE.match(key):
            raise BCError(400, "BadRequest_InvalidRequestUrl", f"The key '{key}' is not a valid GUID.")
        return key.lower()

    def _json(self, body: bytes) -> dict[str, Any]:
        try:
            data = json.loads(body.decode("utf-8")) if body else {}
        except (ValueError, UnicodeDecodeError):
            raise BCError(400, "BadRequest", "Invalid Request Body") from None
        if not isinstance(data, dict):
            raise BCError(400, "BadRequest", "Invalid Request Body")
        return data

    def _check_if_match(self, row: dict[str, Any], headers: Any) -> None:
        im = headers.get("if-match") if headers is not None else None
        if not im:
            raise BCError(400, "BadRequest_InvalidToken", "Could not validate the client concurrency token required "
                          "by the service. Please provide a valid token in the client request.")
        if im.strip() == "*":
            return
        if im.strip() != etag(row["@v"]):
            raise BCError(409, "Request_EntityChanged", "Another user has already changed the record.")

    # ------------------------------------------------------------------ rendering and queries
    def render(self, ent: Entity, row: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
        out: dict[str, Any] = {"@odata.etag": etag(row["@v"])}
        names = select if select is not None else list(ent.fields)
        const = ent.constants
        for n in names:
            out[n] = const[n] if n in const else row.get(n)
        return out

    def _select(self, ent: Entity, query: dict[str, str]) -> list[str] | None:
        sel = parse_select(query.get("$select"))
        if sel is None:
            return None
        for s in sel:
            if s not in ent.fields:
                raise BCError(400, "BadRequest_NotFound", f"Could not find a property named '{s}' on type "
                              f"'Microsoft.NAV.{ent.entity_type}'.")
        return sel

    def _expand(self, ent: Entity, row: dict[str, Any], company: str | None, query: dict[str, str],
                out: dict[str, Any]) -> None:
        try:
            expands = parse_expand(query.get("$expand"))
        except ODataError as e:
            raise BCError(400, "BadRequest_NotFound", str(e)) from None
        for nav, opts in expands:
            if company is None:
                raise BCError(400, "BadRequest_NotFound", f"Could not find a property named '{nav}'.")
            if ent.name in LINES_OF and nav == LINES_OF[ent.name]:
                lent = entity_for(ent.api, nav)
                lines = [r for r in self.table(company, nav).values() if r.get("documentId") == row["id"]]
                pred = self._filter(lent, opts.get("$filter"))
                if pred:
                    lines = [r for r in lines if pred(r)]
                lines.sort(key=lambda r: r.get("sequence") or 0)
                out[nav] = [self.render(lent, r, self._select(lent, opts)) for r in lines]
            elif nav in NAV_SINGLE and NAV_SINGLE[nav][0] in ent.fields:
                fk, target = NAV_SINGLE[nav]
                other = self.table(company, target).get(row.get(fk) or "")
                tent = entity_for(ent.api, target)
                out[nav] = None if other is None else self.render(tent, other, self._select(tent, opts))
            else:
                raise BCError(400, "BadRequest_NotFound", f"Could not find a property named '{nav}' on type "
                              f"'Microsoft.NAV.{ent.entity_type}'.")

    def _single(self, ent: Entity, row: dict[str, Any], query: dict[str, str], context: str, company: str | None,
                status: int = 200) -> Response:
        payload = {"@odata.context": context, **self.render(ent, row, self._select(ent, query))}
        self._expand(ent, row, company, query, payload)
        return json_response(status, payload, [("OData-Version", "4.0"), ("ETag", etag(row["@v"]))],
                             content_type=BC_JSON)

    def _filter(self, ent: Entity, text: str | None) -> Callable[[dict[str, Any]], bool] | None:
        if not text:
            return None

        def resolve(name: str) -> tuple[Callable[[dict[str, Any]], Any], str]:
            if name not in ent.fields:
                raise ODataError(f"Could not find a property named '{name}' on type 'Microsoft.NAV.{ent.entity_type}'.")
            kind = {STR: "str", INT: "num", DEC: "num", BOOL: "bool", DATE: "datetime", DATETIME: "datetime",
                    GUID: "guid"}[ent.fields[name]]
            if name in ent.constants:
                value = ent.constants[name]
                return (lambda r: value), kind
            return (lambda r: r.get(name)), kind
        try:
            return compile_filter(text, resolve)
        except ODataError as e:
            raise BCError(400, "BadRequest_NotFound", str(e)) from None

    def _rows(self, company: str, ent: Entity) -> list[dict[str, Any]]:
        """The rows behind an entity set; ``unitGroups`` are derived from items and resources (one unit group per
        item/resource, as BC keeps them when unit group mapping is enabled: business-central-integration.md 1.3)."""
        if ent.name != "unitGroups":
            return list(self.table(company, ent.name).values())
        out: list[dict[str, Any]] = []
        for source_type, table, name_field in (("Item", "items", "displayName"), ("Resource", "resources",
                                                                                   "displayName")):
            for r in self.table(company, table).values():
                code = f"{source_type.upper()} {r.get('number')}"
                out.append({"id": stable_id(company, "unitGroup", source_type, r["id"]), "sourceType": source_type,
                            "sourceId": r["id"], "sourceNumber": r.get("number"), "code": code,
                            "description": f"{source_type} {r.get('number')} Unit Group",
                            "sourceName": r.get(name_field), "lastModifiedDateTime": r.get("lastModifiedDateTime"),
                            "@v": r["@v"]})
        return out

    def _count(self, ent: Entity, rows: list[dict[str, Any]], query: dict[str, str]) -> Response:
        """``{set}/$count``: the number of rows matching ``$filter`` as plain text (OData v4 ``$count`` segment)."""
        pred = self._filter(ent, query.get("$filter"))
        n = sum(1 for r in rows if pred(r)) if pred else len(rows)
        return Response(200, str(n).encode(), [("Content-Type", "text/plain; charset=utf-8"), ("OData-Version", "4.0")])

    def _list(self, ent: Entity, rows: list[dict[str, Any]], query: dict[str, str], context: str, base: str,
              company: str | None) -> Response:
        pred = self._filter(ent, query.get("$filter"))
        if pred:
            rows = [r for r in rows if pred(r)]
        try:
            order = parse_orderby(query.get("$orderby"))
        except ODataError as e:
            raise BCError(400, "BadRequest_NotFound", str(e)) from None
        for o, _d in order:
            if o not in ent.fields:
                raise BCError(400, "BadRequest_NotFound", f"Could not find a property named '{o}'.")
        natural = ent.key_field or ("sequence" if ent.parent else None)
        if natural:
            rows.sort(key=lambda r: ((r.get("documentId") or "") if ent.parent else "", _sortable(r.get(natural)),
                                     r["id"]))
        else:
            rows.sort(key=lambda r: r["id"])
        for o, desc in reversed(order):
            rows.sort(key=lambda r, o=o: _sortable(r.get(o)), reverse=desc)
        total = len(rows)
        skip = int(query.get("$skip") or 0)
        st = query.get("$skiptoken")
        if st:
            try:
                skip = int(json.loads(base64.urlsafe_b64decode(st.strip("'") + "==")))
            except (ValueError, TypeError):
                raise BCError(400, "BadRequest_InvalidToken", "The skip token is not valid.") from None
        rows = rows[skip:]
        if query.get("$top"):
            rows = rows[: int(query["$top"])]
        prefer = _prefer_pagesize(query.get("__prefer__"))
        page = min(prefer or self.settings.bc_max_page_size, self.settings.bc_max_page_size)
        more = len(rows) > page
        rows = rows[:page]
        select = self._select(ent, query)
        value = []
        for r in rows:
            item = self.render(ent, r, select)
            if query.get("$expand"):
                self._expand(ent, r, company, query, item)
            value.append(item)
        payload: dict[str, Any] = {"@odata.context": context}
        if query.get("$count") == "true":
            payload["@odata.count"] = total
        payload["value"] = value
        hdrs = [("OData-Version", "4.0")]
        if prefer:
            hdrs.append(("Preference-Applied", f"odata.maxpagesize={page}"))
        if more:
            tok = base64.urlsafe_b64encode(json.dumps(skip + page).encode()).decode().rstrip("=")
            q = {k: v for k, v in query.items() if k not in ("$skiptoken", "$skip", "__prefer__")}
            if "$top" in q:
                q["$top"] = str(int(q["$top"]) - page)
            q["$skiptoken"] = tok
            url = context.split("$metadata#", 1)[1]
            if url.endswith("/$entity"):
                url = url[:-8]
            payload["@odata.nextLink"] = base + url + "?" + urllib.parse.urlencode(q, quote_via=urllib.parse.quote,
                                                                                   safe="$,'")
        return json_response(200, payload, hdrs,
                             content_type=BC_JSON)

    # ------------------------------------------------------------------ writes
    def _coerce(self, ent: Entity, name: str, v: Any) -> Any:
        t = ent.fields[name]
        if v is None:
            return None
        try:
            if t == STR:
                if not isinstance(v, str):
                    raise ValueError
                if name in ("number", "code") and len(v) > 20:
                    raise BCError(400, "Application_StringExceededLength", f"The length of the string is {len(v)}, "
                                  f"but it must be less than or equal to 20 characters. Value: {v}")
                allowed = ent.enums.get(name)
                if allowed and v not in allowed:
                    raise BCError(400, "BadRequest", f"Invalid Request Body: the value '{v}' is not valid for "
                                  f"{name}. Allowed values: {', '.join(allowed)}.")
                return v
            if t == INT:
                if isinstance(v, bool) or not isinstance(v, int):
                    raise ValueError
                return v
            if t == DEC:
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise ValueError
                return float(v)
            if t == BOOL:
                if not isinstance(v, bool):
                    raise ValueError
                return v
            if t == DATE:
                return parse_datetime(str(v)).strftime("%Y-%m-%d")
            if t == DATETIME:
                return parse_datetime(str(v)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            if t == GUID:
                if not isinstance(v, str) or not GUID_RE.match(v):
                    raise BCError(400, "Application_InvalidGUID", f"The value '{v}' is not a valid GUID.")
                return v.lower()
        except ValueError:
            raise BCError(400, "BadRequest", f"Invalid Request Body: cannot convert the value of '{name}'.") from None
        return v

    def _apply(self, company: str, ent: Entity, row: dict[str, Any], data: dict[str, Any], creating: bool) -> None:
        for k, v in data.items():
            if k.startswith("@odata"):
                continue
            if k in LINES_OF.values() and ent.name in LINES_OF and LINES_OF[ent.name] == k:
                continue
            if k not in ent.fields:
                raise BCError(400, "BadRequest", f"The property '{k}' does not exist on type "
                              f"'Microsoft.NAV.{ent.entity_type}'. Make sure to only use property names that are "
                              "defined by the type.")
            if k in ent.read_only and not (creating and k == "id") and not (creating and k == "number"
                                                                            and ent.key_field == "number"):
                raise BCError(400, "BadRequest_InvalidOperation", f"The field '{k}' is read-only.")
            row[k] = self._coerce(ent, k, v)
        for id_f, code_f, target, tcode in ent.lookups:
            tbl = self.table(company, target)
            if id_f in data and row.get(id_f):
                other = tbl.get(row[id_f])
                if other is None:
                    raise BCError(400, "Internal_InvalidTableRelation", f"The field {id_f} of table "
                                  f"{ent.entity_type} contains a value ({row[id_f]}) that cannot be found in the "
                                  f"related table ({target}).")
                row[code_f] = other.get(tcode)
            elif code_f in data and row.get(code_f):
                match = next((r for r in tbl.values() if r.get(tcode) == row[code_f]), None)
                if match is None:
                    raise BCError(400, "Internal_InvalidTableRelation", f"The field {code_f} of table "
                                  f"{ent.entity_type} contains a value ({row[code_f]}) that cannot be found in the "
                                  f"related table ({target}).")
                row[id_f] = match["id"]
            elif code_f in data or id_f in data:
                row[id_f] = None
                row[code_f] = None

    def create(self, company: str, ent: Entity, data: dict[str, Any], parent_id: str | None) -> dict[str, Any]:
        """POST: number from the No. Series when omitted; 400 on duplicate key (protocols.md D7)."""
        if ent.name in ("salesHeaderArchives",):
            raise BCError(405, "BadRequest_MethodNotAllowed", "Archived documents are read-only.")
        row: dict[str, Any] = {f: None for f in ent.fields}
        row.update(ent.defaults)
        self._apply(company, ent, row, data, True)
        row["id"] = (row.get("id") or str(uuid.uuid4())).lower()
        tbl = self.table(company, ent.name)
        if row["id"] in tbl:
            raise BCError(400, "Internal_EntityWithSameKeyExists", f"The {ent.entity_type} already exists. "
                          f"Identification fields and values: Id='{row['id']}'")
        if ent.key_field:
            if not row.get(ent.key_field):
                if not ent.series:
                    raise BCError(400, "BadRequest_RequiredParamNotProvided", f"The field '{ent.key_field}' must "
                                  "have a value.")
                n = self.state.counters.get(company + ent.name, 0) + 1
                self.state.counters[company + ent.name] = n
                row[ent.key_field] = f"{ent.series}{n:06d}"
            if any(r.get(ent.key_field) == row[ent.key_field] for r in tbl.values()):
                raise BCError(400, "Internal_EntityWithSameKeyExists", f"The {ent.entity_type} already exists. "
                              f"Identification fields and values: No.='{row[ent.key_field]}'")
        if ent.parent:
            fk, header_set = ent.parent
            pid = parent_id or row.get(fk)
            header = self.table(company, header_set).get(pid or "")
            if header is None:
                raise BCError(400, "Internal_RecordNotFound", f"The {ENTITIES[header_set].entity_type} does not "
                              f"exist. Identification fields and values: Id='{pid}'")
            self._editable(header_set, header)
            row[fk] = pid
            if not row.get("sequence"):
                seqs = [r.get("sequence") or 0 for r in self.table(company, ent.name).values() if r.get(fk) == pid]
                row["sequence"] = (max(seqs) if seqs else 0) + 10000
        self._derive(company, ent, row)
        row["@v"] = self.next_version()
        if "lastModifiedDateTime" in ent.fields:
            row["lastModifiedDateTime"] = now_bc()
        tbl[row["id"]] = row
        self._after(company, ent, row)
        lines = data.get(LINES_OF.get(ent.name, "\0"))
        if isinstance(lines, list):
            for line in lines:
                self.create(company, entity_for(ent.api, LINES_OF[ent.name]), dict(line), row["id"])
        return tbl[row["id"]]

    def _editable(self, header_set: str, header: dict[str, Any]) -> None:
        if header_set == "salesInvoices" and header.get("status") not in ("Draft", None):
            raise BCError(400, "BadRequest_InvalidOperation", "A posted sales invoice cannot be changed.")
        if header_set == "salesOrders" and header.get("status") == "Released":
            # BC: Sales Header.TestStatusOpen (reference 8.2: a released order is reopened before it is changed)
            raise BCError(400, "Application_TestFieldError", "Status must be equal to 'Open'  in Sales Header: "
                          f"Document Type=Order, No.={header.get('number')}. Current value is 'Released'.")

    def update(self, company: str, ent: Entity, rid: str, data: dict[str, Any]) -> dict[str, Any]:
        tbl = self.table(company, ent.name)
        if ent.name in ("salesInvoices", "salesOrders"):
            self._editable(ent.name, tbl[rid])
        if ent.parent:
            header = self.table(company, ent.parent[1]).get(tbl[rid].get(ent.parent[0]) or "")
            if header is not None:
                self._editable(ent.parent[1], header)
        row = dict(tbl[rid])
        self._apply(company, ent, row, data, False)
        if ent.key_field and row.get(ent.key_field) != tbl[rid].get(ent.key_field):
            if any(r.get(ent.key_field) == row[ent.key_field] for i, r in tbl.items() if i != rid):
                raise BCError(400, "Internal_EntityWithSameKeyExists", f"The {ent.entity_type} already exists. "
                              f"Identification fields and values: No.='{row[ent.key_field]}'")
        self._derive(company, ent, row)
        row["@v"] = self.next_version()
        if "lastModifiedDateTime" in ent.fields:
            row["lastModifiedDateTime"] = now_bc()
        tbl[rid] = row
        self._after(company, ent, row)
        return row

    def delete(self, company: str, ent: Entity, rid: str) -> None:
        tbl = self.table(company, ent.name)
        row = tbl[rid]
        if ent.name == "salesInvoices":
            self._editable(ent.name, row)
        if ent.parent:
            header = self.table(company, ent.parent[1]).get(row.get(ent.parent[0]) or "")
            if header is not None:
                self._editable(ent.parent[1], header)
        del tbl[rid]
        if ent.name in LINES_OF:
            ltbl = self.table(company, LINES_OF[ent.name])
            for lid in [i for i, r in ltbl.items() if r.get("documentId") == rid]:
                del ltbl[lid]
        if ent.parent:
            self._after(company, ent, row)

    def _derive(self, company: str, ent: Entity, row: dict[str, Any]) -> None:
        if ent.name in ("salesOrders", "salesInvoices", "salesQuotes"):
            cust = None
            if row.get("customerId"):
                cust = self.table(company, "customers").get(row["customerId"])
            if cust is not None:
                row["customerNumber"] = cust.get("number")
                row["customerName"] = cust.get("displayName")
                row["billToName"] = row.get("billToName") or cust.get("displayName")
                row["billToCustomerId"] = row.get("billToCustomerId") or cust["id"]
                row["billToCustomerNumber"] = row.get("billToCustomerNumber") or cust.get("number")
                row["shipToName"] = row.get("shipToName") or cust.get("displayName")
                row["sellToAddressLine1"] = row.get("sellToAddressLine1") or cust.get("addressLine1")
                row["sellToCity"] = row.get("sellToCity") or cust.get("city")
                row["sellToPostCode"] = row.get("sellToPostCode") or cust.get("postalCode")
                row["sellToCountry"] = row.get("sellToCountry") or cust.get("country")
                if not row.get("currencyCode") and cust.get("currencyCode"):
                    row["currencyCode"], row["currencyId"] = cust.get("currencyCode"), cust.get("currencyId")
                row["salesperson"] = row.get("salesperson") or cust.get("salespersonCode")
            elif not row.get("customerId") and not row.get("customerNumber"):
                raise BCError(400, "Application_FieldValidationException", "You must specify a customer "
                              "(customerId or customerNumber) for the sales document.")
            lines = [r for r in self.table(company, LINES_OF[ent.name]).values() if r.get("documentId") == row["id"]]
            net = round(sum(r.get("netAmount") or 0 for r in lines) - float(row.get("discountAmount") or 0), 2)
            tax = round(sum(r.get("netTaxAmount") or 0 for r in lines), 2)
            row["totalAmountExcludingTax"] = net
            row["totalTaxAmount"] = tax
            row["totalAmountIncludingTax"] = round(net + tax, 2)
        if ent.parent:
            header = self.table(company, ent.parent[1]).get(row.get(ent.parent[0]) or "")
            if header is not None:
                row["currencyCode"] = header.get("currencyCode")
            if row.get("itemId"):
                item = self.table(company, "items").get(row["itemId"])
                if item is None:
                    raise BCError(400, "Internal_InvalidTableRelation", f"The item with id {row['itemId']} does "
                                  "not exist.")
                row["lineType"] = row.get("lineType") or "Item"
                row["lineObjectNumber"] = item.get("number")
                row["description"] = row.get("description") or item.get("displayName")
                if row.get("unitPrice") is None:
                    row["unitPrice"] = item.get("unitPrice")
                row["unitOfMeasureCode"] = row.get("unitOfMeasureCode") or item.get("baseUnitOfMeasureCode")
                row["unitOfMeasureId"] = row.get("unitOfMeasureId") or item.get("baseUnitOfMeasureId")
            elif row.get("lineType") == "Item" and row.get("lineObjectNumber"):
                item = next((r for r in self.table(company, "items").values()
                             if r.get("number") == row["lineObjectNumber"]), None)
                if item is None:
                    raise BCError(400, "Internal_InvalidTableRelation", f"The Item does not exist. Identification "
                                  f"fields and values: No.='{row['lineObjectNumber']}'")
                row["itemId"] = item["id"]
                return self._derive(company, ent, row)
            qty = float(row.get("quantity") or 0)
            price = float(row.get("unitPrice") or 0)
            gross = qty * price
            disc = float(row.get("discountAmount") or 0) or round(
                gross * float(row.get("discountPercent") or 0) / 100, 2)
            net = round(gross - disc, 2)
            taxp = float(row.get("taxPercent") or 0)
            row["amountExcludingTax"] = row["netAmount"] = net
            row["totalTaxAmount"] = row["netTaxAmount"] = round(net * taxp / 100, 2)
            row["amountIncludingTax"] = row["netAmountIncludingTax"] = round(net * (1 + taxp / 100), 2)
            row["invoiceDiscountAllocation"] = 0.0

    def _after(self, company: str, ent: Entity, row: dict[str, Any]) -> None:
        if ent.parent:
            fk, header_set = ent.parent
            header = self.table(company, header_set).get(row.get(fk) or "")
            if header is not None:
                h = dict(header)
                self._derive(company, ENTITIES[header_set], h)
                h["@v"] = self.next_version()
                h["lastModifiedDateTime"] = now_bc()
                self.table(company, header_set)[h["id"]] = h

    def bound_action(self, company: str, ent: Entity, rid: str, action: str) -> Response:
        """``Microsoft.NAV.post`` on a draft invoice (status -> Open) and ``shipAndInvoice`` on an order
        (creates the posted invoice, archives and removes the order) (protocols.md D10)."""
        tbl = self.table(company, ent.name)
        row = tbl[rid]
        if ent.name == "salesInvoices" and action == "post":
            self._editable(ent.name, row)
            new = dict(row)
            new.update({"status": "Open", "remainingAmount": row.get("totalAmountIncludingTax"),
                        "postingDate": row.get("postingDate") or dt.date.today().isoformat(),
                        "@v": self.next_version(), "lastModifiedDateTime": now_bc()})
            tbl[rid] = new
            return Response(204)
        if ent.name == "salesOrders" and action == "shipAndInvoice":
            lines = [r for r in self.table(company, "salesOrderLines").values() if r.get("documentId") == rid]
            inv_fields = CUSTOM_EXTENDED["salesInvoices"].fields
            inv = {k: v for k, v in row.items() if k in inv_fields and k not in ("id", "number", "status",
                                                                                 "documentType")}
            inv.update({"orderId": rid, "orderNumber": row.get("number"), "status": "Open",
                        "invoiceDate": dt.date.today().isoformat(), "postingDate": dt.date.today().isoformat(),
                        "remainingAmount": row.get("totalAmountIncludingTax")})
            created = self.insert_seed(company, "salesInvoices", {**inv, "id": str(uuid.uuid4()),
                                                                  "number": self._series(company, "salesInvoices")})
            for ln in lines:
                lrow = {k: v for k, v in ln.items() if k in CUSTOM_EXTENDED["salesInvoiceLines"].fields and k != "id"}
                lrow["documentId"] = created["id"]
                self.insert_seed(company, "salesInvoiceLines", lrow)
            self.insert_seed(company, "salesHeaderArchives", {
                "documentType": "Order", "number": row.get("number"), "sellToCustomerNumber": row.get("customerNumber"),
                "sellToCustomerName": row.get("customerName"), "orderDate": row.get("orderDate"), "status": "Released",
                "amount": row.get("totalAmountExcludingTax"), "amountIncludingVAT": row.get("totalAmountIncludingTax"),
                "currencyCode": row.get("currencyCode"), "dateArchived": dt.date.today().isoformat()})
            self.delete(company, ent, rid)
            return Response(204)
        if ent.name == "salesOrders" and ent.api == "custom" and action in ("release", "reopen"):
            return self._release_or_reopen(company, tbl, rid, action)
        raise BCError(400, "BadRequest_MethodNotImplemented", f"The action '{action}' is not available on "
                      f"{ent.name}.")

    def _release_or_reopen(self, company: str, tbl: dict[str, dict[str, Any]], rid: str, action: str) -> Response:
        """The companion extension's ``Microsoft.NAV.release`` / ``Microsoft.NAV.reopen`` on its salesOrders page
        (API v2.0 has no release action; protocols.md D11 option 2): codeunit "Release Sales Document" sets the
        status Released (an order without a line with a quantity has nothing to release), Reopen sets it Open.
        A released order's header and lines refuse changes until it is reopened (``_editable``)."""
        row = tbl[rid]
        if action == "release":
            if row.get("status") == "Released":
                return Response(204)
            lines = [r for r in self.table(company, "salesOrderLines").values()
                     if r.get("documentId") == rid and r.get("lineType") != "Comment" and (r.get("quantity") or 0)]
            if not lines:
                raise BCError(400, "Application_DialogException", "There is nothing to release for the document of "
                              f"type Order with the number {row.get('number')}.")
            status = "Released"
        else:
            if row.get("status") != "Released":
                return Response(204)
            status = "Open"
        tbl[rid] = {**row, "status": status, "@v": self.next_version(), "lastModifiedDateTime": now_bc()}
        return Response(204)

    def _series(self, company: str, entity: str) -> str:
        n = self.state.counters.get(company + entity, 0) + 1
        self.state.counters[company + entity] = n
        return f"{ENTITIES[entity].series}{n:06d}"

    # ------------------------------------------------------------------ $batch (protocols.md D9)
    def batch(self, req: Request, api: str, principal: Any) -> Response:
        data = self._json(req.body)
        requests = data.get("requests")
        if not isinstance(requests, list):
            raise BCError(400, "BadRequest", "Invalid Request Body: 'requests' array expected.")
        if len(requests) > self.settings.bc_max_batch:
            raise BCError(400, "BadRequest", f"The batch contains {len(requests)} operations; the maximum is "
                          f"{self.settings.bc_max_batch}.")
        atomic = (req.headers.get("isolation") or "").lower() == "snapshot"
        snapshot = _clone_state(self.state) if atomic else None
        env = self.state.environment
        base = self.base_url(env, api)
        responses: list[dict[str, Any]] = []
        failed = False
        for item in requests:
            rid = str(item.get("id", len(responses)))
            if failed and atomic:
                responses.append({"id": rid, "status": 424, "headers": {}, "body": {"error": {
                    "code": "BadRequest", "message": "The request was not executed because an earlier request in "
                    "the snapshot batch failed."}}})
                continue
            url = str(item.get("url", ""))
            if "://" in url:
                url = urllib.parse.urlsplit(url).path + ("?" + urllib.parse.urlsplit(url).query
                                                         if urllib.parse.urlsplit(url).query else "")
            path, _, raw_q = url.partition("?")
            if path.startswith("/"):
                marker = "/api/v2.0/" if api == "v2.0" else "/api/" + "/".join(CUSTOM_API) + "/"
                path = path.split(marker, 1)[-1]
            from .httpcore import Headers, parse_query

            hdrs = Headers(list((item.get("headers") or {}).items()))
            q = parse_query(raw_q)
            if hdrs.get("company") and "company" not in q:
                q["company"] = hdrs.get("company") or ""
            if hdrs.get("prefer"):
                q["__prefer__"] = hdrs.get("prefer") or ""
            body = json.dumps(item["body"]).encode() if item.get("body") is not None else b""
            try:
                resp = self.execute(str(item.get("method", "GET")).upper(),
                                    [urllib.parse.unquote(s) for s in path.split("/") if s], q, hdrs, body, api, base)
            except BCError as e:
                resp = self.err(e)
            entry: dict[str, Any] = {"id": rid, "status": resp.status,
                                     "headers": {k.lower(): v for k, v in resp.headers if k.lower() in
                                                 ("etag", "location", "content-type", "odata-version")}}
            if resp.body:
                entry["body"] = json.loads(resp.body)
            responses.append(entry)
            if resp.status >= 400:
                failed = True
        if failed and atomic and snapshot is not None:
            self.state.companies = snapshot.companies
            self.state.counters = snapshot.counters
        return json_response(200, {"responses": responses}, [("OData-Version", "4.0")])

    def _csdl(self, api: str) -> str:
        edm = {STR: "Edm.String", INT: "Edm.Int32", DEC: "Edm.Decimal", BOOL: "Edm.Boolean", DATE: "Edm.Date",
               DATETIME: "Edm.DateTimeOffset", GUID: "Edm.Guid"}
        out = ['<?xml version="1.0" encoding="utf-8"?><edmx:Edmx Version="4.0" '
               'xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>'
               '<Schema Namespace="Microsoft.NAV" xmlns="http://docs.oasis-open.org/odata/ns/edm">']
        sets = _sets(api)
        for e in sets:
            out.append(f'<EntityType Name="{e.entity_type}"><Key><PropertyRef Name="id"/></Key>')
            for f, t in e.fields.items():
                out.append(f'<Property Name="{f}" Type="{edm[t]}"' + (' Nullable="false"' if f == "id" else "") + "/>")
            if e.name in LINES_OF:
                lt = ENTITIES[LINES_OF[e.name]].entity_type
                out.append(f'<NavigationProperty Name="{LINES_OF[e.name]}" Type="Collection(Microsoft.NAV.{lt})" '
                           'ContainsTarget="true"/>')
            if e.name == "companies":
                for other in sets:
                    if other.name != "companies":
                        out.append(f'<NavigationProperty Name="{other.name}" '
                                   f'Type="Collection(Microsoft.NAV.{other.entity_type})" ContainsTarget="true"/>')
            out.append("</EntityType>")
        out.append('<EntityContainer Name="NAV">')
        for e in sets:
            out.append(f'<EntitySet Name="{e.name}" EntityType="Microsoft.NAV.{e.entity_type}"/>')
        out.append("</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>")
        return "".join(out)


def _sets(api: str) -> list[Entity]:
    """Entity sets served on ``api`` (the service document lists ``companies`` first)."""
    names = [n for n in ENTITIES if n != "companies"] + [n for n in CUSTOM_EXTENDED if n not in ENTITIES]
    out = [ENTITIES["companies"]]
    out += [e for e in (routable(api, n) for n in names) if e is not None]
    return out


def _sortable(v: Any) -> tuple[int, Any]:
    return (0, "") if v is None else (1, v)


def _prefer_pagesize(text: str | None) -> int | None:
    for part in (text or "").split(","):
        part = part.strip().lower()
        if part.startswith("odata.maxpagesize="):
            try:
                return max(1, int(part.split("=", 1)[1]))
            except ValueError:
                return None
    return None


def _clone_state(state: BCState) -> BCState:
    return BCState(state.environment,
                   {cid: {"row": c["row"], "tables": {n: dict(t) for n, t in c["tables"].items()}}
                    for cid, c in state.companies.items()},
                   state.version, dict(state.counters))
