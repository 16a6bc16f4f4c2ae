"""List pages of the syncjobs app at scale: keyset pages of the synchronization log and of the Coupled Data
Synchronization Errors (every row once, in order, ties on the sort key included, filters kept across pages), the
bounded record count, and a number of SQL queries per page that does not grow with the rows."""
from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mappings.models import Coupling, Direction, IntegrationTableMapping
from syncjobs.models import SynchronizationError, SynchronizationJob

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NEXT = re.compile(r'<a rel="next" href="([^"]*)"')
PREVIOUS = re.compile(r'<a rel="prev" href="([^"]*)"')
JOB_LINK = re.compile(r'href="/[^"]*/log/([0-9a-f-]{36})/"')
COUPLING_BOX = re.compile(r'name="coupling" value="(\d+)"')


@pytest.fixture
def world(db: Any) -> dict[str, Any]:
    from connections.models import ConnectionSetup

    connection = ConnectionSetup.objects.create(name="Log world", is_enabled=True)
    customer = IntegrationTableMapping.objects.create(connection=connection, name="CUSTOMER", table="Customer",
                                                      integration_table="account")
    item = IntegrationTableMapping.objects.create(connection=connection, name="ITEM-PRODUCT", table="Item",
                                                  integration_table="product", priority=1)
    return {"connection": connection, "customer": customer, "item": item}


def walk(client: Any, url: str, pattern: re.Pattern[str], row: re.Pattern[str]) -> tuple[list[list[str]], str]:
    """Follow the page's own links from ``url`` until there is none; the row keys of each page, the last URL."""
    pages: list[list[str]] = []
    while True:
        response = client.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        pages.append(row.findall(html))
        link = pattern.search(html)
        if not link:
            return pages, url
        url = url.split("?")[0] + unescape(link.group(1))
        assert len(pages) < 100


def jobs(mapping: IntegrationTableMapping, n: int, *, failed: int = 0) -> list[SynchronizationJob]:
    made = SynchronizationJob.objects.bulk_create(SynchronizationJob(
        table_mapping=mapping, direction=Direction.TO_INTEGRATION_TABLE, failed=failed,
        finished_at=T0 + timedelta(hours=1)) for _ in range(n))
    for i, job in enumerate(made):
        job.started_at = T0 + timedelta(minutes=i // 10)  # ten jobs on each minute: ties broken by id
    SynchronizationJob.objects.bulk_update(made, ["started_at"])
    return made


def test_synchronization_log_pages_list_every_job_once_newest_first(admin_client: Any,
                                                                    world: dict[str, Any]) -> None:
    made = jobs(world["customer"], 130)
    expected = [str(j.pk) for j in sorted(made, key=lambda j: (j.started_at, j.pk), reverse=True)]
    pages, last = walk(admin_client, reverse("syncjobs:synchronizationjob-list"), NEXT, JOB_LINK)
    assert [len(p) for p in pages] == [50, 50, 30]
    assert sum(pages, []) == expected
    back, _ = walk(admin_client, last, PREVIOUS, JOB_LINK)
    assert back == pages[::-1]


def test_synchronization_log_filters_stay_on_the_next_pages(admin_client: Any, world: dict[str, Any]) -> None:
    failing = jobs(world["customer"], 60, failed=1)
    jobs(world["customer"], 40)
    jobs(world["item"], 30, failed=2)
    url = reverse("syncjobs:synchronizationjob-list") + "?mapping=customer&result=failed"
    pages, _ = walk(admin_client, url, NEXT, JOB_LINK)
    assert [len(p) for p in pages] == [50, 10]
    assert sorted(sum(pages, [])) == sorted(str(j.pk) for j in failing)


def skipped(mapping: IntegrationTableMapping, n: int, *, is_skipped: bool = True) -> list[Coupling]:
    return Coupling.objects.bulk_create(Coupling(
        connection=mapping.connection, bc_table=mapping.table, bc_id=uuid.uuid4(),
        dataverse_table=mapping.coupling_dataverse_table, dataverse_id=uuid.uuid4(), skipped=is_skipped,
        last_synch_result=Coupling.Result.FAILURE, bc_name=f"Record {i}") for i in range(n))


def test_skipped_records_pages_list_every_record_once_skipped_first(admin_client: Any,
                                                                    world: dict[str, Any]) -> None:
    customers, items = skipped(world["customer"], 90), skipped(world["item"], 60)
    failed_only = skipped(world["customer"], 30, is_skipped=False)  # last run failed, not skipped yet
    Coupling.objects.bulk_create([Coupling(connection=world["connection"], bc_table="Customer", bc_id=uuid.uuid4(),
                                           dataverse_table="account", dataverse_id=uuid.uuid4())])  # healthy
    expected = ([str(c.pk) for c in sorted(customers + items, key=lambda c: (c.bc_table, c.pk))]
                + [str(c.pk) for c in sorted(failed_only, key=lambda c: c.pk)])
    from syncjobs.views_log import SKIPPED_PER_PAGE

    pages, last = walk(admin_client, reverse("syncjobs:skippedrecord-list"), NEXT, COUPLING_BOX)
    assert [len(p) for p in pages] == [SKIPPED_PER_PAGE] * (180 // SKIPPED_PER_PAGE) + [180 % SKIPPED_PER_PAGE]
    assert sum(pages, []) == expected
    back, _ = walk(admin_client, last, PREVIOUS, COUPLING_BOX)
    assert back == pages[::-1]
    first = admin_client.get(reverse("syncjobs:skippedrecord-list")).content.decode()
    assert "180 record(s)." in first


def test_skipped_records_count_stops_at_its_limit(admin_client: Any, world: dict[str, Any]) -> None:
    from syncjobs.views_log import SKIPPED_COUNT_LIMIT

    skipped(world["customer"], SKIPPED_COUNT_LIMIT + 5)
    html = admin_client.get(reverse("syncjobs:skippedrecord-list")).content.decode()
    assert f"More than {SKIPPED_COUNT_LIMIT} record(s)." in html


def page_queries(client: Any, urls: list[str]) -> list[int]:
    """The queries of each URL and of the page its Next link leads to."""
    found = []
    for url in urls:
        with CaptureQueriesContext(db_connection) as first:
            response = client.get(url)
        assert response.status_code == 200
        found.append(len(first.captured_queries))
        link = NEXT.search(response.content.decode())
        if link:
            with CaptureQueriesContext(db_connection) as following:
                assert client.get(url.split("?")[0] + unescape(link.group(1))).status_code == 200
            found.append(len(following.captured_queries))
    return found


def test_log_pages_run_a_bounded_number_of_queries_whatever_the_rows(admin_client: Any,
                                                                     world: dict[str, Any]) -> None:
    customer = world["customer"]

    def grow(n: int) -> None:
        made = jobs(customer, n, failed=1)
        couplings = skipped(customer, n)
        SynchronizationError.objects.bulk_create(SynchronizationError(
            job=made[0], coupling=c, message=f"Customer {c.bc_name}: failed", source_name=c.bc_name or "")
            for c in couplings)

    urls = [reverse("syncjobs:synchronizationjob-list"), reverse("syncjobs:skippedrecord-list"),
            reverse("syncjobs:skippedrecord-list") + f"?mapping={customer.pk}&error=failed",
            reverse("syncjobs:jobqueueentry-list")]
    grow(120)
    small = page_queries(admin_client, urls)
    grow(600)
    large = page_queries(admin_client, urls)
    assert small == large and max(large) <= 10, (small, large)


def test_job_queue_entry_runs_page_in_keyset_pages(admin_client: Any, world: dict[str, Any]) -> None:
    from syncjobs.models import JobQueueEntry, JobQueueLogEntry
    from syncjobs.views import RUNS_PER_PAGE

    entry = JobQueueEntry.objects.create(connection=world["connection"], table_mapping=world["customer"],
                                         description="CUSTOMER")
    runs = JobQueueLogEntry.objects.bulk_create(JobQueueLogEntry(
        job_queue_entry=entry, started_at=T0 + timedelta(minutes=i // 4), worker_name=f"worker-{i:03d}")
        for i in range(RUNS_PER_PAGE * 2 + 7))
    expected = [r.worker_name for r in sorted(runs, key=lambda r: (r.started_at, r.pk), reverse=True)]
    pages, last = walk(admin_client, reverse("syncjobs:jobqueueentry-log", args=[entry.pk]), NEXT,
                       re.compile(r"<td>(worker-\d{3})</td>"))
    assert [len(p) for p in pages] == [RUNS_PER_PAGE, RUNS_PER_PAGE, 7]
    assert sum(pages, []) == expected
    back, _ = walk(admin_client, last, PREVIOUS, re.compile(r"<td>(worker-\d{3})</td>"))
    assert back == pages[::-1]


def test_audit_trail_pages_list_every_entry_once_newest_first(admin_client: Any, world: dict[str, Any]) -> None:
    from auditlog.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    from portal.audit_trail import PAGE_SIZE

    LogEntry.objects.all().delete()
    kind = ContentType.objects.get_for_model(IntegrationTableMapping)
    LogEntry.objects.bulk_create(LogEntry(
        content_type=kind, object_pk=str(world["customer"].pk), object_repr=f"MAPPING-{i:03d}",
        action=LogEntry.Action.UPDATE, changes={}, timestamp=T0 + timedelta(minutes=i // 3)) for i in range(
        PAGE_SIZE + 13))
    made = list(LogEntry.objects.all())
    expected = [e.object_repr for e in sorted(made, key=lambda e: (e.timestamp, e.pk), reverse=True)]
    pages, _ = walk(admin_client, reverse("portal:audit-log"), NEXT, re.compile(r"(MAPPING-\d{3})"))
    assert [len(p) for p in pages] == [PAGE_SIZE, 13]
    assert sum(pages, []) == expected
    damaged = admin_client.get(reverse("portal:audit-log") + "?after=not-a-cursor")
    assert damaged.status_code == 200 and "The page link is damaged" in damaged.content.decode()
