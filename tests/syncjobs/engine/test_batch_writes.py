"""Couplings are written per batch, not per record (speed and memory): a full synchronization inserts the
pending couplings of a batch with one statement and stores the batch's results with a few more, whatever the number
of records; the values stored are still each record's own."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from mappings.models import Coupling
from syncjobs.engine.passes import insert_couplings, parse_modified, save_couplings


def coupling_writes(queries: list[dict[str, Any]]) -> list[str]:
    """The INSERT/UPDATE statements on the coupling table among captured queries (``executemany`` is one entry)."""
    table = Coupling._meta.db_table
    return [q["sql"] for q in queries if table in q["sql"] and ("UPDATE" in q["sql"] or "INSERT" in q["sql"])]


def test_full_synchronization_writes_couplings_per_batch(run: Any, clients: Any, sync_connection: Any) -> None:
    run("CURRENCY", "UNIT OF MEASURE", full=True)
    with CaptureQueriesContext(connection) as captured:
        job = run("ITEM-PRODUCT", full=True, batch_size=1000)[0]
    assert job.inserted >= 10 and job.failed == 0
    writes = coupling_writes(captured.captured_queries)
    # one INSERT of the pending couplings, one UPDATE of the values all share, one of the per-record values
    assert len(writes) <= 3, writes
    bc, _ = clients
    items = {row["id"].lower(): row for row in bc.iter_rows("items", filter="blocked eq false")}
    couplings = Coupling.objects.filter(connection=sync_connection, bc_table="Item")
    assert couplings.count() == job.inserted
    for coupling in couplings:
        assert not coupling.is_pending
        assert coupling.last_synch_crm_result == Coupling.Result.SUCCESS
        assert coupling.last_synch_crm_job_id == job.pk
        assert coupling.last_synch_modified_on == parse_modified(items[str(coupling.bc_id)]["lastModifiedDateTime"])


def test_batch_size_one_still_writes_every_coupling(run: Any, sync_connection: Any) -> None:
    run("CURRENCY", "UNIT OF MEASURE", full=True)
    job = run("ITEM-PRODUCT", full=True, batch_size=1)[0]
    assert job.inserted >= 10 and job.failed == 0
    couplings = Coupling.objects.filter(connection=sync_connection, bc_table="Item")
    assert couplings.count() == job.inserted
    assert not couplings.filter(is_pending=True).exists()


def new_coupling(connection_setup: Any, **values: Any) -> Coupling:
    return Coupling(connection=connection_setup, bc_table="Item", bc_id=uuid4(), dataverse_table="product",
                    dataverse_id=uuid4(), is_pending=True, **values)


def test_insert_couplings_sets_ids_and_stores_every_field(sync_connection: Any) -> None:
    couplings = [new_coupling(sync_connection, failure_count=i) for i in range(3)]
    with CaptureQueriesContext(connection) as captured:
        insert_couplings(couplings)
    assert len(coupling_writes(captured.captured_queries)) == 1
    for coupling in couplings:
        stored = Coupling.objects.get(pk=coupling.pk)
        assert (stored.bc_id, stored.dataverse_id, stored.failure_count, stored.is_pending) == (
            coupling.bc_id, coupling.dataverse_id, coupling.failure_count, True)
        assert stored.created_at is not None
        assert not coupling._state.adding
    couplings[0].failure_count = 5
    couplings[0].save(update_fields=["failure_count"])  # a saved model instance, usable as any other
    assert Coupling.objects.get(pk=couplings[0].pk).failure_count == 5


def test_insert_couplings_inserts_nothing_when_one_exists(sync_connection: Any) -> None:
    existing = new_coupling(sync_connection)
    insert_couplings([existing])
    duplicate = new_coupling(sync_connection)
    duplicate.dataverse_id = existing.dataverse_id
    fresh = new_coupling(sync_connection)
    with pytest.raises(IntegrityError):
        insert_couplings([fresh, duplicate])
    assert not Coupling.objects.filter(bc_id=fresh.bc_id).exists()
    assert Coupling.objects.filter(connection=sync_connection).count() == 1


def test_save_couplings_stores_shared_and_per_record_values(sync_connection: Any) -> None:
    couplings = [new_coupling(sync_connection) for _ in range(4)]
    insert_couplings(couplings)
    base = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    updates = []
    for i, coupling in enumerate(couplings):
        coupling.is_pending = False
        coupling.last_synch_crm_result = Coupling.Result.SUCCESS
        coupling.last_synch_modified_on = base + timedelta(seconds=i)
        updates.append((coupling, ("is_pending", "last_synch_crm_result", "last_synch_modified_on")))
    couplings[3].failure_count = 2
    updates[3] = (couplings[3], (*updates[3][1], "failure_count"))
    with CaptureQueriesContext(connection) as captured:
        save_couplings(updates)
    # group 1 (three couplings): a shared UPDATE and a per-record one; group 2 (one coupling): one shared UPDATE
    assert len(coupling_writes(captured.captured_queries)) == 3
    for i, coupling in enumerate(couplings):
        stored = Coupling.objects.get(pk=coupling.pk)
        assert stored.is_pending is False
        assert stored.last_synch_crm_result == Coupling.Result.SUCCESS
        assert stored.last_synch_modified_on == base + timedelta(seconds=i)
        assert stored.failure_count == (2 if i == 3 else 0)
