"""The Customer Statistics job on the demo data after setup and a full synchronization: every coupled customer gets a
``bcp_accountstatistics`` row with BC's statistics, linked from its account; a second run changes nothing; posting an
invoice in BC changes exactly that customer's row (BC: codeunit 5350 "CRM Statistics Job")."""
from __future__ import annotations

from typing import Any

import pytest

from mappings.models import Coupling, IntegrationTableMapping
from mappings.services import coupling_delete, couplings_delete_for_mapping
from syncjobs.engine import clients_for, synchronize_mapping
from syncjobs.invoice_status import invoice_state
from syncjobs.models import JobQueueEntry
from syncjobs.runner import execute_job_queue_entry
from syncjobs.statistics import MONEY_FIELDS, WATERMARK
from tests.syncjobs.test_special_jobs import synchronize_demo

pytestmark = pytest.mark.django_db(transaction=True)


def _statistics(dv: Any) -> dict[str, dict[str, Any]]:
    return {row["bcp_accountstatisticsid"]: row for row in dv.iter_rows("bcp_accountstatisticses", select=[
        "bcp_accountstatisticsid", "bcp_customerno", "bcp_balancelcy", "bcp_creditlimitlcy", "bcp_totalsaleslcy",
        "bcp_overdueamountslcy", "_transactioncurrencyid_value", *MONEY_FIELDS])}


def test_statistics_of_every_coupled_customer_match_bc_and_follow_a_posted_invoice(
        emulator: Any, emulator_connection: Any, sync_queue: Any) -> None:
    connection = emulator_connection
    synchronize_demo(emulator, connection, sync_queue)
    bc, dv = clients_for(connection)
    entry = JobQueueEntry.objects.get(connection=connection, kind=JobQueueEntry.Kind.CUSTOMER_STATISTICS)
    # pending couplings are rows whose create did not land (the demo's customers of uncoupled salespeople)
    couplings = {str(c.bc_id): str(c.dataverse_id) for c in Coupling.objects.filter(
        connection=connection, bc_table="Customer", dataverse_table="account", is_pending=False, skipped=False)}
    assert couplings, "the full synchronization couples the demo customers"

    first = execute_job_queue_entry(entry)
    assert (first.changed, first.failed) == (len(couplings), 0)
    entry.refresh_from_db()
    assert entry.parameters[WATERMARK]
    assert not Coupling.objects.filter(connection=connection, bc_table="Customer", is_pending=False,
                                       statistics_uploaded=False).exists()

    details = {row["id"]: row for row in bc.iter_rows("customerFinancialDetails")}
    customers = {row["id"]: row for row in bc.iter_rows("customers", select=["id", "number", "creditLimit"])}
    lcy = next(bc.iter_rows("companyInformation", select=["currencyCode"]))["currencyCode"]
    lcy_id = next(dv.iter_rows("transactioncurrencies", select=["transactioncurrencyid"],
                               filter=f"isocurrencycode eq '{lcy}'"))["transactioncurrencyid"]
    accounts = {row["accountid"]: row["_bcp_accountstatisticsid_value"] for row in dv.iter_rows(
        "accounts", select=["accountid", "_bcp_accountstatisticsid_value"])}
    statistics = _statistics(dv)
    statistics_in_bc = {row["id"]: row for row in bc.iter_rows("customerStatistics", api="custom")}
    for customer_id, account_id in couplings.items():
        row = statistics[accounts[account_id]]
        assert row["bcp_customerno"] == customers[customer_id]["number"]
        assert float(row["bcp_balancelcy"]) == pytest.approx(details[customer_id]["balance"])
        assert float(row["bcp_totalsaleslcy"]) == pytest.approx(details[customer_id]["totalSalesExcludingTax"])
        assert float(row["bcp_overdueamountslcy"]) == pytest.approx(details[customer_id]["overdueAmount"])
        assert float(row["bcp_creditlimitlcy"]) == pytest.approx(customers[customer_id]["creditLimit"] or 0)
        assert row["_transactioncurrencyid_value"] == lcy_id
        # every statistic of the companion extension's page (BC: table 18 Customer FlowFields and procedures)
        for column, field in MONEY_FIELDS.items():
            assert float(row[column]) == pytest.approx(statistics_in_bc[customer_id][field]), column
    # the demo's open sales orders show up as outstanding orders, and the total adds them (GetTotalAmountLCY)
    assert any(s["outstandingOrdersLCY"] > 0 for s in statistics_in_bc.values())
    for figures in statistics_in_bc.values():
        assert figures["totalAmountLCY"] == pytest.approx(
            figures["balanceLCY"] + figures["outstandingOrdersLCY"] + figures["shippedNotInvoicedLCY"]
            + figures["outstandingInvoicesLCY"] - figures["invoicedPrepaymentAmountLCY"], abs=0.011)

    again = execute_job_queue_entry(entry)
    assert (again.changed, again.failed) == (0, 0)

    # an invoice posted in BC for a coupled customer changes its balance and total sales
    customer_id = next(iter(couplings))
    item = next(bc.iter_rows("items", select=["id"], filter="type eq 'Inventory'", top=1))
    invoice = bc.create("salesInvoices", {"customerId": customer_id})
    bc.create(f"salesInvoices({invoice['id']})/salesInvoiceLines",
              {"lineType": "Item", "itemId": item["id"], "quantity": 3, "unitPrice": 12.5})
    result = bc.batch([{"method": "POST", "url": f"salesInvoices({invoice['id']})/Microsoft.NAV.post"}])[0]
    assert result.get("error") is None, result
    balance = next(r for r in bc.iter_rows("customerFinancialDetails") if r["id"] == customer_id)["balance"]
    assert balance == pytest.approx(details[customer_id]["balance"] + 37.5)

    after_posting = execute_job_queue_entry(entry)
    assert (after_posting.changed, after_posting.failed) == (1, 0)
    row = _statistics(dv)[accounts[couplings[customer_id]]]
    assert float(row["bcp_balancelcy"]) == pytest.approx(balance)


def test_uncoupling_a_customer_deletes_its_statistics_row(emulator: Any, emulator_connection: Any,
                                                           sync_queue: Any) -> None:
    """BC: codeunit 5350 "CRM Statistics Job": uncoupling a customer deletes its account statistics row; Delete
    Couplings of CUSTOMER leaves them to the job's next run, which deletes them all."""
    connection = emulator_connection
    synchronize_demo(emulator, connection, sync_queue)
    _, dv = clients_for(connection)
    entry = JobQueueEntry.objects.get(connection=connection, kind=JobQueueEntry.Kind.CUSTOMER_STATISTICS)
    execute_job_queue_entry(entry)
    couplings = list(Coupling.objects.filter(connection=connection, bc_table="Customer", dataverse_table="account",
                                             is_pending=False, skipped=False))
    before = _statistics(dv)
    assert len(before) == len(couplings) > 1
    linked = {row["accountid"]: row["_bcp_accountstatisticsid_value"] for row in dv.iter_rows(
        "accounts", select=["accountid", "_bcp_accountstatisticsid_value"],
        filter="_bcp_accountstatisticsid_value ne null")}

    first = couplings[0]
    assert coupling_delete(coupling=first) == 1
    after = _statistics(dv)
    assert set(before) - set(after) == {linked[str(first.dataverse_id)]}

    # Dataverse refuses the delete while the second one is uncoupled (the privilege was taken away): the uncoupling
    # goes on, and the next run of the job, with the privilege back, deletes the row it left
    second = couplings[1]
    emulator.privileges("BC Integration Administrator", revoke=["prvDeletebcp_AccountStatistics"])
    try:
        assert coupling_delete(coupling=second) == 1
    finally:
        emulator.privileges("BC Integration Administrator", grant=["prvDeletebcp_AccountStatistics"])
    assert linked[str(second.dataverse_id)] in _statistics(dv)
    assert execute_job_queue_entry(entry).failed == 0
    assert set(before) - set(_statistics(dv)) == {linked[str(first.dataverse_id)], linked[str(second.dataverse_id)]}

    # Delete Couplings makes no call per account in the request: the job's next run deletes every row left
    mapping = IntegrationTableMapping.objects.get(connection=connection, name="CUSTOMER")
    assert couplings_delete_for_mapping(mapping=mapping) >= len(couplings) - 2
    assert not Coupling.objects.filter(connection=connection, bc_table="Customer").exists()
    assert len(_statistics(dv)) == len(before) - 2
    outcome = execute_job_queue_entry(entry)
    assert (outcome.changed, outcome.failed) == (len(before) - 2, 0)
    assert _statistics(dv) == {}


def test_payment_status_of_posted_invoices_reaches_their_dataverse_invoices(emulator: Any, emulator_connection: Any,
                                                                            sync_queue: Any) -> None:
    """BC: codeunit 5350 "CRM Statistics Job", invoice pass: unpaid -> Active/Billed, partly paid -> Paid/Partial,
    paid -> Paid/Complete, canceled -> Canceled."""
    connection = emulator_connection
    synchronize_demo(emulator, connection, sync_queue)
    bc, dv = clients_for(connection)
    entry = JobQueueEntry.objects.get(connection=connection, kind=JobQueueEntry.Kind.CUSTOMER_STATISTICS)
    # three invoices posted in BC for coupled customers; a full synchronization of POSTEDSALESINV-INV creates their
    # Dataverse invoices (its recurring job synchronizes coupled invoices only, as BC's)
    customers = [str(c) for c in Coupling.objects.filter(connection=connection, bc_table="Customer", is_pending=False,
                                                          skipped=False).values_list("bc_id", flat=True)[:3]]
    item = next(bc.iter_rows("items", select=["id"], filter="type eq 'Inventory'", top=1))
    coupled_people = {str(i) for i in Coupling.objects.filter(connection=connection, bc_table="Salesperson/Purchaser",
                                                              is_pending=False).values_list("bc_id", flat=True)}
    salesperson = next(row["code"] for row in bc.iter_rows("salespeoplePurchasers", select=["id", "code"])
                       if row["id"] in coupled_people)
    for customer_id in customers:
        invoice = bc.create("salesInvoices", {"customerId": customer_id, "salesperson": salesperson})
        bc.create(f"salesInvoices({invoice['id']})/salesInvoiceLines",
                  {"lineType": "Item", "itemId": item["id"], "quantity": 4, "unitPrice": 12.5})
        assert bc.batch([{"method": "POST", "url": f"salesInvoices({invoice['id']})/Microsoft.NAV.post"}]
                        )[0].get("error") is None
    synchronize_mapping(mapping=IntegrationTableMapping.objects.get(connection=connection, name="POSTEDSALESINV-INV"),
                        full=True)
    couplings = {str(c.bc_id): str(c.dataverse_id) for c in Coupling.objects.filter(
        connection=connection, bc_table="Sales Invoice Header", dataverse_table="invoice", skipped=False,
        is_pending=False)}
    bc_invoices = {row["id"]: row for row in bc.iter_rows("salesInvoices", filter="status ne 'Draft'")}
    assert len(couplings) == 3, "POSTEDSALESINV-INV couples the posted invoices"

    def states() -> dict[str, tuple[int, int]]:
        return {row["invoiceid"]: (row["statecode"], row["statuscode"])
                for row in dv.iter_rows("invoices", select=["invoiceid", "statecode", "statuscode"])}

    execute_job_queue_entry(entry)
    now = states()
    for bc_id, dv_id in couplings.items():
        assert now[dv_id] == invoice_state(bc_invoices[bc_id])
    assert execute_job_queue_entry(entry).changed == 0  # nothing changed, nothing written

    open_ids = [i for i in couplings if bc_invoices[i]["status"] == "Open"
                and bc_invoices[i]["remainingAmount"] == bc_invoices[i]["totalAmountIncludingTax"] > 1]
    paid, canceled = open_ids[0], open_ids[1]
    journal = next(bc.iter_rows("customerPaymentJournals"))
    total = bc_invoices[paid]["totalAmountIncludingTax"]
    bc.create(f"customerPaymentJournals({journal['id']})/customerPayments",
              {"customerId": bc_invoices[paid]["customerId"], "amount": round(total / 2, 2),
               "appliesToInvoiceId": paid})
    assert bc.batch([{"method": "POST", "url": f"customerPaymentJournals({journal['id']})/Microsoft.NAV.post"}]
                    )[0].get("error") is None
    assert bc.batch([{"method": "POST", "url": f"salesInvoices({canceled})/Microsoft.NAV.cancel"}]
                    )[0].get("error") is None
    # two invoices change state, and the two customers' statistics rows follow their new balances
    assert execute_job_queue_entry(entry).changed == 2 + 2
    now = states()
    assert now[couplings[paid]] == (2, 100002)  # Paid / Partial
    assert now[couplings[canceled]] == (3, 100003)  # Canceled

    bc.create(f"customerPaymentJournals({journal['id']})/customerPayments",
              {"customerId": bc_invoices[paid]["customerId"], "amount": round(total - round(total / 2, 2), 2),
               "appliesToInvoiceId": paid})
    bc.batch([{"method": "POST", "url": f"customerPaymentJournals({journal['id']})/Microsoft.NAV.post"}])
    assert execute_job_queue_entry(entry).changed == 1 + 1
    assert states()[couplings[paid]] == (2, 100001)  # Paid / Complete
