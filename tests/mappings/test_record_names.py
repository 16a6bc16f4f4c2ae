"""Record names on couplings: a full synchronization on the demo data stores the primary name of each side (BC: CRM
Setup Defaults.GetNameFieldNo; the Dataverse table's primary name column), a later pass from Dataverse updates them,
and the pages that list records show them, with the id as secondary text."""
from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils.html import escape

from mappings.catalogue import bc_table
from mappings.models import Coupling, IntegrationTableMapping
from syncjobs.engine import clients_for, synchronize_mapping

pytestmark = pytest.mark.django_db


def _run(connection: Any, *names: str, full: bool = True) -> None:
    for name in names:
        synchronize_mapping(mapping=IntegrationTableMapping.objects.get(connection=connection, name=name), full=full)


@pytest.fixture
def synced(emulator_connection: Any) -> Any:
    """The demo connection after a full synchronization of currencies, units of measure, items and customers."""
    _run(emulator_connection, "CURRENCY", "UNIT GROUP", "ITEM UOM", "ITEM-PRODUCT", "CUSTOMER")
    return emulator_connection


def test_a_full_synchronization_stores_both_names(synced: Any) -> None:
    bc, dv = clients_for(synced)
    items = {i["id"]: i for i in bc.iter_rows("items", filter="blocked eq false")}
    products = {p["productid"]: p for p in dv.iter_rows("products", select=["productid", "name"])}
    couplings = list(Coupling.objects.filter(connection=synced, bc_table="Item", dataverse_table="product"))
    assert len(couplings) == len(items) > 0
    assert bc_table("Item").name_field == "No."  # BC: GetNameFieldNo gives the item's number
    for coupling in couplings:
        assert coupling.bc_name == items[str(coupling.bc_id)]["number"]
        assert coupling.dataverse_name == products[str(coupling.dataverse_id)]["name"]
    currencies = {c["id"]: c["code"] for c in bc.iter_rows("currencies")}
    for coupling in Coupling.objects.filter(connection=synced, bc_table="Currency"):
        assert coupling.bc_name == currencies[str(coupling.bc_id)] and coupling.dataverse_name
    # customers that failed (their salesperson or terms are not coupled yet) keep their BC name too
    customers = {c["id"]: c["displayName"] for c in bc.iter_rows("customers")}
    failed = list(Coupling.objects.filter(connection=synced, bc_table="Customer", bc_id__in=list(customers)))
    assert failed and all(c.bc_name == customers[str(c.bc_id)] for c in failed)


def test_a_pass_from_dataverse_stores_the_row_names(synced: Any) -> None:
    """Accounts read from Dataverse (their BC customers could not be created yet) carry the account's name."""
    _, dv = clients_for(synced)
    accounts = {a["accountid"]: a["name"] for a in dv.iter_rows("accounts", select=["accountid", "name"])}
    from_dataverse = list(Coupling.objects.filter(connection=synced, bc_table="Customer",
                                                  dataverse_id__in=list(accounts), last_synch_job_id__isnull=False))
    assert from_dataverse, "the demo's Dataverse accounts were read by the Dataverse -> BC pass"
    assert all(c.dataverse_name == accounts[str(c.dataverse_id)] for c in from_dataverse)


def test_a_later_pass_updates_the_names(synced: Any) -> None:
    bc, _ = clients_for(synced)
    coupling = Coupling.objects.filter(connection=synced, bc_table="Item").order_by("bc_name").first()
    assert coupling is not None
    item = next(bc.iter_rows("items", filter=f"id eq {coupling.bc_id}"))
    bc.update("items", coupling.bc_id, {"displayName": "Renamed bicycle"}, etag=item["@odata.etag"])
    _run(synced, "ITEM-PRODUCT", full=False)
    coupling.refresh_from_db()
    assert coupling.dataverse_name == "Renamed bicycle" and coupling.bc_name == item["number"]


def test_pages_show_the_names_with_the_ids(synced: Any, admin_client: Any) -> None:
    item_mapping = IntegrationTableMapping.objects.get(connection=synced, name="ITEM-PRODUCT")
    coupling = Coupling.objects.filter(connection=synced, bc_table="Item").order_by("bc_name").first()
    assert coupling is not None and coupling.bc_name and coupling.dataverse_name
    confirm = admin_client.get(reverse("mappings:couplings-delete", args=[item_mapping.pk])).content.decode()
    assert f"{escape(coupling.bc_name)}<small class=\"record-id\">{coupling.bc_id}</small>" in confirm
    assert f"{escape(coupling.dataverse_name)}<small class=\"record-id\">{coupling.dataverse_id}</small>" in confirm
    skipped = Coupling.objects.filter(connection=synced, bc_table="Customer",
                                      last_synch_crm_result=Coupling.Result.FAILURE).first()
    assert skipped is not None, "the demo has customers that failed"
    page = admin_client.get(reverse("syncjobs:skippedrecord-list")).content.decode()
    assert f"{escape(skipped.bc_name)}<small class=\"record-id\">{skipped.bc_id}</small>" in page
    response = admin_client.post(reverse("syncjobs:skippedrecord-action"),
                                 {"action": "remove_coupling", "coupling": [skipped.pk]})
    assert response.status_code == 200 and escape(skipped.bc_name) in response.content.decode()
    assert "Remove Coupling for these 1 record(s)" in response.content.decode()


def test_viewers_see_stored_names_without_a_remote_read(synced: Any, client: Any, django_user_model: Any) -> None:
    client.force_login(django_user_model.objects.create_user("viewer", "v@example.com", "pw-viewer-123"))
    item_mapping = IntegrationTableMapping.objects.get(connection=synced, name="ITEM-PRODUCT")
    coupling = Coupling.objects.filter(connection=synced, bc_table="Item").order_by("-created_at", "-id").first()
    assert coupling is not None
    html = client.get(reverse("mappings:coupling-list", args=[item_mapping.pk])).content.decode()
    assert escape(coupling.bc_name) in html and escape(coupling.dataverse_name) in html
    assert str(coupling.bc_id) in html
