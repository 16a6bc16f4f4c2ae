"""Solutions and alternate keys in the Dataverse emulator: ``ImportSolution``/``ImportSolutionAsync`` and
``EntityDefinitions(...)/Keys``.

Sources: Microsoft Learn "ImportSolution Action" and "ImportSolutionAsync Action" (``CustomizationFile`` = base64 of
the solution zip with its ``solution.xml`` manifest and ``customizations.xml``, ``OverwriteUnmanagedCustomizations``,
``PublishWorkflows``, ``ImportJobId``), "Solution concepts" (publisher and customization prefix; a newer version of
an installed solution upgrades it), "The import solution must have a higher version than the existing solution it is
upgrading" (troubleshooting article, error 80048541) and "Work with alternate keys" (``POST
EntityDefinitions(LogicalName='x')/Keys`` with ``SchemaName`` and ``KeyAttributes``).

An import creates exactly what the package defines (:mod:`.components`): its custom tables and columns, their
relationships and option sets, its security roles with their privileges; nothing depends on the solution's name.
"""

from __future__ import annotations

import base64
import io
import uuid
import xml.etree.ElementTree as ET
import zipfile
from typing import Any

from ..httpcore import Response, json_response
from .components import Components, ImportRefused, invalid, parse_components
from .core import Ctx, DataverseBase, DVError, bad
from .schema import Table, build_schema, stable_id
from .security import privilege_rows
from .store import now_iso


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in text.split("."))


def _xml(archive: zipfile.ZipFile, name: str) -> ET.Element:
    """A member of the package, parsed; a missing or malformed member makes the import file invalid."""
    if name not in archive.namelist():
        raise invalid(f"The solution package has no {name}.")
    try:
        return ET.fromstring(archive.read(name))
    except ET.ParseError as error:
        raise invalid(f"{name} is not well-formed XML: {error}.") from None


class SolutionsMixin(DataverseBase):
    """``ImportSolution`` and alternate keys."""

    def import_solution(self, body: Any, ctx: Ctx, *, asynchronous: bool) -> Response:
        """Import a solution package: validate it, then create or update what it defines.

        ``CustomizationFile``: base64 of a zip holding ``solution.xml`` (``ImportExportXml/SolutionManifest``:
        ``UniqueName``, ``Version``, ``Managed``, ``Publisher/UniqueName``, ``Publisher/CustomizationPrefix``) and
        ``customizations.xml`` (:func:`.components.parse_components`; ``EntityKeys/EntityKey`` under an entity define
        alternate keys). Refused with 400 and nothing changed: not a zip / a member missing or malformed / a
        component without the publisher's prefix / a lookup without relationship / an unknown privilege
        (``0x80048060`` "The import file is invalid. ..."), a version lower than the installed one (``0x80048541``).
        The same or a higher version replaces the solution's components and roles' privileges (an upgrade keeps the
        rows of its tables)."""
        if not isinstance(body, dict):
            raise bad("Invalid request body.", "0x80040203")
        for p in ("OverwriteUnmanagedCustomizations", "PublishWorkflows"):
            if p not in body:
                raise bad(f"Required parameter '{p}' is missing for action ImportSolution.", "0x80040203")
        try:
            try:
                raw = base64.b64decode(body.get("CustomizationFile") or "", validate=True)
                archive = zipfile.ZipFile(io.BytesIO(raw))
            except (ValueError, zipfile.BadZipFile):
                raise invalid("CustomizationFile must be the base64 of a solution zip.") from None
            manifest = _xml(archive, "solution.xml").find("SolutionManifest")
            customizations = _xml(archive, "customizations.xml")
            self._import(manifest, customizations, ctx)
        except ImportRefused as refused:
            raise DVError(400, refused.code, refused.message) from None
        finally:
            self._role_privilege_cache.clear()
        if asynchronous:
            return json_response(200, {"@odata.context": self.base +
                                       "$metadata#Microsoft.Dynamics.CRM.ImportSolutionAsyncResponse",
                                       "AsyncOperationId": str(uuid.uuid4()),
                                       "ImportJobKey": body.get("ImportJobId") or str(uuid.uuid4())})
        return Response(204, headers=[("OData-Version", "4.0")])

    def _import(self, manifest: ET.Element | None, customizations: ET.Element, ctx: Ctx) -> None:
        unique = (manifest.findtext("UniqueName") or "").strip() if manifest is not None else ""
        if not unique:
            raise invalid("solution.xml has no SolutionManifest/UniqueName.")
        assert manifest is not None
        version = (manifest.findtext("Version") or "1.0.0.0").strip()
        managed = (manifest.findtext("Managed") or "0").strip() in ("1", "true")
        publisher = (manifest.findtext("Publisher/UniqueName") or "").strip()
        prefix = (manifest.findtext("Publisher/CustomizationPrefix") or "").strip()
        if not publisher or not prefix:
            raise invalid("solution.xml names no publisher (Publisher/UniqueName, Publisher/CustomizationPrefix).")
        sol_rows = self.state.rows["solution"]
        existing = next((i for i, r in sol_rows.items() if (r.get("uniquename") or "").lower() == unique.lower()), None)
        if existing is not None and _version(version) < _version(sol_rows[existing].get("version") or "0"):
            raise ImportRefused("0x80048541", "The import solution must have a higher version than the existing "
                                f"solution it is upgrading. Installed: {sol_rows[existing].get('version')}; "
                                f"imported: {version}.")
        others = {k: v for k, v in self.state.components.items() if k != unique}
        base = build_schema(list(others.values()))
        known = self.all_privileges() | {r["name"] for r in privilege_rows(base.values(), others=True).values()}
        parsed = parse_components(customizations, solution=unique, prefix=prefix, tables=base,
                                  known_privileges=known)
        keys = [(ent.get("Name", "").lower(), (k.findtext("LogicalName") or k.findtext("Name") or "").strip(),
                 [a.text.strip().lower() for a in k.iter("AttributeName") if a.text])
                for ent in customizations.iter("entity") for k in ent.iter("EntityKey")]
        # validated: from here on the organization changes (the request's transaction undoes the rows, this the schema)
        previous = self.state.components.get(unique)
        self.state.components[unique] = (parsed.tables, parsed.columns)
        self.refresh_schema()
        self.store.rebuild_indexes()
        try:
            self._create(ctx, unique, version, managed, manifest, publisher, prefix, existing, parsed, keys)
        except BaseException:
            if previous is None:
                self.state.components.pop(unique, None)
            else:
                self.state.components[unique] = previous
            self.refresh_schema()
            self.store.rebuild_indexes()
            raise

    def _create(self, ctx: Ctx, unique: str, version: str, managed: bool, manifest: ET.Element, publisher: str,
                prefix: str, existing: str | None, parsed: Components, keys: list[tuple[str, str, list[str]]]) -> None:
        sol_rows = self.state.rows["solution"]
        now = now_iso()
        for pid, row in privilege_rows(parsed.tables).items():
            if pid not in self.state.rows["privilege"]:
                self.store.put(ctx.txn, "privilege", pid, {**row, "versionnumber": self.store.next_version()})
        publisher_id = self._publisher(ctx, manifest, publisher, prefix)
        sol_id = existing or stable_id("solution", unique.lower())
        friendly = manifest.find("LocalizedNames/LocalizedName")
        row = dict(sol_rows.get(sol_id) or {"solutionid": sol_id, "createdon": now, "createdby": ctx.caller_id})
        row.update({"uniquename": unique, "version": version, "ismanaged": managed, "installedon": now,
                    "friendlyname": friendly.get("description") if friendly is not None else unique,
                    "publisherid": publisher_id, "modifiedon": now, "modifiedby": ctx.caller_id,
                    "versionnumber": self.store.next_version()})
        self.store.put(ctx.txn, "solution", sol_id, row)
        self._roles(ctx, parsed, sol_id, managed, now)
        self._message_filters(ctx, parsed.tables)
        for ename, kname, attrs in keys:
            if ename in self.tables and kname and attrs:
                self.add_key(self.tables[ename], kname, attrs)
        self._metadata_cache.clear()

    def _message_filters(self, ctx: Ctx, tables: list[Table]) -> None:
        """``sdkmessagefilters`` of new custom tables: Create, Update, Delete, Retrieve, RetrieveMultiple and the bulk
        messages CreateMultiple/UpdateMultiple (custom tables support them: Microsoft Learn "Use bulk operation
        messages")."""
        messages = {r.get("name"): mid for mid, r in self.state.rows["sdkmessage"].items()}
        for t in tables:
            for message in ("CreateMultiple", "UpdateMultiple", "Create", "Update", "Delete", "Retrieve",
                            "RetrieveMultiple"):
                fid = stable_id("sdkmessagefilter", message, t.logical)
                if message in messages and fid not in self.state.rows["sdkmessagefilter"]:
                    self.store.put(ctx.txn, "sdkmessagefilter", fid, {
                        "sdkmessagefilterid": fid, "sdkmessageid": messages[message],
                        "primaryobjecttypecode": t.logical, "secondaryobjecttypecode": "none", "isvisible": True,
                        "versionnumber": self.store.next_version()})

    def _publisher(self, ctx: Ctx, manifest: ET.Element, unique: str, prefix: str) -> str:
        """The ``publisher`` row of the solution's publisher (created or updated); returns its id."""
        pid = stable_id("publisher", unique.lower())
        name = manifest.find("Publisher/LocalizedNames/LocalizedName")
        row = dict(self.state.rows["publisher"].get(pid) or {"publisherid": pid, "createdon": now_iso()})
        row.update({"uniquename": unique, "customizationprefix": prefix,
                    "friendlyname": name.get("description") if name is not None else unique,
                    "customizationoptionvalueprefix": int(manifest.findtext("Publisher/CustomizationOptionValuePrefix")
                                                          or 0),
                    "modifiedon": now_iso(), "versionnumber": self.store.next_version()})
        self.store.put(ctx.txn, "publisher", pid, row)
        return pid

    def _roles(self, ctx: Ctx, parsed: Components, sol_id: str, managed: bool, now: str) -> None:
        """Create or update the solution's roles in the root business unit, each with exactly its privileges."""
        for role in parsed.roles:
            current = self.state.rows["role"].get(role.role_id)
            row = dict(current or {"roleid": role.role_id, "businessunitid": self.state.root_bu_id,
                                   "parentrootroleid": role.role_id, "createdon": now, "createdby": ctx.caller_id,
                                   "organizationid": self.state.org_id})
            row.update({"name": role.name, "ismanaged": managed, "solutionid": sol_id, "modifiedon": now,
                        "modifiedby": ctx.caller_id, "versionnumber": self.store.next_version()})
            self.store.put(ctx.txn, "role", role.role_id, row)
            self.role_privileges_set(ctx.txn, role.role_id, role.privileges)

    def add_key(self, table: Table, schema_name: str, attrs: list[str]) -> dict[str, Any]:
        """Define an alternate key (active at once); raises 400 on unknown columns or duplicate values."""
        for a in attrs:
            if a not in table.columns:
                raise bad(f"The attribute '{a}' does not exist on entity '{table.logical}'.", "0x80040203")
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
               "MetadataId": stable_id("key", table.logical, schema_name.lower()), "EntityLogicalName": table.logical,
               "EntityKeyIndexStatus": "Active"}
        keys.append(key)
        self.store.rebuild_indexes()
        return key
