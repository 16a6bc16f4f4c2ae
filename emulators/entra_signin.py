"""Interactive sign-in of the Entra ID emulator: the authorization endpoint with its sign-in and consent page, and
the device authorization grant with its verification page.

What is answered (Microsoft Learn "Microsoft identity platform and OAuth 2.0 authorization code flow", "Microsoft
identity platform and the OAuth 2.0 device authorization grant flow", "Microsoft Entra authentication and
authorization error codes"):

* ``GET /{tenant}/oauth2/v2.0/authorize`` - a sign-in and consent page (user name, password, "Accept" / "Cancel").
  An unknown ``client_id`` (AADSTS700016) or a ``redirect_uri`` the app registration does not list (AADSTS50011)
  is shown on the page and never redirected; every later error goes back to ``redirect_uri`` as ``error`` and
  ``error_description`` (``unsupported_response_type``, ``invalid_request``, ``invalid_resource``, and
  ``access_denied`` with AADSTS65004 when the user cancels). The emulator requires PKCE (``code_challenge``; the
  method ``S256``, or ``plain`` as the service also accepts), which Entra only recommends for web apps: every
  client the portal uses sends it (msal's ``initiate_auth_code_flow``).
* ``POST`` to the same URL (the page's form) - checks the user's password and answers ``302`` to ``redirect_uri``
  with ``code`` and ``state`` (``response_mode`` ``query``, ``fragment`` or ``form_post``). Codes are single-use
  and live :attr:`SignInFlows.code_lifetime` seconds (the service: "about 10 minutes").
* ``POST /{tenant}/oauth2/v2.0/devicecode`` - ``device_code``, ``user_code``, ``verification_uri``,
  ``expires_in`` (900), ``interval`` (5) and ``message``.
* ``GET|POST /devicelogin`` - the verification page (the emulator's ``https://microsoft.com/devicelogin``): enter
  the code, then sign in and accept or cancel.

The token endpoint (:mod:`emulators.entra`) redeems both with :meth:`SignInFlows.redeem_code` (grant
``authorization_code``: ``invalid_grant`` AADSTS501481 for a ``code_verifier`` that does not match the challenge,
AADSTS54005 for a code already redeemed, AADSTS70008 for an expired one, AADSTS500112 for another
``redirect_uri``) and :meth:`SignInFlows.redeem_device_code` (grant
``urn:ietf:params:oauth:grant-type:device_code``: ``authorization_pending`` AADSTS70016, ``slow_down`` when polled
faster than ``interval``, ``authorization_declined``, ``expired_token`` AADSTS70019, ``bad_verification_code``
AADSTS70018).
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .httpcore import Request, Response, json_response

#: The path of the portal's sign-in callback (connections:admin-signin-callback); registered on the demo app.
PORTAL_CALLBACK_PATH = "/connections/admin-sign-in/callback/"
#: Redirect URIs registered on the emulator's app registration by default. Loopback URIs match on any port, as the
#: service matches them (Microsoft Learn "Redirect URI (reply URL) outline and restrictions", localhost exceptions).
DEFAULT_REDIRECT_URIS = (f"http://localhost{PORTAL_CALLBACK_PATH}", f"http://127.0.0.1{PORTAL_CALLBACK_PATH}")
#: Scopes that ask for no resource (OpenID Connect).
OIDC_SCOPES = ("openid", "profile", "offline_access", "email")
#: Characters of a user code (no 0/O, 1/I look-alikes).
_USER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class Directory(Protocol):
    """What the flows need from :class:`emulators.entra.Entra`: its apps, users, origin, error bodies and
    resources."""

    apps: dict[str, Any]
    users: dict[str, Any]
    origin: str
    tenant_domain: str

    def _error(self, status: int, error: str, code: int, text: str) -> Response: ...

    def _resource_of(self, scope: str) -> str | None: ...


@dataclass
class AuthorizationCode:
    """An issued authorization code (times: ``time.time()`` seconds)."""

    client_id: str
    redirect_uri: str
    upn: str
    scopes: list[str]
    challenge: str
    method: str
    expires_at: float
    nonce: str | None = None
    redeemed: bool = False


@dataclass
class DeviceFlow:
    """A device authorization: ``status`` is pending, approved, declined or redeemed."""

    device_code: str
    user_code: str
    client_id: str
    scopes: list[str]
    expires_at: float
    interval: int
    status: str = "pending"
    upn: str = ""
    last_poll: float = 0.0
    polls: list[float] = field(default_factory=list)


def redirect_uri_registered(registered: list[str] | tuple[str, ...], uri: str) -> bool:
    """Whether ``uri`` matches a registered redirect URI: exactly, or for a loopback host on any port."""
    if uri in registered:
        return True
    parts = urllib.parse.urlsplit(uri)
    if parts.hostname not in ("localhost", "127.0.0.1"):
        return False
    return urllib.parse.urlunsplit((parts.scheme, parts.hostname, parts.path, parts.query, "")) in registered


def pkce_matches(challenge: str, method: str, verifier: str) -> bool:
    """RFC 7636: ``S256`` is BASE64URL(SHA256(verifier)) without padding; ``plain`` is the verifier itself."""
    if method == "S256":
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
        return secrets.compare_digest(digest.rstrip(b"=").decode(), challenge)
    return secrets.compare_digest(verifier, challenge)


def _page(title: str, body: str, status: int = 200) -> Response:
    text = (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;max-width:28rem;margin:3rem auto}label,input,button{display:block;"
            "margin:.4rem 0}input{width:100%}.error{color:#a80000}</style></head>"
            f"<body><h1>{html.escape(title)}</h1>{body}</body></html>")
    return Response(status, text.encode("utf-8"), [("Content-Type", "text/html; charset=utf-8"),
                                                   ("Cache-Control", "no-store")])


def _form_of(req: Request) -> dict[str, str]:
    return {k: v[-1] for k, v in urllib.parse.parse_qs(req.body.decode("utf-8", "replace"),
                                                       keep_blank_values=True).items()}


class SignInFlows:
    """Authorization codes and device flows of one emulated tenant (thread-safe)."""

    #: Seconds an authorization code may wait for its redemption.
    code_lifetime = 600
    #: Seconds a device code lives (the service's default ``expires_in``) and the polling interval it asks for.
    device_lifetime = 900
    device_interval = 5

    def __init__(self, directory: Directory, clock: Callable[[], float] = time.time) -> None:
        self.directory = directory
        self.clock = clock
        self._codes: dict[str, AuthorizationCode] = {}
        self._devices: dict[str, DeviceFlow] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ shared pieces
    def _check_user(self, login: str, password: str) -> Any:
        user = self.directory.users.get(login.strip().lower())
        if user is None or not secrets.compare_digest(user.password, password):
            return None
        return user

    def _consent_form(self, *, app: Any, scopes: list[str], action: str, login: str, message: str,
                      hidden: dict[str, str]) -> str:
        permissions = "".join(f"<li>{html.escape(s)}</li>" for s in scopes if s not in OIDC_SCOPES) or "<li>—</li>"
        fields = "".join(f"<input type=\"hidden\" name=\"{html.escape(k)}\" value=\"{html.escape(v)}\">"
                         for k, v in hidden.items())
        error = f"<p class=\"error\" id=\"error\">{html.escape(message)}</p>" if message else ""
        return (f"<p><strong id=\"app-name\">{html.escape(app.display_name)}</strong> wants to sign you in to "
                f"{html.escape(self.directory.tenant_domain)} and use these permissions:</p><ul>{permissions}</ul>"
                f"{error}<form method=\"post\" action=\"{html.escape(action)}\">{fields}"
                f"<label for=\"login\">Email or user name</label>"
                f"<input id=\"login\" name=\"login\" type=\"email\" value=\"{html.escape(login)}\" "
                "autocomplete=\"off\">"
                "<label for=\"passwd\">Password</label><input id=\"passwd\" name=\"passwd\" type=\"password\">"
                "<button id=\"accept\" name=\"consent\" value=\"accept\" type=\"submit\">Accept</button>"
                "<button id=\"cancel\" name=\"consent\" value=\"cancel\" type=\"submit\">Cancel</button></form>")

    def _error_page(self, code: int, text: str) -> Response:
        return _page("Sign in", f"<p class=\"error\" id=\"error\">AADSTS{code}: {html.escape(text)}</p>", 400)

    def _resource_scopes(self, scopes: list[str]) -> tuple[list[str], str | None]:
        """The scopes naming a resource, and the first of them the tenant does not know (or None)."""
        resource_scopes = [s for s in scopes if s not in OIDC_SCOPES]
        unknown = next((s for s in resource_scopes if self.directory._resource_of(s) is None), None)
        return resource_scopes, unknown

    # ------------------------------------------------------------------ authorization endpoint
    def authorize(self, req: Request) -> Response:
        """The authorization endpoint (GET: the page; POST: the page's form)."""
        params = req.query
        client_id = params.get("client_id") or ""
        if not client_id:
            return self._error_page(900144, "The request body must contain the following parameter: 'client_id'.")
        app = self.directory.apps.get(client_id.lower())
        if app is None:
            return self._error_page(700016, f"Application with identifier '{client_id}' was not found in the "
                                            f"directory '{self.directory.tenant_domain}'.")
        redirect_uri = params.get("redirect_uri") or ""
        if not redirect_uri or not redirect_uri_registered(app.redirect_uris, redirect_uri):
            return self._error_page(50011, f"The redirect URI '{redirect_uri}' specified in the request does not "
                                           f"match the redirect URIs configured for the application '{client_id}'. "
                                           "Make sure the redirect URI sent in the request matches one added to your "
                                           "application in the Azure portal.")
        mode = params.get("response_mode") or "query"
        state = params.get("state")

        def back(values: dict[str, str]) -> Response:
            return self._respond(redirect_uri, mode, {**values, **({"state": state} if state is not None else {})})

        def fail(error: str, code: int, text: str, **extra: str) -> Response:
            return back({"error": error, "error_description": f"AADSTS{code}: {text}", **extra})

        if params.get("response_type") != "code":
            return fail("unsupported_response_type", 70005,
                        f"response_type '{params.get('response_type') or ''}' is not supported; use 'code'.")
        if mode not in ("query", "fragment", "form_post"):
            return fail("invalid_request", 70007, f"The response_mode '{mode}' is not supported.")
        scopes = (params.get("scope") or "").split()
        if not scopes:
            return fail("invalid_request", 900144, "The request body must contain the following parameter: 'scope'.")
        _, unknown = self._resource_scopes(scopes)
        if unknown:
            return fail("invalid_resource", 500011, f"The resource principal named {unknown.rsplit('/', 1)[0]} was "
                                                    f"not found in the tenant named {self.directory.tenant_domain}.")
        challenge = params.get("code_challenge") or ""
        method = params.get("code_challenge_method") or "plain"
        if not challenge:
            return fail("invalid_request", 900144,
                        "The request body must contain the following parameter: 'code_challenge'.")
        if method not in ("S256", "plain"):
            return fail("invalid_request", 501491, f"Invalid code_challenge_method '{method}': use S256.")
        if not 43 <= len(challenge) <= 128:
            return fail("invalid_request", 501491, "Invalid size of Code_Challenge parameter.")
        action = f"{req.path}?{req.raw_query}"
        if req.method != "POST":
            return _page("Sign in", self._consent_form(app=app, scopes=scopes, action=action, message="", hidden={},
                                                       login=params.get("login_hint") or ""))
        form = _form_of(req)
        if form.get("consent") != "accept":
            return fail("access_denied", 65004, "User declined to consent to access the app.", error_subcode="cancel")
        user = self._check_user(form.get("login") or "", form.get("passwd") or "")
        if user is None:
            return _page("Sign in", self._consent_form(
                app=app, scopes=scopes, action=action, login=form.get("login") or "", hidden={},
                message="AADSTS50126: Error validating credentials due to invalid username or password."))
        code = secrets.token_urlsafe(48)
        with self._lock:
            self._codes = {k: v for k, v in self._codes.items() if v.expires_at > self.clock() - 3600}
            self._codes[code] = AuthorizationCode(app.client_id, redirect_uri, user.upn.lower(), scopes, challenge,
                                                  method, self.clock() + self.code_lifetime, params.get("nonce"))
        return back({"code": code, "session_state": secrets.token_hex(16)})

    def _respond(self, redirect_uri: str, mode: str, values: dict[str, str]) -> Response:
        """Send ``values`` back to the app as ``response_mode`` says (query, fragment or form_post)."""
        if mode == "form_post":
            fields = "".join(f"<input type=\"hidden\" name=\"{html.escape(k)}\" value=\"{html.escape(v)}\">"
                             for k, v in values.items())
            return _page("Working…", f"<form method=\"post\" id=\"response\" action=\"{html.escape(redirect_uri)}\">"
                                     f"{fields}<button type=\"submit\">Continue</button></form>"
                                     "<script>document.getElementById('response').submit()</script>")
        encoded = urllib.parse.urlencode(values)
        separator = "#" if mode == "fragment" else ("&" if "?" in redirect_uri else "?")
        return Response(302, b"", [("Location", f"{redirect_uri}{separator}{encoded}"), ("Cache-Control", "no-store")])

    def redeem_code(self, form: dict[str, str], app: Any) -> tuple[Any, list[str], str | None] | Response:
        """The token endpoint's ``authorization_code`` grant: ``(user, scopes, nonce of the authorization request)``
        or Entra's error response."""
        error = self.directory._error
        code = form.get("code") or ""
        if not code:
            return error(400, "invalid_request", 900144,
                         "The request body must contain the following parameter: 'code'.")
        with self._lock:
            issued = self._codes.get(code)
            if issued is None:
                return error(400, "invalid_grant", 70000, "The provided value for the 'code' parameter is not valid.")
            if issued.redeemed:
                return error(400, "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please "
                             "retry with a new valid code or use an existing refresh token.")
            issued.redeemed = True  # single use: a failed redemption burns the code too
        if issued.expires_at <= self.clock():
            return error(400, "invalid_grant", 70008, "The provided authorization code or refresh token has expired "
                         "due to inactivity. Send a new interactive authorization request for this user and resource.")
        if issued.client_id.lower() != app.client_id.lower():
            return error(400, "invalid_grant", 70000, "The provided authorization code was issued to another client.")
        if (form.get("redirect_uri") or "") != issued.redirect_uri:
            return error(400, "invalid_grant", 500112, f"The reply address '{form.get('redirect_uri') or ''}' does "
                         f"not match the reply address '{issued.redirect_uri}' provided when requesting "
                         "Authorization code.")
        if not pkce_matches(issued.challenge, issued.method, form.get("code_verifier") or ""):
            return error(400, "invalid_grant", 501481,
                         "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
        user = self.directory.users.get(issued.upn)
        if user is None:
            return error(400, "invalid_grant", 50034, "The user account does not exist in the directory.")
        requested = (form.get("scope") or "").split()
        return user, requested or issued.scopes, issued.nonce

    # ------------------------------------------------------------------ device authorization grant
    def device_authorization(self, req: Request) -> Response:
        """``POST /{tenant}/oauth2/v2.0/devicecode``."""
        error = self.directory._error
        if req.method != "POST":
            return error(400, "invalid_request", 900561,
                         "The endpoint only accepts POST requests. Received a GET request.")
        form = _form_of(req)
        client_id = form.get("client_id") or ""
        if not client_id:
            return error(400, "invalid_request", 900144,
                         "The request body must contain the following parameter: 'client_id'.")
        app = self.directory.apps.get(client_id.lower())
        if app is None:
            return error(400, "unauthorized_client", 700016, f"Application with identifier '{client_id}' was not "
                         f"found in the directory '{self.directory.tenant_domain}'.")
        scopes = (form.get("scope") or "").split()
        if not scopes:
            return error(400, "invalid_request", 900144,
                         "The request body must contain the following parameter: 'scope'.")
        _, unknown = self._resource_scopes(scopes)
        if unknown:
            return error(400, "invalid_resource", 500011, f"The resource principal named "
                         f"{unknown.rsplit('/', 1)[0]} was not found in the tenant named "
                         f"{self.directory.tenant_domain}.")
        device_code = secrets.token_urlsafe(96)
        user_code = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(9))
        flow = DeviceFlow(device_code, user_code, app.client_id, scopes, self.clock() + self.device_lifetime,
                          self.device_interval)
        with self._lock:
            self._devices = {k: v for k, v in self._devices.items() if v.expires_at > self.clock() - 3600}
            self._devices[device_code] = flow
        uri = f"{self.directory.origin}/devicelogin"
        return json_response(200, {
            "user_code": user_code, "device_code": device_code, "verification_uri": uri,
            "expires_in": self.device_lifetime, "interval": self.device_interval,
            "message": f"To sign in, use a web browser to open the page {uri} and enter the code {user_code} to "
                       "authenticate."}, content_type="application/json; charset=utf-8")

    def _device_by_user_code(self, user_code: str) -> DeviceFlow | None:
        wanted = user_code.strip().upper().replace("-", "")
        with self._lock:
            return next((f for f in self._devices.values() if secrets.compare_digest(f.user_code, wanted)), None)

    def device_login(self, req: Request) -> Response:
        """The verification page: enter the code, then sign in and accept or cancel."""
        code_form = ("<p>Enter the code displayed on your app or device.</p>"
                     "<form method=\"post\" action=\"/devicelogin\">"
                     "<label for=\"otc\">Code</label><input id=\"otc\" name=\"otc\" autocomplete=\"off\">"
                     "<button id=\"next\" type=\"submit\">Next</button></form>")
        if req.method != "POST":
            return _page("Enter code", code_form)
        form = _form_of(req)
        flow = self._device_by_user_code(form.get("otc") or "")
        if flow is None or flow.status != "pending":
            return _page("Enter code", "<p class=\"error\" id=\"error\">AADSTS70018: The code you entered is not "
                                       "valid. Check the code and try again.</p>" + code_form, 400)
        if flow.expires_at <= self.clock():
            return _page("Enter code", "<p class=\"error\" id=\"error\">AADSTS70019: Verification code expired. "
                                       "Have the user retry the sign-in.</p>" + code_form, 400)
        app = self.directory.apps[flow.client_id.lower()]
        if "consent" not in form:
            return _page("Sign in", self._consent_form(app=app, scopes=flow.scopes, action="/devicelogin", login="",
                                                       message="", hidden={"otc": flow.user_code}))
        if form["consent"] != "accept":
            flow.status = "declined"
            return _page("Sign in", "<p id=\"result\">You declined to sign in. You may now close this window.</p>")
        user = self._check_user(form.get("login") or "", form.get("passwd") or "")
        if user is None:
            return _page("Sign in", self._consent_form(
                app=app, scopes=flow.scopes, action="/devicelogin", login=form.get("login") or "",
                hidden={"otc": flow.user_code},
                message="AADSTS50126: Error validating credentials due to invalid username or password."))
        with self._lock:
            flow.status, flow.upn = "approved", user.upn.lower()
        return _page("Sign in", f"<p id=\"result\">You have signed in to the {html.escape(app.display_name)} "
                                "application on your device. You may now close this window.</p>")

    def redeem_device_code(self, form: dict[str, str], app: Any) -> tuple[Any, list[str], str | None] | Response:
        """The token endpoint's device code grant: ``(user, scopes, None)`` or Entra's error response."""
        error = self.directory._error
        device_code = form.get("device_code") or form.get("code") or ""
        if not device_code:
            return error(400, "invalid_request", 900144,
                         "The request body must contain the following parameter: 'device_code'.")
        now = self.clock()
        with self._lock:
            flow = self._devices.get(device_code)
            if flow is None or flow.client_id.lower() != app.client_id.lower() or flow.status == "redeemed":
                return error(400, "bad_verification_code", 70018,
                             "The provided value for the input parameter 'device_code' is not valid.")
            if flow.expires_at <= now:
                return error(400, "expired_token", 70019, "Verification code expired. Have the user retry the sign-in.")
            previous, flow.last_poll = flow.last_poll, now
            flow.polls.append(now)
            if flow.status == "declined":
                return error(400, "authorization_declined", 65004, "User declined to consent to access the app.")
            if flow.status == "pending":
                if previous and now - previous < flow.interval - 1:
                    return error(400, "slow_down", 70016,
                                 f"The client polled faster than every {flow.interval} seconds. Slow down.")
                return error(400, "authorization_pending", 70016, "OAuth 2.0 device flow error. Authorization is "
                             "pending. Continue polling.")
            flow.status = "redeemed"
        user = self.directory.users.get(flow.upn)
        if user is None:
            return error(400, "invalid_grant", 50034, "The user account does not exist in the directory.")
        return user, flow.scopes, None
