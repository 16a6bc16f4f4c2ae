"""The Web API's URLs in the Dataverse emulator (a werkzeug URL map, :data:`ROUTES`) and the request entry point.

Paths are relative to the Web API root ``{origin}/api/data/v9.2/`` (Microsoft Learn "Use the Microsoft Dataverse Web
API", "Web API URL and versions"); keys follow OData's conventions ("OData Version 4.01. Part 2: URL Conventions",
"Addressing Entities"): ``accounts(<guid>)``, alternate keys ``products(productnumber='A-1')``. A path no rule
matches answers 404 ``0x80060888`` naming the first segment that addresses nothing (after the segments before it were
resolved, so a missing row is still its own 404). Not supported: ``$apply``, ``fetchXml``, ``sql`` (501
``0x80040219``).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

from werkzeug.routing import Rule

from ..httpcore import Headers, Request, Response, json_response
from ..odata import parse_key, parse_segment
from ..urls import NameConverter, Router
from .core import (
    API_PREFIX,
    OPTION_ACTIONS,
    VERSION,
    Ctx,
    DataverseBase,
    DVError,
    Prefer,
    as_dv_error,
    not_found,
    not_supported,
)
from .schema import Table
from .store import Txn


class EntitySetConverter(NameConverter):
    """An entity set name: a name, but not ``EntityDefinitions`` (metadata has rules of its own)."""

    regex = r"(?!EntityDefinitions\b)[^/()]+"
    part_isolating = True


_RELATIONSHIPS = "any(OneToManyRelationships, ManyToOneRelationships, ManyToManyRelationships)"
_DEFINITION = "/EntityDefinitions<key:definition>"
_ROW = "/<entity_set:entity_set><key:key>"

#: The Web API's URL map; endpoint ``x`` is answered by ``RoutingMixin._on_x``.
ROUTES = Router([
    Rule("/", endpoint="service_document"),
    Rule("/$metadata", endpoint="metadata"),
    *(Rule(path, endpoint="who_am_i") for path in ("/WhoAmI", "/WhoAmI()")),
    *(Rule(path, endpoint="retrieve_version") for path in ("/RetrieveVersion", "/RetrieveVersion()")),
    *(Rule(f"/{name}", endpoint="option_action", defaults={"action": name}) for name in OPTION_ACTIONS),
    *(Rule(f"/{name}", endpoint="import_solution", defaults={"action": name})
      for name in ("ImportSolution", "ImportSolutionAsync")),
    Rule("/EntityDefinitions", endpoint="definitions"),
    Rule("/EntityDefinitions/<path:rest>", endpoint="definitions_path"),
    Rule(_DEFINITION, endpoint="definition"),
    Rule(f"{_DEFINITION}/Attributes", endpoint="attributes"),
    Rule(f"{_DEFINITION}/Attributes/<segment:cast>", endpoint="attributes"),
    Rule(f"{_DEFINITION}/Attributes<key:attribute>", endpoint="attributes"),
    Rule(f"{_DEFINITION}/Attributes<key:attribute>/<segment:cast>", endpoint="attributes"),
    Rule(f"{_DEFINITION}/Keys", endpoint="keys"),
    Rule(f"{_DEFINITION}/<{_RELATIONSHIPS}:kind>", endpoint="relationships"),
    Rule("/<entity_set:entity_set>", endpoint="collection"),
    Rule("/<entity_set:entity_set>/$count", endpoint="count"),
    Rule("/<entity_set:entity_set>/Microsoft.Dynamics.CRM.<name:message>", endpoint="bulk"),
    Rule(_ROW, endpoint="row"),
    Rule(f"{_ROW}/<segment:prop>", endpoint="property"),
    Rule(f"{_ROW}/<segment:prop>/$ref", endpoint="ref"),
], {"entity_set": EntitySetConverter})
_TABLE_ENDPOINTS = ("collection", "count", "bulk", "row", "property", "ref")
_DEFINITION_ENDPOINTS = ("definition", "attributes", "keys", "relationships")


@dataclass
class Call:
    """One Web API request as the endpoint handlers see it."""

    method: str
    segs: list[str]
    query: dict[str, str]
    raw_query: str
    headers: Headers
    body: bytes
    ctx: Ctx


class RoutingMixin(DataverseBase):
    """``handle`` (one HTTP request) and ``dispatch`` (one Web API operation, also each ``$batch`` part)."""

    def handle(self, req: Request, principal: Any) -> Response:
        """Answer one Web API request for an authenticated principal."""
        try:
            prefer = Prefer.parse(req.headers.get("prefer"))
            with self.lock:
                caller = self.caller_for(principal)
                real = None
                imp = req.headers.get("callerobjectid") or req.headers.get("mscrmcallerid")
                if imp:
                    real = caller
                    self.check_impersonation(real)  # prvActOnBehalfOfAnotherUser, before the user is looked up
                    caller = self.impersonate(req.headers)
                ctx = Ctx(caller, real, Txn(), prefer, req.headers)
                rel = req.path[len(API_PREFIX):] if req.path.startswith(API_PREFIX) else ""
                if rel == "$batch":
                    return self.batch(req, ctx)
                try:
                    return self.dispatch(req.method, rel, req.query, req.raw_query, req.headers, req.body, ctx)
                except BaseException as exc:
                    # one request is one transaction: deep inserts and bulk messages are all-or-nothing, whatever
                    # stopped them - an API error or an unexpected one
                    self.store.rollback(ctx.txn)
                    raise as_dv_error(exc) from exc
        except DVError as e:
            return self.error_response(e)

    def dispatch(self, method: str, rel: str, query: dict[str, str], raw_query: str, headers: Headers,
                 body: bytes, ctx: Ctx) -> Response:
        """Route ``method rel`` (a path relative to the Web API root) to its endpoint."""
        segs = [urllib.parse.unquote(s) for s in rel.split("/") if s != ""]
        self.check_privilege(method, segs, ctx)
        call = Call(method, segs, query, raw_query, headers, body, ctx)
        route = ROUTES.match(segs)
        if route is None:
            raise self._unrouted(call)
        endpoint, values = route
        return getattr(self, "_on_" + endpoint)(call, **values)

    # ------------------------------------------------------------------ helpers
    def _refuse_unsupported(self, call: Call) -> None:
        if (call.segs and call.segs[0] == "$apply") or any(o in call.query for o in ("fetchXml", "sql", "$apply")):
            raise DVError(501, "0x80040219", "The requested functionality is not yet implemented.")

    def _target(self, call: Call, entity_set: str, key: str | None = None) -> tuple[Table, Any]:
        """The table of a table endpoint (501/404 first, as for every table request) and its parsed key."""
        self._refuse_unsupported(call)
        table = self.table_by_set(entity_set)
        return table, (None if key is None else parse_key(key, call.segs[0]))

    def _row_id(self, call: Call, entity_set: str, key: str) -> tuple[Table, str]:
        table, parsed = self._target(call, entity_set, key)
        rid = self.resolve_key(table, parsed, must_exist=True)
        assert rid is not None
        return table, rid

    def _unrouted(self, call: Call) -> DVError:
        """The error of a path no rule matches: resolve the longest routed prefix, then 404 the next segment."""
        segs = call.segs
        for n in range(len(segs) - 1, 0, -1):
            route = ROUTES.match(segs[:n])
            if route is None:
                continue
            endpoint, values = route
            if endpoint in _TABLE_ENDPOINTS:
                if "key" in values:
                    self._row_id(call, values["entity_set"], values["key"])
                else:
                    self._target(call, values["entity_set"])
            elif endpoint in _DEFINITION_ENDPOINTS:
                self.definition_table(values["definition"])
            return not_found(segs[n])
        self._refuse_unsupported(call)
        return not_found(parse_segment(segs[0])[0])

    # ------------------------------------------------------------------ endpoints
    def _on_service_document(self, call: Call) -> Response:
        return json_response(200, {"@odata.context": self.base + "$metadata", "value": [
            {"name": t.entity_set, "kind": "EntitySet", "url": t.entity_set}
            for t in self.tables.values()]})

    def _on_metadata(self, call: Call) -> Response:
        return self.metadata(call.query)

    def _on_who_am_i(self, call: Call) -> Response:
        u = self.state.rows["systemuser"][call.ctx.caller_id]
        return json_response(200, {"@odata.context": self.base + "$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                                   "BusinessUnitId": u.get("businessunitid"), "UserId": call.ctx.caller_id,
                                   "OrganizationId": self.state.org_id})

    def _on_retrieve_version(self, call: Call) -> Response:
        return json_response(200, {"@odata.context": self.base +
                                   "$metadata#Microsoft.Dynamics.CRM.RetrieveVersionResponse", "Version": VERSION})

    def _on_option_action(self, call: Call, action: str) -> Response:
        if call.method != "POST":  # an unbound action takes POST only; otherwise the name is an unknown entity set
            return self._on_collection(call, action)
        return self.option_action(action, self._json(call.body))

    def _on_import_solution(self, call: Call, action: str) -> Response:
        if call.method != "POST":
            return self._on_collection(call, action)
        return self.import_solution(self._json(call.body), call.ctx, asynchronous=action == "ImportSolutionAsync")

    def _on_definitions(self, call: Call) -> Response:
        return self.entity_definitions(call.method, call.query)

    def _on_definitions_path(self, call: Call, rest: str) -> Response:
        raise not_supported()

    def _on_definition(self, call: Call, definition: str) -> Response:
        return self.entity_definition(call.method, self.definition_table(definition), call.query)

    def _on_attributes(self, call: Call, definition: str, attribute: str | None = None,
                       cast: str | None = None) -> Response:
        return self.attribute_definitions(self.definition_table(definition), call.query, attribute, cast)

    def _on_keys(self, call: Call, definition: str) -> Response:
        return self.key_definitions(call.method, self.definition_table(definition), call.query, call.body)

    def _on_relationships(self, call: Call, definition: str, kind: str) -> Response:
        return self.relationship_definitions(self.definition_table(definition), kind, call.query)

    def _on_collection(self, call: Call, entity_set: str) -> Response:
        table, _ = self._target(call, entity_set)
        if call.method == "GET":
            return self.query(table, call.query, call.raw_query, call.ctx)
        if call.method == "POST":
            return self.create_response(table, self._json(call.body), call.ctx)
        raise not_supported()

    def _on_count(self, call: Call, entity_set: str) -> Response:
        table, _ = self._target(call, entity_set)
        if call.method != "GET":
            raise not_found(call.segs[1])
        return self.count(table, call.query, call.ctx)

    def _on_bulk(self, call: Call, entity_set: str, message: str) -> Response:
        table, _ = self._target(call, entity_set)
        if call.method != "POST":
            raise not_found(call.segs[1])
        return self.bulk(table, message, self._json(call.body), call.ctx)

    def _on_row(self, call: Call, entity_set: str, key: str) -> Response:
        table, parsed = self._target(call, entity_set, key)
        if call.method == "GET":
            return self.retrieve(table, parsed, call.query, call.headers, call.ctx)
        if call.method == "PATCH":
            return self.upsert(table, parsed, self._json(call.body), call.headers, call.query, call.ctx)
        if call.method == "DELETE":
            return self.delete_response(table, parsed, call.headers, call.ctx)
        raise not_supported()

    def _on_property(self, call: Call, entity_set: str, key: str, prop: str) -> Response:
        table, rid = self._row_id(call, entity_set, key)
        if table.logical == "systemuser" and call.method == "GET" and prop in (
                "Microsoft.Dynamics.CRM.RetrieveUserPrivileges", "Microsoft.Dynamics.CRM.RetrieveUserPrivileges()"):
            return json_response(200, self.retrieve_user_privileges(rid))
        return self.property(call.method, table, rid, prop, call.body, call.query, call.ctx)

    def _on_ref(self, call: Call, entity_set: str, key: str, prop: str) -> Response:
        table, rid = self._row_id(call, entity_set, key)
        return self.ref(call.method, table, rid, [prop], call.body, call.query, call.ctx)
