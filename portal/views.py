"""Portal-wide views: the dashboard and the health endpoint."""
from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.dashboard import dashboard_context
from portal.health import health_report


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
