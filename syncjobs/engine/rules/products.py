"""Products and their default prices, BC -> Dataverse (BC: codeunit 5334 "CRM Setup Defaults", mappings
ITEM-PRODUCT and RESOURCE-PRODUCT; codeunit 5341 "CRM Int. Table. Subscriber"; codeunit "CRM Synch. Helper", default
price list). Price lists are in :mod:`syncjobs.engine.rules.prices`.

* Items become Sales Inventory products, resources Services products, with the product structure, two decimals
  supported (BC: "CRM Setup Defaults".GetProductQuantityPrecision) and a default unit; negative inventory is sent
  as 0 quantity on hand (Microsoft Learn: "Product table/entity reference").
* Items and resources keep their unit price in a price list item of the connection's default price list (BC:
  "Default CRM Price List"), and a new product points at that price list.
"""
from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from connections.clients.errors import ClientError
from syncjobs.engine.context import Item, PassContext
from syncjobs.engine.decision import Action
from syncjobs.engine.rules.base import ID_NAMESPACE, TableRule
from syncjobs.engine.rules.units import UNIT_TABLES, base_unit, unit_group_of
from syncjobs.engine.writers import failure_from

#: Product type codes (Microsoft Learn: "Product table/entity reference", producttypecode and productstructure).
PRODUCT_TYPE_SALES_INVENTORY = 1
PRODUCT_TYPE_SERVICES = 3
PRODUCT_STRUCTURE_PRODUCT = 1
#: BC: codeunit 5334 "CRM Setup Defaults", GetProductQuantityPrecision.
PRODUCT_QUANTITY_PRECISION = 2
#: Name of the price list the portal keeps the items' and resources' unit prices in (BC: "Default CRM Price List").
DEFAULT_PRICE_LIST_NAME = "Business Central default price list"
PRICING_METHOD_CURRENCY_AMOUNT = 1


def product_unit(ctx: PassContext, product_id: UUID) -> UUID | None:
    """The default unit (``defaultuomid``) of a Dataverse product, read once per product and pass; None when it has
    none. Raises the client's ClientError."""
    cache = ctx.cache.product_units
    if product_id not in cache:
        row = ctx.dv_client.retrieve("products", product_id, select=["_defaultuomid_value"])
        value = row.get("_defaultuomid_value")
        cache[product_id] = UUID(str(value)) if value else None
    return cache[product_id]


def default_price_list_id(ctx: PassContext) -> UUID:
    """The connection's default price list, ensured once per pass with an id derived from the connection, so that
    repeating the create is an upsert of the same row (in the connection's base currency when known). Raises the
    client's ClientError."""
    cached = ctx.cache.price_list_id
    if cached is not None:
        return cached
    price_list_id = uuid.uuid5(ID_NAMESPACE, f"pricelevel:{ctx.connection.pk}")
    body: dict[str, Any] = {"name": DEFAULT_PRICE_LIST_NAME}
    if ctx.connection.base_currency_id:
        body["transactioncurrencyid@odata.bind"] = f"/transactioncurrencies({ctx.connection.base_currency_id})"
    ctx.dv_client.upsert("pricelevels", price_list_id, body)
    ctx.cache.price_list_id = price_list_id
    return price_list_id


class ProductRule(TableRule):
    """BC table -> product: quantity on hand is never negative; a new product gets its type, structure, quantity
    decimals and unit group / default unit."""

    product_type = PRODUCT_TYPE_SALES_INVENTORY

    def prefetch(self, ctx: PassContext, items: list[Item]) -> None:
        """Unit group mode: the units of measure of the page's items (or resources), which their base unit is
        looked up in, read for those items only when they are few (an incremental run), not every unit of every
        item (``Resolver.read_owner_codes``)."""
        for unit_table, (_, owner_table) in UNIT_TABLES.items():
            if owner_table == ctx.mapping.table and unit_table in ctx.resolver.bc_tables_for("uom"):
                ctx.resolver.read_owner_codes(unit_table, [str(item.row.get("number") or "") for item in items])

    def adjust_payload(self, ctx: PassContext, item: Item, payload: dict[str, Any]) -> dict[str, Any]:
        quantity = payload.get("quantityonhand")
        if isinstance(quantity, int | float) and quantity < 0:
            payload["quantityonhand"] = 0
        return payload

    def new_row(self, ctx: PassContext, item: Item, body: dict[str, Any]) -> dict[str, Any]:
        body.setdefault("producttypecode", self.product_type)
        body.setdefault("productstructure", PRODUCT_STRUCTURE_PRODUCT)
        body.setdefault("quantitydecimal", PRODUCT_QUANTITY_PRECISION)
        if body.get("defaultuomid") and not body.get("defaultuomscheduleid"):
            # Unit group mode maps the unit only: the product's group is the item's unit group.
            schedule = unit_group_of(ctx, ctx.mapping.table, str(item.row.get("number") or ""))
            if schedule is not None:
                body["defaultuomscheduleid"] = schedule
        if not body.get("defaultuomscheduleid") and not body.get("defaultuomid"):
            # Unit-of-measure mode maps no unit for resources: their base unit's group.
            code = item.row.get("baseUnitOfMeasureCode")
            if code:
                schedule, _ = ctx.resolver.dataverse_id(target="uomschedule", code=code)
                if schedule is not None:
                    body["defaultuomscheduleid"] = schedule
        if body.get("defaultuomscheduleid") and not body.get("defaultuomid"):
            unit = base_unit(ctx, body["defaultuomscheduleid"])
            if unit is not None:
                body["defaultuomid"] = unit
        return body


class PricedProductRule(ProductRule):
    """Item / Resource -> product: the product's unit price lives in a price list item of the default price list.

    For every product created or whose price changed in a batch: the price list items upserted by id (ids derived
    from the product, so a repeat never duplicates) and one ``UpdateMultiple`` pointing new products at the default
    price list (``pricelevelid`` cannot be set on create; Microsoft Learn: "Use bulk operation messages"). Price List
    Item has no UpsertMultiple (Microsoft Learn: "Price List Item (ProductPriceLevel) table/entity reference" lists
    no bulk operation message), so the client sends its rows as one ``$batch`` of change sets
    (``DataverseClient.upsert_multiple``). When either fails, the batch's products fail too, so the next run repeats
    both (upserts).
    """

    def after_write(self, ctx: PassContext, items: list[Item]) -> None:
        try:
            self._write_price_list_items(ctx, items)
        except ClientError as error:
            for item in items:
                item.failure = failure_from(error, item.label, "Creating the price list item of")
                item.action = Action.FAIL

    def _write_price_list_items(self, ctx: PassContext, items: list[Item]) -> None:
        rows: list[dict[str, Any]] = []
        products: list[dict[str, Any]] = []
        price_list: UUID | None = None
        for item in items:
            payload = item.payload
            if item.write is None or ("price" not in payload and item.write.kind != "insert"):
                continue
            unit = payload.get("defaultuomid")
            price = payload.get("price")
            if unit is None or price is None:
                continue
            product_id = item.write.key
            if price_list is None:
                price_list = default_price_list_id(ctx)
            rows.append({
                "productpricelevelid": str(uuid.uuid5(ID_NAMESPACE, f"productpricelevel:{product_id}")),
                "pricelevelid@odata.bind": f"/pricelevels({price_list})",
                "productid@odata.bind": f"/products({product_id})",
                "uomid@odata.bind": f"/uoms({unit})",
                "amount": price,
                "pricingmethodcode": PRICING_METHOD_CURRENCY_AMOUNT,
            })
            if item.write.kind == "insert":
                products.append({"productid": str(product_id),
                                 "pricelevelid@odata.bind": f"/pricelevels({price_list})"})
        if rows:
            ctx.dv_client.upsert_multiple("productpricelevel", rows)
        if products:
            ctx.dv_client.update_multiple("product", products)


class ItemProductRule(PricedProductRule):
    """Item -> product: a Sales Inventory product with its price list item."""

    product_type = PRODUCT_TYPE_SALES_INVENTORY


class ResourceProductRule(PricedProductRule):
    """Resource -> product: a Services product with its price list item."""

    product_type = PRODUCT_TYPE_SERVICES


class PriceListItemRule(TableRule):
    """BC table -> productpricelevel: a new price list item whose mappings give no unit is in its product's default
    unit (the item's base unit)."""

    def new_row(self, ctx: PassContext, item: Item, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("productid") and not body.get("uomid"):
            unit = product_unit(ctx, body["productid"])
            if unit is not None:
                body["uomid"] = unit
        return body
