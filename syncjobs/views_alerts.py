"""The Alerts page: alert rules per integration table mapping (add, edit, delete after confirmation) and the alerts
they raised, with Resume for a mapping an alert paused (thin views: look up, validate, call one service, redirect).

Viewing needs a signed-in user; every change needs the Integration Administrator role (BC has no such page; the
rules are an improvement on BC's job queue error notifications, see :mod:`syncjobs.alerts`).
"""
from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from base.permissions import Role, is_integration_administrator, role_required
from mappings.models import IntegrationTableMapping
from syncjobs import alerts, services
from syncjobs.forms_alerts import AlertRuleForm
from syncjobs.models import Alert, AlertRule


def _mapping_filter(request: HttpRequest) -> IntegrationTableMapping | None:
    """The mapping named by ``?mapping=<id>`` (None when absent or not a mapping id)."""
    try:
        mapping_id = uuid.UUID(request.GET.get("mapping", ""))
    except ValueError:
        return None
    return IntegrationTableMapping.objects.select_related("connection").filter(pk=mapping_id).first()


def _list_url(mapping_id: Any | None) -> str:
    url = reverse("syncjobs:alert-list")
    return f"{url}?mapping={mapping_id}" if mapping_id else url


@require_GET
def alert_list(request: HttpRequest) -> HttpResponse:
    """Alert rules (of ``?mapping=<id>`` or all) and the latest alerts, open ones first."""
    mapping = _mapping_filter(request)
    rules = list(alerts.rules_of(mapping=mapping))
    raised = alerts.recent_alerts(mapping=mapping)
    return render(request, "syncjobs/alert_list.html", {
        "mapping": mapping, "rules": rules, "alerts": raised,
        "can_change": is_integration_administrator(request.user),
    })


@require_http_methods(["GET", "POST"])
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def alertrule_create(request: HttpRequest) -> HttpResponse:
    """Add an alert rule (``?mapping=<id>`` preselects the mapping)."""
    mapping = _mapping_filter(request)
    form = AlertRuleForm(request.POST or None, initial={"table_mapping": mapping.pk if mapping else None})
    if request.method == "POST" and form.is_valid():
        rule = form.save()
        messages.success(request, f"Alert rule '{rule.name}' of {rule.table_mapping.name} was added.")
        return redirect(_list_url(rule.table_mapping_id))
    return render(request, "syncjobs/alertrule_form.html", {"form": form, "rule": None, "mapping": mapping})


@require_http_methods(["GET", "POST"])
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def alertrule_update(request: HttpRequest, rule_id: int) -> HttpResponse:
    """Change an alert rule."""
    rule = get_object_or_404(AlertRule.objects.select_related("table_mapping__connection"), pk=rule_id)
    form = AlertRuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        rule = form.save()
        messages.success(request, f"Alert rule '{rule.name}' was saved.")
        return redirect(_list_url(rule.table_mapping_id))
    return render(request, "syncjobs/alertrule_form.html", {"form": form, "rule": rule, "mapping": rule.table_mapping})


@require_http_methods(["GET", "POST"])
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def alertrule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    """GET asks for confirmation; POST deletes the rule (its alerts stay in the history, and a mapping it paused can
    still be resumed)."""
    rule = get_object_or_404(AlertRule.objects.select_related("table_mapping__connection"), pk=rule_id)
    if request.method == "POST":
        mapping_id, name = rule.table_mapping_id, rule.name
        with transaction.atomic():
            rule.delete()
        messages.success(request, f"Alert rule '{name}' was deleted.")
        return redirect(_list_url(mapping_id))
    context = {"rule": rule, "open_alerts": rule.alerts.filter(resolved_at__isnull=True).count(),
               "paused": rule.alerts.filter(paused=True, resumed_at__isnull=True).exists()}
    return render(request, "syncjobs/alertrule_confirm_delete.html", context)


@require_POST
@role_required(Role.INTEGRATION_ADMINISTRATOR)
def alert_resume(request: HttpRequest, alert_id: int) -> HttpResponse:
    """Resume the mapping that ``alert`` paused: its entries Ready and a catch-up run at once."""
    alert = get_object_or_404(Alert.objects.select_related("table_mapping__connection"), pk=alert_id)
    mapping = alert.table_mapping
    try:
        entry = alerts.mapping_resume(mapping=mapping, user_name=request.user.get_username())
    except alerts.ResumeRefused as exc:
        messages.error(request, str(exc))
    except services.ConnectionDisabled as exc:
        messages.error(request, exc.as_html())
    except services.JobQueueEntryBusy as exc:
        messages.success(request, f"{mapping.name} was resumed; its catch-up run waits: {exc}")
    else:
        if entry is None:
            messages.success(request, f"{mapping.name} was resumed; it has no recurring synchronization entry to run.")
        else:
            messages.success(request, f"{mapping.name} was resumed: '{entry.description.strip()}' is Ready and a "
                             "catch-up run started; it synchronizes everything changed while the mapping was paused.")
    return redirect(_list_url(mapping.pk if request.GET.get("mapping") else None))
