"""Documents, BC -> Dataverse: document headers and their lines, posted sales invoices and opportunities (BC:
codeunit 5334 "CRM Setup Defaults", mappings POSTEDSALESINV-INV, POSTEDSALESLINE-INV and OPPORTUNITY; codeunit 5341
"CRM Int. Table. Subscriber"; codeunit "CRM Synch. Helper", FindParentCRMAccountForOpportunity).

* A new Dataverse invoice or order belongs to the account coupled to the BC sell-to customer, uses the connection's
  default price list and is named by the BC document number.
* Document lines ride along with their header: only lines of headers coupled to a Dataverse document take part (draft
  invoices and unreleased orders are not synchronized); a line goes under the coupled header and refers to the
  product coupled to its item or resource, in the product's default unit; other lines (comments, G/L accounts)
  become write-in products.
* An opportunity's company contact ("Contact Company No.") becomes its parent account through the contact's business
  relation to a customer; a contact that is the company itself leaves the contact empty (company contacts are not
  Dataverse contacts).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar
from uuid import UUID

from syncjobs.engine.context import Item, PassContext
from syncjobs.engine.errors import RecordFailure
from syncjobs.engine.rules.base import TableRule
from syncjobs.engine.rules.contacts import ACCOUNT_TABLE, account_of_company_contact
from syncjobs.engine.rules.products import default_price_list_id, product_unit
from syncjobs.engine.transfer import FieldRule, LookupOutcome

#: BC field of an opportunity holding its company contact's number.
CONTACT_COMPANY_FIELD = "Contact Company No."
#: BC field of an opportunity holding its contact's number.
CONTACT_FIELD = "Contact No."
CONTACT_TABLE = "contact"
#: BC line types that refer to a product (others become write-in products).
PRODUCT_LINE_TYPES = ("Item", "Resource")


@dataclass(frozen=True)
class HeaderLink:
    """How a Dataverse line table refers to its header: the lookup column, the BC header table and the Dataverse
    header table."""

    parent_column: str
    bc_table: str
    dataverse_table: str


def header_couplings(ctx: PassContext, header: HeaderLink) -> dict[str, UUID]:
    """BC header SystemId (text) -> Dataverse id of the settled header couplings of ``header``; one query per pass."""
    headers = ctx.cache.header_couplings
    if headers is None:
        # Through the resolver, which a dry run overlays with the couplings it planned for the headers.
        headers = {str(bc_id): dv_id for bc_id, dv_id in ctx.resolver.coupled_ids(
            bc_table=header.bc_table, dataverse_table=header.dataverse_table).items()}
        ctx.cache.header_couplings = headers
    return headers


def line_product(ctx: PassContext, item: Item, line_type: str, number: str) -> UUID:
    """The Dataverse product coupled to the item or resource ``number`` of a BC line. Raises RecordFailure naming
    the line and the mapping to synchronize first."""
    product, _ = ctx.resolver.dataverse_id(target="product", code=number)
    if product is None:
        raise RecordFailure(message=f"{item.label}: {line_type.lower()} {number} is not coupled to a product",
                            field_name="No.",
                            fix=f"synchronize the {'ITEM' if line_type == 'Item' else 'RESOURCE'}-PRODUCT "
                                "mapping first, then retry this line")
    return product


class DocumentHeaderRule(TableRule):
    """BC table -> invoice (or order): a new document's customer, price list and name."""

    def new_row(self, ctx: PassContext, item: Item, body: dict[str, Any]) -> dict[str, Any]:
        """Raises RecordFailure when the sell-to customer is not coupled to an account."""
        number = item.row.get("customerNumber")
        if not body.get("customerid") and number:
            account, _ = ctx.resolver.dataverse_id(target=ACCOUNT_TABLE, code=number)
            if account is None:
                raise RecordFailure(message=f"{item.label}: customer {number} is not coupled to an account",
                                    field_name="Sell-to Customer No.",
                                    fix="synchronize the CUSTOMER mapping first (or couple the customer), then retry")
            body["customerid"] = account
            body["customeridtype"] = ACCOUNT_TABLE
        if not body.get("pricelevelid"):
            body["pricelevelid"] = default_price_list_id(ctx)
        body.setdefault("name", item.row.get("number"))
        return body


class DocumentLineRule(TableRule):
    """BC line table -> a Dataverse line table (``header`` says which): lines of coupled headers only, each under
    its header with its product."""

    header: ClassVar[HeaderLink]

    def select(self, ctx: PassContext, row: dict[str, Any]) -> bool:
        return str(row.get("documentId")) in header_couplings(ctx, self.header)

    def adjust_payload(self, ctx: PassContext, item: Item, payload: dict[str, Any]) -> dict[str, Any]:
        """Raises RecordFailure when the header or the product is not coupled."""
        header = header_couplings(ctx, self.header).get(str(item.row.get("documentId")))
        if header is None:
            raise RecordFailure(message=f"{item.label}: its document is not coupled to a "
                                        f"{self.header.dataverse_table} row",
                                field_name="Document Id",
                                fix="synchronize the document header's mapping first, then retry this line")
        payload[self.header.parent_column] = header
        line_type = item.row.get("lineType")
        number = item.row.get("lineObjectNumber")
        if line_type in PRODUCT_LINE_TYPES and number:
            product = line_product(ctx, item, line_type, number)
            payload["productid"] = product
            payload["isproductoverridden"] = False
            unit = product_unit(ctx, product)
            if unit is not None:
                payload["uomid"] = unit
        else:
            payload["isproductoverridden"] = True
            payload["productdescription"] = item.row.get("description") or line_type or "Line"
        return payload


class InvoiceLineRule(DocumentLineRule):
    """BC line table -> invoicedetail."""

    header = HeaderLink("invoiceid", "Sales Invoice Header", "invoice")


class PostedInvoiceLineRule(InvoiceLineRule):
    """Sales Invoice Line -> invoicedetail (POSTEDSALESLINE-INV): synchronized with its header's mapping."""

    rides_with_header = True


class OpportunityRule(TableRule):
    """Opportunity -> opportunity: the parent account from the company contact; no contact for a company."""

    def lookup(self, ctx: PassContext, rule: FieldRule, value: Any, row: dict[str, Any],
               record: str) -> LookupOutcome | None:
        targets = ctx.dv.lookups[rule.destination].targets
        if rule.source == CONTACT_COMPANY_FIELD and ACCOUNT_TABLE in targets:
            if value in (None, ""):
                return LookupOutcome(None, write=not rule.not_null)
            try:
                account = account_of_company_contact(ctx, contact_number=str(value), record=record,
                                                     field_name=rule.source)
            except RecordFailure:
                if not rule.clear_on_fail:
                    raise
                return LookupOutcome(None)
            return LookupOutcome(account, target=ACCOUNT_TABLE)
        if (rule.source == CONTACT_FIELD and targets == (CONTACT_TABLE,) and value not in (None, "")
                and CONTACT_COMPANY_FIELD in ctx.bc.fields
                and str(row.get(ctx.bc.fields[CONTACT_COMPANY_FIELD]) or "") == str(value)):
            # The opportunity's contact is the company itself: the company arrives as the parent account instead.
            return LookupOutcome(None, write=not rule.not_null)
        return None
