"""Pages of the dry runs: start one from the full synchronization review or a mapping's page, see its rows with
counts per action and mapping, filter and page them, download them as CSV (thin: look up, call one service).

Starting needs the Integration Administrator role; reading needs any signed-in user, like the other log pages.
"""
from __future__ import annotations

import csv
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from base.permissions import Role, role_required
from connections.models import ConnectionSetup
from mappings.models import IntegrationTableMapping
from syncjobs import dry_run as service
from syncjobs.models import DryRun, DryRunRow
from syncjobs.services import ConnectionDisabled

#: Rows per page of a dry run's result.
PAGE_SIZE = 100


def _start(request: HttpRequest, *, connection: ConnectionSetup, mapping: IntegrationTableMapping | None,
           full: bool, back: str, back_args: list[Any]) -> HttpResponse:
    try:
        dry_run = service.dry_run_start(connection=connection, mapping=mapping, full=full,
                                        requested_by=request.user.get_username())
    except ConnectionDisabled as exc:
        messages.error(request, exc.as_html())
        return redirect(back, *back_args)
    what = f"mapping {mapping.name}" if mapping is not None else "the full synchronization"
    messages.success(request, f"The dry run of {what} is queued; nothing is written. This page shows its rows when "
                              "it has finished.")
    return redirect("syncjobs:dryrun-detail", dry_run.pk)


@require_POST
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def dryrun_start(request: HttpRequest, connection_id: Any) -> HttpResponse:
    """Dry run of Sync All for the connection (from the full synchronization review)."""
    connection = get_object_or_404(ConnectionSetup, pk=connection_id)
    return _start(request, connection=connection, mapping=None, full=True, back="syncjobs:fullsyncreview-detail",
                  back_args=[connection.pk])


@require_POST
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def dryrun_start_mapping(request: HttpRequest, mapping_id: Any) -> HttpResponse:
    """Dry run of one mapping: as a full synchronization when ``full`` is ticked, else as its next scheduled run."""
    mapping = get_object_or_404(IntegrationTableMapping.objects.select_related("connection"), pk=mapping_id)
    return _start(request, connection=mapping.connection, mapping=mapping, full=bool(request.POST.get("full")),
                  back="mappings:mapping-detail", back_args=[mapping.pk])


def _filters(request: HttpRequest) -> tuple[str, str]:
    """The mapping and action filters of the query string; an unknown action is ignored (the page says so)."""
    action = request.GET.get("action", "")
    return request.GET.get("mapping", "")[:20], action if action in DryRunRow.Action.values else ""


@require_GET
def dryrun_detail(request: HttpRequest, dry_run_id: int) -> HttpResponse:
    """A dry run: status, counts per action and per mapping, the rows (filtered by mapping and action, paged)."""
    dry_run = get_object_or_404(DryRun.objects.select_related("connection", "table_mapping"), pk=dry_run_id)
    mapping_name, action = _filters(request)
    rows = service.dry_run_rows(dry_run=dry_run, mapping_name=mapping_name, action=action)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    summary = service.dry_run_summary(dry_run=dry_run)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "syncjobs/dryrun_detail.html", {
        "dry_run": dry_run, "page": page, "summary": summary, "actions": DryRunRow.Action.values,
        "mapping_names": [name for name, _ in summary.by_mapping], "mapping_filter": mapping_name,
        "action_filter": action, "bad_action": request.GET.get("action", "") not in ("", action),
        "query": query.urlencode(),
    })


class _Echo:
    """A file-like object whose ``write`` returns what it is given (csv.writer into a streamed response)."""

    def write(self, value: str) -> str:
        return value


@require_GET
def dryrun_csv(request: HttpRequest, dry_run_id: int) -> StreamingHttpResponse:
    """The dry run's rows (with the page's filters) as CSV with a header row, streamed."""
    dry_run = get_object_or_404(DryRun, pk=dry_run_id)
    mapping_name, action = _filters(request)
    writer = csv.writer(_Echo())
    lines = (writer.writerow(cells) for cells in service.dry_run_csv_rows(dry_run=dry_run, mapping_name=mapping_name,
                                                                          action=action))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="dry-run-{dry_run.pk}.csv"'
    return response
