"""Pages of the synchronization job log and the Coupled Data Synchronization Errors (BC: table 5338 Integration
Synch. Job, table 5339 Integration Synch. Job Errors, page "CRM Skipped Records").

Thin views: look up, validate, call one service from :mod:`syncjobs.engine.records`, redirect with a message.
Every mutating action is a POST; those that change data ask for a confirmation first (the same POST with
``confirmed=1``) and need the Integration Administrator group.
"""
from __future__ import annotations

from datetime import datetime, time
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from base.keyset import bounded_count, keyset_page
from base.permissions import Role, is_integration_administrator, role_required
from connections.clients.errors import ClientError
from connections.models import ConnectionSetup
from connections.users import UserNotMapped, user_mapping_require
from mappings.models import Coupling, Direction, IntegrationTableMapping
from syncjobs.engine import records
from syncjobs.models import SynchronizationError, SynchronizationJob
from syncjobs.progress import job_progress
from syncjobs.services import full_sync_review_reset_impact
from syncjobs.skipped_records import RECORD_PLACEHOLDER, skipped_record_groups, skipped_records_annotated

#: BC web client page ids of the tables the integration synchronizes (for links into the BC web client).
BC_PAGES = {
    "Customer": 21, "Vendor": 26, "Item": 30, "Contact": 5050, "Salesperson/Purchaser": 5600, "Currency": 5,
    "Resource": 76, "Opportunity": 5123, "Sales Header": 42, "Sales Invoice Header": 132, "Unit of Measure": 209,
    "Price List Header": 7016, "Payment Terms": 4, "Shipment Method": 11, "Shipping Agent": 428,
}


def bc_record_url(connection: ConnectionSetup, table: str, record_id: Any) -> str:
    """A link to a BC record in the BC web client (empty when the web client URL is not set up)."""
    base = (connection.bc_web_client_url or "").rstrip("/")
    if not base or not record_id:
        return ""
    query = {"company": connection.bc_company_name} if connection.bc_company_name else {}
    if table in BC_PAGES:
        query["page"] = str(BC_PAGES[table])
    query["filter"] = f"SystemId IS '{record_id}'"
    return f"{base}/?{urlencode(query)}"


def dataverse_record_url(connection: ConnectionSetup, logical_name: str, record_id: Any) -> str:
    """A link to a Dataverse row in the model-driven app (empty when the environment URL is not set up)."""
    base = (connection.dataverse_url or "").rstrip("/")
    if not base or not record_id:
        return ""
    return f"{base}/main.aspx?{urlencode({'etn': logical_name, 'id': str(record_id), 'pagetype': 'entityrecord'})}"


def _link(connection: ConnectionSetup, table: str, record_id: str, direction: str, source: bool) -> str:
    # The source of a ToIntegrationTable pass is BC; of a FromIntegrationTable pass Dataverse.
    on_bc = (direction == Direction.TO_INTEGRATION_TABLE) == source
    return bc_record_url(connection, table, record_id) if on_bc else dataverse_record_url(connection, table, record_id)


class LogFilterForm(forms.Form):
    """Filters of the synchronization job log."""

    RESULTS = [("", "Any result"), ("success", "Success"), ("failed", "Failed"), ("running", "Running")]
    mapping = forms.CharField(required=False, label="Mapping")
    result = forms.ChoiceField(required=False, choices=RESULTS)
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))


class DeleteOldForm(forms.Form):
    """Delete log entries older than N days."""

    days = forms.IntegerField(min_value=0, max_value=3650, initial=7, label="Older than (days)")


#: The largest value of an integer primary key (BigAutoField) on every database Django supports.
MAX_ID = 2**63 - 1


class CouplingIdsField(forms.Field):
    """Coupling ids posted as repeated values; a value no coupling can have (not ASCII digits, beyond the primary
    key's range) is dropped, as an unknown id is."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        values = value if isinstance(value, (list, tuple)) else [value] if value else []
        return [int(v) for v in values if isinstance(v, str) and v.isascii() and v.isdigit() and int(v) <= MAX_ID]


class SelectedCouplingsForm(forms.Form):
    """The records selected on the Coupled Data Synchronization Errors page."""

    coupling = CouplingIdsField(required=False)


def filtered_jobs(form: LogFilterForm) -> QuerySet[SynchronizationJob]:
    """The jobs matching the log filters (newest first)."""
    jobs = SynchronizationJob.objects.select_related("table_mapping", "table_mapping__connection").order_by(
        "-started_at")
    if not form.is_valid():
        return jobs
    data = form.cleaned_data
    if data["mapping"]:
        jobs = jobs.filter(table_mapping__name__iexact=data["mapping"].strip())
    if data["result"] == "running":
        jobs = jobs.filter(finished_at__isnull=True)
    elif data["result"] == "failed":
        jobs = jobs.filter(finished_at__isnull=False).exclude(failed=0, could_not_run=False)
    elif data["result"] == "success":
        jobs = jobs.filter(finished_at__isnull=False, failed=0, could_not_run=False)
    tz = timezone.get_current_timezone()
    if data["date_from"]:
        jobs = jobs.filter(started_at__gte=timezone.make_aware(datetime.combine(data["date_from"], time.min), tz))
    if data["date_to"]:
        jobs = jobs.filter(started_at__lte=timezone.make_aware(datetime.combine(data["date_to"], time.max), tz))
    return jobs


#: The synchronization job log: newest first, keyset pages over the (started_at, id) index.
JOB_LOG_ORDER = ("-started_at", "-id")
JOBS_PER_PAGE = 50


def synchronizationjob_list(request: HttpRequest) -> HttpResponse:
    """The synchronization job log: one row per pass with counters, duration and records per second, in keyset
    pages of :data:`JOBS_PER_PAGE` (Newer / Older links; no count of the log)."""
    form = LogFilterForm(request.GET or None)
    page = keyset_page(filtered_jobs(form), JOB_LOG_ORDER, request.GET, size=JOBS_PER_PAGE)
    if page.error:
        messages.warning(request, page.error)
    for job in page:
        job.progress = job_progress(job)  # state in words, rate of records handled, why nothing was written
    mapping_names = (IntegrationTableMapping.objects.order_by("name").values_list("name", flat=True).distinct())
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "syncjobs/synchronizationjob_list.html", {
        "form": form, "page": page, "mapping_names": mapping_names, "delete_form": DeleteOldForm(),
        "can_change": is_integration_administrator(request.user), "query": query.urlencode(),
    })


def synchronizationjob_detail(request: HttpRequest, job_id: str) -> HttpResponse:
    """One pass with its errors: source and destination with links, the fix, the call stack behind a disclosure."""
    job = get_object_or_404(SynchronizationJob.objects.select_related("table_mapping__connection"), pk=job_id)
    connection = job.table_mapping.connection
    errors = []
    for error in job.errors.all().order_by("id")[:500]:
        errors.append({
            "error": error,
            "source_url": _link(connection, error.source_table, error.source_id, job.direction, True),
            "destination_url": _link(connection, error.destination_table, error.destination_id, job.direction,
                                     False),
        })
    return render(request, "syncjobs/synchronizationjob_detail.html",
                  {"job": job, "errors": errors, "error_count": job.errors.count(), "progress": job_progress(job)})


@require_POST
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def synchronizationjob_delete_old(request: HttpRequest) -> HttpResponse:
    """Delete log entries older than N days (failed ones only when no skipped record refers to them)."""
    form = DeleteOldForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter the number of days (0 or more) whose older log entries should be deleted.")
        return redirect("syncjobs:synchronizationjob-list")
    days = form.cleaned_data["days"]
    count = records.synchronization_jobs_delete_older_than(days=days)
    messages.success(request, f"Deleted {count} synchronization job log entr{'y' if count == 1 else 'ies'} older "
                              f"than {days} day{'s' if days != 1 else ''}.")
    return redirect("syncjobs:synchronizationjob-list")


class SkippedRecordFilterForm(forms.Form):
    """Filters of the Coupled Data Synchronization Errors page: mapping, error text, records or groups by error."""

    VIEWS = [("records", "Records"), ("groups", "Group by error")]
    mapping = forms.ModelChoiceField(
        queryset=IntegrationTableMapping.objects.select_related("connection").order_by("connection__name", "priority",
                                                                                       "name"),
        required=False, empty_label="Any mapping", label="Mapping")
    error = forms.CharField(required=False, max_length=200, label="Error contains")
    view = forms.ChoiceField(required=False, choices=VIEWS, label="Show")

    def scope(self) -> dict[str, Any]:
        """Keyword arguments of :func:`syncjobs.skipped_records.skipped_records_annotated` (none when invalid)."""
        if not self.is_valid():
            return {}
        return {"mapping": self.cleaned_data["mapping"], "error": self.cleaned_data["error"] or ""}


#: Records listed by name on a confirmation page (the count covers them all).
CONFIRM_LISTED = 100


#: Coupled data synchronization errors: skipped first, then by BC table (keyset pages over the partial indexes of
#: skipped or failed couplings). The count above the list stops at SKIPPED_COUNT_LIMIT ("more than N").
SKIPPED_ORDER = ("-skipped", "bc_table", "id")
SKIPPED_PER_PAGE = 50
SKIPPED_COUNT_LIMIT = 1000


def skippedrecord_list(request: HttpRequest) -> HttpResponse:
    """Coupled Data Synchronization Errors: skipped records and records whose last run failed (BC: page "CRM Skipped
    Records"), filtered by mapping and error text, as records or grouped by error."""
    form = SkippedRecordFilterForm(request.GET or None)
    couplings = skipped_records_annotated(**form.scope())
    query = request.GET.copy()
    query.pop("page", None)
    if form.is_valid() and form.cleaned_data["view"] == "groups":
        return render(request, "syncjobs/skippedrecord_groups.html", {
            "form": form, "groups": skipped_record_groups(couplings), "placeholder": RECORD_PLACEHOLDER,
            "can_change": is_integration_administrator(request.user),
            "mapping": form.cleaned_data["mapping"], "error": form.cleaned_data["error"] or ""})
    # The connection is fetched separately (one query for the page): a join lets PostgreSQL sort the skipped
    # records by connection instead of reading the partial index in the page's order.
    page = keyset_page(couplings.select_related(None).prefetch_related("connection"), SKIPPED_ORDER, request.GET,
                       size=SKIPPED_PER_PAGE)
    if page.error:
        messages.warning(request, page.error)
    count, more = bounded_count(couplings, SKIPPED_COUNT_LIMIT)
    rows = []
    for coupling in page:
        rows.append({
            "coupling": coupling,
            "bc_url": bc_record_url(coupling.connection, coupling.bc_table, coupling.bc_id),
            "dataverse_url": dataverse_record_url(coupling.connection, coupling.dataverse_table,
                                                  coupling.dataverse_id),
            "deletion_conflict": coupling.error_conflict == SynchronizationError.Conflict.DELETION,
        })
    return render(request, "syncjobs/skippedrecord_list.html", {
        "page": page, "rows": rows, "can_change": is_integration_administrator(request.user),
        "to_direction": Direction.TO_INTEGRATION_TABLE, "from_direction": Direction.FROM_INTEGRATION_TABLE,
        "form": form, "query": query.urlencode(), "count": count, "more": more,
    })


def _group_scope(data: Any) -> dict[str, Any] | None:
    """The records of one error group posted from the group-by-error view (``group`` with the filters ``mapping``
    and ``error``), as keyword arguments of :func:`skipped_records_annotated`; None when no group was posted, {}
    when its filters are not valid (then nothing is selected rather than the group of every mapping)."""
    if "group" not in data:
        return None
    form = SkippedRecordFilterForm(data)
    if not form.is_valid():
        return {}
    return {**form.scope(), "error_group": data.get("group", "")}


ACTIONS = {
    "retry": "Retry",
    "retry_all": "Retry All",
    "synchronize_to": "Synchronize: Business Central wins (send to Dataverse)",
    "synchronize_from": "Synchronize: Dataverse wins (get from Dataverse)",
    "restore": "Restore Records",
    "delete_records": "Delete Records",
    "remove_coupling": "Remove Coupling",
}


@require_POST
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def skippedrecord_action(request: HttpRequest) -> HttpResponse:
    """Run one action of the Coupled Data Synchronization Errors page on the selected records, after confirmation."""
    action = request.POST.get("action", "")
    if action not in ACTIONS:
        messages.error(request, "Choose one of the actions: " + ", ".join(ACTIONS.values()) + ".")
        return redirect("syncjobs:skippedrecord-list")
    group = _group_scope(request.POST)
    if group is not None:
        ids = list(skipped_records_annotated(**group).values_list("pk", flat=True)) if group else []
    else:
        selection = SelectedCouplingsForm(request.POST)
        ids = selection.cleaned_data["coupling"] if selection.is_valid() else []
    couplings = Coupling.objects.filter(pk__in=ids).select_related("connection")
    if action != "retry_all" and not ids:
        messages.error(request, f"Select the records for {ACTIONS[action]} first.")
        return redirect("syncjobs:skippedrecord-list")
    if request.POST.get("confirmed") != "1":
        listed = Coupling.objects.filter(skipped=True) if action == "retry_all" else couplings
        count = listed.count()
        return render(request, "syncjobs/skippedrecord_confirm.html", {
            "action": action, "action_label": ACTIONS[action], "count": count, "ids": [] if group else ids,
            "listed": listed.order_by("bc_table", "bc_name", "pk")[:CONFIRM_LISTED],
            "more": max(count - CONFIRM_LISTED, 0), "group": group,
        })
    acted_on = Coupling.objects.filter(skipped=True) if action == "retry_all" else couplings
    try:
        for connection in ConnectionSetup.objects.filter(pk__in=acted_on.values("connection")):
            user_mapping_require(connection=connection, user=request.user)
    except UserNotMapped as exc:
        messages.error(request, f"Nothing was done: {exc}")
        return redirect("syncjobs:skippedrecord-list")
    done: list[str] = []
    refused: list[str] = []
    if action == "retry":
        count = records.skipped_records_retry(couplings=couplings)
        messages.success(request, f"{count} record(s) will be synchronized again by the next run.")
        return redirect("syncjobs:skippedrecord-list")
    if action == "retry_all":
        count = records.skipped_records_retry_all()
        messages.success(request, f"All {count} skipped record(s) will be synchronized again by the next run.")
        return redirect("syncjobs:skippedrecord-list")
    for coupling in couplings:
        try:
            if action == "synchronize_to":
                records.coupling_synchronize_enqueue(coupling=coupling, direction=Direction.TO_INTEGRATION_TABLE)
            elif action == "synchronize_from":
                records.coupling_synchronize_enqueue(coupling=coupling, direction=Direction.FROM_INTEGRATION_TABLE)
            elif action == "restore":
                records.skipped_record_restore_enqueue(coupling=coupling)
            elif action == "delete_records":
                records.skipped_record_delete_enqueue(coupling=coupling)
            elif action == "remove_coupling":
                records.coupling_remove(coupling=coupling)
            done.append(str(coupling))
        except ValueError as exc:
            refused.append(str(exc))
        except ClientError as exc:  # e.g. BC could not be read for the lines of an order to uncouple
            refused.append(f"{coupling}: nothing was done: {exc}")
    verbs = {"synchronize_to": "queued for synchronization to Dataverse",
             "synchronize_from": "queued for synchronization from Dataverse",
             "restore": "queued to restore the deleted record",
             "delete_records": "queued to delete the surviving record",
             "remove_coupling": "uncoupled"}
    if done:
        messages.success(request, f"{len(done)} record(s) {verbs[action]}.")
    for reason in refused:
        messages.error(request, reason)
    return redirect("syncjobs:skippedrecord-list")


@require_POST
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def coupling_synchronize(request: HttpRequest, coupling_id: int) -> HttpResponse:
    """"Synchronize now" for one coupled record, in the chosen direction (BC: the Synchronize action on a coupled
    record, which runs a temporary copy of the mapping); runs on a worker."""
    coupling = get_object_or_404(Coupling.objects.select_related("connection"), pk=coupling_id)
    direction = request.POST.get("direction", "")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = reverse("syncjobs:skippedrecord-list")
    try:
        user_mapping_require(connection=coupling.connection, user=request.user)
        records.coupling_synchronize_enqueue(coupling=coupling, direction=direction)
    except (ValueError, UserNotMapped) as exc:
        messages.error(request, str(exc))
        return redirect(target)
    label = "to Dataverse" if direction == Direction.TO_INTEGRATION_TABLE else "from Dataverse"
    messages.success(request, f"{coupling.bc_table} {coupling.bc_id} is queued for synchronization {label}; "
                              "the synchronization job log shows the result.")
    return redirect(target)


@role_required(Role.INTEGRATION_ADMINISTRATOR)
def fullsyncreview_reset_confirm(request: HttpRequest, connection_id: Any) -> HttpResponse:
    """The confirmation page of Reset of the full synchronization review (BC: page 5331 action Reset): what Reset
    discards, counted; its button POSTs to ``syncjobs:fullsyncreview-reset``."""
    connection = get_object_or_404(ConnectionSetup, pk=connection_id)
    return render(request, "syncjobs/fullsyncreview_confirm_reset.html", {
        "connection": connection, "impact": full_sync_review_reset_impact(connection=connection)})
