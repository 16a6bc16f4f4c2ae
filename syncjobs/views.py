"""Views of job queue entries and synchronization jobs."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from syncjobs.models import JobQueueEntry


def index(request: HttpRequest) -> HttpResponse:
    """List the job queue entries."""
    entries = JobQueueEntry.objects.select_related("connection", "table_mapping")
    return render(request, "syncjobs/jobqueueentry_list.html", {"entries": entries})
