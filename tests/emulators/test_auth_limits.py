"""Token checks, service protection limits, faults and the control endpoint (Microsoft Learn "Service protection API
limits", "Working with API limits in Dynamics 365 Business Central")."""

from __future__ import annotations

import time
from typing import Any

import msal
import pytest
import requests

from emulators.testing import RunningEmulators

from .conftest import Api


def test_missing_forged_and_wrong_audience_tokens(emu: RunningEmulators, http: requests.Session,
                                                  info: dict[str, Any], bc_token: str, dv_token: str) -> None:
    url = info["dataverse_url"] + "/api/data/v9.2/WhoAmI"
    r = http.get(url)
    assert r.status_code == 401 and "authorization_uri=" in r.headers["WWW-Authenticate"]
    head, payload, sig = dv_token.split(".")
    forged = f"{head}.{payload}.{sig[:-4]}AAAA"
    assert http.get(url, headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    wrong = http.get(url, headers={"Authorization": f"Bearer {bc_token}"})
    assert wrong.status_code == 401 and "audience" in wrong.json()["error"]["message"]
    bc = http.get(info["business_central_url"] + "/api/v2.0/companies", headers={"Authorization": f"Bearer {dv_token}"})
    assert bc.status_code == 401 and bc.json()["error"]["code"] == "Authentication_InvalidCredentials"


def test_expired_token_and_refresh(emu: RunningEmulators, http: requests.Session, info: dict[str, Any]) -> None:
    emu.control(token_max_age=1.5)
    app = msal.ConfidentialClientApplication(info["client_id"], client_credential=info["client_secret"],
                                             authority=info["entra_authority"], instance_discovery=False,
                                             http_client=http)
    token = app.acquire_token_for_client([info["dataverse_url"] + "/.default"])["access_token"]
    url = info["dataverse_url"] + "/api/data/v9.2/WhoAmI"
    assert http.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    time.sleep(1.6)
    r = http.get(url, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]
    emu.control(token_max_age=None, token_lifetime=120)
    short = app.acquire_token_for_client(["https://api.businesscentral.dynamics.com/.default"])
    assert short["expires_in"] == 120


def test_request_limit_429_with_retry_after(emu: RunningEmulators, dv: Api) -> None:
    emu.control(dv_requests_per_window=3, dv_window_seconds=30)
    codes = [dv.get("WhoAmI").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = dv.get("WhoAmI")
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 30
    assert r.json()["error"]["code"] == "0x80072322"
    assert "limit of 3 over time window of 30 seconds" in r.json()["error"]["message"]


def test_bc_request_limit(emu: RunningEmulators, bc: Api) -> None:
    emu.control(bc_requests_per_window=2, bc_window_seconds=30)
    codes = [bc.get("companies").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_fault_injection(emu: RunningEmulators, dv: Api, bc: Api) -> None:
    emu.control(rate_5xx=1.0)
    r = dv.get("WhoAmI")
    assert r.status_code in (500, 503) and r.json()["error"]["code"] == "0x80040216"
    emu.control(rate_5xx=0.0, rate_429=1.0)
    r = bc.get("companies")
    assert r.status_code == 429 and "Retry-After" in r.headers
    emu.control(rate_429=0.0, drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        dv.get("WhoAmI")
    emu.control(drop_rate=0.0, latency_ms=150)
    started = time.monotonic()
    assert dv.get("WhoAmI").status_code == 200
    assert time.monotonic() - started >= 0.15


def test_control_endpoint_validation_and_reset_speed(emu: RunningEmulators, dv: Api) -> None:
    with pytest.raises(requests.HTTPError):
        emu.control(no_such_setting=1)
    with pytest.raises(requests.HTTPError):
        emu.control(rate_429=2)
    dv.post("accounts", json={"name": "Temporary"})
    assert dv.get("accounts/$count").text == "17"
    result = emu.reset()
    assert result["seconds"] < 1.0
    assert dv.get("accounts/$count").text == "16"
    state = emu.state()
    assert state["dataverse_rows"]["account"] == 16 and state["settings"]["rate_429"] == 0.0


def test_impersonation(dv: Api, info: dict[str, Any]) -> None:
    admin = dv.get("systemusers?$filter=domainname eq '" + info["admin_user"] + "'&$select=systemuserid").json()
    admin_id = admin["value"][0]["systemuserid"]
    r = dv.post("accounts", json={"name": "On behalf"}, headers={"MSCRMCallerID": admin_id,
                                                                  "Prefer": "return=representation"})
    body = r.json()
    assert body["_createdby_value"] == admin_id and body["_createdonbehalfby_value"] == info["application_user_id"]


def test_latency_holds_the_concurrency_slot(emu: RunningEmulators, info: dict[str, Any], dv_token: str) -> None:
    """Added latency runs inside the concurrency gate: with dv_concurrent=2 and slow requests, a third
    concurrent request gets 429 0x80072326 with Retry-After ("Service protection API limits")."""
    import threading

    from emulators.testing import EmulatorSession

    emu.control(dv_concurrent=2, latency_ms=800)
    url = info["dataverse_url"] + "/api/data/v9.2/WhoAmI"
    sessions = [EmulatorSession.for_info(info) for _ in range(3)]
    for s in sessions:  # open the three keep-alive connections first (TLS handshakes are not slowed)
        s.get(info["control_url"] + "/state").raise_for_status()
    results: list[requests.Response] = []
    gate = threading.Barrier(3)

    def call(s: requests.Session) -> None:
        gate.wait()
        results.append(s.get(url, headers={"Authorization": f"Bearer {dv_token}"}, timeout=30))

    threads = [threading.Thread(target=call, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 200, 429], codes
    throttled = next(r for r in results if r.status_code == 429)
    assert throttled.headers["Retry-After"] == "1"
    assert throttled.json()["error"] == {"code": "0x80072326",
                                         "message": "Number of concurrent requests exceeded the limit of 2."}
    emu.control(latency_ms=0)
    assert sessions[0].get(url, headers={"Authorization": f"Bearer {dv_token}"}).status_code == 200


def test_bc_processes_a_few_requests_at_once_and_queues_the_rest(emu: RunningEmulators, info: dict[str, Any],
                                                                 bc_token: str) -> None:
    """BC online limits ("Working with API limits in Dynamics 365 Business Central"): a few requests per user are
    processed at once, further ones wait in a bounded queue, and a request that finds the queue full gets 429.
    Scaled down here to 1 processed + 1 queued."""
    import threading
    import time

    from emulators.testing import EmulatorSession

    emu.control(bc_concurrent=1, bc_max_queue=1, latency_ms=700, fault_services=["bc"])
    url = info["business_central_url"] + "/api/v2.0/companies"
    sessions = [EmulatorSession.for_info(info) for _ in range(3)]
    for s in sessions:  # open the keep-alive connections first
        s.get(info["control_url"] + "/state").raise_for_status()
    results: list[tuple[int, float]] = []
    gate = threading.Barrier(3)

    def call(s: requests.Session) -> None:
        gate.wait()
        started = time.monotonic()
        response = s.get(url, headers={"Authorization": f"Bearer {bc_token}"}, timeout=30)
        results.append((response.status_code, time.monotonic() - started))

    threads = [threading.Thread(target=call, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(code for code, _ in results)
    assert codes == [200, 200, 429], results
    # The queued request waited for the first one to finish: it took about two latencies, the first about one.
    durations = sorted(seconds for code, seconds in results if code == 200)
    assert durations[1] >= durations[0] + 0.5, results
