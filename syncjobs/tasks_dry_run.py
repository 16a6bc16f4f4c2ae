"""RQ task of the dry runs (enqueued by :func:`syncjobs.dry_run.dry_run_start` by its dotted path)."""
from __future__ import annotations

from django.db import close_old_connections

from syncjobs.dry_run import dry_run_execute


def run_dry_run(dry_run_id: int) -> str:
    """Run the queued dry run ``dry_run_id``; returns its status. Failures are recorded on the dry run, not raised."""
    close_old_connections()
    dry_run = dry_run_execute(dry_run_id=dry_run_id)
    return dry_run.status if dry_run is not None else "missing"
