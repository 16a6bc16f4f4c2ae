"""In-memory Dataverse organization state with indexes, change tracking and transactions.

Rows are plain dicts keyed by column logical name (lookups hold the target GUID; polymorphic
lookups also keep ``"<col>@t"`` = target table).  ``versionnumber`` comes from one organization-wide
counter (the row version behind ETags and change tracking: Microsoft Learn "Perform conditional operations using the
Web API", "Use change tracking to synchronize data with external systems").  Deleted rows leave a tombstone
``{id: version}`` so that delta queries report them.

All mutations go through :class:`Txn`, which keeps an undo log: a ``$batch`` change set or a
``CreateMultiple``/``UpdateMultiple``/``UpsertMultiple`` request rolls back completely on the first
failure ("Execute batch operations using the Web API", "Use bulk operation messages": all-or-nothing on standard
tables).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from .schema import STANDARD_TABLES

_NOW: tuple[int, str] = (0, "")


def now_iso() -> str:
    """Current UTC time as Dataverse writes it (whole seconds, ``Z``). Formatted once per second: a bulk message
    stamps thousands of rows, and ``strftime`` per row was a tenth of the emulator's time on ``UpsertMultiple``."""
    global _NOW
    second = int(time.time())
    cached = _NOW
    if cached[0] != second:
        cached = (second, dt.datetime.fromtimestamp(second, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        _NOW = cached
    return cached[1]


@dataclass
class OrgState:
    """Everything that persists for one Dataverse organization (pickled to the data directory)."""

    org_id: str
    root_bu_id: str
    base_currency_id: str = ""
    rows: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: {t: {} for t in STANDARD_TABLES})
    version: int = 1000
    tombstones: dict[str, dict[str, int]] = field(default_factory=lambda: {t: {} for t in STANDARD_TABLES})
    n2n: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    keys: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: Components of the imported solutions, by solution unique name: ``(custom tables, {table: [added columns]})``
    #: as :mod:`.components` parses them from the solution's ``customizations.xml`` (the organization's schema is
    #: the standard tables plus these, :func:`.schema.build_schema`).
    components: dict[str, tuple[list[Any], dict[str, list[Any]]]] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    #: Option sets changed by ``InsertOptionValue``/``UpdateOptionValue``/``DeleteOptionValue``:
    #: ``"<table>.<column>"`` -> the whole option set {value: label}; columns absent here use the schema's options.
    option_sets: dict[str, dict[int, str]] = field(default_factory=dict)


def _norm(v: Any) -> Any:
    return v.lower() if isinstance(v, str) else v


class Txn:
    """Undo log of one atomic unit of work."""

    def __init__(self) -> None:
        self.undo: list[tuple[Any, ...]] = []


#: Built-in uniqueness rules: table -> [(index name, columns)].
UNIQUE_RULES: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "transactioncurrency": [("isocurrencycode", ("isocurrencycode",))],
    "product": [("productnumber", ("productnumber",))],
    "productpricelevel": [("pricelistitem", ("pricelevelid", "productid", "uomid"))],
    "solution": [("uniquename", ("uniquename",))],
}


class Store:
    """Indexes and primitive row operations over an :class:`OrgState`."""

    def __init__(self, state: OrgState) -> None:
        self.state = state
        self.idx: dict[str, dict[str, dict[tuple[Any, ...], str]]] = {}
        self.rebuild_indexes()

    def index_defs(self, table: str) -> list[tuple[str, tuple[str, ...]]]:
        defs = list(UNIQUE_RULES.get(table, []))
        for k in self.state.keys.get(table, []):
            defs.append(("key:" + k["SchemaName"], tuple(k["KeyAttributes"])))
        return defs

    def rebuild_indexes(self) -> None:
        self.idx = {}
        for table in self.state.rows:
            self.idx[table] = {}
            for name, cols in self.index_defs(table):
                m: dict[tuple[Any, ...], str] = {}
                for rid, row in self.state.rows[table].items():
                    k = tuple(_norm(row.get(c)) for c in cols)
                    if any(x is not None for x in k):
                        m[k] = rid
                self.idx[table][name] = m

    def key_of(self, row: dict[str, Any], cols: tuple[str, ...]) -> tuple[Any, ...] | None:
        k = tuple(_norm(row.get(c)) for c in cols)
        return k if any(x is not None for x in k) else None

    def conflicts(self, table: str, rid: str, row: dict[str, Any]) -> tuple[str, tuple[str, ...]] | None:
        """Return the (index name, columns) that ``row`` would violate, or ``None``."""
        for name, cols in self.index_defs(table):
            k = self.key_of(row, cols)
            if k is None:
                continue
            other = self.idx[table].get(name, {}).get(k)
            if other is not None and other != rid:
                return name, cols
        return None

    def find_by(self, table: str, index: str, values: tuple[Any, ...]) -> str | None:
        return self.idx[table].get(index, {}).get(tuple(_norm(v) for v in values))

    def _unindex(self, table: str, rid: str, row: dict[str, Any]) -> None:
        for name, cols in self.index_defs(table):
            k = self.key_of(row, cols)
            if k is not None and self.idx[table].get(name, {}).get(k) == rid:
                del self.idx[table][name][k]

    def _index(self, table: str, rid: str, row: dict[str, Any]) -> None:
        for name, cols in self.index_defs(table):
            k = self.key_of(row, cols)
            if k is not None:
                self.idx[table].setdefault(name, {})[k] = rid

    def next_version(self) -> int:
        self.state.version += 1
        return self.state.version

    def put(self, txn: Txn, table: str, rid: str, row: dict[str, Any]) -> None:
        """Insert or replace a row (``versionnumber`` must already be set by the caller)."""
        rows = self.state.rows[table]
        old = rows.get(rid)
        if old is not None:
            self._unindex(table, rid, old)
        rows[rid] = row
        self._index(table, rid, row)
        txn.undo.append(("row", table, rid, old))

    def delete(self, txn: Txn, table: str, rid: str) -> None:
        rows = self.state.rows[table]
        old = rows.pop(rid)
        self._unindex(table, rid, old)
        tomb = self.state.tombstones[table]
        txn.undo.append(("row", table, rid, old))
        txn.undo.append(("tomb", table, rid, tomb.get(rid)))
        tomb[rid] = self.next_version()

    def associate(self, txn: Txn, rel: str, pair: tuple[str, str]) -> None:
        s = self.state.n2n.setdefault(rel, set())
        if pair not in s:
            s.add(pair)
            txn.undo.append(("n2n", rel, pair, False))

    def disassociate(self, txn: Txn, rel: str, pair: tuple[str, str]) -> bool:
        s = self.state.n2n.setdefault(rel, set())
        if pair in s:
            s.discard(pair)
            txn.undo.append(("n2n", rel, pair, True))
            return True
        return False

    def rollback(self, txn: Txn) -> None:
        """Undo every change recorded in ``txn`` (newest first)."""
        for entry in reversed(txn.undo):
            kind = entry[0]
            if kind == "row":
                _, table, rid, old = entry
                rows = self.state.rows[table]
                cur = rows.get(rid)
                if cur is not None:
                    self._unindex(table, rid, cur)
                if old is None:
                    rows.pop(rid, None)
                else:
                    rows[rid] = old
                    self._index(table, rid, old)
            elif kind == "tomb":
                _, table, rid, prev = entry
                if prev is None:
                    self.state.tombstones[table].pop(rid, None)
                else:
                    self.state.tombstones[table][rid] = prev
            elif kind == "n2n":
                _, rel, pair, was_present = entry
                s = self.state.n2n.setdefault(rel, set())
                if was_present:
                    s.add(pair)
                else:
                    s.discard(pair)
        txn.undo.clear()
