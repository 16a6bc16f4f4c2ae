"""Fixtures of the connection setup tests: a saved connection with known secrets and users of each kind."""
from __future__ import annotations

from typing import Any

import pytest

from emulators.testing import client_token
from portal.testing.pytest_plugin import allow_outbound_origin

#: Secrets used by the fixtures; tests assert they never appear in pages, logs or session rows.
CLIENT_SECRET = "cs-9f8e7d6c-plaintext-never-shown"
BC_ACCESS_KEY = "bc-key-0a1b2c3d-plaintext-never-shown"
#: The API URLs of a BC on-premises server (Basic sign-in allowed) and of BC online (OAuth only).
BC_ON_PREMISES_API_URL = "https://bc.contoso.com:7048/BC/api/v2.0"
BC_ONLINE_API_URL = "https://api.businesscentral.dynamics.com/v2.0/contoso/Production/api/v2.0"


@pytest.fixture
def connection(db: Any, admin_user: Any) -> Any:
    """A disabled connection setup (client secret sign-in) saved through the service, so it has a change log. Its BC
    is on-premises: a web service access key (Basic) is refused with an online BC URL."""
    from connections.actions.configuration import connection_save

    return connection_save(connection=None, user=admin_user, data={
        "name": "Contoso", "dataverse_url": "https://contoso.crm4.dynamics.com", "authentication_type": "ClientSecret",
        "tenant_id": "contoso.onmicrosoft.com", "authority_host": "https://login.microsoftonline.com",
        "client_id": "11111111-2222-3333-4444-555555555555", "client_secret": CLIENT_SECRET,
        "bc_api_url": BC_ON_PREMISES_API_URL,
        "bc_authentication_type": "Basic", "bc_username": "WS", "bc_access_key": BC_ACCESS_KEY,
        "web_api_version": "9.2", "ownership_model": "Team",
    })


@pytest.fixture
def viewer(django_user_model: Any) -> Any:
    """A signed-in user outside the Integration Administrator group."""
    return django_user_model.objects.create_user("viewer", "viewer@example.com", "viewer-password-123")


@pytest.fixture
def integration_administrator(django_user_model: Any) -> Any:
    """A non-superuser in the "Integration Administrator" group (created by the connections migration)."""
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user("integrator", "integrator@example.com", "integrator-password-123")
    user.groups.add(Group.objects.get(name="Integration Administrator"))
    return user


@pytest.fixture
def emulator_info(emulator: Any, settings: Any) -> dict[str, Any]:
    """The freshly reset emulators' JSON line, with the portal trusting their test CA and allowed to call them."""
    settings.OUTBOUND_CA_BUNDLE = emulator.info["ca_bundle"]
    settings.OUTBOUND_ALLOWED_HOSTS = allow_outbound_origin(emulator.info["dataverse_url"])
    return emulator.info


def emulator_setup_data(info: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """Connection setup data for the emulators (what the wizard or setup_connection would submit)."""
    from connections.management.commands.setup_connection import emulator_data

    data = {"name": "Emulated", "web_api_version": "9.2", "ownership_model": "Team",
            "unit_group_mapping_enabled": True, **emulator_data(info)}
    data.update(overrides)
    return data


@pytest.fixture
def emulated_connection(db: Any, emulator_info: dict[str, Any], admin_user: Any) -> Any:
    """A disabled connection setup pointing at the emulators (client secret sign-in)."""
    from connections.actions.configuration import connection_save

    return connection_save(connection=None, user=admin_user, data=emulator_setup_data(emulator_info))


def admin_dataverse(info: dict[str, Any]) -> Any:
    """A Dataverse client signed in as the emulator's administrator (to create states a test needs)."""
    from connections.clients import DataverseClient, TokenProvider

    tokens = TokenProvider(authority=info["entra_authority"], client_id=info["client_id"],
                           client_secret=info["client_secret"], username=info["admin_user"],
                           password=info["admin_password"], timeout=30)
    return DataverseClient(info["dataverse_url"], tokens, max_concurrency=0)


@pytest.fixture
def salespeople(emulator_info: dict[str, Any], emulator: Any) -> dict[str, dict[str, Any]]:
    """BC's salespeople of the wizard's company by code, read straight from the BC API."""
    token = client_token(emulator_info, emulator_info["business_central_scope"])
    company = emulator_info["bc_companies"][0]["id"]
    rows = emulator.session.get(f"{emulator_info['bc_api_url']}/companies({company})/salespeoplePurchasers",
                                headers={"Authorization": f"Bearer {token}"}, timeout=30).json()["value"]
    return {row["code"]: row for row in rows}
