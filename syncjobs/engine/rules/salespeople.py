"""Salespeople and record owners (BC: codeunit "CDS Int. Table. Subscriber", SetOwnerId and
UpdateSalesPersOnBeforeInsertRecord; codeunit 7204 "CDS Setup Defaults", mapping SALESPEOPLE; table 7200 "CDS
Connection Setup", field Ownership Model).

* Dataverse users become BC salespeople (SALESPEOPLE, Dataverse -> BC). The connection's own integration user never
  does, even when Dataverse does not flag it as an integration user. A new salesperson gets the next code
  'SP NO. 00001', 'SP NO. 00002', … (the same rule as Couple Salespersons' "Create Salesperson",
  :mod:`mappings.salespeople`) and its name, e-mail and phone cut to the BC field lengths.
* The owner of a BC -> Dataverse row: the Person model maps the salesperson to OwnerId through the SALESPEOPLE
  couplings (an ordinary foreign key, so no rule here beyond ``ownerid`` meaning a user); in the Team model a new
  account or contact is owned by the default team of the root business unit, and a new sales order is owned by it
  in either model when no user owns it.
* Dataverse -> BC: a team-owned row keeps its BC salesperson.
"""
from __future__ import annotations

from typing import Any
from uuid import UUID

from connections.clients.errors import ClientError
from connections.models import ConnectionSetup
from mappings.salespeople import existing_salesperson_codes, next_salesperson_code
from syncjobs.engine.context import Item, PassContext
from syncjobs.engine.decision import Action
from syncjobs.engine.errors import CouplingHints
from syncjobs.engine.rules.base import TableRule
from syncjobs.engine.writers import failure_from

#: BC Salesperson/Purchaser field lengths (Name Text[50], E-Mail Text[80], Phone No. Text[30]).
SALESPERSON_LIMITS = {"displayName": 50, "email": 80, "phoneNo": 30}
#: The polymorphic owner column, its user target (the target the OwnerId field mappings mean) and its team target.
OWNER_COLUMN = "ownerid"
USER_TABLE = "systemuser"
TEAM_TABLE = "team"
SALESPERSON_TABLE = "Salesperson/Purchaser"
#: How the messages about an uncoupled salesperson or user word them.
SALESPERSON_HINTS = CouplingHints(
    record_labels={SALESPERSON_TABLE: "salesperson"},
    row_labels={USER_TABLE: "a Dataverse user"},
    couple_hints={USER_TABLE: "couple it under Couple Salespersons"},
    reverse_couple_hints={USER_TABLE: "couple the user under Couple Salespersons"},
)


def team_owner(ctx: PassContext, body: dict[str, Any], *, any_model: bool = False) -> None:
    """Own a new Dataverse row (``body``, logical columns) by the default team of the root business unit: in the
    Team ownership model, or in either model when ``any_model``. The team is looked up once per pass; nothing is
    set when Dataverse has none. Raises the client's ClientError."""
    if ctx.connection.ownership_model != ConnectionSetup.OwnershipModel.TEAM and not any_model:
        return
    if not ctx.cache.default_team_read:
        team = next(iter(ctx.dv_client.iter_rows("teams", select=["teamid"], filter="isdefault eq true",
                                                 page_size=1)), None)
        ctx.cache.default_team = UUID(str(team["teamid"])) if team else None
        ctx.cache.default_team_read = True
    if ctx.cache.default_team is not None:
        body[OWNER_COLUMN] = ctx.cache.default_team
        body[f"{OWNER_COLUMN}type"] = TEAM_TABLE


class TeamOwnedRule(TableRule):
    """BC table -> account or contact: in the Team ownership model a new row is owned by the default team."""

    def new_row(self, ctx: PassContext, item: Item, body: dict[str, Any]) -> dict[str, Any]:
        if OWNER_COLUMN not in body:
            team_owner(ctx, body)
        return body


class UserRule(TableRule):
    """BC table <- systemuser: the connection's integration user takes no part."""

    def select(self, ctx: PassContext, row: dict[str, Any]) -> bool:
        if ctx.integration_user_id is None:
            return True
        return str(row.get("systemuserid") or "").lower() != str(ctx.integration_user_id).lower()


class SalespersonRule(UserRule):
    """Salesperson/Purchaser <- systemuser: a new salesperson gets the next 'SP NO. ' code and fields cut to BC's
    lengths."""

    def adjust_payload(self, ctx: PassContext, item: Item, payload: dict[str, Any]) -> dict[str, Any]:
        """Raises RecordFailure naming the record when BC's salesperson codes cannot be read."""
        if item.action == Action.INSERT:
            for prop, limit in SALESPERSON_LIMITS.items():
                if isinstance(payload.get(prop), str):
                    payload[prop] = payload[prop][:limit]
            payload["code"] = _next_code(ctx, item)
        return payload


def _next_code(ctx: PassContext, item: Item) -> str:
    codes = ctx.cache.salesperson_codes
    if codes is None:
        try:
            codes = existing_salesperson_codes(ctx.bc_client)
        except ClientError as error:
            raise failure_from(error, item.label, "Reading the salesperson codes for") from error
        ctx.cache.salesperson_codes = codes
    code = next_salesperson_code(codes)
    codes.append(code)
    return code
