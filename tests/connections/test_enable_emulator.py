"""Redeploy Integration Solution, Enable and Disable from the page against the emulators (BC: page and table 5330
CRM Connection Setup): Enable and Redeploy run on an RQ worker (here rq's SimpleWorker in this process); the solution
import assigns the integration roles with the administrator's sign-in with Microsoft, used once; enabling applies the
default configuration when none exists and restores held job queue entries otherwise."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse

from connections.models import ConnectionAction, ConnectionSetup
from connections.solution import INTEGRATION_ROLES
from syncjobs.models import JobQueueEntry
from tests.connections.admin_signin import HOST, callback_after_sign_in
from tests.connections.conftest import admin_dataverse
from tests.connections.test_connection_actions import emptied_default_queue, work

pytestmark = pytest.mark.django_db


@pytest.fixture
def default_queue(db: Any) -> Iterator[Any]:
    """The emptied RQ ``default`` queue the connection actions are enqueued on."""
    yield from emptied_default_queue()


def _post_and_work(client: Any, queue: Any, url: str, data: dict[str, str] | None = None) -> tuple[Any, str]:
    """POST an action, check it only queued work, run the queue (as a worker would) and return the action and its
    status page."""
    return _work(client, queue, client.post(url, data or {}))


def _work(client: Any, queue: Any, response: Any) -> tuple[Any, str]:
    """After ``response`` (a redirect to an action's status page), run the queue and return the action and page."""
    assert response.status_code == 302 and "/actions/" in response["Location"]
    action = ConnectionAction.objects.order_by("-created_at").first()
    assert action.status == ConnectionAction.Status.QUEUED  # nothing ran in the request
    work(queue)
    action.refresh_from_db()
    return action, client.get(response["Location"]).content.decode()


@pytest.mark.django_db(transaction=True)
def test_enable_needs_the_solution_then_applies_defaults_and_re_enable_restores(
        admin_client: Any, emulated_connection: ConnectionSetup, emulator_info: dict[str, Any],
        default_queue: Any, settings: Any) -> None:
    settings.ALLOWED_HOSTS = [HOST, "testserver"]
    pk = emulated_connection.pk
    enable_url = reverse("connections:connection-enable", args=[pk])
    solution_url = reverse("connections:connection-redeploy-solution", args=[pk])
    refused, page = _post_and_work(admin_client, default_queue, enable_url)
    assert refused.status == ConnectionAction.Status.FAILED and "stays disabled" in refused.message
    assert "stays disabled" in page and "Integration solution installed" in page
    emulated_connection.refresh_from_db()
    assert not emulated_connection.is_enabled and not emulated_connection.mappings.exists()

    # The administrator cancels on Microsoft's page: the portal says so, and nothing is queued.
    declined = callback_after_sign_in(admin_client, admin_client.post(solution_url, HTTP_HOST=HOST), emulator_info,
                                      consent="cancel")
    assert declined.status_code == 400 and "AADSTS65004" in declined.content.decode()
    assert not ConnectionAction.objects.filter(kind=ConnectionAction.Kind.REDEPLOY).exists()
    signed_in = callback_after_sign_in(admin_client, admin_client.post(solution_url, HTTP_HOST=HOST), emulator_info)
    imported, page = _work(admin_client, default_queue, signed_in)
    assert imported.status == ConnectionAction.Status.SUCCEEDED
    assert "integration roles assigned" in page
    assert (imported.admin_username, imported.admin_password) == ("", "")
    roles = {str(r["roleid"]).lower() for r in admin_dataverse(emulator_info).iter_rows(
        f"systemusers({emulator_info['application_user_id']})/systemuserroles_association", select=["roleid"])}
    assert {str(role_id) for role_id in INTEGRATION_ROLES} <= roles

    enabled, page = _post_and_work(admin_client, default_queue, enable_url)
    assert enabled.status == ConnectionAction.Status.SUCCEEDED and enabled.message == "The connection is enabled."
    assert 'data-step="Default configuration" data-status="ok"' in page
    emulated_connection.refresh_from_db()
    assert emulated_connection.is_enabled and emulated_connection.mappings.exists()
    entries = JobQueueEntry.objects.filter(connection=emulated_connection, recurring_job=True)
    assert entries.exists() and not entries.filter(status=JobQueueEntry.Status.ON_HOLD).exists()

    admin_client.post(reverse("connections:connection-disable", args=[pk]), {"reason": "test"})
    assert set(entries.values_list("status", flat=True)) == {JobQueueEntry.Status.ON_HOLD}
    mapping_ids = set(emulated_connection.mappings.values_list("pk", flat=True))
    again, _ = _post_and_work(admin_client, default_queue, enable_url)
    assert again.status == ConnectionAction.Status.SUCCEEDED
    emulated_connection.refresh_from_db()
    assert emulated_connection.is_enabled and emulated_connection.disable_reason == ""
    assert set(emulated_connection.mappings.values_list("pk", flat=True)) == mapping_ids  # kept, not rebuilt
    assert not entries.filter(status=JobQueueEntry.Status.ON_HOLD).exists()
    # The connection page lists the four actions with their outcome (the sign-in cancelled on Microsoft's page
    # queued none).
    listed = admin_client.get(reverse("connections:connection-detail", args=[pk])).content.decode()
    section = listed.split('id="recent-actions"')[1].split("</section>")[0]
    assert section.count("data-action=") == 4 and section.count(">Succeeded<") == 3 and section.count(">Failed<") == 1
