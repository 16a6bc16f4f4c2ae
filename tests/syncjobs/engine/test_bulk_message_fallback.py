"""A Dataverse table without bulk operation messages (Microsoft Learn: "Use bulk operation messages": not every
standard table has them) is written in ``$batch`` change sets instead, every record exactly once: taken from
``product`` through the emulator's control endpoint; Price List Item lacks them anyway."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from connections.clients import DataverseClient, dataverse


@pytest.fixture
def no_product_bulk_messages(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``product`` without CreateMultiple and UpdateMultiple (hence no UpsertMultiple); change sets of 10 rows (so
    that the demo's items fill several); the clients forget what they knew about the environment's messages before
    and after."""
    monkeypatch.setattr(dataverse, "CHANGESET_SIZE", 10)
    DataverseClient.forget_bulk_messages()
    assert emulator.bulk_messages("product", remove=["CreateMultiple", "UpdateMultiple"]) == []
    yield
    DataverseClient.forget_bulk_messages()


def _items(bc: Any) -> list[dict[str, Any]]:
    return list(bc.iter_rows("items", filter="blocked eq false"))


def _product_numbers(dv: Any) -> Counter[str]:
    return Counter(p["productnumber"] for p in dv.iter_rows("products", select=["productnumber"]))


def test_items_are_written_once_through_changesets(run: Any, clients: Any, emulator: Any,
                                                   no_product_bulk_messages: None) -> None:
    bc, dv = clients
    run("CURRENCY", "UNIT OF MEASURE", full=True)
    items = _items(bc)
    job = run("ITEM-PRODUCT", full=True, batch_size=1000)[0]
    assert job.failed == 0, list(job.errors.values_list("message", flat=True))[:3]
    assert job.inserted == len(items) > 50  # several change sets in the batch
    numbers = _product_numbers(dv)
    assert sorted(numbers) == sorted(item["number"] for item in items) and max(numbers.values()) == 1
    price_items = Counter(p["_productid_value"] for p in dv.iter_rows("productpricelevels",
                                                                       select=["_productid_value"]))
    assert len(price_items) == len(items) and max(price_items.values()) == 1
    # updates go the same way (PATCH with If-Match: *): two items renamed in BC, one incremental run
    for item in items[:2]:
        bc.update("items", item["id"], {"displayName": f"Renamed {item['number']}"}, etag=item["@odata.etag"])
    job = run("ITEM-PRODUCT")[0]
    assert (job.modified, job.failed, job.inserted) == (2, 0, 0)
    names = {p["productnumber"]: p["name"] for p in dv.iter_rows("products", select=["productnumber", "name"])}
    assert [names[item["number"]] for item in items[:2]] == [f"Renamed {item['number']}" for item in items[:2]]
    assert max(_product_numbers(dv).values()) == 1


def test_failing_row_fails_alone_and_the_other_changesets_land(run: Any, clients: Any,
                                                               no_product_bulk_messages: None) -> None:
    bc, dv = clients
    run("CURRENCY", "UNIT OF MEASURE", full=True)
    items = _items(bc)
    bad = items[len(items) // 2]
    bc.update("items", bad["id"], {"unitPrice": -5}, etag=bad["@odata.etag"])  # product.price must be >= 0
    job = run("ITEM-PRODUCT", full=True, batch_size=1000)[0]
    assert (job.inserted, job.failed) == (len(items) - 1, 1)
    assert bad["number"] in job.errors.get().message
    numbers = _product_numbers(dv)
    assert bad["number"] not in numbers
    assert len(numbers) == len(items) - 1 and max(numbers.values()) == 1
