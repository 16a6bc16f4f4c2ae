"""Coupling constraints, field mapping rules and the direction rules of BC's table 5335 Integration Table Mapping."""
from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from mappings.models import Coupling, IntegrationTableMapping
from mappings.services import (
    CouplingConflict,
    coupling_create,
    coupling_delete,
    couplings_delete_for_mapping,
    couplings_for_mapping,
    integration_field_mapping_create,
    integration_field_mapping_update,
)
from syncjobs.defaults import default_configuration_reset
from syncjobs.mapping_jobs import integration_table_mapping_create, integration_table_mapping_update
from syncjobs.models import JobQueueEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def configured(connection: Any) -> Any:
    default_configuration_reset(connection=connection)
    return connection


def _mapping(connection: Any, name: str) -> IntegrationTableMapping:
    return IntegrationTableMapping.objects.get(connection=connection, name=name)


def test_a_row_couples_to_one_record_and_the_conflict_names_the_holder(connection: Any) -> None:
    row, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    coupling_create(connection=connection, bc_table="Customer", bc_id=first, dataverse_table="account",
                    dataverse_id=row)
    with pytest.raises(CouplingConflict) as caught:
        coupling_create(connection=connection, bc_table="Customer", bc_id=second, dataverse_table="account",
                        dataverse_id=row)
    assert str(first) in caught.value.messages[0] and "Customer" in caught.value.messages[0]
    # The same row cannot go to a record of another BC table either (Vendor and Customer share account).
    with pytest.raises(CouplingConflict):
        coupling_create(connection=connection, bc_table="Vendor", bc_id=second, dataverse_table="account",
                        dataverse_id=row)
    with pytest.raises(CouplingConflict) as again:
        coupling_create(connection=connection, bc_table="Customer", bc_id=first, dataverse_table="account",
                        dataverse_id=uuid.uuid4())
    assert str(row) in again.value.messages[0]
    assert Coupling.objects.count() == 1


def test_database_constraints_hold_without_the_service_checks(connection: Any) -> None:
    """The constraints themselves (what protects concurrent attempts) refuse both directions on SQLite too."""
    bc_id, row = uuid.uuid4(), uuid.uuid4()
    Coupling.objects.create(connection=connection, bc_table="Item", bc_id=bc_id, dataverse_table="product",
                            dataverse_id=row)
    with pytest.raises(IntegrityError), transaction.atomic():
        Coupling.objects.create(connection=connection, bc_table="Resource", bc_id=uuid.uuid4(),
                                dataverse_table="product", dataverse_id=row)
    with pytest.raises(IntegrityError), transaction.atomic():
        Coupling.objects.create(connection=connection, bc_table="Item", bc_id=bc_id, dataverse_table="product",
                                dataverse_id=uuid.uuid4())


def test_uncouple_and_delete_couplings_of_a_mapping(configured: Any) -> None:
    customer, item = _mapping(configured, "CUSTOMER"), _mapping(configured, "ITEM-PRODUCT")
    kept = coupling_create(connection=configured, bc_table="Customer", bc_id=uuid.uuid4(), dataverse_table="account",
                           dataverse_id=uuid.uuid4())
    for _ in range(3):
        coupling_create(connection=configured, bc_table="Item", bc_id=uuid.uuid4(), dataverse_table="product",
                        dataverse_id=uuid.uuid4())
    one = couplings_for_mapping(item).first()
    coupling_delete(coupling=one)
    assert couplings_for_mapping(item).count() == 2
    assert couplings_delete_for_mapping(mapping=item) == 2
    assert list(couplings_for_mapping(customer)) == [kept]


def test_uncoupling_a_customer_goes_on_when_dataverse_cannot_delete_its_statistics_row(configured: Any) -> None:
    """The row is deleted by the Customer Statistics job later (tests/syncjobs/test_customer_statistics.py)."""
    customer = _mapping(configured, "CUSTOMER")
    for _ in range(2):
        coupling_create(connection=configured, bc_table="Customer", bc_id=uuid.uuid4(), dataverse_table="account",
                        dataverse_id=uuid.uuid4())
    assert coupling_delete(coupling=couplings_for_mapping(customer).first()) == 1
    assert couplings_delete_for_mapping(mapping=customer) == 1
    assert not couplings_for_mapping(customer).exists()


def test_option_mapping_couplings_use_their_own_table_key(configured: Any) -> None:
    terms = _mapping(configured, "PAYMENT TERMS")
    assert terms.coupling_dataverse_table == "account.paymenttermscode"
    coupling_create(connection=configured, bc_table="Payment Terms", bc_id=uuid.uuid4(),
                    dataverse_table=terms.coupling_dataverse_table, dataverse_id=uuid.UUID(int=1))
    assert couplings_for_mapping(terms).count() == 1
    assert couplings_for_mapping(_mapping(configured, "CUSTOMER")).count() == 0


def test_invalid_filters_are_refused_and_nothing_is_saved(configured: Any) -> None:
    customer = _mapping(configured, "CUSTOMER")
    with pytest.raises(ValidationError) as caught:
        integration_table_mapping_update(mapping=customer, data={"table_filter": "blocked eq ' '",
                                                                 "integration_table_filter": "statuscode eq"})
    assert "integration_table_filter" in caught.value.message_dict
    with pytest.raises(ValidationError) as unknown:
        integration_table_mapping_update(mapping=customer, data={"table_filter": "displayname eq 'x'"})
    assert '"displayname"' in unknown.value.message_dict["table_filter"][0]
    customer.refresh_from_db()
    assert customer.table_filter == "blocked eq ' '" and customer.integration_table_filter.startswith("statecode")


def test_option_mappings_cannot_be_bidirectional(configured: Any) -> None:
    with pytest.raises(ValidationError, match="option set"):
        integration_table_mapping_update(mapping=_mapping(configured, "SHIPPING AGENT"),
                                         data={"direction": "Bidirectional"})


def test_direction_needs_an_enabled_field_mapping_with_that_direction(configured: Any) -> None:
    currency = _mapping(configured, "CURRENCY")
    with pytest.raises(ValidationError, match="No enabled field mapping of CURRENCY"):
        integration_table_mapping_update(mapping=currency, data={"direction": "FromIntegrationTable"})
    assert _mapping(configured, "CURRENCY").direction == "ToIntegrationTable"


def test_changing_to_one_way_puts_a_ready_job_on_hold_with_inactivity_timeout(configured: Any) -> None:
    customer = _mapping(configured, "CUSTOMER")
    customer.job_queue_entries.update(status=JobQueueEntry.Status.READY)
    changed = integration_table_mapping_update(mapping=customer, data={"direction": "ToIntegrationTable"})
    assert changed == ["direction"]
    assert customer.job_queue_entries.get().status == JobQueueEntry.Status.ON_HOLD_WITH_INACTIVITY_TIMEOUT


def test_option_mapping_direction_change_rewrites_field_directions(configured: Any) -> None:
    agent = _mapping(configured, "SHIPPING AGENT")
    integration_table_mapping_update(mapping=agent, data={"direction": "FromIntegrationTable"})
    assert set(agent.field_mappings.values_list("direction", flat=True)) == {"FromIntegrationTable"}


def test_dependency_filter_names_must_exist(configured: Any) -> None:
    with pytest.raises(ValidationError, match="NO-SUCH"):
        integration_table_mapping_update(mapping=_mapping(configured, "CONTACT"),
                                         data={"dependency_filter": "CUSTOMER|NO-SUCH"})


def test_field_mapping_rules(configured: Any) -> None:
    item = _mapping(configured, "ITEM-PRODUCT")
    with pytest.raises(ValidationError) as caught:
        integration_field_mapping_create(mapping=item, data={"field_name": "Colour", "integration_field_name": "size",
                                                             "direction": "ToIntegrationTable"})
    assert '"Colour" is not a field of the BC table Item' in caught.value.message_dict["field_name"][0]
    with pytest.raises(ValidationError) as column:
        integration_field_mapping_create(mapping=item, data={"field_name": "GTIN", "integration_field_name": "ean",
                                                             "direction": "ToIntegrationTable"})
    assert '"ean" is not a column of the Dataverse table product' in column.value.message_dict[
        "integration_field_name"][0]
    with pytest.raises(ValidationError, match="Not Null applies only"):
        integration_field_mapping_create(mapping=item, data={"field_name": "GTIN", "integration_field_name": "size",
                                                             "direction": "ToIntegrationTable", "not_null": True})
    with pytest.raises(ValidationError, match="constant"):
        integration_field_mapping_create(mapping=item, data={"integration_field_name": "size",
                                                             "direction": "ToIntegrationTable"})
    created = integration_field_mapping_create(mapping=item, data={"field_name": "GTIN",
                                                                   "integration_field_name": "size",
                                                                   "direction": "ToIntegrationTable"})
    assert created.user_defined and created.transformation_direction == "ToIntegrationTable"
    assert item.field_mappings.count() == 12


def test_field_mapping_direction_must_fit_a_one_way_table_mapping(configured: Any) -> None:
    currency = _mapping(configured, "CURRENCY")
    symbol = currency.field_mappings.get(field_name="Symbol")
    with pytest.raises(ValidationError, match="opposite direction would never run"):
        integration_field_mapping_update(field_mapping=symbol, data={"direction": "FromIntegrationTable"})
    owner = _mapping(configured, "CUSTOMER").field_mappings.get(integration_field_name="ownerid")
    with pytest.raises(ValidationError, match="exclude each other"):
        integration_field_mapping_update(field_mapping=owner, data={"clear_value_on_failed_sync": True})
    symbol.refresh_from_db()
    assert symbol.direction == "ToIntegrationTable"


def test_new_user_defined_mapping_from_the_catalogue(configured: Any) -> None:
    mapping = integration_table_mapping_create(
        connection=configured, name="item-category", bc_table_name="Item", dataverse_table_name="product",
        direction="ToIntegrationTable", field_pairs=[("No.", "productnumber", "ToIntegrationTable")],
        table_filter="type eq 'Service'", dependency_filter="CURRENCY")
    assert mapping.name == "ITEM-CATEGORY" and mapping.user_defined
    assert mapping.integration_table_uid_field == "productid"
    assert mapping.job_queue_entries.get().no_of_minutes_between_runs == 30
    with pytest.raises(ValidationError) as caught:
        integration_table_mapping_create(
            connection=configured, name="ITEM-CATEGORY", bc_table_name="Item", dataverse_table_name="product",
            direction="Bidirectional", field_pairs=[("Nope", "productnumber", "Bidirectional")],
            integration_table_filter="nope eq 1")
    errors = caught.value.message_dict
    assert set(errors) == {"name", "fields", "integration_table_filter"}
    assert IntegrationTableMapping.objects.filter(name="ITEM-CATEGORY").count() == 1
