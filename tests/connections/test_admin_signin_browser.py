"""Redeploy Integration Solution in a real browser (Playwright + Debian Chromium): the integration administrator signs
in to the portal, presses "Sign in with Microsoft", lands on the Entra emulator's sign-in page, signs in as the
seeded Dataverse administrator and accepts, comes back to the action's status page, and the import succeeds (the
solution is listed in Dataverse)."""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import django_rq
import pytest
from rq import SimpleWorker

from connections.models import ConnectionAction
from connections.solution import SOLUTION_UNIQUE_NAME
from tests.conftest import chromium_page, sign_in
from tests.connections.conftest import admin_dataverse
from tests.connections.test_connection_actions import emptied_default_queue


@pytest.fixture
def default_queue(db: Any) -> Iterator[Any]:
    yield from emptied_default_queue()


@pytest.fixture
def signin_page(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A browser page that also accepts the emulators' test CA (the sign-in page is served by the Entra emulator over
    HTTPS); otherwise as ``tests.conftest.browser_page``."""
    with chromium_page(live_server, monkeypatch, ignore_https_errors=True) as page:
        yield page


@pytest.fixture
def integrator(django_user_model: Any) -> Any:
    """A non-superuser in the "Integration Administrator" group (the group is created again when an earlier
    transactional test flushed the one the migration made)."""
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user("integrator", "integrator@example.com", "integrator-password-123")
    user.groups.add(Group.objects.get_or_create(name="Integration Administrator")[0])
    return user


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_redeploy_with_microsoft_sign_in(signin_page: Any, emulator_info: dict[str, Any], emulated_connection: Any,
                                         integrator: Any, default_queue: Any) -> None:
    integration_administrator = integrator
    page = signin_page
    info = emulator_info
    query = {"select": ["uniquename"], "filter": f"uniquename eq '{SOLUTION_UNIQUE_NAME}'"}
    assert not list(admin_dataverse(info).iter_rows("solutions", **query))  # not there before the import
    sign_in(page, "integrator", "integrator-password-123")
    page.goto(f"/connections/{emulated_connection.pk}/solution/")
    page.click("#signin-microsoft")

    page.wait_for_selector("#accept")
    assert page.url.startswith(info["entra_authority"] + "/oauth2/v2.0/authorize")
    assert "user_impersonation" in page.inner_text("body")
    page.fill("#login", info["admin_user"])
    page.fill("#passwd", info["admin_password"])
    page.click("#accept")

    page.wait_for_selector("#action-progress")
    assert "/actions/" in page.url
    queue = django_rq.get_queue("default")
    deadline = time.monotonic() + 120
    while page.get_attribute("#action-progress", "data-done") != "true":
        assert time.monotonic() < deadline, page.inner_text("#action-progress")
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
        page.wait_for_timeout(500)
    assert page.inner_text("#action-outcome") == "Succeeded", page.inner_text("#action-progress")
    assert info["admin_password"] not in page.content()
    action = ConnectionAction.objects.get()
    assert action.kind == ConnectionAction.Kind.REDEPLOY and action.requested_by == integration_administrator
    assert action.admin_password == ""

    assert list(admin_dataverse(info).iter_rows("solutions", **query))
    page.goto(f"/connections/{emulated_connection.pk}/")
    assert page.inner_text("#solution-installed").startswith("Yes")
