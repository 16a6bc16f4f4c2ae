"""A full synchronization of the demo data writes BC's sales price lists to Dataverse as price lists and price list
items, as BC's extended price calculation does (BC: codeunit 5334 "CRM Setup Defaults", PLHEADER-PRICE and
PLLINE-PRODPRICE), in unit group mode: each line's unit is a unit of its item's unit group, named with BC's code. The
RQ jobs run in this process (rq's SimpleWorker, burst mode)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from django.utils import timezone
from rq import SimpleWorker

from mappings.models import Coupling, IntegrationTableMapping
from syncjobs import review
from syncjobs.defaults import unit_group_update_job_schedule
from syncjobs.engine import clients_for
from syncjobs.models import JobQueueEntry
from syncjobs.scheduler import dispatch_due_entries

pytestmark = pytest.mark.django_db(transaction=True)


def _work(queue: Any, done: Any) -> None:
    """Run the sync queue and the dispatcher's retries until ``done()`` (at most 50 rounds)."""
    for _ in range(50):
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
        dispatch_due_entries(now=timezone.now() + timedelta(seconds=61))
        if done() and not len(queue):
            return


def test_full_synchronization_writes_bc_price_lists_to_dataverse(emulator: Any, emulator_connection: Any,
                                                                  sync_queue: Any) -> None:
    mappings = {m.name: m for m in IntegrationTableMapping.objects.filter(connection=emulator_connection)}
    assert {"PLHEADER-PRICE", "PLLINE-PRODPRICE"} <= set(mappings)
    assert not {m.table for m in mappings.values()} & {"Sales Price", "Customer Price Group"}
    bc, dv = clients_for(emulator_connection)
    # enabling reads the organization's base currency (BC: RefreshDataFromCRM), the local currency of blank codes
    organization = next(dv.iter_rows("organizations", select=["_basecurrencyid_value"]))
    emulator_connection.base_currency_id = organization["_basecurrencyid_value"]
    emulator_connection.save(update_fields=["base_currency_id"])

    # as after enabling with unit group mapping on: BC creates the unit groups its items lack
    JobQueueEntry.objects.filter(connection=emulator_connection).update(status=JobQueueEntry.Status.ON_HOLD)
    update = unit_group_update_job_schedule(connection=emulator_connection)
    _work(sync_queue, lambda: JobQueueEntry.objects.get(pk=update.pk).status == JobQueueEntry.Status.FINISHED)

    review.full_sync_review_start(connection=emulator_connection)
    _work(sync_queue, lambda: not review.full_sync_review_status(connection=emulator_connection)["running"])
    status = review.full_sync_review_status(connection=emulator_connection)
    failed = {line["name"]: line["error"] for line in status["lines"] if line["status"] == "Error"}
    assert "PLHEADER-PRICE" not in failed and "PLLINE-PRODPRICE" not in failed, failed

    headers = list(bc.iter_rows("priceListHeaders", filter=mappings["PLHEADER-PRICE"].table_filter, api="custom"))
    lines = list(bc.iter_rows("priceListLines", filter=mappings["PLLINE-PRODPRICE"].table_filter, api="custom"))
    assert headers and lines, "the demo data has sales price lists"
    currencies = {r["transactioncurrencyid"]: r["isocurrencycode"] for r in dv.iter_rows(
        "transactioncurrencies", select=["transactioncurrencyid", "isocurrencycode"])}
    base_code = currencies[organization["_basecurrencyid_value"]]
    price_lists = {r["name"]: r for r in dv.iter_rows(
        "pricelevels", select=["pricelevelid", "name", "_transactioncurrencyid_value"])}
    for header in headers:
        price_list = price_lists[header["code"]]
        assert currencies[price_list["_transactioncurrencyid_value"]] == (header["currencyCode"] or base_code)

    items = {r["number"]: r for r in bc.iter_rows("items", select=["id", "number", "baseUnitOfMeasureCode"])}
    products = {c.bc_id: str(c.dataverse_id) for c in Coupling.objects.filter(
        connection=emulator_connection, bc_table="Item", dataverse_table="product")}
    units = {r["uomid"]: r for r in dv.iter_rows("uoms", select=["uomid", "name", "_uomscheduleid_value"])}
    groups = {r["uomscheduleid"]: r["name"] for r in dv.iter_rows("uomschedules", select=["uomscheduleid", "name"])}
    rows = {r["productpricelevelid"]: r for r in dv.iter_rows(
        "productpricelevels", select=["productpricelevelid", "amount", "_productid_value", "_uomid_value",
                                      "_pricelevelid_value", "_transactioncurrencyid_value"])}
    couplings = {c.bc_id: str(c.dataverse_id) for c in Coupling.objects.filter(
        connection=emulator_connection, bc_table="Price List Line", dataverse_table="productpricelevel")}
    compared = 0
    for line in lines:
        if line["assetType"] != "Item":
            continue
        row = rows[couplings[_uuid(line["id"])]]
        item = items[line["assetNumber"]]
        unit = units[row["_uomid_value"]]
        assert float(row["amount"]) == float(line["unitPrice"])
        assert row["_productid_value"] == products[_uuid(item["id"])]
        assert unit["name"] == (line["unitOfMeasureCode"] or item["baseUnitOfMeasureCode"])
        assert groups[unit["_uomscheduleid_value"]] == f"ITEM {item['number']} UOM GR"
        assert row["_pricelevelid_value"] == price_lists[line["priceListCode"]]["pricelevelid"]
        assert currencies[row["_transactioncurrencyid_value"]] == (line["currencyCode"] or base_code)
        compared += 1
    assert compared > 0


def _uuid(value: str) -> UUID:
    return UUID(str(value))
