"""Dry runs on the demo data against the emulators: the dry run of the full synchronization writes nothing, and the
real full synchronization that follows does what it listed, record for record; a single mapping's dry run; the CSV.
The RQ jobs run in this process (rq's SimpleWorker, burst mode)."""
from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import timedelta
from uuid import UUID, uuid4

import django_rq
import pytest
from django.urls import reverse
from django.utils import timezone
from rq import SimpleWorker

from mappings.catalogue import bc_table, dataverse_table
from mappings.models import Coupling, CouplingLogEntry, IntegrationTableMapping
from syncjobs import review
from syncjobs.dry_run import DryRunWriteRefused, dry_run_execute, dry_run_start, writes_refused
from syncjobs.engine import clients_for
from syncjobs.engine.dry_run import CouplingOverlay, DryRunPlan, OverlayResolver, PlannedFromIntegrationPass
from syncjobs.engine.schema import dv_info
from syncjobs.engine.transfer import Resolver
from syncjobs.models import DryRun, DryRunRow, JobQueueEntry, SynchronizationError, SynchronizationJob
from syncjobs.scheduler import dispatch_due_entries
from syncjobs.services import ConnectionDisabled
from tests.syncjobs.processes import emulator_clients

pytestmark = pytest.mark.django_db(transaction=True)

def _world(emulator, connection) -> dict:
    """What a dry run must leave as it found it: row counts on both sides, couplings, jobs, errors, watermarks."""
    bc, dataverse = emulator_clients(emulator.info)
    mappings = [m for m in IntegrationTableMapping.objects.filter(connection=connection) if not m.is_option_mapping]
    bc_sets = {(bc_table(m.table).entity_set, bc_table(m.table).api) for m in mappings}
    dataverse_sets = {dataverse_table(m.integration_table).entity_set for m in mappings} | {
        "uoms", "pricelevels", "productpricelevels"}
    return {
        "dataverse": {name: dataverse.count(name) for name in sorted(dataverse_sets)},
        "bc": {name: bc.count(name, api=api) for name, api in sorted(bc_sets)},
        "couplings": Coupling.objects.count(),
        "jobs": SynchronizationJob.objects.count(),
        "errors": SynchronizationError.objects.count(),
        "watermarks": sorted(IntegrationTableMapping.objects.filter(connection=connection).values_list(
            "name", "synch_modified_on_filter", "synch_int_tbl_mod_on_fltr")),
    }


def _work(queue_name: str) -> None:
    queue = django_rq.get_queue(queue_name)
    SimpleWorker([queue], connection=queue.connection).work(burst=True)


def _sync_all(connection, sync_queue) -> None:
    review.full_sync_review_start(connection=connection)
    for _ in range(50):
        SimpleWorker([sync_queue], connection=sync_queue.connection).work(burst=True)
        dispatch_due_entries(now=timezone.now() + timedelta(seconds=61))
        status = review.full_sync_review_status(connection=connection)
        if not status["running"] and not len(sync_queue):
            break
    assert status["done"], status


def test_dry_run_of_the_full_synchronization_lists_what_the_real_run_then_does(emulator, emulator_connection,
                                                                              sync_queue):
    JobQueueEntry.objects.filter(connection=emulator_connection).update(status=JobQueueEntry.Status.ON_HOLD)
    before = _world(emulator, emulator_connection)

    dry_run = dry_run_start(connection=emulator_connection, requested_by="admin")
    _work("default")

    dry_run.refresh_from_db()
    assert dry_run.status == DryRun.Status.FINISHED, dry_run.message
    assert _world(emulator, emulator_connection) == before, "the dry run wrote something"
    rows = list(DryRunRow.objects.filter(dry_run=dry_run).order_by("sequence"))
    assert dry_run.rows_planned == len(rows) > 400
    planned = Counter((row.mapping_name, row.direction, row.action) for row in rows)
    assert planned[("ITEM-PRODUCT", "ToIntegrationTable", "Insert")] == 94
    assert planned[("CUSTOMER", "ToIntegrationTable", "Couple")] == 5

    _sync_all(emulator_connection, sync_queue)

    # Counters: what each mapping's synchronization jobs counted equals what the dry run planned.
    counted: Counter = Counter()
    for job in SynchronizationJob.objects.select_related("table_mapping"):
        name = job.table_mapping.name
        if job.type == SynchronizationJob.Type.COUPLING:
            counted[(name, job.direction, "Couple")] += job.coupled
            continue
        for action, value in (("Insert", job.inserted), ("Modify", job.modified), ("Unchanged", job.unchanged),
                              ("Skip", job.skipped), ("Fail", job.failed), ("Couple", job.coupled)):
            counted[(name, job.direction, action)] += value
    assert +counted == +planned

    # Record for record.
    couplings = {(c.bc_table, c.dataverse_table, c.bc_id): c for c in Coupling.objects.all()}
    by_dataverse = {(c.bc_table, c.dataverse_table, c.dataverse_id): c for c in couplings.values()}
    errors = {(e.job.table_mapping.name, e.direction, e.source_id): e
              for e in SynchronizationError.objects.select_related("job__table_mapping")}
    coupled_by_match = {(log.job.table_mapping.name, log.bc_id): log.dataverse_id for log in
                        CouplingLogEntry.objects.filter(outcome=CouplingLogEntry.Outcome.COUPLED)
                        .select_related("job__table_mapping")}
    mappings = {m.name: m for m in IntegrationTableMapping.objects.filter(connection=emulator_connection)}
    for row in rows:
        mapping = mappings[row.mapping_name]
        source = UUID(row.source_id) if row.source_id else None
        if row.action == "Insert":
            if row.direction == "ToIntegrationTable":
                coupling = couplings.get((mapping.table, mapping.coupling_dataverse_table, source))
                assert coupling is not None and coupling.last_synch_crm_result == Coupling.Result.SUCCESS, row
            else:
                coupling = by_dataverse.get((mapping.table, mapping.integration_table, source))
                assert coupling is not None and coupling.last_synch_result == Coupling.Result.SUCCESS, row
        elif row.action == "Couple" and not mapping.is_option_mapping:
            assert coupled_by_match.get((row.mapping_name, source)) == UUID(row.destination_id), row
            assert couplings[(mapping.table, mapping.integration_table, source)].dataverse_id == UUID(
                row.destination_id)
        elif row.action == "Couple":  # an option value, coupled by its label
            assert couplings[(mapping.table, mapping.coupling_dataverse_table, source)].dataverse_id == UUID(
                int=int(row.destination_id)), row
        elif row.action == "Fail":
            error = errors.get((row.mapping_name, row.direction, row.source_id))
            assert error is not None and row.message.startswith(error.message), row

    # Once every line has run, a dry run plans the lines as after Reset, and the records created are coupled now; an
    # item renamed in BC is a Modify naming the old and the new product name.
    bc, _ = emulator_clients(emulator.info)
    items = bc_table("Item")
    item = next(iter(bc.iter_rows(items.entity_set, api=items.api)))
    bc.update(items.entity_set, item["id"], {"displayName": "Renamed in BC"}, etag=item["@odata.etag"], api=items.api)
    again = dry_run_start(connection=emulator_connection)
    _work("default")
    again.refresh_from_db()
    assert again.status == DryRun.Status.FINISHED and "as after Reset" in again.message
    replanned = Counter(DryRunRow.objects.filter(dry_run=again, mapping_name="ITEM-PRODUCT",
                                                 direction="ToIntegrationTable").values_list("action", flat=True))
    assert replanned["Insert"] == 0 and replanned["Unchanged"] + replanned["Modify"] == 94
    renamed = DryRunRow.objects.get(dry_run=again, mapping_name="ITEM-PRODUCT", source_id=item["id"],
                                    direction="ToIntegrationTable")
    assert renamed.action == "Modify" and ["name", item["displayName"], "Renamed in BC"] in renamed.changes


def test_a_dry_run_of_one_mapping_plans_its_records_and_the_csv_has_them(emulator, emulator_connection,
                                                                       admin_client):
    currency = IntegrationTableMapping.objects.get(connection=emulator_connection, name="CURRENCY")
    url = reverse("syncjobs:dryrun-start-mapping", args=[currency.pk])

    response = admin_client.post(url, {"full": "on"})
    _work("default")

    dry_run = DryRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("syncjobs:dryrun-detail",
                                                                           args=[dry_run.pk])
    dry_run.refresh_from_db()
    assert dry_run.status == DryRun.Status.FINISHED and dry_run.table_mapping == currency, dry_run.message
    rows = list(DryRunRow.objects.filter(dry_run=dry_run))
    assert {row.mapping_name for row in rows} == {"CURRENCY"} and len(rows) == 161
    assert {row.action for row in rows} == {"Insert"} and not Coupling.objects.exists()
    euro = next(row for row in rows if row.source_name == "EUR" or "EUR" in row.source_name)
    assert euro.destination_id and any(change[0] == "isocurrencycode" and change[2] == "EUR"
                                       for change in euro.changes)

    page = admin_client.get(reverse("syncjobs:dryrun-detail", args=[dry_run.pk]))
    assert page.status_code == 200 and "161" in page.content.decode()
    download = admin_client.get(reverse("syncjobs:dryrun-csv", args=[dry_run.pk]))
    assert download.status_code == 200 and download["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert table[0][:4] == ["Sequence", "Mapping", "Direction", "Action"] and len(table) == 162
    assert {line[1] for line in table[1:]} == {"CURRENCY"} and "EUR" in {line[6] for line in table[1:]}

    # Filtered pages and downloads keep the filter; a bad action filter is a message, never an error.
    filtered = admin_client.get(reverse("syncjobs:dryrun-detail", args=[dry_run.pk]), {"action": "Fail"})
    assert filtered.status_code == 200 and "No planned rows" in filtered.content.decode()
    bad = admin_client.get(reverse("syncjobs:dryrun-detail", args=[dry_run.pk]), {"action": "Explode", "page": "x"})
    assert bad.status_code == 200


def test_a_dry_run_is_refused_on_a_disabled_connection(emulator_connection, admin_client):
    emulator_connection.is_enabled = False
    emulator_connection.save(update_fields=["is_enabled"])
    with pytest.raises(ConnectionDisabled):
        dry_run_start(connection=emulator_connection)

    page = admin_client.post(reverse("syncjobs:dryrun-start", args=[emulator_connection.pk]), follow=True)

    assert page.status_code == 200 and "The connection is disabled" in page.content.decode()
    assert not DryRun.objects.exists()


def test_the_write_guard_refuses_writes_outside_the_dry_run_tables(emulator_connection):
    with writes_refused((DryRunRow._meta.db_table,)), pytest.raises(DryRunWriteRefused):
        IntegrationTableMapping.objects.filter(connection=emulator_connection).update(synch_modified_on_filter=None)
    with writes_refused((DryRunRow._meta.db_table,)):
        assert IntegrationTableMapping.objects.filter(connection=emulator_connection).exists()


def test_a_dry_run_that_cannot_reach_the_services_fails_with_the_reason(emulator_connection):
    dry_run = DryRun.objects.create(connection=emulator_connection)
    IntegrationTableMapping.objects.filter(connection=emulator_connection)  # unchanged configuration
    emulator_connection.bc_api_url = ""
    emulator_connection.save(update_fields=["bc_api_url"])

    finished = dry_run_execute(dry_run_id=dry_run.pk)

    assert finished is not None and finished.status == DryRun.Status.FAILED
    assert "Business Central API URL" in finished.message


def test_the_overlay_resolves_planned_couplings_codes_and_options(emulator_connection):
    overlay = CouplingOverlay()
    salesperson, user = uuid4(), uuid4()
    overlay.couple(bc_table="Salesperson/Purchaser", bc_id=salesperson, dataverse_table="systemuser",
                   dataverse_id=user, code="new")  # a salesperson a planned BC create would add
    overlay.options[("account", "paymenttermscode")] = {424242: "NEWTERMS"}
    bc, dataverse = clients_for(emulator_connection)

    planned = OverlayResolver(overlay=overlay, connection=emulator_connection, bc_client=bc, dv_client=dataverse)
    real = Resolver(connection=emulator_connection, bc_client=bc, dv_client=dataverse)

    assert planned.dataverse_id(target="systemuser", code="NEW") == (user, "Salesperson/Purchaser")
    assert planned.bc_code(target="systemuser", dataverse_id=user) == ("NEW", "Salesperson/Purchaser")
    assert planned.picklist_options("account", "paymenttermscode")[424242] == "NEWTERMS"
    assert real.dataverse_id(target="systemuser", code="NEW")[0] is None
    assert 424242 not in real.picklist_options("account", "paymenttermscode")


def test_an_inbound_planned_pass_leaves_out_the_rows_the_dry_run_planned_to_write(emulator_connection):
    # The real run's echo filter leaves out the rows the integration user wrote in the BC -> Dataverse pass just
    # before; in a dry run those rows were not written, so the planned inbound pass leaves them out itself.
    customer = IntegrationTableMapping.objects.get(connection=emulator_connection, name="CUSTOMER")
    bc, dataverse = clients_for(emulator_connection)
    plan = DryRunPlan.for_clients(bc_client=bc, dv_client=dataverse, sink=lambda row: None, integration_user_id=None)
    inbound = PlannedFromIntegrationPass(mapping=customer, bc_client=plan.bc_client, dv_client=plan.dv_client,
                                         plan=plan, full=True)
    inbound.dv = dv_info("account")
    inbound.ctx = None  # the customer rule's select does not read the context
    written, other = uuid4(), uuid4()
    plan.overlay.written["account"] = {written}

    assert inbound.select({"accountid": str(other)}) is True
    assert inbound.select({"accountid": str(written)}) is False
