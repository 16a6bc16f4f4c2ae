"""List pages of the mappings app at scale: keyset pages of coupled records and of the coupling log (every row
once, in order, ties on the sort key included), the coupling counters kept by triggers, and a number of SQL
queries per page that does not grow with the rows."""
from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
from django.http import QueryDict
from django.urls import reverse

from base.keyset import keyset_page
from mappings.models import Coupling, CouplingCount, CouplingLogEntry, Direction, IntegrationTableMapping
from syncjobs.models import MappingErrorCount, SynchronizationJob

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NEXT = re.compile(r'<a rel="next" href="([^"]*)"')
PREVIOUS = re.compile(r'<a rel="prev" href="([^"]*)"')


@pytest.fixture
def world(db: Any) -> dict[str, Any]:
    from connections.models import ConnectionSetup

    connection = ConnectionSetup.objects.create(name="List world", is_enabled=True)
    customer = IntegrationTableMapping.objects.create(connection=connection, name="CUSTOMER", table="Customer",
                                                      integration_table="account")
    item = IntegrationTableMapping.objects.create(connection=connection, name="ITEM-PRODUCT", table="Item",
                                                  integration_table="product", priority=1)
    return {"connection": connection, "customer": customer, "item": item}


def couple(mapping: IntegrationTableMapping, n: int, *, skipped: bool = False, at: datetime = T0) -> list[Coupling]:
    return Coupling.objects.bulk_create(Coupling(
        connection=mapping.connection, bc_table=mapping.table, bc_id=uuid.uuid4(),
        dataverse_table=mapping.coupling_dataverse_table, dataverse_id=uuid.uuid4(), skipped=skipped,
        bc_name=f"Record {i}") for i in range(n))


def counts(mapping: IntegrationTableMapping) -> tuple[int, int]:
    row = CouplingCount.objects.filter(connection=mapping.connection, bc_table=mapping.table,
                                       dataverse_table=mapping.coupling_dataverse_table).first()
    return (row.total, row.skipped) if row else (0, 0)


@pytest.fixture
def viewer_client(client: Any, django_user_model: Any) -> Any:
    """Signed in without the Integration Administrator role (the coupled records page then reads no names
    remotely)."""
    client.force_login(django_user_model.objects.create_user("viewer", "viewer@example.com", "viewer-password-1"))
    return client


def walk(client: Any, url: str, pattern: re.Pattern[str], row: re.Pattern[str]) -> tuple[list[list[str]], str]:
    """Follow the page's own links from ``url`` until there is none; returns the row keys of each page and the
    URL of the last page."""
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


RECORD_ID = re.compile(r'<small class="record-id">([0-9a-f-]{36})</small>(?:</a>)?</td>\s*<td class="record">')


def test_coupled_records_pages_list_every_coupling_once_newest_first_with_ties(viewer_client: Any,
                                                                              world: dict[str, Any]) -> None:
    customer = world["customer"]
    made = couple(customer, 120)
    # 60 couplings share one created_at (a bulk coupling), the rest one each: ties are broken by id.
    for i, coupling in enumerate(made):
        coupling.created_at = T0 if i < 60 else T0 + timedelta(minutes=i)
    Coupling.objects.bulk_update(made, ["created_at"])
    couple(world["item"], 10)  # another mapping's couplings never show
    expected = [str(c.bc_id) for c in sorted(made, key=lambda c: (c.created_at, c.pk), reverse=True)]
    pages, last = walk(viewer_client, reverse("mappings:coupling-list", args=[customer.pk]), NEXT, RECORD_ID)
    assert [len(p) for p in pages] == [50, 50, 20]
    assert sum(pages, []) == expected
    # And back: the Previous links from the last page lead through the same pages.
    back, first = walk(viewer_client, last, PREVIOUS, RECORD_ID)
    assert back == pages[::-1] and "after=" not in first and "before=" in first


def test_keyset_page_reads_each_row_once_in_both_directions_with_ties(world: dict[str, Any]) -> None:
    made = couple(world["customer"], 23)
    for i, coupling in enumerate(made):
        coupling.created_at = T0 + timedelta(minutes=i % 3)  # many ties
    Coupling.objects.bulk_update(made, ["created_at"])
    queryset = Coupling.objects.all()
    order = ("-created_at", "-id")
    expected = [c.pk for c in sorted(made, key=lambda c: (c.created_at, c.pk), reverse=True)]
    forward: list[int] = []
    query = QueryDict(mutable=True)
    while True:
        page = keyset_page(queryset, order, query, size=5)
        forward += [c.pk for c in page]
        if not page.next_query:
            break
        query = QueryDict(page.next_query)
    assert forward == expected
    backward: list[int] = []
    while True:
        backward = [c.pk for c in page] + backward
        if not page.previous_query:
            break
        page = keyset_page(queryset, order, QueryDict(page.previous_query), size=5)
    assert backward == expected


def test_a_damaged_cursor_shows_the_first_page_with_a_message(viewer_client: Any, world: dict[str, Any]) -> None:
    couple(world["customer"], 3)
    response = viewer_client.get(reverse("mappings:coupling-list", args=[world["customer"].pk]) + "?after=%%%zz")
    assert response.status_code == 200
    assert "The page link is damaged; the first page is shown." in response.content.decode()
    assert response.content.decode().count('class="record-id"') == 6  # 3 couplings, both sides


def test_counters_follow_create_skip_and_delete_on_every_write_path(world: dict[str, Any]) -> None:
    customer, item = world["customer"], world["item"]
    single = Coupling.objects.create(connection=customer.connection, bc_table="Customer", bc_id=uuid.uuid4(),
                                     dataverse_table="account", dataverse_id=uuid.uuid4())
    couple(customer, 4)
    couple(item, 2, skipped=True)
    assert counts(customer) == (5, 0) and counts(item) == (2, 2)
    Coupling.objects.filter(bc_table="Customer").exclude(pk=single.pk).update(skipped=True)  # QuerySet.update
    single.skipped = True
    single.save()  # Model.save
    assert counts(customer) == (5, 5)
    single.save()  # saving again without a change changes nothing
    Coupling.objects.filter(bc_table="Item").update(skipped=False)
    assert counts(customer) == (5, 5) and counts(item) == (2, 0)
    single.delete()
    Coupling.objects.filter(pk__in=list(Coupling.objects.filter(bc_table="Customer")
                                        .values_list("pk", flat=True)[:2])).delete()
    assert counts(customer) == (2, 2)
    moved = Coupling.objects.filter(bc_table="Customer").first()
    moved.bc_table, moved.dataverse_table = "Item", "product"  # a coupling moved to another pair
    moved.save()
    assert counts(customer) == (1, 1) and counts(item) == (3, 1)
    Coupling.objects.all().delete()
    assert counts(customer) == (0, 0) and counts(item) == (0, 0)


def test_mapping_error_counts_follow_the_synchronization_jobs(world: dict[str, Any]) -> None:
    customer = world["customer"]
    job = SynchronizationJob.objects.create(table_mapping=customer, direction=Direction.TO_INTEGRATION_TABLE)
    assert not MappingErrorCount.objects.filter(table_mapping=customer).exists()
    job.failed = 3
    job.save()
    SynchronizationJob.objects.create(table_mapping=customer, direction=Direction.TO_INTEGRATION_TABLE, failed=2)
    assert MappingErrorCount.objects.get(table_mapping=customer).failed == 5
    SynchronizationJob.objects.filter(pk=job.pk).update(failed=1)
    job.delete()
    assert MappingErrorCount.objects.get(table_mapping=customer).failed == 2


def test_mappings_list_shows_the_counters_without_counting_couplings(admin_client: Any, world: dict[str, Any],
                                                                     django_assert_max_num_queries: Any) -> None:
    customer = world["customer"]
    couple(customer, 7)
    couple(customer, 2, skipped=True)
    SynchronizationJob.objects.create(table_mapping=customer, direction=Direction.TO_INTEGRATION_TABLE, failed=4)
    with django_assert_max_num_queries(8) as captured:
        response = admin_client.get(reverse("mappings:index"))
    html = response.content.decode()
    row = html[html.index(">CUSTOMER</a>"):html.index(">ITEM-PRODUCT</a>")]
    assert re.search(r'class="bad">4</td>\s*<td class="warn">2</td>\s*<td><a [^>]*>9</a>', row), row
    sqls = [q["sql"].upper() for q in captured.captured_queries]
    assert not any('"MAPPINGS_COUPLING"' in sql and "COUNT(" in sql for sql in sqls), sqls


#: The most SQL queries a list page may run (session, user, the page's own reads), whatever the rows.
MAX_QUERIES = 10


def page_queries(client: Any, urls: list[str]) -> list[int]:
    """The queries of each URL and of the page its Next link leads to."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    found = []
    for url in urls:
        with CaptureQueriesContext(connection) as first:
            response = client.get(url)
        assert response.status_code == 200
        found.append(len(first.captured_queries))
        link = NEXT.search(response.content.decode())
        if link:
            with CaptureQueriesContext(connection) as following:
                assert client.get(url + unescape(link.group(1))).status_code == 200
            found.append(len(following.captured_queries))
    return found


def test_list_pages_run_a_bounded_number_of_queries_whatever_the_rows(viewer_client: Any,
                                                                      world: dict[str, Any]) -> None:
    customer = world["customer"]
    job = SynchronizationJob.objects.create(table_mapping=customer, direction=Direction.TO_INTEGRATION_TABLE,
                                            type=SynchronizationJob.Type.COUPLING)

    def grow(start: int, n: int) -> None:
        couple(customer, n)
        CouplingLogEntry.objects.bulk_create(CouplingLogEntry(
            job=job, sequence=i, bc_id=uuid.uuid4(), bc_name=f"R{i}", outcome="NoMatch")
            for i in range(start, start + n))

    urls = [reverse("mappings:index"), reverse("mappings:coupling-list", args=[customer.pk]),
            reverse("mappings:couplinglog-list", args=[customer.pk])]
    grow(0, 260)  # more than one page everywhere
    small = page_queries(viewer_client, urls)
    grow(260, 1000)
    large = page_queries(viewer_client, urls)
    assert small == large and len(large) == 5 and max(large) <= MAX_QUERIES, (small, large)


def test_coupling_log_pages_list_every_line_once_in_sequence_order(viewer_client: Any,
                                                                   world: dict[str, Any]) -> None:
    customer = world["customer"]
    job = SynchronizationJob.objects.create(table_mapping=customer, direction=Direction.TO_INTEGRATION_TABLE,
                                            type=SynchronizationJob.Type.COUPLING)
    CouplingLogEntry.objects.bulk_create(CouplingLogEntry(job=job, sequence=i // 2, bc_id=uuid.uuid4(),
                                                          bc_name=f"R{i}", outcome="NoMatch") for i in range(450))
    pages, _ = walk(viewer_client, reverse("mappings:couplinglog-list", args=[customer.pk]), NEXT,
                    re.compile(r'<td class="record">(R\d+)<small'))
    from mappings.views import COUPLING_LOG_LINES_PER_PAGE as size

    assert [len(p) for p in pages] == [size] * (450 // size) + [450 % size]
    assert sum(pages, []) == [f"R{i}" for i in range(450)]
