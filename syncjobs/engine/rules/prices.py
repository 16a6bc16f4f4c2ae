"""Price lists, BC -> Dataverse, as BC's extended price calculation synchronizes them (BC: codeunit 5334 "CRM Setup
Defaults", mappings PLHEADER-PRICE and PLLINE-PRODPRICE; codeunit 5341 "CRM Int. Table. Subscriber",
UpdateCRMPricelevelBeforeInsertPriceListHeader, FindCRMUoMIdForSalesPrice,
CRMExtPriceListLineFindUncoupledDestinationRecord; codeunit "CRM Synch. Helper", ConvertBaseUnitOfMeasureToUomId).

* A sales price list header becomes a Dataverse price list (``pricelevel``): Code -> name, currency, begin and end
  dates; a blank BC date (0001-01-01) is no date in Dataverse, and a price list that is not Active in BC is created
  Inactive.
* A price list line becomes a price list item (``productpricelevel``) of the price list coupled to its header
  (Price List Code), for the product coupled to its item or resource (Asset Type + Asset No.), in the unit of its Unit
  of Measure Code, or of the asset's base unit when the line has none: in unit group mode the unit coupled to the
  item's / resource's unit of measure (ITEM UOM / RESOURCE UOM), otherwise the unit group coupled to the unit of
  measure (UNIT OF MEASURE) and that group's base unit.
* Dataverse keeps one price per product and unit in a price list: a new line adopts an uncoupled price list item of
  that price list, product and unit; a second line for the same combination fails naming the first.

Everything a line needs is read once per pass (items / resources, their couplings, the price list items of each
price list), never per record.
"""
from __future__ import annotations

from typing import Any
from uuid import UUID

from mappings.models import Coupling
from syncjobs.engine.context import Item, PassContext
from syncjobs.engine.errors import RecordFailure
from syncjobs.engine.rules.base import TableRule
from syncjobs.engine.rules.units import ASSET_SOURCES, base_unit, bc_records_by_number
from syncjobs.engine.transfer import FieldRule, LookupOutcome

PRICE_LIST_ITEM_TABLE = "productpricelevel"
PRODUCT_TABLE = "product"
#: Dataverse pricelevel statecode of an inactive price list (Microsoft Learn: "Price List (PriceLevel)
#: table/entity reference", statecode 0 Active, 1 Inactive).
PRICE_LIST_INACTIVE = 1
#: BC's blank date as the API serves it (Microsoft Learn: "Business Central API (v2.0)": dates are "0001-01-01" when
#: empty); Dataverse dates start in 1753.
BLANK_DATE = "0001-01-01"


class PriceListHeaderRule(TableRule):
    """Price List Header -> pricelevel: blank dates are left empty; a price list that is not Active in BC is created
    Inactive (BC: codeunit 5341, UpdateCRMPricelevelBeforeInsertPriceListHeader)."""

    def adjust_payload(self, ctx: PassContext, item: Item, payload: dict[str, Any]) -> dict[str, Any]:
        for column in ("begindate", "enddate"):
            if str(payload.get(column) or "").startswith(BLANK_DATE):
                payload[column] = None
        return payload

    def new_row(self, ctx: PassContext, item: Item, body: dict[str, Any]) -> dict[str, Any]:
        if str(item.row.get("status") or "Active") != "Active":
            body["statecode"] = PRICE_LIST_INACTIVE
        return body


def _asset(ctx: PassContext, row: dict[str, Any], record: str) -> tuple[str, str, dict[str, Any]]:
    """(BC table "Item"/"Resource", number, BC record) of a price list line's asset; raises RecordFailure when BC has
    no such item or resource."""
    table = str(row.get("assetType") or "")
    number = str(row.get("assetNumber") or "")
    if table not in ASSET_SOURCES:
        raise RecordFailure(message=f"{record}: asset type {table or '(blank)'} is neither Item nor Resource",
                            field_name="Asset Type",
                            fix="only item and resource prices are synchronized (the PLLINE-PRODPRICE table filter)")
    asset = bc_records_by_number(ctx, table).get(number.upper())
    if asset is None:
        raise RecordFailure(message=f"{record}: {table.lower()} {number or '(blank)'} does not exist in Business "
                                    "Central", field_name="Asset No.", fix="correct the price list line")
    return table, number, asset


class PriceListLineRule(TableRule):
    """Price List Line -> productpricelevel (see the module docstring). Raises RecordFailure per line when its
    product, unit or price list is not coupled, naming the mapping to synchronize first."""

    def lookup(self, ctx: PassContext, rule: FieldRule, value: Any, row: dict[str, Any],
               record: str) -> LookupOutcome | None:
        column = rule.destination
        if column == "productid":
            table, number, asset = _asset(ctx, row, record)
            product = ctx.resolver.coupled_dataverse_id(bc_table=table, dataverse_table=PRODUCT_TABLE,
                                                        bc_id=UUID(str(asset["id"])))
            if product is None:
                raise RecordFailure(
                    message=f"{record}: {table.lower()} {number} is not coupled to a Dataverse product",
                    field_name=rule.source,
                    fix=f"synchronize the {'ITEM' if table == 'Item' else 'RESOURCE'}-PRODUCT mapping first, then "
                        "retry this line")
            return LookupOutcome(product, PRODUCT_TABLE)
        if column in ("uomid", "uomscheduleid"):
            table, number, asset = _asset(ctx, row, record)
            # BC: FindCRMUoMIdForSalesPrice: a line without a unit is priced in the asset's base unit.
            code = str(value or asset.get("baseUnitOfMeasureCode") or "")
            owner = (table, number) if column == "uomid" else None
            target = "uom" if column == "uomid" else "uomschedule"
            unit, _ = ctx.resolver.dataverse_id(target=target, code=code, owner=owner)
            if unit is None:
                where = (f"unit {code} of {table.lower()} {number}" if column == "uomid" else f"unit of measure {code}")
                mapping = (f"{'ITEM' if table == 'Item' else 'RESOURCE'} UOM" if column == "uomid"
                           else "UNIT OF MEASURE")
                raise RecordFailure(message=f"{record}: the {where} is not coupled to a Dataverse "
                                            f"{'unit' if column == 'uomid' else 'unit group'}",
                                    field_name=rule.source,
                                    fix=f"synchronize the {mapping} mapping first, then retry this line")
            return LookupOutcome(unit, target)
        return None

    def adjust_payload(self, ctx: PassContext, item: Item, payload: dict[str, Any]) -> dict[str, Any]:
        """Without unit group mapping the line names a unit group; its price is in that group's base unit (BC:
        CRM Synch. Helper, GetValidCRMUnitOfMeasureRecords)."""
        schedule = payload.get("uomscheduleid")
        if schedule is not None and not payload.get("uomid"):
            unit = base_unit(ctx, schedule)
            if unit is not None:
                payload["uomid"] = unit
        return payload

    def new_row(self, ctx: PassContext, item: Item, body: dict[str, Any]) -> dict[str, Any]:
        """Adopt the uncoupled price list item of the same price list, product and unit (BC:
        CRMExtPriceListLineFindUncoupledDestinationRecord). Raises RecordFailure when another BC line has it."""
        price_list, product, unit = body.get("pricelevelid"), body.get("productid"), body.get("uomid")
        if price_list is None or product is None or unit is None:
            return body
        taken = _price_list_items(ctx, price_list)
        key = (str(product).lower(), str(unit).lower())
        if key in taken:
            existing = taken[key]
            if existing is None:
                raise RecordFailure(
                    message=f"{item.label}: another line of price list {item.row.get('priceListCode')} prices "
                            f"{str(item.row.get('assetType') or '').lower()} {item.row.get('assetNumber')} in this "
                            "unit already, and Dataverse keeps one price per product and unit in a price list",
                    field_name="Unit of Measure Code",
                    fix="keep one line per item and unit with minimum quantity 0 in the price list, or give the "
                        "others a minimum quantity")
            item.adopted_key = existing
        taken[key] = None
        return body


def _price_list_items(ctx: PassContext, price_list: UUID) -> dict[tuple[str, str], UUID | None]:
    """{(product, unit) (lower-case text): uncoupled price list item id, or None when coupled} of a Dataverse price
    list, read once per price list and pass (one query of its items and one of their couplings). Raises the client's
    ClientError."""
    cache = ctx.cache.price_list_items
    if price_list not in cache:
        rows = list(ctx.dv_client.iter_rows("productpricelevels",
                                            select=["productpricelevelid", "_productid_value", "_uomid_value"],
                                            filter=f"_pricelevelid_value eq {price_list}"))
        ids = [UUID(str(r["productpricelevelid"])) for r in rows]
        coupled = set(Coupling.objects.filter(connection=ctx.connection, dataverse_table=PRICE_LIST_ITEM_TABLE,
                                              dataverse_id__in=ids).values_list("dataverse_id", flat=True))
        items: dict[tuple[str, str], UUID | None] = {}
        for row, ident in zip(rows, ids, strict=True):
            key = (str(row.get("_productid_value")).lower(), str(row.get("_uomid_value")).lower())
            items[key] = None if ident in coupled else ident
        cache[price_list] = items
    return cache[price_list]
