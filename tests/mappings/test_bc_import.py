"""Import from Business Central's own integration (BC: table 5331 CRM Integration Record, table 5335 Integration Table
Mapping) against the emulators' CRONUS company, which holds 5 BC couplings of customers to the 5 seeded Dataverse
accounts and the CUSTOMER, ITEM-PRODUCT and CONTACT table mappings with filters in BC's stored table-view form."""
from __future__ import annotations

import io
import uuid
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from emulators.seed import CRONUS_ACCOUNTS
from mappings.bc_import import (
    BC_FILTER_FIELDS,
    DATAVERSE_FILTER_FIELDS,
    Outcome,
    bc_import_apply,
    bc_import_preview,
    bc_integration_read,
    filter_convert,
)
from mappings.models import Coupling, IntegrationTableMapping
from mappings.services import coupling_create
from portal.testing.pytest_plugin import allow_outbound_origin
from syncjobs.defaults import default_configuration_reset
from syncjobs.engine import clients_for, synchronize_mapping

pytestmark = pytest.mark.django_db


@pytest.fixture
def cronus(emulator: Any, settings: Any) -> Any:
    """An enabled connection setup on the freshly reset emulators' CRONUS company with the default configuration."""
    from connections.models import ConnectionSetup

    info = emulator.info
    settings.OUTBOUND_CA_BUNDLE = info["ca_bundle"]
    settings.OUTBOUND_ALLOWED_HOSTS = allow_outbound_origin(info["dataverse_url"])
    company = next(c for c in info["bc_companies"] if c["name"] == "CRONUS International Ltd.")
    connection = ConnectionSetup.objects.create(
        name="CRONUS", dataverse_url=info["dataverse_url"], tenant_id=info["tenant_id"],
        authority_host=info["entra_authority"].rsplit("/", 1)[0], client_id=info["client_id"],
        client_secret=info["client_secret"], bc_api_url=info["bc_api_url"], bc_company_id=company["id"],
        bc_company_name=company["name"], ownership_model=ConnectionSetup.OwnershipModel.TEAM, is_enabled=True)
    default_configuration_reset(connection=connection)
    return connection


def _bc_pairs(connection: Any) -> set[tuple[str, uuid.UUID, str, uuid.UUID]]:
    """BC's couplings as read from the emulator (table 18 Customer → the CUSTOMER mapping's Dataverse table)."""
    records, _ = bc_integration_read(connection=connection)
    assert {r["tableId"] for r in records} == {18}
    return {("Customer", uuid.UUID(r["integrationId"]), "account", uuid.UUID(r["crmId"])) for r in records}


def _portal_pairs(connection: Any) -> set[tuple[str, uuid.UUID, str, uuid.UUID]]:
    return {(c.bc_table, c.bc_id, c.dataverse_table, c.dataverse_id)
            for c in Coupling.objects.filter(connection=connection)}


def test_import_couples_the_same_pairs_and_converts_the_filters(cronus: Any) -> None:
    IntegrationTableMapping.objects.filter(connection=cronus, name="CUSTOMER").update(
        table_filter="", integration_table_filter="")
    expected = _bc_pairs(cronus)
    assert len(expected) == 5

    result = bc_import_apply(connection=cronus)

    assert result.coupled == 5 and result.skipped == 0
    assert _portal_pairs(cronus) == expected
    customer = IntegrationTableMapping.objects.get(connection=cronus, name="CUSTOMER")
    assert customer.table_filter == "blocked eq ' '"  # WHERE(Field39=1(0)): Blocked = " "
    assert customer.integration_table_filter == "statecode eq 0 and customertypecode eq 3"
    assert IntegrationTableMapping.objects.get(connection=cronus, name="ITEM-PRODUCT").table_filter == \
        "blocked eq false"
    assert IntegrationTableMapping.objects.get(connection=cronus, name="CONTACT").table_filter == "type eq 'Person'"
    # CRM Product field 45 and CRM Contact field 94 are not among the fields the portal converts: reported, not set.
    unconverted = {(f.bc_mapping, f.side) for f in result.preview.filters if f.odata is None}
    assert unconverted == {("ITEM-PRODUCT", "integration_table_filter"), ("CONTACT", "integration_table_filter")}
    assert "CONTACT Integration Table Filter" not in result.filters_set
    # BC's last synchronized timestamps and results come along.
    coupling = Coupling.objects.filter(connection=cronus).first()
    assert coupling.last_synch_modified_on is not None and coupling.last_synch_crm_modified_on is not None
    assert coupling.last_synch_result == Coupling.Result.SUCCESS

    again = bc_import_preview(connection=cronus)
    assert again.counts() == {"Customer": {Outcome.ALREADY: 5}}


def test_skipped_flags_are_carried_over(cronus: Any) -> None:
    records, table_mappings = bc_integration_read(connection=cronus)
    records[1]["skipped"] = True  # the emulator seeds no skipped coupling; mark one as BC would after failures

    result = bc_import_apply(connection=cronus, records=records, table_mappings=table_mappings)

    assert result.coupled == 5 and result.skipped == 1
    skipped = {c.bc_id for c in Coupling.objects.filter(connection=cronus, skipped=True)}
    assert skipped == {uuid.UUID(records[1]["integrationId"])}


def test_conflicts_and_missing_records_are_reported_and_left_out(cronus: Any) -> None:
    records, table_mappings = bc_integration_read(connection=cronus)
    held = records[0]
    other_row = uuid.uuid4()
    coupling_create(connection=cronus, bc_table="Customer", bc_id=held["integrationId"], dataverse_table="account",
                    dataverse_id=other_row)
    records[1]["crmId"] = str(uuid.uuid4())  # a Dataverse row that does not exist (deleted since BC coupled it)

    preview = bc_import_preview(connection=cronus, records=records, table_mappings=table_mappings)

    outcomes = {line.bc_id: line for line in preview.couplings}
    assert outcomes[uuid.UUID(held["integrationId"])].outcome == Outcome.CONFLICT
    assert str(other_row) in outcomes[uuid.UUID(held["integrationId"])].reason
    assert outcomes[uuid.UUID(records[1]["integrationId"])].outcome == Outcome.MISSING
    assert preview.counts() == {"Customer": {Outcome.CONFLICT: 1, Outcome.MISSING: 1, Outcome.IMPORT: 3}}

    result = bc_import_apply(connection=cronus, records=records, table_mappings=table_mappings)
    assert result.coupled == 3
    assert Coupling.objects.get(connection=cronus, bc_id=held["integrationId"]).dataverse_id == other_row


def test_full_synchronization_after_the_import_creates_no_duplicate_account(cronus: Any) -> None:
    bc, dataverse = clients_for(cronus)

    def accounts() -> dict[str, int]:
        names = " or ".join(f"name eq '{name}'" for name in CRONUS_ACCOUNTS)
        counts = dict.fromkeys(CRONUS_ACCOUNTS, 0)
        for row in dataverse.iter_rows("accounts", select=["name"], filter=names):
            counts[row["name"]] += 1
        return counts

    assert accounts() == dict.fromkeys(CRONUS_ACCOUNTS, 1)
    bc_import_apply(connection=cronus)
    # as after enabling (BC: RefreshDataFromCRM reads the base currency), with the currencies synchronized first
    organization = next(dataverse.iter_rows("organizations", select=["_basecurrencyid_value"]))
    cronus.base_currency_id = organization["_basecurrencyid_value"]
    cronus.save(update_fields=["base_currency_id"])
    customer = IntegrationTableMapping.objects.get(connection=cronus, name="CUSTOMER")
    for name in filter(None, customer.dependency_filter.split("|")):  # the full synchronization's order
        synchronize_mapping(mapping=IntegrationTableMapping.objects.get(connection=cronus, name=name), full=True)

    jobs = synchronize_mapping(mapping=customer, full=True)

    assert jobs and jobs[0].inserted > 0  # the other CRONUS customers were created as accounts
    assert accounts() == dict.fromkeys(CRONUS_ACCOUNTS, 1)
    # nor a duplicate customer: the coupled accounts are not created back in BC (Dataverse -> BC pass)
    customers = [row["displayName"] for row in bc.iter_rows("customers", select=["displayName"])]
    assert {name: customers.count(name) for name in CRONUS_ACCOUNTS} == dict.fromkeys(CRONUS_ACCOUNTS, 1)


def test_dry_run_prints_the_preview_and_changes_nothing(cronus: Any) -> None:
    before = list(IntegrationTableMapping.objects.filter(connection=cronus).values_list(
        "name", "table_filter", "integration_table_filter"))
    out = io.StringIO()

    call_command("import_bc_couplings", "CRONUS", "--dry-run", stdout=out)

    printed = out.getvalue()
    assert "Customer: 5 to import" in printed
    assert "CUSTOMER Table Filter: VERSION(1) SORTING(Field1) WHERE(Field39=1(0)) → blocked eq ' '" in printed
    assert "ITEM-PRODUCT Integration Table Filter" in printed and "not converted" in printed
    assert "nothing was changed" in printed
    assert not Coupling.objects.filter(connection=cronus).exists()
    assert list(IntegrationTableMapping.objects.filter(connection=cronus).values_list(
        "name", "table_filter", "integration_table_filter")) == before

    out = io.StringIO()
    call_command("import_bc_couplings", str(cronus.pk), stdout=out)
    assert "Imported 5 coupling(s) (0 skipped)" in out.getvalue()
    assert _portal_pairs(cronus) == _bc_pairs(cronus)


def test_command_fails_for_an_unknown_connection(cronus: Any) -> None:
    with pytest.raises(CommandError, match="No connection setup is named 'Nope'. Connection setups: CRONUS"):
        call_command("import_bc_couplings", "Nope")


def test_page_previews_then_imports_for_administrators_only(cronus: Any, client: Any, admin_user: Any,
                                                           django_user_model: Any) -> None:
    url = reverse("mappings:bc-import", args=[cronus.pk])
    viewer = django_user_model.objects.create_user("viewer", "viewer@example.com", "viewer-password-123")
    client.force_login(viewer)
    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403
    assert not Coupling.objects.exists()

    client.force_login(admin_user)
    listing = client.get(reverse("mappings:index")).content.decode()
    assert url in listing
    page = client.get(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "to import" in html and "Import 5 coupling(s) and 4 filter(s)" in html
    assert "not converted" in html
    assert not Coupling.objects.exists()

    response = client.post(url, follow=True)
    assert "Imported 5 coupling(s) (0 skipped) and 4 filter(s)" in response.content.decode()
    assert _portal_pairs(cronus) == _bc_pairs(cronus)


@pytest.mark.parametrize(("table_no", "view", "fields", "expected"), [
    (18, "VERSION(1) SORTING(Field1) WHERE(Field39=1(0|3))", BC_FILTER_FIELDS,
     ("(blocked eq ' ' or blocked eq 'All')", "")),
    (18, "VERSION(1) SORTING(Field1) WHERE(Field1=1(<>10000))", BC_FILTER_FIELDS, ("number ne '10000'", "")),
    (18, "VERSION(1) SORTING(Field1)", BC_FILTER_FIELDS, ("", "")),
    (18, "VERSION(1) SORTING(Field1) WHERE(Field1=1(10000..20000))", BC_FILTER_FIELDS,
     (None, "field 1 of table 18: the value '10000..20000' is not a plain value")),
    (18, "VERSION(1) SORTING(Field1) WHERE(Field2=1(A*))", BC_FILTER_FIELDS,
     (None, "field 2 of table 18 has no counterpart the portal knows")),
    (5341, "VERSION(1) SORTING(Field1) WHERE(Field6=1(0))", DATAVERSE_FILTER_FIELDS,
     (None, "field 6 of table 5341: '0' is not an option index the portal knows")),
])
def test_filter_conversion(table_no: int, view: str, fields: Any, expected: tuple[str | None, str]) -> None:
    assert filter_convert(table_no, view, fields) == expected
