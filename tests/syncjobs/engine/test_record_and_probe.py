"""Synchronize now for one record (BC: "Synchronize" on a coupled record), the RQ task behind it, and the scheduler's
change probe."""
from __future__ import annotations

from typing import Any

import pytest

from connections.clients.errors import NotFoundError
from mappings.models import Coupling, Direction
from syncjobs.engine import ChangeProbe, SynchronizationNotPossible, records, synchronize_record
from syncjobs.tasks_engine import delete_surviving_record, synchronize_coupling


def _coupling_of(number: str, clients: Any) -> Coupling:
    bc, _ = clients
    item = next(bc.iter_rows("items", filter=f"number eq '{number}'"))
    return Coupling.objects.get(bc_table="Item", bc_id=item["id"])


def test_synchronize_now_sends_one_record_even_when_skipped(synced_items: Any, clients: Any, mapping: Any,
                                                            admin_dv: Any) -> None:
    bc, dv = clients
    number = sorted(synced_items)[0]
    coupling = _coupling_of(number, clients)
    admin_dv.update("products", coupling.dataverse_id, {"name": "Changed in Sales"})
    Coupling.objects.filter(pk=coupling.pk).update(skipped=True, failure_count=2)
    coupling.refresh_from_db()
    job = synchronize_record(mapping=mapping("ITEM-PRODUCT"), coupling=coupling,
                             direction=Direction.TO_INTEGRATION_TABLE)
    assert (job.total, job.modified, job.failed) == (1, 1, 0)
    assert dv.retrieve("products", coupling.dataverse_id, select=["name"])["name"] == synced_items[number][
        "displayName"]
    coupling.refresh_from_db()
    assert not coupling.skipped and coupling.failure_count == 0


def test_synchronize_now_task_gets_the_dataverse_side(synced_items: Any, clients: Any, admin_dv: Any) -> None:
    bc, _ = clients
    number = sorted(synced_items)[1]
    coupling = _coupling_of(number, clients)
    admin_dv.update("products", coupling.dataverse_id, {"name": "Sales wins"})
    job_id = synchronize_coupling(coupling.pk, Direction.FROM_INTEGRATION_TABLE)
    assert job_id and next(bc.iter_rows("items", filter=f"number eq '{number}'"))["displayName"] == "Sales wins"


def test_synchronize_now_refuses_a_direction_the_mapping_does_not_allow(run: Any, clients: Any,
                                                                        mapping: Any) -> None:
    run("CURRENCY", full=True)
    coupling = Coupling.objects.filter(bc_table="Currency").first()
    with pytest.raises(SynchronizationNotPossible, match="cannot synchronize in direction FromIntegrationTable"):
        synchronize_record(mapping=mapping("CURRENCY"), coupling=coupling, direction=Direction.FROM_INTEGRATION_TABLE)


def test_change_probe_sees_changes_on_either_side_and_nothing_after_a_run(synced_items: Any, clients: Any,
                                                                          mapping: Any, run: Any,
                                                                          admin_dv: Any) -> None:
    bc, dv = clients
    probe = ChangeProbe(clients)
    assert probe.has_changes(mapping=mapping("ITEM-PRODUCT")) is False
    number = sorted(synced_items)[2]
    item = next(bc.iter_rows("items", filter=f"number eq '{number}'"))
    bc.update("items", item["id"], {"displayName": "Probe me"}, etag=item["@odata.etag"])
    assert probe.has_changes(mapping=mapping("ITEM-PRODUCT")) is True
    run("ITEM-PRODUCT")
    assert probe.has_changes(mapping=mapping("ITEM-PRODUCT")) is False
    dv.update("products", _coupling_of(number, clients).dataverse_id, {"name": "integration user edit"})
    assert probe.has_changes(mapping=mapping("ITEM-PRODUCT")) is False  # the integration user's own change
    admin_dv.update("products", _coupling_of(number, clients).dataverse_id, {"name": "salesperson edit"})
    assert probe.has_changes(mapping=mapping("ITEM-PRODUCT")) is True


def test_restore_and_delete_records_tasks_resolve_deletion_conflicts(synced_items: Any, clients: Any, run: Any,
                                                                     sync_queue: Any,
                                                                     django_capture_on_commit_callbacks: Any) -> None:
    bc, dv = clients
    restored_number, deleted_number = sorted(synced_items)[3:5]
    couplings = {n: _coupling_of(n, clients) for n in (restored_number, deleted_number)}
    for number, coupling in couplings.items():
        dv.delete("products", coupling.dataverse_id)
        item = next(bc.iter_rows("items", filter=f"number eq '{number}'"))
        bc.update("items", item["id"], {"displayName": f"Edited {number}"}, etag=item["@odata.etag"])
    assert run("ITEM-PRODUCT")[0].failed == 2
    # Restore Records: the deleted Dataverse row comes back with its id
    with django_capture_on_commit_callbacks(execute=True):
        assert records.skipped_record_restore_enqueue(coupling=couplings[restored_number]) == "dataverse"
    job = sync_queue.fetch_job(sync_queue.job_ids[0])
    synchronize_coupling(*job.args)
    restored = dv.retrieve("products", couplings[restored_number].dataverse_id, select=["name"])
    assert restored["name"] == f"Edited {restored_number}"
    # Delete Records: the surviving BC item is deleted with its coupling
    with django_capture_on_commit_callbacks(execute=True):
        assert records.skipped_record_delete_enqueue(coupling=couplings[deleted_number]) == "bc"
    delete_surviving_record(*sync_queue.fetch_job(sync_queue.job_ids[-1]).args)
    assert not Coupling.objects.filter(pk=couplings[deleted_number].pk).exists()
    with pytest.raises(NotFoundError):
        bc.get("items", couplings[deleted_number].bc_id)
