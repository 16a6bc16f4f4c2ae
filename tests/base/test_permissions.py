"""One permission helper with named roles: viewers read, integration administrators change."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, Group, User
from django.http import HttpResponse
from django.test import RequestFactory

from base.permissions import Role, RoleRequiredMixin, has_role, is_integration_administrator, role_required

pytestmark = pytest.mark.django_db


@pytest.fixture
def people() -> dict[str, object]:
    viewer = User.objects.create_user("viewer", password="x")
    member = User.objects.create_user("member", password="x")
    member.groups.add(Group.objects.get(name="Integration Administrator"))
    superuser = User.objects.create_superuser("root", password="x")
    inactive = User.objects.create_superuser("gone", password="x", is_active=False)
    return {"viewer": viewer, "member": member, "superuser": superuser, "inactive": inactive,
            "anonymous": AnonymousUser(), "none": None}


@pytest.mark.parametrize(("who", "viewer", "administrator"), [
    ("viewer", True, False), ("member", True, True), ("superuser", True, True),
    ("inactive", False, False), ("anonymous", False, False), ("none", False, False),
])
def test_roles(people: dict[str, object], who: str, viewer: bool, administrator: bool) -> None:
    user = people[who]
    assert has_role(user, Role.VIEWER) is viewer
    assert has_role(user, Role.INTEGRATION_ADMINISTRATOR) is administrator
    assert is_integration_administrator(user) is administrator


def test_decorator_and_mixin_refuse_with_the_reason(people: dict[str, object]) -> None:
    @role_required(Role.INTEGRATION_ADMINISTRATOR)
    def view(request: object) -> HttpResponse:
        return HttpResponse("done")

    class Base:
        def dispatch(self, request: object) -> HttpResponse:
            return HttpResponse("done")

    class View(RoleRequiredMixin, Base):
        required_role = Role.INTEGRATION_ADMINISTRATOR

    request = RequestFactory().post("/")
    request.user = people["viewer"]
    refused = view(request)
    assert refused.status_code == 403 and b"Integration Administrator" in refused.content
    assert View().dispatch(request).status_code == 403
    request.user = people["member"]
    assert view(request).content == b"done"
    assert View().dispatch(request).content == b"done"
