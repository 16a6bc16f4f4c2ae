"""State of the Business Central emulator (companies and their rows), its error type and the formats of ETags and
``lastModifiedDateTime``.

Sources: Microsoft Learn "Business Central API (v2.0)" (``lastModifiedDateTime`` in UTC with milliseconds, weak
``@odata.etag`` values) and OASIS "OData JSON Format Version 4.01", section "Error Response" (the envelope
``{"error": {"code", "message"}}``; BC ends the message with a ``CorrelationId``).
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

BC_JSON = "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8"
_NS = uuid.UUID("5b0c2f7e-8d1a-4c3b-9e6f-1a2b3c4d5e6f")


def now_bc() -> str:
    """UTC now as BC writes ``lastModifiedDateTime`` (milliseconds, ``Z``)."""
    n = dt.datetime.now(dt.UTC)
    return n.strftime("%Y-%m-%dT%H:%M:%S.") + f"{n.microsecond // 1000:03d}Z"


def stable_id(*parts: str) -> str:
    """Deterministic SystemId for seeded rows (stable across restarts)."""
    return str(uuid.uuid5(_NS, "/".join(parts)))


@dataclass
class BCState:
    """Companies and their rows: ``companies[id] = {"row": {...}, "tables": {set: {id: row}}}``."""

    environment: str = "production"
    companies: dict[str, dict[str, Any]] = field(default_factory=dict)
    version: int = 1
    counters: dict[str, int] = field(default_factory=dict)


class BCError(Exception):
    """An error in BC's envelope ``{"error": {"code", "message"}}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def etag(version: int) -> str:
    """Opaque weak ETag like BC's ``W/"JzQ0Oz..."`` (base64 of the record version)."""
    inner = f"{version}1"
    raw = f"'{len(inner) + 2};{inner};00;'".encode()
    return 'W/"' + base64.b64encode(raw).decode() + '"'


def clone_state(state: BCState) -> BCState:
    """A copy of ``state`` whose tables can change without touching ``state`` (rows themselves are replaced, never
    changed in place, so they are shared)."""
    return BCState(state.environment,
                   {cid: {"row": c["row"], "tables": {n: dict(t) for n, t in c["tables"].items()}}
                    for cid, c in state.companies.items()},
                   state.version, dict(state.counters))
