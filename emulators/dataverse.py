"""Dataverse Web API v9.2 emulator (protocols.md B and C).

Served under ``{origin}/api/data/v9.2/``; the environment URL (token audience) is the bare origin.
Supported: CRUD, upsert with ``If-Match``/``If-None-Match`` (B4), ``@odata.bind`` with referential
checks (B5), ETags and 412 on stale writes (B6), ``$select``/``$filter``/``$orderby``/``$top``/
``$count``/single-level ``$expand`` and paging with ``Prefer: odata.maxpagesize`` (B7), change
tracking (B8), ``$batch`` with atomic change sets and ``Content-ID`` references (B9),
``CreateMultiple``/``UpdateMultiple``/``UpsertMultiple`` (B10), alternate keys (C18), ``WhoAmI``,
``RetrieveVersion``, ``ImportSolution``, role association via ``$ref`` (B11), ``$metadata``,
``EntityDefinitions`` (with picklist ``OptionSet``/``GlobalOptionSet`` expansion) and ``sdkmessagefilters`` (B17),
``InsertOptionValue``/``UpdateOptionValue``/``DeleteOptionValue`` on local option sets, picklist writes validated
against the current option set (C7; out of range = 400 ``0x8004431a``).

Not supported (answered 501 ``0x80040219`` NotImplemented): ``$apply``, ``fetchXml``, ``sql``,
lambda operators ``any``/``all``.  Callers are enabled systemusers of the organization (an application user whose
``applicationid`` is the token's ``appid``, or a user whose ``azureactivedirectoryobjectid`` is the token's ``oid``);
each request needs the privileges of :meth:`Dataverse.required_privileges` from the caller's security roles (403
``0x80040220`` otherwise); roles grant every privilege unless revoked through ``/_emulator/privileges``.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import re
import threading
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import dv_schema as S
from .dv_schema import BY_SET, MANY_TO_MANY, TABLES, Col, Table
from .dv_store import OrgState, Store, Txn, now_iso
from .httpcore import JSON_TYPE, Headers, Request, Response, json_response
from .odata import (
    GUID_RE,
    ODataError,
    compile_filter,
    parse_datetime,
    parse_expand,
    parse_orderby,
    parse_segment,
    parse_select,
)

API_PREFIX = "/api/data/v9.2/"
VERSION = "9.2.25093.00191"
#: Unbound actions that change a local option set (protocols.md B17/C7).
OPTION_ACTIONS = ("InsertOptionValue", "UpdateOptionValue", "DeleteOptionValue")
#: CustomizationOptionValuePrefix of a fresh org's default publisher: new option values start at prefix * 10000.
OPTION_VALUE_PREFIX = 10000


class DVError(Exception):
    """An error answered with Dataverse's envelope ``{"error": {"code", "message"}}`` (protocols.md B13)."""

    def __init__(self, status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or []


def _bad(message: str, code: str = "0x80060888") -> DVError:
    return DVError(400, code, message)


def not_exist(table: str, rid: str) -> DVError:
    """``0x80040217`` ObjectDoesNotExist, 404 (protocols.md B13)."""
    return DVError(404, "0x80040217", f"{table} With Id = {rid} Does Not Exist")


@dataclass
class Prefer:
    """Parsed ``Prefer`` header (protocols.md B3)."""

    representation: bool = False
    maxpagesize: int | None = None
    annotations: str | None = None
    track_changes: bool = False
    continue_on_error: bool = False

    @classmethod
    def parse(cls, text: str | None) -> Prefer:
        p = cls()
        for part in (text or "").split(","):
            part = part.strip()
            low = part.lower()
            if low == "return=representation":
                p.representation = True
            elif low.startswith("odata.maxpagesize="):
                try:
                    p.maxpagesize = int(part.split("=", 1)[1])
                except ValueError:
                    raise _bad("Invalid odata.maxpagesize preference.") from None
            elif low.startswith("odata.include-annotations="):
                p.annotations = part.split("=", 1)[1].strip('"')
            elif low == "odata.track-changes":
                p.track_changes = True
            elif low == "odata.continue-on-error":
                p.continue_on_error = True
        return p

    def wants(self, annotation: str) -> bool:
        if not self.annotations:
            return False
        for pat in self.annotations.split(","):
            pat = pat.strip()
            if pat == "*" or pat == annotation or (pat.endswith("*") and annotation.startswith(pat[:-1])):
                return True
        return False


@dataclass
class Ctx:
    """Per-request context: the calling systemuser, transaction, preferences, Content-ID map."""

    caller_id: str
    real_caller_id: str | None
    txn: Txn
    prefer: Prefer
    headers: Headers
    content_ids: dict[str, str] = field(default_factory=dict)


def _dt_value(col: Col, v: Any) -> str:
    if not isinstance(v, str):
        raise _bad(f"Cannot convert the literal '{v}' to the expected type 'Edm.DateTimeOffset'.")
    try:
        d = parse_datetime(v)
    except ValueError:
        raise _bad(f"Cannot convert the literal '{v}' to the expected type 'Edm.DateTimeOffset'.") from None
    return d.strftime("%Y-%m-%d") if col.date_only else d.strftime("%Y-%m-%dT%H:%M:%SZ")


class Dataverse:
    """The Dataverse Web API emulator over one :class:`OrgState`."""

    def __init__(self, state: OrgState, settings: Any) -> None:
        self.settings = settings
        self.lock = threading.RLock()
        self.origin = ""
        self.load(state)
        self._qcache: OrderedDict[tuple[Any, ...], list[str]] = OrderedDict()
        self._metadata_cache: dict[tuple[Any, ...], bytes] = {}
        self._render_pairs: dict[int, tuple[list[Col], list[tuple[str, str]]]] = {}
        self.refs: dict[str, list[tuple[str, Col]]] = {}
        for t in TABLES.values():
            for c in t.columns.values():
                for target in c.targets:
                    self.refs.setdefault(target, []).append((t.logical, c))

    def load(self, state: OrgState) -> None:
        """Replace the organization state (used at start and by the control endpoint's reset)."""
        with self.lock:
            self.state = state
            self.store = Store(state)
            self._qcache = OrderedDict()

    @property
    def base(self) -> str:
        return self.origin + API_PREFIX

    # ------------------------------------------------------------------ visibility helpers
    def visible(self, t: Table) -> bool:
        return t.solution is None or t.solution in self.state.solutions

    def col_visible(self, c: Col) -> bool:
        return c.solution is None or c.solution in self.state.solutions

    def table_by_set(self, name: str) -> Table:
        t = BY_SET.get(name)
        if t is None or not self.visible(t):
            raise DVError(404, "0x80060888", f"Resource not found for the segment '{name}'.")
        return t

    # ------------------------------------------------------------------ entry point
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
                    caller = self.impersonate(req.headers)
                ctx = Ctx(caller, real, Txn(), prefer, req.headers)
                rel = req.path[len(API_PREFIX):] if req.path.startswith(API_PREFIX) else ""
                if rel == "$batch":
                    return self.batch(req, ctx)
                try:
                    return self.dispatch(req.method, rel, req.query, req.raw_query, req.headers, req.body, ctx)
                except BaseException as exc:
                    # one request is one transaction (protocols.md B10): deep inserts and bulk messages are
                    # all-or-nothing, whatever stopped them - an API error or an unexpected one
                    self.store.rollback(ctx.txn)
                    raise _as_dv_error(exc) from exc
        except DVError as e:
            return self.error_response(e)

    def error_response(self, e: DVError) -> Response:
        return json_response(e.status, {"error": {"code": e.code, "message": e.message}},
                             [("OData-Version", "4.0"), *e.headers])

    def caller_for(self, principal: Any) -> str:
        """Map the token's principal (application: ``appid``; user: ``oid``) to a systemuser id.

        Raises 403 ``0x80072560`` when no systemuser exists and 403 ``0x80040225`` when it is disabled
        (``systemuser.isdisabled``, which an administrator may PATCH): a disabled user's valid token is refused on
        every request, WhoAmI included."""
        users = self.state.rows["systemuser"]
        if principal.kind == "app":
            for uid, u in users.items():
                if (u.get("applicationid") or "").lower() == (principal.app_id or "").lower():
                    if u.get("isdisabled"):
                        raise self._disabled(uid)
                    return uid
            raise DVError(403, "0x80072560",
                          f"The user is not a member of the organization. No application user with "
                          f"applicationid {principal.app_id} exists in this environment.")
        for uid, u in users.items():
            if (u.get("azureactivedirectoryobjectid") or "").lower() == principal.object_id.lower():
                if u.get("isdisabled"):
                    raise self._disabled(uid)
                return uid
        raise DVError(403, "0x80072560", "The user is not a member of the organization.")

    def _disabled(self, uid: str) -> DVError:
        return DVError(403, "0x80040225", f"The user with SystemUserId={uid} in OrganizationContext="
                       f"{self.state.org_id} is disabled. Disabled users cannot access the system. Consider enabling "
                       "this user. Also, users are disabled if they don't have a license or if the user account in "
                       "Active Directory has been disabled.")

    def user_roles(self, uid: str) -> set[str]:
        """Ids of the security roles a systemuser holds directly or through its teams (``systemuserroles_association``,
        ``teammembership_association`` + ``teamroles_association``)."""
        n2n = self.state.n2n
        direct = {r for u, r in n2n.get("systemuserroles_association", set()) if u == uid}
        teams = {t for u, t in n2n.get("teammembership_association", set()) if u == uid}
        via_teams = {r for t, r in n2n.get("teamroles_association", set()) if t in teams}
        return direct | via_teams

    def user_role_count(self, uid: str) -> int:
        """How many security roles a systemuser holds (see :meth:`user_roles`)."""
        return len(self.user_roles(uid))

    def role_privileges(self, rid: str) -> frozenset[str]:
        """Privilege names a role grants: every privilege of :func:`all_privileges` less those revoked through the
        control endpoint (kept on the role row as ``@revoked``; a reset restores the seeded roles)."""
        row = self.state.rows["role"].get(rid) or {}
        return all_privileges() - frozenset(row.get("@revoked") or ())

    def user_privileges(self, uid: str) -> frozenset[str]:
        """The union of the privileges of a user's roles (Dataverse: a privilege from any role counts)."""
        granted: frozenset[str] = frozenset()
        for rid in self.user_roles(uid):
            granted |= self.role_privileges(rid)
        return granted

    def role_privileges_change(self, role: str, *, revoke: list[str], grant: list[str]) -> list[dict[str, Any]]:
        """Revoke privileges from / grant them back to a security role (control endpoint ``/_emulator/privileges``).

        ``role`` is a role id or name (case-insensitive); a name changes every role of that name, i.e. the root
        business unit's role and its business-unit copies, as editing a root role does in Dataverse. Returns
        ``[{"roleid", "name", "revoked": [...]}]``. Raises KeyError for an unknown role and ValueError for a name
        that is not a privilege of :func:`all_privileges`."""
        unknown = sorted((set(revoke) | set(grant)) - all_privileges())
        if unknown:
            raise ValueError(f"unknown privilege(s) {', '.join(unknown)}; names look like prvReadAccount "
                             "(prv + Create|Read|Write|Delete|Append|AppendTo|Assign|Share + the table's schema name)")
        with self.lock:
            roles = self.state.rows["role"]
            wanted = role.strip().strip("{}").lower()
            ids = [rid for rid, row in roles.items()
                   if rid == wanted or (row.get("name") or "").lower() == wanted]
            if not ids:
                raise KeyError(role)
            changed = []
            for rid in ids:
                revoked = (set(roles[rid].get("@revoked") or ()) | set(revoke)) - set(grant)
                roles[rid]["@revoked"] = sorted(revoked)
                changed.append({"roleid": rid, "name": roles[rid].get("name"), "revoked": sorted(revoked)})
            return changed

    def revoked_privileges(self) -> dict[str, list[str]]:
        """``{role name (id): [revoked privilege, ...]}`` for the roles with revoked privileges."""
        with self.lock:
            return {f"{row.get('name')} ({rid})": list(row["@revoked"])
                    for rid, row in self.state.rows["role"].items() if row.get("@revoked")}

    def required_privileges(self, method: str, segs: list[str]) -> tuple[list[str], str, int]:
        """The privileges a request needs, with the entity's logical name and object type code (OTC).

        Table requests need ``prv<Verb><Entity>``: GET Read, POST Create, PATCH/PUT Write, DELETE Delete, ``$ref``
        and POST to a collection-valued navigation AppendTo; bulk messages CreateMultiple (Create), UpdateMultiple
        (Write), UpsertMultiple (Create and Write), DeleteMultiple (Delete). ``EntityDefinitions`` needs Read on
        'entity'; ImportSolution needs prvImportCustomization; other actions Read on 'solution'."""
        head = segs[0]
        name = head.split("(", 1)[0]
        table = BY_SET.get(name)
        if name.startswith("ImportSolution"):
            return ["prvImportCustomization"], "solution", 7100
        if table is None and name.startswith("EntityDefinitions"):
            return [privilege_name("Read", "entity")], "entity", 9800
        if table is None:
            return [privilege_name("Read", "solution")], "solution", 7100
        verbs = [{"GET": "Read", "POST": "Create", "PATCH": "Write", "PUT": "Write",
                  "DELETE": "Delete"}.get(method, "Read")]
        if segs[-1] == "$ref" or (method == "POST" and len(segs) > 1 and not segs[1].startswith("Microsoft.Dynamics")):
            verbs = ["AppendTo"]
        elif method == "POST" and len(segs) == 2 and segs[1].startswith("Microsoft.Dynamics.CRM."):
            verbs = {"CreateMultiple": ["Create"], "UpdateMultiple": ["Write"], "UpsertMultiple": ["Create", "Write"],
                     "DeleteMultiple": ["Delete"]}.get(segs[1].rsplit(".", 1)[-1], ["Read"])
        return [privilege_name(verb, table.logical) for verb in verbs], table.logical, table.object_type_code

    def check_privilege(self, method: str, segs: list[str], ctx: Ctx) -> None:
        """Privilege check (protocols.md B13 ``0x80040220`` PrivilegeDenied, 403).

        Model (documented in README "Security"): roles grant privileges (every privilege of the emulated tables,
        less those revoked through ``/_emulator/privileges``); a caller - and, with impersonation, the impersonated
        user as well (B12: effective rights are the intersection) - needs every privilege of
        :meth:`required_privileges` from at least one of its roles. WhoAmI, RetrieveVersion and ``$metadata`` work
        for every enabled user of the organization. The 403 body is Dataverse's: "Principal user (Id=…, type=8,
        roleCount=…, privilegeCount=…, accessMode=…), is missing prvReadAccount privilege (Id=…) on OTC=1 for entity
        'account'. context.Caller=…"."""
        if not getattr(self.settings, "enforce_privileges", True) or not segs:
            return
        head = segs[0]
        if head in ("$metadata", "WhoAmI", "WhoAmI()", "RetrieveVersion", "RetrieveVersion()"):
            return
        needed: tuple[list[str], str, int] | None = None
        for uid in dict.fromkeys(u for u in (ctx.real_caller_id, ctx.caller_id) if u):
            roles = self.user_roles(uid)
            needed = needed or self.required_privileges(method, segs)
            privileges, logical, otc = needed
            granted = self.user_privileges(uid) if roles else frozenset()
            missing = next((p for p in privileges if p not in granted), None)
            if missing is None:
                continue
            access = self.state.rows["systemuser"].get(uid, {}).get("accessmode") or 0
            raise DVError(403, "0x80040220", f"Principal user (Id={uid}, type=8, roleCount={len(roles)}, "
                          f"privilegeCount={len(granted)}, accessMode={access}), is missing {missing} privilege "
                          f"(Id={S.stable_id('privilege', missing)}) on OTC={otc} for entity '{logical}'. "
                          f"context.Caller={ctx.real_caller_id or ctx.caller_id}")

    def impersonate(self, headers: Headers) -> str:
        users = self.state.rows["systemuser"]
        oid = headers.get("callerobjectid")
        if oid:
            for uid, u in users.items():
                if (u.get("azureactivedirectoryobjectid") or "").lower() == oid.lower():
                    return uid
            raise DVError(404, "0x80040217", f"systemuser With azureactivedirectoryobjectid = {oid} Does Not Exist")
        sid = (headers.get("mscrmcallerid") or "").lower()
        if sid not in users:
            raise not_exist("systemuser", sid)
        return sid

    # ------------------------------------------------------------------ routing
    def dispatch(self, method: str, rel: str, query: dict[str, str], raw_query: str, headers: Headers,
                 body: bytes, ctx: Ctx) -> Response:
        segs = [urllib.parse.unquote(s) for s in rel.split("/") if s != ""]
        if not segs:
            return json_response(200, {"@odata.context": self.base + "$metadata", "value": [
                {"name": t.entity_set, "kind": "EntitySet", "url": t.entity_set}
                for t in TABLES.values() if self.visible(t)]})
        self.check_privilege(method, segs, ctx)
        head = segs[0]
        if head == "$metadata":
            return self.metadata(query)
        if head in ("WhoAmI", "WhoAmI()"):
            u = self.state.rows["systemuser"][ctx.caller_id]
            return json_response(200, {"@odata.context": self.base + "$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                                       "BusinessUnitId": u.get("businessunitid"), "UserId": ctx.caller_id,
                                       "OrganizationId": self.state.org_id})
        if head in ("RetrieveVersion", "RetrieveVersion()"):
            return json_response(200, {"@odata.context": self.base +
                                       "$metadata#Microsoft.Dynamics.CRM.RetrieveVersionResponse",
                                       "Version": VERSION})
        if head in OPTION_ACTIONS and method == "POST":
            return self.option_action(head, self._json(body))
        if head in ("ImportSolution", "ImportSolutionAsync") and method == "POST":
            return self.import_solution(self._json(body), ctx, asynchronous=head == "ImportSolutionAsync")
        if head.startswith("EntityDefinitions"):
            return self.entity_definitions(method, segs, query, body, ctx)
        if head in ("$apply",) or "fetchXml" in query or "sql" in query or "$apply" in query:
            raise DVError(501, "0x80040219", "The requested functionality is not yet implemented.")
        name, key = parse_segment(head) if "(" in head else (head, None)
        table = self.table_by_set(name)
        if key is None:
            if len(segs) == 1:
                if method == "GET":
                    return self.query(table, query, raw_query, ctx)
                if method == "POST":
                    return self.create_response(table, self._json(body), ctx)
                raise DVError(405, "0x80040315", "This action is not supported.")
            if len(segs) == 2 and segs[1] == "$count" and method == "GET":
                return self.count(table, query, ctx)
            if len(segs) == 2 and segs[1].startswith("Microsoft.Dynamics.CRM.") and method == "POST":
                return self.bulk(table, segs[1].split(".")[-1], self._json(body), ctx)
            raise DVError(404, "0x80060888", f"Resource not found for the segment '{segs[1]}'.")
        if len(segs) == 1:
            if method == "GET":
                return self.retrieve(table, key, query, headers, ctx)
            if method == "PATCH":
                return self.upsert(table, key, self._json(body), headers, query, ctx)
            if method == "DELETE":
                rid = self.resolve_key(table, key, must_exist=True)
                self.check_etag(table, rid, headers.get("if-match"))
                self.delete_row(table, rid, ctx)
                return Response(204, headers=[("OData-Version", "4.0")])
            raise DVError(405, "0x80040315", "This action is not supported.")
        rid = self.resolve_key(table, key, must_exist=True)
        prop = segs[1]
        if len(segs) >= 3 and segs[-1] == "$ref":
            return self.ref(method, table, rid, segs[1:-1], body, query, ctx)
        if len(segs) == 2:
            return self.property(method, table, rid, prop, body, query, ctx)
        raise DVError(404, "0x80060888", f"Resource not found for the segment '{segs[2]}'.")

    def _json(self, body: bytes) -> Any:
        if not body:
            return {}
        try:
            return json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise _bad(f"Invalid JSON. {exc}", "0x80040203") from None

    # ------------------------------------------------------------------ keys and references
    def resolve_key(self, table: Table, key: Any, *, must_exist: bool) -> str | None:
        """Primary key or alternate key -> row id (None when absent and not ``must_exist``)."""
        rows = self.state.rows[table.logical]
        if isinstance(key, str):
            if not GUID_RE.match(key):
                raise _bad(f"Bad Request - Error in query syntax: '{key}' is not a valid key.")
            rid = key.lower()
            if must_exist and rid not in rows:
                raise not_exist(table.logical, rid)
            return rid if rid in rows or not must_exist else None
        if isinstance(key, dict):
            if set(key) == {table.primary_id}:
                return self.resolve_key(table, str(key[table.primary_id]), must_exist=must_exist)
            for k in self.state.keys.get(table.logical, []):
                if set(k["KeyAttributes"]) == set(key):
                    cols = tuple(k["KeyAttributes"])
                    rid = self.store.find_by(table.logical, "key:" + k["SchemaName"], tuple(key[c] for c in cols))
                    if rid is None and must_exist:
                        raise DVError(404, "0x80060891",
                                      "A record with the specified key values does not exist in "
                                      f"{table.logical} entity")
                    return rid
            raise _bad(f"The key attributes {', '.join(sorted(key))} do not match any alternate key defined on "
                       f"entity {table.logical}.", "0x80060889")
        raise _bad("Bad Request - Error in query syntax.")

    def parse_ref(self, url: str, ctx: Ctx) -> tuple[Table, str]:
        """An ``@odata.bind`` / ``@odata.id`` URL -> (table, id); raises 404 when the row is missing."""
        u = url.strip()
        if u.startswith("$"):
            num, _, rest = u[1:].partition("/")
            if num in ctx.content_ids:
                u = ctx.content_ids[num] + (("/" + rest) if rest else "")
        if "://" in u:
            path = urllib.parse.urlsplit(u).path
        else:
            path = u
        if path.startswith(API_PREFIX):
            path = path[len(API_PREFIX):]
        path = path.lstrip("/")
        name, key = parse_segment(path)
        t = BY_SET.get(name)
        if t is None or key is None or not self.visible(t):
            raise _bad(f"The URL '{url}' in the request is not a valid entity reference.")
        rid = self.resolve_key(t, key, must_exist=False)
        if rid is None or rid not in self.state.rows[t.logical]:
            raise not_exist(t.logical, rid or str(key))
        return t, rid

    def check_etag(self, table: Table, rid: str, if_match: str | None) -> None:
        """Optimistic concurrency: a stale ``If-Match`` -> 412 ``0x80060882`` (protocols.md B6)."""
        if not if_match or if_match.strip() == "*":
            return
        row = self.state.rows[table.logical][rid]
        tags = [x.strip() for x in if_match.split(",")]
        if f'W/"{row["versionnumber"]}"' not in tags:
            raise DVError(412, "0x80060882",
                          "The version of the existing record doesn't match the RowVersion property provided.")

    # ------------------------------------------------------------------ value conversion
    def convert(self, table: Table, col: Col, v: Any) -> Any:
        """JSON value -> stored value; raises 400 on type, length, range or option errors."""
        if v is None:
            return None
        t = col.type
        if t in ("String", "Memo", "EntityName"):
            if not isinstance(v, str):
                raise _bad(f"Cannot convert the literal '{v}' to the expected type 'Edm.String'.")
            if col.max_length is not None and len(v) > col.max_length:
                raise DVError(400, "0x80044331",
                              f"A validation error occurred.  The length of the '{col.name}' attribute of the "
                              f"'{table.logical}' entity exceeded the maximum allowed length of '{col.max_length}'.")
            return v
        if t in ("Integer", "BigInt", "Picklist", "State", "Status"):
            if isinstance(v, bool) or not isinstance(v, int):
                if isinstance(v, float) and v.is_integer():
                    v = int(v)
                else:
                    raise _bad(f"Cannot convert the literal '{v}' to the expected type 'Edm.Int32'.")
            if t == "Picklist" and col.options and v not in self.options_of(table, col):
                raise DVError(400, "0x8004431a",
                              f"A validation error occurred.  The value {v} of '{col.name}' on record of type "
                              f"'{table.logical}' is outside the valid range.")
        elif t in ("Decimal", "Money", "Double"):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                if isinstance(v, str):
                    try:
                        v = float(v)
                    except ValueError:
                        raise _bad(f"Cannot convert the literal '{v}' to the expected type 'Edm.Decimal'.") from None
                else:
                    raise _bad(f"Cannot convert the literal '{v}' to the expected type 'Edm.Decimal'.")
            v = float(v)
        elif t == "Boolean":
            if not isinstance(v, bool):
                raise _bad(f"Cannot convert the literal '{v}' to the expected type 'Edm.Boolean'.")
            return v
        elif t == "DateTime":
            return _dt_value(col, v)
        elif t == "Uniqueidentifier":
            if not isinstance(v, str) or not GUID_RE.match(v):
                raise _bad(f"Cannot convert the literal '{v}' to the expected type 'Edm.Guid'.")
            return v.lower()
        if (col.minimum is not None and v < col.minimum) or (col.maximum is not None and v > col.maximum):
            raise DVError(400, "0x80044331",
                          f"A validation error occurred.  The value {v} of '{col.name}' on record of type "
                          f"'{table.logical}' is outside the valid range. Accepted Values: {col.minimum} to "
                          f"{col.maximum}")
        return v

    # ------------------------------------------------------------------ body parsing
    def parse_body(self, table: Table, body: Any, ctx: Ctx, *, is_create: bool
                   ) -> tuple[dict[str, Any], list[tuple[str, Any]], list[tuple[str, str]]]:
        """Body -> (column changes, deferred deep inserts [(nav, value)], collection binds [(nav, url)])."""
        if not isinstance(body, dict):
            raise _bad("The request body must be a JSON object.", "0x80040203")
        changes: dict[str, Any] = {}
        deep: list[tuple[str, Any]] = []
        binds: list[tuple[str, str]] = []
        navs = table.nav_map()
        for k, v in body.items():
            if k.startswith("@"):
                continue
            if k.endswith("@odata.bind"):
                nav = k[: -len("@odata.bind")]
                if nav in navs:
                    col, target = navs[nav]
                    if not self.col_visible(col) or (col.read_only and col.name != "ownerid"):
                        raise _bad(f"An undeclared property '{nav}' which only has property annotations in the "
                                   "payload but no property value was found in the payload.")
                    if v is None:
                        changes[col.name] = None
                        continue
                    if not isinstance(v, str):
                        raise _bad(f"The value of '{k}' must be a URL string.")
                    rt, rid = self.parse_ref(v, ctx)
                    if rt.logical not in col.targets or (len(col.targets) > 1 and col.type != "Owner"
                                                         and rt.logical != target):
                        raise _bad(f"The entity reference '{v}' does not match navigation property '{nav}' "
                                   f"(expected {target}).", "0x80040203")
                    changes[col.name] = rid
                    if len(col.targets) > 1:
                        changes[col.name + "@t"] = rt.logical
                    continue
                if self.collection_nav(table, nav) is not None:
                    for url in v if isinstance(v, list) else [v]:
                        binds.append((nav, url))
                    continue
                raise _bad(f"An undeclared property '{nav}' which only has property annotations in the payload "
                           "but no property value was found in the payload. In OData, only declared navigation "
                           "properties and declared named streams can be represented as properties without values.")
            if "@" in k:
                continue
            col = table.columns.get(k)
            if col is not None and self.col_visible(col) and not col.is_lookup:
                if col.read_only or (is_create and not col.create) or (not is_create and not col.update):
                    if col.name == table.primary_id and is_create:
                        changes[k] = self.convert(table, col, v)
                    continue
                changes[k] = self.convert(table, col, v)
                continue
            if k in navs and isinstance(v, dict):
                deep.append((k, v))
                continue
            if isinstance(v, list) and self.collection_nav(table, k) is not None:
                deep.append((k, v))
                continue
            if k in navs or (col is not None and col.is_lookup):
                raise _bad("A 'PrimitiveValue' node with non-null value was found when trying to read the value of "
                           f"the navigation property '{k}'; however, a 'StartArray' node, a 'StartObject' node, or a "
                           "'PrimitiveValue' node with null value was expected.")
            raise _bad(f"The property '{k}' does not exist on type 'Microsoft.Dynamics.CRM.{table.logical}'. Make "
                       "sure to only use property names that are defined by the type or mark the type as open type.")
        return changes, deep, binds

    def collection_nav(self, table: Table, nav: str) -> tuple[str, str, Col | None] | None:
        """Collection-valued navigation property -> ("1n", child table, child lookup) or ("nn", rel, None)."""
        if nav in MANY_TO_MANY and table.logical in MANY_TO_MANY[nav]:
            return ("nn", nav, None)
        for child, col in self.refs.get(table.logical, []):
            if col.rels.get(table.logical) == nav and self.visible(TABLES[child]) and self.col_visible(col):
                return ("1n", child, col)
        return None

    # ------------------------------------------------------------------ writes
    def create_row(self, table: Table, body: Any, ctx: Ctx, *, rid: str | None = None) -> str:
        """Create one row (with deep insert); returns its id.  Raises :class:`DVError`."""
        if table.read_only:
            raise DVError(405, "0x80040315", f"The '{table.logical}' entity cannot be created through this API.")
        changes, deep, binds = self.parse_body(table, body, ctx, is_create=True)
        for nav, value in deep:
            if isinstance(value, dict):
                col, target = table.nav_map()[nav]
                child_id = self.create_row(TABLES[target], value, ctx)
                changes[col.name] = child_id
                if len(col.targets) > 1:
                    changes[col.name + "@t"] = target
        new_id = (rid or changes.pop(table.primary_id, None) or str(uuid.uuid4())).lower()
        changes.pop(table.primary_id, None)
        if new_id in self.state.rows[table.logical]:
            raise DVError(412, "0x80040237", "Cannot insert duplicate key.")
        now = now_iso()
        row: dict[str, Any] = {c.name: c.default for c in table.columns.values() if c.default is not None}
        row.update(changes)
        row[table.primary_id] = new_id
        row["createdon"] = row.pop("overriddencreatedon", None) or now
        if changes.get("overriddencreatedon"):
            row["overriddencreatedon"] = changes["overriddencreatedon"]
        row["modifiedon"] = now
        row["createdby"] = row["modifiedby"] = ctx.caller_id
        if ctx.real_caller_id:
            row["createdonbehalfby"] = row["modifiedonbehalfby"] = ctx.real_caller_id
        if table.ownership == "UserOwned":
            if not row.get("ownerid"):
                row["ownerid"] = ctx.caller_id
                row["ownerid@t"] = "systemuser"
            self._owner_columns(row)
        elif "organizationid" in table.columns:
            row["organizationid"] = self.state.org_id
        if table.states:
            self._apply_state(table, row, changes, None)
        self.before_write(table, new_id, row, None, ctx)
        self._check_required(table, row)
        self._check_unique(table, new_id, row)
        row["versionnumber"] = self.store.next_version()
        self.store.put(ctx.txn, table.logical, new_id, row)
        self.after_write(table, new_id, row, None, ctx)
        for nav, value in deep:
            if isinstance(value, list):
                kind, child, col = self.collection_nav(table, nav)  # type: ignore[misc]
                for item in value:
                    if kind == "1n" and col is not None:
                        item = dict(item)
                        child_nav = col.navs.get(table.logical, col.name)
                        item[child_nav + "@odata.bind"] = f"/{table.entity_set}({new_id})"
                        self.create_row(TABLES[child], item, ctx)
        for nav, url in binds:
            self.associate(table, new_id, nav, url, ctx)
        return new_id

    def update_row(self, table: Table, rid: str, body: Any, ctx: Ctx) -> None:
        """Update one row; only changed columns are sent (protocols.md B4)."""
        if table.read_only:
            raise DVError(405, "0x80040315", f"The '{table.logical}' entity cannot be updated through this API.")
        old = self.state.rows[table.logical][rid]
        changes, deep, binds = self.parse_body(table, body, ctx, is_create=False)
        for nav, value in deep:
            if isinstance(value, dict):
                col, target = table.nav_map()[nav]
                changes[col.name] = self.create_row(TABLES[target], value, ctx)
        row = dict(old)
        row.update(changes)
        if table.states:
            self._apply_state(table, row, changes, old)
        if table.ownership == "UserOwned" and "ownerid" in changes:
            if changes["ownerid"] is None:
                raise _bad("The owner of a record cannot be cleared.", "0x80040203")
            self._owner_columns(row)
        self.before_write(table, rid, row, old, ctx)
        self._check_required(table, row)
        self._check_unique(table, rid, row)
        row["modifiedon"] = now_iso()
        row["modifiedby"] = ctx.caller_id
        row["modifiedonbehalfby"] = ctx.real_caller_id
        row["versionnumber"] = self.store.next_version()
        self.store.put(ctx.txn, table.logical, rid, row)
        self.after_write(table, rid, row, old, ctx)
        for nav, url in binds:
            self.associate(table, rid, nav, url, ctx)

    def touch(self, table: str, rid: str, ctx: Ctx, changes: dict[str, Any]) -> None:
        """Internal system update (derived totals, cleared links) with a new version."""
        row = dict(self.state.rows[table][rid])
        row.update(changes)
        row["modifiedon"] = now_iso()
        row["versionnumber"] = self.store.next_version()
        self.store.put(ctx.txn, table, rid, row)

    def _owner_columns(self, row: dict[str, Any]) -> None:
        owner, kind = row.get("ownerid"), row.get("ownerid@t", "systemuser")
        src = self.state.rows[kind].get(owner or "", {})
        row["owningbusinessunit"] = src.get("businessunitid")
        row["owninguser"] = owner if kind == "systemuser" else None
        row["owningteam"] = owner if kind == "team" else None

    def _apply_state(self, table: Table, row: dict[str, Any], changes: dict[str, Any],
                     old: dict[str, Any] | None) -> None:
        """statecode/statuscode pairing (protocols.md B4: each state has a default status)."""
        state = changes.get("statecode")
        status = changes.get("statuscode")
        if state is None and status is not None:
            for s, (_d, allowed, _l) in table.states.items():
                if status in allowed:
                    state = s
                    break
        if state is None:
            state = old["statecode"] if old else min(table.states)
            if status is None:
                status = old["statuscode"] if old else table.states[state][0]
        if state not in table.states:
            raise DVError(400, "0x80044331", f"A validation error occurred.  The value {state} of 'statecode' on "
                          f"record of type '{table.logical}' is outside the valid range.")
        if status is None:
            status = table.states[state][0]
        if status not in table.states[state][1]:
            raise DVError(400, "0x8004431a", f"{status} is not a valid status code for state code "
                          f"{table.display.replace(' ', '')}State.{table.states[state][2].replace(' ', '')} on "
                          f"{table.logical}.")
        row["statecode"], row["statuscode"] = state, status

    def _check_required(self, table: Table, row: dict[str, Any]) -> None:
        for c in table.columns.values():
            if c.required == "SystemRequired" and not c.system and not c.read_only and row.get(c.name) is None \
                    and self.col_visible(c):
                raise DVError(400, "0x80040203", f"Attribute '{c.name}' cannot be NULL: a value is required for "
                              f"the '{c.name}' attribute of the '{table.logical}' entity.")

    def _check_unique(self, table: Table, rid: str, row: dict[str, Any]) -> None:
        hit = self.store.conflicts(table.logical, rid, row)
        if hit is None:
            return
        name, cols = hit
        if name.startswith("key:"):
            vals = ",".join(str(row.get(c)) for c in cols)
            raise DVError(412, "0x80060892", f"Entity Key {name[4:]} violated. A record with the same value for "
                          f"{','.join(cols)} already exists. ({vals})")
        if table.logical == "transactioncurrency":
            raise DVError(400, "0x80048cf3", f"A currency with the ISO currency code '{row.get('isocurrencycode')}' "
                          "already exists. Duplicate currency codes are not allowed.")
        if table.logical == "productpricelevel":
            raise DVError(400, "0x80043b08", "This product and unit combination has a price for this price list.")
        raise DVError(412, "0x80040237", f"A record with the same value for {', '.join(cols)} already exists "
                      f"('{row.get(cols[0])}'). Cannot insert duplicate key.")

    # ------------------------------------------------------------------ table rules (protocols.md C)
    def _row(self, table: str, rid: str | None) -> dict[str, Any] | None:
        return self.state.rows[table].get(rid) if rid else None

    def before_write(self, table: Table, rid: str, row: dict[str, Any], old: dict[str, Any] | None,
                     ctx: Ctx) -> None:
        """Derived columns and the business rules that make dependency order matter."""
        name = table.logical
        for poly in ("customerid", "parentcustomerid", "ownerid"):  # <lookup>type (EntityName) of polymorphic lookups
            if poly + "type" in table.columns:
                row[poly + "type"] = (row.get(poly + "@t") or table.columns[poly].targets[0]) if row.get(poly) \
                    else None
        if name in ("contact", "systemuser"):
            row["fullname"] = " ".join(x for x in (row.get("firstname"), row.get("lastname")) if x) or None
        if name == "uom":
            sched = row.get("uomscheduleid")
            if old is None:
                if not sched:
                    raise DVError(400, "0x80040203", "The unit group (uomscheduleid) is missing. A unit must "
                                  "belong to a unit group.")
                if not row.get("baseuom") and not row.get("isschedulebaseuom"):
                    row["baseuom"] = self._schedule_base(sched)
                row.setdefault("quantity", 1.0)
                if row.get("quantity") is None:
                    row["quantity"] = 1.0
            base = self._row("uom", row.get("baseuom"))
            if base is not None and base.get("uomscheduleid") != sched:
                raise DVError(400, "0x80040203", "The base unit does not belong to the unit group of this unit.")
        if name == "product":
            sched, unit = row.get("defaultuomscheduleid"), row.get("defaultuomid")
            if not sched:
                raise DVError(400, "0x80040203", "The unit group (defaultuomscheduleid) is missing. A product "
                              "needs an existing unit group.")
            if not unit:
                raise DVError(400, "0x80040203", "The default unit (defaultuomid) is missing. A product needs a "
                              "default unit from its unit group.")
            if self.state.rows["uom"][unit].get("uomscheduleid") != sched:
                raise DVError(400, "0x80040203", "The default unit does not belong to the product's unit group.")
        if name == "productpricelevel":
            prod = self._row("product", row.get("productid"))
            unit = self._row("uom", row.get("uomid"))
            if prod is not None and unit is not None and unit.get("uomscheduleid") != prod.get("defaultuomscheduleid"):
                raise DVError(400, "0x80040203", "The unit does not belong to the unit group of the product.")
            if prod is not None:
                row["uomscheduleid"] = prod.get("defaultuomscheduleid")
                row["productnumber"] = prod.get("productnumber")
            pl = self._row("pricelevel", row.get("pricelevelid"))
            if pl is not None:
                row["transactioncurrencyid"] = pl.get("transactioncurrencyid")
        if name in ("salesorderdetail", "invoicedetail"):
            self._line_rules(table, row, old)
        if name in ("salesorder", "invoice", "quote"):
            if old is not None and name == "salesorder" and old.get("statecode") != 0 and row.get("statecode") != 0:
                changed = {k for k, v in row.items() if old.get(k) != v} - {"statecode", "statuscode"}
                if changed:
                    raise DVError(400, "0x80040203", "The sales order can't be edited because it isn't in the "
                                  "Active state.")
            if old is None:
                num_col = {"salesorder": "ordernumber", "invoice": "invoicenumber", "quote": "quotenumber"}[name]
                if not row.get(num_col):
                    n = self.state.counters.get(name, 1000) + 1
                    self.state.counters[name] = n
                    prefix = {"salesorder": "ORD", "invoice": "INV", "quote": "QUO"}[name]
                    row[num_col] = f"{prefix}-{n:05d}-{uuid.uuid4().hex[:6].upper()}"
                if name == "quote":
                    row["revisionnumber"] = 0
            if not row.get("transactioncurrencyid"):
                pl = self._row("pricelevel", row.get("pricelevelid"))
                row["transactioncurrencyid"] = (pl or {}).get("transactioncurrencyid")
            self._header_totals(name, rid, row)
        if name == "annotation":
            row["objecttypecode"] = row.get("objectid@t") if row.get("objectid") else None
            body = row.get("documentbody")
            row["filesize"] = len(base64.b64decode(body + "==", validate=False)) if body else None
        if table.currency:
            if not row.get("transactioncurrencyid") and self.state.base_currency_id:
                row["transactioncurrencyid"] = self.state.base_currency_id
            cur = self._row("transactioncurrency", row.get("transactioncurrencyid"))
            rate = float(cur.get("exchangerate") or 1.0) if cur else 1.0
            row["exchangerate"] = rate
            for c in table.columns.values():
                if c.type == "Money" and c.name.endswith("_base"):
                    v = row.get(c.name[:-5])
                    row[c.name] = None if v is None else round(v / rate, 4)

    def _schedule_base(self, sched: str) -> str | None:
        for uid, u in self.state.rows["uom"].items():
            if u.get("uomscheduleid") == sched and u.get("isschedulebaseuom"):
                return uid
        return None

    def _line_rules(self, table: Table, row: dict[str, Any], old: dict[str, Any] | None) -> None:
        parent_col = "salesorderid" if table.logical == "salesorderdetail" else "invoiceid"
        parent_table = "salesorder" if parent_col == "salesorderid" else "invoice"
        parent = self._row(parent_table, row.get(parent_col))
        if parent is None:
            raise DVError(400, "0x80040203", f"The parent {parent_table} ({parent_col}) is missing. A line needs "
                          "its order or invoice.")
        if parent.get("statecode") != 0:
            raise DVError(400, "0x80040203", f"Lines can only be changed while the {parent_table} is Active.")
        row["transactioncurrencyid"] = parent.get("transactioncurrencyid")
        err = 0
        if not row.get("isproductoverridden"):
            if not row.get("productid"):
                err = 6
            elif not row.get("uomid"):
                err = 10
            elif not row.get("ispriceoverridden"):
                pl = parent.get("pricelevelid")
                if not pl:
                    err = 2
                else:
                    rid = self.store.find_by("productpricelevel", "pricelistitem",
                                             (pl, row.get("productid"), row.get("uomid")))
                    if rid is None:
                        err = 11
                        row["priceperunit"] = 0.0
                    else:
                        row["priceperunit"] = float(self.state.rows["productpricelevel"][rid].get("amount") or 0)
        row["pricingerrorcode"] = err
        qty = float(row.get("quantity") or 0)
        price = float(row.get("priceperunit") or 0)
        row["baseamount"] = round(qty * price, 4)
        row["extendedamount"] = round(row["baseamount"] - float(row.get("manualdiscountamount") or 0)
                                      + float(row.get("tax") or 0), 4)

    def _header_totals(self, name: str, rid: str, row: dict[str, Any]) -> None:
        if name == "quote":
            row.setdefault("totalamount", 0.0)
            return
        line_table, col = (("salesorderdetail", "salesorderid") if name == "salesorder"
                           else ("invoicedetail", "invoiceid"))
        lines = [r for r in self.state.rows[line_table].values() if r.get(col) == rid]
        self._set_totals(row, lines)

    def _set_totals(self, row: dict[str, Any], lines: list[dict[str, Any]]) -> None:
        total_lines = round(sum(float(x.get("extendedamount") or 0) for x in lines), 4)
        tax = round(sum(float(x.get("tax") or 0) for x in lines), 4)
        disc = float(row.get("discountamount") or 0)
        freight = float(row.get("freightamount") or 0)
        row["totallineitemamount"] = total_lines
        row["totaltax"] = tax
        row["totalamountlessfreight"] = round(total_lines - disc, 4)
        row["totalamount"] = round(total_lines - disc + freight, 4)

    def after_write(self, table: Table, rid: str, row: dict[str, Any], old: dict[str, Any] | None,
                    ctx: Ctx) -> None:
        name = table.logical
        if name == "uomschedule" and old is None:
            # the platform creates the group's base unit (protocols.md C1)
            base_id = str(uuid.uuid4())
            now = now_iso()
            base = {"uomid": base_id, "name": row["baseuomname"], "uomscheduleid": rid, "baseuom": base_id,
                    "quantity": 1.0, "isschedulebaseuom": True, "createdon": now, "modifiedon": now,
                    "createdby": ctx.caller_id, "modifiedby": ctx.caller_id,
                    "versionnumber": self.store.next_version()}
            self.store.put(ctx.txn, "uom", base_id, base)
        if name in ("salesorderdetail", "invoicedetail"):
            self._recalc_parent(name, row)
            if old is not None:
                parent_col = "salesorderid" if name == "salesorderdetail" else "invoiceid"
                if old.get(parent_col) != row.get(parent_col):
                    self._recalc_parent(name, old)

    def _recalc_parent(self, line_table: str, line: dict[str, Any]) -> None:
        col, parent_table = (("salesorderid", "salesorder") if line_table == "salesorderdetail"
                             else ("invoiceid", "invoice"))
        pid = line.get(col)
        parent = self._row(parent_table, pid)
        if parent is None:
            return
        lines = [r for r in self.state.rows[line_table].values() if r.get(col) == pid]
        self._set_totals(parent, lines)

    def delete_row(self, table: Table, rid: str, ctx: Ctx) -> None:
        """Delete with cascade / restrict / remove-link on referencing lookups."""
        if table.read_only:
            raise DVError(405, "0x80040315", "This action is not supported.")
        if table.logical == "uom" and self.state.rows["uom"][rid].get("isschedulebaseuom"):
            raise DVError(400, "0x80040203", "The base unit of a unit group cannot be deleted.")
        if table.logical == "systemuser" or table.logical == "businessunit" or table.logical == "organization":
            raise DVError(405, "0x80040315", f"Deleting a {table.logical} is not supported.")
        self._delete(table.logical, rid, ctx, set())

    def _delete(self, table: str, rid: str, ctx: Ctx, seen: set[tuple[str, str]]) -> None:
        if (table, rid) in seen or rid not in self.state.rows[table]:
            return
        seen.add((table, rid))
        for child, col in self.refs.get(table, []):
            if col.system:
                continue
            referencing = [cid for cid, r in self.state.rows[child].items()
                           if r.get(col.name) == rid and (len(col.targets) == 1 or r.get(col.name + "@t") == table)]
            if not referencing:
                continue
            if col.on_delete == "restrict":
                if child == table and all(c == rid for c in referencing):
                    continue
                raise DVError(400, "0x80040227", f"The object you tried to delete is associated with another "
                              f"object and cannot be deleted ({child}.{col.name} refers to it).")
            for cid in referencing:
                if col.on_delete == "cascade":
                    self._delete(child, cid, ctx, seen)
                elif cid in self.state.rows[child] and not (child == table and cid == rid):
                    self.touch(child, cid, ctx, {col.name: None})
        for rel, (e1, e2) in MANY_TO_MANY.items():
            if table in (e1, e2):
                for pair in [p for p in self.state.n2n.get(rel, set()) if (p[0] if table == e1 else p[1]) == rid]:
                    self.store.disassociate(ctx.txn, rel, pair)
        row = self.state.rows[table][rid]
        self.store.delete(ctx.txn, table, rid)
        if table in ("salesorderdetail", "invoicedetail"):
            self._recalc_parent(table, row)

    # ------------------------------------------------------------------ associations
    def associate(self, table: Table, rid: str, nav: str, url: str, ctx: Ctx) -> None:
        info = self.collection_nav(table, nav)
        if info is None:
            raise DVError(404, "0x80060888", f"Resource not found for the segment '{nav}'.")
        kind, other, col = info
        rt, oid = self.parse_ref(url, ctx)
        if kind == "nn":
            e1, e2 = MANY_TO_MANY[other]
            expected = e2 if table.logical == e1 else e1
            if rt.logical != expected:
                raise _bad(f"The entity reference '{url}' is not a {expected}.", "0x80040203")
            pair = (rid, oid) if table.logical == e1 else (oid, rid)
            if other in ("systemuserroles_association", "teamroles_association"):
                principal = self.state.rows[e1][pair[0]]
                role = self.state.rows["role"][pair[1]]
                if principal.get("businessunitid") != role.get("businessunitid"):
                    raise DVError(400, "0x80040203", "The role and the principal must belong to the same business "
                                  "unit.")
            self.store.associate(ctx.txn, other, pair)
            return
        assert col is not None
        if rt.logical != other:
            raise _bad(f"The entity reference '{url}' is not a {other}.", "0x80040203")
        body = {col.navs.get(table.logical, col.name) + "@odata.bind": f"/{table.entity_set}({rid})"}
        self.update_row(TABLES[other], oid, body, ctx)

    def ref(self, method: str, table: Table, rid: str, path: list[str], body: bytes, query: dict[str, str],
            ctx: Ctx) -> Response:
        """``$ref`` operations (protocols.md B5, B11)."""
        nav_seg = path[0]
        nav, key = parse_segment(nav_seg) if "(" in nav_seg else (nav_seg, None)
        navs = table.nav_map()
        if nav in navs:
            col, _target = navs[nav]
            if method == "PUT":
                data = self._json(body)
                url = data.get("@odata.id") if isinstance(data, dict) else None
                if not url:
                    raise _bad("The @odata.id property is required.", "0x80040203")
                self.update_row(table, rid, {nav + "@odata.bind": url}, ctx)
                return Response(204, headers=[("OData-Version", "4.0")])
            if method == "DELETE":
                self.update_row(table, rid, {nav + "@odata.bind": None}, ctx)
                return Response(204, headers=[("OData-Version", "4.0")])
            if method == "GET":
                row = self.state.rows[table.logical][rid]
                target = row.get(col.name + "@t") or col.targets[0]
                val = row.get(col.name)
                if val is None:
                    return Response(204)
                return json_response(200, {"@odata.context": self.base + "$metadata#$ref",
                                            "@odata.id": f"{self.base}{TABLES[target].entity_set}({val})"})
            raise DVError(405, "0x80040315", "This action is not supported.")
        info = self.collection_nav(table, nav)
        if info is None:
            raise DVError(404, "0x80060888", f"Resource not found for the segment '{nav}'.")
        kind, other, col = info
        if method == "POST":
            data = self._json(body)
            url = data.get("@odata.id") if isinstance(data, dict) else None
            if not url:
                raise _bad("The @odata.id property is required.", "0x80040203")
            self.associate(table, rid, nav, url, ctx)
            return Response(204, headers=[("OData-Version", "4.0")])
        if method == "DELETE":
            target_url = query.get("$id")
            if key is not None:
                other_table = TABLES[MANY_TO_MANY[other][1] if kind == "nn" and table.logical == MANY_TO_MANY[other][0]
                                     else (MANY_TO_MANY[other][0] if kind == "nn" else other)]
                target_url = f"/{other_table.entity_set}({key})"
            if not target_url:
                raise _bad("The related entity key or $id is required to remove a reference.", "0x80040203")
            rt, oid = self.parse_ref(target_url, ctx)
            if kind == "nn":
                e1, _e2 = MANY_TO_MANY[other]
                pair = (rid, oid) if table.logical == e1 else (oid, rid)
                self.store.disassociate(ctx.txn, other, pair)
            else:
                assert col is not None
                child = self.state.rows[other].get(oid)
                if child is not None and child.get(col.name) == rid:
                    self.update_row(TABLES[other], oid, {col.navs.get(table.logical, col.name) + "@odata.bind": None},
                                    ctx)
            return Response(204, headers=[("OData-Version", "4.0")])
        if method == "GET":
            ids = self.related_ids(table, rid, nav)
            target = TABLES[self.related_table(table, nav)]
            return json_response(200, {"@odata.context": self.base + "$metadata#Collection($ref)",
                                       "value": [{"@odata.id": f"{self.base}{target.entity_set}({i})"} for i in ids]})
        raise DVError(405, "0x80040315", "This action is not supported.")

    def related_table(self, table: Table, nav: str) -> str:
        info = self.collection_nav(table, nav)
        assert info is not None
        kind, other, _col = info
        if kind == "nn":
            e1, e2 = MANY_TO_MANY[other]
            return e2 if table.logical == e1 else e1
        return other

    def related_ids(self, table: Table, rid: str, nav: str) -> list[str]:
        info = self.collection_nav(table, nav)
        assert info is not None
        kind, other, col = info
        if kind == "nn":
            e1, _e2 = MANY_TO_MANY[other]
            pairs = self.state.n2n.get(other, set())
            return sorted(p[1] for p in pairs if p[0] == rid) if table.logical == e1 else \
                sorted(p[0] for p in pairs if p[1] == rid)
        assert col is not None
        return sorted(cid for cid, r in self.state.rows[other].items()
                      if r.get(col.name) == rid and (len(col.targets) == 1 or r.get(col.name + "@t") == table.logical))

    # ------------------------------------------------------------------ single-row endpoints
    def entity_url(self, table: Table, rid: str) -> str:
        return f"{self.base}{table.entity_set}({rid})"

    def create_response(self, table: Table, body: Any, ctx: Ctx) -> Response:
        rid = self.create_row(table, body, ctx)
        return self._written(table, rid, ctx, created=True)

    def _written(self, table: Table, rid: str, ctx: Ctx, *, created: bool, query: dict[str, str] | None = None
                 ) -> Response:
        url = self.entity_url(table, rid)
        if ctx.prefer.representation:
            q = query or {}
            row = self.state.rows[table.logical][rid]
            select = self._select_cols(table, parse_select(q.get("$select")))
            payload = self.render(table, row, select, ctx.prefer)
            if created:
                for nav, opts in parse_expand(q.get("$expand")):
                    payload[nav] = self._expand_value(table, row, nav, opts, ctx)
            ctx_sel = "(" + ",".join(q["$select"].split(",")) + ")" if q.get("$select") else ""
            payload = {"@odata.context": f"{self.base}$metadata#{table.entity_set}{ctx_sel}/$entity", **payload}
            return json_response(201 if created else 200, payload,
                                 [("OData-Version", "4.0"), ("Preference-Applied", "return=representation"),
                                  ("ETag", payload["@odata.etag"])] + ([("Location", url)] if created else []))
        return Response(204, headers=[("OData-Version", "4.0"), ("OData-EntityId", url), ("Location", url)])

    def retrieve(self, table: Table, key: Any, query: dict[str, str], headers: Headers, ctx: Ctx) -> Response:
        rid = self.resolve_key(table, key, must_exist=True)
        assert rid is not None
        row = self.state.rows[table.logical][rid]
        etag = f'W/"{row["versionnumber"]}"'
        inm = headers.get("if-none-match")
        if inm and inm != "null" and etag in [x.strip() for x in inm.split(",")] and not query.get("$expand") \
                and not ctx.prefer.annotations:
            return Response(304, headers=[("ETag", etag)])
        select = self._select_cols(table, parse_select(query.get("$select")))
        payload = self.render(table, row, select, ctx.prefer)
        for nav, opts in self._expands(query):
            payload[nav] = self._expand_value(table, row, nav, opts, ctx)
        ctx_sel = "(" + query["$select"] + ")" if query.get("$select") else ""
        payload = {"@odata.context": f"{self.base}$metadata#{table.entity_set}{ctx_sel}/$entity", **payload}
        hdrs = [("OData-Version", "4.0"), ("ETag", etag)]
        if ctx.prefer.annotations:
            hdrs.append(("Preference-Applied", f'odata.include-annotations="{ctx.prefer.annotations}"'))
        return json_response(200, payload, hdrs)

    def upsert(self, table: Table, key: Any, body: Any, headers: Headers, query: dict[str, str], ctx: Ctx) -> Response:
        """PATCH to a key URI: update, or create when absent (protocols.md B4, B6)."""
        rid = self.resolve_key(table, key, must_exist=False)
        exists = rid is not None and rid in self.state.rows[table.logical]
        if_match, if_none = headers.get("if-match"), headers.get("if-none-match")
        if if_none and if_none.strip() == "*" and exists:
            raise DVError(412, "0x80040237", "A record with matching key values already exists.")
        if if_match and not exists:
            raise not_exist(table.logical, rid or str(key)) if isinstance(key, str) else \
                DVError(404, "0x80060891", f"A record with the specified key values does not exist in "
                        f"{table.logical} entity")
        if exists:
            assert rid is not None
            self.check_etag(table, rid, if_match)
            self.update_row(table, rid, body, ctx)
            return self._written(table, rid, ctx, created=False, query=query)
        body = dict(body) if isinstance(body, dict) else body
        if isinstance(key, dict) and isinstance(body, dict):
            for k, v in key.items():
                body.setdefault(k, v)
        new_id = self.create_row(table, body, ctx, rid=key if isinstance(key, str) else None)
        return self._written(table, new_id, ctx, created=True, query=query)

    def property(self, method: str, table: Table, rid: str, prop: str, body: bytes, query: dict[str, str],
                 ctx: Ctx) -> Response:
        col = table.columns.get(prop)
        if col is not None and self.col_visible(col) and not col.is_lookup:
            row = self.state.rows[table.logical][rid]
            if method == "GET":
                return json_response(200, {"@odata.context": f"{self.base}$metadata#{table.entity_set}({rid})/{prop}",
                                           "value": row.get(prop)})
            if method == "PUT":
                data = self._json(body)
                if not isinstance(data, dict) or "value" not in data:
                    raise _bad("The request body must contain a 'value' property.", "0x80040203")
                self.update_row(table, rid, {prop: data["value"]}, ctx)
                return Response(204, headers=[("OData-Version", "4.0")])
            if method == "DELETE":
                self.update_row(table, rid, {prop: None}, ctx)
                return Response(204, headers=[("OData-Version", "4.0")])
            raise DVError(405, "0x80040315", "This action is not supported.")
        if method != "GET":
            raise DVError(405, "0x80040315", "This action is not supported.")
        navs = table.nav_map()
        row = self.state.rows[table.logical][rid]
        if prop in navs:
            col, target = navs[prop]
            tgt = row.get(col.name + "@t") or target
            val = row.get(col.name)
            if val is None or val not in self.state.rows[tgt]:
                return Response(204)
            t2 = TABLES[tgt]
            return self.retrieve(t2, val, query, Headers(), ctx)
        if self.collection_nav(table, prop) is None:
            raise DVError(404, "0x80060888", f"Resource not found for the segment '{prop}'.")
        ids = set(self.related_ids(table, rid, prop))
        target = TABLES[self.related_table(table, prop)]
        return self.query(target, query, "", ctx, restrict=ids)

    # ------------------------------------------------------------------ rendering
    def _select_cols(self, table: Table, select: list[str] | None) -> list[Col]:
        if select is None:
            return [c for c in table.columns.values() if self.col_visible(c)]
        cols: list[Col] = []
        for s in select:
            name = s[1:-6] if s.startswith("_") and s.endswith("_value") else s
            c = table.columns.get(name)
            if c is None or not self.col_visible(c):
                raise _bad(f"Could not find a property named '{s}' on type 'Microsoft.Dynamics.CRM.{table.logical}'.")
            cols.append(c)
        if table.columns[table.primary_id] not in cols:
            cols.append(table.columns[table.primary_id])
        return cols

    def render(self, table: Table, row: dict[str, Any], cols: list[Col], prefer: Prefer) -> dict[str, Any]:
        ann = prefer.annotations
        if not ann:
            # fast path (no annotations): precomputed (output key, column) pairs per column list
            key = id(cols)
            pairs = self._render_pairs.get(key)
            if pairs is None or pairs[0] is not cols:
                pairs = (cols, [(f"_{c.name}_value" if c.is_lookup else c.name, c.name) for c in cols])
                if len(self._render_pairs) > 256:
                    self._render_pairs.clear()
                self._render_pairs[key] = pairs
            get = row.get
            out = {"@odata.etag": f'W/"{row["versionnumber"]}"'}
            for k, n in pairs[1]:
                out[k] = get(n)
            return out
        out = {"@odata.etag": f'W/"{row["versionnumber"]}"'}
        for c in cols:
            name = c.name
            if c.is_lookup:
                key = f"_{name}_value"
                v = row.get(name)
                if ann and v is not None:
                    target = row.get(name + "@t") or c.targets[0]
                    if prefer.wants("OData.Community.Display.V1.FormattedValue"):
                        t2 = TABLES[target]
                        other = self.state.rows[target].get(v, {})
                        out[key + "@OData.Community.Display.V1.FormattedValue"] = other.get(t2.primary_name or "")
                    if prefer.wants("Microsoft.Dynamics.CRM.associatednavigationproperty"):
                        out[key + "@Microsoft.Dynamics.CRM.associatednavigationproperty"] = c.navs.get(target, name)
                    if prefer.wants("Microsoft.Dynamics.CRM.lookuplogicalname"):
                        out[key + "@Microsoft.Dynamics.CRM.lookuplogicalname"] = target
                out[key] = v
            else:
                v = row.get(name)
                if ann and v is not None and c.options and prefer.wants("OData.Community.Display.V1.FormattedValue"):
                    out[name + "@OData.Community.Display.V1.FormattedValue"] = \
                        self.options_of(table, c).get(v, str(v))
                elif ann and isinstance(v, bool) and prefer.wants("OData.Community.Display.V1.FormattedValue"):
                    out[name + "@OData.Community.Display.V1.FormattedValue"] = "Yes" if v else "No"
                out[name] = v
        return out

    # ------------------------------------------------------------------ queries
    def resolver(self, table: Table) -> Callable[[str], tuple[Callable[[dict[str, Any]], Any], str]]:
        def resolve(name: str) -> tuple[Callable[[dict[str, Any]], Any], str]:
            if "/" in name:
                nav, _, attr = name.partition("/")
                navs = table.nav_map()
                if nav not in navs:
                    raise ODataError(f"Could not find a property named '{nav}' on type "
                                     f"'Microsoft.Dynamics.CRM.{table.logical}'.")
                col, target = navs[nav]
                inner, kind = self.resolver(TABLES[target])(attr)
                rows = self.state.rows[target]
                cname = col.name
                return (lambda r: None if (x := rows.get(r.get(cname) or "")) is None else inner(x)), kind
            cname = name[1:-6] if name.startswith("_") and name.endswith("_value") else name
            col = table.columns.get(cname)
            if col is None or not self.col_visible(col):
                raise ODataError(f"Could not find a property named '{name}' on type "
                                 f"'Microsoft.Dynamics.CRM.{table.logical}'.")
            return (lambda r: r.get(cname)), col.filter_kind
        return resolve

    def _filter(self, table: Table, text: str | None, aliases: dict[str, str]) -> Callable[[dict[str, Any]],
    bool] | None:
        if not text:
            return None
        try:
            return compile_filter(text, self.resolver(table), aliases, case_insensitive=True)
        except ODataError as e:
            raise _bad(str(e)) from None

    def _sort_key(self, table: Table, orderby: list[tuple[str, bool]]) -> Callable[[dict[str, Any]], Any] | None:
        if not orderby:
            return None
        getters = []
        for name, desc in orderby:
            try:
                g, _kind = self.resolver(table)(name)
            except ODataError as e:
                raise _bad(str(e)) from None
            getters.append((g, desc))
        pid = table.primary_id

        class _Rev:
            __slots__ = ("v",)

            def __init__(self, v: Any) -> None:
                self.v = v

            def __lt__(self, other: Any) -> bool:
                return bool(other.v < self.v)

            def __eq__(self, other: object) -> bool:
                return isinstance(other, _Rev) and self.v == other.v

        def key(r: dict[str, Any]) -> Any:
            parts: list[Any] = []
            for g, desc in getters:
                v = g(r)
                if isinstance(v, str):
                    v = v.lower()
                k = (0, 0) if v is None else (1, v)
                parts.append(_Rev(k) if desc else k)
            parts.append(r[pid])
            return tuple(parts)
        return key

    def _expands(self, query: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
        try:
            ex = parse_expand(query.get("$expand"))
        except ODataError as e:
            raise _bad(str(e)) from None
        if len(ex) > 15:
            raise _bad("The number of $expand options exceeds the maximum of 15.")
        return ex

    def _expand_value(self, table: Table, row: dict[str, Any], nav: str, opts: dict[str, str], ctx: Ctx) -> Any:
        navs = table.nav_map()
        if "$expand" in opts:
            raise _bad("Nested $expand is not supported by the emulator (single-level $expand only).", "0x80060888")
        if nav in navs:
            col, target = navs[nav]
            tgt = row.get(col.name + "@t") or target
            if len(col.targets) > 1 and col.type != "Owner" and tgt != target:
                return None
            val = row.get(col.name)
            other = self.state.rows[tgt].get(val or "")
            if other is None:
                return None
            t2 = TABLES[tgt]
            return self.render(t2, other, self._select_cols(t2, parse_select(opts.get("$select"))), ctx.prefer)
        if nav.endswith("/$ref"):
            raise _bad("Expand with $ref is only supported on lookup type navigation property.", "0x80060888")
        if self.collection_nav(table, nav) is None:
            raise _bad(f"Could not find a property named '{nav}' on type 'Microsoft.Dynamics.CRM.{table.logical}'.")
        t2 = TABLES[self.related_table(table, nav)]
        ids = self.related_ids(table, row[table.primary_id], nav)
        rows = [self.state.rows[t2.logical][i] for i in ids]
        pred = self._filter(t2, opts.get("$filter"), {})
        if pred:
            rows = [r for r in rows if pred(r)]
        key = self._sort_key(t2, parse_orderby(opts.get("$orderby")))
        if key:
            rows.sort(key=key)
        if opts.get("$top"):
            rows = rows[: int(opts["$top"])]
        cols = self._select_cols(t2, parse_select(opts.get("$select")))
        return [self.render(t2, r, cols, ctx.prefer) for r in rows]

    def count(self, table: Table, query: dict[str, str], ctx: Ctx) -> Response:
        aliases = {k: v for k, v in query.items() if k.startswith("@")}
        pred = self._filter(table, query.get("$filter"), aliases)
        rows = self.state.rows[table.logical].values()
        n = sum(1 for r in rows if pred is None or pred(r))
        return Response(200, str(min(n, 5000)).encode(), [("Content-Type", "text/plain"), ("OData-Version", "4.0")])

    def query(self, table: Table, query: dict[str, str], raw_query: str, ctx: Ctx,
              restrict: set[str] | None = None) -> Response:
        """Collection GET with paging and change tracking (protocols.md B7, B8)."""
        prefer = ctx.prefer
        maxpage = self.settings.dv_max_page_size
        page_size = maxpage if prefer.maxpagesize is None else max(1, min(prefer.maxpagesize, maxpage))
        aliases = {k: v for k, v in query.items() if k.startswith("@")}
        select_text = query.get("$select")
        select = self._select_cols(table, parse_select(select_text))
        expands = self._expands(query)
        applied: list[str] = []
        if prefer.maxpagesize is not None:
            applied.append(f"odata.maxpagesize={page_size}")
        if prefer.annotations:
            applied.append(f'odata.include-annotations="{prefer.annotations}"')
        delta = query.get("$deltatoken")
        tracking = prefer.track_changes or delta is not None
        if tracking:
            if not table.change_tracking:
                raise DVError(400, "0x80072491", f"Entity {table.logical} isn't enabled for change tracking.")
            for opt in ("$filter", "$orderby", "$expand", "$top"):
                if opt in query:
                    raise DVError(400, "0x80060888",
                                  f'The "{opt}" query parameter isn\'t supported when Change Tracking is enabled.')
            if prefer.track_changes:
                applied.append("odata.track-changes")
        ctx_sel = "(" + select_text + ")" if select_text else ""
        context = f"{self.base}$metadata#{table.entity_set}{ctx_sel}"
        skiptoken = query.get("$skiptoken")
        if delta is not None:
            return self._delta(table, delta, select, context, page_size, skiptoken, query, ctx, applied)
        ordered = self._ordered_ids(table, query, aliases, restrict)
        start = 0
        token_version = None
        if skiptoken:
            start, token_version = self._decode_skiptoken(skiptoken, ordered)
        top = query.get("$top")
        use_top = top is not None and prefer.maxpagesize is None and not skiptoken
        if use_top:
            try:
                n = int(top)  # type: ignore[arg-type]
            except ValueError:
                raise _bad(f"Invalid value '{top}' for $top.") from None
            page_ids = ordered[:n]
            more = False
        else:
            page_ids = ordered[start:start + page_size]
            more = start + page_size < len(ordered)
        rows = self.state.rows[table.logical]
        value = []
        for i in page_ids:
            r = rows.get(i)
            if r is None:
                continue
            item = self.render(table, r, select, prefer)
            for nav, opts in expands:
                item[nav] = self._expand_value(table, r, nav, opts, ctx)
            value.append(item)
        payload: dict[str, Any] = {"@odata.context": context}
        if query.get("$count") == "true":
            payload["@odata.count"] = min(len(ordered), 5000)
            if prefer.wants("Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"):
                payload["@Microsoft.Dynamics.CRM.totalrecordcount"] = -1
                payload["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] = len(ordered) > 5000
        payload["value"] = value
        if more:
            last = page_ids[-1] if page_ids else ""
            tok_ver = token_version if token_version is not None else (self.state.version if tracking else None)
            payload["@odata.nextLink"] = self._next_link(table, query, start + page_size, last, tok_ver)
        elif tracking:
            ver = token_version if token_version is not None else self.state.version
            payload["@odata.deltaLink"] = self._delta_link(table, query, ver)
        hdrs = [("OData-Version", "4.0")]
        if applied:
            hdrs.append(("Preference-Applied", ",".join(applied)))
        return json_response(200, payload, hdrs)

    def _ordered_ids(self, table: Table, query: dict[str, str], aliases: dict[str, str],
                     restrict: set[str] | None) -> list[str]:
        filt, orderby = query.get("$filter"), query.get("$orderby")
        ck = (table.logical, self.state.version, filt, orderby, tuple(sorted(aliases.items())),
              None if restrict is None else tuple(sorted(restrict)))
        hit = self._qcache.get(ck)
        if hit is not None:
            self._qcache.move_to_end(ck)
            return hit
        pred = self._filter(table, filt, aliases)
        try:
            key = self._sort_key(table, parse_orderby(orderby))
        except ODataError as e:
            raise _bad(str(e)) from None
        rows = self.state.rows[table.logical]
        if restrict is not None:
            items = [rows[i] for i in restrict if i in rows]
        else:
            items = list(rows.values())
        if pred is not None:
            items = [r for r in items if pred(r)]
        pid = table.primary_id
        if key is None:
            ids = sorted(r[pid] for r in items)
        else:
            items.sort(key=key)
            ids = [r[pid] for r in items]
        self._qcache[ck] = ids
        while len(self._qcache) > 16:
            self._qcache.popitem(last=False)
        return ids

    def _next_link(self, table: Table, query: dict[str, str], offset: int, last: str, version: int | None) -> str:
        cookie = base64.urlsafe_b64encode(json.dumps([offset, last, version]).encode()).decode()
        page = offset // max(1, offset) + 1
        token = (f'<cookie pagenumber="{page}" pagingcookie="{urllib.parse.quote(cookie)}" '
                 f'istracking="{"True" if version is not None else "False"}" />')
        q = {k: v for k, v in query.items() if k != "$skiptoken"}
        q["$skiptoken"] = token
        return f"{self.base}{table.entity_set}?" + urllib.parse.urlencode(q, quote_via=urllib.parse.quote, safe="$,'")

    def _decode_skiptoken(self, token: str, ordered: list[str]) -> tuple[int, int | None]:
        m = re.search(r'pagingcookie="([^"]*)"', token)
        try:
            assert m is not None
            offset, last, version = json.loads(base64.urlsafe_b64decode(urllib.parse.unquote(m.group(1))))
        except (AssertionError, ValueError, TypeError):
            raise _bad("The $skiptoken is invalid or has been tampered with.", "0x80040203") from None
        if 0 < offset <= len(ordered) and ordered[offset - 1] == last:
            return offset, version
        try:
            return ordered.index(last) + 1, version
        except ValueError:
            return offset, version

    def _delta_link(self, table: Table, query: dict[str, str], version: int) -> str:
        q = {k: v for k, v in query.items() if k not in ("$skiptoken", "$deltatoken")}
        q["$deltatoken"] = f"{version}!{now_iso()}"
        return f"{self.base}{table.entity_set}?" + urllib.parse.urlencode(q, quote_via=urllib.parse.quote, safe="$,'!:")

    def _delta(self, table: Table, token: str, select: list[Col], context: str, page_size: int,
               skiptoken: str | None, query: dict[str, str], ctx: Ctx, applied: list[str]) -> Response:
        try:
            since = int(token.split("!", 1)[0])
        except ValueError:
            raise DVError(400, "0x80072491", "The delta token is invalid or has expired; a full synchronization "
                          "is required.") from None
        rows = self.state.rows[table.logical]
        changed = sorted((r for r in rows.values() if r["versionnumber"] > since), key=lambda r: r["versionnumber"])
        deleted = sorted(((v, i) for i, v in self.state.tombstones[table.logical].items() if v > since))
        entries: list[tuple[str, Any]] = [("row", r) for r in changed] + [("del", i) for _v, i in deleted]
        start, snap = 0, self.state.version
        if skiptoken:
            m = re.search(r'pagingcookie="([^"]*)"', skiptoken)
            try:
                assert m is not None
                start, _last, snap = json.loads(base64.urlsafe_b64decode(urllib.parse.unquote(m.group(1))))
            except (AssertionError, ValueError, TypeError):
                raise _bad("The $skiptoken is invalid.", "0x80040203") from None
        page = entries[start:start + page_size]
        value: list[dict[str, Any]] = []
        for kind, item in page:
            if kind == "row":
                value.append(self.render(table, item, select, ctx.prefer))
            else:
                value.append({"@odata.context": f"{self.base}$metadata#{table.entity_set}/$deletedEntity",
                              "id": item, "reason": "deleted"})
        payload: dict[str, Any] = {"@odata.context": context + "/$delta", "value": value}
        if start + page_size < len(entries):
            payload["@odata.nextLink"] = self._next_link(table, query, start + page_size, "", snap)
        else:
            payload["@odata.deltaLink"] = self._delta_link(table, query, snap)
        hdrs = [("OData-Version", "4.0")]
        if applied:
            hdrs.append(("Preference-Applied", ",".join(applied)))
        return json_response(200, payload, hdrs)

    # ------------------------------------------------------------------ bulk messages (protocols.md B10)
    def bulk(self, table: Table, message: str, body: Any, ctx: Ctx) -> Response:
        if message not in ("CreateMultiple", "UpdateMultiple", "UpsertMultiple", "DeleteMultiple"):
            raise DVError(404, "0x80060888", f"Resource not found for the segment 'Microsoft.Dynamics.CRM.{message}'.")
        if message == "DeleteMultiple":
            raise DVError(400, "0x80040219", "DeleteMultiple has not yet been implemented.")
        if not table.bulk:
            raise DVError(400, "0x80040203", f"The '{message}' message is not supported for entity '{table.logical}'.")
        targets = body.get("Targets") if isinstance(body, dict) else None
        if not isinstance(targets, list):
            raise _bad("The 'Targets' parameter is required.", "0x80040203")
        expected = f"Microsoft.Dynamics.CRM.{table.logical}"
        ids: list[str] = []
        for i, tgt in enumerate(targets):
            if not isinstance(tgt, dict):
                raise _bad("Each target must be a JSON object.", "0x80040203")
            otype = (tgt.get("@odata.type") or "").lstrip("#")
            if otype != expected:
                raise _bad(f"The '@odata.type' property is required on every target and must be '{expected}' "
                           f"(target {i} has '{otype}').", "0x80040203")
            pid = tgt.get(table.primary_id)
            if message == "CreateMultiple":
                ids.append(self.create_row(table, tgt, ctx))
                continue
            if message == "UpdateMultiple":
                if not pid:
                    raise _bad(f"The primary key '{table.primary_id}' is required for UpdateMultiple.", "0x80040203")
                rid = str(pid).lower()
                if rid not in self.state.rows[table.logical]:
                    raise not_exist(table.logical, rid)
                self.update_row(table, rid, {k: v for k, v in tgt.items() if k != table.primary_id}, ctx)
                continue
            key: Any = str(pid).lower() if pid else None
            if key is None and tgt.get("@odata.id"):
                _name, key = parse_segment(str(tgt["@odata.id"]).rsplit("/", 1)[-1])
            if key is None:
                raise _bad("UpsertMultiple targets need the primary key or an '@odata.id' alternate key reference.",
                           "0x80040203")
            rid = self.resolve_key(table, key, must_exist=False)
            if rid is not None and rid in self.state.rows[table.logical]:
                self.update_row(table, rid, {k: v for k, v in tgt.items() if k != table.primary_id}, ctx)
            else:
                data = dict(tgt)
                if isinstance(key, dict):
                    for k, v in key.items():
                        data.setdefault(k, v)
                self.create_row(table, data, ctx, rid=key if isinstance(key, str) else None)
        if message == "CreateMultiple":
            return json_response(200, {"@odata.context": self.base +
                                       "$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse", "Ids": ids},
                                 [("OData-Version", "4.0")])
        return Response(204, headers=[("OData-Version", "4.0")])

    # ------------------------------------------------------------------ ImportSolution (protocols.md B11)
    def import_solution(self, body: Any, ctx: Ctx, *, asynchronous: bool) -> Response:
        """Record the solution and create its security roles / alternate keys.

        Accepted ``CustomizationFile``: base64 of a zip holding ``solution.xml``
        (``ImportExportXml/SolutionManifest/UniqueName``, ``Version``, ``Managed``) and optionally
        ``customizations.xml`` with ``Roles/Role[@id,@name]`` and ``EntityKeys/EntityKey``
        (``LogicalName``, ``EntityKeyAttributes/AttributeName``) under ``entity[@Name]``.  Importing
        ``MicrosoftDynamicsNavIntegration`` without roles creates BC's two integration roles with their
        well-known ids (business-central-integration.md §1.5) and enables ``nav_connection`` and
        ``nav_accountstatistics``.
        """
        if not isinstance(body, dict):
            raise _bad("Invalid request body.", "0x80040203")
        for p in ("OverwriteUnmanagedCustomizations", "PublishWorkflows"):
            if p not in body:
                raise _bad(f"Required parameter '{p}' is missing for action ImportSolution.", "0x80040203")
        try:
            raw = base64.b64decode(body.get("CustomizationFile") or "", validate=True)
            zf = zipfile.ZipFile(io.BytesIO(raw))
            manifest = ET.fromstring(zf.read("solution.xml"))
        except (ValueError, KeyError, zipfile.BadZipFile, ET.ParseError):
            raise DVError(400, "0x80048060", "The import file is invalid: CustomizationFile must be a base64 "
                          "solution zip containing solution.xml.") from None
        unique = (manifest.findtext(".//SolutionManifest/UniqueName") or "").strip()
        if not unique:
            raise DVError(400, "0x80048060", "The import file is invalid: solution.xml has no UniqueName.")
        version = (manifest.findtext(".//SolutionManifest/Version") or "1.0.0.0").strip()
        managed = (manifest.findtext(".//SolutionManifest/Managed") or "0").strip() in ("1", "true")
        friendly = manifest.find(".//SolutionManifest/LocalizedNames/LocalizedName")
        roles: list[tuple[str, str]] = []
        keys: list[tuple[str, str, list[str]]] = []
        if "customizations.xml" in zf.namelist():
            try:
                cust = ET.fromstring(zf.read("customizations.xml"))
            except ET.ParseError:
                raise DVError(400, "0x80048060", "The import file is invalid: customizations.xml is not XML.") from None
            for r in cust.iter("Role"):
                rid = (r.get("id") or "").strip("{}").lower() or str(uuid.uuid4())
                if r.get("name"):
                    roles.append((rid, r.get("name") or ""))
            for ent in cust.iter("entity"):
                ename = (ent.get("Name") or "").lower()
                for k in ent.iter("EntityKey"):
                    attrs = [a.text.strip().lower() for a in k.iter("AttributeName") if a.text]
                    kname = (k.findtext("LogicalName") or k.findtext("Name") or "").strip()
                    if ename and attrs and kname:
                        keys.append((ename, kname, attrs))
        if unique == S.NAV_SOLUTION and not roles:
            roles = [(S.INTEGRATION_ADMIN_ROLE_ID, "Integration Administrator"),
                     (S.INTEGRATION_USER_ROLE_ID, "Integration User")]
        sol_rows = self.state.rows["solution"]
        existing = next((i for i, r in sol_rows.items() if (r.get("uniquename") or "").lower() == unique.lower()), None)
        sol_id = existing or S.stable_id("solution", unique.lower())
        now = now_iso()
        row = dict(sol_rows.get(sol_id) or {"solutionid": sol_id, "createdon": now, "createdby": ctx.caller_id})
        row.update({"uniquename": unique, "version": version, "ismanaged": managed, "installedon": now,
                    "friendlyname": friendly.get("description") if friendly is not None else unique,
                    "modifiedon": now, "modifiedby": ctx.caller_id, "versionnumber": self.store.next_version()})
        self.store.put(ctx.txn, "solution", sol_id, row)
        self.state.solutions.add(unique)
        bu = self.state.root_bu_id
        for rid, name in roles:
            if rid in self.state.rows["role"]:
                continue
            rrow = {"roleid": rid, "name": name, "businessunitid": bu, "parentrootroleid": rid, "ismanaged": managed,
                    "solutionid": sol_id, "createdon": now, "modifiedon": now, "createdby": ctx.caller_id,
                    "modifiedby": ctx.caller_id, "organizationid": self.state.org_id,
                    "versionnumber": self.store.next_version()}
            self.store.put(ctx.txn, "role", rid, rrow)
        for ename, kname, attrs in keys:
            if ename in TABLES:
                self.add_key(TABLES[ename], kname, attrs)
        self._metadata_cache.clear()
        if asynchronous:
            return json_response(200, {"@odata.context": self.base +
                                       "$metadata#Microsoft.Dynamics.CRM.ImportSolutionAsyncResponse",
                                       "AsyncOperationId": str(uuid.uuid4()),
                                       "ImportJobKey": body.get("ImportJobId") or str(uuid.uuid4())})
        return Response(204, headers=[("OData-Version", "4.0")])

    def add_key(self, table: Table, schema_name: str, attrs: list[str]) -> dict[str, Any]:
        """Define an alternate key (active at once); raises 400 on unknown columns or duplicate values."""
        for a in attrs:
            if a not in table.columns:
                raise _bad(f"The attribute '{a}' does not exist on entity '{table.logical}'.", "0x80040203")
        keys = self.state.keys.setdefault(table.logical, [])
        for k in keys:
            if k["SchemaName"].lower() == schema_name.lower():
                return k
        seen: dict[tuple[Any, ...], str] = {}
        for rid, r in self.state.rows[table.logical].items():
            kv = self.store.key_of(r, tuple(attrs))
            if kv is not None and kv in seen:
                raise DVError(400, "0x80060892", f"Entity Key {schema_name} cannot be activated: duplicate values "
                              f"exist for {','.join(attrs)}.")
            if kv is not None:
                seen[kv] = rid
        key = {"SchemaName": schema_name, "LogicalName": schema_name.lower(), "KeyAttributes": list(attrs),
               "MetadataId": S.stable_id("key", table.logical, schema_name.lower()), "EntityLogicalName": table.logical,
               "EntityKeyIndexStatus": "Active"}
        keys.append(key)
        self.store.rebuild_indexes()
        return key

    # ------------------------------------------------------------------ $batch (protocols.md B9)
    def batch(self, req: Request, ctx: Ctx) -> Response:
        ctype = req.headers.get("content-type") or ""
        m = re.search(r'boundary="?([^";]+)"?', ctype)
        if "multipart/mixed" not in ctype.lower() or not m:
            raise _bad("The batch request must be multipart/mixed with a boundary.", "0x80040203")
        parts = _split_multipart(req.body, m.group(1))
        total = sum(len(p[2]) if p[0] == "changeset" else 1 for p in parts)
        if total > self.settings.dv_max_batch:
            raise _bad(f"The number of requests in the batch ({total}) exceeds the limit of "
                       f"{self.settings.dv_max_batch}.", "0x80040203")
        out_boundary = f"batchresponse_{uuid.uuid4()}"
        chunks: list[bytes] = []
        content_ids: dict[str, str] = {}
        stop = False
        for part in parts:
            if stop:
                break
            if part[0] == "changeset":
                txn = Txn()
                responses: list[tuple[str | None, Response]] = []
                failed: Response | None = None
                for cid, inner in part[2]:
                    sub = Ctx(ctx.caller_id, ctx.real_caller_id, txn, Prefer.parse(inner.headers.get("prefer")),
                              inner.headers, content_ids)
                    resp = self._run_inner(inner, sub)
                    if resp.status >= 400:
                        failed = resp
                        break
                    if cid:
                        loc = resp.header("OData-EntityId") or resp.header("Location")
                        if loc:
                            content_ids[cid] = loc
                    responses.append((cid, resp))
                if failed is not None:
                    self.store.rollback(txn)
                    self._qcache.clear()
                    chunks.append(_http_part(out_boundary, failed, None))
                    if not ctx.prefer.continue_on_error:
                        stop = True
                    continue
                cs = f"changesetresponse_{uuid.uuid4()}"
                inner_parts = b"".join(_http_part(cs, r, cid) for cid, r in responses)
                chunks.append((f"--{out_boundary}\r\nContent-Type: multipart/mixed; boundary={cs}\r\n\r\n").encode()
                              + inner_parts + f"--{cs}--\r\n".encode())
            else:
                inner = part[1]
                sub = Ctx(ctx.caller_id, ctx.real_caller_id, Txn(), Prefer.parse(inner.headers.get("prefer")),
                          inner.headers, content_ids)
                resp = self._run_inner(inner, sub)
                if resp.status >= 400:
                    self.store.rollback(sub.txn)
                    if not ctx.prefer.continue_on_error:
                        stop = True
                chunks.append(_http_part(out_boundary, resp, None))
        body = b"".join(chunks) + f"--{out_boundary}--\r\n".encode()
        return Response(200, body, [("Content-Type", f"multipart/mixed; boundary={out_boundary}"),
                                    ("OData-Version", "4.0")])

    def _run_inner(self, inner: Request, ctx: Ctx) -> Response:
        path = inner.path
        if "://" in path:
            path = urllib.parse.urlsplit(path).path
        rel = path[len(API_PREFIX):] if path.startswith(API_PREFIX) else path.lstrip("/")
        if rel.startswith("$") and rel != "$batch":
            num, _, rest = rel[1:].partition("/")
            if num in ctx.content_ids:
                target = urllib.parse.urlsplit(ctx.content_ids[num]).path
                rel = target[len(API_PREFIX):] + ("/" + rest if rest else "")
        body = inner.body
        if ctx.content_ids and body and b'"$' in body:
            text = body.decode("utf-8")
            for num, url in sorted(ctx.content_ids.items(), key=lambda kv: -len(kv[0])):
                text = text.replace(f'"${num}"', json.dumps(url))
            body = text.encode("utf-8")
        try:
            return self.dispatch(inner.method, rel, inner.query, inner.raw_query, inner.headers, body, ctx)
        except Exception as exc:  # noqa: BLE001 - every failure becomes this part's error response (rolled back)
            return self.error_response(_as_dv_error(exc))

    # ------------------------------------------------------------------ metadata (protocols.md B17)
    def entity_metadata(self, t: Table) -> dict[str, Any]:
        label = _label(t.display)
        return {"MetadataId": t.metadata_id, "LogicalName": t.logical, "SchemaName": _schema_name(t.logical),
                "EntitySetName": t.entity_set, "LogicalCollectionName": t.entity_set,
                "CollectionSchemaName": _schema_name(t.logical) + "s",
                "PrimaryIdAttribute": t.primary_id, "PrimaryNameAttribute": t.primary_name,
                "PrimaryImageAttribute": None, "ObjectTypeCode": t.object_type_code,
                "OwnershipType": {"UserOwned": "UserOwned", "OrganizationOwned": "OrganizationOwned",
                                  "BusinessOwned": "BusinessOwned"}.get(t.ownership, "None"),
                "ChangeTrackingEnabled": t.change_tracking,
                "CanChangeTrackingBeEnabled": {"Value": True, "CanBeChanged": True,
                                               "ManagedPropertyLogicalName": "canchangetrackingbeenabled"},
                "IsCustomEntity": t.logical.startswith("nav_"), "IsManaged": t.logical.startswith("nav_"),
                "IsActivity": False, "IsIntersect": False, "IsValidForAdvancedFind": True,
                "IsOptimisticConcurrencyEnabled": True, "HasActivities": False, "HasNotes": True,
                "DisplayName": label, "DisplayCollectionName": _label(t.display + "s"),
                "Description": _label(""), "IsLogicalEntity": False}

    # ------------------------------------------------------------------ option sets (picklists)
    def options_of(self, t: Table, c: Col) -> dict[int, str]:
        """The current options {value: label} of a picklist column: the organization's changed option set
        (``InsertOptionValue`` & co.) or the schema's standard options of a fresh org (protocols.md C7)."""
        changed = getattr(self.state, "option_sets", None) or {}
        return changed.get(f"{t.logical}.{c.name}", c.options)

    def option_action(self, name: str, body: Any) -> Response:
        """``InsertOptionValue`` / ``UpdateOptionValue`` / ``DeleteOptionValue`` on a local option set.

        Body: ``EntityLogicalName``, ``AttributeLogicalName``, ``Value`` (Insert: optional; Update/Delete:
        required), ``Label`` ({"LocalizedLabels": [{"Label", "LanguageCode"}]}; Insert/Update), ``MergeLabels``.
        Insert without ``Value`` takes the next free value from the default publisher's option value prefix
        (:data:`OPTION_VALUE_PREFIX` * 10000 = 100000000, as a fresh org's default publisher does); a duplicate
        label is allowed, a duplicate value is 400 ``0x80040203``.  Returns 200 ``{"NewOptionValue": n}`` for
        Insert, 204 for Update/Delete.  Global option sets (``OptionSetName``) are not modelled: 404."""
        if not isinstance(body, dict):
            raise _bad("The request body must be a JSON object.", "0x80040203")
        if body.get("OptionSetName"):
            raise DVError(404, "0x80040217", f"Could not find optionset with name {body['OptionSetName']!r}.")
        entity, attribute = body.get("EntityLogicalName"), body.get("AttributeLogicalName")
        if not isinstance(entity, str) or not isinstance(attribute, str) or not entity or not attribute:
            raise _bad(f"{name}: EntityLogicalName and AttributeLogicalName are required for a local option set.",
                       "0x80040203")
        t = TABLES.get(entity.lower())
        if t is None or not self.visible(t):
            raise DVError(404, "0x80040217", f"Could not find entity with name {entity!r}.")
        c = t.columns.get(attribute.lower())
        if c is None or not self.col_visible(c):
            raise DVError(404, "0x80040217", f"Could not find attribute {attribute!r} on entity {t.logical}.")
        if c.type != "Picklist" or not c.options:
            raise _bad(f"Attribute {c.name!r} of entity {t.logical!r} is of type {c.type}, not a picklist; "
                       f"{name} applies to picklist attributes.", "0x80040203")
        value = body.get("Value")
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or not 0 <= value <= 2147483647):
            raise _bad(f"{name}: Value must be an integer between 0 and 2147483647, not {value!r}.", "0x80040203")
        current = dict(self.options_of(t, c))
        label = _label_text(body.get("Label"))
        if name == "InsertOptionValue":
            if label is None:
                raise _bad("InsertOptionValue: Label with at least one LocalizedLabels entry is required.",
                           "0x80040203")
            if value is None:
                value = OPTION_VALUE_PREFIX * 10000
                while value in current:
                    value += 1
            elif value in current:
                raise _bad(f"The value {value} is already used by the option {current[value]!r} of attribute "
                           f"{c.name!r} on entity {t.logical!r}. Option values must be unique within an option "
                           "set.", "0x80040203")
            current[value] = label
        else:
            if value is None:
                raise _bad(f"{name}: Value is required.", "0x80040203")
            if value not in current:
                raise DVError(404, "0x80040217", f"The option value {value} was not found in the option set of "
                              f"attribute {c.name!r} on entity {t.logical!r}.")
            if name == "DeleteOptionValue":
                del current[value]
            else:
                if label is None:
                    raise _bad("UpdateOptionValue: Label with at least one LocalizedLabels entry is required.",
                               "0x80040203")
                current[value] = label
        if getattr(self.state, "option_sets", None) is None:
            self.state.option_sets = {}
        self.state.option_sets[f"{t.logical}.{c.name}"] = current
        if name == "InsertOptionValue":
            return json_response(200, {"@odata.context": self.base +
                                       "$metadata#Microsoft.Dynamics.CRM.InsertOptionValueResponse",
                                       "NewOptionValue": value})
        return Response(204, headers=[("OData-Version", "4.0")])

    def attribute_metadata(self, t: Table, c: Col, with_options: bool = False) -> dict[str, Any]:
        odata_type = {"String": "String", "Memo": "Memo", "Integer": "Integer", "BigInt": "BigInt",
                      "Decimal": "Decimal", "Money": "Money", "Double": "Double", "Boolean": "Boolean",
                      "DateTime": "DateTime", "Picklist": "Picklist", "State": "State", "Status": "Status",
                      "Uniqueidentifier": "UniqueIdentifier", "Lookup": "Lookup", "Customer": "Lookup",
                      "Owner": "Lookup", "EntityName": "EntityName"}[c.type]
        d: dict[str, Any] = {
            "@odata.type": f"#Microsoft.Dynamics.CRM.{odata_type}AttributeMetadata",
            "MetadataId": S.stable_id("attr", t.logical, c.name), "LogicalName": c.name,
            "SchemaName": c.name, "EntityLogicalName": t.logical, "AttributeType": c.type,
            "AttributeTypeName": {"Value": ("UniqueidentifierType" if c.type == "Uniqueidentifier" else
                                            c.type + "Type")},
            "IsPrimaryId": c.name == t.primary_id, "IsPrimaryName": c.name == t.primary_name,
            "IsValidForCreate": c.create and not c.read_only, "IsValidForUpdate": c.update and not c.read_only,
            "IsValidForRead": True, "IsCustomAttribute": c.name.startswith("nav_"), "AttributeOf": None,
            "IsLogical": False, "IsValidODataAttribute": True,
            "RequiredLevel": {"Value": c.required, "CanBeChanged": c.required != "SystemRequired",
                              "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings"},
            "DisplayName": _label(c.name.replace("_", " ").title()), "Description": _label(""),
        }
        if c.max_length is not None:
            d["MaxLength"] = c.max_length
        if c.is_lookup:
            d["Targets"] = list(c.targets)
        if c.type == "DateTime":
            d["Format"] = "DateOnly" if c.date_only else "DateAndTime"
            d["DateTimeBehavior"] = {"Value": "DateOnly" if c.date_only else "UserLocal"}
        if c.minimum is not None:
            d["MinValue"] = c.minimum
            d["MaxValue"] = c.maximum
        if with_options and c.options:
            opts = []
            for v, lbl in sorted(self.options_of(t, c).items()) if c.type == "Picklist" else c.options.items():
                o: dict[str, Any] = {"Value": v, "Label": _label(lbl)}
                if c.type == "Status":
                    o["State"] = next((s for s, x in t.states.items() if v in x[1]), None)
                if c.type == "State":
                    o["DefaultStatus"] = t.states[v][0]
                opts.append(o)
            d["OptionSet"] = {"MetadataId": S.stable_id("os", t.logical, c.name), "Name": f"{t.logical}_{c.name}",
                              "IsGlobal": False, "OptionSetType": c.type if c.type != "Picklist" else "Picklist",
                              "Options": opts}
            if c.type == "Picklist":
                d["GlobalOptionSet"] = None  # the integration's picklists use local option sets
        return d

    def relationships(self, t: Table, kind: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if kind == "ManyToManyRelationships":
            for name, (e1, e2) in MANY_TO_MANY.items():
                if t.logical in (e1, e2):
                    out.append({"MetadataId": S.stable_id("rel", name), "SchemaName": name,
                                "RelationshipType": "ManyToManyRelationship", "Entity1LogicalName": e1,
                                "Entity2LogicalName": e2, "IntersectEntityName": name.split("_")[0],
                                "Entity1NavigationPropertyName": name, "Entity2NavigationPropertyName": name,
                                "Entity1IntersectAttribute": e1 + "id", "Entity2IntersectAttribute": e2 + "id"})
            return out
        pairs: list[tuple[Table, Col, str]] = []
        if kind == "OneToManyRelationships":
            for child, col in self.refs.get(t.logical, []):
                if self.visible(TABLES[child]) and self.col_visible(col):
                    pairs.append((TABLES[child], col, t.logical))
        else:
            for c in t.columns.values():
                if self.col_visible(c):
                    for target in c.targets:
                        if self.visible(TABLES[target]):
                            pairs.append((t, c, target))
        for child, col, target in pairs:
            rel = col.rels.get(target, f"{target}_{child.logical}_{col.name}")
            out.append({"MetadataId": S.stable_id("rel", rel), "SchemaName": rel,
                        "RelationshipType": "OneToManyRelationship",
                        "ReferencedEntity": target, "ReferencedAttribute": target + "id",
                        "ReferencingEntity": child.logical, "ReferencingAttribute": col.name,
                        "ReferencedEntityNavigationPropertyName": rel,
                        "ReferencingEntityNavigationPropertyName": col.navs.get(target, col.name),
                        "IsCustomRelationship": False, "IsValidForAdvancedFind": True,
                        "CascadeConfiguration": {"Assign": "NoCascade", "Share": "NoCascade", "Unshare": "NoCascade",
                                                 "Reparent": "NoCascade", "Merge": "NoCascade",
                                                 "Delete": {"cascade": "Cascade", "restrict": "Restrict"}.get(
                                                     col.on_delete, "RemoveLink")}})
        return out

    def entity_definitions(self, method: str, segs: list[str], query: dict[str, str], body: bytes, ctx: Ctx
                           ) -> Response:
        name, key = parse_segment(segs[0])
        if name != "EntityDefinitions":
            raise DVError(404, "0x80060888", f"Resource not found for the segment '{segs[0]}'.")
        visible = [t for t in TABLES.values() if self.visible(t)]
        base_ctx = self.base + "$metadata#EntityDefinitions"
        if key is None:
            if len(segs) > 1 or method != "GET":
                raise DVError(405, "0x80040315", "This action is not supported.")
            items = [self.entity_metadata(t) for t in visible]
            return self._meta_collection(items, query, base_ctx, visible, expand_ok=True)
        t = self._find_entity(visible, key)
        if len(segs) == 1:
            if method != "GET":
                raise DVError(405, "0x80040315", "This action is not supported.")
            item = self.entity_metadata(t)
            item = self._meta_expand(t, item, query)
            return json_response(200, {"@odata.context": base_ctx + "/$entity", **_meta_select(item, query)})
        sub, subkey = parse_segment(segs[1])
        if sub == "Attributes":
            with_options = "OptionSet" in (query.get("$expand") or "") or (len(segs) > 2 and "Picklist" in segs[-1]) \
                or (len(segs) > 2 and ("State" in segs[-1] or "Status" in segs[-1]))
            cols = [c for c in t.columns.values() if self.col_visible(c)]
            if len(segs) > 2 and segs[-1].startswith("Microsoft.Dynamics.CRM."):
                wanted = segs[-1].split(".")[-1].replace("AttributeMetadata", "")
                cols = [c for c in cols if self.attribute_metadata(t, c)["@odata.type"].endswith(
                    "." + wanted + "AttributeMetadata")]
            if subkey is not None:
                lname = subkey.get("LogicalName") if isinstance(subkey, dict) else None
                match = [c for c in cols if (lname and c.name == lname) or
                         (isinstance(subkey, str) and S.stable_id("attr", t.logical, c.name) == subkey)]
                if not match:
                    raise DVError(404, "0x80040217", f"Could not find attribute {subkey} on entity {t.logical}.")
                item = self.attribute_metadata(t, match[0], with_options)
                return json_response(200, {"@odata.context": base_ctx + f"('{t.metadata_id}')/Attributes/$entity",
                                           **_meta_select(item, query)})
            items = [self.attribute_metadata(t, c, with_options) for c in cols]
            return self._meta_collection(items, query, base_ctx + f"('{t.metadata_id}')/Attributes", visible)
        if sub == "Keys":
            if method == "POST":
                data = self._json(body)
                schema = data.get("SchemaName") if isinstance(data, dict) else None
                attrs = data.get("KeyAttributes") if isinstance(data, dict) else None
                if not schema or not isinstance(attrs, list) or not attrs:
                    raise _bad("SchemaName and KeyAttributes are required to create an entity key.", "0x80040203")
                k = self.add_key(t, schema, [str(a).lower() for a in attrs])
                url = f"{self.base}EntityDefinitions({t.metadata_id})/Keys({k['MetadataId']})"
                return Response(204, headers=[("OData-Version", "4.0"), ("OData-EntityId", url)])
            items = [dict(k) for k in self.state.keys.get(t.logical, [])]
            return self._meta_collection(items, query, base_ctx + f"('{t.metadata_id}')/Keys", visible)
        if sub in ("OneToManyRelationships", "ManyToOneRelationships", "ManyToManyRelationships"):
            return self._meta_collection(self.relationships(t, sub), query, base_ctx + f"('{t.metadata_id}')/{sub}",
                                         visible)
        raise DVError(404, "0x80060888", f"Resource not found for the segment '{segs[1]}'.")

    def _find_entity(self, visible: list[Table], key: Any) -> Table:
        for t in visible:
            if (isinstance(key, dict) and key.get("LogicalName") == t.logical) or \
                    (isinstance(key, str) and key.lower() == t.metadata_id):
                return t
        raise DVError(404, "0x80040217", f"Could not find an entity with key {key}.")

    def _meta_expand(self, t: Table, item: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        for nav, _opts in parse_expand(query.get("$expand")):
            if nav == "Attributes":
                item["Attributes"] = [_meta_select(self.attribute_metadata(t, c), _opts)
                                      for c in t.columns.values() if self.col_visible(c)]
            elif nav == "Keys":
                item["Keys"] = [dict(k) for k in self.state.keys.get(t.logical, [])]
            elif nav in ("OneToManyRelationships", "ManyToOneRelationships", "ManyToManyRelationships"):
                item[nav] = self.relationships(t, nav)
        return item

    def _meta_collection(self, items: list[dict[str, Any]], query: dict[str, str], context: str,
                         visible: list[Table], expand_ok: bool = False) -> Response:
        aliases = {k: v for k, v in query.items() if k.startswith("@")}
        filt = query.get("$filter")
        if filt:
            def resolve(name: str) -> tuple[Callable[[dict[str, Any]], Any], str]:
                path = name.split("/")

                def g(r: dict[str, Any]) -> Any:
                    v: Any = r
                    for p in path:
                        v = v.get(p) if isinstance(v, dict) else None
                    return v
                return g, "any"
            try:
                pred = compile_filter(filt, resolve, aliases)
            except ODataError as e:
                raise _bad(str(e)) from None
            items = [i for i in items if pred(i)]
        if expand_ok and query.get("$expand"):
            by_name = {t.logical: t for t in visible}
            items = [self._meta_expand(by_name[i["LogicalName"]], i, query) for i in items]
        return json_response(200, {"@odata.context": context, "value": [_meta_select(i, query) for i in items]})

    def metadata(self, query: dict[str, str]) -> Response:
        annotations = query.get("annotations") == "true"
        ck = (annotations, tuple(sorted(self.state.solutions)))
        body = self._metadata_cache.get(ck)
        if body is None:
            body = _csdl([t for t in TABLES.values() if self.visible(t)], self, annotations).encode("utf-8")
            self._metadata_cache[ck] = body
        return Response(200, body, [("Content-Type", "application/xml"), ("OData-Version", "4.0")])


def privilege_name(verb: str, logical: str) -> str:
    """Dataverse's privilege name ``prv<Verb><Entity schema name>`` (e.g. prvReadAccount, prvWriteUser)."""
    return f"prv{verb}{_PRIVILEGE_NAMES.get(logical) or _schema_name(logical)}"


@functools.cache
def all_privileges() -> frozenset[str]:
    """Every privilege the emulator knows: Create, Read, Write, Delete, Append, AppendTo on each emulated table
    (plus Assign and Share on user-owned tables), Read on 'entity' (metadata) and 'solution', and
    prvImportCustomization."""
    names = {"prvImportCustomization", privilege_name("Read", "entity"), privilege_name("Read", "solution")}
    for t in TABLES.values():
        verbs = ("Create", "Read", "Write", "Delete", "Append", "AppendTo")
        if t.ownership == "UserOwned":
            verbs += ("Assign", "Share")
        names.update(privilege_name(verb, t.logical) for verb in verbs)
    return frozenset(names)


#: Privilege names that differ from the table's schema name (``prvReadUser``, not ``prvReadSystemUser``).
_PRIVILEGE_NAMES = {"systemuser": "User", "uomschedule": "UoMSchedule", "uom": "UoM", "pricelevel": "PriceLevel",
                    "productpricelevel": "ProductPriceLevel", "salesorder": "SalesOrder",
                    "salesorderdetail": "SalesOrderDetail", "invoicedetail": "InvoiceDetail",
                    "transactioncurrency": "TransactionCurrency", "businessunit": "BusinessUnit"}


def _as_dv_error(exc: BaseException) -> DVError:
    """Map any failure inside a request to the Web API error it answers with.

    ``DVError`` passes through; an OData syntax error (bad key literal, bad URL) is 400 ``0x80060888``
    (protocols.md B13); anything else is 500 ``0x80040216`` (the caller has already rolled back).
    Non-``Exception`` exits (``KeyboardInterrupt``, ``SystemExit``) are re-raised unchanged."""
    if isinstance(exc, DVError):
        return exc
    if isinstance(exc, ODataError):
        return _bad(str(exc))
    if not isinstance(exc, Exception):
        raise exc
    import traceback

    traceback.print_exception(exc)
    return DVError(500, "0x80040216", f"An unexpected error occurred: {exc}")


def _label_text(label: Any) -> str | None:
    """The text of a Label complex type (its first non-empty ``LocalizedLabels`` entry), ``None`` when absent."""
    if not isinstance(label, dict):
        return None
    for lbl in label.get("LocalizedLabels") or []:
        if isinstance(lbl, dict) and isinstance(lbl.get("Label"), str) and lbl["Label"].strip():
            return lbl["Label"]
    return None


def _label(text: str) -> dict[str, Any]:
    lbl = {"Label": text, "LanguageCode": 1033, "IsManaged": True,
           "MetadataId": str(uuid.uuid5(uuid.NAMESPACE_OID, "label:" + text)), "HasChanged": None}
    return {"LocalizedLabels": [lbl], "UserLocalizedLabel": lbl}


_SCHEMA_NAMES = {"salesorder": "SalesOrder", "salesorderdetail": "SalesOrderDetail", "invoicedetail": "InvoiceDetail",
                 "transactioncurrency": "TransactionCurrency", "uom": "UoM", "uomschedule": "UoMSchedule",
                 "pricelevel": "PriceLevel", "productpricelevel": "ProductPriceLevel", "systemuser": "SystemUser",
                 "businessunit": "BusinessUnit", "roletemplate": "RoleTemplate", "sdkmessage": "SdkMessage",
                 "sdkmessagefilter": "SdkMessageFilter"}


def _schema_name(logical: str) -> str:
    if logical.startswith("nav_"):
        return logical
    return _SCHEMA_NAMES.get(logical, logical.capitalize())


def _meta_select(item: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    """Apply ``$select`` to one metadata item, keeping what ``$expand`` names (``Attributes``, ``Keys``,
    ``OptionSet``, ``GlobalOptionSet`` ...) and applying an expansion's own ``$select``
    (``$expand=OptionSet($select=Options)``, protocols.md B17)."""
    try:
        expands = dict(parse_expand(query.get("$expand")))
    except ODataError as e:
        raise _bad(str(e)) from None
    for nav, opts in expands.items():
        sub = item.get(nav)
        if isinstance(sub, dict) and opts.get("$select"):
            item = {**item, nav: _meta_select(sub, opts)}
    sel = parse_select(query.get("$select"))
    if sel is None:
        return item
    keep = set(sel) | {"MetadataId", "@odata.type"} | {k for k in item if k in expands}
    return {k: v for k, v in item.items() if k in keep}


_EDM = {"String": "Edm.String", "Memo": "Edm.String", "EntityName": "Edm.String", "Integer": "Edm.Int32",
        "Picklist": "Edm.Int32", "State": "Edm.Int32", "Status": "Edm.Int32", "BigInt": "Edm.Int64",
        "Decimal": "Edm.Decimal", "Money": "Edm.Decimal", "Double": "Edm.Double", "Boolean": "Edm.Boolean",
        "DateTime": "Edm.DateTimeOffset", "Uniqueidentifier": "Edm.Guid"}


def _csdl(tables: list[Table], dv: Dataverse, annotations: bool) -> str:
    from xml.sax.saxutils import quoteattr as qa

    out = ['<?xml version="1.0" encoding="utf-8"?>',
           '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">',
           '<edmx:Reference Uri="http://vocabularies.odata.org/OData.Community.Keys.V1.xml">'
           '<edmx:Include Namespace="OData.Community.Keys.V1" Alias="Keys"/></edmx:Reference>',
           '<edmx:Reference Uri="http://docs.oasis-open.org/odata/odata/v4.0/os/vocabularies/'
           'Org.OData.Capabilities.V1.xml"><edmx:Include Namespace="Org.OData.Capabilities.V1" '
           'Alias="Capabilities"/></edmx:Reference>',
           '<edmx:DataServices><Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" '
           'xmlns="http://docs.oasis-open.org/odata/ns/edm">',
           '<EntityType Name="crmbaseentity" Abstract="true"/>']
    names = {t.logical for t in tables}
    for t in tables:
        out.append(f'<EntityType Name="{t.logical}" BaseType="mscrm.crmbaseentity">'
                   f'<Key><PropertyRef Name="{t.primary_id}"/></Key>')
        for c in t.columns.values():
            if not dv.col_visible(c):
                continue
            if c.is_lookup:
                out.append(f'<Property Name="_{c.name}_value" Type="Edm.Guid"/>')
            else:
                typ = "Edm.Date" if c.date_only else _EDM[c.type]
                extra = ' Scale="Variable"' if typ == "Edm.Decimal" else ""
                extra += ' Unicode="false"' if typ == "Edm.String" else ""
                out.append(f'<Property Name="{c.name}" Type="{typ}"{extra}/>')
        for c in t.columns.values():
            if not dv.col_visible(c):
                continue
            for target in c.targets:
                if target not in names:
                    continue
                nav = c.navs.get(target, c.name)
                if c.type == "Owner" and target == "team":
                    continue
                rel = c.rels.get(target, f"{target}_{t.logical}_{c.name}")
                tt = "principal" if c.type == "Owner" else target
                out.append(f'<NavigationProperty Name="{nav}" Type="mscrm.{tt if tt in names else target}" '
                           f'Nullable="false" Partner="{rel}"><ReferentialConstraint Property="_{c.name}_value" '
                           f'ReferencedProperty="{target}id"/></NavigationProperty>')
        for child, col in dv.refs.get(t.logical, []):
            if child in names and dv.col_visible(col):
                rel = col.rels.get(t.logical, f"{t.logical}_{child}_{col.name}")
                out.append(f'<NavigationProperty Name="{rel}" Type="Collection(mscrm.{child})" '
                           f'Partner="{col.navs.get(t.logical, col.name)}"/>')
        for rel, (e1, e2) in MANY_TO_MANY.items():
            if t.logical in (e1, e2):
                other = e2 if t.logical == e1 else e1
                out.append(f'<NavigationProperty Name="{rel}" Type="Collection(mscrm.{other})" Partner="{rel}"/>')
        out.append("</EntityType>")
    out.append('<EntityType Name="principal" BaseType="mscrm.crmbaseentity" Abstract="true">'
               '<Property Name="ownerid" Type="Edm.Guid"/></EntityType>')
    out.append('<ComplexType Name="WhoAmIResponse"><Property Name="BusinessUnitId" Type="Edm.Guid" Nullable="false"/>'
               '<Property Name="UserId" Type="Edm.Guid" Nullable="false"/>'
               '<Property Name="OrganizationId" Type="Edm.Guid" Nullable="false"/></ComplexType>')
    out.append('<ComplexType Name="RetrieveVersionResponse">'
               '<Property Name="Version" Type="Edm.String" Unicode="false"/>'
               '</ComplexType>')
    out.append('<ComplexType Name="CreateMultipleResponse"><Property Name="Ids" Type="Collection(Edm.Guid)" '
               'Nullable="false"/></ComplexType>')
    out.append('<ComplexType Name="ImportSolutionAsyncResponse"><Property Name="AsyncOperationId" Type="Edm.Guid"/>'
               '<Property Name="ImportJobKey" Type="Edm.String" Unicode="false"/></ComplexType>')
    out.append('<Function Name="WhoAmI"><ReturnType Type="mscrm.WhoAmIResponse" Nullable="false"/></Function>')
    out.append('<Function Name="RetrieveVersion"><ReturnType Type="mscrm.RetrieveVersionResponse" Nullable="false"/>'
               '</Function>')
    import_params = ('<Parameter Name="OverwriteUnmanagedCustomizations" Type="Edm.Boolean" Nullable="false"/>'
                     '<Parameter Name="PublishWorkflows" Type="Edm.Boolean" Nullable="false"/>'
                     '<Parameter Name="CustomizationFile" Type="Edm.Binary" Nullable="false"/>'
                     '<Parameter Name="ImportJobId" Type="Edm.Guid" Nullable="false"/>')
    out.append(f'<Action Name="ImportSolution">{import_params}</Action>')
    out.append(f'<Action Name="ImportSolutionAsync">{import_params}'
               '<ReturnType Type="mscrm.ImportSolutionAsyncResponse" Nullable="false"/></Action>')
    out.append('<ComplexType Name="LocalizedLabel"><Property Name="Label" Type="Edm.String"/>'
               '<Property Name="LanguageCode" Type="Edm.Int32" Nullable="false"/></ComplexType>'
               '<ComplexType Name="Label"><Property Name="LocalizedLabels" Type="Collection(mscrm.LocalizedLabel)"/>'
               '<Property Name="UserLocalizedLabel" Type="mscrm.LocalizedLabel"/></ComplexType>'
               '<ComplexType Name="InsertOptionValueResponse"><Property Name="NewOptionValue" Type="Edm.Int32" '
               'Nullable="false"/></ComplexType>')
    option_params = ('<Parameter Name="OptionSetName" Type="Edm.String" Unicode="false"/>'
                     '<Parameter Name="AttributeLogicalName" Type="Edm.String" Unicode="false"/>'
                     '<Parameter Name="EntityLogicalName" Type="Edm.String" Unicode="false"/>'
                     '<Parameter Name="Value" Type="Edm.Int32"/>'
                     '<Parameter Name="SolutionUniqueName" Type="Edm.String" Unicode="false"/>')
    label_param = '<Parameter Name="Label" Type="mscrm.Label"/><Parameter Name="Description" Type="mscrm.Label"/>'
    out.append(f'<Action Name="InsertOptionValue">{option_params}{label_param}'
               '<ReturnType Type="mscrm.InsertOptionValueResponse" Nullable="false"/></Action>')
    out.append(f'<Action Name="UpdateOptionValue">{option_params}{label_param}'
               '<Parameter Name="MergeLabels" Type="Edm.Boolean" Nullable="false"/></Action>')
    out.append(f'<Action Name="DeleteOptionValue">{option_params}</Action>')
    for msg in ("CreateMultiple", "UpdateMultiple", "UpsertMultiple"):
        ret = '<ReturnType Type="mscrm.CreateMultipleResponse" Nullable="false"/>' if msg == "CreateMultiple" else ""
        out.append(f'<Action Name="{msg}" IsBound="true"><Parameter Name="entityset" '
                   'Type="Collection(mscrm.crmbaseentity)" Nullable="false"/><Parameter Name="Targets" '
                   f'Type="Collection(mscrm.crmbaseentity)" Nullable="false"/>{ret}</Action>')
    out.append('<EntityContainer Name="System">')
    for t in tables:
        out.append(f"<EntitySet Name={qa(t.entity_set)} EntityType={qa('Microsoft.Dynamics.CRM.' + t.logical)}>")
        for c in t.columns.values():
            if dv.col_visible(c):
                for target in c.targets:
                    if target in names and not (c.type == "Owner" and target == "team"):
                        out.append(f'<NavigationPropertyBinding Path="{c.navs.get(target, c.name)}" '
                                   f'Target="{TABLES[target].entity_set}"/>')
        if annotations and t.change_tracking:
            out.append('<Annotation Term="Org.OData.Capabilities.V1.ChangeTracking"><Record>'
                       '<PropertyValue Property="Supported" Bool="true"/></Record></Annotation>')
        out.append("</EntitySet>")
    out.append('<FunctionImport Name="WhoAmI" Function="Microsoft.Dynamics.CRM.WhoAmI"/>')
    out.append('<FunctionImport Name="RetrieveVersion" Function="Microsoft.Dynamics.CRM.RetrieveVersion"/>')
    out.append('<ActionImport Name="ImportSolution" Action="Microsoft.Dynamics.CRM.ImportSolution"/>')
    out.append('<ActionImport Name="ImportSolutionAsync" Action="Microsoft.Dynamics.CRM.ImportSolutionAsync"/>')
    for action in OPTION_ACTIONS:
        out.append(f'<ActionImport Name="{action}" Action="Microsoft.Dynamics.CRM.{action}"/>')
    out.append("</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>")
    return "".join(out)


def _split_multipart(body: bytes, boundary: str) -> list[tuple[str, Any, Any]]:
    """Parse a ``$batch`` body -> [("request", Request, None) | ("changeset", None, [(content_id, Request)])]."""
    delim = ("--" + boundary).encode()
    out: list[tuple[str, Any, Any]] = []
    for raw in body.split(delim)[1:]:
        if raw.startswith(b"--"):
            break
        part = raw.lstrip(b"\r\n")
        head, _, content = part.partition(b"\r\n\r\n")
        if not _:
            head, _, content = part.partition(b"\n\n")
        headers = _parse_headers(head.decode("utf-8", "replace"))
        ctype = headers.get("content-type") or ""
        if "multipart/mixed" in ctype.lower():
            m = re.search(r'boundary="?([^";\r\n]+)"?', ctype)
            if not m:
                raise _bad("A change set part has no boundary.", "0x80040203")
            inner = _split_multipart(content, m.group(1))
            reqs = []
            for kind, req, _x in inner:
                if kind != "request":
                    raise _bad("Change sets cannot be nested.", "0x80040203")
                if req.method == "GET":
                    raise _bad("GET requests are not allowed inside a change set.", "0x80040203")
                reqs.append((req.content_id, req))
            out.append(("changeset", None, reqs))
            continue
        req = _parse_http(content)
        req.content_id = headers.get("content-id")  # type: ignore[attr-defined]
        out.append(("request", req, None))
    return out


def _parse_headers(text: str) -> Headers:
    items = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if ":" in line:
            k, _, v = line.partition(":")
            items.append((k.strip(), v.strip()))
    return Headers(items)


def _parse_http(content: bytes) -> Request:
    text = content.replace(b"\r\n", b"\n")
    head, _, body = text.partition(b"\n\n")
    lines = head.decode("utf-8").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        raise _bad("Empty request in batch.", "0x80040203")
    line = lines[0].strip()
    method, _, rest = line.partition(" ")
    url = rest.rsplit(" HTTP/", 1)[0] if " HTTP/" in rest else rest
    if not method or not url:
        raise _bad(f"Malformed request line in batch: '{lines[0]}'.", "0x80040203")
    path, _, raw_query = url.partition("?")
    from .httpcore import parse_query

    body = body.rstrip(b"\n")
    req = Request(method.upper(), path, parse_query(raw_query), _parse_headers("\n".join(lines[1:])), body, raw_query)
    return req


def _http_part(boundary: str, resp: Response, content_id: str | None) -> bytes:
    from http import HTTPStatus

    try:
        reason = HTTPStatus(resp.status).phrase
    except ValueError:
        reason = ""
    head = f"--{boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    if content_id:
        head += f"Content-ID: {content_id}\r\n"
    lines = [f"HTTP/1.1 {resp.status} {reason}"]
    for k, v in resp.headers:
        lines.append(f"{k}: {v}")
    return (head + "\r\n" + "\r\n".join(lines) + "\r\n\r\n").encode() + resp.body + b"\r\n"


__all__ = ["Dataverse", "DVError", "JSON_TYPE"]
