"""Starting a full synchronization is idempotent: a second `manage.py fullsync` or Sync All while the review runs
attaches to it; the recommendations of lines that have not started yet are kept (BC: page 5331 CRM Full Synch.
Review regenerates only on Reset)."""
from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from syncjobs import review
from syncjobs.engine import clients_for
from syncjobs.models import FullSyncReviewLine

Recommendation = FullSyncReviewLine.Recommendation
pytestmark = pytest.mark.django_db(transaction=True)


def _recommendations(connection) -> dict[str, tuple[str, str]]:
    return {line.name: (line.recommendation, line.job_queue_entry_status)
            for line in FullSyncReviewLine.objects.filter(connection=connection)}


def test_two_fullsync_starts_make_one_review_with_unchanged_recommendations(emulator_connection, sync_queue):
    call_command("fullsync", stdout=StringIO(), stderr=StringIO())  # no worker: started lines stay In Process
    first = _recommendations(emulator_connection)
    running = {name for name, (_, status) in first.items() if status}
    waiting = [name for name, (recommendation, status) in first.items()
               if not status and recommendation == Recommendation.FULL_SYNCHRONIZATION]
    assert running and "ITEM-PRODUCT" in waiting, first
    # Meanwhile Dataverse gets a product (as the running lines create records): a recount would now flip
    # ITEM-PRODUCT to Couple Records.
    _, dataverse = clients_for(emulator_connection)
    schedule = next(dataverse.iter_rows("uomschedules", select=["uomscheduleid"]))["uomscheduleid"]
    unit = next(dataverse.iter_rows("uoms", select=["uomid"], filter=f"_uomscheduleid_value eq {schedule}"))["uomid"]
    dataverse.create("products", {"name": "Created while the review runs", "productnumber": "WHILE-RUNNING-1",
                                  "defaultuomscheduleid@odata.bind": f"/uomschedules({schedule})",
                                  "defaultuomid@odata.bind": f"/uoms({unit})"})
    assert review.count_tables(mapping=FullSyncReviewLine.objects.get(
        connection=emulator_connection, name="ITEM-PRODUCT").table_mapping).dataverse > 0
    lines_before = set(FullSyncReviewLine.objects.filter(connection=emulator_connection).values_list("pk", flat=True))

    err = StringIO()
    call_command("fullsync", stdout=StringIO(), stderr=err)

    assert "attached" in err.getvalue()
    assert _recommendations(emulator_connection) == first
    assert set(FullSyncReviewLine.objects.filter(connection=emulator_connection).values_list("pk", flat=True)) == (
        lines_before
    )
    assert len(sync_queue) == len(running)  # nothing started twice


def test_sync_all_while_the_review_runs_attaches_to_it(emulator_connection, sync_queue, admin_client):
    review.full_sync_review_start(connection=emulator_connection)
    first = _recommendations(emulator_connection)
    queued = len(sync_queue)

    url = reverse("syncjobs:fullsyncreview-start", args=[emulator_connection.pk])
    page = admin_client.post(url, follow=True).content.decode()

    assert "already running" in page
    assert _recommendations(emulator_connection) == first and len(sync_queue) == queued
