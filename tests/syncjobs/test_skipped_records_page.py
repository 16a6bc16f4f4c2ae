"""The Coupled Data Synchronization Errors page: filters by mapping and error text, the group-by-error view with its
counts and "Retry all N in this group", record names on the page and on the confirmation (BC: page 5333 "CRM Skipped
Records"; the filters and the grouping are the portal's own)."""
from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from mappings.models import Coupling, Direction, IntegrationTableMapping
from syncjobs.models import SynchronizationError, SynchronizationJob
from syncjobs.skipped_records import RECORD_PLACEHOLDER, skipped_record_groups, skipped_records_annotated

pytestmark = pytest.mark.django_db

SALESPERSON = "{name}: salesperson JO (field Salesperson Code) is not coupled to a Dataverse user"
CURRENCY = "{name}: currency GBP (field Currency Code) is not coupled to a Dataverse transactioncurrency"


@pytest.fixture
def world(db: Any) -> dict[str, Any]:
    """Three customers failing for a salesperson, one for a currency, two items for a unit; names on the couplings."""
    from connections.models import ConnectionSetup

    connection = ConnectionSetup.objects.create(name="Skipped world", is_enabled=True)
    customer = IntegrationTableMapping.objects.create(connection=connection, name="CUSTOMER", table="Customer",
                                                      integration_table="account")
    item = IntegrationTableMapping.objects.create(connection=connection, name="ITEM-PRODUCT", table="Item",
                                                  integration_table="product")
    jobs = {m.pk: SynchronizationJob.objects.create(table_mapping=m, direction=Direction.TO_INTEGRATION_TABLE,
                                                    finished_at=timezone.now()) for m in (customer, item)}
    made: dict[str, Coupling] = {}

    def fail(mapping: IntegrationTableMapping, name: str, template: str, *, skipped: bool = True) -> None:
        coupling = Coupling.objects.create(
            connection=connection, bc_table=mapping.table, bc_id=uuid.uuid4(),
            dataverse_table=mapping.integration_table, dataverse_id=uuid.uuid4(), skipped=skipped, failure_count=2,
            bc_name=name, dataverse_name=f"{name} (Sales)", last_synch_crm_result=Coupling.Result.FAILURE)
        label = f"{mapping.table} {name}"
        SynchronizationError.objects.create(
            job=jobs[mapping.pk], coupling=coupling, direction=Direction.TO_INTEGRATION_TABLE,
            source_table=mapping.table, source_id=str(coupling.bc_id), source_name=label,
            message=template.format(name=label), fix="couple it, then retry")
        made[name] = coupling

    for name in ("Adatum", "Trey Research", "O'Neil & Sons"):
        fail(customer, name, SALESPERSON)
    fail(customer, "Fabrikam", CURRENCY, skipped=False)
    for name in ("1000", "1001"):
        fail(item, name, "{name}: unit PCS is not coupled to a Dataverse unit")
    return {"customer": customer, "item": item, "couplings": made}


def test_groups_count_records_by_error_with_the_record_name_left_out(world: dict[str, Any]) -> None:
    groups = skipped_record_groups(skipped_records_annotated())
    assert [(g.message, g.count) for g in groups] == [
        (SALESPERSON.format(name=RECORD_PLACEHOLDER), 3),
        (f"{RECORD_PLACEHOLDER}: unit PCS is not coupled to a Dataverse unit", 2),
        (CURRENCY.format(name=RECORD_PLACEHOLDER), 1),
    ]
    only_customers = skipped_record_groups(skipped_records_annotated(mapping=world["customer"]))
    assert sorted(g.count for g in only_customers) == [1, 3]


def test_filter_by_mapping_and_by_error_text(admin_client: Any, world: dict[str, Any]) -> None:
    url = reverse("syncjobs:skippedrecord-list")
    everything = admin_client.get(url).content.decode()
    assert all(escape(name) in everything for name in world["couplings"])
    items = admin_client.get(url, {"mapping": world["item"].pk}).content.decode()
    assert "1000" in items and "1001" in items and "Adatum" not in items and "2 record(s) match" in items
    currency = admin_client.get(url, {"error": "CURRENCY gbp"}).content.decode()
    assert "Fabrikam" in currency and "Adatum" not in currency and "1 record(s) match" in currency
    nothing = admin_client.get(url, {"error": "no such error"}).content.decode()
    assert "No skipped or failed records match the filters." in nothing
    bad = admin_client.get(url, {"mapping": "not-a-mapping"})
    assert bad.status_code == 200 and "is not a valid UUID" in bad.content.decode()
    assert "the filters were not applied" in bad.content.decode()


def test_group_by_error_view_offers_retry_of_a_whole_group(admin_client: Any, world: dict[str, Any]) -> None:
    url = reverse("syncjobs:skippedrecord-list")
    with CaptureQueriesContext(db_connection) as queries:
        html = admin_client.get(url, {"view": "groups"}).content.decode()
    assert len(queries) < 15  # one GROUP BY, however many records
    assert "Retry all 3 in this group" in html and "Retry all 2 in this group" in html
    assert "Restore all 1 in this group" in html
    action = reverse("syncjobs:skippedrecord-action")
    group = SALESPERSON.format(name=RECORD_PLACEHOLDER)
    confirm = admin_client.post(action, {"action": "retry", "group": group}).content.decode()
    assert "Retry for these 3 record(s):" in confirm
    assert "Adatum" in confirm and "Trey Research" in confirm and "O&#x27;Neil &amp; Sons" in confirm
    assert "Fabrikam" not in confirm and f'name="group" value="{group}"' in confirm
    response = admin_client.post(action, {"action": "retry", "group": group, "confirmed": "1"}, follow=True)
    assert "3 record(s) will be synchronized again by the next run." in response.content.decode()
    still = {c.bc_name for c in Coupling.objects.filter(skipped=True)}
    assert still == {"1000", "1001"}


def test_a_group_within_a_mapping_filter_changes_only_that_mapping(admin_client: Any, world: dict[str, Any]) -> None:
    action = reverse("syncjobs:skippedrecord-action")
    group = f"{RECORD_PLACEHOLDER}: unit PCS is not coupled to a Dataverse unit"
    confirm = admin_client.post(action, {"action": "retry", "group": group,
                                         "mapping": world["customer"].pk}).content.decode()
    assert "Select the records for Retry first." in admin_client.post(
        action, {"action": "retry", "group": group, "mapping": world["customer"].pk}, follow=True).content.decode()
    assert "Retry for these" not in confirm
    bad = admin_client.post(action, {"action": "retry", "group": group, "mapping": "not-a-mapping", "confirmed": "1"})
    assert bad.status_code == 302 and Coupling.objects.filter(skipped=True).count() == 5  # nothing, not every mapping
    admin_client.post(action, {"action": "retry", "group": group, "mapping": world["item"].pk, "confirmed": "1"})
    assert not Coupling.objects.filter(bc_table="Item", skipped=True).exists()
    assert Coupling.objects.filter(bc_table="Customer", skipped=True).count() == 3


def test_the_page_lists_names_with_ids_and_a_select_all_box(admin_client: Any, world: dict[str, Any]) -> None:
    html = admin_client.get(reverse("syncjobs:skippedrecord-list")).content.decode()
    adatum = world["couplings"]["Adatum"]
    assert f'Adatum<small class="record-id">{adatum.bc_id}</small>' in html
    assert f'Adatum (Sales)<small class="record-id">account {adatum.dataverse_id}</small>' in html
    assert 'data-select-all="coupling"' in html and "portal/select_all.js" in html


def test_viewers_see_groups_without_actions(client: Any, django_user_model: Any, world: dict[str, Any]) -> None:
    client.force_login(django_user_model.objects.create_user("viewer", "v@example.com", "pw-viewer-123"))
    html = client.get(reverse("syncjobs:skippedrecord-list"), {"view": "groups"}).content.decode()
    assert ">3</td>" in html and "Retry all" not in html
    assert client.post(reverse("syncjobs:skippedrecord-action"),
                       {"action": "retry", "group": ""}).status_code == 403
