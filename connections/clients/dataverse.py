"""Client of the Dataverse Web API v9.2 (Microsoft Learn: "Use the Microsoft Dataverse Web API"), over requests with
msal tokens.

Every request carries ``Accept: application/json``, ``OData-MaxVersion: 4.0``, ``OData-Version: 4.0`` (Microsoft
Learn: "Compose HTTP requests and handle errors") and a bearer token for ``<environment URL>/.default`` (Microsoft
Learn: "Microsoft identity platform and the OAuth 2.0 client credentials flow"); with ``caller_id`` it also carries
``MSCRMCallerID`` (Microsoft Learn: "Impersonate another user using the Web API": the row's owner and ``createdby``
become that user, ``createdonbehalfby`` the integration user).
Retries, the ``Retry-After`` rule, the concurrency cap and the error mapping are those of
:class:`connections.clients.transport.Transport`.

Bulk operation messages (CreateMultiple, UpdateMultiple, UpsertMultiple) exist for custom tables and many, not all,
standard tables (Microsoft Learn: "Use bulk operation messages"): :meth:`DataverseClient.bulk_message_available`
asks ``sdkmessagefilters`` once per message and table (cached for the environment), and the ``*_multiple``
methods send the rows of a table that lacks the message as ``$batch`` change sets instead
(:meth:`DataverseClient.write_in_changesets`).

Retrying writes is safe because of how the engine writes (every write is safe to repeat): creates carry their own
primary id (Dataverse lets the client choose the GUID on create, Microsoft Learn: "Create a table row using the Web
API"), so a create repeated after a lost answer either lands once or fails with :class:`DuplicateKeyError`; updates and
upserts are PATCHes by id, idempotent by nature. A create without its own id is never repeated once it may have
reached the service (``outcome_unknown``).
"""
from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from base import multipart
from connections.clients.concurrency import ConcurrencyLimiter
from connections.clients.entra import TokenProvider
from connections.clients.errors import (
    ClientError,
    DuplicateKeyError,
    NotFoundError,
    PermanentError,
    TransientError,
    error_body,
    error_for_status,
)
from connections.clients.metadata_cache import metadata_forget, metadata_get, metadata_put
from connections.clients.transport import Transport

SERVICE = "dataverse"
MAX_PAGE_SIZE = 5000  # Microsoft Learn: "Page results using OData"
MAX_BATCH = 1000  # Microsoft Learn: "Execute batch operations using the Web API"
CHANGESET_SIZE = 100  # requests per change set when a table lacks a bulk operation message
BULK_MESSAGE_TTL = 3600.0  # seconds an answer of sdkmessagefilters is kept (it changes with platform updates only)
#: The bulk operation messages an ``sdkmessagefilters`` query answers for; UpsertMultiple needs both (Microsoft Learn:
#: "Use bulk operation messages").
BULK_FILTER_MESSAGES = ("CreateMultiple", "UpdateMultiple")
_ENTITY_ID_RE = re.compile(r"\(([0-9a-fA-F-]{36})\)\s*$")


@dataclass(frozen=True)
class TableDefinition:
    """What EntityDefinitions says about one table (Microsoft Learn: "Query table definitions using the Web API"):
    logical name, entity set, primary id and name columns."""

    logical_name: str
    entity_set: str
    primary_id: str
    primary_name: str


@dataclass
class BatchRequest:
    """One operation of a ``$batch`` (Microsoft Learn: "Execute batch operations using the Web API"). ``url`` is
    relative to the Web API root (``"products"``,
    ``"products(<guid>)"``) or a ``$n`` Content-ID reference; ``body`` is JSON-serialisable or None."""

    method: str
    url: str
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_id: str | None = None


@dataclass
class BatchResponse:
    """The answer to one operation of a ``$batch``: status, headers (lower-case names), decoded JSON body (or None),
    the echoed Content-ID, and ``error`` (a ClientError built from the body for a status ≥ 400, else None)."""

    status: int
    headers: dict[str, str]
    body: Any
    content_id: str | None = None
    error: ClientError | None = None

    @property
    def entity_id(self) -> uuid.UUID | None:
        """The id of the row a create made (from ``OData-EntityId``/``Location``), None otherwise."""
        return _id_from_entity_url(self.headers.get("odata-entityid") or self.headers.get("location") or "")


@dataclass
class ChangeSetResult:
    """One change set of :meth:`DataverseClient.write_in_changesets`: the rows ``start:stop`` of the call, their
    answers (in order) and the error that rolled the change set back (None = written)."""

    start: int
    stop: int
    responses: list[BatchResponse] = field(default_factory=list)
    error: ClientError | None = None


def _id_from_entity_url(url: str) -> uuid.UUID | None:
    match = _ENTITY_ID_RE.search(url)
    return uuid.UUID(match.group(1)) if match else None


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class DataverseClient:
    """The Dataverse Web API of one environment, as one credential (optionally impersonating ``caller_id``).

    ``environment_url`` is the bare origin (``https://contoso.crm.dynamics.com``); ``timeout`` is seconds per
    request; ``max_retries`` bounds the retries of one request; ``concurrency_key`` names the shared cap (default:
    the credential), ``max_concurrency`` its size (0 disables it). Further keyword arguments (``backoff_base``,
    ``backoff_max``, ``max_retry_wait`` in seconds) go to the Transport.
    """

    _definitions_lock = threading.Lock()
    _definitions: dict[tuple[str, str], TableDefinition] = {}
    #: (environment, message, table) -> (available, time.monotonic() of the answer); see bulk_message_available.
    _bulk_messages: dict[tuple[str, str, str], tuple[bool, float]] = {}

    def __init__(self, environment_url: str, tokens: TokenProvider, *, api_version: str = "9.2",
                 caller_id: uuid.UUID | None = None, timeout: float = 30.0, max_retries: int = 5,
                 concurrency_key: str | None = None, max_concurrency: int = 8,
                 caller_object_id: uuid.UUID | None = None, **transport_options: Any) -> None:
        self.environment_url = environment_url.rstrip("/")
        self.api_url = f"{self.environment_url}/api/data/v{api_version}/"
        self.tokens = tokens
        self.scope = f"{self.environment_url}/.default"
        self.caller_id = caller_id
        self.caller_object_id = caller_object_id
        limiter = None
        if max_concurrency:
            key = f"{SERVICE}:{concurrency_key or tokens.credential_key}"
            limiter = ConcurrencyLimiter(key, max_concurrency, lease_seconds=timeout * 2 + 30, service=SERVICE)
        self.transport = Transport(
            service=SERVICE, base_url=self.environment_url, timeout=timeout, max_retries=max_retries,
            auth_headers=self._auth_headers, reset_auth=tokens.invalidate, limiter=limiter, **transport_options)

    # -- plumbing ---------------------------------------------------------------------------------------------
    @property
    def requests_sent(self) -> int:
        """HTTP requests sent by this client so far (retries included); for benchmarks."""
        return self.transport.requests_sent

    def _auth_headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.tokens.token(self.scope)}"}
        if self.caller_object_id:
            headers["CallerObjectId"] = str(self.caller_object_id)
        elif self.caller_id:
            headers["MSCRMCallerID"] = str(self.caller_id)
        return headers

    def _url(self, path: str) -> str:
        return path if path.startswith(("https://", "http://")) else self.api_url + path.lstrip("/")

    def _request(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None,
                 headers: dict[str, str] | None = None, idempotent: bool | None = None,
                 timeout: float | None = None) -> Any:
        all_headers = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
        data = None
        if body is not None:
            all_headers["Content-Type"] = "application/json; charset=utf-8"
            data = json.dumps(body, default=str).encode()
        all_headers.update(headers or {})
        return self.transport.request(method, self._url(path), params=params, headers=all_headers, data=data,
                                      idempotent=idempotent, timeout=timeout)

    @staticmethod
    def _json(response: Any) -> dict[str, Any]:
        if response.status_code == 204 or not response.content:
            return {}
        return response.json()

    @staticmethod
    def _key(id: uuid.UUID | str) -> str:  # noqa: A002 - Web API wording
        return str(id)

    # -- metadata and functions ---------------------------------------------------------------------------------
    def who_am_i(self) -> dict[str, Any]:
        """``GET WhoAmI`` (Microsoft Learn: "WhoAmI Function") → ``{"BusinessUnitId", "UserId", "OrganizationId"}``
        (GUID strings)."""
        return self._json(self._request("GET", "WhoAmI"))

    def retrieve_version(self) -> str:
        """``GET RetrieveVersion()`` (Microsoft Learn: "RetrieveVersion Function") → the server version, e.g.
        ``"9.2.24081.00190"``."""
        return str(self._json(self._request("GET", "RetrieveVersion()")).get("Version", ""))

    def table_definition(self, logical_name: str) -> TableDefinition:
        """The table's entity set, primary id and primary name from ``EntityDefinitions`` (Microsoft Learn: "Query
        table definitions using the Web API"), cached per environment for the process. Raises NotFoundError naming
        the table when the environment lacks it."""
        key = (self.environment_url, logical_name)
        with self._definitions_lock:
            cached = self._definitions.get(key)
        if cached:
            return cached
        shared = metadata_get(self.environment_url, f"table:{logical_name}")
        if shared:  # another process asked already (connections/clients/metadata_cache.py)
            return self._remember({"value": [shared]}, "")
        payload = self._json(self._request("GET", "EntityDefinitions", params={
            "$select": "LogicalName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute",
            "$filter": f"LogicalName eq {_literal(logical_name)}"}))
        definition = self._remember(payload, f"The table {logical_name!r} does not exist in this environment.")
        metadata_put(self.environment_url, f"table:{logical_name}", (payload.get("value") or [])[0],
                     ttl=BULK_MESSAGE_TTL)
        return definition

    def _definition_for_set(self, entity_set: str) -> TableDefinition | None:
        with self._definitions_lock:
            for (env, _), definition in self._definitions.items():
                if env == self.environment_url and definition.entity_set == entity_set:
                    return definition
        shared = metadata_get(self.environment_url, f"set:{entity_set}")
        if shared:  # another process asked already (connections/clients/metadata_cache.py)
            return self._remember({"value": [shared]}, "")
        try:
            payload = self._json(self._request("GET", "EntityDefinitions", params={
                "$select": "LogicalName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute",
                "$filter": f"EntitySetName eq {_literal(entity_set)}"}))
            definition = self._remember(payload, "")
        except PermanentError:
            return None
        metadata_put(self.environment_url, f"set:{entity_set}", (payload.get("value") or [])[0],
                     ttl=BULK_MESSAGE_TTL)
        return definition

    def _remember(self, payload: dict[str, Any], missing: str) -> TableDefinition:
        rows = payload.get("value") or []
        if not rows:
            raise NotFoundError(missing or "No such table.", service=SERVICE, status=404,
                                fix="Check that the integration solution and Dynamics 365 Sales are installed.")
        row = rows[0]
        definition = TableDefinition(row["LogicalName"], row["EntitySetName"], row.get("PrimaryIdAttribute") or "",
                                     row.get("PrimaryNameAttribute") or "")
        with self._definitions_lock:
            self._definitions[(self.environment_url, definition.logical_name)] = definition
        return definition

    def entity_set(self, logical_name: str) -> str:
        """The entity set name of a table (``product`` → ``products``), see :meth:`table_definition`."""
        return self.table_definition(logical_name).entity_set

    def bulk_message_available(self, message: str, logical_name: str) -> bool:
        """Whether the bulk operation message ``message`` (``"CreateMultiple"``, ``"UpdateMultiple"``,
        ``"UpsertMultiple"``) can be used on the table ``logical_name`` (Microsoft Learn: "Use bulk operation
        messages", availability with standard tables): ``GET sdkmessagefilters?$select=sdkmessagefilterid&$filter=
        sdkmessageid/name eq '<message>' and primaryobjecttypecode eq '<table>'`` answers a row when it can.
        UpsertMultiple, which that query does not answer for, is available where CreateMultiple and UpdateMultiple
        both are.

        One query per message and table, kept for the environment (all clients of the process, and every other
        process through :mod:`connections.clients.metadata_cache`) for :data:`BULK_MESSAGE_TTL` seconds. A permanent
        failure of the query (e.g. no read privilege on ``sdkmessagefilter``) counts as "not available": ``$batch``
        works on every table. Raises TransientError."""
        if message == "UpsertMultiple":
            return all(self.bulk_message_available(m, logical_name) for m in BULK_FILTER_MESSAGES)
        key = (self.environment_url, message, logical_name)
        now = time.monotonic()
        with self._definitions_lock:
            cached = self._bulk_messages.get(key)
        if cached is not None and now - cached[1] < BULK_MESSAGE_TTL:
            return cached[0]
        shared = metadata_get(self.environment_url, f"bulk:{message}:{logical_name}")
        if shared is not None:  # another process asked already (connections/clients/metadata_cache.py)
            available = bool(shared)
        else:
            try:
                payload = self._json(self._request("GET", "sdkmessagefilters", params={
                    "$select": "sdkmessagefilterid",
                    "$filter": f"sdkmessageid/name eq {_literal(message)} and "
                               f"primaryobjecttypecode eq {_literal(logical_name)}"}))
                available = bool(payload.get("value"))
            except PermanentError:
                available = False
            metadata_put(self.environment_url, f"bulk:{message}:{logical_name}", available, ttl=BULK_MESSAGE_TTL)
        with self._definitions_lock:
            self._bulk_messages[key] = (available, now)
        return available

    @classmethod
    def forget_bulk_messages(cls, environment_url: str | None = None) -> None:
        """Drop the remembered answers of :meth:`bulk_message_available` (of one environment, or all), in this
        process and in the shared metadata cache."""
        with cls._definitions_lock:
            for key in [k for k in cls._bulk_messages if environment_url in (None, k[0])]:
                del cls._bulk_messages[key]
        metadata_forget(environment_url, "bulk:")

    @classmethod
    def forget_metadata(cls, environment_url: str) -> None:
        """Drop everything remembered of the environment's metadata (table definitions, bulk operation messages), in
        this process and in the shared cache: after an import changed the environment's tables."""
        environment_url = environment_url.rstrip("/")
        with cls._definitions_lock:
            for key in [k for k in cls._definitions if k[0] == environment_url]:
                del cls._definitions[key]
        cls.forget_bulk_messages(environment_url)
        metadata_forget(environment_url)

    def execute(self, action_or_function: str, payload: dict[str, Any] | None = None, *,
                idempotent: bool | None = None, timeout: float | None = None) -> dict[str, Any]:
        """Call an unbound function (``payload`` None → GET, e.g. ``"RetrieveVersion()"``) or action (POST with
        ``payload``, e.g. ``"ImportSolution"``) (Microsoft Learn: "Use Web API functions", "Use Web API actions");
        returns the JSON answer, ``{}`` for 204."""
        if payload is None:
            return self._json(self._request("GET", action_or_function, timeout=timeout))
        return self._json(self._request("POST", action_or_function, body=payload, idempotent=idempotent,
                                        timeout=timeout))

    def import_solution(self, customization_file: bytes, *, overwrite_unmanaged: bool = True,
                        publish_workflows: bool = True, timeout: float = 600.0) -> None:
        """``POST ImportSolution`` (Microsoft Learn: "ImportSolution Action") with the solution zip (base64), waiting
        up to ``timeout`` seconds. Importing the same solution again is harmless, so the call is repeated on
        transient failures."""
        self.execute("ImportSolution", {
            "CustomizationFile": base64.b64encode(customization_file).decode(),
            "OverwriteUnmanagedCustomizations": overwrite_unmanaged, "PublishWorkflows": publish_workflows,
            "ImportJobId": str(uuid.uuid4())}, idempotent=True, timeout=timeout)

    # -- reading ----------------------------------------------------------------------------------------------
    def iter_rows(self, entity_set: str, *, select: list[str] | None = None, filter: str | None = None,  # noqa: A002
                  orderby: str | None = None, page_size: int = MAX_PAGE_SIZE, expand: str | None = None,
                  top: int | None = None, annotations: str | None = None) -> Iterator[dict[str, Any]]:
        """Yield the rows of ``entity_set`` page by page (``Prefer: odata.maxpagesize``, following
        ``@odata.nextLink`` verbatim; Microsoft Learn: "Page results using OData"); memory holds one page at a
        time. ``page_size`` ≤ 5000.

        ``top`` asks for at most that many rows in one request (Dataverse ignores ``$top`` next to
        ``odata.maxpagesize``, same page, so the page size is then not sent); ``annotations`` adds
        ``odata.include-annotations="<annotations>"`` (Microsoft Learn: "Compose HTTP requests and handle errors",
        e.g. ``"Microsoft.Dynamics.CRM.lookuplogicalname"``).
        """
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE} (Dataverse's maximum page size).")
        params: dict[str, Any] = {}
        if select:
            params["$select"] = ",".join(select)
        if filter:
            params["$filter"] = filter
        if orderby:
            params["$orderby"] = orderby
        if expand:
            params["$expand"] = expand
        preferences = []
        if top is not None:
            params["$top"] = str(top)
        else:
            preferences.append(f"odata.maxpagesize={page_size}")
        if annotations:
            preferences.append(f'odata.include-annotations="{annotations}"')
        headers = {"Prefer": ",".join(preferences)} if preferences else {}
        url: str | None = entity_set
        while url:
            payload = self._json(self._request("GET", url, params=params, headers=headers))
            yield from payload.get("value", [])
            url = payload.get("@odata.nextLink") if top is None else None
            params = {}

    def count(self, entity_set: str, *, filter: str | None = None) -> int:  # noqa: A002
        """The number of rows matching ``filter``. Dataverse caps ``@odata.count`` at 5000 (Microsoft Learn: "Count rows
        using OData"), so beyond that the rows' ids are paged through and counted (5000 per request)."""
        params: dict[str, Any] = {"$count": "true"}
        definition = self._definition_for_set(entity_set)
        if definition and definition.primary_id:
            params["$select"] = definition.primary_id
        if filter:
            params["$filter"] = filter
        headers = {"Prefer": f"odata.maxpagesize={MAX_PAGE_SIZE}"}
        payload = self._json(self._request("GET", entity_set, params=params, headers=headers))
        if not payload.get("@odata.nextLink") and "@odata.count" in payload and payload["@odata.count"] < 5000:
            return int(payload["@odata.count"])
        total = len(payload.get("value", []))
        url = payload.get("@odata.nextLink")
        while url:
            payload = self._json(self._request("GET", url, headers=headers))
            total += len(payload.get("value", []))
            url = payload.get("@odata.nextLink")
        return total

    def retrieve(self, entity_set: str, id: uuid.UUID | str, *, select: list[str] | None = None,  # noqa: A002
                 expand: str | None = None) -> dict[str, Any]:
        """``GET <set>(<id>)`` (Microsoft Learn: "Retrieve a table row using the Web API") → the row with
        ``@odata.etag``. Raises NotFoundError when it does not exist."""
        params: dict[str, Any] = {}
        if select:
            params["$select"] = ",".join(select)
        if expand:
            params["$expand"] = expand
        return self._json(self._request("GET", f"{entity_set}({self._key(id)})", params=params))

    def changes(self, entity_set: str, *, select: list[str],
                delta_link: str | None) -> tuple[list[dict[str, Any]], list[uuid.UUID], str]:
        """Change tracking (Microsoft Learn: "Use change tracking to synchronize data with external systems"): with
        ``delta_link`` None, every row plus a first delta link
        (``Prefer: odata.track-changes``); else the rows new or changed since that link, the ids of deleted rows,
        and the next delta link. Pages of more than 5000 changes are followed. Raises PermanentError
        (``0x80072491``) when the table does not track changes, or when the token has expired (then run a full
        synchronization)."""
        url: str | None
        params: dict[str, Any] | None
        if delta_link:  # the link carries the query; no track-changes preference needed
            url, params = delta_link, None
            headers = {"Prefer": f"odata.maxpagesize={MAX_PAGE_SIZE}"}
        else:
            url, params = entity_set, {"$select": ",".join(select)}
            headers = {"Prefer": f"odata.track-changes,odata.maxpagesize={MAX_PAGE_SIZE}"}
        rows: list[dict[str, Any]] = []
        deleted: list[uuid.UUID] = []
        next_delta = ""
        while url:
            payload = self._json(self._request("GET", url, params=params, headers=headers))
            params = None
            for row in payload.get("value", []):
                if "$deletedEntity" in str(row.get("@odata.context", "")) or row.get("reason") == "deleted":
                    deleted.append(uuid.UUID(str(row["id"])))
                else:
                    rows.append(row)
            next_delta = payload.get("@odata.deltaLink") or next_delta
            url = payload.get("@odata.nextLink")
        if not next_delta:
            raise PermanentError(f"Dataverse returned no delta link for {entity_set}.", service=SERVICE,
                                 fix="Check that change tracking is enabled for the table.")
        return rows, deleted, next_delta

    # -- writing ----------------------------------------------------------------------------------------------
    def create(self, entity_set: str, data: dict[str, Any], *, return_representation: bool = False,
               idempotent: bool | None = None) -> uuid.UUID | dict[str, Any]:
        """``POST <set>`` (Microsoft Learn: "Create a table row using the Web API") → the new row's id (from
        ``OData-EntityId``), or the row itself with ``return_representation``.

        Repeated after a lost answer only when ``idempotent`` is True or, by default, when ``data`` carries the
        table's primary id (then a repeat cannot make a second row). When such a repeat is refused with a duplicate
        key, the lost attempt made the row: the id (or the row) is returned as for a normal create. Raises
        DuplicateKeyError when the id or an alternate key existed already, MissingReferenceError when a lookup
        names a missing row, TransientError with ``outcome_unknown`` when a create without its own id may or may
        not have landed."""
        own_id = None
        if idempotent is not False:
            definition = self._definition_for_set(entity_set)
            own_id = data.get(definition.primary_id) if definition and definition.primary_id else None
        if idempotent is None:
            idempotent = bool(own_id)
        headers = {"Prefer": "return=representation"} if return_representation else {}
        try:
            response = self._request("POST", entity_set, body=data, headers=headers, idempotent=idempotent)
        except DuplicateKeyError as exc:
            if own_id and exc.after_unknown_outcome and not return_representation:
                return uuid.UUID(str(own_id))  # the attempt whose answer was lost created the row
            if own_id and exc.after_unknown_outcome:
                return self.retrieve(entity_set, own_id)
            raise
        if return_representation:
            return self._json(response)
        entity_id = _id_from_entity_url(response.headers.get("OData-EntityId", ""))
        if entity_id is None:
            raise PermanentError(f"Dataverse created a row in {entity_set} without saying its id.", service=SERVICE,
                                 status=response.status_code)
        return entity_id

    def update(self, entity_set: str, id: uuid.UUID | str, data: dict[str, Any], *,  # noqa: A002
               if_match: str | None = None) -> None:
        """``PATCH <set>(<id>)`` (Microsoft Learn: "Update and delete table rows using the Web API") with
        ``If-Match: <etag>`` (optimistic concurrency; Microsoft Learn: "Perform conditional operations using the Web
        API") or ``If-Match: *`` (update only, never create). Raises NotFoundError when the row is gone,
        PreconditionFailedError when the etag is stale."""
        self._request("PATCH", f"{entity_set}({self._key(id)})", body=data, headers={"If-Match": if_match or "*"})

    def upsert(self, entity_set: str, id: uuid.UUID | str, data: dict[str, Any], *,  # noqa: A002
               if_match: str | None = None, if_none_match: str | None = None) -> None:
        """``PATCH <set>(<id>)`` creating or updating the row (Microsoft Learn: "Use Upsert to create or update a
        record"). ``if_none_match="*"`` makes it create-only
        (DuplicateKeyError when present), ``if_match`` update-only / optimistic."""
        headers = {}
        if if_match:
            headers["If-Match"] = if_match
        if if_none_match:
            headers["If-None-Match"] = if_none_match
        self._request("PATCH", f"{entity_set}({self._key(id)})", body=data, headers=headers)

    def delete(self, entity_set: str, id: uuid.UUID | str, *, if_match: str | None = None) -> None:  # noqa: A002
        """``DELETE <set>(<id>)`` (Microsoft Learn: "Update and delete table rows using the Web API"). Raises
        NotFoundError when the row does not exist (except when a repeated
        attempt finds it gone after a first attempt whose answer was lost)."""
        headers = {"If-Match": if_match} if if_match else {}
        self._request("DELETE", f"{entity_set}({self._key(id)})", headers=headers)

    def _bulk(self, message: str, logical_name: str, rows: list[dict[str, Any]], *, idempotent: bool) -> Any:
        definition = self.table_definition(logical_name)
        targets = [{**row, "@odata.type": f"Microsoft.Dynamics.CRM.{logical_name}"} for row in rows]
        return self._request("POST", f"{definition.entity_set}/Microsoft.Dynamics.CRM.{message}",
                             body={"Targets": targets}, idempotent=idempotent)

    def create_multiple(self, logical_name: str, rows: list[dict[str, Any]]) -> list[uuid.UUID]:
        """``CreateMultiple`` (Microsoft Learn: "Use bulk operation messages"): all rows or none (standard tables);
        returns the ids in input order. Repeated after a lost answer only when every row carries its primary id.
        On a table without the message: POSTs in change sets (:meth:`write_in_changesets`; each change set all or
        none), raising the first change set's error."""
        if not rows:
            return []
        if not self.bulk_message_available("CreateMultiple", logical_name):
            results = self._raise_first(self.write_in_changesets("CreateMultiple", logical_name, rows))
            ids = [answer.entity_id for result in results for answer in result.responses]
            if None in ids or len(ids) != len(rows):
                raise PermanentError(f"Dataverse created rows in {logical_name} without saying their ids.",
                                     service=SERVICE)
            return [i for i in ids if i is not None]
        primary_id = self.table_definition(logical_name).primary_id
        idempotent = bool(primary_id) and all(row.get(primary_id) for row in rows)
        try:
            response = self._bulk("CreateMultiple", logical_name, rows, idempotent=idempotent)
        except DuplicateKeyError as exc:
            if idempotent and exc.after_unknown_outcome:
                # All or nothing (standard tables): the attempt whose answer was lost created every row.
                return [uuid.UUID(str(row[primary_id])) for row in rows]
            raise
        return [uuid.UUID(str(i)) for i in self._json(response).get("Ids", [])]

    def update_multiple(self, logical_name: str, rows: list[dict[str, Any]]) -> None:
        """``UpdateMultiple`` (Microsoft Learn: "Use bulk operation messages"): each row includes its primary id and
        the changed columns; all or none. On a table without the message: PATCHes with ``If-Match: *`` in change
        sets (:meth:`write_in_changesets`), raising the first change set's error."""
        if not rows:
            return
        if self.bulk_message_available("UpdateMultiple", logical_name):
            self._bulk("UpdateMultiple", logical_name, rows, idempotent=True)
        else:
            self._raise_first(self.write_in_changesets("UpdateMultiple", logical_name, rows))

    def upsert_multiple(self, logical_name: str, rows: list[dict[str, Any]]) -> None:
        """``UpsertMultiple`` (Microsoft Learn: "Use bulk operation messages"): rows identified by primary id (or
        ``@odata.id`` alternate key); all or none. On a table without the message: upserting PATCHes in change sets
        (:meth:`write_in_changesets`), raising the first change set's error."""
        if not rows:
            return
        if self.bulk_message_available("UpsertMultiple", logical_name):
            self._bulk("UpsertMultiple", logical_name, rows, idempotent=True)
        else:
            self._raise_first(self.write_in_changesets("UpsertMultiple", logical_name, rows))

    @staticmethod
    def _raise_first(results: list[ChangeSetResult]) -> list[ChangeSetResult]:
        failed = next((result.error for result in results if result.error is not None), None)
        if failed is not None:
            raise failed
        return results

    def write_in_changesets(self, message: str, logical_name: str, rows: list[dict[str, Any]], *,
                            size: int | None = None) -> list[ChangeSetResult]:
        """Write the rows of a bulk operation message one request each, in ``$batch`` change sets of at most
        ``size`` requests (default :data:`CHANGESET_SIZE`), for a table that lacks the message
        (:meth:`bulk_message_available`). Microsoft Learn: "Execute batch operations using the Web API": a change set
        is one transaction, all or nothing, as the message is on a standard table; at most 1,000 requests per batch.

        UpsertMultiple → ``PATCH <set>(<id>)`` (create or update; Microsoft Learn: "Use Upsert to create or update a
        record"), UpdateMultiple → the same with ``If-Match: *`` (update only), CreateMultiple → ``POST <set>``; a
        row names its row by primary id or ``@odata.id`` (alternate key). The change sets go in as few ``$batch``
        requests as the 1,000 limit allows, with ``Prefer: odata.continue-on-error`` so that one failing change set
        does not stop the others. Returns one result per change set, in order; a ``$batch`` that fails as a whole
        gives its error to each of its change sets. Creates are never repeated after a lost answer."""
        if message not in (*BULK_FILTER_MESSAGES, "UpsertMultiple"):
            raise ValueError(f"{message} is not a bulk operation message this client writes.")
        definition = self.table_definition(logical_name)
        requests = [self._row_request(message, definition, row) for row in rows]
        size = max(1, min(size or CHANGESET_SIZE, MAX_BATCH))
        groups = [list(range(start, min(start + size, len(requests)))) for start in range(0, len(requests), size)]
        per_batch = max(1, MAX_BATCH // size)
        results: list[ChangeSetResult] = []
        for first in range(0, len(groups), per_batch):
            batch_groups = groups[first:first + per_batch]
            results.extend(self._send_changesets([[requests[i] for i in group] for group in batch_groups],
                                                 [group[0] for group in batch_groups],
                                                 idempotent=message != "CreateMultiple"))
        return results

    @staticmethod
    def _row_request(message: str, definition: TableDefinition, row: dict[str, Any]) -> BatchRequest:
        data = {k: v for k, v in row.items() if k != "@odata.type"}
        if message == "CreateMultiple":
            data.pop("@odata.id", None)
            return BatchRequest("POST", definition.entity_set, data)
        key = data.pop(definition.primary_id, None)
        reference = data.pop("@odata.id", None)
        if key:
            url = f"{definition.entity_set}({key})"
        elif reference:
            url = str(reference).lstrip("/")
        else:
            raise ValueError(f"A {message} row needs its primary id ({definition.primary_id}) or an '@odata.id'.")
        return BatchRequest("PATCH", url, data, {"If-Match": "*"} if message == "UpdateMultiple" else {})

    def _send_changesets(self, groups: list[list[BatchRequest]], starts: list[int], *,
                         idempotent: bool) -> list[ChangeSetResult]:
        """One ``$batch`` of ``groups`` as change sets (Content-IDs unique in the batch); see
        :meth:`write_in_changesets`."""
        results = [ChangeSetResult(start, start + len(group)) for start, group in zip(starts, groups, strict=True)]
        boundary = f"batch_{uuid.uuid4()}"
        parts: list[multipart.RequestPart | multipart.ChangeSet] = []
        number = 0
        for group in groups:
            changeset = []
            for request in group:
                number += 1
                changeset.append(self._request_part(request, str(number)))
            parts.append(multipart.ChangeSet(f"changeset_{uuid.uuid4()}", changeset))
        headers = {"Content-Type": f"multipart/mixed; boundary={boundary}", "Accept": "application/json",
                   "OData-MaxVersion": "4.0", "OData-Version": "4.0", "Prefer": "odata.continue-on-error"}
        try:
            response = self.transport.request("POST", self.api_url + "$batch", headers=headers,
                                              data=multipart.encode_requests(boundary, parts), idempotent=idempotent)
            answers = parse_multipart_response(response.content, response.headers.get("Content-Type", ""))
        except ClientError as error:
            for result in results:
                result.error = error
            return results
        position = 0
        for result, group in zip(results, groups, strict=True):
            if position >= len(answers):
                result.error = TransientError("Dataverse did not answer this change set of the $batch.",
                                              service=SERVICE, fix="It is written again on the next run.")
                continue
            if answers[position].status >= 400:  # a failed change set answers only its failing request
                failed = answers[position]
                code, text = error_body(failed.body)
                result.error = error_for_status(service=SERVICE, status=failed.status, code=code, message=text,
                                                method=group[0].method, url=" ".join(r.url for r in group))
                failed.error = result.error
                result.responses = [failed]
                position += 1
                continue
            result.responses = answers[position:position + len(group)]
            position += len(group)
        return results

    def associate(self, entity_set: str, id: uuid.UUID | str, navigation_property: str,  # noqa: A002
                  target_entity_set: str, target_id: uuid.UUID | str) -> None:
        """``POST <set>(<id>)/<collection nav>/$ref`` ``{"@odata.id": …}`` (N:N or 1:N associate; Microsoft
        Learn: "Associate and disassociate table rows using the Web API")."""
        self._request("POST", f"{entity_set}({self._key(id)})/{navigation_property}/$ref",
                      body={"@odata.id": f"{self.api_url}{target_entity_set}({self._key(target_id)})"}, idempotent=True)

    def disassociate(self, entity_set: str, id: uuid.UUID | str, navigation_property: str,  # noqa: A002
                     target_id: uuid.UUID | str | None = None) -> None:
        """``DELETE <set>(<id>)/<nav>(<target>)/$ref`` for a collection, or ``DELETE <set>(<id>)/<nav>/$ref`` to
        clear a lookup (``target_id`` None) (Microsoft Learn: "Associate and disassociate table rows using the Web
        API")."""
        target = f"({self._key(target_id)})" if target_id else ""
        self._request("DELETE", f"{entity_set}({self._key(id)})/{navigation_property}{target}/$ref")

    # -- $batch -----------------------------------------------------------------------------------------------
    def batch(self, requests: list[BatchRequest], *, atomic: bool = True,
              idempotent: bool | None = None) -> list[BatchResponse]:
        """Send ``requests`` in order in one ``$batch`` (Microsoft Learn: "Execute batch operations using the Web
        API").

        ``atomic=True`` puts them in one change set (all or nothing, ≤ 1000): when one fails nothing is written and
        its error is raised (with ``batch_responses`` and the failing ``content_id`` attached). ``atomic=False``
        sends them with ``Prefer: odata.continue-on-error`` (split into batches of 1000) and returns one response per
        request, each with its own ``error``. The batch is repeated after a lost answer only when ``idempotent``
        (default: no request is a POST).
        """
        if not requests:
            return []
        if atomic and len(requests) > MAX_BATCH:
            raise ValueError(f"An atomic $batch holds at most {MAX_BATCH} requests; got {len(requests)}.")
        if idempotent is None:
            idempotent = all(r.method.upper() != "POST" for r in requests)
        if not atomic and len(requests) > MAX_BATCH:
            results: list[BatchResponse] = []
            for start in range(0, len(requests), MAX_BATCH):
                results.extend(self.batch(requests[start:start + MAX_BATCH], atomic=False, idempotent=idempotent))
            return results
        boundary = f"batch_{uuid.uuid4()}"
        body = self._batch_body(requests, boundary, atomic=atomic)
        headers = {"Content-Type": f"multipart/mixed; boundary={boundary}",
                   "Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
        if not atomic:
            headers["Prefer"] = "odata.continue-on-error"
        response = self.transport.request("POST", self.api_url + "$batch", headers=headers, data=body,
                                          idempotent=idempotent)
        content_type = response.headers.get("Content-Type", "")
        responses = parse_multipart_response(response.content, content_type)
        all_urls = " ".join(r.url for r in requests)
        for index, item in enumerate(responses):
            if item.status >= 400:
                code, message = error_body(item.body)
                # Without continue-on-error a failed change set answers only its failing part: then judge a missing
                # row against every URL of the change set.
                known = not atomic and index < len(requests)
                item.error = error_for_status(service=SERVICE, status=item.status, code=code, message=message,
                                              method=requests[index].method if known else "POST",
                                              url=requests[index].url if known else all_urls)
        if atomic:
            failed = next((item for item in responses if item.error), None)
            if failed is not None and failed.error is not None:
                failed.error.batch_responses = responses  # type: ignore[attr-defined]
                failed.error.content_id = failed.content_id  # type: ignore[attr-defined]
                raise failed.error
        return responses

    def _batch_body(self, requests: list[BatchRequest], boundary: str, *, atomic: bool) -> bytes:
        """The multipart body of ``requests`` (one change set when ``atomic``; Content-IDs ``1..n`` unless set)."""
        parts = [self._request_part(request, str(request.content_id or index) if atomic else None)
                 for index, request in enumerate(requests, start=1)]
        if atomic:
            return multipart.encode_requests(boundary, [multipart.ChangeSet(f"changeset_{uuid.uuid4()}", parts)])
        return multipart.encode_requests(boundary, parts)

    def _request_part(self, request: BatchRequest, content_id: str | None) -> multipart.RequestPart:
        """One operation of a ``$batch`` body: the URL made absolute-path (a ``$n`` reference stays), JSON body."""
        root_path = "/" + self.api_url.split("/", 3)[3]
        url = request.url if request.url.startswith(("$", "http")) else root_path + request.url.lstrip("/")
        headers = dict(request.headers)
        if request.body is not None:
            headers.setdefault("Content-Type", "application/json; type=entry")
        body = json.dumps(request.body, default=str).encode() if request.body is not None else b""
        return multipart.RequestPart(request.method, url, headers, body, content_id)


def parse_multipart_response(content: bytes, content_type: str) -> list[BatchResponse]:
    """Parse a ``multipart/mixed`` ``$batch`` answer, change sets included, into BatchResponses in order (JSON bodies
    decoded, other bodies as text). Raises PermanentError when the answer is not multipart."""
    boundary = multipart.boundary_of(content_type)
    if not boundary or "multipart" not in content_type.lower():
        raise PermanentError("The $batch answer is not multipart.", service=SERVICE)
    results: list[BatchResponse] = []
    for answer in multipart.read_responses(content, boundary):
        body: Any = None
        if answer.body:
            try:
                body = json.loads(answer.body)
            except ValueError:
                body = answer.body.decode("utf-8", "replace")
        results.append(BatchResponse(status=answer.status, headers=answer.headers, body=body,
                                     content_id=answer.content_id))
    return results
