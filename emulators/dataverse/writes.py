"""Row writes of the Dataverse emulator: create (with deep insert), update, delete (with cascade), and the checks
every write goes through (state/status pairs, required columns, uniqueness and alternate keys, ownership).

Sources: Microsoft Learn "Create a table row using the Web API" (deep insert, a client-chosen primary id),
"Update and delete table rows using the Web API", "Configure table relationship cascading behavior" (cascade,
restrict and remove-link on delete), "Work with alternate keys" (duplicate key -> 412 ``0x80060892``) and "Web
service error codes".
"""

from __future__ import annotations

import uuid
from typing import Any

from .core import Ctx, DataverseBase, DVError, bad
from .schema import MANY_TO_MANY, Table
from .store import now_iso


class WritesMixin(DataverseBase):
    """Create, update and delete rows inside a request's transaction."""

    def create_row(self, table: Table, body: Any, ctx: Ctx, *, rid: str | None = None) -> str:
        """Create one row (with deep insert); returns its id.  Raises :class:`DVError`."""
        if table.read_only:
            raise DVError(405, "0x80040315", f"The '{table.logical}' entity cannot be created through this API.")
        changes, deep, binds = self.parse_body(table, body, ctx, is_create=True)
        for nav, value in deep:
            if isinstance(value, dict):
                col, target = table.nav_map()[nav]
                child_id = self.create_row(self.tables[target], value, ctx)
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
            elif row["ownerid"] != ctx.caller_id:  # created for another owner: an assignment
                self.require_on(ctx, "Assign", table)
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
                        self.create_row(self.tables[child], item, ctx)
        for nav, url in binds:
            self.associate(table, new_id, nav, url, ctx)
        return new_id

    def update_row(self, table: Table, rid: str, body: Any, ctx: Ctx) -> None:
        """Update one row; only changed columns are sent."""
        if table.read_only:
            raise DVError(405, "0x80040315", f"The '{table.logical}' entity cannot be updated through this API.")
        old = self.state.rows[table.logical][rid]
        changes, deep, binds = self.parse_body(table, body, ctx, is_create=False)
        for nav, value in deep:
            if isinstance(value, dict):
                col, target = table.nav_map()[nav]
                changes[col.name] = self.create_row(self.tables[target], value, ctx)
        row = dict(old)
        row.update(changes)
        if table.states:
            self._apply_state(table, row, changes, old)
        if table.ownership == "UserOwned" and "ownerid" in changes:
            if changes["ownerid"] is None:
                raise bad("The owner of a record cannot be cleared.", "0x80040203")
            if changes["ownerid"] != old.get("ownerid"):
                self.require_on(ctx, "Assign", table)
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
        """statecode/statuscode pairing: each state has a default status, a status implies its state."""
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
            if c.required == "SystemRequired" and not c.system and not c.read_only and row.get(c.name) is None:
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

    # ------------------------------------------------------------------ delete
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
