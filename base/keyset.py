"""Keyset pagination of the list pages: "Next" and "Previous" links carry the sort key of the last (or first) row
shown, so each page is one indexed range read of ``size + 1`` rows, however deep, and nothing counts the table.

Django's Paginator counts every row (``SELECT COUNT(*)``) and reads page N with ``OFFSET (N-1) * size``, which
grows with the table and the page number; with a million couplings or log rows both take hundreds of milliseconds
(PostgreSQL documentation, "LIMIT and OFFSET": "rows skipped by an OFFSET clause still have to be computed").

The ordering must end with a unique column (the primary key) so that rows tying on the sort key are neither
repeated nor skipped. A cursor is the JSON list of the ordering's values of one row, URL-safe base64; nulls are not
supported in the ordering columns (order only by non-null columns).
"""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import QueryDict

#: The GET parameters of the cursors.
AFTER, BEFORE = "after", "before"


class InvalidCursor(ValueError):
    """A cursor that this page did not write (edited, truncated or of another sort order)."""


@dataclass
class KeysetPage:
    """One page: ``rows`` in display order, and the query strings (without "?") of the pages before and after it
    (``""`` when there is none). ``first_query`` leads back to the first page; ``error`` says why a cursor was
    ignored (then ``rows`` is the first page)."""

    rows: list[Any]
    next_query: str = ""
    previous_query: str = ""
    first_query: str = ""
    is_first: bool = True
    error: str = ""
    ordering: list[str] = field(default_factory=list)

    def __iter__(self) -> Any:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def has_other_pages(self) -> bool:
        return bool(self.next_query or self.previous_query)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def encode_cursor(values: Sequence[Any]) -> str:
    """The cursor of one row's ordering values (datetimes as ISO 8601 with offset, UUIDs as text)."""
    text = json.dumps([_plain(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(queryset: QuerySet[Any], ordering: Sequence[str], cursor: str) -> list[Any]:
    """The ordering values in ``cursor``, converted by each model field. Raises :class:`InvalidCursor`."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidCursor("The page link is damaged; the first page is shown.") from exc
    if not isinstance(raw, list) or len(raw) != len(ordering):
        raise InvalidCursor("The page link belongs to another sort order; the first page is shown.")
    values = []
    for name, value in zip(ordering, raw, strict=True):
        model_field = queryset.model._meta.get_field(name.lstrip("-"))
        if value is None:
            raise InvalidCursor("The page link is damaged; the first page is shown.")
        try:
            values.append(model_field.to_python(value))
        except (ValidationError, TypeError, ValueError) as exc:
            raise InvalidCursor("The page link is damaged; the first page is shown.") from exc
    return values


def _beyond(ordering: Sequence[str], values: Sequence[Any], *, forward: bool) -> Q:
    """Rows strictly after (``forward``) or before the row with ``values`` in ``ordering``: the lexicographic
    comparison, plus a redundant bound on the first column so the database starts its index scan at the cursor."""
    def op(name: str, strict: bool) -> str:
        descending = name.startswith("-")
        later = "lt" if descending == forward else "gt"
        return later if strict else later + "e"

    condition = Q()
    for i, name in enumerate(ordering):
        term = Q(**{f"{n.lstrip('-')}": v for n, v in zip(ordering[:i], values[:i], strict=True)})
        term &= Q(**{f"{name.lstrip('-')}__{op(name, True)}": values[i]})
        condition |= term
    first = ordering[0]
    return Q(**{f"{first.lstrip('-')}__{op(first, False)}": values[0]}) & condition


def _reverse(ordering: Sequence[str]) -> list[str]:
    return [name[1:] if name.startswith("-") else f"-{name}" for name in ordering]


def keyset_page(queryset: QuerySet[Any], ordering: Sequence[str], query: QueryDict, *, size: int) -> KeysetPage:
    """The page of ``queryset`` in ``ordering`` that the ``after`` / ``before`` cursor of ``query`` (the request's
    GET) asks for; the first page without one. ``ordering`` names model fields (``-`` for descending) and ends with
    the primary key. Reads ``size + 1`` rows with one query; never counts. A damaged cursor gives the first page
    with ``error`` set (never an exception)."""
    ordering = list(ordering)
    base = query.copy()
    for name in (AFTER, BEFORE, "page"):
        base.pop(name, None)
    error = ""
    after, before = query.get(AFTER, ""), query.get(BEFORE, "")
    forward, values = True, None
    try:
        if after:
            values = decode_cursor(queryset, ordering, after)
        elif before:
            values, forward = decode_cursor(queryset, ordering, before), False
    except InvalidCursor as exc:
        error, values, forward = str(exc), None, True
    rows_qs = queryset.order_by(*(ordering if forward else _reverse(ordering)))
    if values is not None:
        rows_qs = rows_qs.filter(_beyond(ordering, values, forward=forward))
    rows = list(rows_qs[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if not forward:
        rows.reverse()

    def link(name: str, row: Any) -> str:
        linked = base.copy()
        linked[name] = encode_cursor([getattr(row, n.lstrip("-")) for n in ordering])
        return linked.urlencode()

    has_next = more if forward else values is not None
    has_previous = (values is not None) if forward else more
    return KeysetPage(
        rows=rows,
        next_query=link(AFTER, rows[-1]) if rows and has_next else "",
        previous_query=link(BEFORE, rows[0]) if rows and has_previous else "",
        first_query=base.urlencode(), is_first=values is None, error=error, ordering=ordering)


def bounded_count(queryset: QuerySet[Any], limit: int) -> tuple[int, bool]:
    """How many rows ``queryset`` has, counting at most ``limit + 1``: ``(n, False)`` when exact, ``(limit, True)``
    when there are more (shown as "more than N"); one ``COUNT`` over a ``LIMIT`` subquery, so its cost is bounded."""
    n = queryset.order_by().values("pk")[: limit + 1].count()
    return (limit, True) if n > limit else (n, False)
