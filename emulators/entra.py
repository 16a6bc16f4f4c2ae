"""Microsoft Entra ID emulator: OIDC discovery, JWKS, user realm and the v2.0 token endpoint.

What msal calls and what is answered (Microsoft Learn "OpenID Connect on the Microsoft identity platform",
"Microsoft identity platform and OAuth 2.0 client credentials flow", "Microsoft identity platform and OAuth 2.0
Resource Owner Password Credentials", "Microsoft identity platform application authentication certificate
credentials"):

* ``GET /{tenant}/v2.0/.well-known/openid-configuration`` - OIDC document whose
  ``token_endpoint`` is ``{origin}/{tenant}/oauth2/v2.0/token`` (msal takes the tenant from the authority's
  first path segment).  Unknown tenant -> 400 ``invalid_request`` AADSTS90002 (msal raises
  ``ValueError`` at construction, as against the real service).
* ``GET /common/userrealm/{username}?api-version=1.0`` - ``{"account_type": "Managed", ...}`` (the
  emulator never answers ``Federated``).
* ``GET /common/discovery/instance`` - answered for clients that forget ``instance_discovery=False``.
* ``POST /{tenant}/oauth2/v2.0/token`` - grants ``client_credentials`` (secret in the body or HTTP
  Basic, or a certificate ``client_assertion`` signed RS256/PS256 with ``x5t``/``x5t#S256``),
  ``password`` (ROPC, legacy OAuth connection string), ``refresh_token``, ``authorization_code`` (with PKCE) and
  ``urn:ietf:params:oauth:grant-type:device_code``. A grant without a client credential is a public client's: the
  app registration must allow public client flows (``allow_public_client``), else ``invalid_client`` AADSTS7000218.
* ``/{tenant}/oauth2/v2.0/authorize``, ``/{tenant}/oauth2/v2.0/devicecode`` and ``/devicelogin`` - interactive
  sign-in (authorization code flow and device authorization grant), see :mod:`emulators.entra_signin`.

The URLs are the werkzeug URL map :data:`ROUTES`. Access tokens are RS256 JWTs ("Microsoft identity platform access
tokens") with ``aud`` (resource), ``iss``, ``tid``, ``oid``, ``appid``/``azp``, ``roles`` or ``scp``,
``iat``/``nbf``/``exp`` (seconds since the epoch, UTC). Errors use Entra's JSON shape ("Microsoft Entra
authentication and authorization error codes"): ``error``, ``error_description`` (``AADSTSnnnn: ...``),
``error_codes``, ``timestamp``, ``trace_id``, ``correlation_id``, ``error_uri``.

``invalid_client`` (bad secret / bad assertion) is answered with HTTP 401 as the real service does (RFC 6749
section 5.2 allows 401 for a failed client authentication); msal returns 4xx bodies to the caller alike.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.routing import Rule

from .entra_signin import DEFAULT_REDIRECT_URIS, OIDC_SCOPES, SignInFlows
from .httpcore import Request, Response, json_response
from .urls import Router

BC_RESOURCE = "https://api.businesscentral.dynamics.com"

#: The Entra URLs the emulator answers (werkzeug URL map; see the module docstring).
ROUTES = Router([
    Rule("/common/userrealm/<segment:username>", endpoint="user_realm"),
    Rule("/common/discovery/instance", endpoint="instance_discovery"),
    Rule("/<segment:tenant>/v2.0/.well-known/openid-configuration", endpoint="openid_configuration"),
    Rule("/<segment:tenant>/discovery/v2.0/keys", endpoint="keys"),
    Rule("/<segment:tenant>/oauth2/v2.0/token", endpoint="token"),
    Rule("/<segment:tenant>/oauth2/v2.0/authorize", endpoint="authorize"),
    Rule("/<segment:tenant>/oauth2/v2.0/devicecode", endpoint="devicecode"),
    Rule("/devicelogin", endpoint="devicelogin"),
])

#: The device code grant type (RFC 8628; Microsoft Learn "Microsoft identity platform and the OAuth 2.0 device
#: authorization grant flow").
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass
class EntraApp:
    """An app registration: secrets, certificate thumbprints (hex upper) -> PEM, public-client flag ("Allow public
    client flows": device code and ROPC without a secret), web redirect URIs (the portal's sign-in callback on
    loopback by default)."""

    client_id: str
    display_name: str
    secrets: list[str]
    certificates: dict[str, str] = field(default_factory=dict)  # sha1/sha256 hex -> certificate PEM
    allow_public_client: bool = True
    redirect_uris: list[str] = field(default_factory=lambda: list(DEFAULT_REDIRECT_URIS))


@dataclass
class EntraUser:
    """A directory user that can sign in with ROPC."""

    upn: str
    password: str
    object_id: str
    display_name: str


@dataclass
class Principal:
    """The caller identified by a validated access token or by Basic credentials (BC)."""

    tenant_id: str
    object_id: str
    kind: str  # "app" | "user" | "basic"
    app_id: str | None = None
    upn: str | None = None
    issued_at: float = 0.0

    @property
    def key(self) -> str:
        """Identity used for per-user service protection limits (Microsoft Learn "Service protection API limits",
        "Working with API limits in Dynamics 365 Business Central")."""
        return self.object_id


class AuthError(Exception):
    """Raised by :meth:`Entra.validate`; ``reason`` is one of missing, invalid, expired, audience."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64(n: int) -> str:
    return _b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


class Entra:
    """The Entra ID emulator for one tenant.

    ``resources`` maps accepted resource URIs (token audiences) to a service name
    (``"dataverse"`` or ``"bc"``).  ``settings`` is the shared fault/limit settings object read for
    ``token_lifetime`` (seconds) and ``token_max_age`` (seconds; early expiry fault).
    """

    def __init__(self, *, tenant_id: str, tenant_domain: str, signing_key_pem: bytes,
                 apps: list[EntraApp], users: list[EntraUser], resources: dict[str, str],
                 settings: Any) -> None:
        self.tenant_id = tenant_id
        self.tenant_domain = tenant_domain
        self.key = serialization.load_pem_private_key(signing_key_pem, password=None)
        assert isinstance(self.key, rsa.RSAPrivateKey)
        self.public_key = self.key.public_key()
        self.kid = _b64url(hashlib.sha1(signing_key_pem).digest())  # noqa: S324 - key id only
        self.apps = {a.client_id.lower(): a for a in apps}
        self.users = {u.upn.lower(): u for u in users}
        self.resources = resources
        self.settings = settings
        self.origin = ""
        self._refresh_tokens: dict[str, tuple[str, str, str]] = {}
        self._validated: dict[str, tuple[Principal, str, float]] = {}
        self._lock = threading.Lock()
        #: Authorization codes and device flows (interactive sign-in).
        self.sign_in = SignInFlows(self)

    # ------------------------------------------------------------------ helpers
    @property
    def issuer_v2(self) -> str:
        return f"{self.origin}/{self.tenant_id}/v2.0"

    def _tenant_ok(self, tenant: str) -> bool:
        return tenant.lower() in (self.tenant_id.lower(), self.tenant_domain.lower(), "organizations")

    def _error(self, status: int, error: str, code: int, text: str) -> Response:
        now = dt.datetime.now(dt.UTC)
        trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
        ts = now.strftime("%Y-%m-%d %H:%M:%SZ")
        desc = f"AADSTS{code}: {text} Trace ID: {trace} Correlation ID: {corr} Timestamp: {ts}"
        return json_response(status, {
            "error": error, "error_description": desc, "error_codes": [code], "timestamp": ts,
            "trace_id": trace, "correlation_id": corr,
            "error_uri": f"{self.origin}/error?code={code}"}, content_type="application/json; charset=utf-8")

    def _tenant_not_found(self, tenant: str) -> Response:
        return self._error(400, "invalid_request", 90002,
                           f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and "
                           "are signing into the correct cloud. Check with your subscription administrator, this "
                           "may happen if there are no active subscriptions for the tenant.")

    def issue_token(self, *, audience: str, app: EntraApp, user: EntraUser | None,
                    scope_claim: str | None = None, lifetime: int | None = None) -> tuple[str, int]:
        """Sign an access token; returns (jwt, expires_in seconds)."""
        now = int(time.time())
        life = int(lifetime if lifetime is not None else self.settings.token_lifetime)
        claims: dict[str, Any] = {
            "aud": audience, "iss": f"https://sts.windows.net/{self.tenant_id}/", "iat": now, "nbf": now,
            "exp": now + life, "tid": self.tenant_id, "appid": app.client_id, "azp": app.client_id,
            "appidacr": "1", "ver": "1.0", "uti": _b64url(secrets.token_bytes(16)),
        }
        if user is None:
            sp_oid = str(uuid.uuid5(uuid.UUID(self.tenant_id), "sp:" + app.client_id))
            claims.update({"oid": sp_oid, "sub": sp_oid, "idtyp": "app", "roles": ["user_impersonation"]})
        else:
            claims.update({"oid": user.object_id, "sub": user.object_id, "upn": user.upn,
                           "unique_name": user.upn, "name": user.display_name, "idtyp": "user",
                           "scp": scope_claim or "user_impersonation"})
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid, "x5t": self.kid})
        return token, life

    def validate(self, authorization: str | None, audiences: set[str]) -> Principal:
        """Validate ``Authorization: Bearer <jwt>`` for one of ``audiences``.

        Raises :class:`AuthError` with reason ``missing`` (no/unsupported header), ``invalid``
        (malformed, forged signature, other tenant), ``expired`` (past ``exp``, or older than the
        ``token_max_age`` fault) or ``audience`` (token for another resource).
        """
        if not authorization or not authorization.lower().startswith("bearer "):
            raise AuthError("missing", "Bearer token is missing.")
        token = authorization[7:].strip()
        now = time.time()
        cached = self._validated.get(token)
        if cached is None:
            try:
                claims = jwt.decode(token, self.public_key, algorithms=["RS256"],
                                    options={"verify_aud": False, "verify_exp": False, "verify_nbf": False})
            except jwt.PyJWTError as exc:
                raise AuthError("invalid", f"The access token is invalid: {exc}.") from exc
            if claims.get("tid") != self.tenant_id:
                raise AuthError("invalid", "The access token was issued by another tenant.")
            kind = "user" if claims.get("idtyp") == "user" else "app"
            principal = Principal(self.tenant_id, claims["oid"], kind, claims.get("appid"), claims.get("upn"),
                                  float(claims.get("iat", 0)))
            cached = (principal, str(claims.get("aud", "")), float(claims.get("exp", 0)))
            with self._lock:
                if len(self._validated) > 10000:
                    self._validated.clear()
                self._validated[token] = cached
        principal, aud, exp = cached
        max_age = self.settings.token_max_age
        if now >= exp or (max_age is not None and now - principal.issued_at >= max_age):
            raise AuthError("expired", "The access token has expired.")
        if aud.rstrip("/").lower() not in audiences:
            raise AuthError("audience", f"The access token audience '{aud}' is not valid for this resource.")
        return principal

    # ------------------------------------------------------------------ routing
    def endpoint(self, req: Request) -> tuple[str, dict[str, Any]] | None:
        """The Entra endpoint of ``req`` (see :data:`ROUTES`) and its path values, ``None`` for other paths."""
        return ROUTES.match(req.segments)

    def handle(self, req: Request) -> Response | None:
        """Answer an Entra request, or return ``None`` when the path is not an Entra path."""
        route = self.endpoint(req)
        if route is None:
            return None
        endpoint, values = route
        if endpoint == "user_realm":
            return json_response(200, {"ver": "1.0", "account_type": "Managed",
                                       "domain_name": self.tenant_domain, "cloud_instance_name": "microsoftonline.com",
                                       "cloud_audience_urn": "urn:federation:MicrosoftOnline"},
                                 content_type="application/json; charset=utf-8")
        if endpoint == "instance_discovery":
            host = urllib.parse.urlsplit(self.origin).netloc
            return json_response(200, {
                "tenant_discovery_endpoint": f"{self.origin}/{self.tenant_id}/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}]})
        if endpoint == "keys":
            return self._jwks()
        if endpoint == "devicelogin":
            return self.sign_in.device_login(req)
        tenant = values["tenant"]
        if endpoint == "openid_configuration":
            if not self._tenant_ok(tenant):
                return self._tenant_not_found(tenant)
            return self._discovery(tenant)
        if endpoint == "token":
            if req.method != "POST":
                return self._error(400, "invalid_request", 900561,
                                   "The endpoint only accepts POST requests. Received a GET request.")
            if not self._tenant_ok(tenant):
                return self._tenant_not_found(tenant)
            return self._token(req, tenant)
        if not self._tenant_ok(tenant):
            return self._tenant_not_found(tenant)
        if endpoint == "devicecode":
            return self.sign_in.device_authorization(req)
        return self.sign_in.authorize(req)

    def _discovery(self, tenant: str) -> Response:
        base = f"{self.origin}/{self.tenant_id}"
        return json_response(200, {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": self.issuer_v2,
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{self.origin}/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True, "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce",
                                 "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
            "kerberos_endpoint": f"{base}/kerberos",
            "tenant_region_scope": "EU", "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net", "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net"}, content_type="application/json; charset=utf-8")

    def _jwks(self) -> Response:
        nums = self.public_key.public_numbers()
        return json_response(200, {"keys": [{"kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid,
                                             "n": _int_b64(nums.n), "e": _int_b64(nums.e),
                                             "issuer": self.issuer_v2}]},
                             content_type="application/json; charset=utf-8")

    # ------------------------------------------------------------------ token endpoint
    def _token(self, req: Request, tenant: str) -> Response:
        ctype = (req.headers.get("content-type") or "").lower()
        if "application/x-www-form-urlencoded" not in ctype:
            return self._error(400, "invalid_request", 900144,
                               "The request body must contain the following parameter: 'grant_type'.")
        form = {k: v[-1] for k, v in urllib.parse.parse_qs(req.body.decode("utf-8"), keep_blank_values=True).items()}
        client_id = form.get("client_id")
        basic_secret = None
        auth = req.headers.get("authorization")
        if auth and auth.lower().startswith("basic "):
            try:
                cid, _, basic_secret = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
                client_id = client_id or urllib.parse.unquote_plus(cid)
                basic_secret = urllib.parse.unquote_plus(basic_secret)
            except (ValueError, UnicodeDecodeError):
                return self._error(401, "invalid_client", 7000218, "Malformed HTTP Basic client credentials.")
        grant = form.get("grant_type")
        if not grant:
            return self._error(400, "invalid_request", 900144,
                               "The request body must contain the following parameter: 'grant_type'.")
        if not client_id:
            return self._error(400, "invalid_request", 900144,
                               "The request body must contain the following parameter: 'client_id'.")
        app = self.apps.get(client_id.lower())
        if app is None:
            return self._error(400, "unauthorized_client", 700016,
                               f"Application with identifier '{client_id}' was not found in the directory "
                               f"'{self.tenant_domain}'. This can happen if the application has not been installed by "
                               "the administrator of the tenant or consented to by any user in the tenant. You may "
                               "have sent your authentication request to the wrong tenant.")
        if grant not in ("client_credentials", "password", "refresh_token", "authorization_code", DEVICE_CODE_GRANT):
            return self._error(400, "unsupported_grant_type", 70003,
                               "The app requested an unsupported grant type '" + grant + "'.")
        secret = form.get("client_secret") or basic_secret
        assertion = form.get("client_assertion")
        if secret is not None or assertion is not None:
            err = self._check_client_credential(app, secret, assertion, form.get("client_assertion_type"), tenant)
            if err is not None:
                return err
        elif grant == "client_credentials" or not app.allow_public_client:
            return self._error(401, "invalid_client", 7000218,
                               "The request body must contain the following parameter: 'client_assertion' or "
                               "'client_secret'.")
        scopes = (form.get("scope") or "").split()
        if grant == "refresh_token":
            rt = self._refresh_tokens.get(form.get("refresh_token") or "")
            if rt is None or rt[1].lower() != app.client_id.lower():
                return self._error(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
            user = self.users.get(rt[0])
            if user is None:
                return self._error(400, "invalid_grant", 50034, "The user account does not exist in the directory.")
            return self._user_tokens(app, user, scopes or rt[2].split())
        if grant in ("authorization_code", DEVICE_CODE_GRANT):
            redeemed = (self.sign_in.redeem_code(form, app) if grant == "authorization_code"
                        else self.sign_in.redeem_device_code(form, app))
            if isinstance(redeemed, Response):
                return redeemed
            user, granted, nonce = redeemed
            return self._user_tokens(app, user, granted, nonce=nonce)
        resource_scopes = [s for s in scopes if s not in OIDC_SCOPES]
        if grant == "client_credentials":
            if len(resource_scopes) != 1:
                return self._error(400, "invalid_scope", 70011,
                                   f"The provided request must include a 'scope' input parameter. The provided value "
                                   f"for the input parameter 'scope' is not valid ('{' '.join(scopes)}').")
            scope = resource_scopes[0]
            if not scope.endswith("/.default"):
                return self._error(400, "invalid_scope", 1002012,
                                   f"The provided value for scope {scope} is not valid. Client credential flows must "
                                   "have a scope value with /.default suffixed to the resource identifier "
                                   "(application ID URI).")
            resource = self._resource_of(scope)
            if resource is None:
                return self._resource_not_found(scope)
            token, life = self.issue_token(audience=resource, app=app, user=None)
            return json_response(200, {"token_type": "Bearer", "expires_in": life, "ext_expires_in": life,
                                       "access_token": token}, content_type="application/json; charset=utf-8")
        # password grant (ROPC)
        if tenant.lower() == "common":
            return self._error(400, "invalid_request", 90001, "The grant is not supported on /common.")
        user = self.users.get((form.get("username") or "").lower())
        if user is None or not secrets.compare_digest(user.password, form.get("password") or ""):
            return self._error(400, "invalid_grant", 50126,
                               "Error validating credentials due to invalid username or password.")
        return self._user_tokens(app, user, scopes)

    def _resource_of(self, scope: str) -> str | None:
        res = scope.rsplit("/", 1)[0] if "/" in scope.split("://", 1)[-1] else scope
        key = res.rstrip("/").lower()
        for r in self.resources:
            if r.rstrip("/").lower() == key:
                return r
        return None

    def _resource_not_found(self, scope: str) -> Response:
        res = scope.rsplit("/", 1)[0]
        return self._error(400, "invalid_resource", 500011,
                           f"The resource principal named {res} was not found in the tenant named "
                           f"{self.tenant_domain}. This can happen if the application has not been installed by the "
                           "administrator of the tenant or consented to by any user in the tenant. You might have "
                           "sent your authentication request to the wrong tenant.")

    def _user_tokens(self, app: EntraApp, user: EntraUser, scopes: list[str], *, nonce: str | None = None
                     ) -> Response:
        resource_scopes = [s for s in scopes if s not in OIDC_SCOPES]
        if len(resource_scopes) != 1:
            return self._error(400, "invalid_scope", 70011,
                               "The provided value for the input parameter 'scope' is not valid. "
                               "Exactly one resource scope is required.")
        resource = self._resource_of(resource_scopes[0])
        if resource is None:
            return self._resource_not_found(resource_scopes[0])
        token, life = self.issue_token(audience=resource, app=app, user=user, scope_claim="user_impersonation")
        now = int(time.time())
        id_claims: dict[str, Any] = {"aud": app.client_id, "iss": self.issuer_v2, "iat": now, "nbf": now,
                                     "exp": now + 3600, "sub": user.object_id, "oid": user.object_id,
                                     "tid": self.tenant_id, "preferred_username": user.upn, "name": user.display_name,
                                     "ver": "2.0"}
        if nonce:  # the authorization request's nonce comes back in the ID token (OpenID Connect Core 1.0)
            id_claims["nonce"] = nonce
        id_token = jwt.encode(id_claims, self.key, algorithm="RS256", headers={"kid": self.kid})
        rt = _b64url(secrets.token_bytes(32))
        with self._lock:
            self._refresh_tokens[rt] = (user.upn.lower(), app.client_id, " ".join(scopes))
        client_info = _b64url(json.dumps({"uid": user.object_id, "utid": self.tenant_id}).encode())
        return json_response(200, {"token_type": "Bearer", "scope": " ".join(scopes), "expires_in": life,
                                   "ext_expires_in": life, "access_token": token, "refresh_token": rt,
                                   "id_token": id_token, "client_info": client_info},
                             content_type="application/json; charset=utf-8")

    def _check_client_credential(self, app: EntraApp, secret: str | None, assertion: str | None,
                                 assertion_type: str | None, tenant: str) -> Response | None:
        if assertion is None:
            if any(secrets.compare_digest(secret or "", s) for s in app.secrets):
                return None
            return self._error(401, "invalid_client", 7000215,
                               "Invalid client secret provided. Ensure the secret being sent in the request is the "
                               f"client secret value, not the client secret ID, for a secret added to app "
                               f"'{app.client_id}'.")
        if assertion_type != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            return self._error(400, "invalid_request", 50027,
                               "Invalid JWT token. The client_assertion_type is not supported.")
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            return self._error(401, "invalid_client", 50027, "Invalid JWT token. The token is malformed.")
        thumb = None
        if header.get("x5t#S256"):
            thumb = base64.urlsafe_b64decode(header["x5t#S256"] + "==").hex().upper()
        elif header.get("x5t"):
            thumb = base64.urlsafe_b64decode(header["x5t"] + "==").hex().upper()
        pem = app.certificates.get(thumb or "")
        if pem is None:
            return self._error(401, "invalid_client", 700027,
                               f"The certificate with identifier used to sign the client assertion is not "
                               f"registered on application. [Reason - The key was not found., Thumbprint of key "
                               f"used by client: '{thumb}'. Please visit the Azure Portal, Graph Explorer or "
                               f"directly use MS Graph to see configured keys for app Id '{app.client_id}'.]")
        cert = x509.load_pem_x509_certificate(pem.encode())
        try:
            claims = jwt.decode(assertion, cert.public_key(), algorithms=["RS256", "PS256"],
                                options={"verify_aud": False}, leeway=300)
        except jwt.ExpiredSignatureError:
            return self._error(401, "invalid_client", 700024, "Client assertion is not within its valid time range.")
        except jwt.PyJWTError:
            return self._error(401, "invalid_client", 700027, "Client assertion contains an invalid signature.")
        if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
            return self._error(401, "invalid_client", 700021,
                               "Client assertion application identifier doesn't match 'client_id' parameter.")
        aud = str(claims.get("aud", "")).lower()
        if not aud.startswith(self.origin.lower() + "/") or not aud.endswith("/oauth2/v2.0/token"):
            return self._error(401, "invalid_client", 700025,
                               "The audience claim of the client assertion is invalid; it must be the token "
                               "endpoint.")
        return None
