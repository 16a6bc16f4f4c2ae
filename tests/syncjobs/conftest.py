"""Fixtures of the job queue and review tests: a named world of one enabled connection with mappings and entries."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture
def connection(db: Any) -> Any:
    """An enabled connection setup named "CRONUS" (no remote URLs: pure database tests)."""
    from connections.models import ConnectionSetup

    return ConnectionSetup.objects.create(name="CRONUS", is_enabled=True)


@pytest.fixture
def make_mapping(connection: Any) -> Callable[..., Any]:
    """Create a mapping of ``connection``: ``make_mapping("ITEM-PRODUCT", dependency_filter=...)``."""
    from mappings.models import IntegrationTableMapping

    tables = {
        "ITEM-PRODUCT": ("Item", "product"),
        "CUSTOMER": ("Customer", "account"),
        "CURRENCY": ("Currency", "transactioncurrency"),
    }

    def make(name: str, **values: Any) -> Any:
        table, integration_table = tables.get(name, (name.title(), name.lower().replace(" ", "")))
        values.setdefault("table", table)
        values.setdefault("integration_table", integration_table)
        return IntegrationTableMapping.objects.create(connection=connection, name=name, **values)

    return make


@pytest.fixture
def make_entry(connection: Any) -> Callable[..., Any]:
    """Create a job queue entry of ``connection`` (recurring mapping entry by default, Ready, due now)."""
    from syncjobs.models import JobQueueEntry

    def make(mapping: Any = None, **values: Any) -> Any:
        name = mapping.name if mapping else "special"
        values.setdefault("description", f" {name} - Dynamics 365 Sales synchronization job.")
        values.setdefault("kind", JobQueueEntry.Kind.MAPPING if mapping else JobQueueEntry.Kind.CUSTOMER_STATISTICS)
        return JobQueueEntry.objects.create(connection=connection, table_mapping=mapping, **values)

    return make


@pytest.fixture
def sync_queue(db: Any) -> Iterator[Any]:
    """The RQ ``sync`` queue on the test run's embedded Redis, emptied before and after the test."""
    import django_rq

    queue = django_rq.get_queue("sync")
    connection = queue.connection
    connection.flushdb()
    yield queue
    connection.flushdb()
