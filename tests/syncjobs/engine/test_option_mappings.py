"""Option-set mappings (PAYMENT TERMS, SHIPMENT METHOD, SHIPPING AGENT) against the emulators: each BC code becomes
an option of the Dataverse column — coupled when an option with that label exists, added with InsertOptionValue
otherwise — and a re-run changes nothing."""
from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from connections.actions.configuration import connection_sales_settings_update
from mappings.models import Coupling, IntegrationFieldMapping, IntegrationTableMapping
from syncjobs.engine import clients_for
from syncjobs.engine.options import companion_columns, picklist_options, synchronize_option_mapping
from tests.connections.conftest import admin_dataverse

pytestmark = pytest.mark.django_db


def _run(mapping: IntegrationTableMapping) -> Any:
    # The shared fixture disables field mappings into option columns for the other engine tests; this mapping is
    # the one that makes those options exist, so its own field mapping is on, as the default configuration has it.
    IntegrationFieldMapping.objects.filter(table_mapping=mapping).update(status=IntegrationFieldMapping.Status.ENABLED)
    bc, dv = clients_for(mapping.connection)
    return synchronize_option_mapping(mapping=mapping, bc_client=bc, dv_client=dv)


def test_payment_terms_become_options_and_a_rerun_changes_nothing(sync_connection: Any) -> None:
    mapping = IntegrationTableMapping.objects.get(connection=sync_connection, name="PAYMENT TERMS")
    bc, dv = clients_for(sync_connection)
    codes = {row["code"] for row in bc.iter_rows("paymentTerms", select=["code"])}
    before = picklist_options(dv, "account", "paymenttermscode")
    assert codes and not codes & {label for label in before.values()}  # CRONUS codes are not Dataverse's defaults

    job = _run(mapping)
    assert (job.inserted, job.failed, job.direction) == (len(codes), 0, "ToIntegrationTable")
    assert job.finished_at is not None and job.processed == len(codes)
    after = picklist_options(dv, "account", "paymenttermscode")
    assert {label for label in after.values()} >= codes
    couplings = Coupling.objects.filter(connection=sync_connection, bc_table="Payment Terms",
                                        dataverse_table="account.paymenttermscode")
    assert couplings.count() == len(codes)
    assert {after[c.dataverse_id.int] for c in couplings} == codes

    again = _run(mapping)
    assert (again.inserted, again.coupled, again.unchanged, again.failed) == (0, 0, len(codes), 0)
    assert picklist_options(dv, "account", "paymenttermscode") == after


def test_existing_option_with_the_code_as_label_is_coupled_not_added(sync_connection: Any) -> None:
    mapping = IntegrationTableMapping.objects.get(connection=sync_connection, name="SHIPPING AGENT")
    bc, dv = clients_for(sync_connection)
    codes = {row["code"] for row in bc.iter_rows("shippingAgents", select=["code"], api="custom")}
    existing = picklist_options(dv, "account", "address1_shippingmethodcode")
    by_label = {label.casefold(): value for value, label in existing.items()}
    matching = {code for code in codes if code.casefold() in by_label}
    assert matching  # DHL, FedEx, UPS are standard Dataverse shipping methods

    job = _run(mapping)
    assert job.coupled == len(matching) and job.inserted == len(codes - matching) and job.failed == 0
    for code in matching:
        coupling = Coupling.objects.get(connection=sync_connection, bc_table="Shipping Agent",
                                        dataverse_table="account.address1_shippingmethodcode",
                                        dataverse_id=UUID(int=by_label[code.casefold()]))
        assert coupling.last_synch_crm_result == Coupling.Result.SUCCESS


def test_customer_shipment_method_resolves_once_the_option_exists(sync_connection: Any) -> None:
    """The option mapping runs before CUSTOMER (its dependency filter); the customer's code then has its option."""
    mapping = IntegrationTableMapping.objects.get(connection=sync_connection, name="SHIPMENT METHOD")
    assert "SHIPMENT METHOD" in IntegrationTableMapping.objects.get(
        connection=sync_connection, name="CUSTOMER").dependency_filter
    job = _run(mapping)
    assert job.failed == 0 and job.inserted + job.coupled > 0
    _, dv = clients_for(sync_connection)
    labels = set(picklist_options(dv, "account", "address1_freighttermscode").values())
    assert "EXW" in labels


def test_codes_become_options_of_every_column_the_documents_write(sync_connection: Any, admin_user: Any,
                                                                 emulator: Any) -> None:
    """The sales order's and invoice's payment terms are local option sets of their own: PAYMENT TERMS adds every BC
    code there too (else every order with such a code fails), and a re-run adds nothing."""
    connection_sales_settings_update(connection=sync_connection, user=admin_user,
                                     data={"bidirectional_sales_order_integration": True})
    IntegrationFieldMapping.objects.filter(table_mapping__connection=sync_connection,
                                           field_name="Payment Terms Code").update(
        status=IntegrationFieldMapping.Status.ENABLED)
    mapping = IntegrationTableMapping.objects.get(connection=sync_connection, name="PAYMENT TERMS")
    assert companion_columns(mapping) == [("invoice", "paymenttermscode"), ("salesorder", "paymenttermscode")]
    bc, dv = clients_for(sync_connection)
    codes = {row["code"] for row in bc.iter_rows("paymentTerms", select=["code"])}
    assert not codes & set(picklist_options(dv, "salesorder", "paymenttermscode").values())

    job = _run(mapping)
    assert (job.inserted, job.failed) == (len(codes), 0)
    after = {table: picklist_options(dv, table, "paymenttermscode") for table in ("invoice", "salesorder")}
    for table, options in after.items():
        assert set(options.values()) >= codes, table

    # an option removed from the sales order's column by someone is put back by the next run
    value = next(v for v, label in after["salesorder"].items() if label in codes)
    admin_dataverse(emulator.info).execute("DeleteOptionValue", {
        "EntityLogicalName": "salesorder", "AttributeLogicalName": "paymenttermscode", "Value": value})
    again = _run(mapping)
    assert (again.inserted, again.modified, again.unchanged, again.failed) == (0, 1, len(codes) - 1, 0)
    assert set(picklist_options(dv, "salesorder", "paymenttermscode").values()) >= codes
    third = _run(mapping)
    assert (third.modified, third.unchanged) == (0, len(codes))
