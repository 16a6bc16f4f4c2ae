"""The Item Availability job: after setup and a full synchronization of the demo, every coupled item's
``product.quantityonhand`` equals max(0, BC inventory); a quantity changed in Sales is put back; enabling the setting
re-adds the Inventory -> quantityonhand field mapping (BC: codeunit 5356 "CRM Item Availability Job",
CreateInventoryQuantityFieldMapping)."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from mappings.models import Coupling, IntegrationFieldMapping, IntegrationTableMapping
from syncjobs.defaults import default_configuration_reset, special_jobs_apply
from syncjobs.engine import clients_for
from syncjobs.item_availability import WATERMARK, quantity_on_hand
from syncjobs.models import JobQueueEntry
from syncjobs.runner import execute_job_queue_entry
from tests.syncjobs.test_special_jobs import synchronize_demo


def test_negative_inventory_is_zero_on_hand() -> None:
    assert quantity_on_hand(-4.5) == 0
    assert quantity_on_hand(None) == 0
    assert quantity_on_hand(12.25) == Decimal("12.25")


@pytest.mark.django_db
def test_enabling_item_availability_readds_the_inventory_field_mapping(connection: Any) -> None:
    default_configuration_reset(connection=connection)
    inventory = IntegrationFieldMapping.objects.filter(
        table_mapping__connection=connection, table_mapping__name="ITEM-PRODUCT", field_name="Inventory",
        integration_field_name="quantityonhand")
    inventory.delete()
    connection.item_availability_enabled = True
    connection.save()
    report = special_jobs_apply(connection=connection)
    assert "ITEM-PRODUCT" in report.changed
    (added,) = inventory.all()
    assert (added.direction, added.status) == ("ToIntegrationTable", IntegrationFieldMapping.Status.ENABLED)
    assert JobQueueEntry.objects.filter(connection=connection, kind=JobQueueEntry.Kind.ITEM_AVAILABILITY).exists()
    assert "ITEM-PRODUCT" not in special_jobs_apply(connection=connection).changed  # only when missing


@pytest.mark.django_db(transaction=True)
def test_quantity_on_hand_of_every_coupled_item_equals_bc_inventory(emulator: Any, emulator_connection: Any,
                                                                    sync_queue: Any) -> None:
    connection = emulator_connection
    connection.item_availability_enabled = True
    connection.save()
    special_jobs_apply(connection=connection)
    synchronize_demo(emulator, connection, sync_queue)
    bc, dv = clients_for(connection)
    entry = JobQueueEntry.objects.get(connection=connection, kind=JobQueueEntry.Kind.ITEM_AVAILABILITY)
    mapping = IntegrationTableMapping.objects.get(connection=connection, name="ITEM-PRODUCT")
    couplings = {str(c.bc_id): str(c.dataverse_id) for c in Coupling.objects.filter(
        connection=connection, bc_table=mapping.table, dataverse_table="product", is_pending=False)}
    assert couplings

    # quantities changed in Sales (not by BC): the job puts max(0, BC inventory) back, in one bulk write
    stale = list(couplings.values())[:3]
    for product_id in stale:
        dv.update("products", product_id, {"quantityonhand": 99})
    outcome = execute_job_queue_entry(entry)
    assert (outcome.changed, outcome.failed) == (len(stale), 0)
    entry.refresh_from_db()
    assert entry.parameters[WATERMARK]

    inventory = {row["id"]: row["inventory"] for row in bc.iter_rows("items", select=["id", "inventory"])}
    on_hand = {row["productid"]: row["quantityonhand"] for row in dv.iter_rows(
        "products", select=["productid", "quantityonhand"])}
    for item_id, product_id in couplings.items():
        assert Decimal(str(on_hand[product_id] or 0)) == quantity_on_hand(inventory[item_id]), item_id

    again = execute_job_queue_entry(entry)
    assert (again.changed, again.failed) == (0, 0)
