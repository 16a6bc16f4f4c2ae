"""Dataverse requests per synchronized record on a scaled catalogue: a full synchronization of unit group mode reads
what its records need per page, never per record (ITEM UOM used to read each item's unit group and retrieve its base
unit, two requests per unit); an incremental run reads what its few changed records need, not whole tables."""
from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

from connections.clients import BusinessCentralClient
from emulators.testing import start_emulators
from mappings.models import Coupling, IntegrationTableMapping
from portal.testing.pytest_plugin import allow_outbound_origin
from syncjobs.defaults import default_configuration_reset
from syncjobs.engine import clients_for, synchronize_mapping
from tests.syncjobs.engine.conftest import disable_unknown_columns, disable_unmatched_options, make_sync_connection

#: Items (and their unit groups and units) the scaled emulators add to the demo data.
SCALE = 1000
#: Upper bound of Dataverse requests per synchronized record of a full synchronization (reads, writes, metadata).
MAX_REQUESTS_PER_RECORD = 0.05


class Scaled:
    """The scaled emulators under the name the connection fixtures expect (``info``)."""

    def __init__(self, running: Any) -> None:
        self.info = running.info


@pytest.fixture(scope="module")
def scaled_emulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Emulators seeded with the demo data and :data:`SCALE` generated items, for this module only."""
    data_dir: Path = tmp_path_factory.mktemp("scaled-emulators")
    with start_emulators(data_dir, seed="demo", scale=SCALE, timeout=600) as running:
        allow_outbound_origin(running.info["dataverse_url"])
        running.reset()
        yield running


@pytest.fixture
def unit_group_connection(scaled_emulators: Any, settings: Any, db: Any) -> Any:
    """A connection on the scaled emulators in unit group mode (the default of a new connection setup)."""
    scaled_emulators.reset()
    connection = make_sync_connection(Scaled(scaled_emulators), settings)
    connection.unit_group_mapping_enabled = True
    connection.save(update_fields=["unit_group_mapping_enabled"])
    default_configuration_reset(connection=connection)
    _, dv = clients_for(connection)
    disable_unknown_columns(connection, dv)
    disable_unmatched_options(connection)
    return connection


def full_sync(connection: Any, name: str) -> tuple[int, int, int]:
    """(records written, records failed, Dataverse requests) of a full synchronization of mapping ``name`` with
    fresh clients."""
    bc, dv = clients_for(connection)
    jobs = synchronize_mapping(mapping=IntegrationTableMapping.objects.get(connection=connection, name=name),
                               full=True, clients=(bc, dv))
    return (sum(j.inserted + j.modified for j in jobs), sum(j.failed for j in jobs), dv.requests_sent)


def test_unit_group_mode_full_synchronization_reads_per_page_not_per_record(unit_group_connection: Any) -> None:
    ratios: dict[str, float] = {}
    for name in ("CURRENCY", "UNIT GROUP", "ITEM UOM", "ITEM-PRODUCT"):
        records, failed, requests = full_sync(unit_group_connection, name)
        assert failed == 0 and records > 0, name
        ratios[name] = requests / records
    assert ratios["ITEM UOM"] <= MAX_REQUESTS_PER_RECORD, ratios
    assert ratios["UNIT GROUP"] <= MAX_REQUESTS_PER_RECORD, ratios
    assert ratios["ITEM-PRODUCT"] <= MAX_REQUESTS_PER_RECORD, ratios


def test_item_units_adopt_their_groups_base_unit_read_per_page(unit_group_connection: Any) -> None:
    full_sync(unit_group_connection, "UNIT GROUP")
    records, failed, _ = full_sync(unit_group_connection, "ITEM UOM")
    bc, dv = clients_for(unit_group_connection)
    base_units = {str(u["uomid"]).lower() for u in dv.iter_rows("uoms", select=["uomid", "isschedulebaseuom"])
                  if u.get("isschedulebaseuom")}
    coupled = {str(i).lower() for i in Coupling.objects.filter(connection=unit_group_connection,
                                                                bc_table="Item Unit of Measure", is_pending=False)
               .values_list("dataverse_id", flat=True)}
    items = {i["number"]: i["baseUnitOfMeasureCode"] for i in bc.iter_rows("items", select=["number",
                                                                                            "baseUnitOfMeasureCode"])}
    base_codes = sum(1 for u in bc.iter_rows("itemUnitsOfMeasure", select=["itemNumber", "code"], api="custom")
                     if items.get(u["itemNumber"]) == u["code"])
    assert failed == 0 and records == len(coupled)
    # every item's base unit of measure is coupled to the base unit Dataverse made with its group, not a copy
    assert base_codes > SCALE / 2 and len(coupled & base_units) == base_codes


def test_a_failed_page_read_fails_the_units_with_the_services_error(unit_group_connection: Any,
                                                                     scaled_emulators: Any) -> None:
    full_sync(unit_group_connection, "UNIT GROUP")
    scaled_emulators.privileges("Basic User", revoke=["prvReadUoM"])
    bc, dv = clients_for(unit_group_connection)
    job = synchronize_mapping(mapping=IntegrationTableMapping.objects.get(connection=unit_group_connection,
                                                                          name="ITEM UOM"),
                              full=True, clients=(bc, dv))[0]
    assert job.inserted == 0 and job.failed > SCALE
    assert dv.requests_sent / job.failed <= MAX_REQUESTS_PER_RECORD  # one refused read per page, not per record
    error = job.errors.first()
    assert error.message.startswith("Preparing Item Unit of Measure ") and "prvReadUoM" in error.message
    # each create that failed keeps a pending coupling, so the next run retries it first
    assert Coupling.objects.filter(connection=unit_group_connection, bc_table="Item Unit of Measure",
                                   is_pending=True).count() == job.failed


def test_an_incremental_run_reads_the_units_of_the_changed_items_only(unit_group_connection: Any,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CURRENCY", "UNIT GROUP", "ITEM UOM", "ITEM-PRODUCT"):
        full_sync(unit_group_connection, name)
    bc, _ = clients_for(unit_group_connection)
    changed = list(islice(bc.iter_rows("items", filter="blocked eq false", page_size=3), 3))
    for row in changed:
        bc.update("items", row["id"], {"unitPrice": float(row.get("unitPrice") or 0) + 1}, etag=row["@odata.etag"])
    reads: list[tuple[str, str | None]] = []
    iter_rows = BusinessCentralClient.iter_rows

    def recorded(client: Any, entity_set: str, *args: Any, **kwargs: Any) -> Any:
        reads.append((entity_set, kwargs.get("filter")))
        return iter_rows(client, entity_set, *args, **kwargs)

    monkeypatch.setattr(BusinessCentralClient, "iter_rows", recorded)
    mapping = IntegrationTableMapping.objects.get(connection=unit_group_connection, name="ITEM-PRODUCT")
    job = synchronize_mapping(mapping=mapping)[0]
    assert job.modified == len(changed) and job.failed == 0
    unit_reads = [filter_ for entity_set, filter_ in reads if entity_set == "itemUnitsOfMeasure"]
    # one read of the changed items' units, not every unit of the SCALE items (syncjobs/engine/transfer.py,
    # Resolver.read_owner_codes, called by the product rule's prefetch)
    assert len(unit_reads) == 1 and unit_reads[0] is not None
    assert all(f"itemNumber eq '{row['number']}'" in unit_reads[0] for row in changed)
