"""Who may change mappings and couplings: superusers and members of the "Integration Administrator" group."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden

INTEGRATION_ADMINISTRATOR_GROUP = "Integration Administrator"


def can_change_mappings(user: Any) -> bool:
    """True for active superusers and members of the "Integration Administrator" group; others see read-only pages."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(user.is_superuser or user.groups.filter(name=INTEGRATION_ADMINISTRATOR_GROUP).exists())


def require_change_permission(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Decorator for mutating views: 403 with the reason for users who may not change mappings."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not can_change_mappings(request.user):
            return HttpResponseForbidden(f'Only members of the "{INTEGRATION_ADMINISTRATOR_GROUP}" group can change '
                                         "mappings and couplings; ask one of them or an administrator.")
        return view(request, *args, **kwargs)

    return wrapped
