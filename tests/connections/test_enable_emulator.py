"""Redeploy Integration Solution, Enable and Disable from the page against the emulators (reference 1.2, 1.3):
the solution import assigns the integration roles with administrator credentials used once; enabling applies the
default configuration when none exists and restores held job queue entries otherwise."""
from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from connections.models import ConnectionSetup
from connections.solution import INTEGRATION_ROLES
from syncjobs.models import JobQueueEntry
from tests.connections.conftest import admin_dataverse

pytestmark = pytest.mark.django_db


def test_enable_needs_the_solution_then_applies_defaults_and_re_enable_restores(
        admin_client: Any, emulated_connection: ConnectionSetup, emulator_info: dict[str, Any]) -> None:
    pk = emulated_connection.pk
    refused = admin_client.post(reverse("connections:connection-enable", args=[pk]), follow=True).content.decode()
    assert "stays disabled" in refused
    emulated_connection.refresh_from_db()
    assert not emulated_connection.is_enabled and not emulated_connection.mappings.exists()

    wrong = admin_client.post(reverse("connections:connection-redeploy-solution", args=[pk]),
                              {"admin_username": emulator_info["admin_user"], "admin_password": "wrong-password"})
    body = wrong.content.decode()
    assert "AADSTS50126" in body and "wrong-password" not in body
    imported = admin_client.post(reverse("connections:connection-redeploy-solution", args=[pk]),
                                 {"admin_username": emulator_info["admin_user"],
                                  "admin_password": emulator_info["admin_password"]}, follow=True)
    assert "integration roles assigned" in imported.content.decode()
    assert emulator_info["admin_password"] not in imported.content.decode()
    roles = {str(r["roleid"]).lower() for r in admin_dataverse(emulator_info).iter_rows(
        f"systemusers({emulator_info['application_user_id']})/systemuserroles_association", select=["roleid"])}
    assert {str(role_id) for role_id in INTEGRATION_ROLES} <= roles

    enabled = admin_client.post(reverse("connections:connection-enable", args=[pk]), follow=True).content.decode()
    assert "The connection is enabled." in enabled
    emulated_connection.refresh_from_db()
    assert emulated_connection.is_enabled and emulated_connection.mappings.exists()
    entries = JobQueueEntry.objects.filter(connection=emulated_connection, recurring_job=True)
    assert entries.exists() and not entries.filter(status=JobQueueEntry.Status.ON_HOLD).exists()

    admin_client.post(reverse("connections:connection-disable", args=[pk]), {"reason": "test"})
    assert set(entries.values_list("status", flat=True)) == {JobQueueEntry.Status.ON_HOLD}
    mapping_ids = set(emulated_connection.mappings.values_list("pk", flat=True))
    admin_client.post(reverse("connections:connection-enable", args=[pk]))
    emulated_connection.refresh_from_db()
    assert emulated_connection.is_enabled and emulated_connection.disable_reason == ""
    assert set(emulated_connection.mappings.values_list("pk", flat=True)) == mapping_ids  # kept, not rebuilt
    assert not entries.filter(status=JobQueueEntry.Status.ON_HOLD).exists()
