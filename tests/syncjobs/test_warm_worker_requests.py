"""What an incremental run of a job queue entry costs in a warm worker: a fresh RQ work horse (no msal application,
no in-process metadata) whose siblings already filled the shared Redis caches (connections/clients/token_cache.py,
connections/clients/metadata_cache.py). Nothing changed: at most one probe per side and no Entra request
(syncjobs/engine/probe.py); 10 items changed: at most 6 requests in all; a change the probe must not miss (in the
overlap window) is synchronized. Requests are counted at the emulator."""
from __future__ import annotations

import time
from datetime import timedelta
from itertools import islice
from typing import Any

import pytest
from rq import SimpleWorker

from connections.clients import DataverseClient, entra
from mappings.models import IntegrationTableMapping
from syncjobs.engine import clients_for, synchronize_mapping
from syncjobs.engine.odata import parse_modified
from syncjobs.engine.passes import OVERLAP_SECONDS
from syncjobs.models import JobQueueEntry
from syncjobs.services import job_queue_entry_run_now

pytestmark = pytest.mark.django_db(transaction=True)

SERVICES = ("dataverse", "businesscentral", "entra")


def counts(emulator: Any) -> dict[str, int]:
    """Requests per service the emulator answered so far."""
    return {service: int(emulator.state()["requests"][service]) for service in SERVICES}


def fresh_work_horse() -> None:
    """What a forked work horse starts without: this process's msal applications and Dataverse metadata."""
    with entra._apps_lock:
        entra._apps.clear()
    with DataverseClient._definitions_lock:
        DataverseClient._definitions.clear()
        DataverseClient._bulk_messages.clear()


def run_entry(emulator: Any, entry: JobQueueEntry, sync_queue: Any) -> dict[str, int]:
    """Run Now on ``entry`` and run its RQ job in a fresh work horse; returns the requests it cost per service."""
    time.sleep(OVERLAP_SECONDS + 1)  # the job queue runs an entry a minute apart: the overlap window has passed
    fresh_work_horse()
    before = counts(emulator)
    job_queue_entry_run_now(entry=entry)
    SimpleWorker([sync_queue], connection=sync_queue.connection).work(burst=True)
    after = counts(emulator)
    entry.refresh_from_db()
    return {service: after[service] - before[service] for service in SERVICES}


@pytest.fixture
def synchronized_items(emulator: Any, emulator_connection: Any, sync_queue: Any) -> JobQueueEntry:
    """Items fully synchronized (with what they need) on a connection with its integration user (as Finish leaves
    it); returns the ITEM-PRODUCT job queue entry."""
    emulator_connection.integration_user_id = emulator.info["application_user_id"]
    emulator_connection.save(update_fields=["integration_user_id"])
    fresh_work_horse()  # as a work horse of its own: its sign-in lands in the shared cache (not an earlier test's)
    for name in ("CURRENCY", "UNIT GROUP", "ITEM UOM", "ITEM-PRODUCT"):
        mapping = IntegrationTableMapping.objects.get(connection=emulator_connection, name=name)
        assert all(job.failed == 0 for job in synchronize_mapping(mapping=mapping, full=True)), name
    return JobQueueEntry.objects.get(connection=emulator_connection, table_mapping__name="ITEM-PRODUCT",
                                     kind=JobQueueEntry.Kind.MAPPING)


def change_items(connection: Any, count: int) -> None:
    bc, _ = clients_for(connection)
    for row in list(islice(bc.iter_rows("items", filter="blocked eq false", page_size=count), count)):
        bc.update("items", row["id"], {"unitPrice": float(row.get("unitPrice") or 0) + 1}, etag=row["@odata.etag"])


def test_nothing_changed_costs_one_probe_per_side_and_no_sign_in(emulator: Any, emulator_connection: Any,
                                                                sync_queue: Any,
                                                                synchronized_items: JobQueueEntry) -> None:
    # sync_queue (which empties Redis) comes before synchronized_items, so the tokens and metadata the full
    # synchronization left in the shared caches are there for the warm worker, as in production
    cost = run_entry(emulator, synchronized_items, sync_queue)
    assert cost == {"dataverse": 1, "businesscentral": 1, "entra": 0}, cost
    jobs = list(synchronized_items.synchronization_jobs.order_by("direction"))
    assert [job.direction for job in jobs] == ["FromIntegrationTable", "ToIntegrationTable"]
    assert all(job.finished_at and job.total == 0 and "Nothing changed" in job.message for job in jobs)
    assert synchronized_items.status == JobQueueEntry.Status.ON_HOLD_WITH_INACTIVITY_TIMEOUT  # an idle run, as before


def test_ten_changed_items_cost_six_requests_in_all(emulator: Any, emulator_connection: Any, sync_queue: Any,
                                                   synchronized_items: JobQueueEntry) -> None:
    change_items(emulator_connection, 10)
    run_entry(emulator, synchronized_items, sync_queue)  # the first update asks once whether UpdateMultiple exists
    change_items(emulator_connection, 10)
    cost = run_entry(emulator, synchronized_items, sync_queue)
    # BC: the probe, the changed items, their units of measure; Dataverse: the products, UpdateMultiple, the probe
    assert sum(cost.values()) <= 6 and cost["entra"] == 0, cost
    job = synchronized_items.synchronization_jobs.filter(direction="ToIntegrationTable").order_by("-started_at")[0]
    assert job.modified == 10 and job.failed == 0 and job.total == 10  # counted by the probe, not by a $count


def test_a_late_commit_in_the_overlap_window_is_still_synchronized(emulator: Any, emulator_connection: Any,
                                                                   synchronized_items: JobQueueEntry) -> None:
    bc, _ = clients_for(emulator_connection)
    row = next(bc.iter_rows("items", filter="blocked eq false", page_size=1))
    bc.update("items", row["id"], {"unitPrice": float(row.get("unitPrice") or 0) + 1}, etag=row["@odata.etag"])
    modified = parse_modified(next(bc.iter_rows("items", filter=f"id eq {row['id']}"))["lastModifiedDateTime"])
    # A run read up to 2 s after the change without seeing it (it committed late): the record is in the overlap
    # window before the watermark, which the probe reads as the pass does (syncjobs/engine/probe.py).
    mapping = synchronized_items.table_mapping
    mapping.synch_int_tbl_mod_on_fltr = modified + timedelta(seconds=2)
    mapping.save(update_fields=["synch_int_tbl_mod_on_fltr"])
    jobs = synchronize_mapping(mapping=mapping)
    to_job = next(job for job in jobs if job.direction == "ToIntegrationTable")
    assert to_job.modified == 1 and "Nothing changed" not in to_job.message
