"""Pages of integration table mappings, field mappings, couplings, match-based coupling and Couple Salespersons.

Thin views: look up, check the Integration Administrator permission for changes, validate a form, call one service,
redirect with a message. Remote reads (names, searches, previews) happen in services and fail into a page message.
"""
from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from base.keyset import keyset_page
from base.permissions import Role, is_integration_administrator, role_required
from connections.clients.errors import ClientError
from connections.models import ConnectionSetup
from connections.users import UserNotMapped, user_mapping_require
from mappings import remote
from mappings.bc_import import bc_import_apply, bc_import_preview
from mappings.default_configuration import DEFAULT_MAPPING_NAMES
from mappings.forms import (
    ConnectionChoiceForm,
    CouplingForm,
    IntegrationFieldMappingForm,
    IntegrationTableMappingForm,
    MatchCriteriaForm,
    NewMappingForm,
    NewMappingTablesForm,
)
from mappings.matching import match_based_coupling_preview
from mappings.models import (
    Coupling,
    CouplingCount,
    CouplingLogEntry,
    IntegrationFieldMapping,
    IntegrationTableMapping,
)
from mappings.salespeople import salespeople_overview, salesperson_create_from_user
from mappings.services import (
    CouplingConflict,
    CouplingRecordMissing,
    coupling_create,
    coupling_delete,
    couplings_delete_for_mapping,
    couplings_for_mapping,
    integration_field_mapping_create,
    integration_field_mapping_update,
)
from syncjobs.coupling import match_based_coupling_start
from syncjobs.defaults import default_configuration_reset
from syncjobs.mapping_jobs import integration_table_mapping_create, integration_table_mapping_update
from syncjobs.models import MappingErrorCount, SynchronizationJob
from syncjobs.progress import job_progress
from syncjobs.services import (
    ConnectionDisabled,
    JobQueueEntryBusy,
    connection_require_enabled,
    default_configuration_impact,
)


def _client_error_types() -> tuple[type[Exception], ...]:
    return (ClientError,)


def _remote_message(exc: Exception) -> str:
    fix = getattr(exc, "fix", "") or ""
    return f"{exc} {fix}".strip()


def mapping_list() -> list[IntegrationTableMapping]:
    """Mappings (by connection, priority, name) with ``last_run`` (UTC, None when never run), ``error_count``
    (failed records over all their synchronization jobs), ``skipped_count`` and ``coupled_count``.

    The counts come from the counters kept with the rows they count (:class:`mappings.models.CouplingCount`,
    :class:`syncjobs.models.MappingErrorCount`, both maintained by database triggers), read in one query each, and
    the newest job per mapping by the (mapping, started) index: nothing counts the coupling table or sums the log
    per request, so the page costs the same with a million couplings. Three queries in all."""
    mappings = list(IntegrationTableMapping.objects.select_related("connection")
                    .annotate(last_run=Subquery(SynchronizationJob.objects.filter(table_mapping=OuterRef("pk"))
                                                .order_by("-started_at").values("started_at")[:1]))
                    .order_by("connection__name", "priority", "name"))
    pairs = {(c.connection_id, c.bc_table, c.dataverse_table): c for c in CouplingCount.objects.filter(
        connection_id__in={m.connection_id for m in mappings})}
    errors = dict(MappingErrorCount.objects.filter(table_mapping__in=mappings).values_list("table_mapping", "failed"))
    for mapping in mappings:
        counts = pairs.get((mapping.connection_id, mapping.table, mapping.coupling_dataverse_table))
        mapping.coupled_count = counts.total if counts else 0
        mapping.skipped_count = counts.skipped if counts else 0
        mapping.error_count = errors.get(mapping.pk, 0)
    return mappings


def index(request: HttpRequest) -> HttpResponse:
    """The integration table mappings list (BC page "Integration Table Mappings")."""
    return render(request, "mappings/integrationtablemapping_list.html", {
        "mappings": mapping_list(), "connections": ConnectionSetup.objects.all(),
        "can_change": is_integration_administrator(request.user),
    })


def mapping_detail(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """One mapping with its field mappings; edit forms for Integration Administrators."""
    mapping = get_object_or_404(IntegrationTableMapping.objects.select_related("connection"), pk=pk)
    return _render_detail(request, mapping, IntegrationTableMappingForm(instance=mapping),
                          IntegrationFieldMappingForm(table_mapping=mapping))


def _render_detail(request: HttpRequest, mapping: IntegrationTableMapping, form: Any, field_form: Any,
                   status: int = 200) -> HttpResponse:
    return render(request, "mappings/integrationtablemapping_detail.html", {
        "mapping": mapping, "form": form, "field_form": field_form,
        "field_mappings": mapping.field_mappings.order_by("sequence", "id"),
        "jobs": mapping.job_queue_entries.all(), "is_default": mapping.name in DEFAULT_MAPPING_NAMES,
        "can_change": is_integration_administrator(request.user),
        "coupled_count": pair_counts(mapping).total,
    }, status=status)


@require_POST
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def mapping_update(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    mapping = get_object_or_404(IntegrationTableMapping, pk=pk)
    form = IntegrationTableMappingForm(request.POST, instance=IntegrationTableMapping.objects.get(pk=pk))
    if not form.is_valid():
        messages.error(request, "Nothing was saved; correct the fields marked below.")
        return _render_detail(request, mapping, form, IntegrationFieldMappingForm(table_mapping=mapping), status=400)
    changed = integration_table_mapping_update(mapping=mapping, data=form.changes())
    messages.success(request, f"Saved {mapping.name}: {', '.join(changed)}." if changed else "Nothing changed.")
    return redirect("mappings:mapping-detail", pk=mapping.pk)


@require_http_methods(["GET", "POST"])
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def mapping_reset(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """Use Default Synchronization Setup for one mapping: GET shows what will change (counts), POST resets it."""
    mapping = get_object_or_404(IntegrationTableMapping.objects.select_related("connection"), pk=pk)
    if request.method == "GET":
        return _render_reset_confirm(request, mapping.connection, mapping)
    try:
        report = default_configuration_reset(connection=mapping.connection, mapping_name=mapping.name)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, report.summary())
    return redirect("mappings:mapping-detail", pk=mapping.pk)


@require_http_methods(["GET", "POST"])
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def configuration_reset(request: HttpRequest, connection_pk: uuid.UUID) -> HttpResponse:
    """Use Default Synchronization Setup for every mapping of a connection setup: GET shows what will change
    (counts), POST applies it."""
    connection = get_object_or_404(ConnectionSetup, pk=connection_pk)
    if request.method == "GET":
        return _render_reset_confirm(request, connection, None)
    report = default_configuration_reset(connection=connection)
    messages.success(request, f"{connection.name}: {report.summary()}")
    return redirect("mappings:index")


def _render_reset_confirm(request: HttpRequest, connection: ConnectionSetup,
                          mapping: IntegrationTableMapping | None) -> HttpResponse:
    """The confirmation page of Use Default Synchronization Setup (BC asks before ResetConfiguration too)."""
    impact = default_configuration_impact(connection=connection, mapping_name=mapping.name if mapping else None)
    action = (reverse("mappings:mapping-reset", args=[mapping.pk]) if mapping
              else reverse("mappings:configuration-reset", args=[connection.pk]))
    cancel = reverse("mappings:mapping-detail", args=[mapping.pk]) if mapping else reverse("mappings:index")
    return render(request, "mappings/integrationtablemapping_confirm_reset.html", {
        "connection": connection, "mapping": mapping, "impact": impact, "action": action, "cancel": cancel})


@require_POST
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def fieldmapping_create(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    mapping = get_object_or_404(IntegrationTableMapping.objects.select_related("connection"), pk=pk)
    field_form = IntegrationFieldMappingForm(request.POST, table_mapping=mapping)
    if field_form.is_valid():
        try:
            created = integration_field_mapping_create(mapping=mapping, data=field_form.values())
        except ValidationError as exc:
            _add_errors(field_form, exc)
        else:
            messages.success(request, f"Added the field mapping {created}.")
            return redirect("mappings:mapping-detail", pk=mapping.pk)
    messages.error(request, "The field mapping was not added; correct the fields marked below.")
    return _render_detail(request, mapping, IntegrationTableMappingForm(instance=mapping), field_form, status=400)


def _add_errors(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            for message in errors:
                form.add_error(field if field in form.fields else None, message)
    else:
        for message in exc.messages:
            form.add_error(None, message)


def fieldmapping_update(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit one field mapping (GET shows the form, POST saves it)."""
    field_mapping = get_object_or_404(IntegrationFieldMapping.objects.select_related("table_mapping__connection"),
                                      pk=pk)
    mapping = field_mapping.table_mapping
    status = 200
    if request.method == "POST":
        if not is_integration_administrator(request.user):
            return HttpResponse("Only Integration Administrators can change mappings.", status=403)
        form = IntegrationFieldMappingForm(request.POST, instance=field_mapping, table_mapping=mapping)
        if form.is_valid():
            try:
                integration_field_mapping_update(field_mapping=IntegrationFieldMapping.objects.get(pk=pk),
                                                 data=form.values())
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, "Saved the field mapping.")
                return redirect("mappings:mapping-detail", pk=mapping.pk)
        status = 400
    else:
        form = IntegrationFieldMappingForm(instance=field_mapping, table_mapping=mapping)
    return render(request, "mappings/integrationfieldmapping_update.html", {
        "form": form, "field_mapping": field_mapping, "mapping": mapping,
        "can_change": is_integration_administrator(request.user)}, status=status)


def mapping_create(request: HttpRequest) -> HttpResponse:
    """New mapping for another table pair: choose the tables (GET), then fields and settings (POST)."""
    connections = ConnectionSetup.objects.all()
    chooser = ConnectionChoiceForm({"connection": request.GET.get("connection") or request.POST.get("connection")})
    if not chooser.is_valid():
        raise Http404("No connection setup has that id; choose one from the list.")
    connection = chooser.chosen()
    source = request.POST if request.method == "POST" else request.GET
    tables = NewMappingTablesForm(source if "bc_table" in source else None)
    form = None
    status = 200
    if tables.is_bound and tables.is_valid():
        form = NewMappingForm(request.POST if request.method == "POST" else None,
                              bc_table_name=tables.cleaned_data["bc_table"],
                              dataverse_table_name=tables.cleaned_data["dataverse_table"])
        if request.method == "POST":
            if not is_integration_administrator(request.user):
                return HttpResponse("Only Integration Administrators can add mappings.", status=403)
            if connection is None:
                messages.error(request, "Set up a connection first.")
            elif form.is_valid():
                data = form.cleaned_data
                try:
                    mapping = integration_table_mapping_create(
                        connection=connection, name=data["name"], bc_table_name=data["bc_table"],
                        dataverse_table_name=data["dataverse_table"], direction=data["direction"],
                        field_pairs=form.field_pairs(), table_filter=data["table_filter"],
                        integration_table_filter=data["integration_table_filter"],
                        dependency_filter=data["dependency_filter"])
                except ValidationError as exc:
                    _add_errors(form, exc)
                else:
                    messages.success(request, f"Created the mapping {mapping.name}.")
                    return redirect("mappings:mapping-detail", pk=mapping.pk)
            status = 400
    return render(request, "mappings/integrationtablemapping_create.html", {
        "tables": tables, "form": form, "connection": connection, "connections": connections,
        "can_change": is_integration_administrator(request.user)}, status=status)


# ---- couplings ------------------------------------------------------------------------------------------------------
#: Coupled records of a mapping: newest first (keyset pages over the (pair, created_at, id) index).
COUPLING_ORDER = ("-created_at", "-id")
COUPLINGS_PER_PAGE = 50


def pair_counts(mapping: IntegrationTableMapping) -> CouplingCount:
    """The coupling counters of the mapping's table pair (``total``, ``skipped``; zeros when it has none)."""
    return (CouplingCount.objects.filter(connection_id=mapping.connection_id, bc_table=mapping.table,
                                         dataverse_table=mapping.coupling_dataverse_table).first()
            or CouplingCount(connection_id=mapping.connection_id, bc_table=mapping.table,
                             dataverse_table=mapping.coupling_dataverse_table))


def coupling_list(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """Coupled records of a mapping: both sides' names and links, last result each way, skipped; manual couple."""
    mapping = get_object_or_404(IntegrationTableMapping.objects.select_related("connection"), pk=pk)
    connection = mapping.connection
    page = keyset_page(couplings_for_mapping(mapping), COUPLING_ORDER, request.GET, size=COUPLINGS_PER_PAGE)
    if page.error:
        messages.warning(request, page.error)
    bc_names: dict[uuid.UUID, remote.RemoteRecord] = {}
    dv_names: dict[uuid.UUID, remote.RemoteRecord] = {}
    bc_found: list[remote.RemoteRecord] = []
    dv_found: list[remote.RemoteRecord] = []
    bc_search, dv_search = request.GET.get("bc_search", "").strip(), request.GET.get("dataverse_search", "").strip()
    reads_remote = is_integration_administrator(request.user)  # viewers trigger no call to either side
    if not reads_remote:
        bc_search = dv_search = ""
    try:
        if page.rows and reads_remote:
            bc_names = {r.id: r for r in remote.bc_records(connection, mapping.table,
                                                           ids=[c.bc_id for c in page.rows])}
            if not mapping.is_option_mapping:
                dv_names = {r.id: r for r in remote.dataverse_rows(connection, mapping.integration_table,
                                                                   ids=[c.dataverse_id for c in page.rows])}
        if bc_search:
            bc_found = remote.bc_records(connection, mapping.table, search=bc_search)
        if dv_search and not mapping.is_option_mapping:
            dv_found = remote.dataverse_rows(connection, mapping.integration_table, search=dv_search)
    except _client_error_types() as exc:
        messages.warning(request, f"Names could not be read: {_remote_message(exc)}")
    rows = [(c, bc_names.get(c.bc_id), dv_names.get(c.dataverse_id),
             remote.bc_record_url(connection, mapping.table, c.bc_id),
             remote.dataverse_record_url(connection, mapping.integration_table, c.dataverse_id))
            for c in page.rows]
    return render(request, "mappings/coupling_list.html", {
        "mapping": mapping, "page": page, "rows": rows, "bc_search": bc_search, "dataverse_search": dv_search,
        "bc_found": bc_found, "dv_found": dv_found, "can_change": is_integration_administrator(request.user),
        "counts": pair_counts(mapping),
    })


@require_POST
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def coupling_create_view(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    mapping = get_object_or_404(IntegrationTableMapping.objects.select_related("connection"), pk=pk)
    form = CouplingForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one BC record and one Dataverse row to couple.")
        return redirect("mappings:coupling-list", pk=mapping.pk)
    try:
        user_mapping_require(connection=mapping.connection, user=request.user)
        coupling_create(connection=mapping.connection, bc_table=mapping.table, bc_id=form.cleaned_data["bc_id"],
                        dataverse_table=mapping.coupling_dataverse_table,
                        dataverse_id=form.cleaned_data["dataverse_id"], remove_stale=True, verify_records=True)
    except (CouplingConflict, CouplingRecordMissing) as exc:
        messages.error(request, exc.messages[0])
    except UserNotMapped as exc:
        messages.error(request, f"Nothing was coupled: {exc}")
    except _client_error_types() as exc:
        messages.error(request, f"Nothing was coupled: {_remote_message(exc)}")
    else:
        messages.success(request, "Coupled the records.")
    return redirect("mappings:coupling-list", pk=mapping.pk)


@require_POST
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def coupling_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    coupling = get_object_or_404(Coupling.objects.select_related("connection"), pk=pk)
    back = request.POST.get("next") or ""
    try:
        user_mapping_require(connection=coupling.connection, user=request.user)
        deleted = coupling_delete(coupling=coupling)
    except UserNotMapped as exc:
        messages.error(request, f"Nothing was uncoupled: {exc}")
    except _client_error_types() as exc:
        messages.error(request, f"Nothing was uncoupled: {_remote_message(exc)}")
    else:
        lines = f" and {deleted - 1} sales line coupling(s)" if deleted > 1 else ""
        messages.success(request, f"Uncoupled {coupling.bc_table} {coupling.bc_id}{lines}.")
    if back.startswith("/") and not back.startswith("//"):
        return redirect(back)
    return redirect("mappings:index")


def couplings_delete(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """Delete every coupling of a mapping, after confirmation (GET shows it, POST deletes)."""
    mapping = get_object_or_404(IntegrationTableMapping.objects.select_related("connection"), pk=pk)
    if request.method == "POST":
        if not is_integration_administrator(request.user):
            return HttpResponse("Only Integration Administrators can delete couplings.", status=403)
        try:
            user_mapping_require(connection=mapping.connection, user=request.user)
        except UserNotMapped as exc:
            messages.error(request, f"No coupling was deleted: {exc}")
        else:
            deleted = couplings_delete_for_mapping(mapping=mapping)
            messages.success(request, f"Deleted {deleted} coupling(s) of {mapping.name}.")
        return redirect("mappings:coupling-list", pk=mapping.pk)
    couplings = couplings_for_mapping(mapping).order_by("bc_name", "bc_id")
    return render(request, "mappings/coupling_confirm_delete.html", {
        "mapping": mapping, "count": couplings.count(),
        "page": Paginator(couplings, 50).get_page(request.GET.get("page")),
        "can_change": is_integration_administrator(request.user)})


# ---- match-based coupling -------------------------------------------------------------------------------------------
def match_based_coupling(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """Criteria form (GET); POST ``action=preview`` lists what would happen, ``action=start`` runs it on a worker."""
    mapping = get_object_or_404(IntegrationTableMapping.objects.select_related("connection"), pk=pk)
    preview = None
    status = 200
    if request.method == "POST":
        if not is_integration_administrator(request.user):
            return HttpResponse("Only Integration Administrators can couple records.", status=403)
        form = MatchCriteriaForm(request.POST, table_mapping=mapping)
        if form.is_valid():
            try:
                if request.POST.get("action") == "start":
                    connection_require_enabled(connection=mapping.connection)
                    user_mapping_require(connection=mapping.connection, user=request.user)
                    entry = match_based_coupling_start(
                        mapping=mapping, criteria=form.criteria(),
                        create_new_if_no_match=form.cleaned_data["create_new_if_no_match"],
                        synch_after=form.cleaned_data["synch_after"])
                    messages.success(request, f"Match-based coupling of {mapping.name} started "
                                              f"({entry.description.strip()}); the coupling log fills in as it runs.")
                    return redirect("mappings:couplinglog-list", pk=mapping.pk)
                preview = match_based_coupling_preview(
                    mapping=mapping, criteria=form.criteria(),
                    create_new_if_no_match=form.cleaned_data["create_new_if_no_match"])
            except ValidationError as exc:
                _add_errors(form, exc)
                status = 400
            except JobQueueEntryBusy as exc:
                messages.error(request, f"Match-based coupling of {mapping.name} was not started: {exc}")
                status = 409
            except ConnectionDisabled as exc:
                messages.error(request, exc.as_html())
                status = 409
            except UserNotMapped as exc:
                messages.error(request, f"Match-based coupling of {mapping.name} was not started: {exc}")
                status = 403
            except _client_error_types() as exc:
                # The remote service failed, not the portal: the page says so (no 5xx from the portal itself).
                messages.error(request, f"The preview could not read the records: {_remote_message(exc)}")
        else:
            status = 400
    else:
        form = MatchCriteriaForm(table_mapping=mapping)
    summary: dict[str, int] = {}
    for outcome in preview or []:
        summary[outcome.outcome_label] = summary.get(outcome.outcome_label, 0) + 1
    return render(request, "mappings/matchbasedcoupling_form.html", {
        "mapping": mapping, "form": form, "preview": preview, "summary": summary,
        "can_change": is_integration_administrator(request.user)}, status=status)


#: Lines of the coupling log per page (keyset pages in sequence order over the (job, sequence) index).
COUPLING_LOG_LINES_PER_PAGE = 100


def couplinglog_list(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """The coupling jobs of a mapping, newest first, with each record's outcome for the chosen (or latest) job, in
    pages of :data:`COUPLING_LOG_LINES_PER_PAGE` lines."""
    mapping = get_object_or_404(IntegrationTableMapping.objects.select_related("connection"), pk=pk)
    jobs = list(SynchronizationJob.objects.filter(table_mapping=mapping, type=SynchronizationJob.Type.COUPLING)
                .order_by("-started_at")[:20])
    chosen = next((j for j in jobs if str(j.pk) == request.GET.get("job")), jobs[0] if jobs else None)
    lines = CouplingLogEntry.objects.filter(job=chosen) if chosen else CouplingLogEntry.objects.none()
    outcome = request.GET.get("outcome", "")
    if outcome in CouplingLogEntry.Outcome.values:
        lines = lines.filter(outcome=outcome)
    page = keyset_page(lines, ("sequence", "id"), request.GET, size=COUPLING_LOG_LINES_PER_PAGE)
    if page.error:
        messages.warning(request, page.error)
    return render(request, "mappings/couplinglogentry_list.html", {
        "mapping": mapping, "jobs": jobs, "job": chosen, "lines": page.rows, "page": page, "outcome": outcome,
        "outcomes": CouplingLogEntry.Outcome.choices, "progress": job_progress(chosen)})


# ---- Import from Business Central's integration -------------------------------------------------------------------
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def bc_import(request: HttpRequest, connection_pk: uuid.UUID) -> HttpResponse:
    """"Import from Business Central's integration": GET previews BC's couplings and table mapping filters (BC: tables
    5331 and 5335) with counts and conflicts; POST imports them in one transaction (``mappings.bc_import``)."""
    connection = get_object_or_404(ConnectionSetup, pk=connection_pk)
    preview = None
    status = 200
    try:
        if request.method == "POST":
            result = bc_import_apply(connection=connection)
            messages.success(request, f"Imported {result.coupled} coupling(s) ({result.skipped} skipped) and "
                                      f"{len(result.filters_set)} filter(s) from Business Central's integration.")
            return redirect("mappings:index")
        preview = bc_import_preview(connection=connection)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        status = 409
    except _client_error_types() as exc:
        messages.error(request, f"Business Central's integration could not be read: {_remote_message(exc)}")
        status = 200  # the page says what could not be read; the portal itself did not fail
    return render(request, "mappings/bc_import_confirm.html", {
        "connection": connection, "preview": preview, "counts": preview.counts() if preview else {}},
        status=status)


# ---- Couple Salespersons --------------------------------------------------------------------------------------------
def salespeople(request: HttpRequest, connection_pk: uuid.UUID) -> HttpResponse:
    """Dataverse users beside BC salespeople, with couple / uncouple / create salesperson (BC: page "Users -
    Dataverse")."""
    connection = get_object_or_404(ConnectionSetup, pk=connection_pk)
    users: list[Any] = []
    people: list[Any] = []
    if is_integration_administrator(request.user):  # viewers trigger no remote read and see no e-mail address
        try:
            users, people = salespeople_overview(connection=connection)
        except _client_error_types() as exc:
            messages.error(request, f"Users and salespeople could not be read: {_remote_message(exc)}")
    return render(request, "mappings/salesperson_list.html", {
        "connection": connection, "users": users, "salespeople": people,
        "uncoupled_salespeople": [p for p in people if p.coupling is None],
        "can_change": is_integration_administrator(request.user)})


@require_POST
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def salesperson_couple(request: HttpRequest, connection_pk: uuid.UUID) -> HttpResponse:
    connection = get_object_or_404(ConnectionSetup, pk=connection_pk)
    form = CouplingForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a salesperson for the user.")
    else:
        try:
            coupling_create(connection=connection, bc_table="Salesperson/Purchaser", bc_id=form.cleaned_data["bc_id"],
                            dataverse_table="systemuser", dataverse_id=form.cleaned_data["dataverse_id"])
        except CouplingConflict as exc:
            messages.error(request, exc.messages[0])
        else:
            messages.success(request, "Coupled the user to the salesperson.")
    return redirect("mappings:salesperson-list", connection_pk=connection.pk)


@require_POST
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def salesperson_create(request: HttpRequest, connection_pk: uuid.UUID) -> HttpResponse:
    connection = get_object_or_404(ConnectionSetup, pk=connection_pk)
    try:
        user_id = uuid.UUID(request.POST.get("dataverse_id", ""))
    except ValueError:
        messages.error(request, "Choose the user to create a salesperson from.")
        return redirect("mappings:salesperson-list", connection_pk=connection.pk)
    try:
        coupling = salesperson_create_from_user(connection=connection, user_id=user_id)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except _client_error_types() as exc:
        messages.error(request, f"The salesperson was not created: {_remote_message(exc)}")
    else:
        messages.success(request, f"Created and coupled salesperson {coupling.bc_id}.")
    return redirect("mappings:salesperson-list", connection_pk=connection.pk)
