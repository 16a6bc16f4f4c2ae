"""The HTTP layer shared by the Dataverse and Business Central clients (and the Entra token provider's session).

One :class:`Transport` per client sends every request through the same loop:

1. every request passes the outbound policy (:mod:`connections.clients.outbound`) in :class:`PinnedAdapter`, which
   connects to the address that was checked and follows no redirect; links sent by the service
   (``@odata.nextLink``) must stay on the client's origin, and a 3xx answer is an error;
2. a lease of the per-credential concurrency cap is held while the request is in flight (:mod:`.concurrency`);
3. failures are classified into the layers of :mod:`.errors` (dns, connection, tls, timeout, auth, http);
4. a 429 is repeated after ``Retry-After`` seconds (Microsoft Learn: "Service protection API limits"; BC sends no
   header on 429, Microsoft Learn: "Operational limits for Business Central online", so then the exponential backoff
   applies), as long as the total wait stays within ``max_retry_wait``;
5. 5xx answers and network failures are repeated with exponential backoff and jitter, at most ``max_retries``
   times — but only when repeating cannot do the work twice: the request never left (DNS, refused, TLS, connect
   timeout), or it is idempotent (GET, PUT, PATCH, DELETE, or a POST the caller marked ``idempotent=True``
   because it carries its own ids, e.g. a Dataverse create with the primary id set, an ``UpsertMultiple``).
   A POST whose outcome is unknown is not repeated; its error has ``outcome_unknown=True``;
6. a 401 makes the token provider drop its cached token and the request is sent once more (tokens that expire
   early).

Nothing here logs headers, tokens or bodies.
"""
from __future__ import annotations

import hashlib
import logging
import os
import random
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import certifi
import requests
from django.conf import settings
from prometheus_client import Counter
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NameResolutionError, NewConnectionError

from connections.clients.concurrency import ConcurrencyLimiter
from connections.clients.errors import (
    LAYER_FIXES,
    ClientError,
    OutboundURLRejected,
    PermanentError,
    ThrottledError,
    TransientError,
    error_body,
    error_for_status,
    parse_retry_after,
)
from connections.clients.outbound import DEFAULT_PORTS, CheckedTarget, checked_address, same_origin

logger = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})

#: Prometheus counters of this process (aggregated over processes by prometheus-client's multiprocess mode when
#: ``PROMETHEUS_MULTIPROC_DIR`` is set; served on ``/metrics``).
THROTTLED = Counter("bcportal_http_throttled", "HTTP 429 answers received, by service", ["service"])
RETRIES = Counter("bcportal_http_retries", "Requests repeated after a 429, a 5xx or a network failure, by service",
                  ["service"])
REQUESTS = Counter("bcportal_http_requests", "HTTP requests sent, by service", ["service"])

_bundle_lock = threading.Lock()


def ca_bundle() -> str | bool:
    """The ``verify`` value for requests: True (system/certifi store) or the path of a bundle holding certifi's CAs
    plus the ones in ``settings.OUTBOUND_CA_BUNDLE`` (the setting adds trust, it does not replace the store)."""
    extra = getattr(settings, "OUTBOUND_CA_BUNDLE", None)
    if not extra:
        return True


    # The store requests would use: REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (e.g. the system bundle), else certifi's.
    store = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
    extra_pem = Path(extra).read_bytes()
    combined = Path(store).read_bytes() + b"\n" + extra_pem
    digest = hashlib.sha256(combined).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"portal-outbound-ca-{digest}.pem"
    with _bundle_lock:
        if not path.exists():
            partial = path.with_suffix(f".{threading.get_ident()}.tmp")
            partial.write_bytes(combined)
            partial.replace(path)
    return str(path)


class PinnedAdapter(HTTPAdapter):
    """A requests adapter that applies the outbound policy to every request and connects to the checked address.

    The URL's host is resolved once by :func:`connections.clients.outbound.checked_address` (cached ``ttl`` seconds
    per host and port); the connection pool is keyed by that address, TLS still verifies the certificate against
    the host name (``server_hostname``/``assert_hostname``) and the ``Host`` header names the host, so a DNS answer
    that changes between check and connect (DNS rebinding) cannot move the request. Raises
    :class:`~connections.clients.errors.OutboundURLRejected` from ``send``.
    """

    def __init__(self, ttl: float = 60.0) -> None:
        super().__init__()
        self.ttl = ttl
        self._targets: dict[tuple[str, str, int | None], tuple[CheckedTarget, float]] = {}
        self._lock = threading.Lock()

    def target(self, url: str) -> CheckedTarget:
        """The checked target of ``url`` (see the class doc)."""
        parts = urlsplit(url)
        key = (parts.scheme.lower(), (parts.hostname or "").lower(), parts.port)
        now = time.monotonic()
        with self._lock:
            cached = self._targets.get(key)
        if cached is not None and cached[1] > now and not parts.username and not parts.password:
            return cached[0]
        found = checked_address(url)
        with self._lock:
            self._targets[key] = (found, now + self.ttl)
        return found

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        target = self.target(request.url or "")
        if target.address is not None:
            scheme = urlsplit(request.url or "").scheme.lower()
            host = f"[{target.host}]" if ":" in target.host else target.host
            request.headers["Host"] = host if target.port == DEFAULT_PORTS.get(scheme) else f"{host}:{target.port}"
        request._pinned_target = target  # type: ignore[attr-defined]
        return super().send(request, **kwargs)

    def build_connection_pool_key_attributes(self, request: requests.PreparedRequest, verify: Any,
                                             cert: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        target: CheckedTarget | None = getattr(request, "_pinned_target", None)
        if target is not None and target.address is not None:
            host_params["host"] = target.address
            if host_params.get("scheme") == "https":
                pool_kwargs["server_hostname"] = target.host
                pool_kwargs["assert_hostname"] = target.host
        return host_params, pool_kwargs


class TimeoutSession(requests.Session):
    """A requests.Session with a default timeout (seconds), the portal's CA trust and the outbound policy
    (:class:`PinnedAdapter`; no redirect is followed, no proxy or ``.netrc`` is read from the environment). Used by
    the clients' transport and as msal's ``http_client``, so msal's requests (OpenID metadata, token endpoint) pass
    the same policy.

    ``authority`` (an Entra authority URL on a non-default port) fixes an msal quirk: its user realm discovery
    (``msal/authority.py``) builds ``https://<host>/common/userrealm/…`` from the host name alone and so loses the port;
    such requests are sent to the authority's own host and port.
    """

    def __init__(self, timeout: float, *, authority: str | None = None) -> None:
        super().__init__()
        self.default_timeout = timeout
        self.verify = ca_bundle()
        self.trust_env = False
        adapter = PinnedAdapter()
        self.mount("https://", adapter)
        self.mount("http://", adapter)
        self._realm_fix: tuple[str, str] | None = None
        if authority:
            parts = urlsplit(authority)
            if parts.port and parts.hostname:
                self._realm_fix = (f"https://{parts.hostname}/common/userrealm/",
                                   f"https://{parts.netloc}/common/userrealm/")

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if self._realm_fix and isinstance(url, str) and url.lower().startswith(self._realm_fix[0]):
            url = self._realm_fix[1] + url[len(self._realm_fix[0]):]
        kwargs.setdefault("timeout", self.default_timeout)
        # Per request: requests lets REQUESTS_CA_BUNDLE override a session's ``verify`` otherwise.
        kwargs.setdefault("verify", self.verify)
        kwargs["allow_redirects"] = False
        return super().request(method, url, *args, **kwargs)


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps (``__cause__``, ``__context__``, urllib3 ``reason``, args)."""
    seen: list[BaseException] = []
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if any(current is s for s in seen):
            continue
        seen.append(current)
        for nested in (current.__cause__, current.__context__, getattr(current, "reason", None),
                       *[a for a in getattr(current, "args", ()) if isinstance(a, BaseException)]):
            if isinstance(nested, BaseException):
                stack.append(nested)
    return seen


def classify_exception(exc: requests.RequestException, *, service: str, url: str, method: str,
                       timeout: float) -> tuple[ClientError, bool]:
    """Map a requests exception to (error, sent): ``sent`` is False when the request certainly never reached the
    service (so repeating it cannot do the work twice)."""
    host = urlsplit(url).hostname or url
    where = {"service": service, "url": _strip_query(url), "method": method}
    causes = _causes(exc)
    if isinstance(exc, requests.exceptions.SSLError) or any(isinstance(c, ssl.SSLError) for c in causes):
        detail = next((str(c) for c in causes if isinstance(c, ssl.SSLError)), str(exc))
        # An untrusted or mismatched certificate stays so until someone acts; a handshake cut short by the
        # network (EOF, reset) may pass on the next attempt.
        untrusted = any(isinstance(c, ssl.SSLCertVerificationError) for c in causes) or \
            "CERTIFICATE_VERIFY_FAILED" in detail or "hostname" in detail.lower()
        kind = PermanentError if untrusted else TransientError
        return kind(f"TLS handshake with {host} failed: {_short(detail)}", layer="tls", fix=LAYER_FIXES["tls"],
                    **where), False
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return TransientError(f"Connecting to {host} timed out after {timeout:g} s.", layer="timeout",
                              fix=LAYER_FIXES["timeout"], **where), False
    if isinstance(exc, requests.exceptions.Timeout):
        return TransientError(f"{host} did not answer within {timeout:g} s.", layer="timeout",
                              fix=LAYER_FIXES["timeout"], **where), True
    if isinstance(exc, requests.exceptions.ConnectionError):
        if any(isinstance(c, (socket.gaierror, NameResolutionError)) for c in causes):
            return TransientError(f"The host name {host} could not be resolved.", layer="dns",
                                  fix=LAYER_FIXES["dns"], **where), False
        if any(isinstance(c, (ConnectionRefusedError, NewConnectionError)) for c in causes):
            return TransientError(f"The connection to {host} was refused.", layer="connection",
                                  fix=LAYER_FIXES["connection"], **where), False
        return TransientError(f"The connection to {host} was lost before an answer arrived: {_short(str(exc))}",
                              layer="connection", fix=LAYER_FIXES["connection"], **where), True
    return PermanentError(f"The request to {host} could not be sent: {_short(str(exc))}", layer="connection",
                          **where), False


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _strip_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def error_from_response(response: requests.Response, *, service: str) -> ClientError:
    """Build the ClientError for an HTTP error answer, reading the service's code and message from its body."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    code, message = error_body(payload)
    if not message:
        # A body that is not Microsoft's error envelope is not shown: it may come from another service.
        message = f"HTTP {response.status_code} {response.reason or ''}".strip() + (
            " (the answer had no Microsoft error body)" if response.content else "")
    return error_for_status(service=service, status=response.status_code, code=code, message=message,
                            retry_after=parse_retry_after(response.headers.get("Retry-After")),
                            url=_strip_query(response.request.url or "") if response.request else "",
                            method=(response.request.method or "") if response.request else "")


class Transport:
    """Sends requests for one client: checks, concurrency cap, retries, error mapping (see the module doc).

    ``auth_headers`` returns the headers carrying the credential (``{"Authorization": "Bearer …"}``) and may raise
    ClientError; ``reset_auth`` drops a cached token after a 401. ``sleep`` waits before a retry (default
    :func:`time.sleep`; tests pass a recorder to check the waits asked without spending them). Times are seconds.
    """

    def __init__(self, *, service: str, base_url: str, timeout: float = 30.0, max_retries: int = 5,
                 auth_headers: Callable[[], Mapping[str, str]] | None = None,
                 reset_auth: Callable[[], None] | None = None, basic: tuple[str, str] | None = None,
                 limiter: ConcurrencyLimiter | None = None, backoff_base: float = 0.5, backoff_max: float = 30.0,
                 max_retry_wait: float = 300.0, sleep: Callable[[float], None] | None = None) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more.")
        self.service = service
        self.base_url = base_url
        self.timeout = timeout
        self.max_retries = max_retries
        self.auth_headers = auth_headers
        self.reset_auth = reset_auth
        self.limiter = limiter
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_wait = max_retry_wait
        self.sleep: Callable[[float], None] = sleep if sleep is not None else time.sleep
        self.session = TimeoutSession(timeout)
        if basic is not None:
            self.session.auth = requests.auth.HTTPBasicAuth(*basic)
        self.requests_sent = 0
        self._count_lock = threading.Lock()
        self._checked: set[str] = set()

    def _check(self, url: str) -> None:
        if not same_origin(url, self.base_url):
            raise OutboundURLRejected(
                f"The service sent a link to another host ({urlsplit(url).hostname}); it was not followed.",
                url=_strip_query(url))
        origin = f"{urlsplit(url).scheme}://{urlsplit(url).netloc}".lower()
        if origin not in self._checked:
            checked_address(url)
            self._checked.add(origin)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry ``attempt`` (0-based): exponential with equal jitter, capped."""
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** attempt))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def request(self, method: str, url: str, *, params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None, json: Any = None, data: bytes | str | None = None,
                idempotent: bool | None = None, timeout: float | None = None) -> requests.Response:
        """Send one request with the retry rules of the module doc; return the response (status < 400).

        ``idempotent`` defaults to True for GET/HEAD/OPTIONS/PUT/PATCH/DELETE and False for POST. A DELETE that
        is repeated after an unknown outcome and then answers 404 counts as done (the first attempt deleted it).
        Raises ClientError subclasses.
        """
        method = method.upper()
        self._check(url)
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        timeout = timeout or self.timeout
        attempt = 0
        waited = 0.0
        token_reset = False
        outcome_unknown = False
        while True:
            error: ClientError
            retry_wait: float | None = None
            unknown_before = outcome_unknown
            try:
                request_headers = dict(headers or {})
                if self.auth_headers is not None:
                    request_headers.update(self.auth_headers())
                if self.limiter is not None:
                    with self.limiter.slot(lease_seconds=timeout * 2 + 30):
                        response = self._send(method, url, params, request_headers, json, data, timeout)
                else:
                    response = self._send(method, url, params, request_headers, json, data, timeout)
            except requests.RequestException as exc:
                error, sent = classify_exception(exc, service=self.service, url=url, method=method, timeout=timeout)
                outcome_unknown = outcome_unknown or sent
                retryable = error.transient and (idempotent or not sent)
                cause: BaseException | None = exc
            except TransientError as exc:  # token endpoint unreachable, concurrency cap wait
                error, retryable, cause = exc, True, None
            else:
                if response.status_code < 300:
                    return response
                if response.status_code < 400:
                    raise PermanentError(
                        f"{urlsplit(url).hostname} answered HTTP {response.status_code} with a redirect; redirects "
                        "are not followed.", layer="http", status=response.status_code, service=self.service,
                        url=_strip_query(url), method=method,
                        fix="Enter the service's final URL (the one that answers without a redirect).")
                if response.status_code == 404 and method == "DELETE" and outcome_unknown:
                    return response
                if response.status_code == 401 and self.reset_auth is not None and not token_reset:
                    token_reset = True
                    self.reset_auth()
                    continue
                error = error_from_response(response, service=self.service)
                cause = None
                if isinstance(error, ThrottledError):
                    THROTTLED.labels(self.service).inc()
                    retryable = True  # a throttled request was not carried out ("Service protection API limits")
                    retry_wait = error.retry_after
                else:
                    retryable = error.transient and idempotent
                    if error.transient and response.status_code >= 500:
                        outcome_unknown = outcome_unknown or not idempotent
                        retry_wait = error.retry_after
            error.after_unknown_outcome = unknown_before
            if not retryable or attempt >= self.max_retries:
                error.outcome_unknown = outcome_unknown and not idempotent
                raise error from cause
            wait = retry_wait if retry_wait is not None else self.backoff(attempt)
            if waited + wait > self.max_retry_wait:
                error.outcome_unknown = outcome_unknown and not idempotent
                raise error from cause
            logger.info("%s %s %s: %s; retry %d of %d in %.2f s", self.service, method, _strip_query(url),
                        error.code or error.layer, attempt + 1, self.max_retries, wait)
            RETRIES.labels(self.service).inc()
            self.sleep(wait)
            waited += wait
            attempt += 1

    def _send(self, method: str, url: str, params: Mapping[str, Any] | None, headers: dict[str, str], json: Any,
              data: bytes | str | None, timeout: float) -> requests.Response:
        with self._count_lock:
            self.requests_sent += 1
        REQUESTS.labels(self.service).inc()
        if params:
            # OData wants spaces as %20 (requests' form encoding would send "+"); keep OData punctuation readable.
            query = urlencode(params, quote_via=quote, safe="$'(),:@/*")
            url = f"{url}{'&' if '?' in url else '?'}{query}"
        response = self.session.request(method, url, headers=headers, json=json, data=data, timeout=timeout)
        logger.debug("%s %s %s -> %s", self.service, method, _strip_query(url), response.status_code)
        return response
