"""JSON that the progress pages poll while something runs (``static/syncjobs/progress.js``): one synchronization
job's progress, and a match-based coupling job's progress with its new coupling log lines.

Thin views: look up, validate the query, call :mod:`syncjobs.progress`. Bad query values get HTTP 400 with an
``error`` naming what to fix; never cached.
"""
from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from mappings.models import IntegrationTableMapping
from syncjobs.models import SynchronizationJob
from syncjobs.progress import coupling_log_lines, job_progress


@never_cache
@require_GET
def synchronizationjob_progress(request: HttpRequest, job_id: Any) -> JsonResponse:
    """``{"job": <job_progress>, "error_count": n}`` of one synchronization job (404 for an unknown job)."""
    job = get_object_or_404(SynchronizationJob.objects.select_related("table_mapping"), pk=job_id)
    return JsonResponse({"job": job_progress(job), "error_count": job.errors.count()})


def _bad(message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=400)


@never_cache
@require_GET
def couplinglog_progress(request: HttpRequest, pk: Any) -> JsonResponse:
    """The coupling job ``?job=<id>`` of mapping ``pk``: ``{"job": <job_progress>, "lines": [...], "last": n}`` with
    the log lines after sequence ``?after=n`` (default 0), only those of ``?outcome=`` when given
    (:func:`syncjobs.progress.coupling_log_lines`); ``last`` is the highest sequence returned (or ``after``)."""
    mapping = get_object_or_404(IntegrationTableMapping, pk=pk)
    try:
        job_id = uuid.UUID(request.GET.get("job", ""))
    except ValueError:
        return _bad("job must be the id of a coupling job of this mapping")
    after_text = request.GET.get("after", "0") or "0"
    if not (after_text.isascii() and after_text.isdigit()) or len(after_text) > 9:
        return _bad("after must be 0 or a coupling log sequence number")
    job = get_object_or_404(SynchronizationJob.objects.select_related("table_mapping"), pk=job_id,
                            table_mapping=mapping, type=SynchronizationJob.Type.COUPLING)
    try:
        lines = coupling_log_lines(job=job, after=int(after_text), outcome=request.GET.get("outcome", ""))
    except ValueError as exc:
        return _bad(str(exc))
    last = lines[-1]["sequence"] if lines else int(after_text)
    return JsonResponse({"job": job_progress(job), "lines": lines, "last": last})
