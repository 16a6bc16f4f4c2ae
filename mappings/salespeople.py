"""Couple Salespersons: Dataverse users beside BC salespeople (BC: page "Users - Dataverse", CRM Systemuser List,
with Couple, Uncouple and "Create Salesperson in Business Central").

Users are the systemusers the SALESPEOPLE mapping reads (enabled, licensed, not the integration user). A salesperson
created from a user gets the next code 'SP NO. 00001', 'SP NO. 00002', … (BC: increment of the last code matching
'SP NO. 0*'), the user's name, e-mail and mobile phone, and is coupled to the user.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from connections.clients import (
    BusinessCentralClient,
    DataverseClient,
    business_central_client_for,
    dataverse_client_for,
)
from connections.models import ConnectionSetup
from mappings.catalogue import bc_table, dataverse_table
from mappings.models import Coupling
from mappings.remote import bc_record_url, dataverse_record_url
from mappings.services import CouplingConflict, coupling_create

SALESPERSON_TABLE = "Salesperson/Purchaser"
USER_TABLE = "systemuser"
USER_FILTER = "isdisabled eq false and islicensed eq true and isintegrationuser eq false"
CODE_PREFIX = "SP NO. "
_CODE_RE = re.compile(r"^SP NO\. (\d+)$")


@dataclass(frozen=True)
class UserLine:
    """A Dataverse user and the salesperson coupled to it (if any)."""

    id: uuid.UUID
    name: str
    email: str
    url: str
    coupling: Coupling | None
    salesperson_label: str


@dataclass(frozen=True)
class SalespersonLine:
    """A BC salesperson and whether it is coupled."""

    id: uuid.UUID
    code: str
    name: str
    url: str
    coupling: Coupling | None


@dataclass(frozen=True)
class SalespersonRow:
    """A BC salesperson as read from BC (Salesperson/Purchaser: SystemId, code, name, e-mail)."""

    id: uuid.UUID
    code: str
    name: str
    email: str


@dataclass(frozen=True)
class UserRow:
    """A Dataverse user the SALESPEOPLE mapping reads (systemuserid, full name, primary e-mail)."""

    id: uuid.UUID
    name: str
    email: str


def salespeople_read(*, bc: BusinessCentralClient) -> list[SalespersonRow]:
    """BC's salespeople (Salesperson/Purchaser), in BC's order. Raises the clients' ``ClientError``."""
    side = bc_table(SALESPERSON_TABLE)
    return [SalespersonRow(uuid.UUID(str(r["id"])), str(r.get("code") or ""), str(r.get("displayName") or ""),
                           str(r.get("email") or ""))
            for r in bc.iter_rows(side.entity_set, select=["id", "code", "displayName", "email"], api=side.api)]


def salesperson_users_read(*, dataverse: DataverseClient, exclude: uuid.UUID | None = None) -> list[UserRow]:
    """The Dataverse users a salesperson may be coupled to: the rows the SALESPEOPLE mapping reads (enabled,
    licensed, not an integration user: :data:`USER_FILTER`, BC: the SALESPEOPLE mapping of codeunit 7204 CDS Setup
    Defaults), less ``exclude`` (the connection's own integration user, which an interactive OAuth user is not
    flagged as). Raises the clients' ``ClientError``."""
    side = dataverse_table(USER_TABLE)
    rows = dataverse.iter_rows(side.entity_set, select=["systemuserid", "fullname", "internalemailaddress"],
                               filter=USER_FILTER)
    users = [UserRow(uuid.UUID(str(r["systemuserid"])), str(r.get("fullname") or ""),
                     str(r.get("internalemailaddress") or "")) for r in rows]
    return [u for u in users if u.id != exclude]


def salespeople_match_by_email(salespeople: list[SalespersonRow], users: list[UserRow]) -> dict[str, uuid.UUID]:
    """Salesperson code → the user whose e-mail equals the salesperson's e-mail, compared case-insensitively and
    without surrounding blanks (e-mail addresses are case-insensitive in practice). A salesperson without an e-mail,
    or whose e-mail two users share, is not matched; one user is matched to one salesperson at most (the first)."""
    by_email: dict[str, list[UserRow]] = {}
    for user in users:
        if user.email.strip():
            by_email.setdefault(user.email.strip().lower(), []).append(user)
    matches: dict[str, uuid.UUID] = {}
    taken: set[uuid.UUID] = set()
    for person in salespeople:
        found = by_email.get(person.email.strip().lower(), []) if person.email.strip() else []
        if len(found) == 1 and found[0].id not in taken:
            matches[person.code] = found[0].id
            taken.add(found[0].id)
    return matches


def salespeople_overview(*, connection: ConnectionSetup, bc: BusinessCentralClient | None = None,
                         dataverse: DataverseClient | None = None) -> tuple[list[UserLine], list[SalespersonLine]]:
    """Users and salespeople side by side with their couplings. Raises the clients' ``ClientError``."""
    bc = bc or business_central_client_for(connection)
    dataverse = dataverse or dataverse_client_for(connection)
    couplings = list(Coupling.objects.filter(connection=connection, bc_table=SALESPERSON_TABLE,
                                             dataverse_table=USER_TABLE))
    by_bc = {c.bc_id: c for c in couplings}
    by_user = {c.dataverse_id: c for c in couplings}
    salespeople = [
        SalespersonLine(row.id, row.code, row.name, bc_record_url(connection, SALESPERSON_TABLE, row.id),
                        by_bc.get(row.id))
        for row in salespeople_read(bc=bc)
    ]
    labels = {s.id: f"{s.code} · {s.name}" for s in salespeople}
    users = []
    for row in salesperson_users_read(dataverse=dataverse):
        coupling = by_user.get(row.id)
        users.append(UserLine(row.id, row.name, row.email, dataverse_record_url(connection, USER_TABLE, row.id),
                              coupling, labels.get(coupling.bc_id, str(coupling.bc_id)) if coupling else ""))
    return users, salespeople


@dataclass
class CoupleResult:
    """What :func:`salespeople_couple` did: codes coupled now, codes already coupled to the same user, and problems
    (one readable line per pair that could not be coupled)."""

    coupled: list[str]
    already: list[str]
    problems: list[str]


def salespeople_couple(*, connection: ConnectionSetup, couplings: list[dict[str, str]]) -> CoupleResult:
    """Couple salespeople to Dataverse users (BC: "Users - Dataverse" Couple; CDS Connection Setup Wizard step
    CoupleSalespersons).

    ``couplings``: ``[{"code": "JO", "salesperson_id": "<BC SystemId>", "systemuserid": "<GUID>"}, ...]``.
    Idempotent: a pair already coupled is counted in ``already``. A pair that conflicts with another coupling (the
    salesperson or the user is coupled elsewhere) or has a malformed id is reported in ``problems``; the other pairs
    are still coupled. Never raises for a single pair.
    """
    result = CoupleResult([], [], [])
    for pair in couplings:
        code = str(pair.get("code") or "")
        try:
            bc_id = uuid.UUID(str(pair.get("salesperson_id")))
            user_id = uuid.UUID(str(pair.get("systemuserid")))
        except ValueError:
            result.problems.append(f"{code or '?'}: the salesperson or user id is not a GUID.")
            continue
        if Coupling.objects.filter(connection=connection, bc_table=SALESPERSON_TABLE, bc_id=bc_id,
                                   dataverse_table=USER_TABLE, dataverse_id=user_id).exists():
            result.already.append(code)
            continue
        try:
            coupling_create(connection=connection, bc_table=SALESPERSON_TABLE, bc_id=bc_id,
                            dataverse_table=USER_TABLE, dataverse_id=user_id)
        except CouplingConflict as conflict:
            result.problems.append(f"{code}: {' '.join(conflict.messages)}")
            continue
        result.coupled.append(code)
    return result


def next_salesperson_code(codes: list[str]) -> str:
    """'SP NO. 00001' or the increment of the highest existing 'SP NO. <digits>' code (BC: salespersons created
    from Dataverse users by the SALESPEOPLE mapping)."""
    numbers = [(int(m.group(1)), len(m.group(1))) for c in codes if (m := _CODE_RE.match(c))]
    if not numbers:
        return f"{CODE_PREFIX}00001"
    number, width = max(numbers)
    return f"{CODE_PREFIX}{number + 1:0{width}d}"


def existing_salesperson_codes(bc: BusinessCentralClient) -> list[str]:
    """The codes of the BC salespeople starting with 'SP NO. ' (one filtered read), for
    :func:`next_salesperson_code`. Raises the client's ``ClientError``."""
    sp_side = bc_table(SALESPERSON_TABLE)
    return [str(r.get("code") or "") for r in bc.iter_rows(sp_side.entity_set, select=["code"],
                                                           filter="startswith(code,'SP NO. ')", api=sp_side.api)]


def salesperson_create_from_user(*, connection: ConnectionSetup, user_id: uuid.UUID,
                                 bc: BusinessCentralClient | None = None,
                                 dataverse: DataverseClient | None = None) -> Coupling:
    """Create a BC salesperson from a Dataverse user and couple them (BC: "Create Salesperson in Business Central").

    Raises ``ValidationError`` when the user is already coupled, and the clients' ``ClientError`` when a side
    refuses (nothing is coupled then).
    """

    if Coupling.objects.filter(connection=connection, dataverse_table=USER_TABLE, dataverse_id=user_id).exists():
        raise ValidationError("This user is already coupled to a salesperson; uncouple it first.")
    bc = bc or business_central_client_for(connection)
    dataverse = dataverse or dataverse_client_for(connection)
    sp_side, user_side = bc_table(SALESPERSON_TABLE), dataverse_table(USER_TABLE)
    user = dataverse.retrieve(user_side.entity_set, user_id,
                              select=["fullname", "internalemailaddress", "mobilephone"])
    created = bc.create(sp_side.entity_set, {
        "code": next_salesperson_code(existing_salesperson_codes(bc)),
        "displayName": str(user.get("fullname") or "")[:50],
        "email": str(user.get("internalemailaddress") or "")[:80], "phoneNo": str(user.get("mobilephone") or "")[:30],
    }, api=sp_side.api)
    return coupling_create(connection=connection, bc_table=SALESPERSON_TABLE, bc_id=created["id"],
                           dataverse_table=USER_TABLE, dataverse_id=user_id)
