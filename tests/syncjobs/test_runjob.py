"""`manage.py runjob "<description>" [--wait] [--json]`: Run Now of one job queue entry, printing the run's counters."""
from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from mappings.models import Coupling
from syncjobs.models import JobQueueEntry
from tests.syncjobs.test_special_jobs import synchronize_demo

STATISTICS = "Customer Statistics - Dynamics 365 Sales synchronization job"


@pytest.mark.django_db
def test_runjob_names_an_unknown_description(connection: Any) -> None:
    with pytest.raises(CommandError, match='No job queue entry is described "Nothing"'):
        call_command("runjob", "Nothing")


@pytest.mark.django_db
def test_runjob_without_wait_claims_and_enqueues_the_run(connection: Any, make_entry: Any, sync_queue: Any,
                                                         django_capture_on_commit_callbacks: Any) -> None:
    entry = make_entry(description=STATISTICS, status=JobQueueEntry.Status.ON_HOLD)
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("runjob", STATISTICS.lower(), "--json", stdout=out)
    printed = json.loads(out.getvalue())
    entry.refresh_from_db()
    assert entry.status == JobQueueEntry.Status.IN_PROCESS and printed["run"] is None
    assert printed["rq_job_id"] == entry.rq_job_id and sync_queue.job_ids == [entry.rq_job_id]


@pytest.mark.django_db(transaction=True)
def test_runjob_wait_json_prints_the_counters_of_the_run(emulator: Any, emulator_connection: Any,
                                                         sync_queue: Any) -> None:
    synchronize_demo(emulator, emulator_connection, sync_queue)
    coupled = Coupling.objects.filter(connection=emulator_connection, bc_table="Customer", is_pending=False,
                                      skipped=False).count()
    out = StringIO()
    call_command("runjob", STATISTICS, "--wait", "--json", stdout=out)
    printed = json.loads(out.getvalue())
    assert printed["kind"] == "CustomerStatistics"
    assert printed["run"]["status"] == "Success"
    assert (printed["run"]["changed"], printed["run"]["failed"]) == (coupled, 0)
    assert not len(sync_queue), "the run was taken off the queue and run here, not twice"
    entry = JobQueueEntry.objects.get(connection=emulator_connection, kind="CustomerStatistics")
    assert entry.status != JobQueueEntry.Status.IN_PROCESS
    assert entry.log_entries.get().records_changed == coupled
