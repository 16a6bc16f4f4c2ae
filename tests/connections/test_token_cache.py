"""msal's token cache and the authority's OpenID configuration shared by every process through Redis, encrypted at
rest (connections/clients/token_cache.py): a fresh process (a forked RQ work horse, here a fresh msal application
standing in for one) reuses the token another fetched; with Redis down each process signs in on its own, and nothing
fails. Entra requests are counted at the emulator."""
from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from base.crypto import decrypt
from connections.clients import DataverseClient, TokenProvider, entra, shared_cache, token_cache
from connections.clients.shared_cache import SharedStore


def fresh_process() -> None:
    """What a forked work horse does not have: this process's msal applications (and their in-memory tokens)."""
    with entra._apps_lock:
        entra._apps.clear()


def entra_counts(emulator: Any) -> tuple[int, int]:
    """(Entra requests, of which token requests) the emulator answered so far."""
    state = emulator.state()
    return int(state["requests"]["entra"]), int(state["entra_token_requests"])


def provider(info: dict[str, Any]) -> TokenProvider:
    return TokenProvider(authority=info["entra_authority"], client_id=info["client_id"],
                         client_secret=info["client_secret"])


@pytest.fixture
def no_shared_state(emulator_info: dict[str, Any]) -> Iterator[None]:
    """No msal application in this process and nothing in the shared caches, before and after the test."""
    def clear() -> None:
        fresh_process()
        SharedStore("msal-token-cache").delete_matching()
        SharedStore("openid-configuration").delete_matching()
    clear()
    yield
    clear()


def test_two_fresh_processes_make_one_token_request_in_all(emulator: Any, emulator_info: dict[str, Any],
                                                            no_shared_state: None) -> None:
    scope = emulator_info["dataverse_scope"]
    before = entra_counts(emulator)
    first = provider(emulator_info).token(scope)
    fresh_process()
    second = provider(emulator_info).token(scope)
    fresh_process()
    who = DataverseClient(emulator_info["dataverse_url"], provider(emulator_info), max_concurrency=0).who_am_i()
    requests, tokens = (now - then for now, then in zip(entra_counts(emulator), before, strict=True))
    assert second == first and who["UserId"]
    assert tokens == 1  # the second and third "processes" reused the first one's token
    assert requests == 2  # and its OpenID configuration: one discovery and one token request in all


def test_the_shared_cache_holds_no_token_text(emulator_info: dict[str, Any], no_shared_state: None) -> None:
    tokens = provider(emulator_info)
    token = tokens.token(emulator_info["dataverse_scope"])
    raw = SharedStore("msal-token-cache").get(tokens._key)
    assert raw is not None
    assert token.encode() not in raw and b"access_token" not in raw.lower() and b"AccessToken" not in raw
    assert emulator_info["client_secret"].encode() not in raw
    assert tokens._key.encode() not in raw and emulator_info["client_secret"] not in tokens._key
    assert token in decrypt(raw.decode())  # Fernet with PORTAL_ENCRYPTION_KEY


def test_a_rejected_token_is_forgotten_by_every_process(emulator: Any, emulator_info: dict[str, Any],
                                                        no_shared_state: None) -> None:
    tokens = provider(emulator_info)
    tokens.token(emulator_info["dataverse_scope"])
    assert SharedStore("msal-token-cache").get(tokens._key) is not None
    tokens.invalidate()  # what the transport does after a 401
    assert SharedStore("msal-token-cache").get(tokens._key) is None
    fresh_process()
    before = entra_counts(emulator)[1]
    second = provider(emulator_info).token(emulator_info["dataverse_scope"])
    assert entra_counts(emulator)[1] - before == 1 and second


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_with_redis_down_each_process_signs_in_and_nothing_fails(
    emulator: Any, emulator_info: dict[str, Any], no_shared_state: None, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = closed_port()

    def down() -> Any:
        return redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.2)

    monkeypatch.setattr(token_cache, "_tokens", SharedStore("msal-token-cache", connection=down))
    monkeypatch.setattr(token_cache, "_discovery", SharedStore("openid-configuration", connection=down))
    monkeypatch.setattr(shared_cache, "_down_logged", False)
    monkeypatch.setattr(shared_cache, "_down_until", 0.0)  # restored after the test: Redis is up for the others
    caplog.set_level(logging.WARNING, logger="connections.clients.shared_cache")
    scope = emulator_info["dataverse_scope"]
    before = entra_counts(emulator)[1]
    started = time.monotonic()
    first = provider(emulator_info).token(scope)
    again = provider(emulator_info).token(scope)  # same process: msal's in-memory cache still serves it
    fresh_process()
    second = provider(emulator_info).token(scope)
    assert first and again == first and second
    assert time.monotonic() - started < 5  # Redis is left alone once it failed, not tried per request
    assert entra_counts(emulator)[1] - before == 2  # nothing shared: the fresh process signed in again
    warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(warnings) == 1  # logged once, not per request
