"""The URLs of the Business Central emulator (werkzeug URL maps) and the request entry point.

Paths after ``{origin}/v2.0/{tenant}/{environment}/`` (Microsoft Learn "Business Central API (v2.0)", "Tips for
working with APIs"): :data:`API_ROOTS` picks the API - ``api/v2.0`` or the companion
extension's ``api/bcportal/integration/v1.0`` ("Developing a custom API") - and :data:`RESOURCES` the resource below
it: ``companies``, ``companies/$count``, ``companies(<id>)``, and the entity sets either under ``companies(<id>)/`` or
with the company given by ``?company=<id or name>`` (or a ``company`` header in a batch): ``<set>``, ``<set>/$count``,
``<set>(<id>)``, ``<document>(<id>)/<lines>[(<id>)|/$count]``, ``<set>(<id>)/<navigation property>`` and
``<set>(<id>)/Microsoft.NAV.<action>``. Every ``/$count`` answers the number of the collection's rows that match
``$filter`` as ``text/plain`` (OData Version 4.01 Part 2 "URL Conventions", "Addressing the Count of a Collection").
A path no rule matches answers 404 ``BadRequest_ResourceNotFound`` naming the first segment that addresses nothing
(after the company, entity set and record before it were checked).
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

from werkzeug.routing import BaseConverter, Rule, Submount

from ..httpcore import Request, Response, json_response
from ..odata import GUID_RE, ODataError, parse_key
from ..urls import Router
from .apis import csdl, entity_for, routable, service_sets
from .core import BusinessCentralBase
from .query import DERIVED_SETS
from .schema import ENTITIES, NAV_SINGLE, READ_ONLY_SETS, Entity
from .state import BCError, etag


class ApiRootConverter(BaseConverter):
    """``v2.0`` (standard API) or ``bcportal/integration/v1.0`` (the companion extension's custom API)."""

    regex = r"v2\.0|bcportal/integration/v1\.0"
    part_isolating = False

    def to_python(self, value: str) -> str:
        return "v2.0" if value == "v2.0" else "custom"


#: The API root: ``api/<root>`` and what follows it (``rest`` in :func:`emulators.urls.route_path` form).
API_ROOTS = Router([
    Rule("/api/<api_root:api>", endpoint="api", defaults={"rest": ""}),
    Rule("/api/<api_root:api>/<path:rest>", endpoint="api"),
], {"api_root": ApiRootConverter})

_SET_RULES = [
    Rule("/<name:entity_set>", endpoint="collection"),
    Rule("/<name:entity_set>/$count", endpoint="count"),
    Rule("/<name:entity_set><key:key>", endpoint="record"),
    Rule("/<name:entity_set><key:key>/Microsoft.NAV.<name:action>", endpoint="action"),
    Rule("/<name:entity_set><key:key>/<name:related>", endpoint="related"),
    Rule("/<name:entity_set><key:key>/<name:related>/$count", endpoint="lines_count"),
    Rule("/<name:entity_set><key:key>/<name:related><key:line>", endpoint="line"),
]

#: Resources below an API root; endpoint ``x`` is answered by ``RoutingMixin._on_x``.
RESOURCES = Router([
    Rule("/", endpoint="service_document"),
    Rule("/$metadata", endpoint="metadata"),
    Rule("/$batch", endpoint="batch"),
    Rule("/companies", endpoint="companies"),
    Rule("/companies/$count", endpoint="companies_count"),
    Rule("/companies/<path:rest>", endpoint="companies"),
    Rule("/companies<key:company>", endpoint="company"),
    Submount("/companies<key:company>", _SET_RULES),
    *_SET_RULES,
])
_SET_ENDPOINTS = ("collection", "count", "record", "action", "related", "lines_count", "line")


@dataclass
class _Operation:
    """One operation as the endpoint handlers see it (``rest``: segments below the API root)."""

    method: str
    rest: list[str]
    query: dict[str, str]
    headers: Any
    body: bytes
    api: str
    base: str


def _not_allowed() -> BCError:
    return BCError(405, "BadRequest_MethodNotAllowed", "The requested method is not allowed.")


def _not_found(segment: str) -> BCError:
    return BCError(404, "BadRequest_ResourceNotFound", f"Resource not found for the segment '{segment}'.")


class RoutingMixin(BusinessCentralBase):
    """``handle`` (one HTTP request) and ``execute`` (one operation, also each ``$batch`` request)."""

    def handle(self, req: Request, segs: list[str], principal: Any) -> Response:
        """``segs`` = path segments after ``/v2.0/{tenant}/{environment}/``."""
        try:
            with self.lock:
                return self._route(req, segs, principal)
        except BCError as e:
            return self.err(e)

    def _route(self, req: Request, segs: list[str], principal: Any) -> Response:
        root = API_ROOTS.match(segs)
        if root is None:
            raise BCError(404, "BadRequest_NotFound", "No HTTP resource was found that matches the request URI.")
        _, values = root
        api = values["api"]
        if api == "custom" and not self.extension_installed:
            # a tenant without the companion extension has no API pages of that publisher, group and version
            raise BCError(404, "BadRequest_NotFound", "No HTTP resource was found that matches the request URI.")
        rest = [urllib.parse.unquote(s) for s in values["rest"].split("/") if s]
        if rest == ["$batch"]:
            if req.method != "POST":
                raise _not_allowed()
            return self.batch(req, api, principal)
        query = dict(req.query)
        if req.headers.get("prefer"):
            query["__prefer__"] = req.headers.get("prefer") or ""
        return self.execute(req.method, rest, query, req.headers, req.body, api, self.base_url(self.state.environment,
                                                                                                  api))

    def execute(self, method: str, rest: list[str], query: dict[str, str], headers: Any, body: bytes, api: str,
                base: str) -> Response:
        """Answer ``method`` on the resource ``rest`` (segments below the API root)."""
        op = _Operation(method, rest, query, headers, body, api, base)
        self._record_request(op)
        try:
            route = RESOURCES.match(rest)
            if route is None:
                raise self._unrouted(op)
            endpoint, values = route
            return getattr(self, "_on_" + endpoint)(op, **values)
        except ODataError as e:
            raise BCError(400, "BadRequest_InvalidRequestUrl", str(e)) from None

    # ------------------------------------------------------------------ helpers
    def _record_request(self, op: _Operation) -> None:
        """Keep what the operation asked for (see ``requests``): method, API, path, ``$select`` and the body's keys."""
        try:
            keys = sorted(json.loads(op.body)) if op.body else []
        except (ValueError, TypeError):
            keys = []
        self.requests.append({"method": op.method, "api": op.api, "path": "/".join(op.rest),
                              "select": op.query.get("$select"), "body": [k for k in keys if isinstance(k, str)]})

    def _company(self, op: _Operation, company: str | None) -> str:
        """The company of a request: ``companies(<id>)`` in the path, else ``?company=<id or name>``."""
        if company is not None:
            key = parse_key(company)
            cid = str(key).lower()
            if cid not in self.state.companies:
                raise BCError(404, "Internal_CompanyNotFound", f"The company with id '{key}' does not exist.")
            return cid
        wanted = op.query.get("company")
        if not wanted:
            raise BCError(400, "Internal_CompanyNotFound", "Cannot process the request because the default company "
                          "cannot be found. You can specify a default company in the service configuration file, or "
                          "specify one for each tenant, or you can add a query string in the form of "
                          "'company=name'.")
        wanted = wanted.strip("'").lower()
        match = [cid for cid, c in self.state.companies.items()
                 if cid == wanted or c["row"]["name"].lower() == wanted]
        if not match:
            raise BCError(404, "Internal_CompanyNotFound", f"The company '{wanted}' does not exist.")
        return match[0]

    def _entity(self, op: _Operation, entity_set: str, company: str | None) -> tuple[str, Entity, str]:
        """(company id, API page, ``@odata.context`` of the set) of an entity set request."""
        company_id = self._company(op, company)
        ent = routable(op.api, entity_set)
        if ent is None:
            raise _not_found(entity_set)
        return company_id, ent, f"{op.base}$metadata#companies({company_id})/{entity_set}"

    def _record(self, op: _Operation, entity_set: str, key: str, company: str | None
                ) -> tuple[str, Entity, str, dict[str, dict[str, Any]], str]:
        """(company id, page, record id, the rows of its set, context) of a record request; 404 when it is absent."""
        company_id, ent, ctx = self._entity(op, entity_set, company)
        rid = self._key(parse_key(key))
        rows = self.table(company_id, entity_set) if entity_set not in DERIVED_SETS else {
            r["id"]: r for r in self._rows(company_id, ent)}
        if rid not in rows:
            raise BCError(404, "Internal_RecordNotFound", f"The {ent.entity_type} does not exist. Identification "
                          f"fields and values: Id='{rid}'")
        return company_id, ent, rid, rows, ctx

    def _unrouted(self, op: _Operation) -> BCError:
        """The error of a path no rule matches: check the longest routed prefix, then 404 the next segment."""
        for n in range(len(op.rest) - 1, 0, -1):
            route = RESOURCES.match(op.rest[:n])
            if route is None:
                continue
            endpoint, values = route
            company = values.get("company")
            if endpoint == "company":
                self._company(op, company)
            elif endpoint in _SET_ENDPOINTS:
                if "key" in values:
                    self._record(op, values["entity_set"], values["key"], company)
                else:
                    self._entity(op, values["entity_set"], company)
            return _not_found(op.rest[n])
        return _not_found(op.rest[0])

    def _key(self, key: Any) -> str:
        if isinstance(key, dict) and "id" in key:
            key = key["id"]
        if not isinstance(key, str) or not GUID_RE.match(key):
            raise BCError(400, "BadRequest_InvalidRequestUrl", f"The key '{key}' is not a valid GUID.")
        return key.lower()

    def _check_if_match(self, row: dict[str, Any], headers: Any) -> None:
        im = headers.get("if-match") if headers is not None else None
        if not im:
            raise BCError(400, "BadRequest_InvalidToken", "Could not validate the client concurrency token required "
                          "by the service. Please provide a valid token in the client request.")
        if im.strip() == "*":
            return
        if im.strip() != etag(row["@v"]):
            raise BCError(409, "Request_EntityChanged", "Another user has already changed the record.")

    # ------------------------------------------------------------------ endpoints
    def _on_service_document(self, op: _Operation) -> Response:
        return json_response(200, {"@odata.context": op.base + "$metadata", "value": [
            {"name": e.name, "kind": "EntitySet", "url": e.name} for e in service_sets(op.api)]})

    def _on_metadata(self, op: _Operation) -> Response:
        return Response(200, csdl(op.api).encode(), [("Content-Type", "application/xml")])

    def _on_batch(self, op: _Operation) -> Response:
        raise _not_found("$batch")  # a batch inside a batch; the top-level $batch is answered by _route

    def _on_companies(self, op: _Operation, rest: str | None = None) -> Response:
        if rest is not None or op.method != "GET":
            raise _not_allowed()
        rows = [c["row"] for c in self.state.companies.values()]
        return self._list(ENTITIES["companies"], rows, op.query, op.base + "$metadata#companies", op.base, None)

    def _on_companies_count(self, op: _Operation) -> Response:
        if op.method != "GET":
            raise _not_allowed()
        return self._count(ENTITIES["companies"], [c["row"] for c in self.state.companies.values()], op.query)

    def _on_company(self, op: _Operation, company: str) -> Response:
        company_id = self._company(op, company)
        if op.method != "GET":
            raise _not_allowed()
        return self._single(ENTITIES["companies"], self.state.companies[company_id]["row"], op.query,
                            op.base + "$metadata#companies/$entity", None)

    def _on_collection(self, op: _Operation, entity_set: str, company: str | None = None) -> Response:
        company_id, ent, ctx = self._entity(op, entity_set, company)
        if op.method == "GET":
            return self._list(ent, self._rows(company_id, ent), op.query, ctx, op.base, company_id)
        if entity_set in READ_ONLY_SETS or not ent.insertable or op.method != "POST":
            raise _not_allowed()
        row = self.create(company_id, ent, self._json(op.body), None)
        return self._single(ent, row, op.query, ctx + "/$entity", company_id, status=201)

    def _on_count(self, op: _Operation, entity_set: str, company: str | None = None) -> Response:
        company_id, ent, _ = self._entity(op, entity_set, company)
        if op.method != "GET":
            raise _not_found("$count")
        return self._count(ent, self._rows(company_id, ent), op.query)

    def _on_record(self, op: _Operation, entity_set: str, key: str, company: str | None = None) -> Response:
        company_id, ent, rid, rows, ctx = self._record(op, entity_set, key, company)
        if op.method == "GET":
            return self._single(ent, rows[rid], op.query, ctx + "/$entity", company_id)
        if op.method == "PATCH":
            if entity_set == "contactsInformation" or not ent.modifiable:
                raise _not_allowed()
            self._check_if_match(rows[rid], op.headers)
            row = self.update(company_id, ent, rid, self._json(op.body))
            return self._single(ent, row, op.query, ctx + "/$entity", company_id)
        if op.method == "DELETE":
            if entity_set in READ_ONLY_SETS or not ent.deletable:
                raise _not_allowed()
            self._check_if_match(rows[rid], op.headers)
            self.delete(company_id, ent, rid)
            return Response(204)
        raise _not_allowed()

    def _on_action(self, op: _Operation, entity_set: str, key: str, action: str, company: str | None = None
                   ) -> Response:
        company_id, ent, rid, _rows, _ctx = self._record(op, entity_set, key, company)
        if op.method != "POST":
            raise _not_allowed()
        return self.bound_action(company_id, ent, rid, action)

    def _lines(self, op: _Operation, entity_set: str, key: str, related: str, company: str | None,
               segment: str | None = None) -> tuple[str, str, Entity, str]:
        """(company id, document id, lines page, context) of ``<document>(<id>)/<lines>``; 404 (naming ``segment``,
        by default ``related``) when ``related`` is not the document's lines."""
        company_id, ent, rid, _rows, _ctx = self._record(op, entity_set, key, company)
        if related not in ent.parts:
            raise _not_found(segment or related)
        ctx = f"{op.base}$metadata#companies({company_id})/{entity_set}({rid})/{related}"
        return company_id, rid, entity_for(op.api, ent.parts[related]), ctx

    def _on_related(self, op: _Operation, entity_set: str, key: str, related: str, company: str | None = None
                    ) -> Response:
        page = routable(op.api, entity_set)
        if page is not None and related in page.parts:
            company_id, rid, lent, ctx = self._lines(op, entity_set, key, related, company)
            if op.method == "GET":
                lines = [r for r in self.table(company_id, lent.name).values() if r.get("documentId") == rid]
                return self._list(lent, lines, op.query, ctx, op.base, company_id)
            if op.method == "POST":
                row = self.create(company_id, lent, self._json(op.body), rid)
                return self._single(lent, row, op.query, ctx + "/$entity", company_id, status=201)
            raise _not_allowed()
        company_id, _ent, rid, rows, _ctx = self._record(op, entity_set, key, company)
        if related not in NAV_SINGLE or op.method != "GET":
            raise _not_found(related)
        fk, target = NAV_SINGLE[related]
        other = self.table(company_id, target).get(rows[rid].get(fk) or "")
        if other is None:
            return Response(204)
        return self._single(entity_for(op.api, target), other, op.query,
                            f"{op.base}$metadata#companies({company_id})/{target}/$entity", company_id)

    def _on_lines_count(self, op: _Operation, entity_set: str, key: str, related: str, company: str | None = None
                        ) -> Response:
        company_id, rid, lent, _ctx = self._lines(op, entity_set, key, related, company)
        lines = [r for r in self.table(company_id, lent.name).values() if r.get("documentId") == rid]
        if op.method != "GET":
            raise _not_allowed()
        return self._count(lent, lines, op.query)

    def _on_line(self, op: _Operation, entity_set: str, key: str, related: str, line: str,
                 company: str | None = None) -> Response:
        company_id, _rid, lent, _ctx = self._lines(op, entity_set, key, related, company, f"{related}({line})")
        return self.execute(op.method, [f"{lent.name}({line})"], {**op.query, "company": company_id}, op.headers,
                            op.body, op.api, op.base)

