"""The Customer Statistics job on the demo data after setup and a full synchronization: every coupled customer gets a
``bcp_accountstatistics`` row with BC's statistics, linked from its account; a second run changes nothing; posting an
invoice in BC changes exactly that customer's row (BC: codeunit 5350 "CRM Statistics Job")."""
from __future__ import annotations

from typing import Any

import pytest

from mappings.models import Coupling
from syncjobs.engine import clients_for
from syncjobs.models import JobQueueEntry
from syncjobs.runner import execute_job_queue_entry
from syncjobs.statistics import WATERMARK
from tests.syncjobs.test_special_jobs import synchronize_demo

pytestmark = pytest.mark.django_db(transaction=True)


def _statistics(dv: Any) -> dict[str, dict[str, Any]]:
    return {row["bcp_accountstatisticsid"]: row for row in dv.iter_rows("bcp_accountstatisticses", select=[
        "bcp_accountstatisticsid", "bcp_customerno", "bcp_balancelcy", "bcp_creditlimitlcy", "bcp_totalsaleslcy",
        "bcp_overdueamountslcy", "_transactioncurrencyid_value"])}


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
    for customer_id, account_id in couplings.items():
        row = statistics[accounts[account_id]]
        assert row["bcp_customerno"] == customers[customer_id]["number"]
        assert float(row["bcp_balancelcy"]) == pytest.approx(details[customer_id]["balance"])
        assert float(row["bcp_totalsaleslcy"]) == pytest.approx(details[customer_id]["totalSalesExcludingTax"])
        assert float(row["bcp_overdueamountslcy"]) == pytest.approx(details[customer_id]["overdueAmount"])
        assert float(row["bcp_creditlimitlcy"]) == pytest.approx(customers[customer_id]["creditLimit"] or 0)
        assert row["_transactioncurrencyid_value"] == lcy_id

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
