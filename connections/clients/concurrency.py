"""A cap on concurrent requests per credential, shared by every worker process through Redis.

Dataverse fails requests beyond 52 concurrent per user at once (Microsoft Learn: "Service protection API limits")
and Business Central processes 5 per user and queues the rest (Microsoft Learn: "Operational limits for Business
Central online"); several RQ workers syncing for the same application user must therefore share one budget. No
well-kept library offers a Redis counting semaphore with lease expiry for redis-py 5+ (python-redis-lock and
redis-py's ``Lock`` are mutexes), so this is a small lease semaphore: a sorted set whose members are lease tokens
scored by their expiry time (Redis server clock, milliseconds). Acquiring removes expired leases and adds a lease
only while fewer than ``limit`` remain, atomically in one Lua script; releasing removes the token. A worker killed
while holding a lease loses it after ``lease_seconds``.

When Redis cannot be reached the cap falls back to a per-process semaphore (logged as a warning), so that a
connection test from the web process still works while the queue is down.
"""
from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import django_rq
import redis.exceptions

from connections.clients.errors import TransientError

logger = logging.getLogger(__name__)

KEY_PREFIX = "portal:clients:concurrency:"

_ACQUIRE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
  return 1
end
return 0
"""

_local_lock = threading.Lock()
_local_semaphores: dict[tuple[str, int], threading.BoundedSemaphore] = {}


def _local_semaphore(key: str, limit: int) -> threading.BoundedSemaphore:
    with _local_lock:
        return _local_semaphores.setdefault((key, limit), threading.BoundedSemaphore(limit))


def _default_redis() -> Any:
    return django_rq.get_connection("default")


class ConcurrencyLimiter:
    """At most ``limit`` concurrent holders of ``key`` across all processes using the same Redis.

    ``lease_seconds`` bounds how long a lease outlives a crashed holder (use more than the request timeout);
    ``wait_seconds`` is how long :meth:`slot` waits for a free lease before raising TransientError
    (code ``"ConcurrencyCapTimeout"``).
    """

    def __init__(self, key: str, limit: int, *, lease_seconds: float = 300.0, wait_seconds: float = 600.0,
                 redis: Any = None, service: str = "") -> None:
        if limit < 1:
            raise ValueError("The concurrency limit must be at least 1.")
        self.key = KEY_PREFIX + key
        self.limit = limit
        self.lease_ms = max(1000, int(lease_seconds * 1000))
        self.wait_seconds = wait_seconds
        self.service = service
        self._redis = redis
        self._script: Any = None

    def _connection(self) -> Any:
        if self._redis is None:
            self._redis = _default_redis()
        return self._redis

    def _try_acquire(self, token: str, lease_ms: int | None = None) -> bool:
        if self._script is None:
            self._script = self._connection().register_script(_ACQUIRE)
        return bool(self._script(keys=[self.key], args=[self.limit, lease_ms or self.lease_ms, token]))

    def holders(self) -> int:
        """Number of unexpired leases right now (for diagnostics and tests)."""
        connection = self._connection()
        now_s, now_us = connection.time()
        connection.zremrangebyscore(self.key, "-inf", now_s * 1000 + now_us // 1000)
        return int(connection.zcard(self.key))

    @contextmanager
    def slot(self, *, lease_seconds: float | None = None) -> Iterator[None]:
        """Hold one of the ``limit`` leases for the duration of the ``with`` block (``lease_seconds`` overrides
        the limiter's lease for a long request, e.g. a solution import)."""
        token = uuid.uuid4().hex
        lease_ms = max(1000, int(lease_seconds * 1000)) if lease_seconds else None
        deadline = time.monotonic() + self.wait_seconds
        delay = 0.005
        try:
            while not self._try_acquire(token, lease_ms):
                if time.monotonic() >= deadline:
                    raise TransientError(
                        f"No free request slot within {self.wait_seconds:.0f} s: {self.limit} requests with this "
                        "credential are already in flight.", service=self.service, code="ConcurrencyCapTimeout",
                        fix="Lower the number of workers syncing with this credential, or raise the cap.")
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.1)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            logger.warning("Redis unreachable (%s): capping %s within this process only", exc, self.key)
            semaphore = _local_semaphore(self.key, self.limit)
            if not semaphore.acquire(timeout=self.wait_seconds):
                raise TransientError(f"No free request slot within {self.wait_seconds:.0f} s.", service=self.service,
                                     code="ConcurrencyCapTimeout") from None
            try:
                yield
            finally:
                semaphore.release()
            return
        try:
            yield
        finally:
            try:
                self._connection().zrem(self.key, token)
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                logger.warning("Redis unreachable: the lease on %s expires on its own", self.key)
