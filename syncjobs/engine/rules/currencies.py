"""Currencies, BC -> Dataverse (BC: codeunit 7204 "CDS Setup Defaults", mapping CURRENCY; codeunit "CRM Synch.
Helper", local currency (LCY) handling).

* A blank BC currency code is the local currency: the connection's base currency in Dataverse
  (``organization.basecurrencyid``), both ways.
* A new transaction currency without a symbol shows its ISO code, with the exchange rate 1 until the currency's
  rate is maintained in Dataverse, and 2 decimals (Microsoft Learn: "TransactionCurrency table/entity reference":
  currencyname, currencysymbol, exchangerate and currencyprecision are required).
"""
from __future__ import annotations

from typing import Any
from uuid import UUID

from connections.models import ConnectionSetup
from syncjobs.engine.context import Item, PassContext
from syncjobs.engine.errors import CouplingHints
from syncjobs.engine.rules.base import TableRule

CURRENCY_TABLE = "Currency"
CURRENCY_DATAVERSE_TABLE = "transactioncurrency"
#: Where the messages about an uncoupled currency send the administrator.
CURRENCY_HINTS = CouplingHints(couple_hints={
    CURRENCY_DATAVERSE_TABLE: "couple it on the CURRENCY mapping's coupled records page, or run its full "
                              "synchronization",
})


def blank_codes(connection: ConnectionSetup) -> dict[str, tuple[UUID, str]]:
    """{Dataverse table: (Dataverse id, BC table)} that a blank BC code stands for: the base currency, when the
    connection knows it."""
    if not connection.base_currency_id:
        return {}
    return {CURRENCY_DATAVERSE_TABLE: (connection.base_currency_id, CURRENCY_TABLE)}


class CurrencyRule(TableRule):
    """BC table -> transactioncurrency: the required columns the field mappings do not carry."""

    def new_row(self, ctx: PassContext, item: Item, body: dict[str, Any]) -> dict[str, Any]:
        code = body.get("isocurrencycode")
        if not body.get("currencysymbol"):
            body["currencysymbol"] = code
        if not body.get("currencyname"):
            body["currencyname"] = code
        body.setdefault("exchangerate", 1.0)
        body.setdefault("currencyprecision", 2)
        return body
