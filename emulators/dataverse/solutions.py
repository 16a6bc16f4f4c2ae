"""Solutions and alternate keys in the Dataverse emulator: ``ImportSolution``/``ImportSolutionAsync`` and
``EntityDefinitions(...)/Keys``.

Sources: Microsoft Learn "ImportSolution Action" and "ImportSolutionAsync Action" (``CustomizationFile`` = base64 of
the solution zip with its ``solution.xml`` manifest, ``OverwriteUnmanagedCustomizations``, ``PublishWorkflows``,
``ImportJobId``) and "Work with alternate keys" (``POST EntityDefinitions(LogicalName='x')/Keys`` with
``SchemaName`` and ``KeyAttributes``). Importing
``MicrosoftDynamicsNavIntegration`` - the solution Business Central deploys to Dataverse ("Integrating with Dynamics
365 Sales") - creates its two integration roles and makes its tables and columns visible.
"""

from __future__ import annotations

import base64
import io
import uuid
import xml.etree.ElementTree as ET
import zipfile
from typing import Any

from ..httpcore import Response, json_response
from .core import Ctx, DataverseBase, DVError, bad
from .schema import INTEGRATION_ADMIN_ROLE_ID, INTEGRATION_USER_ROLE_ID, NAV_SOLUTION, TABLES, Table, stable_id
from .store import now_iso


class SolutionsMixin(DataverseBase):
    """``ImportSolution`` and alternate keys."""

    def import_solution(self, body: Any, ctx: Ctx, *, asynchronous: bool) -> Response:
        """Record the solution and create its security roles / alternate keys.

        Accepted ``CustomizationFile``: base64 of a zip holding ``solution.xml``
        (``ImportExportXml/SolutionManifest/UniqueName``, ``Version``, ``Managed``) and optionally
        ``customizations.xml`` with ``Roles/Role[@id,@name]`` and ``EntityKeys/EntityKey``
        (``LogicalName``, ``EntityKeyAttributes/AttributeName``) under ``entity[@Name]``.  Importing
        ``MicrosoftDynamicsNavIntegration`` without roles creates BC's two integration roles with their
        well-known ids (those Business Central's integration solution ships) and enables ``nav_connection`` and
        ``nav_accountstatistics``.
        """
        if not isinstance(body, dict):
            raise bad("Invalid request body.", "0x80040203")
        for p in ("OverwriteUnmanagedCustomizations", "PublishWorkflows"):
            if p not in body:
                raise bad(f"Required parameter '{p}' is missing for action ImportSolution.", "0x80040203")
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
        if unique == NAV_SOLUTION and not roles:
            roles = [(INTEGRATION_ADMIN_ROLE_ID, "Integration Administrator"),
                     (INTEGRATION_USER_ROLE_ID, "Integration User")]
        sol_rows = self.state.rows["solution"]
        existing = next((i for i, r in sol_rows.items() if (r.get("uniquename") or "").lower() == unique.lower()), None)
        sol_id = existing or stable_id("solution", unique.lower())
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
