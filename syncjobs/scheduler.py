"""The job queue dispatcher (BC: codeunit 448 "Job Queue Dispatcher", reference 7.2)."""
from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from syncjobs.models import JobQueueEntry


def dispatch_due_entries() -> int:
    """Return the number of due Ready job queue entries (earliest start passed or unset), UTC."""
    now = timezone.now()
    due = JobQueueEntry.objects.filter(status=JobQueueEntry.Status.READY).filter(
        Q(earliest_start_date_time__isnull=True) | Q(earliest_start_date_time__lte=now)
    )
    return due.count()
