"""The job queue entry card (BC: page 673 "Job Queue Entry Card"): change the recurrence, inactivity timeout,
attempts, rerun delay, earliest start and status of one entry (thin: validate, call
:func:`syncjobs.jobqueue_edit.job_queue_entry_update`, redirect). Needs the Integration Administrator role."""
from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from base.permissions import Role, role_required
from syncjobs.forms_jobqueue import JobQueueEntryForm
from syncjobs.jobqueue_edit import ConnectionDisabled, JobQueueEntryBusy, job_queue_entry_update
from syncjobs.models import JobQueueEntry


@require_http_methods(["GET", "POST"])
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def jobqueueentry_edit(request: HttpRequest, entry_id: Any) -> HttpResponse:
    """GET shows the card; POST validates and saves it, then returns to the job queue entries."""
    entry = get_object_or_404(JobQueueEntry.objects.select_related("connection", "table_mapping"), pk=entry_id)
    form = JobQueueEntryForm(request.POST or None, entry=entry)
    if request.method == "POST" and form.is_valid():
        try:
            entry = job_queue_entry_update(entry=entry, settings=form.settings())
        except ConnectionDisabled as exc:
            messages.error(request, exc.as_html())
        except (JobQueueEntryBusy, ValueError) as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"'{entry.description.strip()}' was saved: {entry.get_status_display()}, every "
                             f"{entry.no_of_minutes_between_runs} min.")
            return redirect("syncjobs:index")
    return render(request, "syncjobs/jobqueueentry_form.html", {"form": form, "entry": entry})
