"""``python manage.py synchronize``: passes with counters, JSON output, exit status."""
from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mappings.models import Direction, IntegrationTableMapping
from syncjobs.management.commands.synchronize import dependency_order
from tests.syncjobs.engine.conftest import make_sync_connection


@pytest.fixture
def sync_connection(emulator: Any, settings: Any, db: Any) -> Any:
    """The engine tests' connection setup on the emulators, with the default configuration."""
    return make_sync_connection(emulator, settings)


KEYS = {"mapping", "direction", "inserted", "modified", "deleted", "unchanged", "skipped", "failed", "coupled",
        "seconds"}


def test_json_lists_every_pass_with_counters(sync_connection: Any) -> None:
    out, err = StringIO(), StringIO()
    call_command("synchronize", "--mapping", "UNIT OF MEASURE", "--mapping", "CURRENCY", "--full", "--json",
                 stdout=out, stderr=err)
    passes = json.loads(out.getvalue())
    assert [p["mapping"] for p in passes] == ["CURRENCY", "UNIT OF MEASURE"]  # priority order
    assert all(set(p) == KEYS for p in passes)
    assert all(p["direction"] == Direction.TO_INTEGRATION_TABLE and p["inserted"] > 0 for p in passes)
    assert "Synchronizing CURRENCY" in err.getvalue()
    assert "To integration table (BC → Dataverse): " in err.getvalue() and " records, " in err.getvalue()  # progress


def test_text_output_names_mapping_direction_counters_and_seconds(sync_connection: Any) -> None:
    out = StringIO()
    call_command("synchronize", "--mapping", "UNIT OF MEASURE", stdout=out, stderr=StringIO())
    line = out.getvalue().strip()
    assert line.startswith("UNIT OF MEASURE") and "ToIntegrationTable" in line
    assert "inserted 0" in line and line.endswith(" s")


def test_exits_non_zero_when_a_pass_cannot_run(db: Any) -> None:
    from connections.models import ConnectionSetup

    connection = ConnectionSetup.objects.create(name="Unreachable", is_enabled=True)
    IntegrationTableMapping.objects.create(connection=connection, name="CURRENCY", table="Currency",
                                           integration_table="transactioncurrency",
                                           direction=Direction.TO_INTEGRATION_TABLE)
    err = StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("synchronize", "--json", stdout=StringIO(), stderr=err)
    assert exit_info.value.code == 1
    assert "CURRENCY could not run" in err.getvalue() and "complete the connection setup" in err.getvalue()


def test_failed_records_do_not_fail_the_command(sync_connection: Any) -> None:
    out = StringIO()
    # units are not coupled: every item fails, but the passes ran
    call_command("synchronize", "--mapping", "ITEM-PRODUCT", "--full", "--json", stdout=out, stderr=StringIO())
    to_pass = json.loads(out.getvalue())[0]
    assert to_pass["failed"] > 0 and to_pass["inserted"] == 0


def test_unknown_mapping_is_refused_with_the_known_names(sync_connection: Any) -> None:
    with pytest.raises(CommandError, match="Unknown integration table mapping NOPE; known: .*CURRENCY"):
        call_command("synchronize", "--mapping", "NOPE", stdout=StringIO(), stderr=StringIO())


def test_dependency_order_puts_dependencies_first(db: Any) -> None:
    from connections.models import ConnectionSetup

    connection = ConnectionSetup.objects.create(name="Order world")
    make = IntegrationTableMapping.objects.create
    items = make(connection=connection, name="ITEM-PRODUCT", table="Item", integration_table="product", priority=1,
                 dependency_filter="UNIT OF MEASURE")
    units = make(connection=connection, name="UNIT OF MEASURE", table="Unit of Measure",
                 integration_table="uomschedule", priority=5)
    prices = make(connection=connection, name="PLLINE-PRODPRICE", table="Price List Line",
                  integration_table="productpricelevel", priority=0, dependency_filter="ITEM-PRODUCT|PLHEADER-PRICE")
    assert dependency_order([prices, items, units]) == [units, items, prices]
