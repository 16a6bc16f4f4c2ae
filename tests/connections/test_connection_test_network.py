"""Test Connection failures below HTTP, against real sockets: DNS, refused connection, outbound URL refused,
incomplete settings. Each names its layer and the fix; the page never shows a stack trace or a 500."""
from __future__ import annotations

import socket
from typing import Any

import pytest
from django.urls import reverse

from connections.diagnostics import connection_test
from connections.models import ConnectionSetup

pytestmark = pytest.mark.django_db


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_dns_failure_names_the_layer(connection: ConnectionSetup) -> None:
    ConnectionSetup.objects.filter(pk=connection.pk).update(dataverse_url="https://nonexistent.invalid",
                                                            authority_host="https://nonexistent.invalid")
    connection.refresh_from_db()
    report = connection_test(connection=connection, timeout=5)
    assert not report.ok
    assert report.failing_layer == "dns"
    assert report.failed_step.name == "Sign in to Microsoft Entra ID"
    assert "does not resolve" in report.failed_step.fix


def test_refused_connection_names_the_layer(connection: ConnectionSetup, settings: Any) -> None:
    port = _free_port()
    settings.OUTBOUND_ALLOWED_HOSTS = [f"127.0.0.1:{port}"]
    ConnectionSetup.objects.filter(pk=connection.pk).update(dataverse_url=f"https://127.0.0.1:{port}",
                                                            authority_host=f"https://127.0.0.1:{port}")
    connection.refresh_from_db()
    report = connection_test(connection=connection, timeout=5)
    assert report.failing_layer == "connection"
    assert "Nothing answered" in report.failed_step.fix


def test_private_address_is_refused_before_any_request(connection: ConnectionSetup, settings: Any) -> None:
    settings.OUTBOUND_ALLOWED_HOSTS = []
    ConnectionSetup.objects.filter(pk=connection.pk).update(dataverse_url="https://127.0.0.1:1")
    connection.refresh_from_db()
    report = connection_test(connection=connection, timeout=5)
    assert report.failed_step.name == "Outbound URLs allowed"
    assert report.failing_layer == "outbound"
    assert "OUTBOUND_ALLOWED_HOSTS" in report.failed_step.fix


def test_missing_settings_are_named(connection: ConnectionSetup) -> None:
    connection.client_secret = ""
    connection.tenant_id = ""
    report = connection_test(connection=connection, save=False)
    assert report.failing_layer == "configuration"
    assert "Enter the tenant ID." in report.failed_step.message
    assert "Enter the client secret." in report.failed_step.message


def test_page_shows_the_failure_without_a_stack_trace(admin_client: Any, connection: ConnectionSetup,
                                                      settings: Any) -> None:
    port = _free_port()
    settings.OUTBOUND_ALLOWED_HOSTS = [f"127.0.0.1:{port}"]
    ConnectionSetup.objects.filter(pk=connection.pk).update(dataverse_url=f"https://127.0.0.1:{port}",
                                                            authority_host=f"https://127.0.0.1:{port}")
    response = admin_client.post(reverse("connections:connection-test", args=[connection.pk]), follow=True)
    assert response.status_code == 200
    body = response.content.decode()
    assert "The connection test failed" in body and "layer: connection" in body
    assert "Traceback" not in body
    connection.refresh_from_db()
    assert connection.last_test_report["ok"] is False
    assert connection.changes.filter(action="Test Connection").exists()
