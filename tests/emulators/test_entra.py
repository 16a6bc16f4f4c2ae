"""Entra ID emulator as msal uses it (Microsoft Learn "Microsoft identity platform and OAuth 2.0 client credentials
flow", "OpenID Connect on the Microsoft identity platform")."""

from __future__ import annotations

import base64
import json
from typing import Any

import msal
import pytest
import requests


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_discovery_document(http: requests.Session, info: dict[str, Any]) -> None:
    r = http.get(info["entra_authority"] + "/v2.0/.well-known/openid-configuration")
    assert r.status_code == 200
    doc = r.json()
    assert doc["token_endpoint"] == info["entra_authority"] + "/oauth2/v2.0/token"
    assert doc["issuer"] == info["entra_authority"] + "/v2.0"
    assert "authorization_endpoint" in doc and "jwks_uri" in doc


def test_client_secret_token_for_dataverse(cca: msal.ConfidentialClientApplication, info: dict[str, Any]) -> None:
    result = cca.acquire_token_for_client([info["dataverse_url"] + "/.default"])
    assert result["token_type"] == "Bearer" and result["expires_in"] > 3000
    claims = _claims(result["access_token"])
    assert claims["aud"] == info["dataverse_url"]
    assert claims["tid"] == info["tenant_id"] and claims["appid"] == info["client_id"]
    assert claims["exp"] > claims["iat"]


def test_certificate_assertion(http: requests.Session, info: dict[str, Any]) -> None:
    with open(info["client_private_key"]) as k, open(info["client_certificate"]) as c:
        cred = {"private_key": k.read(), "public_certificate": c.read()}
    app = msal.ConfidentialClientApplication(info["client_id"], client_credential=cred,
                                             authority=info["entra_authority"], instance_discovery=False,
                                             http_client=http)
    result = app.acquire_token_for_client(["https://api.businesscentral.dynamics.com/.default"])
    assert "access_token" in result, result
    assert _claims(result["access_token"])["aud"] == "https://api.businesscentral.dynamics.com"


def test_certificate_not_registered(http: requests.Session, info: dict[str, Any], tmp_path: Any) -> None:
    import trustme

    ca = trustme.CA(key_type=trustme.KeyType.RSA)
    cert = ca.issue_cert("other.example", key_type=trustme.KeyType.RSA)
    cred = {"private_key": cert.private_key_pem.bytes().decode(),
            "public_certificate": cert.cert_chain_pems[0].bytes().decode()}
    app = msal.ConfidentialClientApplication(info["client_id"], client_credential=cred,
                                             authority=info["entra_authority"], instance_discovery=False,
                                             http_client=http)
    result = app.acquire_token_for_client(["https://api.businesscentral.dynamics.com/.default"])
    assert result["error"] == "invalid_client" and 700027 in result["error_codes"]


def test_username_password_grant(http: requests.Session, info: dict[str, Any]) -> None:
    app = msal.ConfidentialClientApplication(info["client_id"], client_credential=info["client_secret"],
                                             authority=info["entra_authority"], instance_discovery=False,
                                             http_client=http)
    result = app.acquire_token_by_username_password(info["admin_user"], info["admin_password"],
                                                    [info["dataverse_url"] + "/.default"])
    assert "access_token" in result, result
    claims = _claims(result["access_token"])
    assert claims["upn"] == info["admin_user"] and claims["scp"] == "user_impersonation"
    assert app.get_accounts()[0]["username"] == info["admin_user"]
    silent = app.acquire_token_silent([info["dataverse_url"] + "/.default"], account=app.get_accounts()[0])
    assert silent["access_token"] == result["access_token"]


def test_wrong_password(http: requests.Session, info: dict[str, Any]) -> None:
    app = msal.ConfidentialClientApplication(info["client_id"], client_credential=info["client_secret"],
                                             authority=info["entra_authority"], instance_discovery=False,
                                             http_client=http)
    result = app.acquire_token_by_username_password(info["admin_user"], "wrong",
                                                    [info["dataverse_url"] + "/.default"])
    assert result["error"] == "invalid_grant" and result["error_codes"] == [50126]
    assert result["error_description"].startswith("AADSTS50126:")


def test_wrong_secret(http: requests.Session, info: dict[str, Any]) -> None:
    app = msal.ConfidentialClientApplication(info["client_id"], client_credential="nope",
                                             authority=info["entra_authority"], instance_discovery=False,
                                             http_client=http)
    result = app.acquire_token_for_client([info["dataverse_url"] + "/.default"])
    assert result["error"] == "invalid_client" and result["error_codes"] == [7000215]
    assert {"timestamp", "trace_id", "correlation_id"} <= set(result)


def test_unknown_client(http: requests.Session, info: dict[str, Any]) -> None:
    app = msal.ConfidentialClientApplication("00000000-1111-2222-3333-444444444444", client_credential="x",
                                             authority=info["entra_authority"], instance_discovery=False,
                                             http_client=http)
    result = app.acquire_token_for_client([info["dataverse_url"] + "/.default"])
    assert result["error"] == "unauthorized_client" and result["error_codes"] == [700016]


def test_unknown_tenant(http: requests.Session, info: dict[str, Any]) -> None:
    origin = info["dataverse_url"]
    with pytest.raises(ValueError):
        msal.ConfidentialClientApplication(info["client_id"], client_credential=info["client_secret"],
                                           authority=origin + "/11111111-2222-3333-4444-555555555555",
                                           instance_discovery=False, http_client=http)
    r = http.post(origin + "/11111111-2222-3333-4444-555555555555/oauth2/v2.0/token",
                  data={"grant_type": "client_credentials", "client_id": info["client_id"]})
    assert r.status_code == 400 and r.json()["error_codes"] == [90002]


def test_bad_scope_and_unknown_resource(http: requests.Session, info: dict[str, Any]) -> None:
    url = info["entra_authority"] + "/oauth2/v2.0/token"
    base = {"grant_type": "client_credentials", "client_id": info["client_id"], "client_secret": info["client_secret"]}
    r = http.post(url, data={**base, "scope": info["dataverse_url"] + "/user_impersonation"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    r = http.post(url, data={**base, "scope": "https://unknown.example/.default"})
    assert r.status_code == 400 and r.json()["error_codes"] == [500011]
