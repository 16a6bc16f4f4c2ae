"""The companion extension's custom API (``api/bcportal/integration/v1.0``) as the emulator serves it: built from the
shipped AL API pages (``bc-extension/src``, read by :mod:`.al`), so a route, field or action the extension does not
declare is not served (Microsoft Learn "Developing a custom API", "API page type").

What the AL page does not say comes from two small tables here: the types of the BC fields the pages bind
(:data:`BC_FIELD_TYPES`; every field not listed is Code/Text/Option, i.e. a string) and the emulator's behaviour of
the tables API v2.0 lacks (:data:`BEHAVIOUR`: key field, number series, option values, defaults). A standard table
re-exposed by the extension (customers, items, salesOrders, ...) keeps the behaviour of its v2.0 page and shares its
rows (same SystemId, ETag and ``lastModifiedDateTime``).
"""

from __future__ import annotations

import re
from typing import Any

from .al import ALField, ALPage, read_pages
from .schema import BOOL, CUSTOM_API, DATE, DATETIME, DEC, ENTITIES, GUID, INT, STR, Entity

#: Non-string fields of the BC tables the extension's pages bind (BC table -> {BC field: type}); sources: the BC
#: tables' AL definitions (e.g. BC: table 18 Customer, table 7001 "Price List Line", table 5331 "CRM Integration
#: Record"). Code, Text and Option/Enum fields are strings and are not listed.
BC_FIELD_TYPES: dict[str, dict[str, str]] = {
    "Resource": {"Unit Price": DEC, "Unit Cost": DEC, "Direct Unit Cost": DEC, "Blocked": BOOL, "Capacity": DEC},
    "Resource Unit of Measure": {"Qty. per Unit of Measure": DEC, "Related to Base Unit of Meas.": BOOL},
    "Item Unit of Measure": {"Qty. per Unit of Measure": DEC, "Qty. Rounding Precision": DEC},
    "Customer Price Group": {"Price Includes VAT": BOOL, "Allow Invoice Disc.": BOOL, "Allow Line Disc.": BOOL},
    "Price List Header": {"Starting Date": DATE, "Ending Date": DATE, "Allow Updating Defaults": BOOL},
    "Price List Line": {"Line No.": INT, "Starting Date": DATE, "Ending Date": DATE, "Minimum Quantity": DEC,
                        "Unit Price": DEC},
    "Sales Header Archive": {"Doc. No. Occurrence": INT, "Version No.": INT, "Order Date": DATE, "Amount": DEC,
                             "Amount Including VAT": DEC, "Date Archived": DATE, "Shipment Date": DATE,
                             "Payment Discount %": DEC},
    "Sales Line Archive": {"Doc. No. Occurrence": INT, "Version No.": INT, "Line No.": INT, "Quantity": DEC,
                           "Quantity Shipped": DEC, "Quantity Invoiced": DEC, "Unit Price": DEC,
                           "Line Discount Amount": DEC, "Amount": DEC, "Amount Including VAT": DEC},
    "Customer": {"Balance Due": DEC, "Credit Limit (LCY)": DEC, "Balance (LCY)": DEC, "Outstanding Orders (LCY)": DEC,
                 "Shipped Not Invoiced (LCY)": DEC, "Outstanding Invoices (LCY)": DEC, "Sales (LCY)": DEC,
                 "Tax Liable": BOOL, "Tax Area ID": GUID,
                 "Currency Id": GUID, "Payment Terms Id": GUID, "Shipment Method Id": GUID, "Payment Method Id": GUID},
    "Vendor": {"Currency Id": GUID, "Payment Terms Id": GUID, "Payment Method Id": GUID, "Tax Liable": BOOL,
               "Balance (LCY)": DEC},
    "Contact": {"Privacy Blocked": BOOL, "Date of Last Interaction": DATE},
    "Item": {"Item Category Id": GUID, "Blocked": BOOL, "Inventory": DEC, "Unit Price": DEC, "Price Includes VAT": BOOL,
             "Unit Cost": DEC, "Tax Group Id": GUID, "Unit of Measure Id": GUID, "Gen. Prod. Posting Group Id": GUID,
             "Inventory Posting Group Id": GUID, "Unit Volume": DEC, "Gross Weight": DEC},
    "Opportunity": {"Closed": BOOL, "Creation Date": DATE, "Date Closed": DATE, "Calcd. Current Value (LCY)": DEC,
                    "Chances of Success %": DEC, "Completed %": DEC, "Estimated Closing Date": DATE,
                    "Estimated Value (LCY)": DEC},
    "Sales Header": {"Order Date": DATE, "Posting Date": DATE, "Customer Id": GUID, "Bill-to Customer Id": GUID,
                     "Currency Id": GUID, "Payment Terms Id": GUID, "Shipment Method Id": GUID,
                     "Prices Including VAT": BOOL, "Requested Delivery Date": DATE, "Shipment Date": DATE,
                     "Last Shipment Date": DATE, "Invoice Discount Amount": DEC, "Amount": DEC,
                     "Amount Including VAT": DEC, "Payment Discount %": DEC},
    "Sales Line": {"Document Id": GUID, "Line No.": INT, "Quantity": DEC, "Unit Price": DEC,
                   "Line Discount Amount": DEC, "Line Discount %": DEC, "Amount": DEC, "Amount Including VAT": DEC,
                   "VAT %": DEC, "Shipment Date": DATE, "Qty. to Ship": DEC, "Qty. to Invoice": DEC,
                   "Quantity Shipped": DEC, "Quantity Invoiced": DEC},
    "Sales Invoice Header": {"Document Date": DATE, "Posting Date": DATE, "Due Date": DATE, "Shipment Date": DATE,
                             "Invoice Discount Amount": DEC, "Amount": DEC, "Amount Including VAT": DEC,
                             "Remaining Amount": DEC, "Payment Discount %": DEC},
    "Unit Group": {"Source Id": GUID},
    "Record Link": {"Created": DATETIME, "Link ID": INT},
    "CRM Integration Record": {"CRM ID": GUID, "Integration ID": GUID, "Table ID": INT,
                               "Last Synch. Modified On": DATETIME, "Last Synch. CR Modified On": DATETIME,
                               "Last Synch. Job ID": GUID, "Last Synch. CR Job ID": GUID, "Skipped": BOOL},
    "Integration Table Mapping": {"Table ID": INT, "Integration Table ID": INT, "Synch. Only Coupled Records": BOOL,
                                  "Delete After Synchronization": BOOL},
}
#: System fields every table has (Microsoft Learn "System fields").
_SYSTEM_TYPES = {"SystemId": GUID, "SystemCreatedAt": DATETIME, "SystemModifiedAt": DATETIME,
                 "SystemCreatedBy": GUID, "SystemModifiedBy": GUID}
#: AL data types of page variables -> emulator types.
_AL_TYPES = {"integer": INT, "biginteger": INT, "decimal": DEC, "boolean": BOOL, "date": DATE, "datetime": DATETIME,
             "guid": GUID}

#: The emulator's behaviour of the tables API v2.0 lacks (entity set -> Entity keyword arguments).
BEHAVIOUR: dict[str, dict[str, Any]] = {
    "resources": {"key_field": "number", "series": "R", "enums": {"type": ("Person", "Machine")},
                  "defaults": {"type": "Person", "blocked": False, "unitPrice": 0.0, "unitCost": 0.0,
                               "capacity": 0.0}},
    "shippingAgents": {"key_field": "code"},
    "resourceUnitsOfMeasure": {"defaults": {"qtyPerUnitOfMeasure": 1.0, "relatedToBaseUnitOfMeasure": True}},
    "itemUnitsOfMeasure": {"defaults": {"qtyPerUnitOfMeasure": 1.0}},
    "customerPriceGroups": {"defaults": {"priceIncludesVAT": False, "allowInvoiceDisc": True, "allowLineDisc": True}},
    "priceListHeaders": {"key_field": "code", "series": "S",
                         "enums": {"sourceType": ("All", "Customer", "Customer Price Group", "Customer Disc. Group",
                                                  "All Customers", "Campaign", "Contact"),
                                   "priceType": ("Any", "Sale", "Purchase"),
                                   "amountType": ("Any", "Price", "Discount"),
                                   "status": ("Draft", "Active", "Inactive")},
                         "defaults": {"sourceType": "All Customers", "priceType": "Sale", "amountType": "Price",
                                      "status": "Draft", "allowUpdatingDefaults": False}},
    "priceListLines": {"enums": {"assetType": (" ", "Item", "Item Discount Group", "Resource", "Resource Group",
                                               "Service Cost", "G/L Account"),
                                 "status": ("Draft", "Active", "Inactive")},
                       "defaults": {"sourceType": "All Customers", "assetType": "Item", "priceType": "Sale",
                                    "amountType": "Price", "status": "Draft", "minimumQuantity": 0.0}},
    "salesHeaderArchives": {"defaults": {"documentType": "Order", "docNoOccurrence": 1, "versionNumber": 1}},
    "salesLineArchives": {"defaults": {"documentType": "Order", "docNoOccurrence": 1, "versionNumber": 1}},
    "unitGroups": {"enums": {"sourceType": ("Item", "Resource")}},
}
#: The "Document Type" a document page's SourceTableView (or its constant variable) fixes.
_DOC_TYPE = {"salesOrders": "Order", "salesOrderLines": "Order", "salesInvoices": "Invoice"}


def _type(page: ALPage, f: ALField) -> str:
    """The emulator type of one page field: its BC field's type, or the AL type of its variable."""
    if f.table_field is not None:
        if f.table_field in _SYSTEM_TYPES:
            return _SYSTEM_TYPES[f.table_field]
        return BC_FIELD_TYPES.get(page.source_table, {}).get(f.table_field, STR)
    al_type = page.variables.get(f.variable or "", "Text")
    return _AL_TYPES.get(re.split(r"[\[\s]", al_type.strip().lower())[0], STR)


def entity_of(page: ALPage) -> Entity:
    """The emulator's :class:`~.schema.Entity` of an AL API page: fields and types from the page and its table,
    read-only fields from ``Editable = false`` (all of them on a page that is not editable), POST/PATCH/DELETE from
    InsertAllowed/ModifyAllowed/DeleteAllowed, bound actions from its ``[ServiceEnabled]`` procedures; key, series,
    lookups, defaults and option values from the table's v2.0 page or :data:`BEHAVIOUR`."""
    name = page.entity_set_name
    fields = {f.name: _type(page, f) for f in page.fields}
    read_only = {f.name for f in page.fields if not f.editable or not page.editable}
    base = ENTITIES.get(name)
    if base is not None:
        behaviour: dict[str, Any] = {
            "key_field": base.key_field, "series": base.series, "parent": base.parent,
            "lookups": [lk for lk in base.lookups if lk[0] in fields or lk[1] in fields],
            "enums": {k: v for k, v in base.enums.items() if k in fields},
            "defaults": {k: v for k, v in base.defaults.items() if k in fields}}
    else:
        behaviour = dict(BEHAVIOUR.get(name, {}))
    if name.endswith("Lines") and "documentId" in fields and base is not None:
        behaviour["parent"] = base.parent
    constants = {"documentType": _DOC_TYPE[name]} if name in _DOC_TYPE and "documentType" in fields else {}
    editable = page.editable
    return Entity(name, fields, read_only, api="custom", entity_type=page.entity_name, constants=constants,
                  parts=dict(page.parts), insertable=editable and page.insert_allowed,
                  modifiable=editable and page.modify_allowed, deletable=editable and page.delete_allowed,
                  actions=dict(page.actions), **behaviour)


def custom_entities(pages: list[ALPage]) -> dict[str, Entity]:
    """Entity set -> Entity of the pages on the custom route (publisher/group/version ``bcportal/integration/v1.0``);
    pages of any other route are not served there."""
    return {p.entity_set_name: entity_of(p) for p in pages if p.route == CUSTOM_API}


#: The custom API as the shipped extension declares it.
PAGES = read_pages()
CUSTOM = custom_entities(PAGES)
