"""Small OData helpers shared by the passes and the rules: timestamps, ``$filter`` pieces and chunking.

Timestamps are UTC. Both services serve them as ISO 8601 text: Business Central ``lastModifiedDateTime`` with
milliseconds, Dataverse ``modifiedon`` with whole seconds (Microsoft Learn: "Query data using the Web API";
Business Central API v2.0 resource types).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice
from typing import Any
from uuid import UUID

from django.utils import timezone
from django.utils.dateparse import parse_datetime


def odata_datetime(value: datetime) -> str:
    """An OData datetime literal in UTC with milliseconds: ``2024-05-01T10:00:00.123Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_modified(value: Any) -> datetime | None:
    """A service timestamp (ISO 8601; a value without offset is UTC) as an aware datetime; None when absent or
    empty. A datetime is returned as is."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    parsed = parse_datetime(str(value).replace("Z", "+00:00"))
    if parsed is not None and timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """``rows`` in lists of at most ``size`` items, read lazily (a stream stays a stream)."""
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def and_filter(*parts: str) -> str:
    """The ``$filter`` expressions in ``parts`` joined with ``and`` (each parenthesised when there are several);
    empty parts are left out; "" when none is left."""
    present = [p.strip() for p in parts if p and p.strip()]
    if len(present) <= 1:
        return present[0] if present else ""
    return " and ".join(f"({p})" for p in present)


def id_filter(column: str, ids: list[UUID]) -> str:
    """``<column> eq <id> or …`` for a list of ids (keep the list short: see the passes' ``ID_FILTER_CHUNK``)."""
    return " or ".join(f"{column} eq {i}" for i in ids)
