"""Views of the connection setup page (BC: page 5330 CRM Connection Setup) and its actions. Thin: permission
check, form, one service call, redirect with a message. Every mutating action is a POST and needs the Integration
Administrator group."""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from base import crypto
from base.permissions import Role, is_integration_administrator, role_required
from connections import diagnostics, forms
from connections.actions import configuration
from connections.actions.configuration import (
    active_scheduled_jobs_text,
    connection_sales_settings_update,
    connection_save,
    connection_synchronize_modified_records,
    default_configuration_apply,
)
from connections.actions.queue import connection_action_enqueue, connection_action_status
from connections.clients.errors import ClientError
from connections.diagnostics import CheckReport
from connections.fields import BY_NAME, EDITABLE_FIELDS, SALES_SETTINGS
from connections.models import ConnectionAction, ConnectionSetup
from connections.setup import connection_web_client_url_reset
from connections.solution_import import admin_scope, admin_sign_in_finish, admin_sign_in_start
from mappings.bc_endpoints import bc_endpoints_required
from mappings.privileges import table_privileges_required
from syncjobs import services as job_queue_services

View = Callable[..., HttpResponse]


def optional_url(name: str, *args: Any) -> str | None:
    """``reverse(name, args)``, or None when another app does not (yet) provide that page."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def connection_links(connection: ConnectionSetup) -> dict[str, str | None]:
    """URLs of other apps' pages for ``connection`` (mappings, full synchronization review, skipped records, job
    queue entries, Couple Salespersons), None where an app does not provide the page."""
    return {
        "mappings": optional_url("mappings:index"),
        "full_sync_review": optional_url("syncjobs:fullsyncreview-detail", connection.pk),
        "skipped_records": optional_url("syncjobs:skippedrecord-list"),
        "job_queue_entries": optional_url("syncjobs:jobqueueentry-list"),
        "couple_salespersons": optional_url("mappings:salesperson-list", connection.pk),
    }


def index(request: HttpRequest) -> HttpResponse:
    """List the connection setups; with exactly one, open it."""
    connections = list(ConnectionSetup.objects.all())
    if len(connections) == 1 and "list" not in request.GET:
        return redirect("connections:connection-detail", pk=connections[0].pk)
    return render(request, "connections/connectionsetup_list.html", {
        "connections": connections, "can_administer": is_integration_administrator(request.user)})


def _detail_context(request: HttpRequest, connection: ConnectionSetup, **extra: Any) -> dict[str, Any]:
    can_administer = is_integration_administrator(request.user)
    settings_form = extra.pop("settings_form", None) or forms.SalesSettingsForm(
        connection=connection, initial={name: getattr(connection, name) for name in SALES_SETTINGS})
    if not can_administer:
        for field in settings_form.fields.values():
            field.disabled = True
    test_report = CheckReport.from_dict(connection.last_test_report) if connection.last_test_report else None
    try:
        active_jobs = active_scheduled_jobs_text(connection=connection)
    except ImportError:
        active_jobs = "unavailable"
    return {
        "connection": connection,
        "can_administer": can_administer,
        "settings_form": settings_form,
        "test_report": test_report,
        "active_jobs": active_jobs,
        "changes": connection.changes.select_related("user")[:100],
        "actions": connection.actions.select_related("requested_by")[:10],
        "links": connection_links(connection),
        "secrets": [(name, connection.has_secret(name)) for name in connection.SECRET_FIELDS],
        **extra,
    }


def connection_detail(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """The connection setup page: fields, Sales settings, actions, last test, change log."""
    connection = get_object_or_404(ConnectionSetup, pk=pk)
    return render(request, "connections/connectionsetup_detail.html", _detail_context(request, connection))


@role_required(Role.INTEGRATION_ADMINISTRATOR)
def connection_edit(request: HttpRequest, pk: uuid.UUID | None = None) -> HttpResponse:
    """Edit (or create) the connection setup field by field; blank secrets keep the stored values."""
    connection = get_object_or_404(ConnectionSetup, pk=pk) if pk else None
    initial: dict[str, Any] = {}
    if connection is not None:
        initial = {name: getattr(connection, name) for name in EDITABLE_FIELDS}
        initial["bc_company"] = str(connection.bc_company_id or connection.bc_company_name or "")
        if connection.authority_host not in dict(forms.AUTHORITY_HOSTS):
            initial["custom_authority_host"] = connection.authority_host
        initial.pop("connection_string", None)
    form = forms.ConnectionSetupForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = connection_save(connection=connection, data=form.cleaned_data, user=request.user)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "The connection setup was saved.")
            return redirect("connections:connection-detail", pk=saved.pk)
    if form.is_bound:
        messages.error(request, "Nothing was saved: correct the fields marked below.")
    return render(request, "connections/connectionsetup_form.html", {"form": form, "connection": connection})


@require_POST
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def connection_settings(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """Save the Sales settings; the page then shows which mappings and job queue entries were rebuilt."""
    connection = get_object_or_404(ConnectionSetup, pk=pk)
    form = forms.SalesSettingsForm(request.POST, connection=connection,
                                   initial={name: getattr(connection, name) for name in SALES_SETTINGS})
    if form.is_valid():
        data = {name: form.cleaned_data[name] for name in SALES_SETTINGS if name in form.cleaned_data}
        try:
            report = connection_sales_settings_update(connection=connection, user=request.user, data=data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if report.changed:
                messages.success(request, settings_saved_message(report.changed, data))
            else:
                messages.info(request, "Nothing changed.")
            return render(request, "connections/connectionsetup_detail.html",
                          _detail_context(request, connection, rebuilds=report.rebuilds, settings_saved=True))
    messages.error(request, "The Sales settings were not saved: " + " ".join(
        str(error) for errors in form.errors.values() for error in errors))
    return render(request, "connections/connectionsetup_detail.html",
                  _detail_context(request, connection, settings_form=form), status=400)


def settings_saved_message(changed: list[str], data: dict[str, Any]) -> str:
    """"Saved: <label> turned on/off, …" for the Sales settings that actually changed, each with its new value
    (labels from :mod:`connections.fields`)."""
    parts = []
    for name in changed:
        value = data.get(name)
        state = ("turned on" if value else "turned off") if isinstance(value, bool) else f"set to {value}"
        parts.append(f"{BY_NAME[name].label if name in BY_NAME else name.replace('_', ' ')} {state}")
    return f"Saved: {', '.join(parts)}."


@require_POST
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def connection_test(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """Test Connection; the page shows each step and, for a failure, the layer and the fix. With mappings, it also
    checks the integration user's privileges on their tables (``mappings.privileges``)."""
    connection = get_object_or_404(ConnectionSetup, pk=pk)
    report = diagnostics.connection_test(connection=connection, user=request.user,
                                         required_privileges=table_privileges_required(connection=connection) or None,
                                         bc_endpoints=bc_endpoints_required(connection=connection))
    if report.ok:
        messages.success(request, "The connection test succeeded.")
    else:
        step = report.failed_step
        messages.error(request, f"The connection test failed at “{step.name}”: {step.message} {step.fix}".strip())
    return redirect("connections:connection-detail", pk=pk)


def connectionaction_redirect(request: HttpRequest, action: ConnectionAction) -> HttpResponse:
    """Redirect to the action's status page, saying whether it was started or another one is still running."""
    if action.created:
        messages.info(request, f"{action.get_kind_display()} started on a worker; this page shows its progress.")
    else:
        messages.warning(request, f"{action.get_kind_display()} is already {action.get_status_display().lower()} "
                         "for this connection: its progress is shown here; start another action when it has ended.")
    return redirect("connections:connectionaction-detail", pk=action.connection_id, action_pk=action.pk)


@require_POST
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def connection_enable(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """Enable: test, then default configuration or restore job queue entries (BC: table 5330 CRM Connection Setup,
    Is Enabled := true), on a worker."""
    connection = get_object_or_404(ConnectionSetup, pk=pk)
    action = connection_action_enqueue(connection=connection, kind=ConnectionAction.Kind.ENABLE,
                                                user=request.user)
    return connectionaction_redirect(request, action)


@require_http_methods(["GET", "POST"])
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def connection_disable(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """Disable: GET asks first, saying what changes (job queue entries put On Hold, mappings that stop); POST job
    queue entries go On Hold (BC: table 5330 CRM Connection Setup, Is Enabled := false). A reason over 250 characters
    is a form error on the confirmation page and nothing is disabled."""
    connection = get_object_or_404(ConnectionSetup, pk=pk)
    form = forms.DisableForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form.is_valid():
            count = configuration.connection_disable(connection=connection, user=request.user,
                                                     reason=form.cleaned_data["reason"])
            messages.success(request, f"The connection is disabled; {count} job queue entries are On Hold.")
            return redirect("connections:connection-detail", pk=pk)
        messages.error(request, "The connection was not disabled: correct the reason below.")
    return render(request, "connections/connectionsetup_confirm_disable.html", {
        "connection": connection, "form": form, "impact": job_queue_services.connection_disable_impact(
            connection=connection)}, status=400 if form.is_bound else 200)


#: Session key of the administrator's sign-in under way: msal's flow (encrypted: it holds the PKCE verifier), the
#: connection, and the action to start with the token (kind and Finish's non-secret options).
ADMIN_SIGNIN_SESSION_KEY = "connections.admin_signin"
#: Seconds a sign-in may take from the redirect to Microsoft until the callback (authorization codes live about
#: 10 minutes: Microsoft Learn "Microsoft identity platform and OAuth 2.0 authorization code flow").
ADMIN_SIGNIN_MAX_AGE = 900


def admin_signin_redirect(request: HttpRequest, connection: ConnectionSetup, *, kind: str,
                          options: dict[str, Any] | None = None) -> HttpResponse:
    """Send the browser to Microsoft's sign-in for the Dataverse administrator ("Sign in with Microsoft"): the
    authorization code flow with PKCE (:func:`connections.solution_import.admin_sign_in_start`), whose flow stays in
    the session, encrypted, until :func:`admin_signin_callback` runs ``kind`` (Redeploy, or the assisted setup's
    Finish with ``options``) with the token. A sign-in that cannot start shows why, with the fix."""
    redirect_uri = request.build_absolute_uri(reverse("connections:admin-signin-callback"))
    try:
        flow = admin_sign_in_start(connection=connection, redirect_uri=redirect_uri)
    except ClientError as error:
        return _signin_failed(request, connection, kind, error.message, error.fix)
    request.session[ADMIN_SIGNIN_SESSION_KEY] = {
        "flow": crypto.encrypt(json.dumps(flow)), "connection": str(connection.pk), "kind": str(kind),
        "options": json.dumps(options or {}, cls=DjangoJSONEncoder), "started": time.time()}
    return redirect(flow["auth_uri"])


def _signin_failed(request: HttpRequest, connection: ConnectionSetup | None, kind: str, message: str,
                   fix: str = "") -> HttpResponse:
    return render(request, "connections/connectionsetup_signin_failed.html", {
        "connection": connection, "message": message, "fix": fix,
        "finish": kind == ConnectionAction.Kind.FINISH}, status=400)


@role_required(Role.INTEGRATION_ADMINISTRATOR)
def connection_redeploy_solution(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """Redeploy Integration Solution: "Sign in with Microsoft" as a Dataverse administrator (POST), then the import
    runs on a worker with that sign-in's token, used once (:func:`admin_signin_callback`)."""
    connection = get_object_or_404(ConnectionSetup, pk=pk)
    if request.method == "POST":
        return admin_signin_redirect(request, connection, kind=ConnectionAction.Kind.REDEPLOY)
    return render(request, "connections/connectionsetup_solution.html", {"connection": connection})


@require_GET
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def admin_signin_callback(request: HttpRequest) -> HttpResponse:
    """Microsoft's answer to the administrator's sign-in (the redirect URI registered on the app registration):
    redeem the code with the session's flow (:func:`connections.solution_import.admin_sign_in_finish`), then start
    the action the sign-in was for with the token and open its status page. A cancelled consent, a state mismatch, an
    expired or already used sign-in show what happened and what to do (HTTP 400), never an error page."""
    pending = request.session.pop(ADMIN_SIGNIN_SESSION_KEY, None)
    if not isinstance(pending, dict):
        return _signin_failed(request, None, "", "No sign-in is waiting: it was already used, or it was started in "
                              "another browser session.", "Start the import again from the connection page.")
    connection = ConnectionSetup.objects.filter(pk=pending.get("connection")).first()
    kind = str(pending.get("kind") or "")
    if connection is None:
        return _signin_failed(request, None, kind, "The connection setup of this sign-in no longer exists.")
    if time.time() - float(pending.get("started") or 0) > ADMIN_SIGNIN_MAX_AGE:
        return _signin_failed(request, connection, kind, "The sign-in took too long and has expired.",
                              "Sign in again.")
    try:
        tokens = admin_sign_in_finish(connection=connection, flow=json.loads(crypto.decrypt(pending["flow"])),
                                      response=request.GET.dict())
    except ClientError as error:
        code = f" ({error.code})" if error.code else ""
        return _signin_failed(request, connection, kind, f"The sign-in did not succeed{code}: {error.message}",
                              error.fix)
    try:
        action = connection_action_enqueue(
            connection=connection, kind=kind, user=request.user, options=json.loads(pending.get("options") or "{}"),
            admin_token=tokens.token(admin_scope(connection)), admin_account=tokens.account)
    except ValidationError as error:
        return _signin_failed(request, connection, kind, " ".join(error.messages))
    return connectionaction_redirect(request, action)


def _action_context(action: ConnectionAction) -> dict[str, Any]:
    status = connection_action_status(action=action)
    return {
        "action": action, "connection": action.connection, "status": status,
        "report": CheckReport.from_dict(action.report or {}), "links": connection_links(action.connection),
    }


def _action_or_404(pk: uuid.UUID, action_pk: uuid.UUID) -> ConnectionAction:
    return get_object_or_404(ConnectionAction.objects.select_related("connection", "requested_by"),
                             pk=action_pk, connection_id=pk)


@require_GET
def connectionaction_detail(request: HttpRequest, pk: uuid.UUID, action_pk: uuid.UUID) -> HttpResponse:
    """The status page of a Finish / Enable / Redeploy action: its checklist, refreshed from
    :func:`connectionaction_status` by static/connections/action.js until it ends; then the next pages or the fix."""
    action = _action_or_404(pk, action_pk)
    return render(request, "connections/connectionaction_detail.html", _action_context(action))


@never_cache
@require_GET
def connectionaction_status(request: HttpRequest, pk: uuid.UUID, action_pk: uuid.UUID) -> JsonResponse:
    """JSON of the action's status (:func:`connections.actions.queue.connection_action_status`), polled by its page."""
    action = _action_or_404(pk, action_pk)
    return JsonResponse(connection_action_status(action=action))


@role_required(Role.INTEGRATION_ADMINISTRATOR)
def connection_default_setup(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """Use Default Synchronization Setup, after confirmation (replaces mappings and job queue entries)."""
    connection = get_object_or_404(ConnectionSetup, pk=pk)
    form = forms.ConfirmForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            lines = default_configuration_apply(connection=connection, user=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, "The default synchronization setup was applied.")
            return render(request, "connections/connectionsetup_detail.html",
                          _detail_context(request, connection, rebuilds=lines))
    return render(request, "connections/connectionsetup_confirm.html", {"connection": connection, "form": form})


@require_POST
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def connection_synchronize_modified(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """Synchronize Modified Records: one-off run per mapping in BC's priority order."""
    connection = get_object_or_404(ConnectionSetup, pk=pk)
    try:
        count = connection_synchronize_modified_records(connection=connection, user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{count} mappings were queued for synchronization of modified records.")
    return redirect("connections:connection-detail", pk=pk)


@require_POST
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def connection_reset_web_client_url(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """Reset the BC web client URL to the one derived from the API URL."""
    connection = get_object_or_404(ConnectionSetup, pk=pk)
    url = connection_web_client_url_reset(connection=connection, user=request.user)
    messages.success(request, f"The Business Central web client URL is now {url or '(empty)'}.")
    if connection.is_enabled:  # Sales opens coupled records at the new URL (the bcp_connection row)
        step = configuration.connection_bc_connection_row_update(connection=connection, user=request.user)
        if not step.ok:
            messages.error(request, f"{step.message} {step.fix}")
    return redirect("connections:connection-detail", pk=pk)
