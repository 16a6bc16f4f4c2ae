"""Associations of the Dataverse emulator: ``$ref`` on single- and collection-valued navigation properties, N:N
relationships, and the related rows of a navigation property.

Sources: Microsoft Learn "Associate and disassociate table rows using the Web API" (``POST <nav>/$ref``
``{"@odata.id": ...}``, ``DELETE <nav>(<id>)/$ref`` or ``<nav>/$ref?$id=...``, ``PUT``/``DELETE`` on a single-valued
navigation property) and "Retrieve related table rows with a query" (``GET <row>/<collection-valued nav>``).
"""

from __future__ import annotations

from ..httpcore import Response, json_response
from ..odata import parse_segment
from .core import Ctx, DataverseBase, DVError, bad, not_found, not_supported
from .schema import MANY_TO_MANY, Table


class RelationsMixin(DataverseBase):
    """``$ref``, N:N associations and related rows."""

    def associate(self, table: Table, rid: str, nav: str, url: str, ctx: Ctx) -> None:
        info = self.collection_nav(table, nav)
        if info is None:
            raise not_found(nav)
        kind, other, col = info
        rt, oid = self.parse_ref(url, ctx)
        if kind == "nn":
            e1, e2 = MANY_TO_MANY[other]
            expected = e2 if table.logical == e1 else e1
            if rt.logical != expected:
                raise bad(f"The entity reference '{url}' is not a {expected}.", "0x80040203")
            pair = (rid, oid) if table.logical == e1 else (oid, rid)
            if other == "roleprivileges_association":
                raise bad("A role's privileges cannot be associated through roleprivileges_association: use "
                          "AddPrivilegesRole or import a solution that defines the role.", "0x80040203")
            self.require_on(ctx, "Append", table)
            self.require_on(ctx, "AppendTo", rt)
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
            raise bad(f"The entity reference '{url}' is not a {other}.", "0x80040203")
        body = {col.navs.get(table.logical, col.name) + "@odata.bind": f"/{table.entity_set}({rid})"}
        self.update_row(self.tables[other], oid, body, ctx)

    def ref(self, method: str, table: Table, rid: str, path: list[str], body: bytes, query: dict[str, str],
            ctx: Ctx) -> Response:
        """``$ref`` operations: POST adds a row to a collection-valued navigation property, DELETE removes one
        (``nav(<id>)/$ref`` or ``nav/$ref?$id=<url>``), PUT/DELETE set or clear a lookup, GET lists references."""
        nav_seg = path[0]
        nav, key = parse_segment(nav_seg) if "(" in nav_seg else (nav_seg, None)
        navs = table.nav_map()
        if nav in navs:
            col, _target = navs[nav]
            if method == "PUT":
                data = self._json(body)
                url = data.get("@odata.id") if isinstance(data, dict) else None
                if not url:
                    raise bad("The @odata.id property is required.", "0x80040203")
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
                                            "@odata.id": f"{self.base}{self.tables[target].entity_set}({val})"})
            raise not_supported()
        info = self.collection_nav(table, nav)
        if info is None:
            raise not_found(nav)
        kind, other, col = info
        if method == "POST":
            data = self._json(body)
            url = data.get("@odata.id") if isinstance(data, dict) else None
            if not url:
                raise bad("The @odata.id property is required.", "0x80040203")
            self.associate(table, rid, nav, url, ctx)
            return Response(204, headers=[("OData-Version", "4.0")])
        if method == "DELETE":
            target_url = query.get("$id")
            if key is not None:
                e1, e2 = MANY_TO_MANY.get(other, ("", ""))
                other_table = self.tables[e2 if kind == "nn" and table.logical == e1
                                          else (e1 if kind == "nn" else other)]
                target_url = f"/{other_table.entity_set}({key})"
            if not target_url:
                raise bad("The related entity key or $id is required to remove a reference.", "0x80040203")
            rt, oid = self.parse_ref(target_url, ctx)
            if kind == "nn":
                if other == "roleprivileges_association":
                    raise bad("A role's privileges cannot be disassociated through roleprivileges_association: use "
                              "RemovePrivilegeRole.", "0x80040203")
                e1, _e2 = MANY_TO_MANY[other]
                pair = (rid, oid) if table.logical == e1 else (oid, rid)
                self.store.disassociate(ctx.txn, other, pair)
            else:
                assert col is not None
                child = self.state.rows[other].get(oid)
                if child is not None and child.get(col.name) == rid:
                    nav_bind = col.navs.get(table.logical, col.name) + "@odata.bind"
                    self.update_row(self.tables[other], oid, {nav_bind: None},
                                    ctx)
            return Response(204, headers=[("OData-Version", "4.0")])
        if method == "GET":
            ids = self.related_ids(table, rid, nav)
            target = self.tables[self.related_table(table, nav)]
            return json_response(200, {"@odata.context": self.base + "$metadata#Collection($ref)",
                                       "value": [{"@odata.id": f"{self.base}{target.entity_set}({i})"} for i in ids]})
        raise not_supported()

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
