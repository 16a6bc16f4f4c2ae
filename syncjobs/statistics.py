"""The "Customer Statistics" job: BC's customer statistics of every coupled customer written to the Dataverse table
``bcp_accountstatistics`` of the integration solution and linked from the account (``bcp_accountstatisticsid``)
(BC: codeunit 5350 "CRM Statistics Job", table 5367 "CRM Account Statistics").

Source: the companion extension's page "BCP Customer Statistics" (``customerStatistics`` on the custom API
``bcportal/integration/v1.0``; ``bc-extension/src/CustomerStatistics.Page.al``): per customer, the FlowFields of BC
table 18 Customer (Balance, Outstanding Orders, Shipped Not Invoiced, Outstanding Invoices, Sales, Credit Limit, all
LCY) and its procedures CalcOverdueBalance, GetInvoicedPrepmtAmountLCY and GetTotalAmountLCY, exactly what BC's job
reads. API v2.0's ``customerFinancialDetails`` serves only three of them.

Which customers: the first run of the entry uploads every non-skipped coupled customer (BC: "Statistics Uploaded"
false on the coupling); later runs write only the customers whose statistics differ from the row Dataverse holds.
Deliberate difference from BC, which selects customers by Cust. Ledger Entry / Sales Line SystemModifiedAt after its
watermark: API v2.0 exposes no modification time for customer statistics, and comparing with the stored row is exact
(no missed change, no rewrite of unchanged rows). The run's start time (UTC, ISO 8601) is kept in the entry's
``parameters["statistics_synch_time"]`` (BC: "CRM Synch Status"."Cust. Statistics Synch. Time").
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.utils import timezone

from connections.bc_requirements import CUSTOMER_STATISTICS_ENDPOINT
from connections.clients import BatchRequest
from connections.clients.errors import NotFoundError
from connections.solution import (
    ACCOUNT_STATISTICS_ID,
    ACCOUNT_STATISTICS_LOOKUP,
    ACCOUNT_STATISTICS_NAV,
    ACCOUNT_STATISTICS_SET,
    ACCOUNT_STATISTICS_TABLE,
)
from mappings.models import Coupling
from syncjobs.engine import clients_for
from syncjobs.engine.writers import DataverseWriter, Write
from syncjobs.invoice_status import InvoiceStatusResult, invoice_payment_status_run
from syncjobs.models import JobQueueEntry

WATERMARK = "statistics_synch_time"
BATCH_SIZE = 100
#: Namespace of the statistics row ids: one row per account, the same id on every retry (a repeated upsert never
#: duplicates a row).
_ID_NAMESPACE = uuid.UUID("5b0e2f0e-3c55-4b0d-9a55-0d5350536d31")
#: Money column of ``bcp_accountstatistics`` -> the field of ``customerStatistics`` it carries (all LCY; BC: table 5367
#: "CRM Account Statistics" and codeunit 5350 "CRM Statistics Job").
MONEY_FIELDS = {
    "bcp_balancelcy": "balanceLCY", "bcp_outstandingorderslcy": "outstandingOrdersLCY",
    "bcp_shippednotinvoicedlcy": "shippedNotInvoicedLCY", "bcp_outstandinginvoiceslcy": "outstandingInvoicesLCY",
    "bcp_totallcy": "totalAmountLCY", "bcp_creditlimitlcy": "creditLimitLCY",
    "bcp_overdueamountslcy": "overdueAmountLCY", "bcp_totalsaleslcy": "salesLCY",
    "bcp_invoicedprepaymentamountlcy": "invoicedPrepaymentAmountLCY",
}
MONEY_COLUMNS = tuple(MONEY_FIELDS)
#: The extension's entity set of customer statistics and the fields read from it (the ones Test Connection probes).
STATISTICS_SOURCE = CUSTOMER_STATISTICS_ENDPOINT.entity_set
SOURCE_FIELDS = list(CUSTOMER_STATISTICS_ENDPOINT.properties)


@dataclass
class StatisticsRunResult:
    """Counters of one run: statistics rows inserted (first upload), modified, unchanged, failed, deleted (rows of
    uncoupled accounts); ``invoices``: the counters of the invoice payment status pass
    (:mod:`syncjobs.invoice_status`)."""

    inserted: int = 0
    modified: int = 0
    unchanged: int = 0
    failed: int = 0
    deleted: int = 0
    invoices: InvoiceStatusResult = field(default_factory=InvoiceStatusResult)

    @property
    def changed(self) -> int:
        """Rows written by both passes: statistics rows inserted, modified or deleted, invoices whose state changed."""
        return self.inserted + self.modified + self.deleted + self.invoices.modified

    @property
    def failures(self) -> int:
        """Rows that failed in both passes."""
        return self.failed + self.invoices.failed


def statistics_row_id(account_id: uuid.UUID | str) -> uuid.UUID:
    """The id of the statistics row of ``account_id`` (uuid5: stable, so retries upsert the same row)."""
    return uuid.uuid5(_ID_NAMESPACE, str(account_id).lower())


def _lcy_currency_id(bc: Any, dv: Any) -> str | None:
    """The Dataverse currency of BC's local currency (companyInformation.currencyCode), or None when none exists."""
    info = next(iter(bc.iter_rows("companyInformation", select=["currencyCode"])), None)
    code = (info or {}).get("currencyCode")
    if not code:
        return None
    row = next(iter(dv.iter_rows("transactioncurrencies", select=["transactioncurrencyid"],
                                 filter=f"isocurrencycode eq '{code.replace(chr(39), chr(39) * 2)}'")), None)
    return (row or {}).get("transactioncurrencyid")


def _statistics_body(statistics: dict[str, Any], currency_id: str | None) -> dict[str, Any]:
    """The ``bcp_accountstatistics`` row of one ``customerStatistics`` record."""
    body: dict[str, Any] = {
        "bcp_name": statistics.get("displayName") or statistics.get("number"),
        "bcp_customerno": statistics.get("number"),
        **{column: round(float(statistics.get(field) or 0), 2) for column, field in MONEY_FIELDS.items()},
        # BC writes WORKDATE; the portal's work date is today (UTC).
        "bcp_overdueamountsasof": date.today().isoformat(),
    }
    if currency_id:
        body["transactioncurrencyid@odata.bind"] = f"/transactioncurrencies({currency_id})"
    return body


def _differs(body: dict[str, Any], stored: dict[str, Any] | None) -> bool:
    if stored is None:
        return True
    for column in (*MONEY_COLUMNS, "bcp_name", "bcp_customerno"):
        if column in MONEY_COLUMNS:
            if round(float(stored.get(column) or 0), 2) != body[column]:
                return True
        elif (stored.get(column) or None) != (body[column] or None):
            return True
    return str(stored.get("bcp_overdueamountsasof") or "")[:10] != body["bcp_overdueamountsasof"]


def _uncoupled_statistics_delete(connection: Any, dv: Any, linked: dict[str, str]) -> int:
    """Delete the statistics rows of accounts no longer coupled to a customer (``linked``: account id -> its row id):
    those of a Delete Couplings, and those an uncoupling could not delete because Dataverse did not answer then (BC:
    uncoupling a customer deletes its account statistics row). Deletes in ``$batch`` requests of up to 1,000
    (continue on error; a row already gone counts as deleted), removes them from ``linked`` and returns how many were
    deleted. Raises ClientError when a batch as a whole fails."""
    coupled = {str(account_id).lower() for account_id in Coupling.objects.filter(
        connection=connection, bc_table="Customer", dataverse_table="account").values_list("dataverse_id", flat=True)}
    rows = [linked.pop(account_id) for account_id in [a for a in linked if a.lower() not in coupled]]
    answers = dv.batch([BatchRequest("DELETE", f"{ACCOUNT_STATISTICS_SET}({row_id})") for row_id in rows],
                       atomic=False)
    return sum(1 for answer in answers if answer.error is None or isinstance(answer.error, NotFoundError))


def customer_statistics_run(*, entry: JobQueueEntry) -> StatisticsRunResult:
    """Run one "Customer Statistics" job queue entry (BC: codeunit 5350 "CRM Statistics Job"): the invoice payment
    status pass (:func:`syncjobs.invoice_status.invoice_payment_status_run`), the deletion of statistics rows of
    accounts no longer coupled, then the account statistics pass: upsert the ``bcp_accountstatistics`` row of each
    coupled customer whose statistics are new or changed, with UpsertMultiple in batches of 100, then link the
    accounts that do not point to their row yet with UpdateMultiple. A row that fails is counted failed and its
    coupling stays "not uploaded", so the next run retries it. Raises SynchronizationNotPossible (connection
    disabled or incomplete) or a ClientError when a read fails (the job queue retries the entry)."""
    started = timezone.now()
    connection = entry.connection
    bc, dv = clients_for(connection)
    couplings = {str(c.bc_id): c for c in Coupling.objects.filter(
        connection=connection, bc_table="Customer", dataverse_table="account", skipped=False, is_pending=False)}
    result = StatisticsRunResult(invoices=invoice_payment_status_run(connection=connection, bc=bc, dv=dv))
    linked = {row["accountid"]: row[ACCOUNT_STATISTICS_LOOKUP] for row in dv.iter_rows(
        "accounts", select=["accountid", ACCOUNT_STATISTICS_LOOKUP], filter=f"{ACCOUNT_STATISTICS_LOOKUP} ne null")}
    result.deleted = _uncoupled_statistics_delete(connection, dv, linked)
    if not couplings:
        entry.parameters = {**entry.parameters, WATERMARK: started.isoformat()}
        entry.save(update_fields=["parameters"])
        return result
    currency_id = _lcy_currency_id(bc, dv)
    stored = {row[ACCOUNT_STATISTICS_ID]: row for row in dv.iter_rows(ACCOUNT_STATISTICS_SET, select=[
        ACCOUNT_STATISTICS_ID, "bcp_name", "bcp_customerno", "bcp_overdueamountsasof", *MONEY_COLUMNS])}

    writes: list[tuple[Coupling, Write]] = []
    links: list[tuple[Coupling, Write]] = []
    for customer in bc.iter_rows(STATISTICS_SOURCE, select=SOURCE_FIELDS, api=CUSTOMER_STATISTICS_ENDPOINT.api):
        coupling = couplings.get(str(customer["id"]))
        if coupling is None:
            continue
        account_id = str(coupling.dataverse_id)
        row_id = linked.get(account_id) or str(statistics_row_id(account_id))
        body = _statistics_body(customer, currency_id)
        label = f"the statistics of customer {customer.get('number')}"
        if not coupling.statistics_uploaded or _differs(body, stored.get(row_id)):
            writes.append((coupling, Write("insert", uuid.UUID(row_id), body, label)))
        else:
            result.unchanged += 1
        if linked.get(account_id) != row_id:
            links.append((coupling, Write("update", coupling.dataverse_id, {
                f"{ACCOUNT_STATISTICS_NAV}@odata.bind": f"/{ACCOUNT_STATISTICS_SET}({row_id})"}, label)))

    rows = DataverseWriter(dv, logical_name=ACCOUNT_STATISTICS_TABLE, entity_set=ACCOUNT_STATISTICS_SET,
                           primary_id=ACCOUNT_STATISTICS_ID, batch_size=BATCH_SIZE)
    failed_couplings: set[int] = set()
    for (coupling, write), failure in zip(writes, rows.write([w for _, w in writes]), strict=True):
        if failure is not None:
            result.failed += 1
            failed_couplings.add(coupling.pk)
        elif coupling.statistics_uploaded and write.key and str(write.key) in stored:
            result.modified += 1
        else:
            result.inserted += 1
    accounts = DataverseWriter(dv, logical_name="account", entity_set="accounts", primary_id="accountid",
                               batch_size=BATCH_SIZE)
    pending_links = [(c, w) for c, w in links if c.pk not in failed_couplings]
    for (coupling, _), failure in zip(pending_links, accounts.write([w for _, w in pending_links]), strict=True):
        if failure is not None:
            result.failed += 1
            failed_couplings.add(coupling.pk)
    uploaded = [c.pk for c, _ in writes if c.pk not in failed_couplings and not c.statistics_uploaded]
    Coupling.objects.filter(pk__in=uploaded).update(statistics_uploaded=True)
    entry.parameters = {**entry.parameters, WATERMARK: started.isoformat()}
    entry.save(update_fields=["parameters"])
    return result
