"""Runs survive Redis losing its data: the database is the truth. A live run holds its lease in the database and
finishes; a claimed run whose RQ job Redis lost before it started is enqueued again from its job queue entry."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import django_rq
import pytest
from django.utils import timezone

from mappings.models import IntegrationTableMapping
from syncjobs.engine.passes import Pass
from syncjobs.jobqueue import claim_entry
from syncjobs.models import JobQueueEntry
from syncjobs.runner import run_claimed_entry
from syncjobs.scheduler import dispatch_due_entries

Status = JobQueueEntry.Status
pytestmark = pytest.mark.django_db(transaction=True)


def test_a_queued_run_whose_rq_job_redis_lost_is_enqueued_again(make_mapping, make_entry, sync_queue):
    entry = make_entry(make_mapping("ITEM-PRODUCT"))
    assert claim_entry(entry, force=True)
    lost_job = entry.rq_job_id
    sync_queue.connection.flushdb()  # Redis restarted empty before a worker took the job

    assert dispatch_due_entries(now=timezone.now() + timedelta(seconds=61)) == 1

    entry.refresh_from_db()
    assert entry.status == Status.IN_PROCESS and entry.rq_job_id != lost_job
    assert sync_queue.job_ids == [entry.rq_job_id]
    assert entry.no_of_attempts_to_run == 0 and entry.error_message == ""  # not a failed attempt


def test_a_live_run_finishes_when_redis_is_flushed_in_the_middle(emulator_connection, sync_queue, monkeypatch):
    mapping = IntegrationTableMapping.objects.get(connection=emulator_connection, name="CURRENCY")
    JobQueueEntry.objects.filter(connection=emulator_connection).exclude(table_mapping=mapping).update(
        status=Status.ON_HOLD
    )
    entry = JobQueueEntry.objects.get(connection=emulator_connection, table_mapping=mapping,
                                      kind=JobQueueEntry.Kind.MAPPING)
    entry.parameters = {"batch_size": 1}
    entry.save(update_fields=["parameters"])
    assert claim_entry(entry, force=True)
    claim = entry.rq_job_id

    commit = Pass._commit_counters
    seen: dict[str, Any] = {"batches": 0}

    def commit_then_lose_redis(self: Pass, *args: Any, **kwargs: Any) -> None:
        commit(self, *args, **kwargs)
        seen["batches"] += 1
        if seen["batches"] == 1:
            # Between two batches Redis restarts empty and the dispatcher runs (a minute later, past the claim's
            # grace period): the run's RQ job and its worker are gone from Redis.
            django_rq.get_connection("sync").flushdb()
            seen["dispatched"] = dispatch_due_entries(now=timezone.now() + timedelta(seconds=61))
            seen["status_after_dispatch"] = JobQueueEntry.objects.get(pk=entry.pk).status

    monkeypatch.setattr(Pass, "_commit_counters", commit_then_lose_redis)

    entry = run_claimed_entry(str(entry.pk))

    assert seen["batches"] > 1, "the run had more than one batch"
    assert seen["dispatched"] == 0 and seen["status_after_dispatch"] == Status.IN_PROCESS
    # The run ended by itself: the after-run rules of a recurring entry, not "RQ job no longer exists".
    assert entry.status in (Status.READY, Status.ON_HOLD_WITH_INACTIVITY_TIMEOUT), entry.error_message
    assert entry.error_message == "" and entry.last_result in ("Success", "Idle")
    assert entry.rq_job_id == claim and not entry.lease_owner and entry.lease_expires_at is None
    log = entry.log_entries.get()
    assert log.status == "Success" and log.finished_at is not None
    assert len(sync_queue) == 0  # no second run was enqueued
