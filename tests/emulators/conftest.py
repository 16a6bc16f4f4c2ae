"""Fixtures: ONE emulator process per test session (real HTTPS), msal-issued tokens, reset between tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msal
import pytest
import requests

from emulators.testing import EmulatorSession, RunningEmulators, start_emulators
from portal.testing.pytest_plugin import allow_outbound_origin


@pytest.fixture(scope="session")
def emulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulators]:
    data_dir: Path = tmp_path_factory.mktemp("emulators")
    with start_emulators(data_dir, seed="demo", scale=0) as emu:
        allow_outbound_origin(emu.info["dataverse_url"])
        yield emu


@pytest.fixture()
def emu(emulators: RunningEmulators) -> Iterator[RunningEmulators]:
    """The shared emulator, reset to fresh demo data and default settings after each test."""
    yield emulators
    emulators.reset()


@pytest.fixture(scope="session")
def info(emulators: RunningEmulators) -> dict[str, Any]:
    return emulators.info


@pytest.fixture(scope="session")
def http(info: dict[str, Any]) -> requests.Session:
    # trusts the emulators' CA and keeps the authority's port on msal's user-realm call (no port 443 needed)
    return EmulatorSession.for_info(info)


@pytest.fixture(scope="session")
def cca(info: dict[str, Any], http: requests.Session) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(info["client_id"], client_credential=info["client_secret"],
                                              authority=info["entra_authority"], instance_discovery=False,
                                              http_client=http)


@pytest.fixture(scope="session")
def dv_token(cca: msal.ConfidentialClientApplication, info: dict[str, Any]) -> str:
    result = cca.acquire_token_for_client([info["dataverse_url"] + "/.default"])
    return result["access_token"]


@pytest.fixture(scope="session")
def bc_token(cca: msal.ConfidentialClientApplication) -> str:
    result = cca.acquire_token_for_client(["https://api.businesscentral.dynamics.com/.default"])
    return result["access_token"]


class Api:
    """A thin requests wrapper bound to a base URL and bearer token."""

    def __init__(self, session: requests.Session, base: str, token: str, extra: dict[str, str] | None = None):
        self.s = session
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", **(extra or {})}

    def url(self, path: str) -> str:
        return path if path.startswith("https://") else self.base + path

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None, **kw: Any) -> requests.Response:
        return self.s.request(method, self.url(path), headers={**self.headers, **(headers or {})}, timeout=60, **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.request("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> requests.Response:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.request("DELETE", path, **kw)


@pytest.fixture()
def dv(emu: RunningEmulators, http: requests.Session, dv_token: str, info: dict[str, Any]) -> Api:
    return Api(http, info["dataverse_url"] + "/api/data/v9.2/", dv_token,
               {"OData-MaxVersion": "4.0", "OData-Version": "4.0"})


@pytest.fixture()
def bc(emu: RunningEmulators, http: requests.Session, bc_token: str, info: dict[str, Any]) -> Api:
    return Api(http, info["business_central_url"] + "/api/v2.0/", bc_token)


@pytest.fixture()
def bc_custom(emu: RunningEmulators, http: requests.Session, bc_token: str, info: dict[str, Any]) -> Api:
    return Api(http, info["business_central_url"] + "/api/bcportal/integration/v1.0/", bc_token)


@pytest.fixture(scope="session")
def cronus(info: dict[str, Any]) -> str:
    return next(c["id"] for c in info["bc_companies"] if c["name"].startswith("CRONUS"))


@pytest.fixture(scope="session")
def admin_dv_token(info: dict[str, Any], http: requests.Session) -> str:
    """A Dataverse token of the seeded System Administrator (msal username/password grant, port kept)."""
    app = msal.ConfidentialClientApplication(info["client_id"], client_credential=info["client_secret"],
                                             authority=info["entra_authority"], instance_discovery=False,
                                             http_client=http)
    result = app.acquire_token_by_username_password(info["admin_user"], info["admin_password"],
                                                    [info["dataverse_url"] + "/.default"])
    return result["access_token"]


@pytest.fixture()
def admin_dv(emu: RunningEmulators, http: requests.Session, admin_dv_token: str, info: dict[str, Any]) -> Api:
    return Api(http, info["dataverse_url"] + "/api/data/v9.2/", admin_dv_token,
               {"OData-MaxVersion": "4.0", "OData-Version": "4.0"})
