"""Single rows of the Dataverse emulator: keys and references, value conversion, request bodies, and the
endpoints on one row (create, retrieve, upsert, delete, one property).

Sources: Microsoft Learn "Create a table row using the Web API" (``@odata.bind``, deep insert,
``Prefer: return=representation``), "Retrieve a table row using the Web API", "Update and delete table rows using
the Web API" (PATCH sends only the changed columns; single property PUT/DELETE), "Use Upsert to Create or Update a
record" (PATCH to a key URI, ``If-Match``/``If-None-Match``), "Perform conditional operations using the Web API"
(ETags, 412 on a stale ``If-Match``, 304 on a matching ``If-None-Match``) and "Use an alternate key to reference a
record" (``entityset(key1=value1,key2=value2)``).
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from ..httpcore import Headers, Response, json_response
from ..odata import GUID_RE, parse_datetime, parse_expand, parse_segment, parse_select
from .core import API_PREFIX, Ctx, DataverseBase, DVError, bad, not_exist, not_found, not_supported
from .schema import MANY_TO_MANY, Col, Table


def _dt_value(col: Col, v: Any) -> str:
    if not isinstance(v, str):
        raise bad(f"Cannot convert the literal '{v}' to the expected type 'Edm.DateTimeOffset'.")
    try:
        d = parse_datetime(v)
    except ValueError:
        raise bad(f"Cannot convert the literal '{v}' to the expected type 'Edm.DateTimeOffset'.") from None
    return d.strftime("%Y-%m-%d") if col.date_only else d.strftime("%Y-%m-%dT%H:%M:%SZ")


class RecordsMixin(DataverseBase):
    """Keys, references, conversion and the single-row endpoints."""

    # ------------------------------------------------------------------ keys and references
    def resolve_key(self, table: Table, key: Any, *, must_exist: bool) -> str | None:
        """Primary key or alternate key -> row id (None when absent and not ``must_exist``)."""
        rows = self.state.rows[table.logical]
        if isinstance(key, str):
            if not GUID_RE.match(key):
                raise bad(f"Bad Request - Error in query syntax: '{key}' is not a valid key.")
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
            raise bad(f"The key attributes {', '.join(sorted(key))} do not match any alternate key defined on "
                      f"entity {table.logical}.", "0x80060889")
        raise bad("Bad Request - Error in query syntax.")

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
        t = self.by_set.get(name)
        if t is None or key is None:
            raise bad(f"The URL '{url}' in the request is not a valid entity reference.")
        rid = self.resolve_key(t, key, must_exist=False)
        if rid is None or rid not in self.state.rows[t.logical]:
            raise not_exist(t.logical, rid or str(key))
        return t, rid

    def check_etag(self, table: Table, rid: str, if_match: str | None) -> None:
        """Optimistic concurrency: a stale ``If-Match`` -> 412 ``0x80060882``."""
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
                raise bad(f"Cannot convert the literal '{v}' to the expected type 'Edm.String'.")
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
                    raise bad(f"Cannot convert the literal '{v}' to the expected type 'Edm.Int32'.")
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
                        raise bad(f"Cannot convert the literal '{v}' to the expected type 'Edm.Decimal'.") from None
                else:
                    raise bad(f"Cannot convert the literal '{v}' to the expected type 'Edm.Decimal'.")
            v = float(v)
        elif t == "Boolean":
            if not isinstance(v, bool):
                raise bad(f"Cannot convert the literal '{v}' to the expected type 'Edm.Boolean'.")
            return v
        elif t == "DateTime":
            return _dt_value(col, v)
        elif t == "Uniqueidentifier":
            if not isinstance(v, str) or not GUID_RE.match(v):
                raise bad(f"Cannot convert the literal '{v}' to the expected type 'Edm.Guid'.")
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
            raise bad("The request body must be a JSON object.", "0x80040203")
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
                    if col.read_only and col.name != "ownerid":
                        raise bad(f"An undeclared property '{nav}' which only has property annotations in the "
                                  "payload but no property value was found in the payload.")
                    if v is None:
                        changes[col.name] = None
                        continue
                    if not isinstance(v, str):
                        raise bad(f"The value of '{k}' must be a URL string.")
                    rt, rid = self.parse_ref(v, ctx)
                    if rt.logical not in col.targets or (len(col.targets) > 1 and col.type != "Owner"
                                                         and rt.logical != target):
                        raise bad(f"The entity reference '{v}' does not match navigation property '{nav}' "
                                  f"(expected {target}).", "0x80040203")
                    if col.name != "ownerid":  # setting a lookup: Append on this row, AppendTo on the one it names
                        self.require_on(ctx, "Append", table)
                        self.require_on(ctx, "AppendTo", rt)
                    changes[col.name] = rid
                    if len(col.targets) > 1:
                        changes[col.name + "@t"] = rt.logical
                    continue
                if self.collection_nav(table, nav) is not None:
                    for url in v if isinstance(v, list) else [v]:
                        binds.append((nav, url))
                    continue
                raise bad(f"An undeclared property '{nav}' which only has property annotations in the payload "
                          "but no property value was found in the payload. In OData, only declared navigation "
                          "properties and declared named streams can be represented as properties without values.")
            if "@" in k:
                continue
            col = table.columns.get(k)
            if col is not None and not col.is_lookup:
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
                raise bad("A 'PrimitiveValue' node with non-null value was found when trying to read the value of "
                          f"the navigation property '{k}'; however, a 'StartArray' node, a 'StartObject' node, or a "
                          "'PrimitiveValue' node with null value was expected.")
            raise bad(f"The property '{k}' does not exist on type 'Microsoft.Dynamics.CRM.{table.logical}'. Make "
                      "sure to only use property names that are defined by the type or mark the type as open type.")
        return changes, deep, binds

    def collection_nav(self, table: Table, nav: str) -> tuple[str, str, Col | None] | None:
        """Collection-valued navigation property -> ("1n", child table, child lookup) or ("nn", rel, None)."""
        if nav in MANY_TO_MANY and table.logical in MANY_TO_MANY[nav]:
            return ("nn", nav, None)
        for child, col in self.refs.get(table.logical, []):
            if col.rels.get(table.logical) == nav:
                return ("1n", child, col)
        return None

    # ------------------------------------------------------------------ single-row endpoints
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
        """PATCH to a key URI: update, or create when absent (``If-Match: *`` = update only, ``If-None-Match: *`` =
        create only)."""
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

    def delete_response(self, table: Table, key: Any, headers: Headers, ctx: Ctx) -> Response:
        rid = self.resolve_key(table, key, must_exist=True)
        assert rid is not None
        self.check_etag(table, rid, headers.get("if-match"))
        self.delete_row(table, rid, ctx)
        return Response(204, headers=[("OData-Version", "4.0")])

    def property(self, method: str, table: Table, rid: str, prop: str, body: bytes, query: dict[str, str],
                 ctx: Ctx) -> Response:
        """A column (GET/PUT/DELETE), a single-valued navigation property or a collection-valued one (GET)."""
        col = table.columns.get(prop)
        if col is not None and not col.is_lookup:
            row = self.state.rows[table.logical][rid]
            if method == "GET":
                return json_response(200, {"@odata.context": f"{self.base}$metadata#{table.entity_set}({rid})/{prop}",
                                           "value": row.get(prop)})
            if method == "PUT":
                data = self._json(body)
                if not isinstance(data, dict) or "value" not in data:
                    raise bad("The request body must contain a 'value' property.", "0x80040203")
                self.update_row(table, rid, {prop: data["value"]}, ctx)
                return Response(204, headers=[("OData-Version", "4.0")])
            if method == "DELETE":
                self.update_row(table, rid, {prop: None}, ctx)
                return Response(204, headers=[("OData-Version", "4.0")])
            raise not_supported()
        if method != "GET":
            raise not_supported()
        navs = table.nav_map()
        row = self.state.rows[table.logical][rid]
        if prop in navs:
            col, target = navs[prop]
            tgt = row.get(col.name + "@t") or target
            val = row.get(col.name)
            if val is None or val not in self.state.rows[tgt]:
                return Response(204)
            return self.retrieve(self.tables[tgt], val, query, Headers(), ctx)
        if self.collection_nav(table, prop) is None:
            raise not_found(prop)
        ids = set(self.related_ids(table, rid, prop))
        target_table = self.tables[self.related_table(table, prop)]
        return self.query(target_table, query, "", ctx, restrict=ids)
