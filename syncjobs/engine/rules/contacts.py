"""Contacts and accounts, BC -> Dataverse (BC: codeunit 7204 "CDS Setup Defaults", mappings CUSTOMER, VENDOR and
CONTACT; codeunit "CRM Synch. Helper", FindParentCRMAccountForOpportunity; codeunit 5340 "CRM Integration Table
Synch.", SynchNAVTableToCRM).

* Contacts of type Company are not synchronized as contacts: a company is an account (BC ignores them when it
  selects the contacts to synchronize).
* A person contact goes under the account coupled to the customer its company contact is linked to (BC resolves the
  parent from Contact."Company No."; the company contact's business relation links it to a customer).
* A company contact's customer is found through its Contact Business Relation with Link to Table = Customer (BC
  API v2.0 ``contactsInformation``), never per record.
* Accounts and contacts are owned by the default team in the Team ownership model (:mod:`.salespeople`).
"""
from __future__ import annotations

from typing import Any
from uuid import UUID

from connections.clients.errors import ClientError
from syncjobs.engine.context import Item, PassContext
from syncjobs.engine.errors import RecordFailure, SynchronizationNotPossible, not_coupled_failure
from syncjobs.engine.rules.salespeople import TeamOwnedRule
from syncjobs.engine.transfer import as_uuid

CUSTOMER_TABLE = "Customer"
ACCOUNT_TABLE = "account"
#: BC Contact.Type of a company contact.
COMPANY_CONTACT_TYPE = "Company"
#: ``contactsInformation.relatedType`` of a business relation linked to a customer.
RELATED_TYPE_CUSTOMER = "Customer"


def bc_rows(ctx: PassContext, name: str, entity_set: str, select: list[str],
            filter_: str | None = None) -> list[dict[str, Any]]:
    """The rows of a BC entity set (standard API) read once per pass under ``name``."""
    if name not in ctx.cache.bc_rows:
        ctx.cache.bc_rows[name] = list(ctx.bc_client.iter_rows(entity_set, select=select, filter=filter_))
    return ctx.cache.bc_rows[name]


def customer_of_company_contact(ctx: PassContext, contact_number: str) -> UUID | None:
    """The SystemId of the customer a BC company contact is linked to through its Contact Business Relation
    (Link to Table = Customer), or None when it has none. All relations are read once per pass from API v2.0
    ``contactsInformation`` (Microsoft Learn: "contactInformation resource type"), never per record.

    Raises SynchronizationNotPossible when Business Central does not serve ``contactsInformation``."""
    if ctx.cache.company_customers is None:
        links: dict[str, UUID] = {}
        try:
            for row in ctx.bc_client.iter_rows("contactsInformation", filter="relatedType eq 'Customer'",
                                               select=["contactNumber", "relatedId", "relatedType"]):
                if row.get("relatedType") == RELATED_TYPE_CUSTOMER and as_uuid(row.get("relatedId")) is not None:
                    links.setdefault(str(row.get("contactNumber") or "").upper(), UUID(str(row["relatedId"])))
        except ClientError as error:
            raise SynchronizationNotPossible(
                f"Business Central did not answer the contact business relations (contactsInformation): {error}; "
                "the account of a contact's company is found through them"
            ) from error
        ctx.cache.company_customers = links
    return ctx.cache.company_customers.get(str(contact_number).upper())


def account_of_company_contact(ctx: PassContext, *, contact_number: str, record: str,
                               field_name: str) -> UUID | None:
    """The Dataverse account of a BC company contact: contact number -> its Contact Business Relation with Link to
    Table = Customer -> that customer -> the account coupled to it (BC: codeunit "CRM Synch. Helper",
    FindParentCRMAccountForOpportunity).

    Returns None when the company contact is not linked to a customer (a prospect): BC leaves the account empty
    then, and so does the engine. Raises RecordFailure naming ``record``, the customer and the fix when the linked
    customer is not coupled to an account (where BC silently leaves the field empty, the message says which customer
    to synchronize first; "Clear Value on Failed Sync" gives BC's behaviour), and SynchronizationNotPossible from
    :func:`customer_of_company_contact`."""
    customer_id = customer_of_company_contact(ctx, contact_number)
    if customer_id is None:
        return None
    account = ctx.resolver.coupled_dataverse_id(bc_table=CUSTOMER_TABLE, dataverse_table=ACCOUNT_TABLE,
                                                bc_id=customer_id)
    if account is not None:
        return account
    code = ctx.resolver.code_of(bc_table=CUSTOMER_TABLE, bc_id=customer_id)
    raise not_coupled_failure(record=record, field_name=field_name, referenced_table=CUSTOMER_TABLE,
                              value=f"{code if code is not None else customer_id} (of contact {contact_number})",
                              destination_table=ACCOUNT_TABLE, hints=ctx.resolver.keys.hints)


class ContactRule(TeamOwnedRule):
    """Contact -> contact: person contacts only, each under the account of its company's customer."""

    def select(self, ctx: PassContext, row: dict[str, Any]) -> bool:
        return row.get("type") != COMPANY_CONTACT_TYPE

    def adjust_payload(self, ctx: PassContext, item: Item, payload: dict[str, Any]) -> dict[str, Any]:
        """Raises RecordFailure naming the company and the fix when its customer is not coupled to an account."""
        company_number = item.row.get("companyNumber")
        if not company_number:
            return payload
        companies = {c["number"]: c for c in bc_rows(ctx, "companies", "contacts",
                                                     ["number", "displayName", "contactBusinessRelation"],
                                                     "type eq 'Company'")}
        company = companies.get(company_number)
        if company is None:
            return payload
        customers = {c["displayName"]: c for c in bc_rows(ctx, "customers", "customers", ["id", "displayName"])}
        customer = customers.get(company.get("displayName"))
        if customer is None:
            return payload
        # Through the resolver (settled couplings, read once per pass), which a dry run overlays with planned ones.
        account = ctx.resolver.coupled_dataverse_id(bc_table=CUSTOMER_TABLE, dataverse_table=ACCOUNT_TABLE,
                                                    bc_id=UUID(str(customer["id"])))
        if account is None:
            raise RecordFailure(
                message=f"{item.label}: its company {company['displayName']} (customer) is not coupled to an account",
                field_name="Company No.",
                fix="synchronize the CUSTOMER mapping first (its dependency), then retry this contact",
            )
        payload["parentcustomerid"] = account
        payload["parentcustomeridtype"] = ACCOUNT_TABLE
        return payload
