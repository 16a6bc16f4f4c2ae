"""Fixtures of the client tests: clients of the emulators (tests/conftest.py) over real HTTPS."""
from __future__ import annotations

import uuid
from typing import Any

import pytest

from connections.clients import BusinessCentralClient, DataverseClient, TokenProvider

# Short waits so that retry tests stay fast; the rules under test are the same as with the defaults.
FAST = {"backoff_base": 0.02, "backoff_max": 0.2, "max_retry_wait": 20.0}


@pytest.fixture
def trusted(settings: Any, emulators: Any) -> Any:
    """Settings trusting the emulators' test CA (OUTBOUND_CA_BUNDLE) besides the system store."""
    settings.OUTBOUND_CA_BUNDLE = emulators.info["ca_bundle"]
    return settings


@pytest.fixture
def info(emulator: Any, trusted: Any) -> dict[str, Any]:
    """The emulators' JSON line, after a reset to the seeded state."""
    return emulator.info


@pytest.fixture
def tokens(info: dict[str, Any]) -> TokenProvider:
    return TokenProvider(authority=info["entra_authority"], client_id=info["client_id"],
                         client_secret=info["client_secret"])


@pytest.fixture
def dv(info: dict[str, Any], tokens: TokenProvider) -> DataverseClient:
    return DataverseClient(info["dataverse_url"], tokens, max_retries=3, concurrency_key=uuid.uuid4().hex, **FAST)


@pytest.fixture
def bc(info: dict[str, Any], tokens: TokenProvider) -> BusinessCentralClient:
    client = BusinessCentralClient(info["business_central_url"], None, tokens=tokens, max_retries=3,
                                   scope=info["business_central_scope"], concurrency_key=uuid.uuid4().hex, **FAST)
    cronus = next(c for c in client.companies() if c["name"] == "CRONUS International Ltd.")  # the seeded demo company
    client.company_id = uuid.UUID(cronus["id"])
    return client
