"""One error hierarchy for the three remote services (Entra ID, Dataverse, Business Central).

Every failure of a client call is a :class:`ClientError` that says

* which service failed (``service``: ``"entra"`` | ``"dataverse"`` | ``"businesscentral"``),
* at which layer (``layer``: ``"dns"`` | ``"connection"`` | ``"tls"`` | ``"timeout"`` | ``"auth"`` | ``"http"``),
* the HTTP status (``status``, None below HTTP), the service's own error code (``code``: ``"0x80040237"``,
  ``"AADSTS7000215"``, ``"Internal_EntityWithSameKeyExists"``) and message (``message``),
* whether repeating the call later can succeed (``transient``: :class:`TransientError` vs :class:`PermanentError`)
  and, for throttling, how long to wait (``retry_after``, seconds),
* and what the administrator should do about it (``fix``).

The mapping of status codes and service codes follows Microsoft Learn: "Compose HTTP requests and handle errors" and
"Web service error codes" (Dataverse), "Service protection API limits" (Dataverse 429), "Troubleshooting REST
API/OData calls" (Business Central codes, 409 ``Request_EntityChanged``) and "Microsoft Entra authentication and
authorization error codes" (Entra ``error_codes`` / AADSTS numbers, as msal returns them).
"""
from __future__ import annotations

import datetime as dt
import re
from email.utils import parsedate_to_datetime
from typing import Any

SERVICE_LABELS = {"entra": "Microsoft Entra ID", "dataverse": "Dataverse", "businesscentral": "Business Central"}
LAYERS = ("dns", "connection", "tls", "timeout", "auth", "http")

# Dataverse codes whose failure goes away when repeated: SQL timeout, SQL deadlock (Microsoft Learn: "Use bulk
# operation messages"), and the three service protection codes (Microsoft Learn: "Service protection API limits").
DATAVERSE_TRANSIENT_CODES = {"0x80044151", "0x80044150", "0x80072322", "0x80072321", "0x80072326"}
# Dataverse duplicate-key codes (Microsoft Learn: "Web service error codes"): DuplicateRecord,
# DuplicateRecordEntityKey, DuplicateProductPriceLevel, DuplicateIsoCurrencyCode.
DATAVERSE_DUPLICATE_CODES = {"0x80040237", "0x80060892", "0x80043b08", "0x80048cf3"}
# Dataverse optimistic concurrency (Microsoft Learn: "Perform conditional operations using the Web API"):
# ConcurrencyVersionMismatch.
DATAVERSE_STALE_CODES = {"0x80060882"}
# Business Central codes (Microsoft Learn: "Troubleshooting REST API/OData calls").
BC_STALE_CODES = {"Request_EntityChanged"}
BC_DUPLICATE_CODES = {"Internal_EntityWithSameKeyExists"}
BC_TRANSIENT_CODES = {"Internal_TenantUnavailable"}

# What to do about well-known Entra errors (AADSTS numbers from Microsoft Learn: "Microsoft Entra authentication
# and authorization error codes").
AADSTS_FIXES = {
    "AADSTS7000215": "The client secret is wrong or has expired: create a new secret for the app registration "
    "and enter its value (not its ID).",
    "AADSTS7000222": "The client secret has expired: create a new secret for the app registration.",
    "AADSTS700016": "No application with this client ID exists in the tenant: check the application (client) ID "
    "and the tenant ID.",
    "AADSTS90002": "The tenant was not found: check the tenant ID (a GUID or a verified domain name).",
    "AADSTS900023": "The tenant ID is not valid: use the directory (tenant) ID GUID or a verified domain name.",
    "AADSTS50126": "The user name or password is wrong: check the integration user's credentials.",
    "AADSTS50034": "The user account does not exist in this tenant: check the user name.",
    "AADSTS70011": "The requested scope is not valid: check the environment URL.",
    "AADSTS700027": "The certificate does not match the app registration: upload the certificate's public key to "
    "the app registration and check the thumbprint.",
    "AADSTS50076": "The user needs multi-factor authentication, which user name/password sign-in cannot do: use "
    "client secret or certificate authentication.",
}

LAYER_FIXES = {
    "dns": "The host name does not resolve: check the URL for typing errors.",
    "connection": "Nothing answered at this address and port: check the URL and that the service is reachable "
    "from this server (firewall, proxy).",
    "tls": "The server's TLS certificate is not trusted or does not match the host name: check the URL, or set "
    "OUTBOUND_CA_BUNDLE to the CA that signed it.",
    "timeout": "The service did not answer in time: try again later, or check the network path to the service.",
}


class ClientError(Exception):
    """A failed call to Entra ID, Dataverse or Business Central.

    Attributes: ``service`` (str), ``status`` (int | None), ``code`` (service error code, "" when none),
    ``message`` (the service's message, or a description of the network failure), ``transient`` (bool),
    ``retry_after`` (seconds | None), ``layer`` (see :data:`LAYERS`), ``fix`` (what to do, "" when unknown),
    ``url`` (the request URL without query, "" when unknown), ``method`` (HTTP method, "" when unknown),
    ``outcome_unknown`` (True when the request may have been carried out although no answer arrived: a read
    timeout, a dropped connection or a 5xx after a non-idempotent POST, which the client did not repeat),
    ``after_unknown_outcome`` (True when this answer came to a repeat of a request whose earlier attempt may have
    been carried out: a duplicate-key error then usually means the earlier attempt landed).
    """

    transient: bool = False
    outcome_unknown: bool = False
    after_unknown_outcome: bool = False

    def __init__(
        self,
        message: str,
        *,
        service: str,
        status: int | None = None,
        code: str = "",
        layer: str = "http",
        retry_after: float | None = None,
        fix: str = "",
        url: str = "",
        method: str = "",
    ) -> None:
        self.message = message
        self.service = service
        self.status = status
        self.code = code
        self.layer = layer
        self.retry_after = retry_after
        self.fix = fix
        self.url = url
        self.method = method
        super().__init__(str(self))

    def __str__(self) -> str:
        label = SERVICE_LABELS.get(self.service, self.service)
        details = ", ".join(part for part in (self.code, f"HTTP {self.status}" if self.status else "") if part)
        text = f"{label}: {self.message}" + (f" ({details})" if details else "")
        return f"{text} {self.fix}" if self.fix else text

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructor: make the error picklable (RQ stores exceptions of failed jobs).
        return (_rebuild, (type(self), self.message, self.__dict__.copy()))


def _rebuild(cls: type[ClientError], message: str, state: dict[str, Any]) -> ClientError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class TransientError(ClientError):
    """A failure that may go away when the call is repeated later: network, timeout, 429, 5xx, lock."""

    transient = True


class PermanentError(ClientError):
    """A failure that repeats until someone changes the request, the data or the configuration."""

    transient = False


class AuthenticationError(PermanentError):
    """Entra ID refused to issue a token, or the service refused the token (HTTP 401)."""


class AccessDeniedError(PermanentError):
    """The identity is authenticated but lacks a privilege (HTTP 403, e.g. Dataverse ``PrivilegeDenied``)."""


class ThrottledError(TransientError):
    """Service protection limit reached (HTTP 429; Microsoft Learn: "Service protection API limits", "Operational
    limits for Business Central online"); ``retry_after`` says how long to wait."""


class NotFoundError(PermanentError):
    """The record, table or endpoint does not exist (HTTP 404; Dataverse ``0x80040217`` ObjectDoesNotExist)."""


class MissingReferenceError(NotFoundError):
    """A lookup (``@odata.bind``) of a create or update names a row that does not exist (Dataverse 404
    ``0x80040217`` "<table> With Id = <guid> Does Not Exist" for a row other than the one written). ``table`` and
    ``reference_id`` name the missing row when the message says them."""

    table: str = ""
    reference_id: str = ""


class PreconditionFailedError(PermanentError):
    """The record changed since it was read: stale ETag (Dataverse 412 ``0x80060882``, BC 409
    ``Request_EntityChanged``), or an ``If-Match: *`` update of a row that does not exist."""


class DuplicateKeyError(PermanentError):
    """A row with the same key already exists (Dataverse 412 ``0x80040237`` / ``0x80060892``, BC
    ``Internal_EntityWithSameKeyExists``)."""


class OutboundURLRejected(PermanentError):
    """The URL may not be called from this server (scheme, embedded credentials, or a private address)."""

    def __init__(self, message: str, *, url: str = "", fix: str = "") -> None:
        super().__init__(message, service="outbound", layer="connection", fix=fix, url=url)


_AADSTS_RE = re.compile(r"AADSTS\d+")
_MISSING_ROW_RE = re.compile(r"^(\w+) With Id = ([0-9a-fA-F-]{36}) Does Not Exist")


def parse_retry_after(value: str | None) -> float | None:
    """Return the ``Retry-After`` header as seconds (delta-seconds or an HTTP date), None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None

    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def error_body(payload: Any) -> tuple[str, str]:
    """Return (code, message) from an OData error body ``{"error": {"code", "message"}}`` (Microsoft Learn:
    "Compose HTTP requests and handle errors", "Troubleshooting REST API/OData calls").

    Accepts the decoded JSON (dict) or anything else (then ("", "")).
    """
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):
            code = str(error.get("code") or "")
            message = str(error.get("message") or "")
            inner = error.get("innererror")
            if not message and isinstance(inner, dict):
                message = str(inner.get("message") or "")
            return code, message
        if isinstance(error, str):  # Entra shape {"error": "invalid_client", "error_description": "..."}
            return error, str(payload.get("error_description") or "")
    return "", ""


def error_for_status(
    *,
    service: str,
    status: int,
    code: str,
    message: str,
    retry_after: float | None = None,
    url: str = "",
    method: str = "",
) -> ClientError:
    """Build the right :class:`ClientError` subclass for an HTTP error answer of ``service``.

    Rules: 429 → ThrottledError; 501 → PermanentError; 408 and other 5xx → TransientError; Dataverse SQL
    timeout/deadlock codes → TransientError; 401 → AuthenticationError; 403 → AccessDeniedError; duplicate-key
    codes → DuplicateKeyError; 412 or BC 409 ``Request_EntityChanged`` → PreconditionFailedError; a Dataverse 404 of
    a write naming another row than the one at ``url`` → MissingReferenceError; other 404 → NotFoundError; any other
    4xx → PermanentError.
    """
    kwargs: dict[str, Any] = {
        "service": service, "status": status, "code": code, "layer": "http", "retry_after": retry_after,
        "url": url, "method": method,
    }
    message = message or f"HTTP {status}"
    lowered_code = code.lower()
    if status == 429:
        return ThrottledError(message, **kwargs, fix="The service is throttling this identity; the call is "
                              "repeated after the time it asks for.")
    if status == 501:
        # RFC 9110 section 15.6.2: the server does not support what the request asks; repeating it cannot help.
        # Business Central answers so an "or" across two fields in $filter (Microsoft Learn: "Known limitations
        # with Business Central OData").
        return PermanentError(message, **kwargs, fix="The service does not support this request (HTTP 501 Not "
                              "Implemented); change the request, repeating it cannot succeed.")
    if status in (408,) or status >= 500 or lowered_code in DATAVERSE_TRANSIENT_CODES or code in BC_TRANSIENT_CODES:
        return TransientError(message, **kwargs)
    if status == 401:
        return AuthenticationError(message, **{**kwargs, "layer": "auth"}, fix="The service refused the access "
                                   "token: check that the application user exists in the environment and is enabled.")
    if status == 403 and lowered_code == "0x8004a110":
        # CannotActOnBehalfOfAnotherUser (Microsoft Learn: "Impersonate another user"): the privilege counts only from
        # a role assigned to the user directly, never through a team.
        return AccessDeniedError(message, **kwargs, fix="Give the integration user a security role with Act on "
                                 "Behalf of Another User (prvActOnBehalfOfAnotherUser), e.g. Delegate, assigned to the "
                                 "user directly (not through a team), or turn user mapping off.")
    if status == 403:
        return AccessDeniedError(message, **kwargs, fix="Give the integration user the security roles or "
                                 "permission sets the integration needs.")
    if (lowered_code in DATAVERSE_DUPLICATE_CODES or code in BC_DUPLICATE_CODES
            or "duplicate key" in message.lower() or "matching key values already exists" in message.lower()):
        return DuplicateKeyError(message, **kwargs)
    if status == 412 or code in BC_STALE_CODES or lowered_code in DATAVERSE_STALE_CODES:
        return PreconditionFailedError(message, **kwargs)
    if status == 404:
        missing = _MISSING_ROW_RE.match(message)
        if (service == "dataverse" and missing and method.upper() in ("POST", "PATCH", "PUT")
                and missing.group(2).lower() not in url.lower()):
            error = MissingReferenceError(message, **kwargs, fix=f"Synchronize or couple the {missing.group(1)} "
                                          f"row {missing.group(2)} first, or correct the lookup.")
            error.table, error.reference_id = missing.group(1), missing.group(2)
            return error
        return NotFoundError(message, **kwargs)
    return PermanentError(message, **kwargs)


def entra_error(result: dict[str, Any]) -> AuthenticationError:
    """Map an msal error dict (``error``, ``error_description``, ``error_codes``; msal for Python returns the token
    endpoint's error answer as a dict) to an AuthenticationError whose ``code`` is the AADSTS code (e.g.
    ``"AADSTS7000215"``) or the OAuth error name."""
    description = str(result.get("error_description") or "")
    codes = result.get("error_codes") or []
    if codes:
        code = f"AADSTS{codes[0]}"
    else:
        found = _AADSTS_RE.search(description)
        code = found.group(0) if found else str(result.get("error") or "")
    # Entra descriptions carry trace and correlation ids on further lines; the first line is the message.
    message = description.splitlines()[0].strip() if description else str(result.get("error") or "token refused")
    return AuthenticationError(message, service="entra", status=400, code=code, layer="auth",
                               fix=AADSTS_FIXES.get(code, ""))
