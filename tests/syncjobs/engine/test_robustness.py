"""Failures, retries and crashes: two-strike skip, transient errors, lost creates, split batches, 429, resume
(BC's known faults fixed; BC: table 5331 "CRM Integration Record", field Skipped). Against the emulators over HTTPS."""
from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from connections.clients import business_central_client_for, dataverse_client_for
from mappings.models import Coupling
from syncjobs.engine import pending_business_central_creates, synchronize_mapping
from syncjobs.engine.passes import FromIntegrationPass, Pass, ToIntegrationPass
from syncjobs.models import SynchronizationJob


class Crash(BaseException):
    """A worker dying: not an Exception, so nothing in the engine handles it."""


def _product_numbers(dv: Any) -> Counter[str]:
    return Counter(p["productnumber"] for p in dv.iter_rows("products", select=["productnumber"])
                   if p.get("productnumber"))


def _items(bc: Any) -> list[dict[str, Any]]:
    return list(bc.iter_rows("items", filter="blocked eq false"))


def _record_waits(client: Any) -> list[float]:
    """Make ``client``'s transport record the waits it asks for before a retry (Retry-After, backoff) instead of
    spending them; returns the list they are appended to. That a wait really blocks is checked in
    tests/connections/clients (test_throttled_request_waits_for_retry_after)."""
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(0.01)  # still yield, as a real wait would

    client.transport.sleep = sleep
    return waits


def test_permanent_failure_twice_skips_the_record(run: Any, clients: Any, sync_connection: Any) -> None:
    bc, _ = clients
    run("CURRENCY", full=True)  # units of measure are not coupled: every item fails on its base unit
    first = run("ITEM-PRODUCT", full=True)[0]
    items = _items(bc)
    assert first.failed == len(items) and first.inserted == 0
    error = first.errors.first()
    assert "Base Unit of Measure" in error.message and "is not coupled" in error.message
    assert "UNIT OF MEASURE" in error.fix or "Unit of Measure" in error.fix
    couplings = Coupling.objects.filter(connection=sync_connection, bc_table="Item")
    assert couplings.count() == len(items) and not couplings.filter(skipped=True).exists()
    second = run("ITEM-PRODUCT")[0]  # an incremental run retries the failed records first
    assert second.failed == len(items)
    assert couplings.filter(skipped=True).count() == len(items)
    third = run("ITEM-PRODUCT")[0]
    assert third.failed == 0 and third.inserted == 0  # skipped records stay out of scheduled runs...
    run("UNIT OF MEASURE", full=True)
    forced = run("ITEM-PRODUCT", full=True)[0]  # ...until retried or forced
    assert forced.inserted == len(items) and forced.failed == 0


def test_transient_failures_never_skip_and_are_retried(run: Any, clients: Any, sync_connection: Any,
                                                       mapping: Any, emulator: Any) -> None:
    run("CURRENCY", "UNIT OF MEASURE", full=True)
    bc = business_central_client_for(sync_connection)
    dv = dataverse_client_for(sync_connection, max_retries=1, backoff_base=0.01, backoff_max=0.02)
    emulator.control(rate_5xx=1.0, fault_services=["dataverse"])
    try:
        for _attempt in range(2):
            job = ToIntegrationPass(mapping=mapping("ITEM-PRODUCT"), bc_client=bc, dv_client=dv, full=True,
                                    integration_user_id=sync_connection.integration_user_id).run()
            assert job.inserted == 0 and job.failed > 0
            assert all(job.errors.values_list("transient", flat=True))
    finally:
        emulator.control(rate_5xx=0.0)
    couplings = Coupling.objects.filter(connection=sync_connection, bc_table="Item")
    assert not couplings.filter(skipped=True).exists() and not couplings.exclude(failure_count=0).exists()
    job = run("ITEM-PRODUCT")[0]  # an ordinary incremental run picks the failed records up again
    assert job.inserted == len(_items(bc)) and job.failed == 0


def test_lost_create_answer_is_retried_without_a_duplicate(run: Any, clients: Any, sync_connection: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    bc, dv = clients
    run("CURRENCY", "UNIT OF MEASURE", full=True)
    # The worker dies after Dataverse carried out the creates but before their answer was recorded.
    monkeypatch.setattr(Pass, "record_results", lambda self, items: (_ for _ in ()).throw(Crash()))
    with pytest.raises(Crash):
        run("ITEM-PRODUCT", full=True)
    monkeypatch.undo()
    items = _items(bc)
    assert sum(_product_numbers(dv).values()) == len(items)  # the creates landed...
    assert Coupling.objects.filter(bc_table="Item", is_pending=True).count() == len(items)  # ...answers unknown
    job = run("ITEM-PRODUCT", full=True)[0]
    assert job.failed == 0
    numbers = _product_numbers(dv)
    assert set(numbers) >= {item["number"] for item in items} and max(numbers.values()) == 1
    assert not Coupling.objects.filter(bc_table="Item", is_pending=True).exists()


def test_dropped_requests_are_repeated_without_duplicates(run: Any, clients: Any, emulator: Any,
                                                          mapping: Any) -> None:
    bc, dv = clients
    run("CURRENCY", "UNIT OF MEASURE", full=True)
    waits = _record_waits(dv)  # ~20 backoffs of up to a few seconds each: recorded, not spent
    emulator.control(drop_rate=0.3, fault_seed=7, fault_services=["dataverse"])
    try:
        job = synchronize_mapping(mapping=mapping("ITEM-PRODUCT"), full=True, batch_size=10, clients=clients)[0]
    finally:
        emulator.control(drop_rate=0.0)
    assert job.failed == 0, list(job.errors.values_list("message", flat=True))[:2]
    assert waits and all(0 < wait <= dv.transport.backoff_max for wait in waits), waits  # repeated after a backoff
    numbers = _product_numbers(dv)
    assert len(numbers) == len(_items(bc)) and max(numbers.values()) == 1


def test_failing_batch_is_split_so_the_good_rows_land(run: Any, clients: Any) -> None:
    bc, dv = clients
    run("CURRENCY", "UNIT OF MEASURE", full=True)
    items = _items(bc)
    bad = items[len(items) // 2]
    bc.update("items", bad["id"], {"unitPrice": -5}, etag=bad["@odata.etag"])  # product.price must be >= 0
    job = run("ITEM-PRODUCT", full=True, batch_size=500)[0]
    assert (job.inserted, job.failed) == (len(items) - 1, 1)
    error = job.errors.get()
    assert bad["number"] in error.message and "price" in error.message
    assert bad["number"] not in _product_numbers(dv)


def test_429_retry_after_is_honoured(run: Any, clients: Any, emulator: Any, mapping: Any) -> None:
    """Every 429 is repeated after the Retry-After the emulator sent (2 s for its 429 fault). The waits are recorded,
    not spent (the run would otherwise sleep 2 s for each of its ~15 throttled requests)."""
    bc, dv = clients
    run("CURRENCY", "UNIT OF MEASURE", full=True)
    waits = _record_waits(dv)
    sent_before = dv.requests_sent
    emulator.control(rate_429=0.5, fault_seed=3, fault_services=["dataverse"])
    try:
        job = synchronize_mapping(mapping=mapping("ITEM-PRODUCT"), full=True, batch_size=20, clients=clients)[0]
    finally:
        emulator.control(rate_429=0.0)
    assert job.failed == 0 and job.inserted == len(_items(bc))
    # at least one Retry-After: 2 was waited out, not failed; every wait was the Retry-After the server sent
    assert waits and set(waits) == {2.0}, waits
    assert dv.requests_sent - sent_before > len(waits)  # each throttled request was repeated after its wait


def test_crash_between_batches_resumes_without_duplicates(run: Any, clients: Any, sync_connection: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    bc, dv = clients
    run("CURRENCY", "UNIT OF MEASURE", full=True)
    original = Pass._commit_counters
    calls = {"n": 0}

    def dying_commit(self: Pass, processed: int, resume: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise Crash()  # the third batch was written but its transaction never committed
        original(self, processed, resume)

    monkeypatch.setattr(Pass, "_commit_counters", dying_commit)
    with pytest.raises(Crash):
        run("ITEM-PRODUCT", full=True, batch_size=20)
    monkeypatch.undo()
    interrupted = SynchronizationJob.objects.get(table_mapping__name="ITEM-PRODUCT", finished_at__isnull=True)
    assert interrupted.processed == 40 and interrupted.resume_token
    resumed = run("ITEM-PRODUCT", full=True, batch_size=20)[0]
    interrupted.refresh_from_db()
    assert interrupted.finished_at is not None and str(resumed.pk) in interrupted.message
    items = _items(bc)
    assert resumed.failed == 0 and resumed.processed < len(items)  # it continued, it did not start over
    numbers = _product_numbers(dv)
    assert {item["number"] for item in items} <= set(numbers) and max(numbers.values()) == 1
    assert Coupling.objects.filter(bc_table="Item", is_pending=False).count() == len(items)


def test_lost_business_central_create_is_not_repeated(run: Any, clients: Any, couple_salespeople: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    bc, dv = clients
    couple_salespeople(JO="admin", OF="integration")
    samples = {o["name"] for o in dv.iter_rows("opportunities", select=["name"])}
    before = Counter(o["description"] for o in bc.iter_rows("opportunities"))
    # BC carried out the creates (numbers from its number series) but the worker died before recording them
    monkeypatch.setattr(FromIntegrationPass, "record_results", lambda self, items: (_ for _ in ()).throw(Crash()))
    with pytest.raises(Crash):
        run("OPPORTUNITY", full=True)
    monkeypatch.undo()
    after_crash = Counter(o["description"] for o in bc.iter_rows("opportunities"))
    assert all(after_crash[name] == before[name] + 1 for name in samples)
    recovery, to_job, from_job = run("OPPORTUNITY", full=True)
    assert recovery.direction == from_job.direction and recovery.total == len(samples)
    assert recovery.failed == 0 and recovery.inserted == len(samples)  # settled: adopted, none created again
    final = Counter(o["description"] for o in bc.iter_rows("opportunities"))
    assert all(final[name] == before[name] + 1 for name in samples)  # adopted, not created twice
    assert pending_business_central_creates(from_job.table_mapping) == []
    in_sales = Counter(o["name"] for o in dv.iter_rows("opportunities", select=["name"]))
    assert all(in_sales[name] == 1 for name in samples)  # nor sent back to Sales as new opportunities
