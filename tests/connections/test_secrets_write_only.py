"""Secrets are write-only: never rendered into a field (after a failed validation, on the wizard's Back), URL fields
refuse user names and passwords without echoing them, the BC web client URL is validated like the other URLs, and
pages with secret fields are not stored by browsers or proxies."""
from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from connections.models import ConnectionSetup
from tests.connections.test_connection_setup_page import _edit_data
from tests.connections.test_wizard_secrets import STEPS, _post_step

pytestmark = pytest.mark.django_db

CONNECTION_STRING = ("AuthType=OAuth;Username=admin@contoso.onmicrosoft.com;Password=conn-string-pass-8c1d;"
                     "Url=https://contoso.crm4.dynamics.com;AppId=51f81489-12ee-4a9e-aaae-a2591f45987d;"
                     "RedirectUri=app://58145B91-0C36-4500-8554-080854F2AC97")


def test_oauth_connection_string_is_not_rendered_after_a_failed_validation(admin_client: Any,
                                                                          connection: ConnectionSetup) -> None:
    url = reverse("connections:connection-edit", args=[connection.pk])
    response = admin_client.post(url, _edit_data(connection, connection_string=CONNECTION_STRING,
                                                 tenant_id=""))  # an error elsewhere on the form
    assert response.status_code == 200
    body = response.content.decode()
    assert "This field is required" in body
    assert "conn-string-pass-8c1d" not in body
    assert "no-store" in response["Cache-Control"]


def test_wizard_back_renders_no_secret(admin_client: Any) -> None:
    _post_step(admin_client, *STEPS[0])
    _post_step(admin_client, "signin", {**STEPS[1][1], "connection_string": CONNECTION_STRING,
                                        "authentication_type": "OAuth"})
    page = admin_client.post(reverse("connections:connection-wizard"),
                             {"connection_setup_wizard-current_step": "businesscentral",
                              "wizard_goto_step": "signin"})
    body = page.content.decode()
    assert "conn-string-pass-8c1d" not in body and "wizard-client-secret-5b1f" not in body
    assert "no-store" in page["Cache-Control"]


@pytest.mark.parametrize("field", ["dataverse_url", "custom_authority_host", "bc_api_url", "bc_web_client_url"])
def test_url_fields_refuse_credentials_without_echoing_them(admin_client: Any, connection: ConnectionSetup,
                                                            field: str) -> None:
    url = reverse("connections:connection-edit", args=[connection.pk])
    value = "https://admin:url-pass-3e9a@contoso.example.com/path"
    response = admin_client.post(url, _edit_data(connection, **{field: value}))
    assert response.status_code == 200
    body = response.content.decode()
    assert "credentials in URLs are not allowed" in body or "Remove the user name and password" in body
    assert "url-pass-3e9a" not in body
    connection.refresh_from_db()
    assert "url-pass-3e9a" not in str(getattr(connection, field if field != "custom_authority_host"
                                                else "authority_host"))


@pytest.mark.parametrize(("value", "message"), [
    ("ftp://bc.contoso.com/BC", "only https is allowed"),
    ("https://10.0.0.5/BC", "private address"),
])
def test_bc_web_client_url_is_validated_like_the_other_urls(admin_client: Any, connection: ConnectionSetup,
                                                           settings: Any, value: str, message: str) -> None:
    settings.OUTBOUND_ALLOWED_HOSTS = []
    url = reverse("connections:connection-edit", args=[connection.pk])
    response = admin_client.post(url, _edit_data(connection, bc_web_client_url=value))
    assert response.status_code == 200
    assert message in response.content.decode()


@pytest.mark.parametrize("name", ["connection-edit", "connection-wizard"])
def test_pages_with_secret_fields_are_not_stored(admin_client: Any, connection: ConnectionSetup, name: str) -> None:
    url = reverse(f"connections:{name}", args=[connection.pk] if name == "connection-edit" else [])
    response = admin_client.get(url)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = response.content.decode()
    for secret in ("client_secret", "bc_access_key", "password"):
        stored = getattr(connection, secret, "")
        assert not stored or stored not in body
