"""``python -m emulators serve``: JSON line, persistence across restarts, readiness time."""

from __future__ import annotations

import time
from pathlib import Path

import msal

from emulators.testing import EmulatorSession, RunningEmulators, client_token, start_emulators

KEYS = {"entra_authority", "dataverse_url", "business_central_url", "tenant_id", "client_id", "client_secret",
        "integration_user", "admin_user", "admin_password", "ca_bundle"}


def test_json_line_and_state_survives_restart(tmp_path: Path) -> None:
    started = time.monotonic()
    with start_emulators(tmp_path, seed="demo") as emu:
        assert time.monotonic() - started < 30
        info = emu.info
        assert KEYS <= set(info)
        assert info["entra_authority"] == f"{info['dataverse_url']}/{info['tenant_id']}"
        s = EmulatorSession.for_info(info)
        token = client_token(info, session=s)
        r = s.post(info["dataverse_url"] + "/api/data/v9.2/accounts", json={"name": "Persisted"},
                   headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 204
        first = info
    with start_emulators(tmp_path, seed="demo") as emu:
        info = emu.info
        assert (info["client_id"], info["client_secret"], info["tenant_id"]) == \
            (first["client_id"], first["client_secret"], first["tenant_id"])
        assert info["bc_companies"] == first["bc_companies"]
        s = EmulatorSession.for_info(info)
        token = client_token(info, session=s)
        r = s.get(info["dataverse_url"] + "/api/data/v9.2/accounts?$filter=name eq 'Persisted'",
                  headers={"Authorization": f"Bearer {token}"})
        assert len(r.json()["value"]) == 1


def test_port_443_listener_is_opt_in(emulators: RunningEmulators) -> None:
    """``serve`` no longer binds 127.0.0.1:443 unless ``--realm-443``; msal's ROPC works through a session
    that keeps the authority's port (``EmulatorSession``)."""
    info = emulators.info
    assert info["user_realm_on_443"] is False
    session = EmulatorSession.for_info(info)
    app = msal.ConfidentialClientApplication(info["client_id"], client_credential=info["client_secret"],
                                             authority=info["entra_authority"], instance_discovery=False,
                                             http_client=session)
    result = app.acquire_token_by_username_password(info["admin_user"], info["admin_password"],
                                                    [info["dataverse_url"] + "/.default"])
    assert "access_token" in result, result
    realm_port_kept = session.get(f"https://127.0.0.1/common/userrealm/{info['admin_user']}?api-version=1.0")
    assert realm_port_kept.status_code == 200 and realm_port_kept.json()["account_type"] == "Managed"
