"""The standard API pages of the Business Central emulator: entity sets of API v2.0, their fields (name -> type),
read-only fields, keys, number series and lookups.

Source: Microsoft Learn "Business Central API (v2.0)" (the standard entity sets and their fields: items, customers,
vendors, contacts, contactsInformation, companyInformation, salesOrders and their lines, ...). The companion
extension's custom API is built from its AL source by :mod:`.custom`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CUSTOM_API = ("bcportal", "integration", "v1.0")

STR, INT, DEC, BOOL, DATE, DATETIME, GUID = "str", "int", "dec", "bool", "date", "datetime", "guid"


@dataclass
class Entity:
    """An API page: entity set name, fields (name -> type), read-only fields, key/number field,
    lookups (id field, code field, target set, target code field), parent (fk, header set), the API it is served on
    ("v2.0" or "custom"), option values, defaults and constants, parts (navigation name -> entity set), whether it
    accepts POST / PATCH / DELETE, and its bound actions (name -> AL return type or ``None``)."""

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
    parts: dict[str, str] = field(default_factory=dict)
    insertable: bool = True
    modifiable: bool = True
    deletable: bool = True
    actions: dict[str, str | None] = field(default_factory=dict)


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
        # Customer payment journals and their lines (API v2.0 "customerPaymentJournal" / "customerPayment"); the
        # journal's bound action Microsoft.NAV.post applies each payment to the invoice it names.
        Entity("customerPaymentJournals", {"id": GUID, "code": STR, "displayName": STR, "balancingAccountId": GUID,
                                           "balancingAccountNumber": STR, "lastModifiedDateTime": DATETIME},
               read_only={"id", "lastModifiedDateTime"}, key_field="code", entity_type="customerPaymentJournal"),
        Entity("customerPayments", {"id": GUID, "journalId": GUID, "journalDisplayName": STR, "lineNumber": INT,
                                    "customerId": GUID, "customerNumber": STR, "contactId": STR, "postingDate": DATE,
                                    "documentNumber": STR, "externalDocumentNumber": STR, "amount": DEC,
                                    "appliesToInvoiceId": GUID, "appliesToInvoiceNumber": STR, "description": STR,
                                    "comment": STR, "lastModifiedDateTime": DATETIME},
               read_only={"id", "journalDisplayName", "lastModifiedDateTime"},
               parent=("journalId", "customerPaymentJournals"), entity_type="customerPayment",
               defaults={"amount": 0.0}),
        # Customer statistics as API v2.0 serves them (read-only; rows computed by .financials).
        Entity("customerFinancialDetails", {"id": GUID, "number": STR, "balance": DEC,
                                            "totalSalesExcludingTax": DEC, "overdueAmount": DEC},
               read_only={"id", "number", "balance", "totalSalesExcludingTax", "overdueAmount"},
               entity_type="customerFinancialDetail", insertable=False, modifiable=False, deletable=False),
        # Contact Business Relation as API v2.0 serves it ("contactsInformation"; read-only): one
        # row per business relation linked to a table (relatedType "Customer", "Vendor", ...).
        Entity("contactsInformation", {"contactId": GUID, "contactNumber": STR, "contactName": STR,
                                       "contactType": STR, "relatedId": GUID, "relatedType": STR},
               read_only={"contactId", "contactNumber", "contactName", "contactType", "relatedId", "relatedType"},
               enums={"contactType": ("Company", "Person"),
                      "relatedType": (" ", "Customer", "Vendor", "Bank Account", "Employee")},
               entity_type="contactInformation"),
    ]
    return {x.name: x for x in e}


#: Entity sets that accept GET only (BC maintains their rows): POST/PATCH/DELETE answer 405.
READ_ONLY_SETS = ("companyInformation", "contactsInformation", "customerFinancialDetails")
LINES_OF = {"salesOrders": "salesOrderLines", "salesInvoices": "salesInvoiceLines", "salesQuotes": "salesQuoteLines"}
ENTITIES = _entities()
for _name, _lines in LINES_OF.items():
    ENTITIES[_name].parts[_lines] = _lines
ENTITIES["customerPaymentJournals"].parts["customerPayments"] = "customerPayments"
NAV_SINGLE = {"customer": ("customerId", "customers"), "currency": ("currencyId", "currencies"),
              "paymentTerm": ("paymentTermsId", "paymentTerms"), "shipmentMethod": ("shipmentMethodId",
              "shipmentMethods"),
              "itemCategory": ("itemCategoryId", "itemCategories"), "item": ("itemId", "items"),
              "unitOfMeasure": ("unitOfMeasureId", "unitsOfMeasure")}
