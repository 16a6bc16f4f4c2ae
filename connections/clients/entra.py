"""Access tokens from Microsoft Entra ID through msal (msal for Python, ``msal/application.py``; Microsoft Learn:
"Microsoft identity platform and the OAuth 2.0 client credentials flow").

One msal ``ConfidentialClientApplication`` per (authority, client id, credential) lives for the whole process
(msal's token cache is in memory per application object: keep one app object per tenant and client so its cache is
reused). It is built with ``instance_discovery=False`` (``msal/authority.py``: no hidden instance discovery or
authority alias calls to login.microsoftonline.com, which also makes the emulator usable) and an ``http_client``
session that trusts ``settings.OUTBOUND_CA_BUNDLE`` besides the system store and has a default timeout (msal's
``http_client`` parameter).

Credentials (BC: Dynamics 365 Sales Integration Setup, authentication types):

* client secret — client credentials grant (Microsoft Learn: "Microsoft identity platform and the OAuth 2.0 client
  credentials flow");
* certificate — client credentials with a signed assertion: ``{"private_key": pem, "thumbprint": sha1 hex}`` plus
  ``"public_certificate"`` when the PEM holds the certificate too;
* user name and password — ROPC (Microsoft Learn: "Microsoft identity platform and OAuth 2.0 Resource Owner
  Password Credentials") on the confidential client (the legacy OAuth connection string). msal 1.39 warns about
  ROPC only for public clients (``acquire_token_by_username_password`` in ``msal/application.py``); without a client
  secret a public client is used.

Failures raise :class:`~connections.clients.errors.AuthenticationError` with ``code`` = the AADSTS code
(``AADSTS7000215`` wrong secret, ``AADSTS700016`` unknown client, ``AADSTS90002`` unknown tenant, ``AADSTS50126``
wrong password) and a ``fix``; network failures raise the layer errors of :mod:`.transport`.
"""
from __future__ import annotations

import hashlib
import threading
from typing import Any
from urllib.parse import urlsplit

import msal
import requests

from connections.clients.errors import (
    AADSTS_FIXES,
    AuthenticationError,
    ClientError,
    TransientError,
    entra_error,
    error_body,
)
from connections.clients.outbound import check_outbound_url
from connections.clients.transport import TimeoutSession, classify_exception

_apps_lock = threading.Lock()
_apps: dict[str, Any] = {}  # credential fingerprint -> msal application, oldest first
MAX_APPS = 64


def fingerprint(*parts: str | None) -> str:
    """SHA-256 hex of the parts (NUL-separated): identifies a credential without containing it."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update((part or "").encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _split_pem(pem: str) -> tuple[str, str | None]:
    """Return (private key PEM, certificate PEM or None) from a PEM holding a key and maybe a certificate."""
    key_lines: list[str] = []
    cert_lines: list[str] = []
    target: list[str] | None = None
    for line in pem.strip().splitlines():
        if line.startswith("-----BEGIN") and "PRIVATE KEY" in line:
            target = key_lines
        elif line.startswith("-----BEGIN CERTIFICATE"):
            target = cert_lines
        if target is not None:
            target.append(line)
        if line.startswith("-----END"):
            target = None
    key = "\n".join(key_lines) + "\n" if key_lines else pem
    cert = "\n".join(cert_lines) + "\n" if cert_lines else None
    return key, cert


class TokenProvider:
    """Bearer tokens for one Entra app registration (and, for ROPC, one user).

    ``authority`` is ``https://<authority host>/<tenant id>`` (``msal/authority.py``: https only, with the tenant as
    first path segment).
    Give exactly one credential: ``client_secret``; ``certificate_pem`` + ``certificate_thumbprint`` (SHA-1 hex);
    or ``username`` + ``password`` (with ``client_secret`` when the app is confidential). ``timeout`` is seconds
    per token request.
    """

    def __init__(self, *, authority: str, client_id: str, client_secret: str | None = None,
                 certificate_pem: str | None = None, certificate_thumbprint: str | None = None,
                 username: str | None = None, password: str | None = None, timeout: float = 30.0) -> None:
        if not client_id:
            raise AuthenticationError("No client ID is set.", service="entra", layer="auth",
                                      fix="Enter the application (client) ID of the app registration.")
        if not (client_secret or certificate_pem or (username and password)):
            raise AuthenticationError("No credential is set.", service="entra", layer="auth",
                                      fix="Enter a client secret, a certificate, or a user name and password.")
        if certificate_pem and not certificate_thumbprint:
            raise AuthenticationError("The certificate thumbprint is missing.", service="entra", layer="auth",
                                      fix="Enter the certificate's SHA-1 thumbprint as shown in the app registration.")
        self.authority = authority.rstrip("/")
        self.client_id = client_id
        self.username = username or None
        self._password = password or None
        self._secret = client_secret or None
        self._certificate_pem = certificate_pem or None
        self._thumbprint = (certificate_thumbprint or "").replace(":", "").strip() or None
        self.timeout = timeout
        secret_part = self._secret or self._certificate_pem
        # One msal app per credential: a changed secret or password must never reuse tokens cached for the old one.
        self._key = fingerprint(self.authority, client_id, secret_part, self._thumbprint, self.username,
                                 self._password)

    @property
    def credential_key(self) -> str:
        """A stable, secret-free identifier of this credential (for the shared concurrency cap's Redis key)."""
        return fingerprint(self.authority, self.client_id, self.username)[:24]

    def _client_credential(self) -> Any:
        if self._certificate_pem:
            key, cert = _split_pem(self._certificate_pem)
            credential: dict[str, str] = {"private_key": key, "thumbprint": self._thumbprint or ""}
            if cert:
                credential["public_certificate"] = cert
            return credential
        return self._secret

    def _app(self) -> Any:
        with _apps_lock:
            app = _apps.get(self._key)
        if app is not None:
            return app
        check_outbound_url(self.authority)
        session = TimeoutSession(self.timeout, authority=self.authority)
        try:
            if self._secret or self._certificate_pem:
                app = msal.ConfidentialClientApplication(
                    self.client_id, client_credential=self._client_credential(), authority=self.authority,
                    instance_discovery=False, http_client=session, timeout=self.timeout)
            else:
                app = msal.PublicClientApplication(
                    self.client_id, authority=self.authority, instance_discovery=False, http_client=session,
                    timeout=self.timeout)
        except requests.RequestException as exc:
            raise self._network_error(exc) from exc
        except ValueError as exc:
            # msal raises ValueError("Unable to get authority configuration …") on a 4xx discovery answer and
            # drops the body; fetch it once more to report Entra's own code (AADSTS90002 for an unknown tenant).
            raise self._discovery_error(session, exc) from exc
        with _apps_lock:
            while len(_apps) >= MAX_APPS:  # wrong credentials tried in a wizard must not pile up for ever
                _apps.pop(next(iter(_apps)))
            return _apps.setdefault(self._key, app)

    def _network_error(self, exc: requests.RequestException) -> ClientError:
        error, _ = classify_exception(exc, service="entra", url=self.authority, method="POST", timeout=self.timeout)
        if isinstance(exc, requests.HTTPError) and exc.response is not None:  # msal: raise_for_status() on 5xx
            error = TransientError(f"The token endpoint answered HTTP {exc.response.status_code}.", service="entra",
                                   status=exc.response.status_code, layer="auth")
        return error

    def _discovery_error(self, session: requests.Session, exc: ValueError) -> ClientError:
        url = f"{self.authority}/v2.0/.well-known/openid-configuration"
        try:
            response = session.get(url, headers={"Accept": "application/json"})
            payload = response.json()
        except (requests.RequestException, ValueError):
            payload = None
        code, description = error_body(payload)
        if isinstance(payload, dict):
            return entra_error(payload)
        message = str(exc).splitlines()[0] if str(exc) else f"The authority {self.authority} is not valid."
        return AuthenticationError(message, service="entra", code=code, layer="auth",
                                   fix=AADSTS_FIXES["AADSTS90002"] if not description else "")

    def token(self, scope: str) -> str:
        """Return an access token for ``scope`` (e.g. ``https://contoso.crm.dynamics.com/.default``), from msal's
        cache when one with more than 5 minutes of life remains (``msal/application.py``). Raises
        AuthenticationError or a network ClientError."""
        app = self._app()
        scopes = [scope]
        try:
            if self._password and self.username:
                result = None
                accounts = app.get_accounts(username=self.username)
                if accounts:
                    result = app.acquire_token_silent(scopes, account=accounts[0])
                if not result:
                    result = app.acquire_token_by_username_password(self.username, self._password, scopes=scopes)
            else:
                result = app.acquire_token_for_client(scopes=scopes)
        except requests.RequestException as exc:
            raise self._network_error(exc) from exc
        if not result or "access_token" not in result:
            raise entra_error(result or {"error": "no_token", "error_description": "Entra ID returned no token."})
        return str(result["access_token"])

    def invalidate(self) -> None:
        """Forget cached tokens (after the resource answered 401: the token was revoked or expired early)."""
        with _apps_lock:
            app = _apps.get(self._key)
        if app is None:
            return
        if isinstance(app, msal.ConfidentialClientApplication) and not self._password:
            app.remove_tokens_for_client()
        else:
            for account in app.get_accounts(username=self.username):
                app.remove_account(account)

    def __repr__(self) -> str:
        return f"TokenProvider(authority={self.authority!r}, client_id={self.client_id!r})"


def authority_url(authority_host: str, tenant_id: str) -> str:
    """``https://login.microsoftonline.com`` + tenant → ``https://login.microsoftonline.com/<tenant>`` (msal's
    ``msal/authority.py`` wants https with the tenant as first path segment)."""
    host = authority_host.rstrip("/")
    if not urlsplit(host).scheme:
        host = f"https://{host}"
    return f"{host}/{tenant_id.strip()}"
