"""The registry of table rules: which rule governs a pass, keyed by (BC table, Dataverse table, direction).

:func:`rule_for` returns the most specific registered rule: the exact (BC table, Dataverse table, direction), else
(:data:`ANY` BC table, Dataverse table, direction) for rules that hold whatever BC table feeds the Dataverse table
(every new product needs a product type), else a rule with no effect. A rule for an exact key that should also do what
the ANY rule does subclasses it. Nothing outside this package decides anything by a table's name.

:func:`foreign_key_rules` gives the foreign key translation its table-specific parts, and :func:`line_tables` the BC
document line tables synchronized with their header's mapping.
"""
from __future__ import annotations

from dataclasses import dataclass

from connections.models import ConnectionSetup
from mappings.models import Direction
from syncjobs.engine.errors import CouplingHints
from syncjobs.engine.rules.base import TableRule
from syncjobs.engine.rules.contacts import ContactRule
from syncjobs.engine.rules.currencies import CURRENCY_HINTS, CurrencyRule, blank_codes
from syncjobs.engine.rules.documents import (
    DocumentHeaderRule,
    InvoiceLineRule,
    OpportunityRule,
    PostedInvoiceLineRule,
)
from syncjobs.engine.rules.prices import PriceListHeaderRule, PriceListLineRule
from syncjobs.engine.rules.products import (
    ItemProductRule,
    PriceListItemRule,
    ProductRule,
    ResourceProductRule,
)
from syncjobs.engine.rules.sales_orders import (
    OrderHeaderRule,
    OrderLineFromDataverseRule,
    OrderLineRule,
    SalesLineFromDataverseRule,
    SalesOrderFromDataverseRule,
    SalesOrderLineRule,
    SalesOrderRule,
)
from syncjobs.engine.rules.salespeople import (
    OWNER_COLUMN,
    SALESPERSON_HINTS,
    TEAM_TABLE,
    USER_TABLE,
    SalespersonRule,
    TeamOwnedRule,
    UserRule,
)
from syncjobs.engine.rules.units import UNIT_TABLES, UnitGroupRule, UnitOfMeasureRule, UnitRule
from syncjobs.engine.transfer import ForeignKeyRules

#: The BC table of a key that holds for every BC table mapped to its Dataverse table.
ANY = "*"
TO = Direction.TO_INTEGRATION_TABLE
FROM = Direction.FROM_INTEGRATION_TABLE


@dataclass(frozen=True)
class RuleKey:
    """A registry key: the mapping's BC table (or :data:`ANY`), its Dataverse table and the pass direction
    (``Direction.TO_INTEGRATION_TABLE`` = BC -> Dataverse, ``FROM_INTEGRATION_TABLE`` = Dataverse -> BC)."""

    bc_table: str
    dataverse_table: str
    direction: str


#: Every table rule. Keys name what the rule governs; see each rule's docstring for what it does.
RULES: dict[RuleKey, TableRule] = {
    # units of measure and unit groups (rules.units)
    RuleKey(ANY, "uomschedule", TO): UnitOfMeasureRule(),
    RuleKey("Unit Group", "uomschedule", TO): UnitGroupRule(),
    RuleKey("Item Unit of Measure", "uom", TO): UnitRule(),
    RuleKey("Resource Unit of Measure", "uom", TO): UnitRule(),
    # currencies (rules.currencies)
    RuleKey(ANY, "transactioncurrency", TO): CurrencyRule(),
    # products and prices (rules.products)
    RuleKey(ANY, "product", TO): ProductRule(),
    RuleKey("Item", "product", TO): ItemProductRule(),
    RuleKey("Resource", "product", TO): ResourceProductRule(),
    RuleKey(ANY, "productpricelevel", TO): PriceListItemRule(),
    # price lists (rules.prices)
    RuleKey("Price List Header", "pricelevel", TO): PriceListHeaderRule(),
    RuleKey("Price List Line", "productpricelevel", TO): PriceListLineRule(),
    # contacts and accounts (rules.contacts, rules.salespeople)
    RuleKey(ANY, "account", TO): TeamOwnedRule(),
    RuleKey(ANY, "contact", TO): TeamOwnedRule(),
    RuleKey("Contact", "contact", TO): ContactRule(),
    # documents: opportunities, posted invoices and their lines (rules.documents)
    RuleKey("Opportunity", "opportunity", TO): OpportunityRule(),
    RuleKey(ANY, "invoice", TO): DocumentHeaderRule(),
    RuleKey(ANY, "invoicedetail", TO): InvoiceLineRule(),
    RuleKey("Sales Invoice Line", "invoicedetail", TO): PostedInvoiceLineRule(),
    # sales orders and their lines (rules.sales_orders)
    RuleKey(ANY, "salesorder", TO): OrderHeaderRule(),
    RuleKey("Sales Header", "salesorder", TO): SalesOrderRule(),
    RuleKey(ANY, "salesorderdetail", TO): OrderLineRule(),
    RuleKey("Sales Line", "salesorderdetail", TO): SalesOrderLineRule(),
    RuleKey("Sales Header", "salesorder", FROM): SalesOrderFromDataverseRule(),
    RuleKey(ANY, "salesorderdetail", FROM): OrderLineFromDataverseRule(),
    RuleKey("Sales Line", "salesorderdetail", FROM): SalesLineFromDataverseRule(),
    # salespeople (rules.salespeople)
    RuleKey(ANY, "systemuser", FROM): UserRule(),
    RuleKey("Salesperson/Purchaser", "systemuser", FROM): SalespersonRule(),
}

#: The rule of every pair no entry governs: the field mappings alone.
NO_RULE = TableRule()


def rule_for(bc_table: str, dataverse_table: str, direction: str) -> TableRule:
    """The rule governing a pass of a mapping of ``bc_table`` ("Item") and ``dataverse_table`` ("product") in
    ``direction``: the exact entry, else the entry for :data:`ANY` BC table, else :data:`NO_RULE`."""
    return (RULES.get(RuleKey(bc_table, dataverse_table, direction))
            or RULES.get(RuleKey(ANY, dataverse_table, direction))
            or NO_RULE)


def line_tables() -> tuple[str, ...]:
    """The BC document line tables synchronized by their header's mapping ("Sales Invoice Line", "Sales Line"), in
    registry order."""
    tables = (key.bc_table for key, rule in RULES.items() if rule.rides_with_header and key.bc_table != ANY)
    return tuple(dict.fromkeys(tables))


def foreign_key_rules(connection: ConnectionSetup) -> ForeignKeyRules:
    """The table-specific parts of foreign key translation for ``connection``: the base currency stands for a blank
    currency code, units of measure are coded per item/resource, OwnerId means a user unless the payload names
    another table, a team-owned Dataverse row keeps its BC salesperson, and the messages about uncoupled
    salespeople, users and currencies say where to couple them."""
    return ForeignKeyRules(
        blank_codes=blank_codes(connection),
        owner_scoped_codes=UNIT_TABLES,
        default_targets={OWNER_COLUMN: USER_TABLE},
        kept_targets=frozenset({(OWNER_COLUMN, TEAM_TABLE)}),
        hints=_merged(SALESPERSON_HINTS, CURRENCY_HINTS),
    )


def _merged(*hints: CouplingHints) -> CouplingHints:
    return CouplingHints(
        record_labels={k: v for h in hints for k, v in h.record_labels.items()},
        row_labels={k: v for h in hints for k, v in h.row_labels.items()},
        couple_hints={k: v for h in hints for k, v in h.couple_hints.items()},
        reverse_couple_hints={k: v for h in hints for k, v in h.reverse_couple_hints.items()},
    )
