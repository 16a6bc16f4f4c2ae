"""Callers, impersonation, security roles and privileges of the Dataverse emulator.

Sources: Microsoft Learn "Security concepts in Microsoft Dataverse" (roles grant privileges named
``prv<Verb><Entity>``; a privilege from any of the user's roles, direct or through a team, counts; the System
Administrator role has every privilege), "Impersonate another user using the Web API" (``CallerObjectId`` /
``MSCRMCallerID``; the caller needs ``prvActOnBehalfOfAnotherUser`` and the effective rights are those both the
caller and the impersonated user hold), "Impersonate another user" (that privilege, or a role containing it, must be
assigned directly to the user: it is not inherited through a team), "RetrieveUserPrivileges Function" / "RolePrivilege
ComplexType" (a user's privileges through its roles and teams: ``Depth``, ``PrivilegeId``, ``BusinessUnitId``,
``PrivilegeName``), "roleprivileges EntityType" (a role's privileges, ``roles(<id>)/roleprivileges_association``),
"How access to a record is determined" (Create, Read, Write, Delete on the row's table; Append on the row that gets
a lookup and AppendTo on the row it points to; Assign to change the owner), "Compose HTTP requests and handle errors"
(``CannotActOnBehalfOfAnotherUser`` is a 403) and "Web service error codes" (``0x80040220`` PrivilegeDenied,
``0x8004A110`` CannotActOnBehalfOfAnotherUser "User does not have the privilege to act on behalf another user.",
``0x80072560`` the user is not a member of the organization, ``0x80040225`` the user is disabled).

Callers are enabled systemusers of the organization: an application user whose ``applicationid`` is the token's
``appid``, or a user whose ``azureactivedirectoryobjectid`` is the token's ``oid``. A role's privileges are its
``roleprivileges_association`` rows (seeded for the standard roles, created by a solution import for the solution's
roles) with their depth on the role row (``@depths``); a role based on the System Administrator template has every
privilege of the organization's tables. The control endpoint ``/_emulator/privileges`` revokes and grants
privileges (revocations are kept on the role row as ``@revoked`` and listed; a reset restores the seeded roles).
Depths are recorded and reported, not enforced row by row: every granted privilege acts at the Global depth.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..httpcore import Headers
from .core import Ctx, DataverseBase, DVError, not_exist
from .schema import SYSTEM_ADMINISTRATOR_TEMPLATE, Table, stable_id, table_schema_name

#: The privilege an impersonating caller needs (Microsoft Learn "Impersonate another user using the Web API").
ACT_ON_BEHALF = "prvActOnBehalfOfAnotherUser"

#: Privilege names that differ from the table's schema name (``prvReadUser``, not ``prvReadSystemUser``; notes are
#: ``prvReadNote``; message filters share the messages' privileges).
_PRIVILEGE_NAMES = {"systemuser": "User", "annotation": "Note", "sdkmessagefilter": "SdkMessage"}
#: Privileges that belong to no table row type: table definitions, solution import, impersonation.
_OTHER_PRIVILEGES = ("prvReadEntity", "prvImportCustomization", ACT_ON_BEHALF)
#: ``privilege.accessright`` of each privilege type (Microsoft Learn "privilege EntityType", AccessRights).
ACCESS_RIGHTS = {"Read": 1, "Write": 2, "Append": 4, "AppendTo": 16, "Create": 32, "Delete": 65536, "Share": 262144,
                 "Assign": 524288}
#: The depths a role privilege may have, as role XML writes them (``RolePrivilege/@level``).
DEPTHS = ("Basic", "Local", "Deep", "Global")


def privilege_name(verb: str, table: Table) -> str:
    """Dataverse's privilege name ``prv<Verb><Entity schema name>`` (e.g. prvReadAccount, prvWriteUser,
    prvReadbcp_Connection)."""
    return f"prv{verb}{_PRIVILEGE_NAMES.get(table.logical) or table_schema_name(table)}"


#: The privilege types of a table (Microsoft Learn: "SecurityPrivilegeMetadata ComplexType", PrivilegeType): Create,
#: Read, Write, Delete, Append, AppendTo on every table, Assign and Share on user-owned ones.
TABLE_PRIVILEGE_TYPES = ("Create", "Read", "Write", "Delete", "Append", "AppendTo")


def table_privilege_types(ownership: str) -> tuple[str, ...]:
    """The privilege types a table of that ownership has (see :data:`TABLE_PRIVILEGE_TYPES`)."""
    return TABLE_PRIVILEGE_TYPES + (("Assign", "Share") if ownership == "UserOwned" else ())


def privilege_rows(tables: Iterable[Table], *, others: bool = False) -> dict[str, dict[str, Any]]:
    """``privilege`` rows ``{privilegeid: row}`` of the tables' privileges (Create, Read, Write, Delete, Append,
    AppendTo; Assign and Share on user-owned tables) and, with ``others``, of :data:`_OTHER_PRIVILEGES`. Ids are
    stable (``stable_id("privilege", name)``), the ids ``EntityDefinitions`` Privileges and the 403 body name."""
    rows: dict[str, dict[str, Any]] = {}

    def add(name: str, verb: str, user_owned: bool) -> None:
        pid = stable_id("privilege", name)
        rows[pid] = {"privilegeid": pid, "name": name, "accessright": ACCESS_RIGHTS.get(verb, 0),
                     "canbebasic": user_owned, "canbelocal": user_owned, "canbedeep": user_owned,
                     "canbeglobal": True}
    for t in tables:
        for verb in table_privilege_types(t.ownership):
            add(privilege_name(verb, t), verb, t.ownership == "UserOwned")
    if others:
        for name in _OTHER_PRIVILEGES:
            add(name, "", False)
    return rows


class SecurityMixin(DataverseBase):
    """Who calls, on whose behalf, and with which privileges."""

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

    def check_impersonation(self, uid: str) -> None:
        """Refuse a caller that impersonates without ``prvActOnBehalfOfAnotherUser`` from a security role assigned to
        it directly (a role held through a team does not count): 403 ``0x8004A110`` CannotActOnBehalfOfAnotherUser,
        the catalogue's message followed by the principal and the missing privilege. Skipped when privileges are not
        enforced."""
        if not getattr(self.settings, "enforce_privileges", True):
            return
        n2n = self.state.n2n
        direct = {r for u, r in n2n.get("systemuserroles_association", set()) if u == uid}
        granted: frozenset[str] = frozenset()
        for rid in direct:
            granted |= self.role_privileges(rid)
        if ACT_ON_BEHALF in granted:
            return
        access = self.state.rows["systemuser"].get(uid, {}).get("accessmode") or 0
        raise DVError(403, "0x8004A110", "User does not have the privilege to act on behalf another user. "
                      f"Principal user (Id={uid}, type=8, roleCount={len(direct)}, privilegeCount={len(granted)}, "
                      f"accessMode={access}), is missing {ACT_ON_BEHALF} privilege "
                      f"(Id={stable_id('privilege', ACT_ON_BEHALF)}) from a security role assigned to the user "
                      f"directly (not through a team). context.Caller={uid}")

    def impersonate(self, headers: Headers) -> str:
        """The systemuser named by ``CallerObjectId`` (Entra object id) or ``MSCRMCallerID`` (systemuserid)."""
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

    # ------------------------------------------------------------------ roles and privileges
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

    def all_privileges(self) -> frozenset[str]:
        """Every privilege of the organization: those of its ``privilege`` rows (standard tables, tables of imported
        solutions, the other privileges)."""
        if "*" not in self._role_privilege_cache:
            self._role_privilege_cache["*"] = frozenset(
                r.get("name") for r in self.state.rows["privilege"].values())
        return self._role_privilege_cache["*"]

    def role_privileges(self, rid: str) -> frozenset[str]:
        """Privilege names a role grants: every privilege for a role based on the System Administrator template,
        else its ``roleprivileges_association`` rows; less those revoked through the control endpoint. Cached until
        a role's privileges or the schema change."""
        cached = self._role_privilege_cache.get(rid)
        if cached is not None:
            return cached
        row = self.state.rows["role"].get(rid) or {}
        if row.get("roletemplateid") == SYSTEM_ADMINISTRATOR_TEMPLATE:
            names = self.all_privileges()
        else:
            by_id = self.state.rows["privilege"]
            names = frozenset(by_id[p].get("name") for r, p in self.state.n2n.get("roleprivileges_association", ())
                              if r == rid and p in by_id)
        granted = names - frozenset(row.get("@revoked") or ())
        self._role_privilege_cache[rid] = granted
        return granted

    def role_privileges_set(self, txn: Any, rid: str, privileges: dict[str, str]) -> None:
        """Give a role exactly ``privileges`` ``{name: depth}`` (``roleprivileges_association`` rows, depths on the
        role row): a solution import replaces the privileges of the roles it defines. Raises KeyError for a name
        that is no privilege of the organization."""
        by_name = {r.get("name"): pid for pid, r in self.state.rows["privilege"].items()}
        for pair in [p for p in self.state.n2n.get("roleprivileges_association", set()) if p[0] == rid]:
            self.store.disassociate(txn, "roleprivileges_association", pair)
        for name in privileges:
            self.store.associate(txn, "roleprivileges_association", (rid, by_name[name]))
        self.state.rows["role"][rid]["@depths"] = dict(privileges)
        self._role_privilege_cache.clear()

    def user_privileges(self, uid: str) -> frozenset[str]:
        """The union of the privileges of a user's roles (Dataverse: a privilege from any role counts)."""
        granted: frozenset[str] = frozenset()
        for rid in self.user_roles(uid):
            granted |= self.role_privileges(rid)
        return granted

    def retrieve_user_privileges(self, uid: str) -> dict[str, Any]:
        """``GET systemusers(<id>)/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()`` (Microsoft Learn:
        "RetrieveUserPrivileges Function", "RetrieveUserPrivilegesResponse ComplexType", "RolePrivilege
        ComplexType"): ``{"RolePrivileges": [{"Depth", "PrivilegeId", "BusinessUnitId", "PrivilegeName"}]}`` for
        every privilege of :meth:`user_privileges` (direct roles and roles through teams, less revoked ones), sorted
        by name. ``Depth`` is the deepest of the roles' depths for it (System Administrator: Global)."""
        business_unit = self.state.rows["systemuser"].get(uid, {}).get("businessunitid")
        depth: dict[str, int] = {}
        for rid in self.user_roles(uid):
            row = self.state.rows["role"].get(rid) or {}
            depths = row.get("@depths") or {}
            for name in self.role_privileges(rid):
                level = DEPTHS.index(depths.get(name, "Global")) if depths.get(name, "Global") in DEPTHS else 3
                depth[name] = max(depth.get(name, 0), level)
        return {"@odata.context": self.base + "$metadata#Microsoft.Dynamics.CRM.RetrieveUserPrivilegesResponse",
                "RolePrivileges": [{"Depth": DEPTHS[depth[name]], "PrivilegeId": stable_id("privilege", name),
                                    "BusinessUnitId": business_unit, "PrivilegeName": name}
                                   for name in sorted(depth)]}

    def role_privileges_change(self, role: str, *, revoke: list[str], grant: list[str]) -> list[dict[str, Any]]:
        """Revoke privileges from / grant them back to a security role (control endpoint ``/_emulator/privileges``).

        ``role`` is a role id or name (case-insensitive); a name changes every role of that name, i.e. the root
        business unit's role and its business-unit copies, as editing a root role does in Dataverse. Returns
        ``[{"roleid", "name", "revoked": [...]}]``. A revoked privilege leaves the role (its
        ``roleprivileges_association`` row too); a granted one is given back (at the Global depth when the role did
        not have it). Raises KeyError for an unknown role and ValueError for a name that is not a privilege of the
        organization (:meth:`all_privileges`)."""
        unknown = sorted((set(revoke) | set(grant)) - self.all_privileges())
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
            pairs = self.state.n2n.setdefault("roleprivileges_association", set())
            by_name = {r.get("name"): pid for pid, r in self.state.rows["privilege"].items()}
            for rid in ids:
                revoked = (set(roles[rid].get("@revoked") or ()) | set(revoke)) - set(grant)
                roles[rid]["@revoked"] = sorted(revoked)
                template_role = roles[rid].get("roletemplateid") == SYSTEM_ADMINISTRATOR_TEMPLATE
                for name in revoke:
                    pairs.discard((rid, by_name[name]))
                for name in grant:
                    if not template_role:
                        pairs.add((rid, by_name[name]))
                changed.append({"roleid": rid, "name": roles[rid].get("name"), "revoked": sorted(revoked)})
            self._role_privilege_cache.clear()
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
        table = self.by_set.get(name)
        if name.startswith("ImportSolution"):
            return ["prvImportCustomization"], "solution", 7100
        if table is None and name.startswith("EntityDefinitions"):
            return ["prvReadEntity"], "entity", 9800
        if table is None:
            return [privilege_name("Read", self.tables["solution"])], "solution", 7100
        verbs = [{"GET": "Read", "POST": "Create", "PATCH": "Write", "PUT": "Write",
                  "DELETE": "Delete"}.get(method, "Read")]
        if segs[-1] == "$ref" or (method == "POST" and len(segs) > 1 and not segs[1].startswith("Microsoft.Dynamics")):
            verbs = ["AppendTo"]
        elif method == "POST" and len(segs) == 2 and segs[1].startswith("Microsoft.Dynamics.CRM."):
            verbs = {"CreateMultiple": ["Create"], "UpdateMultiple": ["Write"], "UpsertMultiple": ["Create", "Write"],
                     "DeleteMultiple": ["Delete"]}.get(segs[1].rsplit(".", 1)[-1], ["Read"])
        return [privilege_name(verb, table) for verb in verbs], table.logical, table.object_type_code

    def check_privilege(self, method: str, segs: list[str], ctx: Ctx) -> None:
        """Privilege check (403 ``0x80040220`` PrivilegeDenied).

        Roles grant privileges (their ``roleprivileges_association`` rows, all for System Administrator, less those
        revoked through ``/_emulator/privileges``); a caller - and, with impersonation, the impersonated user as well
        (the effective rights are the intersection) - needs every privilege of :meth:`required_privileges` from at least
        one of its roles. WhoAmI, RetrieveVersion and ``$metadata`` work for every enabled user of the organization.
        The 403 body is Dataverse's: "Principal user (Id=…, type=8, roleCount=…, privilegeCount=…, accessMode=…), is
        missing prvReadAccount privilege (Id=…) on OTC=1 for entity 'account'. context.Caller=…"."""
        if not getattr(self.settings, "enforce_privileges", True) or not segs:
            return
        head = segs[0]
        if head in ("$metadata", "WhoAmI", "WhoAmI()", "RetrieveVersion", "RetrieveVersion()"):
            return
        self.require(ctx, *self.required_privileges(method, segs))

    def require(self, ctx: Ctx, privileges: list[str], logical: str, otc: int) -> None:
        """Refuse the request unless the caller - and an impersonated user as well - holds every privilege of
        ``privileges`` (on table ``logical`` with object type code ``otc``): 403 ``0x80040220`` naming the first
        missing one. Used for the request itself and for what its body does (Append/AppendTo on ``@odata.bind``,
        Assign on an owner change). No-op when privileges are not enforced."""
        if not getattr(self.settings, "enforce_privileges", True):
            return
        for uid in dict.fromkeys(u for u in (ctx.real_caller_id, ctx.caller_id) if u):
            granted = ctx.privileges.get(uid)
            if granted is None:
                granted = ctx.privileges[uid] = self.user_privileges(uid)
            missing = next((p for p in privileges if p not in granted), None)
            if missing is None:
                continue
            roles = self.user_roles(uid)
            access = self.state.rows["systemuser"].get(uid, {}).get("accessmode") or 0
            raise DVError(403, "0x80040220", f"Principal user (Id={uid}, type=8, roleCount={len(roles)}, "
                          f"privilegeCount={len(granted)}, accessMode={access}), is missing {missing} privilege "
                          f"(Id={stable_id('privilege', missing)}) on OTC={otc} for entity '{logical}'. "
                          f"context.Caller={ctx.real_caller_id or ctx.caller_id}")

    def require_on(self, ctx: Ctx, verb: str, table: Table) -> None:
        """:meth:`require` of ``prv<verb><table>`` (e.g. ``require_on(ctx, "Append", account)``)."""
        self.require(ctx, [privilege_name(verb, table)], table.logical, table.object_type_code)
