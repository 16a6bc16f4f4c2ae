"""Network failures name their layer (Test Connection names the failing layer and the fix)."""
from __future__ import annotations

import socket
import uuid

import pytest

from connections.clients import BusinessCentralClient, DataverseClient, TokenProvider
from connections.clients.errors import PermanentError, TransientError
from portal.testing.pytest_plugin import allow_outbound_origin

from .conftest import FAST


def _free_port() -> int:
    """A free loopback port, allowed for the portal's outbound requests (nothing listens on it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    allow_outbound_origin(f"https://127.0.0.1:{port}")
    return port


def _basic_client(url: str, **options) -> BusinessCentralClient:
    return BusinessCentralClient(url, uuid.uuid4(), basic=("user", "access-key"), max_concurrency=0, **options)


def test_dns_failure():
    client = _basic_client("https://nonexistent.invalid/v2.0/tenant/production/api/v2.0", max_retries=1, **FAST)
    with pytest.raises(TransientError) as caught:
        client.companies()
    error = caught.value
    assert (error.layer, error.service, error.status) == ("dns", "businesscentral", None)
    assert "nonexistent.invalid could not be resolved" in error.message
    assert "check the URL" in error.fix
    assert client.requests_sent == 2  # the request never left, so it is retried (bounded)


def test_connection_refused():
    client = _basic_client(f"https://127.0.0.1:{_free_port()}/v2.0/t/production/api/v2.0", max_retries=2, **FAST)
    with pytest.raises(TransientError) as caught:
        client.companies()
    assert caught.value.layer == "connection"
    assert "refused" in caught.value.message
    assert client.requests_sent == 3
    assert not caught.value.outcome_unknown


def test_entra_unreachable_names_the_layer_and_service():
    provider = TokenProvider(authority=f"https://127.0.0.1:{_free_port()}/{uuid.uuid4()}",
                             client_id=str(uuid.uuid4()), client_secret="x")
    with pytest.raises(TransientError) as caught:
        provider.token("https://contoso.crm.dynamics.com/.default")
    assert (caught.value.service, caught.value.layer) == ("entra", "connection")


def test_tls_failure_without_the_emulator_ca(emulator, settings):
    settings.OUTBOUND_CA_BUNDLE = None  # the emulators' test CA is not trusted
    client = _basic_client(emulator.info["business_central_url"], max_retries=3, **FAST)
    with pytest.raises(PermanentError) as caught:
        client.companies()
    error = caught.value
    assert error.layer == "tls"
    assert "certificate" in error.message.lower()
    assert "OUTBOUND_CA_BUNDLE" in error.fix
    assert client.requests_sent == 1  # a certificate problem does not go away by repeating


def test_tls_failure_at_entra(emulator, settings):
    settings.OUTBOUND_CA_BUNDLE = None
    provider = TokenProvider(authority=emulator.info["entra_authority"], client_id=str(uuid.uuid4()),
                             client_secret="untrusted")
    with pytest.raises(PermanentError) as caught:
        provider.token(f"{emulator.info['dataverse_url']}/.default")
    assert (caught.value.service, caught.value.layer) == ("entra", "tls")


def test_read_timeout(info, tokens, emulator):
    client = DataverseClient(info["dataverse_url"], tokens, timeout=0.5, max_retries=1, max_concurrency=0, **FAST)
    client.who_am_i()  # token and connection ready
    emulator.control(latency_ms=1500, fault_services=["dataverse"])
    with pytest.raises(TransientError) as caught:
        client.who_am_i()
    assert caught.value.layer == "timeout"
    assert "did not answer within 0.5 s" in caught.value.message
    assert client.requests_sent == 3  # a GET is repeated (bounded): 1 + max_retries
