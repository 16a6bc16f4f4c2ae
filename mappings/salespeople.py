"""Couple Salespersons: Dataverse users beside BC salespeople (reference 10; BC page "Users - Dataverse" with
Couple, Uncouple and "Create Salesperson in Business Central").

Users are the systemusers the SALESPEOPLE mapping reads (enabled, licensed, not the integration user). A salesperson
created from a user gets the next code 'SP NO. 00001', 'SP NO. 00002', … (BC: increment of the last code matching
'SP NO. 0*'), the user's name, e-mail and mobile phone, and is coupled to the user.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from mappings.catalogue import bc_table, dataverse_table
from mappings.models import Coupling
from mappings.remote import bc_record_url, dataverse_record_url

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


def salespeople_overview(*, connection: Any, bc: Any = None,
                         dataverse: Any = None) -> tuple[list[UserLine], list[SalespersonLine]]:
    """Users and salespeople side by side with their couplings. Raises the clients' ``ClientError``."""
    from connections.clients import business_central_client_for, dataverse_client_for

    bc = bc or business_central_client_for(connection)
    dataverse = dataverse or dataverse_client_for(connection)
    sp_side, user_side = bc_table(SALESPERSON_TABLE), dataverse_table(USER_TABLE)
    couplings = list(Coupling.objects.filter(connection=connection, bc_table=SALESPERSON_TABLE,
                                             dataverse_table=USER_TABLE))
    by_bc = {c.bc_id: c for c in couplings}
    by_user = {c.dataverse_id: c for c in couplings}
    salespeople = [
        SalespersonLine(uuid.UUID(str(r["id"])), str(r.get("code") or ""), str(r.get("displayName") or ""),
                        bc_record_url(connection, SALESPERSON_TABLE, r["id"]), by_bc.get(uuid.UUID(str(r["id"]))))
        for r in bc.iter_rows(sp_side.entity_set, select=["id", "code", "displayName"], api=sp_side.api)
    ]
    labels = {s.id: f"{s.code} · {s.name}" for s in salespeople}
    users = []
    for row in dataverse.iter_rows(user_side.entity_set, select=["systemuserid", "fullname", "internalemailaddress"],
                                   filter=USER_FILTER):
        user_id = uuid.UUID(str(row["systemuserid"]))
        coupling = by_user.get(user_id)
        users.append(UserLine(user_id, str(row.get("fullname") or ""), str(row.get("internalemailaddress") or ""),
                              dataverse_record_url(connection, USER_TABLE, user_id), coupling,
                              labels.get(coupling.bc_id, str(coupling.bc_id)) if coupling else ""))
    return users, salespeople


def next_salesperson_code(codes: list[str]) -> str:
    """'SP NO. 00001' or the increment of the highest existing 'SP NO. <digits>' code (reference 10)."""
    numbers = [(int(m.group(1)), len(m.group(1))) for c in codes if (m := _CODE_RE.match(c))]
    if not numbers:
        return f"{CODE_PREFIX}00001"
    number, width = max(numbers)
    return f"{CODE_PREFIX}{number + 1:0{width}d}"


def salesperson_create_from_user(*, connection: Any, user_id: uuid.UUID, bc: Any = None,
                                 dataverse: Any = None) -> Coupling:
    """Create a BC salesperson from a Dataverse user and couple them (BC: "Create Salesperson in Business Central").

    Raises ``ValidationError`` when the user is already coupled, and the clients' ``ClientError`` when a side
    refuses (nothing is coupled then).
    """
    from connections.clients import business_central_client_for, dataverse_client_for
    from mappings.services import coupling_create

    if Coupling.objects.filter(connection=connection, dataverse_table=USER_TABLE, dataverse_id=user_id).exists():
        raise ValidationError("This user is already coupled to a salesperson; uncouple it first.")
    bc = bc or business_central_client_for(connection)
    dataverse = dataverse or dataverse_client_for(connection)
    sp_side, user_side = bc_table(SALESPERSON_TABLE), dataverse_table(USER_TABLE)
    user = dataverse.retrieve(user_side.entity_set, user_id,
                              select=["fullname", "internalemailaddress", "mobilephone"])
    codes = [str(r.get("code") or "") for r in bc.iter_rows(sp_side.entity_set, select=["code"],
                                                            filter="startswith(code,'SP NO. ')", api=sp_side.api)]
    created = bc.create(sp_side.entity_set, {
        "code": next_salesperson_code(codes), "displayName": str(user.get("fullname") or "")[:50],
        "email": str(user.get("internalemailaddress") or "")[:80], "phoneNo": str(user.get("mobilephone") or "")[:30],
    }, api=sp_side.api)
    return coupling_create(connection=connection, bc_table=SALESPERSON_TABLE, bc_id=created["id"],
                           dataverse_table=USER_TABLE, dataverse_id=user_id)
