"""Clients of the three remote services: Entra ID (tokens, via msal), Dataverse Web API, Business Central API.

Build clients for a connection setup with :func:`dataverse_client_for` and :func:`business_central_client_for`;
every failure is a :class:`connections.clients.errors.ClientError` (transient or permanent, with the service's
code and message, the failing layer and the fix).
"""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from connections.clients.businesscentral import BusinessCentralClient
from connections.clients.dataverse import BatchRequest, BatchResponse, DataverseClient
from connections.clients.entra import TokenProvider, authority_url
from connections.clients.errors import AuthenticationError, PermanentError

if TYPE_CHECKING:
    from connections.models import ConnectionSetup

__all__ = [
    "BatchRequest", "BatchResponse", "BusinessCentralClient", "DataverseClient", "TokenProvider",
    "business_central_client_for", "dataverse_client_for", "dataverse_token_provider",
]


def dataverse_token_provider(connection: ConnectionSetup, *, timeout: float = 30.0) -> TokenProvider:
    """The Entra credential of the connection's Dataverse side, by ``authentication_type`` (client secret,
    certificate, or OAuth user name + password with the client secret when one is set). Raises AuthenticationError
    naming the missing field."""
    kind = connection.AuthenticationType
    if not connection.tenant_id:
        raise AuthenticationError("No tenant ID is set.", service="entra", layer="auth",
                                  fix="Enter the directory (tenant) ID in the connection setup.")
    common: dict[str, Any] = {
        "authority": authority_url(connection.authority_host or "https://login.microsoftonline.com",
                                   connection.tenant_id),
        "client_id": connection.client_id, "timeout": timeout,
    }
    if connection.authentication_type == kind.CERTIFICATE:
        return TokenProvider(**common, certificate_pem=connection.certificate or None,
                             certificate_thumbprint=connection.certificate_thumbprint or None)
    if connection.authentication_type == kind.OAUTH:
        return TokenProvider(**common, username=connection.username or None, password=connection.password or None,
                             client_secret=connection.client_secret or None)
    return TokenProvider(**common, client_secret=connection.client_secret or None)


def dataverse_client_for(connection: ConnectionSetup, *, caller_id: uuid.UUID | None = None,
                         **options: Any) -> DataverseClient:
    """A DataverseClient for the connection's environment and credential (secrets decrypted by the model's
    EncryptedTextFields). ``options`` go to DataverseClient (``timeout``, ``max_retries``, ``max_concurrency`` …)."""
    if not connection.dataverse_url:
        raise PermanentError("No Dynamics 365 Sales URL is set.", service="dataverse", layer="connection",
                             fix="Enter the environment URL, e.g. https://contoso.crm.dynamics.com.")
    tokens = dataverse_token_provider(connection, timeout=float(options.get("timeout", 30.0)))
    return DataverseClient(connection.dataverse_url, tokens, api_version=connection.web_api_version or "9.2",
                           caller_id=caller_id, **options)


def business_central_client_for(connection: ConnectionSetup, **options: Any) -> BusinessCentralClient:
    """A BusinessCentralClient for the connection's BC environment and company. OAuth uses the connection's tenant
    and authority with ``bc_client_id``/``bc_client_secret`` (falling back to the Dataverse app registration's
    ``client_id``/``client_secret`` when left empty); Basic uses ``bc_username`` + ``bc_access_key``. ``options``
    go to BusinessCentralClient (``timeout``, ``max_retries``, ``scope`` …)."""
    if not connection.bc_api_url:
        raise PermanentError("No Business Central API URL is set.", service="businesscentral", layer="connection",
                             fix="Enter the API URL, e.g. https://api.businesscentral.dynamics.com/v2.0/<tenant>/"
                             "Production/api/v2.0.")
    if connection.bc_authentication_type == connection.BCAuthenticationType.BASIC:
        if not (connection.bc_username and connection.bc_access_key):
            raise AuthenticationError("The Business Central user name or web service access key is missing.",
                                      service="businesscentral", layer="auth",
                                      fix="Enter the user name and the web service access key.")
        return BusinessCentralClient(connection.bc_api_url, connection.bc_company_id,
                                     basic=(connection.bc_username, connection.bc_access_key), **options)
    tenant = connection.tenant_id or connection.bc_tenant
    if not tenant:
        raise AuthenticationError("No tenant ID is set.", service="entra", layer="auth",
                                  fix="Enter the directory (tenant) ID in the connection setup.")
    tokens = TokenProvider(
        authority=authority_url(connection.authority_host or "https://login.microsoftonline.com", tenant),
        client_id=connection.bc_client_id or connection.client_id,
        client_secret=(connection.bc_client_secret if connection.bc_client_id else connection.client_secret) or None,
        timeout=float(options.get("timeout", 30.0)))
    return BusinessCentralClient(connection.bc_api_url, connection.bc_company_id, tokens=tokens, **options)
