"""The dashboard: connection, job queue entries by status, failures of the last 24 hours, records per hour chart."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.dashboard import records_per_hour


@pytest.fixture
def world(db):
    from connections.models import ConnectionSetup
    from mappings.models import IntegrationTableMapping

    connection = ConnectionSetup.objects.create(name="CRONUS", dataverse_url="https://crm.example.com", is_enabled=True)
    mapping = IntegrationTableMapping.objects.create(connection=connection, name="ITEM-PRODUCT", table="Item",
                                                     integration_table="product")
    return connection, mapping


def _add(world, n: int) -> None:
    from syncjobs.models import JobQueueEntry, JobQueueLogEntry, SynchronizationJob

    connection, mapping = world
    for i in range(n):
        entry = JobQueueEntry.objects.create(connection=connection, table_mapping=mapping, description=f"entry {i}",
                                             status=JobQueueEntry.Status.ERROR if i % 2 else JobQueueEntry.Status.READY)
        JobQueueLogEntry.objects.create(job_queue_entry=entry, started_at=timezone.now(),
                                        status=JobQueueLogEntry.Status.ERROR, error_message=f"run {i} interrupted")
        SynchronizationJob.objects.create(table_mapping=mapping, direction="ToIntegrationTable", inserted=5, failed=1)


def test_dashboard_shows_entries_by_status_failures_and_the_chart(admin_client, world):
    _add(world, 2)
    page = admin_client.get(reverse("portal:dashboard")).content.decode()
    assert "CRONUS" in page and "enabled" in page
    assert "Ready: <strong>1</strong>" in page and "Error: <strong>1</strong>" in page
    assert "run 1 interrupted" in page
    assert "1 record failed" in page
    from syncjobs.models import JobQueueEntry

    entry = JobQueueEntry.objects.get(description="entry 1")
    assert reverse("syncjobs:jobqueueentry-log", args=[entry.pk]) in page
    assert "<svg" in page and "<rect" in page and "10 records in all" in page


def test_dashboard_needs_a_fixed_number_of_queries(admin_client, world, django_assert_max_num_queries):
    _add(world, 1)
    with django_assert_max_num_queries(12) as small:
        admin_client.get(reverse("portal:dashboard"))
    _add(world, 15)
    with django_assert_max_num_queries(len(small.captured_queries)):
        admin_client.get(reverse("portal:dashboard"))


def test_records_per_hour_covers_seven_days_oldest_first(world):
    from syncjobs.models import SynchronizationJob

    _, mapping = world
    now = timezone.now()
    job = SynchronizationJob.objects.create(table_mapping=mapping, direction="ToIntegrationTable", inserted=7,
                                            modified=2, unchanged=50)
    SynchronizationJob.objects.filter(pk=job.pk).update(started_at=now - timedelta(hours=3))
    old = SynchronizationJob.objects.create(table_mapping=mapping, direction="ToIntegrationTable", inserted=100)
    SynchronizationJob.objects.filter(pk=old.pk).update(started_at=now - timedelta(days=8))

    series = records_per_hour(now=now)

    assert len(series) == 7 * 24
    assert series[0]["hour"] < series[-1]["hour"]
    assert sum(point["records"] for point in series) == 9
    assert series[-4]["records"] == 9
