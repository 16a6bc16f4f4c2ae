"""The connection setup page: read-only for viewers, editable for Integration Administrators, secrets masked, every
change recorded, outbound URL checks on the forms."""
from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from connections.models import ConnectionSetup, ConnectionSetupChange
from tests.connections.conftest import BC_ACCESS_KEY, CLIENT_SECRET

pytestmark = pytest.mark.django_db


def _edit_data(connection: ConnectionSetup, **overrides: Any) -> dict[str, Any]:
    data = {
        "name": connection.name, "dataverse_url": connection.dataverse_url, "authentication_type": "ClientSecret",
        "tenant_id": connection.tenant_id, "authority_host": "https://login.microsoftonline.com",
        "client_id": connection.client_id, "client_secret": "", "certificate": "", "password": "",
        "web_api_version": "9.2", "ownership_model": "Team", "bc_api_url": connection.bc_api_url,
        "bc_authentication_type": "Basic", "bc_username": "WS", "bc_access_key": "",
    }
    data.update(overrides)
    return data


def test_viewer_sees_the_setup_read_only(client: Any, viewer: Any, connection: ConnectionSetup) -> None:
    client.force_login(viewer)
    page = client.get(reverse("connections:connection-detail", args=[connection.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "contoso.crm4.dynamics.com" in body
    assert "only members of the Integration Administrator group can change it" in body
    assert 'id="test-connection"' not in body
    for name in ("connection-enable", "connection-test", "connection-settings", "connection-disable",
                 "connection-synchronize-modified", "connection-reset-web-client-url"):
        response = client.post(reverse(f"connections:{name}", args=[connection.pk]))
        assert response.status_code == 403, name
    assert client.get(reverse("connections:connection-edit", args=[connection.pk])).status_code == 403
    assert client.get(reverse("connections:connection-wizard")).status_code == 403
    connection.refresh_from_db()
    assert not connection.is_enabled


def test_integration_administrator_group_may_edit(client: Any, integration_administrator: Any,
                                                  connection: ConnectionSetup) -> None:
    client.force_login(integration_administrator)
    page = client.get(reverse("connections:connection-detail", args=[connection.pk]))
    body = page.content.decode()
    assert 'id="test-connection"' in body
    for name, args in (("syncjobs:fullsyncreview-detail", [connection.pk]), ("syncjobs:skippedrecord-list", []),
                       ("mappings:index", []), ("mappings:salesperson-list", [connection.pk])):
        assert f'href="{reverse(name, args=args)}"' in body, name
    response = client.post(reverse("connections:connection-edit", args=[connection.pk]),
                           _edit_data(connection, tenant_id="fabrikam.onmicrosoft.com"))
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.tenant_id == "fabrikam.onmicrosoft.com"
    change = ConnectionSetupChange.objects.get(connection=connection, field="tenant_id", username="integrator")
    assert (change.username, change.old_value, change.new_value) == (
        "integrator", "contoso.onmicrosoft.com", "fabrikam.onmicrosoft.com")


def test_secrets_are_masked_blank_keeps_them_and_changes_are_logged_masked(
        admin_client: Any, connection: ConnectionSetup) -> None:
    edit = admin_client.get(reverse("connections:connection-edit", args=[connection.pk]))
    detail = admin_client.get(reverse("connections:connection-detail", args=[connection.pk]))
    for response in (edit, detail):
        assert CLIENT_SECRET not in response.content.decode()
        assert BC_ACCESS_KEY not in response.content.decode()
    assert "client_secret: stored (encrypted)" in detail.content.decode()
    # Blank secret = keep the stored value.
    admin_client.post(reverse("connections:connection-edit", args=[connection.pk]), _edit_data(connection))
    connection.refresh_from_db()
    assert connection.client_secret == CLIENT_SECRET
    # A new secret replaces it; the change log masks both values.
    admin_client.post(reverse("connections:connection-edit", args=[connection.pk]),
                      _edit_data(connection, client_secret="new-secret-value-42"))
    connection.refresh_from_db()
    assert connection.client_secret == "new-secret-value-42"
    change = ConnectionSetupChange.objects.filter(connection=connection, field="client_secret").first()
    assert (change.old_value, change.new_value) == (ConnectionSetupChange.MASK, ConnectionSetupChange.MASK)
    log_page = admin_client.get(reverse("connections:connection-detail", args=[connection.pk])).content.decode()
    assert "new-secret-value-42" not in log_page and "client_secret" in log_page


def test_secret_is_encrypted_in_the_database(connection: ConnectionSetup) -> None:
    from django.db import connection as db

    with db.cursor() as cursor:
        cursor.execute("SELECT client_secret, bc_access_key FROM connections_connectionsetup")
        stored = cursor.fetchone()
    assert CLIENT_SECRET not in stored[0] and BC_ACCESS_KEY not in stored[1]
    assert stored[0].startswith("gAAAA")  # a Fernet token


@pytest.mark.parametrize(("url", "message"), [
    ("https://10.1.2.3", "private address"),
    ("https://169.254.169.254", "link-local address"),
    ("https://[fd00::1]", "private address"),
    ("http://contoso.crm.dynamics.com", "must use https"),
    ("https://admin:hunter2@contoso.crm.dynamics.com", "Remove the user name and password"),
])
def test_edit_form_refuses_urls_the_portal_may_not_call(admin_client: Any, connection: ConnectionSetup, url: str,
                                                        message: str) -> None:
    response = admin_client.post(reverse("connections:connection-edit", args=[connection.pk]),
                                 _edit_data(connection, dataverse_url=url))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "hunter2" not in response.content.decode()
    connection.refresh_from_db()
    assert connection.dataverse_url == "https://contoso.crm4.dynamics.com"


def test_bc_api_url_on_loopback_needs_the_allow_list(admin_client: Any, connection: ConnectionSetup,
                                                     settings: Any) -> None:
    settings.OUTBOUND_ALLOWED_HOSTS = []
    url = reverse("connections:connection-edit", args=[connection.pk])
    refused = admin_client.post(url, _edit_data(connection, bc_api_url="https://127.0.0.1:9/api/v2.0"))
    assert "loopback address" in refused.content.decode()
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]  # a bare host allows only port 443
    still_refused = admin_client.post(url, _edit_data(connection, bc_api_url="https://127.0.0.1:9/api/v2.0"))
    assert "loopback address" in still_refused.content.decode()
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1:9"]
    accepted = admin_client.post(url, _edit_data(connection, bc_api_url="https://127.0.0.1:9/api/v2.0"))
    assert accepted.status_code == 302
    connection.refresh_from_db()
    assert connection.bc_api_url == "https://127.0.0.1:9/api/v2.0"


def test_path_in_environment_url_needs_agreement(admin_client: Any, connection: ConnectionSetup) -> None:
    url = reverse("connections:connection-edit", args=[connection.pk])
    typed = "https://fabrikam.crm.dynamics.com/main.aspx"
    refused = admin_client.post(url, _edit_data(connection, dataverse_url=typed))
    assert "Confirm that the path may be dropped" in refused.content.decode()
    admin_client.post(url, _edit_data(connection, dataverse_url=typed, drop_path="on"))
    connection.refresh_from_db()
    assert connection.dataverse_url == "https://fabrikam.crm.dynamics.com"


def test_oauth_connection_string_is_stored_with_placeholder(admin_client: Any, connection: ConnectionSetup) -> None:
    admin_client.post(reverse("connections:connection-edit", args=[connection.pk]), _edit_data(
        connection, authentication_type="OAuth", connection_string=(
            "AuthType=OAuth;Username=int@contoso.com;Password=Pa55word!;Url=https://contoso.crm4.dynamics.com;"
            "AppId=51f81489-12ee-4a9e-aaae-a2591f45987d;RedirectUri=app://58145B91-0C36-4500-8554-080854F2AC97;"
            "TokenCacheStorePath=;LoginPrompt=Auto")))
    connection.refresh_from_db()
    assert connection.authentication_type == "OAuth"
    assert connection.username == "int@contoso.com" and connection.password == "Pa55word!"
    assert "Password={PASSWORD}" in connection.connection_string
    assert "Pa55word!" not in connection.connection_string
    assert "RedirectUri=app://58145B91-0C36-4500-8554-080854F2AC97" in connection.connection_string


def test_unknown_connection_is_404_not_500(admin_client: Any) -> None:
    response = admin_client.get("/connections/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404
