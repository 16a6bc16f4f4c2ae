"""BC demo rows beyond the datasets' own tables: price lists (as BC's price-list upgrade makes them from the old
Sales Price rows), unit groups (as the extension's createMissingUnitGroups leaves them) and BC's built-in couplings and
integration table mappings (as a company that ran BC's own Dynamics 365 Sales integration has them).

The caller (:mod:`emulators.seed`) loads the datasets and passes plain rows; this module only shapes BC records.
"""

from __future__ import annotations

from typing import Any

from .core import BusinessCentralBase
from .state import now_bc, stable_id

#: BC table numbers (BC: table 18 Customer, 27 Item, 5050 Contact, 5341 "CRM Account", 5348 "CRM Product",
#: 5342 "CRM Contact") of the seeded integration table mappings.
_TABLE_NO = {"Customer": 18, "Item": 27, "Contact": 5050, "CRM Account": 5341, "CRM Product": 5348,
             "CRM Contact": 5342}


def seed_price_lists(bc: BusinessCentralBase, company: str, prices: list[dict[str, Any]]) -> None:
    """Price List Headers and Lines from old-style sales prices, grouped as BC's price-list upgrade does (BC:
    codeunit "CopyFromToPriceListLine", CopyFrom(Sales Price) with a generated header per assign-to source and
    currency; header codes from the sales price list number series, 'S00001', 'S00002', ...; "Line No." is
    AutoIncrement). ``prices``: ``{"item_no", "source_type", "source_no", "currency_code", "starting_date",
    "ending_date", "minimum_quantity", "unit_price", "unit_of_measure_code"}`` (dates ISO, currency None = LCY).
    Headers are Active, with blank dates and "Allow Updating Defaults" (the lines carry their own dates)."""
    headers: dict[tuple[str, str, str], dict[str, Any]] = {}
    lines = bc.table(company, "priceListLines")
    for p in prices:
        group = (p["source_type"], p.get("source_no") or "", p.get("currency_code") or "")
        if group not in headers:
            n = bc.state.counters.get(company + "priceListHeaders", 0) + 1
            bc.state.counters[company + "priceListHeaders"] = n
            code = f"S{n:05d}"
            description = " ".join(x for x in (p["source_type"], p.get("source_no"), p.get("currency_code")) if x)
            headers[group] = bc.insert_seed(company, "priceListHeaders", {
                "id": stable_id(company, "priceListHeader", code), "code": code, "description": description,
                "sourceType": p["source_type"], "sourceNumber": p.get("source_no") or None,
                "currencyCode": p.get("currency_code") or None, "priceType": "Sale", "amountType": "Price",
                "status": "Active", "allowUpdatingDefaults": True})
        line_no = len(lines) + 1
        bc.insert_seed(company, "priceListLines", {
            "id": stable_id(company, "priceListLine", str(line_no)), "priceListCode": headers[group]["code"],
            "lineNumber": line_no, "sourceType": p["source_type"], "sourceNumber": p.get("source_no") or None,
            "assetType": "Item", "assetNumber": p["item_no"], "unitOfMeasureCode": p.get("unit_of_measure_code"),
            "currencyCode": p.get("currency_code") or None, "startingDate": p.get("starting_date"),
            "endingDate": p.get("ending_date"), "minimumQuantity": float(p.get("minimum_quantity") or 0),
            "unitPrice": float(p["unit_price"]), "priceType": "Sale", "amountType": "Price", "status": "Active"})


def seed_unit_groups(bc: Any, company: str) -> int:
    """The unit groups of every item and resource of ``company``, as if the extension's createMissingUnitGroups
    action had run there; returns how many were created."""
    return int(bc.create_missing_unit_groups(company))


def seed_bc_couplings(bc: BusinessCentralBase, company: str, accounts: dict[str, str]) -> None:
    """BC's own couplings and table mappings in ``company``, as its built-in Dynamics 365 Sales integration leaves
    them: one "CRM Integration Record" (BC: table 5331) per customer named in ``accounts`` (customer name -> the
    Dataverse accountid it is coupled to; last synchronized successfully both ways), and the CUSTOMER, ITEM-PRODUCT
    and CONTACT rows of "Integration Table Mapping" (BC: table 5335; filters as BC stores a table view)."""
    now = now_bc()
    by_name = {r.get("displayName"): r for r in bc.table(company, "customers").values()}
    for name, account_id in accounts.items():
        customer = by_name.get(name)
        if customer is None:
            continue
        bc.insert_seed(company, "crmIntegrationRecords", {
            "id": stable_id(company, "crmIntegrationRecord", customer["id"]), "crmId": account_id,
            "integrationId": customer["id"], "tableId": _TABLE_NO["Customer"],
            "lastSynchModifiedOn": customer.get("lastModifiedDateTime"), "lastSynchCrmModifiedOn": now,
            "lastSynchResult": "Success", "lastSynchCrmResult": "Success", "skipped": False})
    mappings = (
        ("CUSTOMER", "Customer", "CRM Account", "Bidirectional", "VERSION(1) SORTING(Field1) WHERE(Field39=1(0))",
         "VERSION(1) SORTING(Field1) WHERE(Field54=1(0),Field6=1(3))", ""),
        ("ITEM-PRODUCT", "Item", "CRM Product", "Bidirectional", "VERSION(1) SORTING(Field1) WHERE(Field54=1(0))",
         "VERSION(1) SORTING(Field1) WHERE(Field45=1(0))", "UNIT OF MEASURE"),
        ("CONTACT", "Contact", "CRM Contact", "Bidirectional", "VERSION(1) SORTING(Field1) WHERE(Field5050=1(1))",
         "VERSION(1) SORTING(Field1) WHERE(Field94=1(0))", "CUSTOMER|VENDOR"),
    )
    for name, table, integration_table, direction, table_filter, integration_filter, dependencies in mappings:
        bc.insert_seed(company, "integrationTableMappings", {
            "id": stable_id(company, "integrationTableMapping", name), "name": name, "tableId": _TABLE_NO[table],
            "integrationTableId": _TABLE_NO[integration_table], "direction": direction, "tableFilter": table_filter,
            "integrationTableFilter": integration_filter, "synchOnlyCoupledRecords": True,
            "dependencyFilter": dependencies, "deleteAfterSynchronization": False,
            "updateConflictResolution": "None", "deletionConflictResolution": "None", "status": "Enabled"})
