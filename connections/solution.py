"""The portal's Dataverse integration solution: its unpacked source in ``dataverse-solution/`` (the layout of
SolutionPackager / ``pac solution unpack``) and the solution zip built from it for ``ImportSolution``.

The portal's counterpart of Business Central's ``MicrosoftDynamicsNavIntegration`` solution (BC: codeunit 5330 CRM
Integration Management, ImportCRMSolution), with its own publisher (``bcportal``, prefix ``bcp``): the tables and
columns the portal writes, and the security roles of the integration user. Everything this module exports - unique
name, version, publisher, roles - is read from the folder, so the folder is the one place to change the package.
Sources: Microsoft Learn "SolutionPackager tool" (the unpacked layout: ``Other/Solution.xml``,
``Other/Customizations.xml``, ``Other/Relationships``, ``Entities/<name>/Entity.xml``, ``Roles/<name>.xml``) and
"ImportSolution Action" (the zip: ``solution.xml``, ``customizations.xml``, ``[Content_Types].xml``).
"""
from __future__ import annotations

import functools
import io
import uuid
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path

#: The unpacked solution, a top-level folder of the repository.
SOURCE = Path(__file__).resolve().parent.parent / "dataverse-solution" / "src"
#: Role template of System Administrator; the integration user must not hold a role based on it (BC:
#: TestIntegrationUserRequirements).
SYSTEM_ADMINISTRATOR_ROLE_TEMPLATE_ID = uuid.UUID("627090ff-40a3-4053-8790-584edc5be201")
#: The roles assigned to the integration user, as BC assigns its "Integration administrator" and "Integration user".
ADMINISTRATOR_ROLE_NAME = "BC Integration Administrator"
USER_ROLE_NAME = "BC Integration User"
#: The solution's account statistics table (BC: table 5367 "CRM Account Statistics", entity nav_accountstatistics),
#: its entity set and primary id, and the account's lookup to it (relationship bcp_accountstatistics_account):
#: ``ACCOUNT_STATISTICS_LOOKUP`` is the lookup column, ``ACCOUNT_STATISTICS_NAV`` its single-valued navigation property.
ACCOUNT_STATISTICS_TABLE = "bcp_accountstatistics"
ACCOUNT_STATISTICS_SET = "bcp_accountstatisticses"
ACCOUNT_STATISTICS_ID = "bcp_accountstatisticsid"
ACCOUNT_STATISTICS_LOOKUP = "_bcp_accountstatisticsid_value"
ACCOUNT_STATISTICS_NAV = "bcp_AccountStatisticsId"

_CONTENT_TYPES = """<?xml version="1.0" encoding="utf-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="xml" ContentType="application/octet-stream" /></Types>"""


@dataclass(frozen=True)
class SolutionManifest:
    """What ``Other/Solution.xml`` and ``Roles/*.xml`` declare: unique name, version (``a.b.c.d``), publisher unique
    name and customization prefix, and the roles ``{role id: name}``."""

    unique_name: str
    version: str
    publisher: str
    prefix: str
    roles: dict[uuid.UUID, str]


def read_manifest(source: Path = SOURCE) -> SolutionManifest:
    """Parse the manifest and roles of an unpacked solution folder (``source`` = its ``src``). Raises
    ``FileNotFoundError`` / ``xml.etree.ElementTree.ParseError`` on a broken folder."""
    manifest = ET.parse(source / "Other" / "Solution.xml").getroot().find("SolutionManifest")
    if manifest is None:
        raise ValueError(f"{source / 'Other' / 'Solution.xml'} has no SolutionManifest")
    roles = {}
    for path in sorted((source / "Roles").glob("*.xml")):
        role = ET.parse(path).getroot()
        roles[uuid.UUID(role.get("id", "").strip("{}"))] = role.get("name", path.stem)
    return SolutionManifest(
        unique_name=(manifest.findtext("UniqueName") or "").strip(),
        version=(manifest.findtext("Version") or "").strip(),
        publisher=(manifest.findtext("Publisher/UniqueName") or "").strip(),
        prefix=(manifest.findtext("Publisher/CustomizationPrefix") or "").strip(),
        roles=roles,
    )


MANIFEST = read_manifest()
SOLUTION_UNIQUE_NAME = MANIFEST.unique_name
SOLUTION_VERSION = MANIFEST.version
PUBLISHER_UNIQUE_NAME = MANIFEST.publisher
PUBLISHER_PREFIX = MANIFEST.prefix
#: Every role of the solution ``{id: name}``.
SOLUTION_ROLES = MANIFEST.roles
#: The two roles the import assigns to the integration user ``{id: name}`` (BC assigns its two integration roles).
INTEGRATION_ROLES = {role_id: name for role_id, name in SOLUTION_ROLES.items()
                     if name in (ADMINISTRATOR_ROLE_NAME, USER_ROLE_NAME)}


def roles_granting(privilege: str, source: Path = SOURCE) -> list[str]:
    """Names of the solution's roles whose ``RolePrivileges`` hold ``privilege`` (e.g. ``prvCreateProduct``), from
    the shipped ``Roles/*.xml``; sorted."""
    return sorted(name for name, held in _role_privileges(source).items() if privilege.lower() in held)


@functools.cache
def _role_privileges(source: Path) -> dict[str, set[str]]:
    """``{role name: lower-case privilege names}`` of the shipped ``Roles/*.xml`` (read once per folder)."""
    held: dict[str, set[str]] = {}
    for path in sorted((source / "Roles").glob("*.xml")):
        role = ET.parse(path).getroot()
        held[role.get("name", path.stem)] = {(p.get("name") or "").lower() for p in role.iter("RolePrivilege")}
    return held


def version_tuple(version: str) -> tuple[int, ...]:
    """``"1.0.10.0"`` -> ``(1, 0, 10, 0)`` for comparing solution versions (each part numerically); a part that is
    not a number counts as 0."""
    return tuple(int(part) if part.isdigit() else 0 for part in (version or "0").split("."))


def _fill(customizations: ET.Element, tag: str, children: list[ET.Element]) -> None:
    holder = customizations.find(tag)
    if holder is None:
        holder = ET.SubElement(customizations, tag)
    holder.extend(children)


def customizations_xml(source: Path = SOURCE) -> bytes:
    """``customizations.xml`` packed from the folder: ``Other/Customizations.xml`` with the ``Entity`` elements of
    ``Entities/*/Entity.xml``, the ``Role`` elements of ``Roles/*.xml`` and the ``EntityRelationship`` definitions of
    ``Other/Relationships/*.xml`` named by ``Other/Relationships.xml`` put in (SolutionPackager's pack)."""
    root = ET.parse(source / "Other" / "Customizations.xml").getroot()
    _fill(root, "Entities", [ET.parse(p).getroot() for p in sorted((source / "Entities").glob("*/Entity.xml"))])
    _fill(root, "Roles", [ET.parse(p).getroot() for p in sorted((source / "Roles").glob("*.xml"))])
    names_file = source / "Other" / "Relationships.xml"
    wanted = {r.get("Name") for r in ET.parse(names_file).getroot()} if names_file.exists() else set()
    relationships = [r for p in sorted((source / "Other" / "Relationships").glob("*.xml"))
                     for r in ET.parse(p).getroot() if r.get("Name") in wanted]
    _fill(root, "EntityRelationships", relationships)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def solution_package(source: Path = SOURCE) -> bytes:
    """Return the integration solution zip (bytes) for the ``ImportSolution`` action (Microsoft Learn: "ImportSolution
    Action"), packed from the unpacked folder ``source`` (default: the repository's ``dataverse-solution/src``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("solution.xml", (source / "Other" / "Solution.xml").read_bytes())
        archive.writestr("customizations.xml", customizations_xml(source))
    return buffer.getvalue()
