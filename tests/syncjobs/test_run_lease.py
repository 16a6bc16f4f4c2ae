"""A run is owned by a database lease that its work-horse renews (BC: table 472 Job Queue Entry keeps the running
session on the entry): while the lease is live the run is alive and no second run of its mapping starts, whatever
Redis or RQ say about its worker; once the lease expired the dispatcher declares the run dead and retries it."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from rq.job import Job, JobStatus

from syncjobs.engine import SynchronizationNotPossible, synchronize_mapping
from syncjobs.engine.passes import ToIntegrationPass
from syncjobs.jobqueue import (
    RunLease,
    claim_entry,
    job_queue_entry_begin_run,
    job_queue_entry_finish_run,
    this_process,
)
from syncjobs.models import JobQueueEntry, JobQueueLogEntry
from syncjobs.scheduler import dispatch_due_entries, recover_abandoned_entries

Status = JobQueueEntry.Status
pytestmark = pytest.mark.django_db(transaction=True)


def _claimed(entry: JobQueueEntry) -> JobQueueEntry:
    assert claim_entry(entry, force=True)
    entry.refresh_from_db()
    return entry


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_run_whose_rq_worker_is_gone_keeps_running_while_its_lease_is_renewed(
    make_mapping, make_entry, sync_queue, settings
):
    settings.SYNC_RUN_LEASE_RENEW_SECONDS = 0.1
    mapping = make_mapping("ITEM-PRODUCT")
    entry = _claimed(make_entry(mapping, rerun_delay_sec=30))
    full_sync = make_entry(mapping, kind=JobQueueEntry.Kind.FULL_SYNCHRONIZATION, recurring_job=False,
                           description="full synchronization of ITEM-PRODUCT")
    # The worker's main process is gone while its work-horse runs: RQ shows the job started by a worker that has
    # no heartbeat in Redis (the old verdict: "worker ... is gone").
    job = Job.fetch(entry.rq_job_id, connection=sync_queue.connection)
    job.worker_name = "killed-main-process"
    job.set_status(JobStatus.STARTED)
    job.save()
    lease = RunLease.take(entry, rq_job_id=entry.rq_job_id)
    assert lease is not None and entry.lease_owner == this_process()
    log = job_queue_entry_begin_run(entry=entry, rq_job_id=entry.rq_job_id)
    first_expiry = JobQueueEntry.objects.get(pk=entry.pk).lease_expires_at
    lease.start()
    try:
        time.sleep(0.5)
        renewed = JobQueueEntry.objects.get(pk=entry.pk).lease_expires_at
        assert renewed > first_expiry  # the work-horse renews its lease

        assert recover_abandoned_entries() == []
        sync_queue.connection.flushdb()  # now even the RQ job is gone
        assert dispatch_due_entries(now=timezone.now() + timedelta(seconds=61)) == 0

        entry.refresh_from_db()
        full_sync.refresh_from_db()
        assert entry.status == Status.IN_PROCESS and entry.error_message == ""
        assert full_sync.status == Status.READY  # no second run of the mapping starts
        assert len(sync_queue) == 0
        with pytest.raises(SynchronizationNotPossible, match="being synchronized"):
            synchronize_mapping(mapping=mapping, full=True, job_queue_entry=full_sync)
    finally:
        lease.stop()

    # The work-horse stopped renewing: once the lease expired the run is dead and retried after the rerun delay.
    expired_at = JobQueueEntry.objects.get(pk=entry.pk).lease_expires_at
    assert recover_abandoned_entries(now=expired_at - timedelta(seconds=1)) == []
    recovered = recover_abandoned_entries(now=expired_at + timedelta(seconds=1))
    assert [e.pk for e in recovered] == [entry.pk]
    entry.refresh_from_db()
    assert entry.status == Status.READY and entry.no_of_attempts_to_run == 1
    assert "lease expired" in entry.error_message and not entry.lease_owner
    log.refresh_from_db()
    assert log.status == JobQueueLogEntry.Status.ERROR


def test_a_lease_whose_process_is_gone_from_this_machine_is_dead_at_once(make_mapping, make_entry, sync_queue):
    entry = _claimed(make_entry(make_mapping("ITEM-PRODUCT")))
    assert RunLease.take(entry, rq_job_id=entry.rq_job_id, owner=f"{socket.gethostname()}:{_dead_pid()}")
    job_queue_entry_begin_run(entry=entry, rq_job_id=entry.rq_job_id)

    recovered = recover_abandoned_entries()

    assert [e.pk for e in recovered] == [entry.pk]
    assert "died while running the job" in recovered[0].error_message


def test_a_live_lease_of_another_process_cannot_be_taken_and_a_late_recovery_keeps_the_run(
    make_mapping, make_entry, sync_queue
):
    entry = _claimed(make_entry(make_mapping("ITEM-PRODUCT")))
    assert RunLease.take(entry, rq_job_id=entry.rq_job_id, owner="elsewhere:1")
    assert RunLease.take(entry, rq_job_id=entry.rq_job_id, owner="elsewhere:2") is None
    assert RunLease.take(entry, rq_job_id="another-claim") is None

    # A recovery that judged the run before its lease was renewed does not overwrite it.
    stale_view = ("elsewhere:1", timezone.now() - timedelta(minutes=5))
    job_queue_entry_finish_run(entry=entry, log=None, error="The run was interrupted", lease_seen=stale_view)
    entry.refresh_from_db()
    assert entry.status == Status.IN_PROCESS and entry.lease_owner == "elsewhere:1"


def test_a_run_that_lost_its_lease_stops_before_its_next_batch(make_mapping, make_entry, sync_queue):
    mapping = make_mapping("ITEM-PRODUCT")
    entry = _claimed(make_entry(mapping))
    assert RunLease.take(entry, rq_job_id=entry.rq_job_id)
    sync_pass = ToIntegrationPass(mapping=mapping, bc_client=None, dv_client=None, job_queue_entry=entry)
    sync_pass._check_run_owned()  # still owned: nothing happens

    JobQueueEntry.objects.filter(pk=entry.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    recover_abandoned_entries()
    with pytest.raises(SynchronizationNotPossible, match="lost its lease"):
        sync_pass._check_run_owned()
