"""Reading rows in the Dataverse emulator: rendering, ``$select``/``$filter``/``$orderby``/``$top``/``$count``,
single-level ``$expand``, server-driven paging and change tracking.

Sources: Microsoft Learn "Query data using the Web API" (system query options, ``$filter`` operators and functions,
lambda operators, ``Prefer: odata.include-annotations``), "Page results using OData" (``odata.maxpagesize``,
``@odata.nextLink``, a count limited to 5,000), "Join tables using OData" (``$expand``) and "Use change tracking to
synchronize data with external systems" (``Prefer: odata.track-changes``, ``@odata.deltaLink``, deleted rows as
``$deletedEntity``). ``$filter`` is compiled by :func:`emulators.odata.compile_filter` (string comparisons ignore case,
as Dataverse's collation does).
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from ..httpcore import Response, json_response
from ..odata import CollectionResolver, ODataError, Resolver, compile_filter, parse_expand, parse_orderby, parse_select
from .core import Ctx, DataverseBase, DVError, Prefer, bad
from .schema import Col, Table
from .store import now_iso


class _Rev:
    """Sort key wrapper that reverses the order (descending ``$orderby`` terms)."""

    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v

    def __lt__(self, other: Any) -> bool:
        return bool(other.v < self.v)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Rev) and self.v == other.v


class QueryMixin(DataverseBase):
    """Collection and row reads."""

    # ------------------------------------------------------------------ rendering
    def _select_cols(self, table: Table, select: list[str] | None) -> list[Col]:
        if select is None:
            return list(table.columns.values())
        cols: list[Col] = []
        for s in select:
            name = s[1:-6] if s.startswith("_") and s.endswith("_value") else s
            c = table.columns.get(name)
            if c is None:
                raise bad(f"Could not find a property named '{s}' on type 'Microsoft.Dynamics.CRM.{table.logical}'.")
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
                        t2 = self.tables[target]
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
    def resolver(self, table: Table) -> Resolver:
        """``$filter``/``$orderby`` names of ``table`` -> (getter, kind): columns, ``_<lookup>_value``, and
        ``<single-valued navigation property>/<name>``."""
        def resolve(name: str) -> tuple[Callable[[dict[str, Any]], Any], str]:
            if "/" in name:
                nav, _, attr = name.partition("/")
                navs = table.nav_map()
                if nav not in navs:
                    raise ODataError(f"Could not find a property named '{nav}' on type "
                                     f"'Microsoft.Dynamics.CRM.{table.logical}'.")
                col, target = navs[nav]
                inner, kind = self.resolver(self.tables[target])(attr)
                rows = self.state.rows[target]
                cname = col.name
                return (lambda r: None if (x := rows.get(r.get(cname) or "")) is None else inner(x)), kind
            cname = name[1:-6] if name.startswith("_") and name.endswith("_value") else name
            col = table.columns.get(cname)
            if col is None:
                raise ODataError(f"Could not find a property named '{name}' on type "
                                 f"'Microsoft.Dynamics.CRM.{table.logical}'.")
            return (lambda r: r.get(cname)), col.filter_kind
        return resolve

    def collections(self, table: Table) -> CollectionResolver:
        """Collection-valued navigation properties of ``table`` for the ``any``/``all`` lambda operators."""
        def collection(name: str) -> tuple[Callable[[dict[str, Any]], Iterable[dict[str, Any]]], Resolver]:
            if self.collection_nav(table, name) is None:
                raise ODataError(f"Could not find a collection-valued navigation property named '{name}' on type "
                                 f"'Microsoft.Dynamics.CRM.{table.logical}'.")
            target = self.tables[self.related_table(table, name)]
            rows = self.state.rows[target.logical]
            pid = table.primary_id

            def related(r: dict[str, Any]) -> Iterable[dict[str, Any]]:
                return (rows[i] for i in self.related_ids(table, r[pid], name) if i in rows)
            return related, self.resolver(target)
        return collection

    def _filter(self, table: Table, text: str | None, aliases: dict[str, str]
                ) -> Callable[[dict[str, Any]], bool] | None:
        if not text:
            return None
        try:
            return compile_filter(text, self.resolver(table), aliases, case_insensitive=True,
                                  collections=self.collections(table))
        except ODataError as e:
            raise bad(str(e)) from None

    def _sort_key(self, table: Table, orderby: list[tuple[str, bool]]) -> Callable[[dict[str, Any]], Any] | None:
        if not orderby:
            return None
        getters = []
        for name, desc in orderby:
            try:
                g, _kind = self.resolver(table)(name)
            except ODataError as e:
                raise bad(str(e)) from None
            getters.append((g, desc))
        pid = table.primary_id

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
            raise bad(str(e)) from None
        if len(ex) > 15:
            raise bad("The number of $expand options exceeds the maximum of 15.")
        return ex

    def _expand_value(self, table: Table, row: dict[str, Any], nav: str, opts: dict[str, str], ctx: Ctx) -> Any:
        navs = table.nav_map()
        if "$expand" in opts:
            raise bad("Nested $expand is not supported by the emulator (single-level $expand only).", "0x80060888")
        if nav in navs:
            col, target = navs[nav]
            tgt = row.get(col.name + "@t") or target
            if len(col.targets) > 1 and col.type != "Owner" and tgt != target:
                return None
            val = row.get(col.name)
            other = self.state.rows[tgt].get(val or "")
            if other is None:
                return None
            t2 = self.tables[tgt]
            return self.render(t2, other, self._select_cols(t2, parse_select(opts.get("$select"))), ctx.prefer)
        if nav.endswith("/$ref"):
            raise bad("Expand with $ref is only supported on lookup type navigation property.", "0x80060888")
        if self.collection_nav(table, nav) is None:
            raise bad(f"Could not find a property named '{nav}' on type 'Microsoft.Dynamics.CRM.{table.logical}'.")
        t2 = self.tables[self.related_table(table, nav)]
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
        """Collection GET with paging (``Prefer: odata.maxpagesize``, ``@odata.nextLink`` with a paging cookie) and
        change tracking (``Prefer: odata.track-changes``, ``@odata.deltaLink``, ``$deltatoken``)."""
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
                raise bad(f"Invalid value '{top}' for $top.") from None
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
            raise bad(str(e)) from None
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
            raise bad("The $skiptoken is invalid or has been tampered with.", "0x80040203") from None
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
                raise bad("The $skiptoken is invalid.", "0x80040203") from None
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
