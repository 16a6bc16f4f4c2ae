"""Bulk operation messages only where the table has them (Microsoft Learn: "Use bulk operation messages": custom
tables and many, not all, standard tables; an ``sdkmessagefilters`` query tells), ``$batch`` change sets elsewhere
(Microsoft Learn: "Execute batch operations using the Web API")."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from connections.clients import DataverseClient
from connections.clients.errors import MissingReferenceError


def _accounts(n: int, prefix: str) -> list[dict[str, Any]]:
    return [{"accountid": str(uuid.uuid4()), "name": f"{prefix} {i}"} for i in range(n)]


@pytest.fixture
def bulk_cache(info: dict[str, Any]) -> Iterator[None]:
    """No remembered sdkmessagefilters answers before the test, and none of its changed tables after it."""
    DataverseClient.forget_bulk_messages()
    yield
    DataverseClient.forget_bulk_messages(info["dataverse_url"])


def test_availability_is_asked_once_per_message_and_table(dv: DataverseClient, info: dict[str, Any],
                                                          bulk_cache: None) -> None:
    before = dv.requests_sent
    assert dv.bulk_message_available("CreateMultiple", "account")
    assert dv.requests_sent - before == 1
    # UpsertMultiple, which the documented query does not answer for, goes with CreateMultiple and UpdateMultiple
    assert dv.bulk_message_available("UpsertMultiple", "account")
    assert dv.requests_sent - before == 2
    assert dv.bulk_message_available("UpdateMultiple", "account")
    other = DataverseClient(info["dataverse_url"], dv.tokens, max_concurrency=0)
    assert other.bulk_message_available("UpsertMultiple", "account")
    assert dv.requests_sent - before == 2 and other.requests_sent == 0  # remembered for the environment
    # Price List Item, Unit and Currency have none (their Microsoft Learn table references list none)
    assert not dv.bulk_message_available("UpsertMultiple", "productpricelevel")
    assert dv.requests_sent - before == 3  # CreateMultiple missing: UpdateMultiple is not asked
    assert not dv.bulk_message_available("UpdateMultiple", "uom")
    assert not dv.bulk_message_available("CreateMultiple", "transactioncurrency")


def test_multiple_methods_fall_back_to_changesets(dv: DataverseClient, emulator: Any, bulk_cache: None) -> None:
    assert emulator.bulk_messages("account", remove=["CreateMultiple"]) == ["UpdateMultiple"]
    rows = _accounts(250, "Changeset")
    dv.entity_set("account")  # the table definition, read once per process
    before = dv.requests_sent
    ids = dv.create_multiple("account", rows)
    assert ids == [uuid.UUID(r["accountid"]) for r in rows]
    assert dv.requests_sent - before == 2  # the sdkmessagefilters query, then one $batch of three change sets
    assert dv.count("accounts", filter="startswith(name,'Changeset ')") == 250
    new = {"accountid": str(uuid.uuid4()), "name": "Changeset new"}
    before = dv.requests_sent
    dv.upsert_multiple("account", [{"accountid": rows[0]["accountid"], "telephone1": "7"}, new])
    assert dv.requests_sent - before == 1  # no CreateMultiple (remembered), so no UpsertMultiple: the $batch
    assert dv.retrieve("accounts", rows[0]["accountid"], select=["telephone1"])["telephone1"] == "7"
    assert dv.retrieve("accounts", new["accountid"], select=["name"])["name"] == "Changeset new"
    before = dv.requests_sent
    dv.update_multiple("account", [{"accountid": r["accountid"], "telephone1": "8"} for r in rows[:3]])
    assert dv.requests_sent - before == 2  # UpdateMultiple is still there (asked once): the bulk message
    assert dv.retrieve("accounts", rows[2]["accountid"], select=["telephone1"])["telephone1"] == "8"


def test_failed_changeset_is_rolled_back_alone(dv: DataverseClient, emulator: Any, bulk_cache: None) -> None:
    """A row with a missing lookup rolls back its own change set only; the other change sets land, and the
    ``*_multiple`` method raises that error."""
    emulator.bulk_messages("account", remove=["UpdateMultiple"])
    rows = _accounts(150, "Rolled")
    bad = {**rows[120], "parentaccountid@odata.bind": f"/accounts({uuid.uuid4()})"}
    results = dv.write_in_changesets("UpsertMultiple", "account", [*rows[:120], bad, *rows[121:]])
    assert [(r.start, r.stop) for r in results] == [(0, 100), (100, 150)]
    assert results[0].error is None and len(results[0].responses) == 100
    assert isinstance(results[1].error, MissingReferenceError)
    assert dv.count("accounts", filter="startswith(name,'Rolled ')") == 100
    with pytest.raises(MissingReferenceError):
        dv.upsert_multiple("account", [*rows[100:120], bad])
    assert dv.count("accounts", filter="startswith(name,'Rolled ')") == 100
    dv.upsert_multiple("account", rows[100:])
    assert dv.count("accounts", filter="startswith(name,'Rolled ')") == 150
