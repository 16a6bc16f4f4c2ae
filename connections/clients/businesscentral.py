"""Client of the Business Central API (Microsoft Learn: "Business Central API (v2.0)"), over requests with msal
tokens or Basic access keys.

URLs: ``api_base_url`` is the environment root
(``https://api.businesscentral.dynamics.com/v2.0/<tenant>/<environment>``) or the standard API root under it
(``…/api/v2.0``). ``api="v2.0"`` (:data:`STANDARD_API`) addresses the standard API; ``api="custom"``
(:data:`CUSTOM_API`, as ``mappings.catalogue`` names it) addresses the custom API pages of the portal's companion
extension, ``…/api/bcportal/integration/v1.0`` (Microsoft Learn: "Developing a custom API"; for what v2.0 lacks:
Resource, Customer Price Group, Sales Price, item units of measure; the route the BC emulator (``emulators/bc/``)
serves); any other ``"<publisher>/<group>/<version>"`` addresses that API. Company-scoped entity sets live under
``companies(<company id>)/``.

Rules of the API this client follows: PATCH and DELETE carry ``If-Match`` (Microsoft Learn: "Business Central API
(v2.0)"), a stale ETag answers 409 ``Request_EntityChanged`` (→ PreconditionFailedError; Microsoft Learn:
"Troubleshooting REST API/OData calls"); pages are asked for with ``Prefer: odata.maxpagesize`` and followed through
``@odata.nextLink`` (≤ 20,000; Microsoft Learn: "Server-Driven Paging in OData Web Services"); ``$batch`` is the JSON
batch format with at most 100 operations, ``Isolation: snapshot`` for an all-or-nothing batch (Microsoft Learn:
"Using OData transactional $batch requests"). BC processes 5 requests per user at once (Microsoft Learn:
"Operational limits for Business Central online"), hence the default cap of 5. A create (POST) is not repeated once
it may have reached BC (BC chooses the SystemId), unless the caller says ``idempotent=True``.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

from connections.clients.concurrency import ConcurrencyLimiter
from connections.clients.entra import TokenProvider, fingerprint
from connections.clients.errors import ClientError, PermanentError, error_body, error_for_status
from connections.clients.transport import Transport

SERVICE = "businesscentral"
#: Microsoft Learn: "Using Service-to-Service (S2S) Authentication".
SCOPE = "https://api.businesscentral.dynamics.com/.default"
STANDARD_API = "v2.0"
CUSTOM_API = "custom"
CUSTOM_API_ROUTE = "bcportal/integration/v1.0"
#: The companion extension version this portal calls (``bc-extension/app.json``; written here, read from nothing at
#: run time): the installed version must have the same major version and at least this minor version.
REQUIRED_EXTENSION_VERSION = "1.1.0.0"
MAX_PAGE_SIZE = 20000  # Microsoft Learn: "Operational limits for Business Central online"
MAX_BATCH = 100  # Microsoft Learn: "Operational limits for Business Central online"


def version_tuple(version: str) -> tuple[int, ...] | None:
    """``"1.2.0.3"`` → ``(1, 2, 0, 3)`` (BC's Version data type: major.minor.build.revision); None when it is not a
    version."""
    parts = (version or "").strip().split(".")
    if not parts or not all(part.isdigit() for part in parts):
        return None
    return tuple(int(part) for part in parts)


def extension_version_problem(installed: str, required: str = REQUIRED_EXTENSION_VERSION) -> str:
    """Why the installed companion extension version does not serve this portal ("" when it does): the major
    versions must be equal (a new major version changes the API pages) and the installed minor version at least the
    required one (minor versions add fields and pages)."""
    have, need = version_tuple(installed), version_tuple(required)
    if have is None or need is None:
        return f"the extension reports the version {installed!r}, which is not a version number"
    if have[0] != need[0]:
        return f"version {installed} is installed; this portal calls version {need[0]}.x (major versions differ)"
    if have[1:2] < need[1:2]:
        return f"version {installed} is installed; this portal needs {need[0]}.{need[1]} or a later {need[0]}.x"
    return ""


def environment_root(api_base_url: str) -> str:
    """``…/<environment>/api/v2.0`` (or ``…/api/<publisher>/<group>/<version>``) → ``…/<environment>``."""
    url = api_base_url.rstrip("/")
    marker = url.find("/api/")
    if marker != -1:
        return url[:marker]
    return url[:-4] if url.endswith("/api") else url


class BusinessCentralClient:
    """The BC API of one environment and company, as one credential.

    Give ``tokens`` (Entra, ``scope`` defaults to BC's resource) or ``basic`` = (user name, web service access key;
    BC on-premises only). ``timeout`` is seconds per request; ``max_retries`` bounds the retries of one request;
    ``max_concurrency`` caps concurrent requests of this credential across all workers (0 disables it);
    ``concurrency_key`` names the cap (default: the credential).
    """

    def __init__(self, api_base_url: str, company_id: uuid.UUID | None, *, tokens: TokenProvider | None = None,
                 basic: tuple[str, str] | None = None, timeout: float = 30.0, max_retries: int = 5,
                 max_concurrency: int = 5, scope: str = SCOPE, custom_api_route: str = CUSTOM_API_ROUTE,
                 concurrency_key: str | None = None, **transport_options: Any) -> None:
        if (tokens is None) == (basic is None):
            raise ValueError("Give exactly one of tokens (OAuth) or basic (user name and access key).")
        self.root = environment_root(api_base_url)
        self.company_id = company_id
        self.tokens = tokens
        self.scope = scope
        self.custom_api_route = custom_api_route.strip("/")
        limiter = None
        if max_concurrency:
            credential = concurrency_key or (tokens.credential_key if tokens
                                             else fingerprint(self.root, basic[0] if basic else "")[:24])
            limiter = ConcurrencyLimiter(f"{SERVICE}:{credential}", max_concurrency, lease_seconds=timeout * 2 + 30,
                                         service=SERVICE)
        self.transport = Transport(
            service=SERVICE, base_url=self.root, timeout=timeout, max_retries=max_retries,
            auth_headers=self._auth_headers if tokens else None, reset_auth=tokens.invalidate if tokens else None,
            basic=basic, limiter=limiter, **transport_options)

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent by this client so far (retries included); for benchmarks."""
        return self.transport.requests_sent

    def _auth_headers(self) -> dict[str, str]:
        assert self.tokens is not None
        return {"Authorization": f"Bearer {self.tokens.token(self.scope)}"}

    def api_url(self, api: str = STANDARD_API) -> str:
        """The root of an API route: ``…/api/v2.0``, the custom route for ``"custom"``, or
        ``…/api/<publisher>/<group>/<version>``."""
        route = self.custom_api_route if api == CUSTOM_API else api.strip("/")
        return f"{self.root}/api/{route}"

    def _company_url(self, api: str) -> str:
        if self.company_id is None:
            raise PermanentError("No Business Central company is selected.", service=SERVICE,
                                 fix="Choose the company in the connection setup.")
        return f"{self.api_url(api)}/companies({self.company_id})"

    def _request(self, method: str, url: str, *, params: dict[str, Any] | None = None, body: Any = None,
                 headers: dict[str, str] | None = None, idempotent: bool | None = None) -> Any:
        all_headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            all_headers["Content-Type"] = "application/json"
            data = json.dumps(body, default=str).encode()
        all_headers.update(headers or {})
        return self.transport.request(method, url, params=params, headers=all_headers, data=data,
                                      idempotent=idempotent)

    @staticmethod
    def _json(response: Any) -> dict[str, Any]:
        if response.status_code == 204 or not response.content:
            return {}
        return response.json()

    def companies(self, *, api: str = "v2.0") -> list[dict[str, Any]]:
        """``GET …/api/v2.0/companies`` → the companies (``id``, ``name``, ``displayName``, …)."""
        return list(self._json(self._request("GET", f"{self.api_url(api)}/companies")).get("value", []))

    def iter_rows(self, entity_set: str, *, filter: str | None = None, select: list[str] | None = None,  # noqa: A002
                  orderby: str | None = None, page_size: int = MAX_PAGE_SIZE, api: str = "v2.0",
                  expand: str | None = None, top: int | None = None) -> Iterator[dict[str, Any]]:
        """Yield the company's rows of ``entity_set`` page by page (``Prefer: odata.maxpagesize``, following
        ``@odata.nextLink``; Microsoft Learn: "Server-Driven Paging in OData Web Services"); ``page_size`` ≤ 20,000.
        ``top`` limits the rows (``$top``, one request)."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE} (Business Central's maximum).")
        params: dict[str, Any] = {}
        if filter:
            params["$filter"] = filter
        if select:
            params["$select"] = ",".join(select)
        if orderby:
            params["$orderby"] = orderby
        if expand:
            params["$expand"] = expand
        if top is not None:
            params["$top"] = str(top)
        headers = {"Prefer": f"odata.maxpagesize={page_size}"}
        url: str | None = f"{self._company_url(api)}/{entity_set}"
        while url:
            payload = self._json(self._request("GET", url, params=params or None, headers=headers))
            yield from payload.get("value", [])
            url = payload.get("@odata.nextLink") if top is None else None
            params = {}

    def count(self, entity_set: str, *, filter: str | None = None, api: str = "v2.0") -> int:  # noqa: A002
        """The number of the company's rows matching ``filter``: ``$count=true`` with ``$top=0`` reads
        ``@odata.count`` without transferring rows (Microsoft Learn: "Business Central API (v2.0)")."""
        params: dict[str, Any] = {"$count": "true", "$top": "0"}
        if filter:
            params["$filter"] = filter
        payload = self._json(self._request("GET", f"{self._company_url(api)}/{entity_set}", params=params))
        if "@odata.count" not in payload:
            raise PermanentError(f"Business Central returned no count for {entity_set}.", service=SERVICE)
        return int(payload["@odata.count"])

    def get(self, entity_set: str, id: uuid.UUID | str, *, api: str = "v2.0") -> dict[str, Any]:  # noqa: A002
        """``GET <set>(<id>)`` → the record with ``@odata.etag``; NotFoundError when it does not exist."""
        return self._json(self._request("GET", f"{self._company_url(api)}/{entity_set}({id})"))

    def create(self, entity_set: str, data: dict[str, Any], *, api: str = "v2.0",
               idempotent: bool = False) -> dict[str, Any]:
        """``POST <set>`` → 201 with the created record (``id``, ``@odata.etag``). DuplicateKeyError when the key
        (e.g. ``number``) exists already."""
        return self._json(self._request("POST", f"{self._company_url(api)}/{entity_set}", body=data,
                                        idempotent=idempotent))

    def update(self, entity_set: str, id: uuid.UUID | str, data: dict[str, Any], *, etag: str,  # noqa: A002
               api: str = "v2.0") -> dict[str, Any]:
        """``PATCH <set>(<id>)`` with ``If-Match: <etag>`` (``"*"`` to overwrite) → the updated record (200). A
        stale etag raises PreconditionFailedError (409 ``Request_EntityChanged``; Microsoft Learn: "Business Central
        API (v2.0)")."""
        return self._json(self._request("PATCH", f"{self._company_url(api)}/{entity_set}({id})", body=data,
                                        headers={"If-Match": etag}))

    def delete(self, entity_set: str, id: uuid.UUID | str, *, etag: str, api: str = "v2.0") -> None:  # noqa: A002
        """``DELETE <set>(<id>)`` with ``If-Match`` (Microsoft Learn: "Business Central API (v2.0)") → 204.
        PreconditionFailedError on a stale etag, NotFoundError when the record is gone."""
        self._request("DELETE", f"{self._company_url(api)}/{entity_set}({id})", headers={"If-Match": etag})

    def batch(self, operations: list[dict[str, Any]], *, atomic: bool = False, api: str = "v2.0",
              idempotent: bool | None = None) -> list[dict[str, Any]]:
        """Send ``operations`` as JSON ``$batch`` requests (Microsoft Learn: "Using OData transactional $batch
        requests") and return one result per operation, in order.

        An operation is ``{"method": "PATCH", "url": "items(<id>)", "headers": {"If-Match": etag}, "body": {...}}``
        with ``url`` relative to the company (``companies(<id>)/`` is prefixed unless the url starts with
        ``companies(``). Results are ``{"id", "status", "headers", "body", "error"}`` where ``error`` is a
        ClientError for a status ≥ 400, else None. Lists longer than 100 are sent in several batches; ``atomic``
        adds ``Isolation: snapshot`` (one transaction) and allows at most 100 operations. Repeated after a lost
        answer only when ``idempotent`` (default: no operation is a POST).
        """
        if not operations:
            return []
        if atomic and len(operations) > MAX_BATCH:
            raise ValueError(f"An atomic Business Central $batch holds at most {MAX_BATCH} operations; "
                             f"got {len(operations)}.")
        if idempotent is None:
            idempotent = all(str(op.get("method", "GET")).upper() != "POST" for op in operations)
        results: list[dict[str, Any]] = []
        company = f"companies({self.company_id})/" if self.company_id else ""
        for start in range(0, len(operations), MAX_BATCH):
            chunk = operations[start:start + MAX_BATCH]
            requests = []
            for index, op in enumerate(chunk, start=1):
                url = str(op["url"]).lstrip("/")
                if not url.startswith("companies("):
                    url = company + url
                request: dict[str, Any] = {"id": str(op.get("id") or index), "method": str(op["method"]).upper(),
                                           "url": url, "headers": {"Content-Type": "application/json",
                                                                   **(op.get("headers") or {})}}
                if op.get("body") is not None:
                    request["body"] = op["body"]
                requests.append(request)
            headers = {"Isolation": "snapshot"} if atomic else {}
            payload = self._json(self._request("POST", f"{self.api_url(api)}/$batch", body={"requests": requests},
                                               headers=headers, idempotent=idempotent))
            by_id = {str(item.get("id")): item for item in payload.get("responses", [])}
            for request in requests:
                item = by_id.get(request["id"], {"status": 0, "headers": {}, "body": None})
                status = int(item.get("status") or 0)
                body = item.get("body")
                error: ClientError | None = None
                if status >= 400 or status == 0:
                    code, message = error_body(body)
                    error = error_for_status(service=SERVICE, status=status or 500, code=code,
                                             message=message or "No answer for this operation in the $batch.")
                results.append({"id": request["id"], "status": status, "headers": item.get("headers") or {},
                                "body": body, "error": error})
        return results
