"""Access tokens from Microsoft Entra ID through msal (msal for Python, ``msal/application.py``; Microsoft Learn:
"Microsoft identity platform and the OAuth 2.0 client credentials flow").

One msal ``ConfidentialClientApplication`` per (authority, client id, credential) lives for the whole process, and
its token cache is shared with every other process through Redis, encrypted (:mod:`.token_cache`: a forked RQ work
horse reuses the token its siblings fetched, and the authority's OpenID configuration too). It is built with
``instance_discovery=False`` (``msal/authority.py``: no hidden instance discovery or authority alias calls to
login.microsoftonline.com, which also makes the emulator usable) and an ``http_client`` session that trusts
``settings.OUTBOUND_CA_BUNDLE`` besides the system store and has a default timeout (msal's ``http_client``
parameter).

Credentials (BC: Dynamics 365 Sales Integration Setup, authentication types):

* client secret — client credentials grant (Microsoft Learn: "Microsoft identity platform and the OAuth 2.0 client
  credentials flow");
* certificate — client credentials with a signed assertion: ``{"private_key": pem, "thumbprint": sha1 hex}`` plus
  ``"public_certificate"`` when the PEM holds the certificate too;
* user name and password — ROPC (Microsoft Learn: "Microsoft identity platform and OAuth 2.0 Resource Owner
  Password Credentials") on the confidential client, for the legacy OAuth connection string only (older on-premises
  versions, where BC itself signs in this way). msal 1.39 warns about ROPC only for public clients
  (``acquire_token_by_username_password`` in ``msal/application.py``); without a client secret a public client is
  used. Nothing else signs in with a password: ROPC fails for every account with multi-factor authentication.

A person's sign-in (the Dataverse administrator who imports the integration solution) goes through
:class:`InteractiveSignIn`: the authorization code flow with PKCE in the browser, the device authorization grant on
the command line. Its token is served once by :class:`AccessToken` / :class:`DeviceCodeTokens` and never stored.

Failures raise :class:`~connections.clients.errors.AuthenticationError` with ``code`` = the AADSTS code
(``AADSTS7000215`` wrong secret, ``AADSTS700016`` unknown client, ``AADSTS90002`` unknown tenant, ``AADSTS50126``
wrong password) and a ``fix``; network failures raise the layer errors of :mod:`.transport`.
"""
from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
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
from connections.clients.token_cache import DiscoveryCachingSession, SharedTokenCache
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
        # Shared through Redis by every process (a forked RQ work horse reuses its siblings' token and the
        # authority's OpenID configuration): connections/clients/token_cache.py.
        session = DiscoveryCachingSession(self.timeout, authority=self.authority)
        cache = SharedTokenCache(self._key)
        try:
            if self._secret or self._certificate_pem:
                app = msal.ConfidentialClientApplication(
                    self.client_id, client_credential=self._client_credential(), authority=self.authority,
                    instance_discovery=False, http_client=session, timeout=self.timeout, token_cache=cache)
            else:
                app = msal.PublicClientApplication(
                    self.client_id, authority=self.authority, instance_discovery=False, http_client=session,
                    timeout=self.timeout, token_cache=cache)
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
        cache when one with more than 5 minutes of life remains (``msal/application.py``), in this process or saved
        by another (:class:`~connections.clients.token_cache.SharedTokenCache`). Raises AuthenticationError or a
        network ClientError."""
        app = self._app()
        scopes = [scope]
        cache: SharedTokenCache = app.token_cache
        try:
            with cache.shared(scopes, wait=self.timeout):  # the other processes' token, or theirs from this one
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
        """Forget cached tokens, in this process and in the shared cache (after the resource answered 401: the token was
        revoked or expired early)."""
        with _apps_lock:
            app = _apps.get(self._key)
        if app is None:
            SharedTokenCache(self._key).forget()
            return
        app.token_cache.forget()
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


#: Fixes of the errors an administrator's interactive sign-in can end with (Microsoft Learn: "Microsoft Entra
#: authentication and authorization error codes").
SIGN_IN_FIXES = {
    "AADSTS65004": "The sign-in was cancelled or consent was declined: sign in again and accept the permissions.",
    "access_denied": "The sign-in was cancelled or consent was declined: sign in again and accept the permissions.",
    "AADSTS50011": "The portal's sign-in callback is not a redirect URI of the app registration: add it under "
    "Authentication → Web → Redirect URIs.",
    "AADSTS54005": "This sign-in was already used: start the sign-in again.",
    "AADSTS70008": "The sign-in took too long: start it again.",
    "AADSTS501481": "The sign-in did not complete in the same browser session: start it again.",
    "AADSTS65001": "Nobody has consented to the app's Dynamics CRM user_impersonation permission: grant admin "
    "consent for it in the app registration.",
    "AADSTS70019": "The device code expired before it was approved: run the command again.",
    "authorization_declined": "The sign-in was declined on the verification page: run the command again and accept.",
    "expired_token": "The device code expired before it was approved: run the command again.",
    "AADSTS7000218": "The app registration does not allow public client flows: turn on \u201cAllow public client "
    "flows\u201d under Authentication, or give an administrator app (--admin-client-id).",
}


def _sign_in_error(result: dict[str, Any]) -> AuthenticationError:
    error = entra_error(result)
    error.fix = error.fix or SIGN_IN_FIXES.get(error.code or "", "") or SIGN_IN_FIXES.get(
        str(result.get("error") or ""), "")
    return error


def resource_of(scope: str) -> str:
    """``https://contoso.crm.dynamics.com/.default`` or ``…/user_impersonation`` → ``https://contoso.crm.dynamics.com``
    (a scope is the resource's application ID URI plus one permission)."""
    rest = scope.split("://", 1)[-1].rstrip("/")
    base = scope.rstrip("/").rsplit("/", 1)[0] if "/" in rest else scope
    return base.rstrip("/").lower()


class AccessToken:
    """A token source holding one access token a person signed in for (delegated; never cached by msal, never
    stored): the administrator's token for one integration solution import.

    ``token(scope)`` returns it for any scope of the same resource (``…/.default`` or ``…/user_impersonation``) and
    raises AuthenticationError for another resource or after :meth:`invalidate` (a 401 from the resource, or the end
    of the import). ``account`` is the signed-in user's name (for messages; not a secret).
    """

    def __init__(self, access_token: str, *, resource: str, account: str = "") -> None:
        self._token: str | None = access_token or None
        self.resource = resource_of(resource)
        self.account = account

    @property
    def credential_key(self) -> str:
        """A secret-free identifier for the concurrency cap's key."""
        return fingerprint("delegated", self.resource, self.account)[:24]

    def token(self, scope: str) -> str:
        """The access token, when ``scope`` names its resource. Raises AuthenticationError otherwise."""
        if resource_of(scope) != self.resource:
            raise AuthenticationError(f"The administrator signed in for {self.resource}, not for {resource_of(scope)}.",
                                      service="entra", layer="auth", fix="Sign in again for this environment.")
        if self._token is None:
            raise AuthenticationError("The administrator's sign-in is no longer valid.", service="entra",
                                      layer="auth", code="signin_expired",
                                      fix="Sign in again with Microsoft and run the import again.")
        return self._token

    def invalidate(self) -> None:
        """Forget the token (after a 401, or when the import ends)."""
        self._token = None

    def __repr__(self) -> str:
        return f"AccessToken(resource={self.resource!r}, account={self.account!r})"


class InteractiveSignIn:
    """A person's sign-in through one app registration: the authorization code flow with PKCE for the portal's pages
    and the device authorization grant for the command line (Microsoft Learn: "Microsoft identity platform and OAuth
    2.0 authorization code flow", "Microsoft identity platform and the OAuth 2.0 device authorization grant flow";
    msal for Python ``initiate_auth_code_flow`` / ``acquire_token_by_auth_code_flow``, ``initiate_device_flow`` /
    ``acquire_token_by_device_flow``).

    ``authority`` as for :class:`TokenProvider`. The authorization code flow runs on a confidential client when
    ``client_secret`` or ``certificate_pem`` is given (a Web redirect URI of the app registration), else on a public
    one; the device flow always runs on a public client (the app registration must allow public client flows).
    Every call builds its own msal application without a shared cache: the token is returned once, never kept.
    Raises AuthenticationError (``code`` = the AADSTS code) or a network ClientError.
    """

    def __init__(self, *, authority: str, client_id: str, client_secret: str | None = None,
                 certificate_pem: str | None = None, certificate_thumbprint: str | None = None,
                 timeout: float = 30.0) -> None:
        if not client_id:
            raise AuthenticationError("No client ID is set.", service="entra", layer="auth",
                                      fix="Enter the application (client) ID of the app registration.")
        self.authority = authority.rstrip("/")
        self.client_id = client_id
        self.timeout = timeout
        self._secret = client_secret or None
        self._certificate_pem = certificate_pem or None
        self._thumbprint = (certificate_thumbprint or "").replace(":", "").strip() or None

    def _app(self, *, public: bool) -> Any:
        check_outbound_url(self.authority)
        session = TimeoutSession(self.timeout, authority=self.authority)
        options = {"authority": self.authority, "instance_discovery": False, "http_client": session,
                   "timeout": self.timeout}
        try:
            if public or not (self._secret or self._certificate_pem):
                return msal.PublicClientApplication(self.client_id, **options)
            credential: Any = self._secret
            if self._certificate_pem:
                key, cert = _split_pem(self._certificate_pem)
                credential = {"private_key": key, "thumbprint": self._thumbprint or ""}
                if cert:
                    credential["public_certificate"] = cert
            return msal.ConfidentialClientApplication(self.client_id, client_credential=credential, **options)
        except requests.RequestException as exc:
            raise classify_exception(exc, service="entra", url=self.authority, method="GET",
                                     timeout=self.timeout)[0] from exc
        except ValueError as exc:
            raise AuthenticationError(str(exc).splitlines()[0] or "The authority is not valid.", service="entra",
                                      layer="auth", code="AADSTS90002", fix=AADSTS_FIXES["AADSTS90002"]) from exc

    def start_auth_code_flow(self, *, scope: str, redirect_uri: str, login_hint: str | None = None) -> dict[str, Any]:
        """Begin the authorization code flow: returns msal's flow dict (``auth_uri`` to send the browser to, plus
        ``state``, ``code_verifier`` and ``nonce``, which must stay on the server until :meth:`finish_auth_code_flow`).
        """
        app = self._app(public=False)
        return dict(app.initiate_auth_code_flow([scope], redirect_uri=redirect_uri, login_hint=login_hint))

    def finish_auth_code_flow(self, *, flow: dict[str, Any], response: dict[str, str], scope: str) -> AccessToken:
        """Redeem the browser's callback parameters (``code`` + ``state``, or ``error`` + ``error_description``)
        with the flow of :meth:`start_auth_code_flow` for ``scope``. Raises AuthenticationError for an error answer,
        a state mismatch (``code`` "state_mismatch") or a refused redemption."""
        if response.get("error"):
            raise _sign_in_error(dict(response))
        app = self._app(public=False)
        try:
            result = app.acquire_token_by_auth_code_flow(flow, response)
        except ValueError as exc:  # msal: the state of the answer is not the flow's
            raise AuthenticationError("The sign-in answer does not belong to this sign-in (state mismatch).",
                                      service="entra", layer="auth", code="state_mismatch",
                                      fix="Start the sign-in again from the portal.") from exc
        except requests.RequestException as exc:
            raise classify_exception(exc, service="entra", url=self.authority, method="POST",
                                     timeout=self.timeout)[0] from exc
        return self._access_token(result, scope)

    def start_device_flow(self, *, scope: str) -> dict[str, Any]:
        """Begin the device authorization grant: msal's flow dict (``user_code``, ``verification_uri``,
        ``message`` to show the person, ``expires_in`` and ``interval`` in seconds)."""
        app = self._app(public=True)
        try:
            flow = dict(app.initiate_device_flow(scopes=[scope]))
        except requests.RequestException as exc:
            raise classify_exception(exc, service="entra", url=self.authority, method="POST",
                                     timeout=self.timeout)[0] from exc
        if "user_code" not in flow:
            raise _sign_in_error(flow)
        return flow

    def finish_device_flow(self, *, flow: dict[str, Any], scope: str) -> AccessToken:
        """Poll the token endpoint every ``interval`` seconds until the person approves, declines or the code
        expires (msal's loop). Raises AuthenticationError for ``authorization_declined`` / ``expired_token``."""
        app = self._app(public=True)
        try:
            result = app.acquire_token_by_device_flow(flow)
        except requests.RequestException as exc:
            raise classify_exception(exc, service="entra", url=self.authority, method="POST",
                                     timeout=self.timeout)[0] from exc
        return self._access_token(result, scope)

    @staticmethod
    def _access_token(result: dict[str, Any] | None, scope: str) -> AccessToken:
        if not result or "access_token" not in result:
            raise _sign_in_error(result or {"error": "no_token", "error_description": "Entra ID returned no token."})
        claims = result.get("id_token_claims") or {}
        return AccessToken(str(result["access_token"]), resource=scope,
                           account=str(claims.get("preferred_username") or claims.get("upn") or ""))


class DeviceCodeTokens:
    """A token source that signs a person in with the device authorization grant the first time a token is asked
    for (so the prompt appears only when the token is needed), then serves that one token (see
    :class:`AccessToken`). ``prompt`` receives the flow's ``message`` (the command line prints it to stderr)."""

    def __init__(self, sign_in: InteractiveSignIn, prompt: Callable[[str], None]) -> None:
        self.sign_in = sign_in
        self.prompt = prompt
        self._tokens: AccessToken | None = None
        self._used = False

    @property
    def credential_key(self) -> str:
        return fingerprint("device", self.sign_in.authority, self.sign_in.client_id)[:24]

    def token(self, scope: str) -> str:
        """The signed-in person's token for ``scope``'s resource (signing in first). Raises AuthenticationError."""
        if self._tokens is None:
            if self._used:
                raise AuthenticationError("The administrator's sign-in is no longer valid.", service="entra",
                                          layer="auth", code="signin_expired", fix="Run the command again.")
            self._used = True
            flow = self.sign_in.start_device_flow(scope=scope)
            self.prompt(str(flow.get("message") or ""))
            self._tokens = self.sign_in.finish_device_flow(flow=flow, scope=scope)
        return self._tokens.token(scope)

    def invalidate(self) -> None:
        """Forget the token (after a 401, or when the import ends); no second prompt follows."""
        if self._tokens is not None:
            self._tokens.invalidate()
            self._tokens = None
