"""Per-record decisions, conflicts, watermarks and loop prevention against the emulators (BC: codeunit 5340 "CRM
Integration Table Synch." and codeunit 5345 "Integration Rec. Synch. Invoke")."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from mappings.models import Coupling, IntegrationTableMapping
from syncjobs.engine.passes import parse_modified
from syncjobs.models import SynchronizationError


def _product(dv: Any, number: str) -> dict[str, Any]:
    rows = list(dv.iter_rows("products", select=["productid", "name", "modifiedon", "_modifiedby_value"],
                             filter=f"productnumber eq '{number}'"))
    assert len(rows) == 1, f"{len(rows)} products numbered {number}"
    return rows[0]


def _rename_item(bc: Any, number: str, name: str) -> dict[str, Any]:
    item = next(bc.iter_rows("items", filter=f"number eq '{number}'"))
    return bc.update("items", item["id"], {"displayName": name}, etag=item["@odata.etag"])


def test_immediate_rerun_writes_nothing_and_a_change_is_sent(synced_items: Any, run: Any, clients: Any) -> None:
    bc, dv = clients
    rerun = run("ITEM-PRODUCT")
    assert [(j.inserted, j.modified, j.failed) for j in rerun] == [(0, 0, 0), (0, 0, 0)]
    number = sorted(synced_items)[0]
    _rename_item(bc, number, "Renamed in Business Central")
    to_job, from_job = run("ITEM-PRODUCT")
    assert (to_job.modified, to_job.inserted, to_job.failed) == (1, 0, 0)
    assert _product(dv, number)["name"] == "Renamed in Business Central"
    assert (from_job.modified, from_job.processed) == (0, 0)


def test_record_modified_in_the_watermark_second_is_not_missed(synced_items: Any, run: Any, clients: Any,
                                                               mapping: Any) -> None:
    bc, dv = clients
    number = sorted(synced_items)[1]
    # The previous run's watermark ended in the same second as this change (BC's known miss with a strict '>').
    for offset in (timedelta(0), timedelta(milliseconds=400)):
        changed = _rename_item(bc, number, f"Changed in the same second {offset}")
        modified = parse_modified(changed["lastModifiedDateTime"])
        IntegrationTableMapping.objects.filter(pk=mapping("ITEM-PRODUCT").pk).update(
            synch_int_tbl_mod_on_fltr=modified + offset)
        Coupling.objects.filter(bc_table="Item", bc_id=changed["id"]).update(
            last_synch_modified_on=modified - timedelta(seconds=1))
        to_job = run("ITEM-PRODUCT")[0]
        assert to_job.modified == 1, to_job.message
        assert _product(dv, number)["name"] == f"Changed in the same second {offset}"


def test_integration_user_changes_are_not_synchronized_back(synced_items: Any, run: Any, clients: Any,
                                                            admin_dv: Any) -> None:
    bc, dv = clients
    number = sorted(synced_items)[2]
    product = _product(dv, number)
    dv.update("products", product["productid"], {"name": "Written by the integration user"})
    to_job, from_job = run("ITEM-PRODUCT")
    assert from_job.processed == 0 and from_job.modified == 0
    assert next(bc.iter_rows("items", filter=f"number eq '{number}'"))["displayName"] == synced_items[number][
        "displayName"]
    admin_dv.update("products", product["productid"], {"name": "Written by a salesperson"})
    to_job, from_job = run("ITEM-PRODUCT")
    assert from_job.modified == 1, list(from_job.errors.values_list("message", flat=True))
    assert next(bc.iter_rows("items", filter=f"number eq '{number}'"))["displayName"] == "Written by a salesperson"
    # and the BC write is not echoed back to Dataverse as a change
    again = run("ITEM-PRODUCT")
    assert [(j.modified, j.inserted) for j in again] == [(0, 0), (0, 0)]


def test_update_conflict_fails_naming_the_field_unless_resolved(synced_items: Any, run: Any, clients: Any,
                                                                admin_dv: Any, mapping: Any) -> None:
    bc, dv = clients
    number = sorted(synced_items)[3]
    product = _product(dv, number)
    admin_dv.update("products", product["productid"], {"name": "Dataverse side"})
    _rename_item(bc, number, "Business Central side")
    to_job, from_job = run("ITEM-PRODUCT")
    assert to_job.failed == 1
    error = to_job.errors.get()
    assert error.conflict == SynchronizationError.Conflict.UPDATE
    assert "Description / name" in error.message and number in error.message and "winning side" in error.fix
    item_mapping = mapping("ITEM-PRODUCT")
    wins = IntegrationTableMapping.UpdateConflictResolution
    item_mapping.update_conflict_resolution = wins.SEND_UPDATE_TO_INTEGRATION
    item_mapping.save(update_fields=["update_conflict_resolution"])
    to_job, from_job = run("ITEM-PRODUCT")
    assert to_job.modified == 1 and to_job.failed == 0
    assert _product(dv, number)["name"] == "Business Central side"
    assert next(bc.iter_rows("items", filter=f"number eq '{number}'"))["displayName"] == "Business Central side"


def test_deletion_conflict_fails_restores_or_uncouples(synced_items: Any, run: Any, clients: Any,
                                                       mapping: Any) -> None:
    bc, dv = clients
    numbers = sorted(synced_items)[4:7]
    products = {n: _product(dv, n) for n in numbers}
    for number in numbers:
        dv.delete("products", products[number]["productid"])
        _rename_item(bc, number, f"Changed after delete {number}")
    item_mapping = mapping("ITEM-PRODUCT")
    resolution = IntegrationTableMapping.DeletionConflictResolution
    to_job = run("ITEM-PRODUCT")[0]
    assert to_job.failed == 3
    assert set(to_job.errors.values_list("conflict", flat=True)) == {SynchronizationError.Conflict.DELETION}
    assert "deleted" in to_job.errors.first().message
    item_mapping.deletion_conflict_resolution = resolution.RESTORE_RECORDS
    item_mapping.save(update_fields=["deletion_conflict_resolution"])
    to_job = run("ITEM-PRODUCT")[0]
    assert to_job.inserted == 3 and to_job.failed == 0
    restored = _product(dv, numbers[0])
    assert restored["name"] == f"Changed after delete {numbers[0]}"
    dv.delete("products", restored["productid"])
    _rename_item(bc, numbers[0], "Changed again")
    item_mapping.deletion_conflict_resolution = resolution.REMOVE_COUPLING
    item_mapping.save(update_fields=["deletion_conflict_resolution"])
    to_job = run("ITEM-PRODUCT")[0]
    assert to_job.uncoupled == 1
    item = next(bc.iter_rows("items", filter=f"number eq '{numbers[0]}'"))
    assert not Coupling.objects.filter(bc_table="Item", bc_id=item["id"]).exists()
