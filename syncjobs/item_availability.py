"""The "Item Availability" job: the inventory of coupled items pushed to ``product.quantityonhand`` (BC: codeunit
5356 "CRM Item Availability Job", which runs the ITEM-PRODUCT field mapping Inventory -> QuantityOnHand for the items
whose Item Ledger Entries changed, negative inventory clamped to 0).

Reads ``items`` (``id``, ``inventory``; Microsoft Learn "item resource type") and the coupled products'
``quantityonhand`` page by page, and updates with UpdateMultiple (batches of 100) only the products whose quantity
differs from max(0, inventory). Deliberate difference from BC, which selects items by Item Ledger Entry
SystemModifiedAt after its watermark: an item's inventory change does not touch the item's own modification time in
the API, so comparing both sides is the exact test of "inventory changed". The run's start time (UTC, ISO 8601) is
kept in the entry's ``parameters["item_availability_synch_time"]`` (BC: "CRM Synch Status"."Item Availability Synch.
Time").
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.utils import timezone

from mappings.models import Coupling
from syncjobs.engine import clients_for
from syncjobs.engine.writers import DataverseWriter, Write
from syncjobs.models import JobQueueEntry

WATERMARK = "item_availability_synch_time"
BATCH_SIZE = 100


@dataclass
class ItemAvailabilityRunResult:
    """Counters of one run: products modified, unchanged and failed."""

    modified: int = 0
    unchanged: int = 0
    failed: int = 0


def quantity_on_hand(inventory: Any) -> Decimal:
    """``product.quantityonhand`` for a BC inventory (decimal, base unit): negative inventory is 0 (BC: codeunit
    5356 "CRM Item Availability Job"; Dataverse refuses a negative quantity on hand)."""
    value = Decimal(str(inventory or 0))
    return value if value > 0 else Decimal(0)


def item_availability_run(*, entry: JobQueueEntry) -> ItemAvailabilityRunResult:
    """Run one "Item Availability" job queue entry: set ``quantityonhand`` of every coupled (not skipped) product
    whose value differs from max(0, BC inventory). A failed row is counted failed and retried by the next run (the
    comparison finds it again). Raises SynchronizationNotPossible (connection disabled or incomplete) or a
    ClientError when a read fails (the job queue retries the entry)."""
    started = timezone.now()
    connection = entry.connection
    bc, dv = clients_for(connection)
    couplings = {str(c.bc_id): str(c.dataverse_id) for c in Coupling.objects.filter(
        connection=connection, bc_table="Item", dataverse_table="product", skipped=False, is_pending=False)}
    result = ItemAvailabilityRunResult()
    if couplings:
        stored = {row["productid"]: row.get("quantityonhand") for row in dv.iter_rows(
            "products", select=["productid", "quantityonhand"], filter="producttypecode eq 1")}
        writes = []
        for item in bc.iter_rows("items", select=["id", "number", "inventory"]):
            product_id = couplings.get(str(item["id"]))
            if product_id is None or product_id not in stored:
                continue
            wanted = quantity_on_hand(item.get("inventory"))
            if Decimal(str(stored[product_id] or 0)) == wanted:
                result.unchanged += 1
                continue
            writes.append(Write("update", UUID(product_id), {"quantityonhand": float(wanted)},
                                f"the quantity on hand of item {item.get('number')}"))
        writer = DataverseWriter(dv, logical_name="product", entity_set="products", primary_id="productid",
                                 batch_size=BATCH_SIZE)
        for failure in writer.write(writes):
            if failure is None:
                result.modified += 1
            else:
                result.failed += 1
    entry.parameters = {**entry.parameters, WATERMARK: started.isoformat()}
    entry.save(update_fields=["parameters"])
    return result
