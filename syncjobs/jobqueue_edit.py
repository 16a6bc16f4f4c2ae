"""The job queue entry card's changes (BC: page 673 "Job Queue Entry Card"; table 472 Job Queue Entry, fields
No. of Minutes between Runs, Inactivity Timeout Period, Maximum No. of Attempts to Run, Rerun Delay (sec.),
Earliest Start Date/Time and Status).

One service, :func:`job_queue_entry_update`, used by the edit page. The row is locked while it is changed, so the
dispatcher's claim (a conditional UPDATE) and the edit never interleave; the entry is saved through the model, so the
audit trail records the settings it audits (:mod:`syncjobs.audit`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from syncjobs.models import JobQueueEntry
from syncjobs.services import ConnectionDisabled, JobQueueEntryBusy, connection_require_enabled

Status = JobQueueEntry.Status

#: Bounds of the card's numbers (BC: table 472, Inactivity Timeout Period MinValue 5, Rerun Delay (sec.) 0..3600).
MINUTES_BETWEEN_RUNS = (1, 44640)
INACTIVITY_TIMEOUT_MINUTES = (5, 44640)
RERUN_DELAY_SECONDS = (0, 3600)
MAXIMUM_ATTEMPTS = (1, 1000)


@dataclass(frozen=True)
class EntrySettings:
    """What the card changes: minutes between runs and inactivity timeout (minutes), maximum attempts, rerun delay
    (seconds), earliest start (UTC, None = as soon as due) and status (Ready or On Hold, or the current status)."""

    no_of_minutes_between_runs: int
    inactivity_timeout_period: int
    maximum_no_of_attempts_to_run: int
    rerun_delay_sec: int
    earliest_start_date_time: datetime | None
    status: str


def status_choices(entry: JobQueueEntry) -> list[tuple[str, str]]:
    """The statuses the card offers for ``entry``: its current status, Ready and On Hold (BC: actions Set Status to
    Ready and Set On Hold; In Process, Error and Finished are set by runs, not by hand)."""
    offered = [entry.status, Status.READY, Status.ON_HOLD]
    return [(value, Status(value).label) for value in dict.fromkeys(offered)]


def job_queue_entry_update(*, entry: JobQueueEntry, settings: EntrySettings) -> JobQueueEntry:
    """Apply the card's ``settings`` to ``entry`` and return it.

    Setting Ready (from another status) resets the attempts, forgets the status held for the connection and makes the
    entry due at the earliest start given, or now (BC: Set Status to Ready). Raises :class:`JobQueueEntryBusy` while
    the entry is In Process (its run ends first), :class:`ConnectionDisabled` when Ready is asked for an entry of a
    disabled connection (as Set Ready and Run Now are refused), ``ValueError`` for a status the card does not offer.
    """
    now = timezone.now()
    with transaction.atomic():
        current = JobQueueEntry.objects.select_for_update().select_related("connection").get(pk=entry.pk)
        if current.status == Status.IN_PROCESS:
            raise JobQueueEntryBusy(f"'{current.description.strip()}' is running; wait for the run to end, then "
                                    "change it.")
        if settings.status not in dict(status_choices(current)):
            raise ValueError(f"Status {settings.status!r} cannot be set by hand; choose Ready or On Hold.")
        changes: dict[str, Any] = {
            "no_of_minutes_between_runs": settings.no_of_minutes_between_runs,
            "inactivity_timeout_period": settings.inactivity_timeout_period,
            "maximum_no_of_attempts_to_run": settings.maximum_no_of_attempts_to_run,
            "rerun_delay_sec": settings.rerun_delay_sec,
            "earliest_start_date_time": settings.earliest_start_date_time,
            "status": settings.status,
        }
        if settings.status != current.status:
            if settings.status == Status.READY:
                connection_require_enabled(connection=current.connection)
                changes.update(no_of_attempts_to_run=0, last_ready_state=now, status_before_hold="",
                               earliest_start_date_time=settings.earliest_start_date_time or now)
            elif settings.status == Status.ON_HOLD:
                changes.update(status_before_hold="")
        for name, value in changes.items():
            setattr(current, name, value)
        current.save(update_fields=list(changes))
    return current


__all__ = ["ConnectionDisabled", "EntrySettings", "JobQueueEntryBusy", "job_queue_entry_update", "status_choices"]
