"""The synchronization job log and the Coupled Data Synchronization Errors page (BC: table 5338 Integration Synch.
Job, page "CRM Skipped Records")."""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from mappings.models import Coupling, Direction, IntegrationTableMapping
from syncjobs.models import SynchronizationError, SynchronizationJob


@pytest.fixture
def world(db: Any) -> dict[str, Any]:
    """A connection with the CUSTOMER mapping, one finished job with an error on a skipped coupling, one clean job."""
    from connections.models import ConnectionSetup

    connection = ConnectionSetup.objects.create(
        name="Log world", is_enabled=True, dataverse_url="https://contoso.crm.dynamics.com",
        bc_web_client_url="https://businesscentral.dynamics.com/contoso/Production", bc_company_name="CRONUS",
    )
    customer = IntegrationTableMapping.objects.create(connection=connection, name="CUSTOMER", table="Customer",
                                                      integration_table="account",
                                                      direction=Direction.BIDIRECTIONAL)
    item = IntegrationTableMapping.objects.create(connection=connection, name="ITEM-PRODUCT", table="Item",
                                                  integration_table="product")
    now = timezone.now()
    failed = SynchronizationJob.objects.create(table_mapping=customer, direction=Direction.TO_INTEGRATION_TABLE,
                                               finished_at=now, inserted=3, failed=1, processed=4,
                                               message="3 inserted, 1 failed")
    clean = SynchronizationJob.objects.create(table_mapping=item, direction=Direction.TO_INTEGRATION_TABLE,
                                              finished_at=now, modified=7, processed=7, message="7 modified")
    coupling = Coupling.objects.create(connection=connection, bc_table="Customer", bc_id=uuid.uuid4(),
                                       dataverse_table="account", dataverse_id=uuid.uuid4(), skipped=True,
                                       failure_count=2, last_synch_crm_result=Coupling.Result.FAILURE,
                                       last_synch_crm_job_id=failed.pk)
    error = SynchronizationError.objects.create(
        job=failed, coupling=coupling, direction=Direction.TO_INTEGRATION_TABLE, source_table="Customer",
        source_id=str(coupling.bc_id), source_name="Customer 10000", destination_table="account",
        destination_id=str(coupling.dataverse_id), field_name="Salesperson Code",
        message="Customer 10000: salesperson JO (field Salesperson Code) is not coupled to a Dataverse user",
        fix="couple it under Couple Salespersons; then retry this record",
        exception_detail="Traceback (most recent call last): frame-of-the-engine",
    )
    return {"connection": connection, "customer": customer, "item": item, "failed": failed, "clean": clean,
            "coupling": coupling, "error": error}


def test_log_lists_passes_with_counters_and_rate(admin_client: Any, world: dict[str, Any]) -> None:
    response = admin_client.get(reverse("syncjobs:synchronizationjob-list"))
    content = response.content.decode()
    assert response.status_code == 200
    assert "CUSTOMER" in content and "ITEM-PRODUCT" in content
    assert "3 inserted, 1 failed" in content and "7 modified" in content


def test_log_filters_by_mapping_and_result(admin_client: Any, world: dict[str, Any]) -> None:
    url = reverse("syncjobs:synchronizationjob-list")
    by_mapping = admin_client.get(url, {"mapping": "ITEM-PRODUCT"}).content.decode()
    assert "7 modified" in by_mapping and "3 inserted, 1 failed" not in by_mapping
    failed = admin_client.get(url, {"result": "failed"}).content.decode()
    assert "3 inserted, 1 failed" in failed and "7 modified" not in failed
    success = admin_client.get(url, {"result": "success"}).content.decode()
    assert "7 modified" in success and "3 inserted, 1 failed" not in success


def test_log_filters_by_date(admin_client: Any, world: dict[str, Any]) -> None:
    old = world["clean"]
    SynchronizationJob.objects.filter(pk=old.pk).update(started_at=timezone.now() - timedelta(days=10))
    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    content = admin_client.get(reverse("syncjobs:synchronizationjob-list"), {"date_from": since}).content.decode()
    assert "3 inserted, 1 failed" in content and "7 modified" not in content


def test_job_detail_shows_error_with_links_fix_and_call_stack(admin_client: Any, world: dict[str, Any]) -> None:
    response = admin_client.get(reverse("syncjobs:synchronizationjob-detail", args=[world["failed"].pk]))
    content = response.content.decode()
    coupling = world["coupling"]
    assert "salesperson JO" in content and "couple it under Couple Salespersons" in content
    assert "<details><summary>Call stack</summary>" in content and "frame-of-the-engine" in content
    assert f"id={coupling.dataverse_id}" in content and "etn=account" in content
    assert "businesscentral.dynamics.com/contoso/Production" in content and "page=21" in content


def test_delete_entries_older_than_keeps_failed_jobs_of_skipped_records(admin_client: Any,
                                                                       world: dict[str, Any]) -> None:
    old = timezone.now() - timedelta(days=30)
    SynchronizationJob.objects.update(started_at=old)
    response = admin_client.post(reverse("syncjobs:synchronizationjob-delete-old"), {"days": "7"}, follow=True)
    assert "Deleted 1 synchronization job log entry older than 7 days." in response.content.decode()
    assert list(SynchronizationJob.objects.all()) == [world["failed"]]
    Coupling.objects.update(skipped=False)
    admin_client.post(reverse("syncjobs:synchronizationjob-delete-old"), {"days": "7"})
    assert not SynchronizationJob.objects.exists() and not SynchronizationError.objects.exists()


def test_skipped_records_page_lists_error_and_fix(admin_client: Any, world: dict[str, Any]) -> None:
    content = admin_client.get(reverse("syncjobs:skippedrecord-list")).content.decode()
    assert "Customer 10000" in content and "couple it under Couple Salespersons" in content
    assert 'value="retry_all"' in content


def test_retry_asks_for_confirmation_then_unskips(admin_client: Any, world: dict[str, Any]) -> None:
    coupling = world["coupling"]
    url = reverse("syncjobs:skippedrecord-action")
    confirm = admin_client.post(url, {"action": "retry", "coupling": [coupling.pk]})
    assert confirm.status_code == 200 and "Retry?" in confirm.content.decode()
    coupling.refresh_from_db()
    assert coupling.skipped
    done = admin_client.post(url, {"action": "retry", "coupling": [coupling.pk], "confirmed": "1"}, follow=True)
    coupling.refresh_from_db()
    assert not coupling.skipped and coupling.failure_count == 0
    assert "1 record(s) will be synchronized again by the next run." in done.content.decode()


def test_retry_all_unskips_every_skipped_record(admin_client: Any, world: dict[str, Any]) -> None:
    other = Coupling.objects.create(connection=world["connection"], bc_table="Item", bc_id=uuid.uuid4(),
                                    dataverse_table="product", dataverse_id=uuid.uuid4(), skipped=True)
    admin_client.post(reverse("syncjobs:skippedrecord-action"), {"action": "retry_all", "confirmed": "1"})
    assert not Coupling.objects.filter(pk__in=[other.pk, world["coupling"].pk], skipped=True).exists()


def test_remove_coupling_deletes_it_after_confirmation(admin_client: Any, world: dict[str, Any]) -> None:
    coupling = Coupling.objects.create(connection=world["connection"], bc_table="Item", bc_id=uuid.uuid4(),
                                       dataverse_table="product", dataverse_id=uuid.uuid4(), skipped=True)
    response = admin_client.post(reverse("syncjobs:skippedrecord-action"),
                                 {"action": "remove_coupling", "coupling": [coupling.pk], "confirmed": "1"},
                                 follow=True)
    assert not Coupling.objects.filter(pk=coupling.pk).exists()
    assert "1 record(s) uncoupled." in response.content.decode()


def test_restore_and_delete_records_are_refused_without_deletion_conflict(admin_client: Any,
                                                                         world: dict[str, Any]) -> None:
    coupling = world["coupling"]
    for action in ("restore", "delete_records"):
        response = admin_client.post(reverse("syncjobs:skippedrecord-action"),
                                     {"action": action, "coupling": [coupling.pk], "confirmed": "1"}, follow=True)
        assert "has no deletion conflict" in response.content.decode()
    assert Coupling.objects.filter(pk=coupling.pk, is_pending=False).exists()


def test_synchronize_and_restore_enqueue_on_the_sync_queue(admin_client: Any, world: dict[str, Any],
                                                           sync_queue: Any,
                                                           django_capture_on_commit_callbacks: Any) -> None:
    coupling = world["coupling"]
    SynchronizationError.objects.filter(pk=world["error"].pk).update(conflict=SynchronizationError.Conflict.DELETION)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("syncjobs:skippedrecord-action"),
                          {"action": "synchronize_from", "coupling": [coupling.pk], "confirmed": "1"})
        response = admin_client.post(reverse("syncjobs:skippedrecord-action"),
                                     {"action": "restore", "coupling": [coupling.pk], "confirmed": "1"}, follow=True)
    assert "1 record(s) queued to restore the deleted record." in response.content.decode()
    jobs = [sync_queue.fetch_job(job_id) for job_id in sync_queue.job_ids]
    assert [(job.func_name, job.args) for job in jobs] == [
        ("syncjobs.tasks_engine.synchronize_coupling", (coupling.pk, Direction.FROM_INTEGRATION_TABLE)),
        ("syncjobs.tasks_engine.synchronize_coupling", (coupling.pk, Direction.TO_INTEGRATION_TABLE)),
    ]
    coupling.refresh_from_db()
    assert coupling.is_pending and not coupling.skipped


def test_coupling_synchronize_now_enqueues_the_chosen_direction(admin_client: Any, world: dict[str, Any],
                                                               sync_queue: Any,
                                                               django_capture_on_commit_callbacks: Any) -> None:
    coupling = world["coupling"]
    url = reverse("syncjobs:coupling-synchronize", args=[coupling.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"direction": Direction.TO_INTEGRATION_TABLE, "next": "/mappings/"})
    assert response.status_code == 302 and response["Location"] == "/mappings/"
    job = sync_queue.fetch_job(sync_queue.job_ids[0])
    assert job.args == (coupling.pk, Direction.TO_INTEGRATION_TABLE)
    refused = admin_client.post(url, {"direction": "sideways"}, follow=True)
    assert "can only synchronize" in refused.content.decode() and len(sync_queue.job_ids) == 1


def test_one_way_mapping_refuses_the_other_direction(admin_client: Any, world: dict[str, Any],
                                                     sync_queue: Any) -> None:
    world["customer"].direction = Direction.TO_INTEGRATION_TABLE
    world["customer"].save(update_fields=["direction"])
    response = admin_client.post(reverse("syncjobs:coupling-synchronize", args=[world["coupling"].pk]),
                                 {"direction": Direction.FROM_INTEGRATION_TABLE}, follow=True)
    assert "can only synchronize" in response.content.decode() and sync_queue.job_ids == []


def test_viewers_cannot_change_anything(client: Any, django_user_model: Any, world: dict[str, Any]) -> None:
    viewer = django_user_model.objects.create_user("viewer", "viewer@example.com", "viewer-password-123")
    client.force_login(viewer)
    assert client.get(reverse("syncjobs:skippedrecord-list")).status_code == 200
    response = client.post(reverse("syncjobs:skippedrecord-action"),
                           {"action": "remove_coupling", "coupling": [world["coupling"].pk], "confirmed": "1"})
    assert response.status_code == 403
    assert Coupling.objects.filter(pk=world["coupling"].pk).exists()


def test_list_pages_run_a_fixed_number_of_queries(admin_client: Any, world: dict[str, Any]) -> None:
    def add_rows(count: int) -> None:
        for n in range(count):
            job = SynchronizationJob.objects.create(table_mapping=world["item"],
                                                    direction=Direction.TO_INTEGRATION_TABLE,
                                                    finished_at=timezone.now(), failed=1)
            coupling = Coupling.objects.create(connection=world["connection"], bc_table="Item", bc_id=uuid.uuid4(),
                                               dataverse_table="product", dataverse_id=uuid.uuid4(), skipped=True)
            SynchronizationError.objects.create(job=job, coupling=coupling, message=f"Item {n} failed")

    counts = []
    for extra in (1, 20):
        add_rows(extra)
        for name in ("syncjobs:synchronizationjob-list", "syncjobs:skippedrecord-list"):
            with CaptureQueriesContext(connection) as queries:
                assert admin_client.get(reverse(name)).status_code == 200
            counts.append((name, len(queries)))
    assert counts[:2] == counts[2:]
