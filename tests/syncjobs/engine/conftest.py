"""Fixtures of the engine tests: a connection setup on the emulators with the default configuration applied."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from connections.clients import dataverse_client_for
from connections.models import ConnectionSetup
from mappings.models import Coupling, IntegrationFieldMapping, IntegrationTableMapping
from syncjobs.defaults import default_configuration_reset
from syncjobs.engine import clients_for, synchronize_mapping


@pytest.fixture
def sync_connection(emulator: Any, settings: Any, db: Any) -> Any:
    """An enabled connection setup on the freshly reset emulators (Person ownership, unit-of-measure mode), with the
    default configuration (BC: codeunit 7204 "CDS Setup Defaults" and codeunit 5334 "CRM Setup Defaults",
    ResetConfiguration) applied by ``default_configuration_reset``."""
    return make_sync_connection(emulator, settings)


def make_sync_connection(emulator: Any, settings: Any, company: str = "CRONUS International Ltd.") -> Any:
    """Create the emulated connection setup of :func:`sync_connection` for the BC ``company`` (the database must be
    available)."""
    settings.OUTBOUND_CA_BUNDLE = emulator.info["ca_bundle"]
    info = emulator.info
    company = next(c for c in info["bc_companies"] if c["name"] == company)
    connection = ConnectionSetup.objects.create(
        name=f"{company['name']} emulated", dataverse_url=info["dataverse_url"],
        authentication_type=ConnectionSetup.AuthenticationType.CLIENT_SECRET, tenant_id=info["tenant_id"],
        authority_host=info["dataverse_url"], client_id=info["client_id"], client_secret=info["client_secret"],
        bc_api_url=info["bc_api_url"], bc_authentication_type=ConnectionSetup.BCAuthenticationType.OAUTH,
        bc_company_id=company["id"], bc_company_name=company["name"],
        ownership_model=ConnectionSetup.OwnershipModel.PERSON, unit_group_mapping_enabled=False,
        integration_user_id=info["application_user_id"], is_enabled=True,
    )
    _, dv = clients_for(connection)
    organization = next(dv.iter_rows("organizations", select=["_basecurrencyid_value"]))
    connection.base_currency_id = organization["_basecurrencyid_value"]
    connection.save(update_fields=["base_currency_id"])
    default_configuration_reset(connection=connection)
    disable_unknown_columns(connection, dv)
    disable_unmatched_options(connection)
    return connection


def disable_unknown_columns(connection: Any, dv: Any) -> None:
    """Disable the field mappings whose Dataverse column the emulated environment lacks (vendorid, fax,
    address1_primarycontactname), as an administrator would for their environment."""
    known: dict[str, set[str]] = {}
    for field_mapping in IntegrationFieldMapping.objects.filter(table_mapping__connection=connection).exclude(
            integration_field_name="").select_related("table_mapping"):
        table = field_mapping.table_mapping.integration_table
        if table not in known:
            answer = dv.execute(f"EntityDefinitions(LogicalName='{table}')/Attributes?$select=LogicalName")
            known[table] = {a["LogicalName"] for a in answer.get("value", [])}
        column = field_mapping.integration_field_name.lower()
        if column not in known[table] and column.removesuffix("enum") not in known[table]:
            field_mapping.status = IntegrationFieldMapping.Status.DISABLED
            field_mapping.save(update_fields=["status"])


#: Option set columns whose BC codes ("1M(8D)", "EXW") have no option in a fresh Dataverse until the option mappings
#: (PAYMENT TERMS, SHIPMENT METHOD) add them; the engine tests that run single mappings without those disable them
#: (tests/syncjobs/test_bidirectional_orders_demo.py runs the whole configuration with every option mapped).
UNMATCHED_OPTION_COLUMNS = ("paymenttermscode", "address1_freighttermscode", "freighttermscode")


def disable_unmatched_options(connection: Any) -> None:
    """Disable the field mappings into :data:`UNMATCHED_OPTION_COLUMNS` for tests that do not run the option
    mappings first; the shipping agent options (DHL, FedEx, UPS) exist in a fresh Dataverse and stay mapped."""
    IntegrationFieldMapping.objects.filter(table_mapping__connection=connection,
                                           integration_field_name__in=UNMATCHED_OPTION_COLUMNS).update(
        status=IntegrationFieldMapping.Status.DISABLED)


@pytest.fixture
def clients(sync_connection: Any) -> tuple[Any, Any]:
    """(BusinessCentralClient, DataverseClient) of the emulated connection."""
    return clients_for(sync_connection)


@pytest.fixture
def mapping(sync_connection: Any) -> Callable[[str], Any]:
    """The connection's integration table mapping by name: ``mapping("ITEM-PRODUCT")``."""
    def get(name: str) -> Any:
        return IntegrationTableMapping.objects.get(connection=sync_connection, name=name)

    return get


@pytest.fixture
def run(mapping: Callable[[str], Any]) -> Callable[..., list[Any]]:
    """Run the engine for named mappings in order: ``run("CURRENCY", "ITEM-PRODUCT", full=True)``."""
    def go(*names: str, full: bool = False, batch_size: int | None = None) -> list[Any]:
        jobs: list[Any] = []
        for name in names:
            jobs.extend(synchronize_mapping(mapping=mapping(name), full=full, batch_size=batch_size))
        return jobs

    return go


@pytest.fixture
def admin_dv(sync_connection: Any, clients: tuple[Any, Any], emulator: Any) -> Any:
    """A DataverseClient acting as the System Administrator (Microsoft Learn: "Impersonate another user using the Web
    API"): its changes are a user's changes, not the integration user's."""
    _, dv = clients
    admin = next(dv.iter_rows("systemusers", select=["systemuserid"],
                              filter=f"domainname eq '{emulator.info['admin_user']}'"))
    return dataverse_client_for(sync_connection, caller_id=admin["systemuserid"])


@pytest.fixture
def synced_items(run: Callable[..., list[Any]], clients: tuple[Any, Any]) -> dict[str, dict[str, Any]]:
    """Currencies, units and items fully synchronized to Dataverse; returns the BC items by number."""
    run("CURRENCY", "UNIT OF MEASURE", full=True)
    run("ITEM-PRODUCT", full=True)
    bc, _ = clients
    return {item["number"]: item for item in bc.iter_rows("items", filter="blocked eq false")}


@pytest.fixture
def couple_salespeople(sync_connection: Any, clients: tuple[Any, Any], emulator: Any) -> Callable[..., None]:
    """Couple BC salespeople to Dataverse users by code and user name, as Couple Salespersons does (BC: page "Users -
    Dataverse", Couple): ``couple_salespeople(JO="admin", OF="integration")``."""
    bc, dv = clients
    users = {u["domainname"]: u["systemuserid"] for u in dv.iter_rows("systemusers",
                                                                      select=["systemuserid", "domainname"])}
    people = {sp["code"]: sp["id"] for sp in bc.iter_rows("salespeoplePurchasers")}

    def couple(**pairs: str) -> None:
        for code, who in pairs.items():
            Coupling.objects.create(connection=sync_connection, bc_table="Salesperson/Purchaser", bc_id=people[code],
                                    dataverse_table="systemuser",
                                    dataverse_id=users[emulator.info[f"{who}_user"]])

    return couple
