"""Sync All on the demo data against the emulators: every line runs, none before its dependencies finished, Couple
Records lines couple the accounts already in Dataverse instead of duplicating them. The RQ jobs run in this process
(rq's SimpleWorker, burst mode); test_end_to_end runs them on separate worker processes."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone
from rq import SimpleWorker

from mappings.models import Coupling
from syncjobs import review
from syncjobs.models import FullSyncReviewLine, JobQueueEntry, JobQueueLogEntry
from syncjobs.scheduler import dispatch_due_entries
from tests.syncjobs.processes import emulator_clients

pytestmark = pytest.mark.django_db(transaction=True)


def test_sync_all_runs_every_line_in_dependency_order_and_couples_existing_accounts(
    emulator, emulator_connection, sync_queue
):
    _, dataverse = emulator_clients(emulator.info)
    accounts_before = Counter(row["name"] for row in dataverse.iter_rows("accounts", select=["name"]))
    JobQueueEntry.objects.filter(connection=emulator_connection).update(status=JobQueueEntry.Status.ON_HOLD)

    review.full_sync_review_start(connection=emulator_connection)
    for _ in range(50):
        SimpleWorker([sync_queue], connection=sync_queue.connection).work(burst=True)
        dispatch_due_entries(now=timezone.now() + timedelta(seconds=61))  # the cron's retries
        status = review.full_sync_review_status(connection=emulator_connection)
        if not status["running"] and not len(sync_queue):
            break

    failed = {line["name"]: line["error"] for line in status["lines"] if line["status"] == "Error"}
    assert status["done"], f"lines failed: {failed}"
    lines = {line.name: line for line in FullSyncReviewLine.objects.filter(connection=emulator_connection)}
    runs = {}
    for name, line in lines.items():
        if line.job_queue_entry_id:
            logs = JobQueueLogEntry.objects.filter(job_queue_entry_id=line.job_queue_entry_id)
            runs[name] = (min(log.started_at for log in logs), max(log.finished_at for log in logs))
    for name, line in lines.items():
        for parent in review.dependency_names(line):
            if name in runs and parent in runs:
                assert runs[parent][1] <= runs[name][0], f"{name} started before {parent} finished"

    customer = lines["CUSTOMER"]
    if customer.recommendation == FullSyncReviewLine.Recommendation.COUPLE_RECORDS:
        assert Coupling.objects.filter(connection=emulator_connection, bc_table="Customer").exists()
    accounts_after = Counter(row["name"] for row in dataverse.iter_rows("accounts", select=["name"]))
    assert all(accounts_after[name] == count for name, count in accounts_before.items()), "an account was duplicated"
