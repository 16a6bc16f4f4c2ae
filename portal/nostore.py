"""``Cache-Control: no-store`` on every page served to a signed-in user.

Pages of the portal show connection settings (secret fields among them, never filled in), record names and
synchronization errors; none of it may stay in a browser's or a proxy's cache after sign-out (OWASP "Session
Management Cheat Sheet", "Web Content Caching"). Static files and the anonymous sign-in page are not affected.
"""
from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers


class NoStoreForSignedInMiddleware:
    """Adds ``Cache-Control: max-age=0, no-cache, no-store, must-revalidate, private`` (Django's
    ``add_never_cache_headers``) to every response for an authenticated user, to every answer to a POST and to
    every HTML page (the sign-in page included)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated) or request.method == "POST" or \
                response.get("Content-Type", "").startswith("text/html"):
            add_never_cache_headers(response)
        return response
