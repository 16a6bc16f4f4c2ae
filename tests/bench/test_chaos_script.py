"""The pieces of ``bench/chaos.py`` that can be checked without a chaos run: the row-by-row checker finds planted
duplicates and missing records, its readers page through the emulators' public APIs and read the couplings table,
the fault plan covers every fault kind, and the command line refuses a database other than PostgreSQL."""
from __future__ import annotations

import uuid
from typing import Any

import pytest

from bench import chaos, chaos_check
from bench.chaos_env import database_url_for, require_postgresql
from emulators.testing import client_token

ITEMS = chaos_check.CHECKED_PAIRS[0]
CUSTOMERS = chaos_check.CHECKED_PAIRS[1]


def _item(number: str, *, blocked: bool = False) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "number": number, "blocked": blocked}


def _product(number: str) -> dict[str, Any]:
    return {"productid": str(uuid.uuid4()), "productnumber": number, "producttypecode": 1}


def _synchronized(numbers: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[tuple[str, str]]]:
    """BC items, Dataverse products and couplings of a clean synchronization of ``numbers``."""
    items = [_item(n) for n in numbers]
    products = [_product(n) for n in numbers]
    return items, products, [(i["id"], p["productid"]) for i, p in zip(items, products, strict=True)]


def test_clean_synchronization_has_no_findings() -> None:
    items, products, couplings = _synchronized(["1000", "1001", "1002"])
    found = chaos_check.compare_pair(ITEMS, bc_rows=items, dv_rows=products, couplings=couplings)
    assert (found.duplicates, found.missing, found.bc_records, found.dv_rows, found.couplings) == (0, 0, 3, 3, 3)
    assert found.examples == []


def test_planted_duplicate_row_is_found() -> None:
    items, products, couplings = _synchronized(["1000", "1001", "1002"])
    products.append(_product("1001"))  # a second product for item 1001, e.g. a create whose response was lost
    found = chaos_check.compare_pair(ITEMS, bc_rows=items, dv_rows=products, couplings=couplings)
    assert (found.duplicates, found.missing) == (1, 0)
    assert "productnumber '1001'" in found.examples[0]


def test_planted_duplicate_coupling_is_found() -> None:
    items, products, couplings = _synchronized(["1000", "1001"])
    extra = _product("X-1000")
    products.append(extra)
    couplings.append((items[0]["id"].upper(), extra["productid"]))  # ids compare case-insensitively
    found = chaos_check.compare_pair(ITEMS, bc_rows=items, dv_rows=products, couplings=couplings)
    assert (found.duplicates, found.missing) == (1, 0)
    assert "has 2 couplings" in found.examples[0]


def test_planted_missing_records_are_found() -> None:
    items, products, couplings = _synchronized(["1000", "1001", "1002"])
    uncoupled = _item("1003")  # never synchronized
    items.append(uncoupled)
    del products[2]  # item 1002's row was lost on the Dataverse side
    found = chaos_check.compare_pair(ITEMS, bc_rows=items, dv_rows=products, couplings=couplings)
    assert (found.duplicates, found.missing) == (0, 2)
    assert any("'1003'" in text and "no coupling" in text for text in found.examples)
    assert any("'1002'" in text and "does not exist" in text for text in found.examples)


def test_records_outside_the_table_filter_are_not_missing() -> None:
    items, products, couplings = _synchronized(["1000"])
    items.append(_item("1001", blocked=True))  # ITEM-PRODUCT's table filter: blocked eq false
    customers = [{"id": str(uuid.uuid4()), "displayName": "Blocked Ltd.", "blocked": "All"}]
    assert chaos_check.compare_pair(ITEMS, bc_rows=items, dv_rows=products, couplings=couplings).missing == 0
    found = chaos_check.compare_pair(CUSTOMERS, bc_rows=customers, dv_rows=[], couplings=[])
    assert (found.bc_records, found.missing) == (0, 0)


def test_fault_plan_covers_every_kind_in_three_trials() -> None:
    import random

    plan = chaos.fault_plan(3, 3, random.Random(5))
    assert [len(kinds) for kinds in plan] == [3, 3, 3]
    assert {kind for kinds in plan for kind in kinds} == set(chaos.FAULT_KINDS)
    assert plan == chaos.fault_plan(3, 3, random.Random(5))  # a seed replays the plan


@pytest.mark.parametrize("url", ["sqlite:///tmp/portal.sqlite3", "mysql://u:p@h/db", ""])
def test_command_line_refuses_a_database_other_than_postgresql(url: str, capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        chaos.parse_args(["--database-url", url] if url else [])
    assert exit_info.value.code == 2
    assert "PostgreSQL" in capsys.readouterr().err


def test_command_line_takes_a_postgresql_url() -> None:
    args = chaos.parse_args(["--database-url", "postgres://portal:portal@127.0.0.1:5432/portal", "--items", "50",
                             "--trials", "2", "--seed", "11", "--fault-rates", "0.1,0.05,0"])
    assert (args.items, args.trials, args.seed, args.workers) == (50, 2, 11, 2)
    assert args.rates == {"rate_429": 0.1, "rate_5xx": 0.05, "drop_rate": 0.0}
    assert require_postgresql("postgresql://h/db") == "postgresql://h/db"
    assert database_url_for("postgres://u:p@h:5432/portal", "chaos_1") == "postgres://u:p@h:5432/chaos_1"


def test_api_reader_pages_through_both_services(emulator: Any) -> None:
    """The reader follows @odata.nextLink on the emulators' BC and Dataverse APIs over HTTPS."""
    info = emulator.info
    session = emulator.session
    reader = chaos_check.ApiReader(info, session, lambda scope: client_token(info, scope, session=session))
    reader._headers["bc"]["Prefer"] = reader._headers["dv"]["Prefer"] = "odata.maxpagesize=2"
    company = info["bc_companies"][0]["id"]
    items = reader.bc_rows("items", ["id", "number", "blocked"], company)
    accounts = reader.dv_rows("accounts", ["accountid", "name", "customertypecode"])
    state = emulator.state()
    assert len(items) > 2 and len(accounts) > 2
    assert len({row["id"] for row in items}) == len(items)
    assert len({row["accountid"] for row in accounts}) == len(accounts)
    assert all("number" in row for row in items)
    assert len(accounts) == state["dataverse_rows"]["account"]
    company_name = info["bc_companies"][0]["name"]
    assert len(items) == state["bc_rows"][company_name]["items"]


def test_couplings_and_review_are_read_from_the_database(emulator_connection: Any) -> None:
    from django.db import connection as db

    from mappings.models import Coupling, IntegrationTableMapping
    from syncjobs.models import FullSyncReviewLine, JobQueueEntry, SynchronizationJob

    bc_id, dv_id = uuid.uuid4(), uuid.uuid4()
    Coupling.objects.create(connection=emulator_connection, bc_table="Item", bc_id=bc_id, dataverse_table="product",
                            dataverse_id=dv_id)
    Coupling.objects.create(connection=emulator_connection, bc_table="Customer", bc_id=uuid.uuid4(),
                            dataverse_table="account", dataverse_id=uuid.uuid4())
    mapping = IntegrationTableMapping.objects.get(connection=emulator_connection, name="ITEM-PRODUCT")
    job = SynchronizationJob.objects.create(table_mapping=mapping, direction="ToIntegrationTable", failed=2)
    FullSyncReviewLine.objects.create(connection=emulator_connection, table_mapping=mapping, name="ITEM-PRODUCT",
                                      recommendation="FullSynchronization", to_int_table_job=job,
                                      job_queue_entry_status=JobQueueEntry.Status.ERROR)
    with db.cursor() as cursor:
        assert chaos_check.read_couplings(cursor, ITEMS) == [(str(bc_id), str(dv_id))]
        review = chaos_check.read_review(cursor)
    assert review.error_lines == ["ITEM-PRODUCT"]
    assert review.failed_records == 2 and review.failed_by_line == {"ITEM-PRODUCT": 2}


def test_command_line_takes_explicit_fault_kinds_and_refuses_unknown_ones(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgres://portal:portal@127.0.0.1:5432/portal"
    args = chaos.parse_args(["--database-url", url, "--faults", "redis, pg-terminate"])
    assert args.faults == ["redis", "pg-terminate"]
    with pytest.raises(SystemExit):
        chaos.parse_args(["--database-url", url, "--faults", "redis,unplug-the-server"])
    assert "unknown fault kind(s) unplug-the-server" in capsys.readouterr().err
