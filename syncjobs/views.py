"""Views of the job queue entries and the full synchronization review (thin: look up, call one service, redirect).

Every mutating action is a POST and needs a superuser or a member of the "Integration Administrator" group.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from base.keyset import keyset_page
from base.permissions import Role, is_integration_administrator, role_required
from connections.clients.errors import ClientError
from connections.models import ConnectionSetup
from syncjobs import review, services
from syncjobs.models import FullSyncReviewLine, JobQueueEntry

logger = logging.getLogger(__name__)



# --- job queue entries -----------------------------------------------------------------------------------------------


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The job queue entries: status, next run, last result, attempts, error; actions Set Ready, Set On Hold,
    Run Now, log."""
    entries = JobQueueEntry.objects.select_related("connection", "table_mapping").order_by(
        "-recurring_job", "table_mapping__priority", "description"
    )
    if request.GET.get("all") != "1":
        entries = entries.exclude(recurring_job=False, status=JobQueueEntry.Status.FINISHED)
    return render(
        request,
        "syncjobs/jobqueueentry_list.html",
        {"entries": entries, "can_change": is_integration_administrator(request.user),
         "show_all": request.GET.get("all") == "1"},
    )


#: Runs of a job queue entry per page, and its newest synchronization jobs shown.
RUNS_PER_PAGE = 50


@require_GET
def jobqueueentry_log(request: HttpRequest, entry_id: Any) -> HttpResponse:
    """The runs of one job queue entry (BC: Job Queue Log Entries), newest first, with their synchronization jobs."""
    entry = get_object_or_404(JobQueueEntry.objects.select_related("table_mapping"), pk=entry_id)
    # Runs in keyset pages (Newer / Older) over the (entry, started_at) index; the newest synchronization jobs of
    # the entry beside them (the synchronization job log lists them all).
    log_entries = keyset_page(entry.log_entries.all(), ("-started_at", "-id"), request.GET, size=RUNS_PER_PAGE)
    if log_entries.error:
        messages.warning(request, log_entries.error)
    jobs = entry.synchronization_jobs.select_related("table_mapping").order_by("-started_at", "-id")[:RUNS_PER_PAGE]
    context = {"entry": entry, "log_entries": log_entries, "page": log_entries, "jobs": jobs}
    return render(request, "syncjobs/jobqueueentry_log.html", context)


def _entry_action(request: HttpRequest, entry_id: Any, action: Callable[[JobQueueEntry], str]) -> HttpResponse:
    entry = get_object_or_404(JobQueueEntry, pk=entry_id)
    try:
        messages.success(request, action(entry))
    except services.JobQueueEntryBusy as exc:
        messages.error(request, str(exc))
    except services.ConnectionDisabled as exc:
        messages.error(request, exc.as_html())
    return redirect("syncjobs:index")


@require_POST
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def jobqueueentry_set_ready(request: HttpRequest, entry_id: Any) -> HttpResponse:
    """Set Ready: the dispatcher starts the entry within a minute."""

    def act(entry: JobQueueEntry) -> str:
        services.connection_require_enabled(connection=entry.connection)
        services.job_queue_entry_set_ready(entry=entry)
        return f"'{entry.description.strip()}' is Ready and starts within a minute."

    return _entry_action(request, entry_id, act)


@require_POST
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def jobqueueentry_set_on_hold(request: HttpRequest, entry_id: Any) -> HttpResponse:
    """Set On Hold: the dispatcher skips the entry until it is set Ready."""

    def act(entry: JobQueueEntry) -> str:
        services.job_queue_entry_set_on_hold(entry=entry)
        return f"'{entry.description.strip()}' is On Hold."

    return _entry_action(request, entry_id, act)


@require_POST
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def jobqueueentry_run_now(request: HttpRequest, entry_id: Any) -> HttpResponse:
    """Run Now: claim the entry and enqueue its run on a worker."""

    def act(entry: JobQueueEntry) -> str:
        services.connection_require_enabled(connection=entry.connection)
        services.job_queue_entry_run_now(entry=entry)
        return f"'{entry.description.strip()}' is running on a worker."

    return _entry_action(request, entry_id, act)


# --- full synchronization review -------------------------------------------------------------------------------------


def _connection(connection_id: Any | None) -> Any:
    if connection_id is None:
        return ConnectionSetup.objects.order_by("name").first()
    return get_object_or_404(ConnectionSetup, pk=connection_id)


@require_GET
def fullsyncreview_index(request: HttpRequest) -> HttpResponse:
    """The review of the first connection (the portal usually has one)."""
    connection = _connection(None)
    if connection is None:
        messages.info(request, "Set up the connection first; the full synchronization review lists its mappings.")
        return redirect("connections:index")
    return redirect("syncjobs:fullsyncreview-detail", connection_id=connection.pk)


@require_GET
def fullsyncreview_detail(request: HttpRequest, connection_id: Any) -> HttpResponse:
    """The review page; the table is refreshed from fullsyncreview-status by static/syncjobs/progress.js."""
    connection = _connection(connection_id)
    status = review.full_sync_review_status(connection=connection)
    return render(
        request,
        "syncjobs/fullsyncreview_detail.html",
        {"connection": connection, "status": status, "can_change": is_integration_administrator(request.user)},
    )


@never_cache
@require_GET
def fullsyncreview_status(request: HttpRequest, connection_id: Any) -> JsonResponse:
    """JSON of the review's live status (polled by the page every two seconds)."""
    connection = _connection(connection_id)
    data = review.full_sync_review_status(connection=connection)
    for line in data["lines"]:
        if line["to"]:
            line["to"]["url"] = _job_url(line["to"]["id"])
        if line["from"]:
            line["from"]["url"] = _job_url(line["from"]["id"])
        line["log_url"] = reverse("syncjobs:index")
    return JsonResponse(data)


def _job_url(job_id: str) -> str:
    """Link to the synchronization job's page (the synchronization job log), or the job queue page before it
    exists."""
    try:
        return reverse("syncjobs:synchronizationjob-detail", args=[job_id])
    except NoReverseMatch:
        return reverse("syncjobs:index")


def _review_action(request: HttpRequest, connection_id: Any, action: Callable[[Any], str]) -> HttpResponse:
    connection = _connection(connection_id)
    try:
        message = action(connection)
    except review.ReviewActionRefused as exc:
        messages.error(request, str(exc))
    except services.ConnectionDisabled as exc:
        messages.error(request, exc.as_html())
    except ClientError as exc:  # the clients could not be built or reached: name the service error
        messages.error(request, f"Could not count the records: {exc}. Test the connection under Connection setup.")
    else:
        messages.success(request, message)
    return redirect("syncjobs:fullsyncreview-detail", connection_id=connection.pk)


@require_POST
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def fullsyncreview_start(request: HttpRequest, connection_id: Any) -> HttpResponse:
    """Sync All: start the lines whose dependencies are satisfied; the rest follow as their dependencies finish."""

    def act(connection: ConnectionSetup) -> str:
        services.connection_require_enabled(connection=connection)
        started = review.full_sync_review_start(connection=connection)
        if not started and review.full_sync_review_running(connection=connection):
            return ("A full synchronization is already running; its lines keep their recommendations and the "
                    "waiting lines start as their dependencies finish.")
        if not started:
            return "No line can start now: every line has started, found no records, or waits for a dependency."
        return f"Started {', '.join(line.name for line in started)}; the other lines follow in dependency order."

    return _review_action(request, connection_id, act)


@require_POST
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def fullsyncreview_reset(request: HttpRequest, connection_id: Any) -> HttpResponse:
    """Reset: delete the lines and generate them again with fresh recommendations."""

    def act(connection: ConnectionSetup) -> str:
        lines = review.full_sync_review_reset(connection=connection)
        return f"The review was generated again: {len(lines)} lines."

    return _review_action(request, connection_id, act)


def _line_action(request: HttpRequest, line_id: int, action: Callable[[FullSyncReviewLine], str]) -> HttpResponse:
    line = get_object_or_404(FullSyncReviewLine.objects.select_related("connection"), pk=line_id)
    return _review_action(request, line.connection_id, lambda connection: action(line))


@require_POST
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def fullsyncreview_restart(request: HttpRequest, line_id: int) -> HttpResponse:
    """Restart a finished or failed line (a full synchronization resumes after its last committed batch)."""

    def act(line: FullSyncReviewLine) -> str:
        review.full_sync_review_restart(line=line)
        return f"{line.name} was restarted."

    return _line_action(request, line_id, act)


@require_POST
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def fullsyncreview_recommend_full(request: HttpRequest, line_id: int) -> HttpResponse:
    """Recommend Full Synchronization instead of Couple Records for one line."""

    def act(line: FullSyncReviewLine) -> str:
        review.full_sync_review_recommend_full(line=line)
        return f"{line.name} will run a full synchronization."

    return _line_action(request, line_id, act)


@require_POST
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def fullsyncreview_remove(request: HttpRequest, line_id: int) -> HttpResponse:
    """Remove a line from this run (Reset brings it back)."""

    def act(line: FullSyncReviewLine) -> str:
        review.full_sync_review_remove(line=line)
        return f"{line.name} was removed from this run; Reset brings it back."

    return _line_action(request, line_id, act)
