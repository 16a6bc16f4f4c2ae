"""Coupling constraints under concurrent attempts (BC: table 5331 CRM Integration Record): PostgreSQL only (SQLite
serializes writers).

The same constraints are exercised without concurrency on every database in test_services.py.
"""
from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from django.db import close_old_connections, connections

from mappings.models import Coupling
from mappings.services import CouplingConflict, coupling_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ATTEMPTS = 8


def _race(target: Any) -> list[Any]:
    """Run ``target(index)`` in ATTEMPTS threads released at the same moment; returns results or exceptions."""
    barrier = threading.Barrier(ATTEMPTS)
    results: list[Any] = [None] * ATTEMPTS

    def run(index: int) -> None:
        close_old_connections()
        try:
            barrier.wait(timeout=30)
            results[index] = target(index)
        except Exception as exc:  # noqa: BLE001 - collected for the assertions
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def _connection() -> Any:
    from connections.models import ConnectionSetup

    return ConnectionSetup.objects.create(name=f"Race {uuid.uuid4().hex[:6]}")


def test_concurrent_couplings_of_one_row_leave_exactly_one() -> None:
    connection, row = _connection(), uuid.uuid4()
    results = _race(lambda i: coupling_create(connection=connection, bc_table="Customer", bc_id=uuid.uuid4(),
                                              dataverse_table="account", dataverse_id=row))
    winners = [r for r in results if isinstance(r, Coupling)]
    losers = [r for r in results if isinstance(r, CouplingConflict)]
    assert len(winners) == 1 and len(losers) == ATTEMPTS - 1, results
    assert all(str(winners[0].bc_id) in loser.messages[0] for loser in losers)
    assert Coupling.objects.filter(dataverse_id=row).count() == 1


def test_concurrent_couplings_of_one_record_leave_exactly_one() -> None:
    connection, record = _connection(), uuid.uuid4()
    results = _race(lambda i: coupling_create(connection=connection, bc_table="Item", bc_id=record,
                                              dataverse_table="product", dataverse_id=uuid.uuid4()))
    assert sum(isinstance(r, Coupling) for r in results) == 1, results
    assert sum(isinstance(r, CouplingConflict) for r in results) == ATTEMPTS - 1, results
    assert Coupling.objects.filter(bc_id=record).count() == 1
