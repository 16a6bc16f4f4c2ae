"""The Entra emulator's interactive sign-in, driven by msal and plain HTTP: the authorization code flow with PKCE
(sign-in and consent page, single-use codes) and the device authorization grant (verification page, polling
errors), with the errors Microsoft Learn documents for both."""

from __future__ import annotations

import copy
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import msal
import pytest
import requests

REDIRECT_URI = "http://localhost:8123/connections/admin-sign-in/callback/"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
def web_app(info: dict[str, Any], http: requests.Session) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(info["client_id"], client_credential=info["client_secret"],
                                              authority=info["entra_authority"], instance_discovery=False,
                                              http_client=http)


def _sign_in(http: requests.Session, auth_uri: str, login: str, password: str, consent: str = "accept"
             ) -> requests.Response:
    page = http.get(auth_uri, timeout=30)
    assert page.status_code == 200 and 'id="accept"' in page.text, page.text
    return http.post(auth_uri, data={"login": login, "passwd": password, "consent": consent}, allow_redirects=False,
                     timeout=30)


def _auth_response(answer: requests.Response) -> dict[str, str]:
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT_URI)
    return {k: v[-1] for k, v in parse_qs(urlsplit(location).query).items()}


def test_openid_configuration_advertises_the_interactive_endpoints(http: requests.Session, info: dict[str, Any]
                                                                    ) -> None:
    config = http.get(info["entra_authority"] + "/v2.0/.well-known/openid-configuration", timeout=30).json()
    assert config["authorization_endpoint"] == info["entra_authority"] + "/oauth2/v2.0/authorize"
    assert config["device_authorization_endpoint"] == info["entra_authority"] + "/oauth2/v2.0/devicecode"


def test_auth_code_flow_issues_a_delegated_token_once(web_app: Any, http: requests.Session,
                                                      info: dict[str, Any]) -> None:
    scope = info["dataverse_url"] + "/user_impersonation"
    flow = web_app.initiate_auth_code_flow([scope], redirect_uri=REDIRECT_URI, login_hint=info["admin_user"])
    assert "code_challenge=" in flow["auth_uri"] and "code_challenge_method=S256" in flow["auth_uri"]
    response = _auth_response(_sign_in(http, flow["auth_uri"], info["admin_user"], info["admin_password"]))
    assert response["state"] == flow["state"]
    again = copy.deepcopy(flow)

    result = web_app.acquire_token_by_auth_code_flow(flow, response)
    assert "access_token" in result, result
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["upn"] == info["admin_user"] and claims["scp"] == "user_impersonation"
    assert claims["aud"].rstrip("/") == info["dataverse_url"].rstrip("/") and claims["idtyp"] == "user"

    reused = web_app.acquire_token_by_auth_code_flow(again, response)
    assert reused["error"] == "invalid_grant" and "AADSTS54005" in reused["error_description"]


def test_pkce_mismatch_is_invalid_grant(web_app: Any, http: requests.Session, info: dict[str, Any]) -> None:
    flow = web_app.initiate_auth_code_flow([info["dataverse_url"] + "/user_impersonation"], redirect_uri=REDIRECT_URI)
    response = _auth_response(_sign_in(http, flow["auth_uri"], info["admin_user"], info["admin_password"]))
    flow["code_verifier"] = "x" * 43  # not the verifier the challenge was made from
    result = web_app.acquire_token_by_auth_code_flow(flow, response)
    assert result["error"] == "invalid_grant"
    assert result["error_description"].startswith("AADSTS501481:") and result["error_codes"] == [501481]


def test_cancel_sends_access_denied_back(web_app: Any, http: requests.Session, info: dict[str, Any]) -> None:
    flow = web_app.initiate_auth_code_flow([info["dataverse_url"] + "/user_impersonation"], redirect_uri=REDIRECT_URI)
    response = _auth_response(_sign_in(http, flow["auth_uri"], "", "", consent="cancel"))
    assert response["error"] == "access_denied" and response["state"] == flow["state"]
    assert response["error_description"].startswith("AADSTS65004:")


def test_wrong_password_stays_on_the_page(web_app: Any, http: requests.Session, info: dict[str, Any]) -> None:
    flow = web_app.initiate_auth_code_flow([info["dataverse_url"] + "/user_impersonation"], redirect_uri=REDIRECT_URI)
    answer = _sign_in(http, flow["auth_uri"], info["admin_user"], "not-the-password")
    assert answer.status_code == 200 and "AADSTS50126" in answer.text


def test_authorize_refuses_unregistered_redirect_and_missing_pkce(http: requests.Session, info: dict[str, Any]
                                                                  ) -> None:
    url = info["entra_authority"] + "/oauth2/v2.0/authorize"
    base = {"client_id": info["client_id"], "response_type": "code", "state": "s1",
            "scope": info["dataverse_url"] + "/user_impersonation"}
    foreign = http.get(url, params={**base, "redirect_uri": "https://evil.example/cb"}, allow_redirects=False,
                       timeout=30)
    assert foreign.status_code == 400 and "AADSTS50011" in foreign.text  # shown, never redirected
    unknown = http.get(url, params={**base, "client_id": "00000000-0000-0000-0000-000000000001",
                                    "redirect_uri": REDIRECT_URI}, allow_redirects=False, timeout=30)
    assert unknown.status_code == 400 and "AADSTS700016" in unknown.text
    no_pkce = _auth_response(http.get(url, params={**base, "redirect_uri": REDIRECT_URI}, allow_redirects=False,
                                      timeout=30))
    assert no_pkce["error"] == "invalid_request" and "code_challenge" in no_pkce["error_description"]
    token_type = _auth_response(http.get(url, params={**base, "redirect_uri": REDIRECT_URI, "response_type": "token",
                                                      "code_challenge": "a" * 43}, allow_redirects=False, timeout=30))
    assert token_type["error"] == "unsupported_response_type"


def _device_code(http: requests.Session, info: dict[str, Any]) -> dict[str, Any]:
    scope = info["dataverse_url"] + "/.default offline_access"
    answer = http.post(info["entra_authority"] + "/oauth2/v2.0/devicecode", timeout=30,
                       data={"client_id": info["client_id"], "scope": scope})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _poll(http: requests.Session, info: dict[str, Any], device_code: str) -> requests.Response:
    return http.post(info["entra_authority"] + "/oauth2/v2.0/token", timeout=30,
                     data={"grant_type": DEVICE_GRANT, "client_id": info["client_id"], "device_code": device_code})


def _verify(http: requests.Session, flow: dict[str, Any], login: str, password: str, consent: str = "accept"
            ) -> requests.Response:
    page = http.get(flow["verification_uri"], timeout=30)
    assert page.status_code == 200 and 'id="otc"' in page.text
    sign_in = http.post(flow["verification_uri"], data={"otc": flow["user_code"]}, timeout=30)
    assert sign_in.status_code == 200 and 'id="accept"' in sign_in.text, sign_in.text
    return http.post(flow["verification_uri"], timeout=30,
                     data={"otc": flow["user_code"], "login": login, "passwd": password, "consent": consent})


def test_device_code_flow_pending_then_token(http: requests.Session, info: dict[str, Any]) -> None:
    flow = _device_code(http, info)
    assert flow["expires_in"] == 900 and flow["interval"] == 5
    assert flow["verification_uri"] in flow["message"] and flow["user_code"] in flow["message"]

    pending = _poll(http, info, flow["device_code"])
    assert pending.status_code == 400 and pending.json()["error"] == "authorization_pending"
    assert pending.json()["error_codes"] == [70016]
    too_fast = _poll(http, info, flow["device_code"])
    assert too_fast.json()["error"] == "slow_down"

    done = _verify(http, flow, info["admin_user"], info["admin_password"])
    assert "You have signed in" in done.text
    token = _poll(http, info, flow["device_code"])
    assert token.status_code == 200, token.text
    claims = jwt.decode(token.json()["access_token"], options={"verify_signature": False})
    assert claims["upn"] == info["admin_user"] and "scp" in claims
    again = _poll(http, info, flow["device_code"])
    assert again.json()["error"] == "bad_verification_code"


def test_device_code_declined_and_wrong_code(http: requests.Session, info: dict[str, Any]) -> None:
    flow = _device_code(http, info)
    wrong = http.post(flow["verification_uri"], data={"otc": "NOTACODE1"}, timeout=30)
    assert wrong.status_code == 400 and "AADSTS70018" in wrong.text
    _verify(http, flow, "", "", consent="cancel")
    declined = _poll(http, info, flow["device_code"])
    assert declined.status_code == 400 and declined.json()["error"] == "authorization_declined"


def test_msal_device_flow_against_the_emulator(http: requests.Session, info: dict[str, Any]) -> None:
    app = msal.PublicClientApplication(info["client_id"], authority=info["entra_authority"], instance_discovery=False,
                                       http_client=http)
    flow = app.initiate_device_flow(scopes=[info["dataverse_url"] + "/.default"])
    assert re.fullmatch(r"[A-Z0-9]{9}", flow["user_code"])
    first = app.acquire_token_by_device_flow(flow, exit_condition=lambda _flow: True)
    assert first["error"] == "authorization_pending"
    _verify(http, flow, info["admin_user"], info["admin_password"])
    result = app.acquire_token_by_device_flow(flow)  # msal waits `interval` seconds, then redeems
    assert "access_token" in result, result
