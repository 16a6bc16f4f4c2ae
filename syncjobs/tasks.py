"""RQ tasks of the job queue: thin entry points that take ids and call :mod:`syncjobs.scheduler` and
:mod:`syncjobs.runner`.

- :func:`dispatch_due_job_queue_entries` (default queue, every minute from ``syncjobs.cron``);
- :func:`run_job_queue_entry` (sync queue): one run of a claimed job queue entry;
- :func:`run_full_sync_line` (sync queue): one run of a full synchronization review line's entry.

:mod:`syncjobs.jobqueue` enqueues the last two by their dotted paths.
"""
from __future__ import annotations

from syncjobs.runner import full_sync_line_run, run_claimed_entry
from syncjobs.scheduler import dispatch_due_entries


def dispatch_due_job_queue_entries() -> int:
    """Claim the due job queue entries and enqueue them; returns how many were enqueued."""
    return dispatch_due_entries()


def run_job_queue_entry(entry_id: str) -> str:
    """RQ task: run the claimed job queue entry ``entry_id``; returns its status after the run."""
    entry = run_claimed_entry(entry_id)
    return entry.status if entry is not None else "missing"


def run_full_sync_line(line_id: int) -> str:
    """RQ task: run the job queue entry of full synchronization review line ``line_id`` and start the lines that
    were waiting for it; returns the entry's status after the run."""
    entry = full_sync_line_run(line_id=line_id)
    return entry.status if entry is not None else "missing"
