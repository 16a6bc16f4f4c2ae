"""The mappings pages: aggregate list with a fixed number of queries, editing with clear messages, read-only users."""
from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mappings.models import Coupling, IntegrationTableMapping
from syncjobs.defaults import default_configuration_reset
from syncjobs.models import SynchronizationJob

pytestmark = pytest.mark.django_db


@pytest.fixture
def configured(connection: Any) -> Any:
    default_configuration_reset(connection=connection)
    return connection


@pytest.fixture
def viewer_client(client: Any, django_user_model: Any) -> Any:
    """A signed-in user outside the Integration Administrator group."""
    client.force_login(django_user_model.objects.create_user("viewer", "viewer@example.com", "pw-viewer-123"))
    return client


def _list_queries(client: Any) -> tuple[int, str]:
    with CaptureQueriesContext(db_connection) as captured:
        response = client.get(reverse("mappings:index"))
    assert response.status_code == 200
    return len(captured), response.content.decode()


def test_list_shows_counters_with_a_fixed_number_of_queries(admin_client: Any, configured: Any) -> None:
    small, _ = _list_queries(admin_client)
    customer = IntegrationTableMapping.objects.get(connection=configured, name="CUSTOMER")
    for index in range(30):
        Coupling.objects.create(connection=configured, bc_table="Customer", bc_id=uuid.uuid4(),
                                dataverse_table="account", dataverse_id=uuid.uuid4(), skipped=index < 4)
    SynchronizationJob.objects.create(table_mapping=customer, direction="ToIntegrationTable", failed=2)
    SynchronizationJob.objects.create(table_mapping=customer, direction="FromIntegrationTable", failed=1)
    from connections.models import ConnectionSetup

    other = ConnectionSetup.objects.create(name="Second", unit_group_mapping_enabled=False,
                                           bidirectional_sales_order_integration=True)
    default_configuration_reset(connection=other)
    large, html = _list_queries(admin_client)
    assert large == small
    row = html[html.index(f'{reverse("mappings:mapping-detail", args=[customer.pk])}'):]
    row = row[:row.index("</tr>")]
    assert '<td class="bad">3</td>' in row and '<td class="warn">4</td>' in row and ">30</a>" in row
    assert "SOLINE-ORDERDETAIL" in html and "UNIT OF MEASURE" in html


def test_admin_edits_a_mapping_and_sees_filter_errors(admin_client: Any, configured: Any) -> None:
    item = IntegrationTableMapping.objects.get(connection=configured, name="ITEM-PRODUCT")
    url = reverse("mappings:mapping-update", args=[item.pk])
    data = {"direction": "Bidirectional", "table_filter": "blockd eq false", "integration_table_filter": "",
            "synch_only_coupled_records": "on", "dependency_filter": "ITEM UOM", "deletion_conflict_resolution": "None",
            "update_conflict_resolution": "None"}
    response = admin_client.post(url, data)
    assert response.status_code == 400
    assert "blockd" in response.content.decode() and "Nothing was saved" in response.content.decode()
    item.refresh_from_db()
    assert item.table_filter == "blocked eq false"
    data["table_filter"] = "blocked eq false and type eq 'Inventory'"
    response = admin_client.post(url, data, follow=True)
    assert "Saved ITEM-PRODUCT" in response.content.decode()
    item.refresh_from_db()
    assert item.table_filter == "blocked eq false and type eq 'Inventory'" and item.integration_table_filter == ""


def test_field_mapping_page_refuses_an_unknown_combination_with_the_reason(admin_client: Any, configured: Any) -> None:
    currency = IntegrationTableMapping.objects.get(connection=configured, name="CURRENCY")
    symbol = currency.field_mappings.get(field_name="Symbol")
    url = reverse("mappings:fieldmapping-update", args=[symbol.pk])
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"field_name": "Symbol", "integration_field_name": "currencysymbol",
                                       "direction": "FromIntegrationTable", "status": "Enabled", "match_priority": 0})
    assert response.status_code == 400 and "would never run" in response.content.decode()


def test_reset_one_mapping_from_its_page(admin_client: Any, configured: Any) -> None:
    item = IntegrationTableMapping.objects.get(connection=configured, name="ITEM-PRODUCT")
    item.field_mappings.filter(integration_field_name="price").delete()
    response = admin_client.post(reverse("mappings:mapping-reset", args=[item.pk]), follow=True)
    assert "Changed: ITEM-PRODUCT" in response.content.decode()
    assert item.field_mappings.filter(integration_field_name="price").exists()


def test_viewers_see_read_only_pages_and_cannot_change(viewer_client: Any, configured: Any) -> None:
    item = IntegrationTableMapping.objects.get(connection=configured, name="ITEM-PRODUCT")
    page = viewer_client.get(reverse("mappings:mapping-detail", args=[item.pk])).content.decode()
    assert "Read-only" in page and reverse("mappings:mapping-update", args=[item.pk]) not in page
    assert viewer_client.post(reverse("mappings:mapping-update", args=[item.pk]),
                              {"direction": "ToIntegrationTable"}).status_code == 403
    assert viewer_client.post(reverse("mappings:configuration-reset", args=[configured.pk])).status_code == 403
    assert viewer_client.post(reverse("mappings:couplings-delete", args=[item.pk])).status_code == 403


def test_integration_administrators_may_change(viewer_client: Any, configured: Any, django_user_model: Any) -> None:
    user = django_user_model.objects.get(username="viewer")
    user.groups.add(Group.objects.get_or_create(name="Integration Administrator")[0])
    response = viewer_client.post(reverse("mappings:configuration-reset", args=[configured.pk]), follow=True)
    assert "already in place" in response.content.decode()


def test_delete_couplings_asks_for_confirmation_first(admin_client: Any, configured: Any) -> None:
    customer = IntegrationTableMapping.objects.get(connection=configured, name="CUSTOMER")
    for _ in range(2):
        Coupling.objects.create(connection=configured, bc_table="Customer", bc_id=uuid.uuid4(),
                                dataverse_table="account", dataverse_id=uuid.uuid4())
    url = reverse("mappings:couplings-delete", args=[customer.pk])
    assert "Delete 2 coupling(s)" in admin_client.get(url).content.decode()
    assert Coupling.objects.count() == 2
    admin_client.post(url)
    assert Coupling.objects.count() == 0


def test_coupled_records_page_shows_ids_and_the_reason_when_names_cannot_be_read(admin_client: Any,
                                                                                 configured: Any) -> None:
    customer = IntegrationTableMapping.objects.get(connection=configured, name="CUSTOMER")
    coupling = Coupling.objects.create(connection=configured, bc_table="Customer", bc_id=uuid.uuid4(),
                                       dataverse_table="account", dataverse_id=uuid.uuid4())
    html = admin_client.get(reverse("mappings:coupling-list", args=[customer.pk])).content.decode()
    assert str(coupling.bc_id) in html and "Names could not be read" in html
    assert f"main.aspx?etn=account&amp;id={coupling.dataverse_id}&amp;pagetype=entityrecord" in html
    response = admin_client.post(reverse("mappings:coupling-delete", args=[coupling.pk]),
                                 {"next": reverse("mappings:coupling-list", args=[customer.pk])})
    assert response.status_code == 302 and not Coupling.objects.exists()


def test_new_mapping_page_offers_the_catalogue(admin_client: Any, configured: Any) -> None:
    url = reverse("mappings:mapping-create")
    page = admin_client.get(url, {"bc_table": "Item", "dataverse_table": "product"}).content.decode()
    assert "Unit Price" in page and "productnumber" in page
    response = admin_client.post(url, {"bc_table": "Item", "dataverse_table": "product", "name": "ITEM-NOTES",
                                       "direction": "ToIntegrationTable", "bc_field_0": "Description",
                                       "dataverse_column_0": "description", "direction_0": "ToIntegrationTable",
                                       **{f"direction_{i}": "Bidirectional" for i in range(1, 8)}})
    assert response.status_code == 302
    assert IntegrationTableMapping.objects.get(name="ITEM-NOTES").field_mappings.count() == 1
