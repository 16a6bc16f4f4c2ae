"""Views of the integration table mappings."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from mappings.models import IntegrationTableMapping


def index(request: HttpRequest) -> HttpResponse:
    """List the integration table mappings."""
    mappings = IntegrationTableMapping.objects.select_related("connection")
    return render(request, "mappings/integrationtablemapping_list.html", {"mappings": mappings})
