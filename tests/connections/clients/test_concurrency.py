"""The per-credential concurrency cap shared through Redis (Microsoft Learn: "Service protection API
limits", "Operational limits for Business Central online")."""
from __future__ import annotations

import threading
import time
import uuid

import pytest

from connections.clients.concurrency import ConcurrencyLimiter
from connections.clients.errors import TransientError


def _key() -> str:
    return f"test:{uuid.uuid4().hex}"


def test_cap_holds_across_limiter_objects():
    """Several limiter objects (as in several worker processes) on one key never exceed the cap together."""
    key = _key()
    limiters = [ConcurrencyLimiter(key, 3) for _ in range(4)]
    lock = threading.Lock()
    current = 0
    peak = 0

    def work(limiter: ConcurrencyLimiter) -> None:
        nonlocal current, peak
        for _ in range(3):
            with limiter.slot():
                with lock:
                    current += 1
                    peak = max(peak, current)
                time.sleep(0.03)
                with lock:
                    current -= 1

    threads = [threading.Thread(target=work, args=(limiters[i % 4],)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 3
    assert limiters[0].holders() == 0


def test_lease_of_a_crashed_holder_expires():
    key = _key()
    crashed = ConcurrencyLimiter(key, 1, lease_seconds=1)
    assert crashed._try_acquire("lost-token")  # taken and never released, as by a killed worker
    waiting = ConcurrencyLimiter(key, 1, wait_seconds=5)
    started = time.monotonic()
    with waiting.slot():
        elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 5


def test_waiting_too_long_is_a_transient_error():
    key = _key()
    holder = ConcurrencyLimiter(key, 1)
    impatient = ConcurrencyLimiter(key, 1, wait_seconds=0.2, service="dataverse")
    with holder.slot():
        with pytest.raises(TransientError) as caught:
            with impatient.slot():
                pass
    assert caught.value.code == "ConcurrencyCapTimeout"
    assert caught.value.service == "dataverse"


def test_limit_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        ConcurrencyLimiter(_key(), 0)
