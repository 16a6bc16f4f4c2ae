"""dataverse_client_for / business_central_client_for read the connection setup (secrets decrypted by the model)."""
from __future__ import annotations

import pytest

from connections.clients import business_central_client_for, dataverse_client_for
from connections.clients.errors import AuthenticationError, PermanentError
from connections.models import ConnectionSetup

pytestmark = pytest.mark.django_db


def _connection(info: dict, **fields) -> ConnectionSetup:
    authority_host, tenant = info["entra_authority"].rsplit("/", 1)
    values = {
        "name": "Emulated", "dataverse_url": info["dataverse_url"], "tenant_id": tenant,
        "authority_host": authority_host, "client_id": info["client_id"], "client_secret": info["client_secret"],
        "bc_api_url": info["business_central_url"],
    }
    values.update(fields)
    connection = ConnectionSetup.objects.create(**values)
    return ConnectionSetup.objects.get(pk=connection.pk)  # secrets read back through EncryptedTextField


def test_dataverse_client_with_client_secret(info):
    client = dataverse_client_for(_connection(info), max_concurrency=0)
    assert client.who_am_i()["UserId"]


def test_dataverse_client_with_user_name_and_password(info):
    connection = _connection(info, authentication_type=ConnectionSetup.AuthenticationType.OAUTH,
                             username=info["admin_user"], password=info["admin_password"])
    client = dataverse_client_for(connection, max_concurrency=0)
    me = client.who_am_i()["UserId"]
    user = client.retrieve("systemusers", me, select=["domainname"])
    assert user["domainname"].lower() == info["admin_user"].lower()


def test_business_central_client_oauth(info):
    connection = _connection(info)
    client = business_central_client_for(connection, max_concurrency=0)
    company = client.companies()[0]
    assert company["id"]


def test_missing_fields_are_named(info):
    with pytest.raises(PermanentError) as caught:
        dataverse_client_for(_connection(info, dataverse_url=""))
    assert "Sales URL" in caught.value.message
    with pytest.raises(AuthenticationError) as caught:
        business_central_client_for(_connection(
            info, name="Basic", bc_authentication_type=ConnectionSetup.BCAuthenticationType.BASIC))
    assert "access key" in caught.value.message
    with pytest.raises(AuthenticationError) as caught:
        dataverse_client_for(_connection(info, name="No secret", client_secret=""))
    assert "No credential" in caught.value.message
