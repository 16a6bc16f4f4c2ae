"""Faults found by ``bench/chaos.py`` (kill -9 of workers, Redis restarts, pg_terminate_backend), each reproduced at
the step where it struck and fixed."""
from __future__ import annotations

import pytest

from syncjobs.jobqueue import RunLease, RunOutcome, job_queue_entry_begin_run, job_queue_entry_finish_run
from syncjobs.models import FullSyncReviewLine, JobQueueEntry
from syncjobs.review import full_sync_review_start, review_settled
from syncjobs.scheduler import dispatch_due_entries

Status = JobQueueEntry.Status
pytestmark = pytest.mark.django_db(transaction=True)


def test_a_line_whose_run_died_after_recording_its_end_is_completed_and_the_next_wave_starts(
    connection, make_mapping, sync_queue
):
    """kill -9 of the work-horse (and its worker) in the moment between the run recording its entry Finished and
    mirroring that onto the review line left the line In Process for ever: nothing runs, nothing is due, and the
    review never settled. The dispatcher now completes such a line and starts the lines that waited for it."""
    currency = make_mapping("CURRENCY")
    customer = make_mapping("CUSTOMER")
    FullSyncReviewLine.objects.create(connection=connection, table_mapping=currency, name="CURRENCY",
                                      recommendation=FullSyncReviewLine.Recommendation.FULL_SYNCHRONIZATION)
    FullSyncReviewLine.objects.create(connection=connection, table_mapping=customer, name="CUSTOMER",
                                      dependency_filter="CURRENCY",
                                      recommendation=FullSyncReviewLine.Recommendation.FULL_SYNCHRONIZATION)
    assert [line.name for line in full_sync_review_start(connection=connection)] == ["CURRENCY"]
    line = FullSyncReviewLine.objects.get(name="CURRENCY")
    entry = line.job_queue_entry
    assert line.job_queue_entry_status == Status.IN_PROCESS

    # The run as syncjobs.runner.run_claimed_entry does it, up to the recorded end; then the process is killed.
    lease = RunLease.take(entry, rq_job_id=entry.rq_job_id)
    assert lease is not None
    log = job_queue_entry_begin_run(entry=entry, rq_job_id=entry.rq_job_id)
    entry = job_queue_entry_finish_run(entry=entry, log=log, outcome=RunOutcome(changed=3))
    assert entry.status == Status.FINISHED
    line.refresh_from_db()
    assert line.job_queue_entry_status == Status.IN_PROCESS  # the state the chaos trial found stuck

    dispatch_due_entries()

    lines = {line.name: line for line in FullSyncReviewLine.objects.filter(connection=connection)}
    assert lines["CURRENCY"].job_queue_entry_status == Status.FINISHED
    assert lines["CUSTOMER"].job_queue_entry_status == Status.IN_PROCESS  # the next wave started
    assert lines["CUSTOMER"].job_queue_entry.status == Status.IN_PROCESS
    assert not review_settled(list(lines.values()))

    # A second dispatcher run finds nothing left to complete and starts nothing twice.
    dispatch_due_entries()
    assert JobQueueEntry.objects.filter(table_mapping=customer, recurring_job=False).count() == 1


def test_a_line_whose_entry_failed_for_good_while_the_run_died_shows_the_error(connection, make_mapping, sync_queue):
    """The same window on the last failed attempt: the entry is Error, the line must say so (and name the error)
    instead of In Process, so the review settles and the line can be restarted."""
    currency = make_mapping("CURRENCY")
    FullSyncReviewLine.objects.create(connection=connection, table_mapping=currency, name="CURRENCY",
                                      recommendation=FullSyncReviewLine.Recommendation.FULL_SYNCHRONIZATION)
    full_sync_review_start(connection=connection)
    line = FullSyncReviewLine.objects.get(name="CURRENCY")
    entry = line.job_queue_entry
    JobQueueEntry.objects.filter(pk=entry.pk).update(no_of_attempts_to_run=entry.maximum_no_of_attempts_to_run - 1)
    entry.refresh_from_db()
    log = job_queue_entry_begin_run(entry=entry, rq_job_id=entry.rq_job_id)
    entry = job_queue_entry_finish_run(entry=entry, log=log, error="Dataverse answered 503 five times")
    assert entry.status == Status.ERROR

    dispatch_due_entries()

    line.refresh_from_db()
    assert line.job_queue_entry_status == Status.ERROR
    assert "503" in line.error_message
    assert review_settled([line])
