"""Who may do what in the portal: two named roles, one check, one decorator and one mixin that every view uses.

* :attr:`Role.VIEWER`: any active, signed-in user. Sees every page read-only.
* :attr:`Role.INTEGRATION_ADMINISTRATOR`: active superusers, members of the "Integration Administrator" group, and
  users holding the permission ``connections.administer_connectionsetup`` (the group's permission, created by the
  migration ``connections.0002_integration_administrator_group``). Changes connections, mappings, couplings, job queue
  entries and full synchronizations.

BC has the same split: the "D365 Sales Integration" permission set may read, the integration administrator sets up.
"""
from __future__ import annotations

import enum
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.mixins import AccessMixin
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden

#: The group whose members administer the integration (created by a migration of the connections app).
INTEGRATION_ADMINISTRATOR_GROUP = "Integration Administrator"
#: The model permission the group holds, as ``app_label.codename``.
ADMINISTER_PERMISSION = "connections.administer_connectionsetup"


class Role(enum.Enum):
    """The portal's roles, weakest first."""

    VIEWER = "viewer"
    INTEGRATION_ADMINISTRATOR = "integration administrator"

    @property
    def refusal(self) -> str:
        """The 403 message for a user who lacks this role: what is needed and whom to ask."""
        if self is Role.VIEWER:
            return "Sign in to use the portal."
        return (f'Only members of the "{INTEGRATION_ADMINISTRATOR_GROUP}" group can change the integration; ask one '
                "of them or an administrator.")


def has_role(user: Any, role: Role) -> bool:
    """Whether ``user`` (a Django user, anonymous or ``None``) holds ``role``. Inactive users hold no role."""
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return False
    if role is Role.VIEWER:
        return True
    if user.is_superuser or user.has_perm(ADMINISTER_PERMISSION):
        return True
    return user.groups.filter(name=INTEGRATION_ADMINISTRATOR_GROUP).exists()


def is_integration_administrator(user: Any) -> bool:
    """Shorthand for ``has_role(user, Role.INTEGRATION_ADMINISTRATOR)``, for templates' ``can_change`` flags."""
    return has_role(user, Role.INTEGRATION_ADMINISTRATOR)


def role_required(role: Role) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Decorator for function views: answer 403 with :attr:`Role.refusal` to a user without ``role``."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not has_role(request.user, role):
                return HttpResponseForbidden(role.refusal)
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


class RoleRequiredMixin(AccessMixin):
    """Mixin for class-based views: set ``required_role``; a user without it gets 403 with the role's refusal."""

    required_role: Role = Role.INTEGRATION_ADMINISTRATOR

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not has_role(request.user, self.required_role):
            return HttpResponseForbidden(self.required_role.refusal)
        return super().dispatch(request, *args, **kwargs)
