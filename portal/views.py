"""Portal-wide views: the dashboard, the audit trail and the health and metrics endpoints."""
from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.audit_trail import audit_trail_context
from portal.dashboard import dashboard_context
from portal.health import health_report
from portal.metrics import metrics_text, token_accepted


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Report database, Redis and live RQ workers; 200 when all are up, 503 otherwise (no sign-in needed)."""
    report, healthy = health_report()
    return JsonResponse(report, status=200 if healthy else 503)


def dashboard(request: HttpRequest) -> HttpResponse:
    """The portal's home page."""
    return render(request, "portal/dashboard.html", dashboard_context())


@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    """The audit trail: who changed which setting, mapping, field mapping or job queue entry, when, before and after
    (:mod:`portal.audit_trail`); every signed-in user may read it, secrets are masked when recorded."""
    return render(request, "portal/audit_log.html", audit_trail_context(request.GET, request.GET.get("page")))


@login_not_required
@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format (:mod:`portal.metrics`) for a signed-in user or the ``METRICS_TOKEN`` bearer token;
    401 otherwise."""
    if not (request.user.is_authenticated or token_accepted(request.headers.get("Authorization", ""))):
        response = HttpResponse("Sign in, or send Authorization: Bearer <METRICS_TOKEN>.\n", status=401,
                                content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics_text(), content_type="text/plain; version=0.0.4; charset=utf-8")
