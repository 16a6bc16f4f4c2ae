"""Views of the connection setup."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from connections.models import ConnectionSetup


def index(request: HttpRequest) -> HttpResponse:
    """List the connection setups."""
    return render(request, "connections/connectionsetup_list.html", {"connections": ConnectionSetup.objects.all()})
