"""Business Central online takes Microsoft Entra ID (OAuth) sign-in only: a web service access key (Basic) is refused
with an online BC API URL by the setup page, the wizard's BC step, ``setup_connection`` and the saving service, and
stays allowed for any other URL (on-premises, the emulators' loopback). Microsoft Learn: "Web services
authentication" (access keys deprecated and not supported in Business Central online since October 2022)."""
from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from connections.forms import WizardBusinessCentralForm
from connections.models import ConnectionSetup
from connections.setup import connection_values_save
from connections.validation import is_business_central_online, validate_bc_authentication
from tests.connections.conftest import BC_ON_PREMISES_API_URL, BC_ONLINE_API_URL
from tests.connections.test_connection_setup_page import _edit_data
from tests.connections.test_wizard_secrets import STEPS, _post_step

pytestmark = pytest.mark.django_db

REFUSAL = "Business Central online accepts only Microsoft Entra ID (OAuth) sign-in"
REFUSED = re.escape(REFUSAL)


@pytest.mark.parametrize(("url", "online"), [
    (BC_ONLINE_API_URL, True),
    ("https://API.BusinessCentral.Dynamics.com/v2.0/contoso/Sandbox/api/v2.0", True),
    ("https://businesscentral.dynamics.com/contoso/Production", True),
    ("api.businesscentral.dynamics.com/v2.0/contoso/Production/api/v2.0", True),
    (BC_ON_PREMISES_API_URL, False),
    ("https://127.0.0.1:8443/v2.0/tenant/production/api/v2.0", False),
    ("https://businesscentral.dynamics.com.contoso.com/api/v2.0", False),
    ("https://notbusinesscentral.dynamics.com/api/v2.0", False),
    ("", False),
    ("https://[::1", False),
])
def test_online_is_the_businesscentral_dynamics_com_domain(url: str, online: bool) -> None:
    assert is_business_central_online(url) is online
    if online:
        with pytest.raises(ValidationError, match=REFUSED):
            validate_bc_authentication(api_url=url, authentication_type="Basic")
    else:
        validate_bc_authentication(api_url=url, authentication_type="Basic")
    validate_bc_authentication(api_url=url, authentication_type="OAuth")


# ---------------------------------------------------------------------------------------------------- forms
def test_setup_page_refuses_basic_with_an_online_url(admin_client: Any, connection: ConnectionSetup) -> None:
    url = reverse("connections:connection-edit", args=[connection.pk])
    refused = admin_client.post(url, _edit_data(connection, bc_api_url=BC_ONLINE_API_URL))
    assert refused.status_code == 200 and REFUSAL in refused.content.decode()
    connection.refresh_from_db()
    assert (connection.bc_api_url, connection.bc_authentication_type) == (BC_ON_PREMISES_API_URL, "Basic")
    accepted = admin_client.post(url, _edit_data(connection, bc_api_url=BC_ONLINE_API_URL,
                                                 bc_authentication_type="OAuth"))
    assert accepted.status_code == 302
    connection.refresh_from_db()
    assert (connection.bc_api_url, connection.bc_authentication_type) == (BC_ONLINE_API_URL, "OAuth")


def test_wizard_bc_step_refuses_basic_with_an_online_url(admin_client: Any) -> None:
    form = WizardBusinessCentralForm(data={"bc_api_url": BC_ONLINE_API_URL, "bc_authentication_type": "Basic",
                                           "bc_username": "WS"})
    assert not form.is_valid()
    assert REFUSAL in " ".join(form.errors["bc_authentication_type"])
    on_premises = WizardBusinessCentralForm(data={"bc_api_url": BC_ON_PREMISES_API_URL,
                                                  "bc_authentication_type": "Basic", "bc_username": "WS"})
    assert on_premises.is_valid(), on_premises.errors
    for step, values in STEPS[:2]:
        assert _post_step(admin_client, step, values).status_code == 200
    page = _post_step(admin_client, "businesscentral", {"bc_api_url": BC_ONLINE_API_URL,
                                                        "bc_authentication_type": "Basic", "bc_username": "WS"})
    body = page.content.decode()
    assert REFUSAL in body and 'value="businesscentral"' in body  # the wizard stays on the BC step
    moved_on = _post_step(admin_client, "businesscentral", {"bc_api_url": BC_ONLINE_API_URL,
                                                            "bc_authentication_type": "OAuth"})
    assert REFUSAL not in moved_on.content.decode() and 'value="options"' in moved_on.content.decode()


# ---------------------------------------------------------------------------------------------------- service
def _data(**overrides: Any) -> dict[str, Any]:
    return {"name": "Fabrikam", "dataverse_url": "https://fabrikam.crm4.dynamics.com",
            "authentication_type": "ClientSecret", "tenant_id": "fabrikam.onmicrosoft.com",
            "authority_host": "https://login.microsoftonline.com", "client_id": "app", "client_secret": "s",
            "web_api_version": "9.2", "ownership_model": "Team", "bc_authentication_type": "Basic",
            "bc_username": "WS", "bc_access_key": "key", **overrides}


def test_the_saving_service_refuses_basic_with_an_online_url() -> None:
    with pytest.raises(ValidationError, match=REFUSED):
        connection_values_save(connection=None, data=_data(bc_api_url=BC_ONLINE_API_URL), user=None)
    assert not ConnectionSetup.objects.exists()
    saved, _ = connection_values_save(connection=None, data=_data(bc_api_url=BC_ON_PREMISES_API_URL), user=None)
    # changing only the URL (or only the sign-in) is checked against what is stored
    with pytest.raises(ValidationError, match=REFUSED):
        connection_values_save(connection=saved, data={"bc_api_url": BC_ONLINE_API_URL}, user=None)
    with pytest.raises(ValidationError, match=REFUSED):  # found by name, as setup_connection saves
        connection_values_save(connection=None, data={"name": "Fabrikam", "bc_api_url": BC_ONLINE_API_URL},
                               user=None)
    saved.refresh_from_db()
    assert saved.bc_api_url == BC_ON_PREMISES_API_URL
    connection_values_save(connection=saved, data={"bc_api_url": BC_ONLINE_API_URL, "bc_authentication_type": "OAuth"},
                           user=None)
    with pytest.raises(ValidationError, match=REFUSED):
        connection_values_save(connection=saved, data={"bc_authentication_type": "Basic"}, user=None)
    saved.refresh_from_db()
    assert (saved.bc_api_url, saved.bc_authentication_type) == (BC_ONLINE_API_URL, "OAuth")


def test_basic_stays_allowed_for_the_emulators_loopback_url() -> None:
    saved, _ = connection_values_save(
        connection=None, data=_data(bc_api_url="https://127.0.0.1:8443/v2.0/tenant/production/api/v2.0"), user=None)
    assert saved.bc_authentication_type == "Basic"


# ---------------------------------------------------------------------------------------------------- command
def test_setup_connection_refuses_basic_with_an_online_url() -> None:
    out = io.StringIO()
    with pytest.raises(CommandError, match=REFUSED):
        call_command("setup_connection", "--dataverse-url", "https://contoso.crm.dynamics.com", "--tenant-id",
                     "contoso", "--client-id", "app", "--bc-authentication-type", "Basic", "--bc-username", "WS",
                     "--bc-api-url", BC_ONLINE_API_URL, stdout=out)
    assert not ConnectionSetup.objects.exists() and "[" not in out.getvalue()  # refused before any step ran


def test_setup_connection_refuses_switching_a_stored_online_connection_to_basic() -> None:
    connection_values_save(connection=None, data=_data(name="Dynamics 365 Sales", bc_api_url=BC_ONLINE_API_URL,
                                                      bc_authentication_type="OAuth"), user=None)
    with pytest.raises(CommandError, match=REFUSED):
        call_command("setup_connection", "--dataverse-url", "https://contoso.crm.dynamics.com",
                     "--bc-authentication-type", "Basic", "--bc-username", "WS", stdout=io.StringIO())
    assert ConnectionSetup.objects.get().bc_authentication_type == "OAuth"
