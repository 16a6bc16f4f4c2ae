"""What an imported solution defines, read from its ``customizations.xml``: custom tables, columns added to existing
tables, one-to-many relationships, local option sets and security roles with their privileges.

Sources: Microsoft Learn "Solution component file reference" / "SolutionPackager tool" (``Entities/Entity`` with
``Name`` = the table's SchemaName and ``EntityInfo/entity/attributes/attribute`` with ``Type``, ``LogicalName``,
``RequiredLevel``, ``MaxLength``, ``Format``, ``Behavior``, ``DisplayMask``; ``EntitySetName``,
``OwnershipTypeMask``, ``ChangeTrackingEnabled``; ``EntityRelationships/EntityRelationship`` with
``ReferencingEntityName``, ``ReferencedEntityName``, ``ReferencingAttributeName``, ``CascadeDelete`` and the
navigation property names of its two roles; ``Roles/Role[@id,@name]/RolePrivileges/RolePrivilege[@name,@level]``),
"Solution concepts" (a publisher's customization prefix starts the names of the components it creates) and "Create
custom tables" (a custom table has Active/Inactive states, ownership columns and, with money columns, a currency).

Errors are Dataverse's import failure (:class:`ImportRefused`), raised before anything is created.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from .schema import ACTIVE_INACTIVE, ACTIVE_INACTIVE_LABELS, Col, Table, finish_table
from .security import privilege_rows

#: customizations.xml attribute ``Type`` -> the emulator's column type; ``None``: a column the platform adds itself.
_TYPES: dict[str, str | None] = {
    "nvarchar": "String", "ntext": "Memo", "memo": "Memo", "int": "Integer", "bigint": "BigInt",
    "decimal": "Decimal", "float": "Double", "money": "Money", "bit": "Boolean", "datetime": "DateTime",
    "lookup": "Lookup", "customer": "Customer", "uniqueidentifier": "Uniqueidentifier", "picklist": "Picklist",
    "primarykey": None, "owner": None, "state": None, "status": None,
}
_REQUIRED = {"none": "None", "recommended": "Recommended", "required": "ApplicationRequired",
             "systemrequired": "SystemRequired"}
_CASCADE = {"cascade": "cascade", "restrict": "restrict", "removelink": "removelink"}
#: Columns :func:`.schema.finish_table` adds to every custom table.
_PLATFORM_COLUMNS = {"createdby", "createdon", "createdonbehalfby", "modifiedby", "modifiedon", "modifiedonbehalfby",
                     "overriddencreatedon", "versionnumber", "importsequencenumber", "timezoneruleversionnumber",
                     "utcconversiontimezonecode", "ownerid", "owningbusinessunit", "owninguser", "owningteam",
                     "organizationid", "statecode", "statuscode", "transactioncurrencyid", "exchangerate"}
#: Depths of ``RolePrivilege/@level`` (``None``: not granted).
LEVELS = ("None", "Basic", "Local", "Deep", "Global")


class ImportRefused(Exception):
    """The solution cannot be imported: ``code`` and ``message`` are Dataverse's error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def invalid(message: str) -> ImportRefused:
    """``0x80048060``: the import file is invalid (the message says what is wrong with it)."""
    return ImportRefused("0x80048060", f"The import file is invalid. {message}")


@dataclass
class Role:
    """A role of the solution: id (lower-case GUID), name, privileges ``{name: level}``."""

    role_id: str
    name: str
    privileges: dict[str, str] = field(default_factory=dict)


@dataclass
class Components:
    """What a solution defines: new custom tables, columns added to existing tables ``{table: [col]}``, roles."""

    tables: list[Table] = field(default_factory=list)
    columns: dict[str, list[Col]] = field(default_factory=dict)
    roles: list[Role] = field(default_factory=list)


def _text(el: ET.Element | None, path: str, default: str = "") -> str:
    value = el.findtext(path) if el is not None else None
    return (value or default).strip()


def _label(el: ET.Element | None, path: str) -> str:
    found = el.find(path) if el is not None else None
    return (found.get("description") or "") if found is not None else ""


def _column(attribute: ET.Element, solution: str) -> Col | None:
    kind = _text(attribute, "Type").lower()
    if kind not in _TYPES:
        raise invalid(f"The attribute '{attribute.get('PhysicalName')}' has the unknown type '{kind}'.")
    col_type = _TYPES[kind]
    name = (_text(attribute, "LogicalName") or attribute.get("PhysicalName") or "").lower()
    if col_type is None or not name:
        return None
    col = Col(name, col_type, required=_REQUIRED.get(_text(attribute, "RequiredLevel", "none").lower(), "None"),
              create=_text(attribute, "ValidForCreateApi", "1") == "1",
              update=_text(attribute, "ValidForUpdateApi", "1") == "1", solution=solution)
    if col_type in ("String", "Memo"):
        col.max_length = int(_text(attribute, "MaxLength", "100" if col_type == "String" else "2000"))
    if col_type == "DateTime":
        col.date_only = _text(attribute, "Format").lower() == "date"
    if col_type in ("Integer", "BigInt", "Decimal", "Double", "Money"):
        low, high = _text(attribute, "MinValue"), _text(attribute, "MaxValue")
        col.minimum = float(low) if low else None
        col.maximum = float(high) if high else None
    if col_type == "Boolean":
        col.default = False
    if col_type == "Picklist":
        col.options = {int(o.get("value") or 0): _label(o, "labels/label")
                       for o in attribute.iterfind("optionset/options/option")}
    return col


def _primary_name(attributes: list[ET.Element]) -> str | None:
    for attribute in attributes:
        if "PrimaryName" in _text(attribute, "DisplayMask").split("|"):
            return _text(attribute, "LogicalName").lower() or None
    return None


def _check_prefix(name: str, prefix: str, what: str) -> None:
    if not name.lower().startswith(prefix.lower() + "_"):
        raise invalid(f"The {what} '{name}' does not begin with the customization prefix '{prefix}_' of the "
                      "solution's publisher: a publisher's components carry its prefix.")


def parse_components(customizations: ET.Element, *, solution: str, prefix: str, tables: dict[str, Table],
                     known_privileges: frozenset[str]) -> Components:
    """Read ``customizations`` (the parsed ``customizations.xml``) against the organization's ``tables`` (without
    this solution's earlier components). Custom tables and columns must carry ``prefix``; lookups need a
    relationship whose tables exist; role privileges must exist once the solution's tables are added
    (``known_privileges`` plus the privileges of the new tables). Raises
    :class:`ImportRefused`."""
    out = Components()
    attributes_by_table: dict[str, dict[str, Col]] = {}
    next_code = 10000 + sum(1 for t in tables.values() if t.solution is not None)
    for entity in customizations.iterfind("Entities/Entity"):
        schema = _text(entity, "Name")
        info = entity.find("EntityInfo/entity")
        if not schema or info is None:
            raise invalid("An Entity element has no Name or no EntityInfo/entity.")
        logical = schema.lower()
        attributes = list(info.iterfind("attributes/attribute"))
        standard = tables.get(logical)
        cols: dict[str, Col] = {}
        for attribute in attributes:
            col = _column(attribute, solution)
            if col is None or col.name in _PLATFORM_COLUMNS:
                continue
            if standard is not None and col.name in standard.columns and standard.columns[col.name].solution is None:
                continue  # a standard column listed with its table: nothing to create
            _check_prefix(col.name, prefix, "column")
            cols[col.name] = col
        attributes_by_table[logical] = cols
        if standard is not None:
            out.columns[logical] = list(cols.values())
            continue
        _check_prefix(logical, prefix, "table")
        ownership = {"orgowned": "OrganizationOwned", "userowned": "UserOwned"}.get(
            _text(info, "OwnershipTypeMask", "UserOwned").lower(), "UserOwned")
        table = Table(logical, _text(info, "EntitySetName") or logical + "s", _primary_name(attributes),
                      ownership=ownership, columns=cols, states=dict(ACTIVE_INACTIVE),
                      status_labels=dict(ACTIVE_INACTIVE_LABELS),
                      change_tracking=_text(info, "ChangeTrackingEnabled", "0") == "1", solution=solution,
                      currency=any(c.type == "Money" for c in cols.values()), object_type_code=next_code,
                      display=_label(info, "LocalizedNames/LocalizedName") or schema, schema=schema)
        next_code += 1
        out.tables.append(table)
    _relationships(customizations, out, attributes_by_table, tables)
    for t in out.tables:
        finish_table(t)
    new_privileges = {row["name"] for row in privilege_rows(out.tables).values()}
    for role in customizations.iterfind("Roles/Role"):
        out.roles.append(_role(role, known_privileges | new_privileges))
    return out


def _relationships(customizations: ET.Element, out: Components, attributes: dict[str, dict[str, Col]],
                   tables: dict[str, Table]) -> None:
    """Give each lookup column of the solution its target, navigation properties and cascade from its
    relationship; every lookup needs one."""
    names = set(tables) | {t.logical for t in out.tables}
    for rel in customizations.iterfind("EntityRelationships/EntityRelationship"):
        name = rel.get("Name") or ""
        if _text(rel, "EntityRelationshipType", "OneToMany") != "OneToMany":
            raise invalid(f"The relationship '{name}' is not one-to-many; only one-to-many relationships are "
                          "supported.")
        referencing = _text(rel, "ReferencingEntityName").lower()
        referenced = _text(rel, "ReferencedEntityName").lower()
        column = _text(rel, "ReferencingAttributeName").lower()
        for table in (referencing, referenced):
            if table not in names:
                raise invalid(f"Missing dependency: the relationship '{name}' needs the table '{table}', which is "
                              "neither in the solution nor in the environment.")
        col = attributes.get(referencing, {}).get(column)
        if col is None:
            raise invalid(f"The relationship '{name}' refers to the attribute '{column}' of '{referencing}', which "
                          "the solution does not define.")
        roles = {_text(r, "RelationshipRoleType"): _text(r, "NavigationPropertyName")
                 for r in rel.iterfind("EntityRelationshipRoles/EntityRelationshipRole")}
        col.targets = (referenced,)
        if roles.get("1") and roles["1"] != col.name:
            col.navs = {referenced: roles["1"]}
        col.rels = {referenced: roles.get("0") or name}
        col.on_delete = _CASCADE.get(_text(rel, "CascadeDelete", "RemoveLink").lower(), "removelink")
    for table, cols in attributes.items():
        for col in cols.values():
            if col.is_lookup and not col.targets:
                raise invalid(f"The lookup attribute '{col.name}' of '{table}' has no relationship.")


def _role(role: ET.Element, known: frozenset[str]) -> Role:
    role_id = (role.get("id") or "").strip("{}").lower()
    name = role.get("name") or ""
    if not role_id or not name:
        raise invalid("A Role element needs an id and a name.")
    privileges: dict[str, str] = {}
    for privilege in role.iterfind("RolePrivileges/RolePrivilege"):
        pname, level = privilege.get("name") or "", privilege.get("level") or "Global"
        if level not in LEVELS:
            raise invalid(f"The privilege '{pname}' of the role '{name}' has the unknown level '{level}' "
                          f"(one of {', '.join(LEVELS)}).")
        if pname not in known:
            raise invalid(f"Missing dependency: the role '{name}' grants the privilege '{pname}', which does not "
                          "exist in the environment or the solution.")
        if level != "None":
            privileges[pname] = level
    return Role(role_id, name, privileges)
