"""The job queue dispatcher and its state machine (BC: codeunit 448 Job Queue Dispatcher, table 472 Job Queue
Entry), against the test run's embedded Redis."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rq import SimpleWorker
from rq.job import Job, JobStatus

from syncjobs.jobqueue import RunOutcome, claim_entry, job_queue_entry_begin_run, job_queue_entry_finish_run
from syncjobs.models import JobQueueEntry, JobQueueLogEntry
from syncjobs.runner import run_claimed_entry
from syncjobs.scheduler import dispatch_due_entries, recover_abandoned_entries

Status = JobQueueEntry.Status
pytestmark = pytest.mark.django_db(transaction=True)


def _claimed(entry: JobQueueEntry) -> JobQueueEntry:
    assert claim_entry(entry, force=True)
    entry.refresh_from_db()
    return entry


def test_dispatcher_claims_due_entries_and_enqueues_them_on_the_sync_queue(make_mapping, make_entry, sync_queue):
    due = make_entry(make_mapping("ITEM-PRODUCT"), earliest_start_date_time=timezone.now() - timedelta(seconds=5))
    never_started = make_entry(make_mapping("CUSTOMER"))
    later = make_entry(make_mapping("CURRENCY"), earliest_start_date_time=timezone.now() + timedelta(minutes=5))
    held = make_entry(make_mapping("CONTACT"), status=Status.ON_HOLD)

    assert dispatch_due_entries() == 2

    for entry in (due, never_started):
        entry.refresh_from_db()
        assert entry.status == Status.IN_PROCESS
        job = Job.fetch(entry.rq_job_id, connection=sync_queue.connection)
        assert job.func_name == "syncjobs.tasks.run_job_queue_entry"
        assert job.args == (str(entry.pk),)
    assert set(sync_queue.job_ids) == {due.rq_job_id, never_started.rq_job_id}
    for entry in (later, held):
        entry.refresh_from_db()
        assert entry.status != Status.IN_PROCESS and not entry.rq_job_id
    # A second dispatcher run claims nothing again.
    assert dispatch_due_entries() == 0


def test_entries_of_a_disabled_connection_are_not_dispatched(connection, make_mapping, make_entry, sync_queue):
    entry = make_entry(make_mapping("ITEM-PRODUCT"))
    connection.is_enabled = False
    connection.save(update_fields=["is_enabled"])
    assert dispatch_due_entries() == 0
    entry.refresh_from_db()
    assert entry.status == Status.READY


def test_a_mapping_never_runs_twice_at_once(make_mapping, make_entry, sync_queue):
    mapping = make_mapping("ITEM-PRODUCT")
    recurring = make_entry(mapping)
    one_off = make_entry(mapping, recurring_job=False, kind=JobQueueEntry.Kind.FULL_SYNCHRONIZATION)
    other_mapping = make_entry(make_mapping("CUSTOMER"))

    assert claim_entry(recurring) is not None
    assert claim_entry(recurring) is None  # the same entry is not claimed twice
    assert dispatch_due_entries() == 1  # only the other mapping's entry
    one_off.refresh_from_db()
    other_mapping.refresh_from_db()
    assert one_off.status == Status.READY
    assert other_mapping.status == Status.IN_PROCESS

    recurring.refresh_from_db()
    job_queue_entry_finish_run(entry=recurring, log=None, outcome=RunOutcome(changed=3))
    assert dispatch_due_entries() == 1
    one_off.refresh_from_db()
    assert one_off.status == Status.IN_PROCESS


def test_idle_run_puts_a_recurring_entry_on_hold_with_inactivity_timeout(make_mapping, make_entry, sync_queue):
    entry = _claimed(make_entry(make_mapping("ITEM-PRODUCT"), inactivity_timeout_period=720))
    log = job_queue_entry_begin_run(entry=entry)
    before = timezone.now()

    entry = job_queue_entry_finish_run(entry=entry, log=log, outcome=RunOutcome(changed=0, failed=0))

    assert entry.status == Status.ON_HOLD_WITH_INACTIVITY_TIMEOUT
    assert entry.earliest_start_date_time >= before + timedelta(minutes=720)
    assert entry.last_result == "Idle"
    log.refresh_from_db()
    assert log.status == JobQueueLogEntry.Status.SUCCESS and log.idle and log.finished_at


def test_activity_sets_a_recurring_entry_ready_for_the_next_interval(make_mapping, make_entry, sync_queue):
    entry = make_entry(
        make_mapping("ITEM-PRODUCT"), no_of_minutes_between_runs=30, status=Status.ON_HOLD_WITH_INACTIVITY_TIMEOUT
    )
    entry = _claimed(entry)
    before = timezone.now()

    entry = job_queue_entry_finish_run(entry=entry, log=None, outcome=RunOutcome(changed=0, failed=2))

    assert entry.status == Status.READY
    assert before + timedelta(minutes=30) <= entry.earliest_start_date_time <= timezone.now() + timedelta(minutes=30)
    assert entry.last_result == "Success"


def test_a_one_off_entry_finishes(make_mapping, make_entry, sync_queue):
    entry = _claimed(make_entry(make_mapping("ITEM-PRODUCT"), recurring_job=False))
    entry = job_queue_entry_finish_run(entry=entry, log=None, outcome=RunOutcome(changed=5))
    assert entry.status == Status.FINISHED


def test_a_failure_is_retried_after_the_rerun_delay_until_the_maximum_then_stays_error(
    make_mapping, make_entry, sync_queue
):
    entry = make_entry(make_mapping("ITEM-PRODUCT"), maximum_no_of_attempts_to_run=2, rerun_delay_sec=30)

    entry = _claimed(entry)
    before = timezone.now()
    entry = job_queue_entry_finish_run(entry=entry, log=None, error="Dataverse answered 503")
    assert entry.status == Status.READY
    assert entry.no_of_attempts_to_run == 1
    assert entry.earliest_start_date_time >= before + timedelta(seconds=30)
    assert entry.error_message == "Dataverse answered 503"
    # Not due before the rerun delay.
    assert dispatch_due_entries() == 0

    entry = _claimed(entry)
    entry = job_queue_entry_finish_run(entry=entry, log=None, error="Dataverse answered 503 again")
    assert entry.status == Status.ERROR
    assert entry.error_message == "Dataverse answered 503 again"
    assert dispatch_due_entries(now=timezone.now() + timedelta(hours=1)) == 0

    # A success afterwards resets the attempts.
    entry.status = Status.READY
    entry.save(update_fields=["status"])
    entry = _claimed(entry)
    entry = job_queue_entry_finish_run(entry=entry, log=None, outcome=RunOutcome(changed=1))
    assert entry.no_of_attempts_to_run == 0 and entry.error_message == ""


def test_a_real_rq_worker_runs_the_claimed_entry_and_applies_the_state_machine(make_entry, sync_queue):
    # A special job without a handler yet (sales order status): its run is idle.
    entry = make_entry(None, kind=JobQueueEntry.Kind.SALES_ORDER_STATUS, status=Status.ON_HOLD_WITH_INACTIVITY_TIMEOUT,
                       inactivity_timeout_period=30)
    assert dispatch_due_entries() == 1

    SimpleWorker([sync_queue], connection=sync_queue.connection).work(burst=True)

    entry.refresh_from_db()
    assert entry.status == Status.ON_HOLD_WITH_INACTIVITY_TIMEOUT
    log = entry.log_entries.get()
    assert log.status == JobQueueLogEntry.Status.SUCCESS and log.idle
    assert log.rq_job_id == entry.rq_job_id and log.worker_name


def test_a_delivery_that_does_not_match_the_claim_is_ignored(make_mapping, make_entry, sync_queue):
    entry = make_entry(make_mapping("ITEM-PRODUCT"))  # Ready, not claimed
    run_claimed_entry(str(entry.pk))
    entry.refresh_from_db()
    assert entry.status == Status.READY
    assert not entry.log_entries.exists()


def test_a_run_whose_rq_job_vanished_is_recorded_as_failed_and_retried(make_mapping, make_entry, sync_queue):
    entry = _claimed(make_entry(make_mapping("ITEM-PRODUCT"), rerun_delay_sec=30))
    log = job_queue_entry_begin_run(entry=entry, rq_job_id=entry.rq_job_id)
    sync_queue.connection.flushdb()  # Redis restarted without its data

    assert recover_abandoned_entries() == []  # within the grace period nothing is concluded
    later = timezone.now() + timedelta(minutes=2)
    recovered = recover_abandoned_entries(now=later)

    assert [e.pk for e in recovered] == [entry.pk]
    entry.refresh_from_db()
    assert entry.status == Status.READY
    assert entry.no_of_attempts_to_run == 1
    assert "no longer exists" in entry.error_message
    log.refresh_from_db()
    assert log.status == JobQueueLogEntry.Status.ERROR and "interrupted" in log.error_message


def test_a_run_whose_worker_is_gone_is_recorded_as_failed(make_mapping, make_entry, sync_queue):
    entry = _claimed(make_entry(make_mapping("ITEM-PRODUCT")))
    job = Job.fetch(entry.rq_job_id, connection=sync_queue.connection)
    job.worker_name = "ghost-worker"
    job.set_status(JobStatus.STARTED)
    job.save()

    recover_abandoned_entries()

    entry.refresh_from_db()
    assert entry.status == Status.READY
    assert "worker ghost-worker" in entry.error_message


def test_a_run_that_rq_marked_failed_is_recorded_with_rqs_reason(make_mapping, make_entry, sync_queue):
    entry = _claimed(make_entry(make_mapping("ITEM-PRODUCT")))
    job = Job.fetch(entry.rq_job_id, connection=sync_queue.connection)
    job.set_status(JobStatus.FAILED)

    recover_abandoned_entries()

    entry.refresh_from_db()
    assert entry.status == Status.READY and "failed" in entry.error_message


def test_a_queued_run_is_left_alone(make_mapping, make_entry, sync_queue):
    entry = _claimed(make_entry(make_mapping("ITEM-PRODUCT")))
    assert recover_abandoned_entries(now=timezone.now() + timedelta(hours=1)) == []
    entry.refresh_from_db()
    assert entry.status == Status.IN_PROCESS


def test_a_late_end_of_a_run_declared_dead_does_not_overwrite_the_retry(make_mapping, make_entry, sync_queue: Any):
    entry = _claimed(make_entry(make_mapping("ITEM-PRODUCT")))
    stale = JobQueueEntry.objects.get(pk=entry.pk)
    sync_queue.connection.flushdb()
    recover_abandoned_entries(now=timezone.now() + timedelta(minutes=2))
    retry = _claimed(JobQueueEntry.objects.get(pk=entry.pk))

    job_queue_entry_finish_run(entry=stale, log=None, outcome=RunOutcome(changed=1))

    retry.refresh_from_db()
    assert retry.status == Status.IN_PROCESS
