"""The API pages of the Business Central emulator: entity sets, their fields (name -> type), read-only fields,
keys, number series, lookups, and the companion extension's custom API.

Sources: Microsoft Learn "Business Central API (v2.0)" (the standard entity sets and their fields: items, customers,
vendors, contacts, contactsInformation, companyInformation, salesOrders and their lines, ...) and "Developing a
custom API" (the companion extension's API pages on ``api/bcportal/integration/v1.0``: the tables API v2.0 lacks,
and standard tables re-exposed with the fields v2.0 does not serve).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CUSTOM_API = ("bcportal", "integration", "v1.0")

STR, INT, DEC, BOOL, DATE, DATETIME, GUID = "str", "int", "dec", "bool", "date", "datetime", "guid"


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
        # custom API pages (bcportal/integration/v1.0) for what v2.0 lacks
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
        # Contact Business Relation as API v2.0 serves it ("contactsInformation"; read-only): one
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

#: Fields the companion extension adds to standard tables: what the integration maps but
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


def service_sets(api: str) -> list[Entity]:
    """Entity sets served on ``api`` (the service document lists ``companies`` first)."""
    names = [n for n in ENTITIES if n != "companies"] + [n for n in CUSTOM_EXTENDED if n not in ENTITIES]
    out = [ENTITIES["companies"]]
    out += [e for e in (routable(api, n) for n in names) if e is not None]
    return out


def csdl(api: str) -> str:
    """The CSDL ``$metadata`` document of the entity sets served on ``api``."""
    edm = {STR: "Edm.String", INT: "Edm.Int32", DEC: "Edm.Decimal", BOOL: "Edm.Boolean", DATE: "Edm.Date",
           DATETIME: "Edm.DateTimeOffset", GUID: "Edm.Guid"}
    out = ['<?xml version="1.0" encoding="utf-8"?><edmx:Edmx Version="4.0" '
           'xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>'
           '<Schema Namespace="Microsoft.NAV" xmlns="http://docs.oasis-open.org/odata/ns/edm">']
    sets = service_sets(api)
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
