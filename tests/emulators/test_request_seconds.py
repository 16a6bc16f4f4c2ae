"""The emulator's control state reports, besides the requests per service, the seconds it spent answering each
service and the Entra token requests among the Entra ones (what bench/fullsync.py compares a run with)."""
from __future__ import annotations

from typing import Any

from emulators.testing import RunningEmulators, client_token

from .conftest import Api


def test_state_reports_seconds_per_service_and_token_requests(emu: RunningEmulators, dv: Api, bc: Api,
                                                              cronus: str, info: dict[str, Any]) -> None:
    emu.reset()
    state = emu.state()
    assert state["request_seconds"] == {"dataverse": 0.0, "businesscentral": 0.0, "entra": 0.0}
    assert state["entra_token_requests"] == 0
    dv.get("accounts?$top=5")
    bc.get(f"companies({cronus})/customers?$top=1")
    emu.session.get(f"{info['entra_authority']}/v2.0/.well-known/openid-configuration", timeout=30)
    client_token(info, session=emu.session)  # msal: the OpenID configuration again, then the token
    state = emu.state()
    assert state["requests"] == {"dataverse": 1, "businesscentral": 1, "entra": 3}
    assert state["entra_token_requests"] == 1  # discovery requests are not token requests
    assert all(state["request_seconds"][service] > 0 for service in ("dataverse", "businesscentral", "entra"))
    emu.reset()
    assert emu.state()["request_seconds"]["dataverse"] == 0.0
