"""Service protection limits and switchable faults.

Limits (defaults from Microsoft Learn "Service protection API limits" for Dataverse and "Operational limits in
Business Central Online" for BC; all configurable):

* Dataverse: 6,000 requests per 300-second sliding window per user (application users included),
  52 concurrent requests per user; exceeding either -> 429 with ``Retry-After`` (seconds) and the
  error codes ``0x80072322`` / ``0x80072326``.
* Business Central: 6,000 requests per 300-second window per user -> 429; 5 requests processed
  at once per user, further ones wait in a queue of at most 95 (full -> 429) for at most 480 s
  (-> 503).  BC does not document ``Retry-After`` on 429; the emulator sends one anyway (clients that
  ignore it are unaffected) and sends it on 503 as BC documents for a full request queue.

Faults (off by default; set with ``serve`` options or ``POST /_emulator/faults``):
``latency_ms`` added to every API request, ``rate_429`` / ``rate_5xx`` / ``drop_rate`` shares
(0.0-1.0) of API requests answered 429, 500-or-503, or dropped without an answer, and
``token_max_age`` (seconds) after which APIs reject otherwise valid tokens as expired
("tokens that expire early"); ``token_lifetime`` is the ``expires_in`` of issued tokens.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class Settings:
    """Run-time tunables shared by all emulators (units: seconds unless the name says ms)."""

    latency_ms: float = 0.0
    rate_429: float = 0.0
    rate_5xx: float = 0.0
    drop_rate: float = 0.0
    fault_services: list[str] = field(default_factory=lambda: ["dataverse", "bc"])
    token_lifetime: int = 3599
    token_max_age: float | None = None
    limits_enabled: bool = True
    enforce_privileges: bool = True
    dv_requests_per_window: int = 6000
    dv_window_seconds: float = 300.0
    dv_concurrent: int = 52
    dv_max_page_size: int = 5000
    dv_max_batch: int = 1000
    bc_requests_per_window: int = 6000
    bc_window_seconds: float = 300.0
    bc_concurrent: int = 5
    bc_max_queue: int = 95
    bc_queue_timeout: float = 480.0
    bc_max_page_size: int = 20000
    bc_max_batch: int = 100
    fault_seed: int | None = None

    def update(self, values: dict[str, Any]) -> None:
        """Apply a partial update; raises ``KeyError`` for unknown names and ``ValueError`` for bad values."""
        known = {f.name: f for f in fields(self)}
        for name, value in values.items():
            if name not in known:
                raise KeyError(name)
            current = getattr(self, name)
            if name == "token_max_age":
                value = None if value is None else float(value)
            elif name == "fault_seed":
                value = None if value is None else int(value)
            elif name == "fault_services":
                if not isinstance(value, list) or not all(v in ("dataverse", "bc", "entra") for v in value):
                    raise ValueError("fault_services must be a list of 'dataverse', 'bc', 'entra'")
            elif isinstance(current, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"{name} must be true or false")
            elif isinstance(current, int):
                value = int(value)
            elif isinstance(current, float):
                value = float(value)
            if name in ("rate_429", "rate_5xx", "drop_rate") and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Throttled(Exception):
    """A request was refused by a limit; ``status`` 429 or 503, ``retry_after`` seconds, ``kind`` names the limit."""

    def __init__(self, status: int, retry_after: int, kind: str) -> None:
        super().__init__(kind)
        self.status = status
        self.retry_after = retry_after
        self.kind = kind


class Limiter:
    """Sliding-window request counters and concurrency gates per (service, user)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], deque[float]] = {}
        self._inflight: dict[tuple[str, str], int] = {}
        self._bc_cond = threading.Condition(self._lock)
        self.rng = random.Random(settings.fault_seed)

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
            self.rng = random.Random(self.settings.fault_seed)

    def _count(self, key: tuple[str, str], limit: int, window: float) -> None:
        now = time.monotonic()
        q = self._windows.setdefault(key, deque())
        while q and q[0] <= now - window:
            q.popleft()
        if len(q) >= limit:
            retry = max(1, math.ceil(q[0] + window - now))
            raise Throttled(429, retry, "requests")
        q.append(now)

    def enter(self, service: str, user: str) -> None:
        """Count a request and take a concurrency slot; raises :class:`Throttled`. Pair with :meth:`leave`."""
        s = self.settings
        key = (service, user)
        if not s.limits_enabled:
            with self._lock:
                self._inflight[key] = self._inflight.get(key, 0) + 1
            return
        with self._lock:
            if service == "dataverse":
                self._count(key, s.dv_requests_per_window, s.dv_window_seconds)
                if self._inflight.get(key, 0) >= s.dv_concurrent:
                    raise Throttled(429, 1, "concurrency")
                self._inflight[key] = self._inflight.get(key, 0) + 1
                return
            self._count(key, s.bc_requests_per_window, s.bc_window_seconds)
            busy = self._inflight.get(key, 0)
            if busy >= s.bc_concurrent + s.bc_max_queue:
                raise Throttled(429, 1, "queue")
            self._inflight[key] = busy + 1
            deadline = time.monotonic() + s.bc_queue_timeout
            # first bc_concurrent holders run; the rest wait for a slot (processing count kept separately)
            pkey = ("bc-processing", user)
            while self._inflight.get(pkey, 0) >= s.bc_concurrent:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._inflight[key] -= 1
                    raise Throttled(503, 1, "queue-timeout")
                self._bc_cond.wait(remaining)
            self._inflight[pkey] = self._inflight.get(pkey, 0) + 1

    def leave(self, service: str, user: str) -> None:
        with self._lock:
            key = (service, user)
            self._inflight[key] = max(0, self._inflight.get(key, 0) - 1)
            if service == "bc":
                pkey = ("bc-processing", user)
                if self._inflight.get(pkey, 0) > 0:
                    self._inflight[pkey] -= 1
                self._bc_cond.notify_all()

    def roll_fault(self, service: str) -> str | None:
        """Decide a random fault for one request: ``"drop"``, ``"429"``, ``"5xx"`` or ``None``."""
        s = self.settings
        if service not in s.fault_services:
            return None
        if not (s.drop_rate or s.rate_429 or s.rate_5xx):
            return None
        with self._lock:
            r = self.rng.random()
        if r < s.drop_rate:
            return "drop"
        r -= s.drop_rate
        if r < s.rate_429:
            return "429"
        r -= s.rate_429
        if r < s.rate_5xx:
            return "5xx"
        return None

    def pick(self, choices: list[int]) -> int:
        with self._lock:
            return self.rng.choice(choices)
