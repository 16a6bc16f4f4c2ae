"""TokenProvider against the Entra ID emulator: each credential type and Entra's own error codes (Microsoft Learn:
"Microsoft Entra authentication and authorization error codes")."""
from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from pathlib import Path

import pytest

from connections.clients import TokenProvider
from connections.clients.errors import AuthenticationError


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _scope(info: dict) -> str:
    return f"{info['dataverse_url']}/.default"


def test_client_secret_token_is_cached(info, tokens):
    first = tokens.token(_scope(info))
    claims = _claims(first)
    assert claims["appid"] == info["client_id"]
    assert claims["aud"].rstrip("/") == info["dataverse_url"].rstrip("/")
    assert tokens.token(_scope(info)) == first  # msal's in-memory cache
    tokens.invalidate()
    assert tokens.token(_scope(info)) != first


def test_certificate_credential(info):
    pem = Path(info["client_private_key"]).read_text() + Path(info["client_certificate"]).read_text()
    provider = TokenProvider(authority=info["entra_authority"], client_id=info["client_id"], certificate_pem=pem,
                             certificate_thumbprint=info["client_certificate_thumbprint"])
    assert _claims(provider.token(_scope(info)))["appid"] == info["client_id"]


def test_username_password(info):
    provider = TokenProvider(authority=info["entra_authority"], client_id=info["client_id"],
                             client_secret=info["client_secret"], username=info["admin_user"],
                             password=info["admin_password"])
    token = provider.token(_scope(info))
    assert _claims(token)["upn"].lower() == info["admin_user"].lower()
    assert provider.token(_scope(info)) == token  # silent acquisition from the cached account


def test_wrong_secret(info):
    provider = TokenProvider(authority=info["entra_authority"], client_id=info["client_id"],
                             client_secret=f"wrong-{uuid.uuid4()}")
    with pytest.raises(AuthenticationError) as caught:
        provider.token(_scope(info))
    error = caught.value
    assert (error.service, error.layer, error.code) == ("entra", "auth", "AADSTS7000215")
    assert "Invalid client secret" in error.message
    assert "new secret" in error.fix
    assert "wrong-" not in str(error)


def test_unknown_client(info):
    client_id = str(uuid.uuid4())
    provider = TokenProvider(authority=info["entra_authority"], client_id=client_id, client_secret="x")
    with pytest.raises(AuthenticationError) as caught:
        provider.token(_scope(info))
    assert caught.value.code == "AADSTS700016"
    assert client_id in caught.value.message
    assert "client ID" in caught.value.fix


def test_unknown_tenant(info):
    authority = info["entra_authority"].rsplit("/", 1)[0] + f"/{uuid.uuid4()}"
    provider = TokenProvider(authority=authority, client_id=info["client_id"], client_secret=info["client_secret"])
    with pytest.raises(AuthenticationError) as caught:
        provider.token(_scope(info))
    assert caught.value.code == "AADSTS90002"
    assert "tenant" in caught.value.fix.lower()


def test_wrong_password(info):
    provider = TokenProvider(authority=info["entra_authority"], client_id=info["client_id"],
                             client_secret=info["client_secret"], username=info["admin_user"],
                             password=f"not-{uuid.uuid4()}")
    with pytest.raises(AuthenticationError) as caught:
        provider.token(_scope(info))
    assert caught.value.code == "AADSTS50126"


def test_missing_credential_is_named():
    with pytest.raises(AuthenticationError) as caught:
        TokenProvider(authority="https://login.microsoftonline.com/x", client_id="abc")
    assert "No credential" in caught.value.message
    with pytest.raises(AuthenticationError) as caught:
        TokenProvider(authority="https://login.microsoftonline.com/x", client_id="abc", certificate_pem="PEM")
    assert "thumbprint" in caught.value.message


def test_expired_token_is_dropped_and_renewed(dv, emulator):
    """A token the API rejects as expired (401) is dropped from msal's cache and the request sent once more."""
    dv.who_am_i()
    # tokens carry their issue time in whole seconds: 3 s leaves the renewed token at least 2 s of life, enough on a
    # loaded machine, while the one issued before the sleep is surely expired
    emulator.control(token_max_age=3.0)
    time.sleep(3.2)
    before = dv.requests_sent
    assert dv.who_am_i()["UserId"]
    assert dv.requests_sent - before == 2  # 401 with the old token, 200 with the new one


def test_secrets_and_tokens_are_never_logged(info, caplog):
    caplog.set_level(logging.DEBUG)
    provider = TokenProvider(authority=info["entra_authority"], client_id=info["client_id"],
                             client_secret=info["client_secret"], username=info["admin_user"],
                             password=info["admin_password"])
    from connections.clients import DataverseClient

    client = DataverseClient(info["dataverse_url"], provider, max_concurrency=0)
    client.who_am_i()
    token = provider.token(_scope(info))
    assert caplog.records  # the clients and msal did log
    for secret in (info["client_secret"], info["admin_password"], token):
        assert secret not in caplog.text
