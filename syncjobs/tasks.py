"""RQ tasks. Tasks take ids and call a service."""
from __future__ import annotations


def dispatch_due_job_queue_entries() -> int:
    """Claim the due job queue entries and enqueue them; returns how many were enqueued."""
    from syncjobs.scheduler import dispatch_due_entries

    return dispatch_due_entries()
