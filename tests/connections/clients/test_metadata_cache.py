"""Dataverse metadata shared by every process through Redis (connections/clients/metadata_cache.py): a fresh process
(a forked RQ work horse; here the in-process caches emptied) does not ask ``sdkmessagefilters`` or
``EntityDefinitions`` again; forgetting an environment's metadata (after a solution import) makes it ask again.
Requests are counted at the emulator."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from connections.clients import DataverseClient, TokenProvider


def fresh_process() -> None:
    """Empty this process's metadata caches, as a forked work horse starts."""
    with DataverseClient._definitions_lock:
        DataverseClient._definitions.clear()
        DataverseClient._bulk_messages.clear()


def dataverse_requests(emulator: Any) -> int:
    return int(emulator.state()["requests"]["dataverse"])


@pytest.fixture
def no_metadata(info: dict[str, Any]) -> Iterator[None]:
    """Nothing remembered of the environment's metadata before and after the test."""
    DataverseClient.forget_metadata(info["dataverse_url"])
    yield
    DataverseClient.forget_metadata(info["dataverse_url"])


def client(info: dict[str, Any], tokens: TokenProvider) -> DataverseClient:
    return DataverseClient(info["dataverse_url"], tokens, max_concurrency=0, concurrency_key=uuid.uuid4().hex)


def test_a_fresh_process_reuses_the_answers_of_another(emulator: Any, info: dict[str, Any], tokens: TokenProvider,
                                                        no_metadata: None) -> None:
    tokens.token(f"{info['dataverse_url']}/.default")
    before = dataverse_requests(emulator)
    first = client(info, tokens)
    assert first.bulk_message_available("UpsertMultiple", "account")
    assert first.entity_set("product") == "products"
    assert first._definition_for_set("contacts").logical_name == "contact"
    asked = dataverse_requests(emulator) - before
    assert asked == 4  # CreateMultiple, UpdateMultiple, the product's and the contacts' definitions
    fresh_process()
    second = client(info, tokens)
    assert second.bulk_message_available("UpsertMultiple", "account")
    assert second.table_definition("product").primary_id == "productid"
    assert second._definition_for_set("contacts").primary_id == "contactid"
    assert dataverse_requests(emulator) - before == asked  # nothing asked again


def test_forgotten_metadata_is_asked_again(emulator: Any, info: dict[str, Any], tokens: TokenProvider,
                                           no_metadata: None) -> None:
    assert client(info, tokens).bulk_message_available("CreateMultiple", "account")
    DataverseClient.forget_metadata(info["dataverse_url"])  # what an integration solution import does
    before = dataverse_requests(emulator)
    assert client(info, tokens).bulk_message_available("CreateMultiple", "account")
    assert dataverse_requests(emulator) - before == 1


def test_a_table_that_lost_its_bulk_messages_is_seen_by_every_process(emulator: Any, info: dict[str, Any],
                                                                      tokens: TokenProvider,
                                                                      no_metadata: None) -> None:
    assert client(info, tokens).bulk_message_available("CreateMultiple", "account")
    emulator.bulk_messages("account", remove=["CreateMultiple"])
    DataverseClient.forget_bulk_messages(info["dataverse_url"])  # in this process and in the shared cache
    fresh_process()
    assert not client(info, tokens).bulk_message_available("CreateMultiple", "account")
