"""A starting full synchronization goes first: while its review runs, the recurring job queue entries of the mappings
whose line has not started yet are not dispatched (they would make the line wait behind them and run against
couplings not made yet); the line's own entry is enqueued at the front of the ``sync`` queue."""
from __future__ import annotations

import pytest
from rq.job import Job

from syncjobs import review
from syncjobs.jobqueue import claim_entry, due_entries
from syncjobs.models import FullSyncReviewLine, JobQueueEntry
from tests.syncjobs.test_review import _finish, chain  # noqa: F401 - the fixture

Status = JobQueueEntry.Status


def _due_recurring(connection) -> set[str]:
    return {entry.table_mapping.name for entry in due_entries().filter(connection=connection, recurring_job=True)}


@pytest.mark.django_db(transaction=True)
def test_recurring_entries_of_waiting_lines_wait_for_their_line(connection, chain, sync_queue):  # noqa: F811
    assert _due_recurring(connection) == set(chain)  # before Sync All, every recurring entry is due

    review.full_sync_review_start(connection=connection)
    # CURRENCY and UNIT GROUP run (their recurring entries are held); the lines waiting for them keep their
    # recurring entries out of the dispatcher, so nothing of the review's mappings is due
    assert _due_recurring(connection) == set()
    waiting = JobQueueEntry.objects.get(table_mapping=chain["ITEM-PRODUCT"], recurring_job=True)
    assert waiting.status == Status.READY

    _finish("UNIT GROUP", connection)  # UNIT GROUP's recurring entry is back; ITEM UOM's line starts
    assert _due_recurring(connection) == {"UNIT GROUP"}

    # a line removed from the run no longer keeps its mapping's recurring entry waiting
    review.full_sync_review_remove(line=FullSyncReviewLine.objects.get(connection=connection, name="ITEM-PRODUCT"))
    assert _due_recurring(connection) == {"UNIT GROUP", "ITEM-PRODUCT"}

    for name in ("ITEM UOM", "CURRENCY", "CUSTOMER"):
        _finish(name, connection)
    assert not review.full_sync_review_running(connection=connection)
    assert _due_recurring(connection) == set(chain)


@pytest.mark.django_db(transaction=True)
def test_a_full_sync_line_is_enqueued_ahead_of_waiting_recurring_runs(connection, chain, sync_queue):  # noqa: F811
    recurring = JobQueueEntry.objects.get(table_mapping=chain["CURRENCY"], recurring_job=True)
    assert claim_entry(recurring)  # a recurring run already waits in the queue
    JobQueueEntry.objects.filter(pk=recurring.pk).update(status=Status.READY)  # as if it had finished meanwhile

    review.full_sync_review_start(connection=connection)
    queued = [Job.fetch(job_id, connection=sync_queue.connection).func_name for job_id in sync_queue.job_ids]
    assert queued[:2] == ["syncjobs.tasks.run_full_sync_line"] * 2
    assert queued[2:] == ["syncjobs.tasks.run_job_queue_entry"]
