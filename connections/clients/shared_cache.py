"""A small key-value store in Redis shared by every process of the portal (web, RQ workers and their forked work
horses), for what the clients would otherwise ask the services again in each process: access tokens
(:mod:`.token_cache`) and Dataverse metadata (:mod:`.metadata_cache`).

Redis is django-rq's ``default`` connection (``REDIS_URL``). The store is a cache, never the truth: when Redis cannot
be reached every call answers "nothing stored" / does nothing, the process leaves Redis alone for
:data:`RETRY_AFTER` seconds (so a down Redis costs no connect timeouts and retries per request), a warning is logged
once (again only after Redis answered in between), and the caller goes on with what it has in memory: a run never
fails because the cache is down. Values are bytes; callers encrypt what is secret.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import django_rq
import redis.exceptions

logger = logging.getLogger(__name__)

KEY_PREFIX = "portal:clients:"
#: Seconds a process leaves Redis alone after it could not be reached.
RETRY_AFTER = 30.0

_state_lock = threading.Lock()
_down_logged = False
_down_until = 0.0  # time.monotonic() before which Redis is not tried again


def _default_redis() -> Any:
    return django_rq.get_connection("default")


class SharedStore:
    """Bytes under ``KEY_PREFIX + namespace + ":" + key`` in Redis, with a time to live in seconds.

    ``connection`` is a factory of the redis-py client (default: django-rq's ``default`` connection); tests pass
    one that points at a closed port to check the fallback.
    """

    def __init__(self, namespace: str, *, connection: Callable[[], Any] | None = None) -> None:
        self.prefix = f"{KEY_PREFIX}{namespace}:"
        self._connection = connection or _default_redis

    def redis_key(self, key: str) -> str:
        """The Redis key of ``key`` in this namespace."""
        return self.prefix + key

    def get(self, key: str) -> bytes | None:
        """The stored value, or None when nothing is stored or Redis cannot be reached."""
        return self._call(lambda r: r.get(self.redis_key(key)), None)

    def set(self, key: str, value: bytes, *, ttl: float) -> bool:
        """Store ``value`` for ``ttl`` seconds; False when Redis cannot be reached."""
        return bool(self._call(lambda r: r.set(self.redis_key(key), value, px=max(1, int(ttl * 1000))), False))

    def delete(self, key: str) -> None:
        """Forget ``key`` (nothing happens when Redis cannot be reached)."""
        self._call(lambda r: r.delete(self.redis_key(key)), None)

    def delete_matching(self, pattern: str = "*") -> int:
        """Forget every key of this namespace matching the glob ``pattern`` (Redis ``SCAN MATCH``, e.g.
        ``"abc:*"``); returns how many were deleted."""
        def run(r: Any) -> int:
            keys = list(r.scan_iter(match=self.redis_key(pattern), count=500))
            return int(r.delete(*keys)) if keys else 0
        return int(self._call(run, 0))

    def acquire_lock(self, key: str, *, timeout: float, wait: float) -> Any:
        """Take a Redis lock (redis-py ``Lock``: ``SET NX PX``) named after ``key``, held at most ``timeout`` seconds,
        waiting at most ``wait`` seconds for another holder; returns the held lock (release it), or None when it was
        not taken in time or Redis cannot be reached (the caller goes on without it)."""
        def run(r: Any) -> Any:
            lock = r.lock(self.redis_key(key) + ":lock", timeout=timeout, blocking_timeout=wait)
            return lock if lock.acquire() else None
        return self._call(run, None)

    def _call(self, action: Callable[[Any], Any], fallback: Any) -> Any:
        global _down_logged, _down_until
        if time.monotonic() < _down_until:
            return fallback
        try:
            result = action(self._connection())
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
            with _state_lock:
                first = not _down_logged
                _down_logged = True
                _down_until = time.monotonic() + RETRY_AFTER
            if first:
                logger.warning("Redis unreachable (%s): tokens and metadata are cached in this process only "
                               "(Redis is tried again in %.0f s)", type(exc).__name__, RETRY_AFTER)
            return fallback
        if _down_logged:
            with _state_lock:
                _down_logged = False
        return result
