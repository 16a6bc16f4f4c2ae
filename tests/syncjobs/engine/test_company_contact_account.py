"""OPPORTUNITY "Contact Company No." -> parentaccountid resolves through the company contact's Contact Business
Relation to a customer and that customer's coupled account (BC: codeunit "CRM Synch. Helper",
FindParentCRMAccountForOpportunity; API v2.0 contactsInformation)."""
from __future__ import annotations

from typing import Any
from uuid import UUID

from connections.models import ConnectionSetup
from mappings.models import Coupling, IntegrationFieldMapping, IntegrationTableMapping
from syncjobs.defaults import default_configuration_reset
from syncjobs.engine import clients_for, synchronize_mapping
from tests.syncjobs.engine.conftest import disable_unknown_columns, disable_unmatched_options, make_sync_connection

OPEN = "status eq 'Not Started' or status eq 'In Progress'"


def _team_connection(emulator: Any, settings: Any, company: str) -> Any:
    """A connection in the Team ownership model (no owner field mappings, so no salesperson needs a user)."""
    connection = make_sync_connection(emulator, settings, company=company)
    connection.ownership_model = ConnectionSetup.OwnershipModel.TEAM
    connection.save(update_fields=["ownership_model"])
    default_configuration_reset(connection=connection)
    _, dv = clients_for(connection)
    disable_unknown_columns(connection, dv)
    disable_unmatched_options(connection)
    return connection


def _run(connection: Any, *names: str) -> dict[str, list[Any]]:
    return {name: synchronize_mapping(mapping=IntegrationTableMapping.objects.get(connection=connection, name=name),
                                      full=True) for name in names}


def test_full_chain_gives_every_opportunity_its_parent_account(emulator: Any, settings: Any, db: Any) -> None:
    connection = _team_connection(emulator, settings, "Contoso Coffee")
    bc, dv = clients_for(connection)
    _run(connection, "CURRENCY", "CUSTOMER", "CONTACT")
    open_opportunities = list(bc.iter_rows("opportunities", filter=OPEN, api="custom"))
    to_job, from_job = _run(connection, "OPPORTUNITY")["OPPORTUNITY"]
    messages = list(to_job.errors.values_list("message", flat=True))
    assert (to_job.failed, from_job.failed) == (0, 0), messages
    assert to_job.inserted == len(open_opportunities) > 0
    # expected parent: company contact -> its customer (business relation) -> the account coupled to that customer
    customer_of = {r["contactNumber"]: r["relatedId"] for r in bc.iter_rows("contactsInformation")
                   if r["relatedType"] == "Customer"}
    accounts = {str(c.bc_id): str(c.dataverse_id) for c in Coupling.objects.filter(
        connection=connection, bc_table="Customer", dataverse_table="account", is_pending=False)}
    coupled = {str(c.bc_id): c.dataverse_id for c in Coupling.objects.filter(
        connection=connection, bc_table="Opportunity", is_pending=False)}
    companies = [o for o in open_opportunities if o.get("contactCompanyNumber")]
    assert companies
    for opportunity in companies:
        row = dv.retrieve("opportunities", coupled[opportunity["id"]], select=["_parentaccountid_value"])
        expected = accounts[customer_of[opportunity["contactCompanyNumber"]]]
        assert row["_parentaccountid_value"] == expected, opportunity["number"]


def test_opportunity_of_a_prospect_company_goes_without_parent_account(
    emulator: Any, settings: Any, db: Any
) -> None:
    """BC: CRM Synch. Helper FindParentCRMAccountForOpportunity exits with an empty AccountId when the opportunity's
    company contact has no business relation to a customer; the opportunity is synchronized without a parent account
    (no failure, no Clear Value on Failed Sync needed)."""
    connection = _team_connection(emulator, settings, "CRONUS International Ltd.")
    bc, dv = clients_for(connection)
    _run(connection, "CURRENCY", "CUSTOMER", "CONTACT")
    # CRONUS's company contacts of opportunities (CT100010 National Wholesale Corp, ...) are prospects
    prospects = {o["number"]: o["contactCompanyNumber"]
                 for o in bc.iter_rows("opportunities", filter=OPEN, api="custom") if o.get("contactCompanyNumber")}
    assert prospects
    assert not IntegrationFieldMapping.objects.get(table_mapping__connection=connection,
                                                   table_mapping__name="OPPORTUNITY",
                                                   field_name="Contact Company No.").clear_value_on_failed_sync
    to_job = _run(connection, "OPPORTUNITY")["OPPORTUNITY"][0]
    assert to_job.failed == 0 and not to_job.errors.exists()
    assert to_job.inserted >= len(prospects)
    ids = {o["number"]: o["id"] for o in bc.iter_rows("opportunities", filter=OPEN, api="custom")}
    couplings = dict(Coupling.objects.filter(connection=connection, bc_table="Opportunity", is_pending=False)
                     .values_list("bc_id", "dataverse_id"))
    for number in prospects:
        dataverse_id = couplings[UUID(ids[number])]
        row = dv.retrieve("opportunities", dataverse_id, select=["name", "_parentaccountid_value"])
        assert row["_parentaccountid_value"] is None, number
