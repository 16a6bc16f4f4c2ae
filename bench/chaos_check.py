"""The row-by-row check of ``bench/chaos.py``: after a full synchronization under faults, compare Business Central,
Dataverse and the portal's couplings table record by record.

For each checked mapping (:data:`CHECKED_PAIRS`: the tables ``python -m emulators serve --scale N`` grows, i.e.
ITEM-PRODUCT items -> products and CUSTOMER customers -> accounts) :func:`compare_pair` counts

* duplicates: Dataverse rows beyond the first that carry the natural key of one BC record (item number ->
  ``productnumber``, customer name -> account ``name``), plus couplings beyond the first for one BC record or one
  Dataverse row (BC: table 5331 "CRM Integration Record" allows one of each);
* missing records: BC records inside the mapping's table filter (BC: table 5335 Integration Table Mapping, Table
  Filter) with no coupling, or whose coupling points to a Dataverse row that does not exist.

The readers use the public APIs only: the BC API v2.0 and the Dataverse Web API over HTTPS with client-credentials
tokens (Microsoft Learn: "Query data using the Web API", "Server-driven paging in OData"), and the couplings table
through SQL. Pure functions (:func:`compare_pair`) take plain rows so tests can plant a duplicate or a missing
record.
"""
from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests


@dataclass(frozen=True)
class CheckedPair:
    """One mapping whose two sides are compared row by row.

    ``bc_table`` is the coupling's BC table name (``mappings_coupling.bc_table``); ``bc_entity_set`` the BC API v2.0
    entity set; ``bc_key`` / ``dv_key`` the natural key on each side; ``bc_in_scope`` the mapping's table filter as a
    predicate over a BC row (the default configuration's filter: ``blocked eq false`` for items, ``blocked eq ' '``
    for customers); ``dv_in_scope`` the integration table filter as a predicate over a Dataverse row.
    """

    mapping: str
    bc_table: str
    bc_entity_set: str
    bc_key: str
    dv_table: str
    dv_entity_set: str
    dv_id: str
    dv_key: str
    bc_in_scope: Callable[[dict[str, Any]], bool]
    dv_in_scope: Callable[[dict[str, Any]], bool]
    custom_api: bool = False
    dv_key_unique: bool = True


CHECKED_PAIRS = (
    CheckedPair("ITEM-PRODUCT", "Item", "items", "number", "product", "products", "productid", "productnumber",
                bc_in_scope=lambda row: not row.get("blocked"),
                dv_in_scope=lambda row: row.get("producttypecode") in (1, None)),
    CheckedPair("CUSTOMER", "Customer", "customers", "displayName", "account", "accounts", "accountid", "name",
                bc_in_scope=lambda row: (row.get("blocked") or " ").strip() == "",
                dv_in_scope=lambda row: row.get("customertypecode") == 3),
    # Unit group mode: one unit per item unit of measure, named by its code in the item's own unit group, so the
    # name repeats across groups and only the couplings can tell a duplicate.
    CheckedPair("ITEM UOM", "Item Unit of Measure", "itemUnitsOfMeasure", "itemNumber", "uom", "uoms", "uomid",
                "name", bc_in_scope=lambda row: True, dv_in_scope=lambda row: True, custom_api=True,
                dv_key_unique=False),
)


@dataclass
class PairFindings:
    """What :func:`compare_pair` found for one mapping: counts and up to ``examples`` sample descriptions."""

    mapping: str
    bc_records: int = 0
    dv_rows: int = 0
    couplings: int = 0
    duplicates: int = 0
    missing: int = 0
    examples: list[str] = field(default_factory=list)

    def note(self, text: str, limit: int = 5) -> None:
        if len(self.examples) < limit:
            self.examples.append(text)


def compare_pair(pair: CheckedPair, *, bc_rows: Iterable[dict[str, Any]], dv_rows: Iterable[dict[str, Any]],
                 couplings: Iterable[tuple[str, str]]) -> PairFindings:
    """Compare one mapping's sides row by row.

    ``bc_rows`` are BC API rows (``id`` and ``pair.bc_key`` at least, plus the fields of ``bc_in_scope``);
    ``dv_rows`` Dataverse rows (``pair.dv_id``, ``pair.dv_key`` and the fields of ``dv_in_scope``); ``couplings``
    ``(bc_id, dataverse_id)`` pairs of ``pair.bc_table`` -> ``pair.dv_table`` (ids as strings, any case). Returns the
    counts of duplicates and missing records (see the module doc).
    """
    findings = PairFindings(pair.mapping)
    in_scope = [row for row in bc_rows if pair.bc_in_scope(row)]
    findings.bc_records = len(in_scope)
    dv_by_id: dict[str, dict[str, Any]] = {}
    dv_key_count: Counter[str] = Counter()
    for row in dv_rows:
        dv_by_id[str(row[pair.dv_id]).lower()] = row
        if pair.dv_in_scope(row) and row.get(pair.dv_key) not in (None, ""):
            dv_key_count[str(row[pair.dv_key])] += 1
    findings.dv_rows = len(dv_by_id)
    coupled_dv: dict[str, str] = {}
    by_bc: dict[str, list[str]] = {}
    pairs = [(str(bc).lower(), str(dv).lower()) for bc, dv in couplings]
    findings.couplings = len(pairs)
    for bc_id, dv_id in pairs:
        by_bc.setdefault(bc_id, []).append(dv_id)
        if dv_id in coupled_dv:
            findings.duplicates += 1
            findings.note(f"{pair.mapping}: Dataverse row {dv_id} coupled to BC {coupled_dv[dv_id]} and {bc_id}")
        coupled_dv[dv_id] = bc_id
    for bc_id, dv_ids in by_bc.items():
        if len(dv_ids) > 1:
            findings.duplicates += len(dv_ids) - 1
            findings.note(f"{pair.mapping}: BC record {bc_id} has {len(dv_ids)} couplings")
    seen_keys: set[str] = set()
    for row in in_scope:
        bc_id = str(row["id"]).lower()
        key = str(row.get(pair.bc_key) or "")
        if pair.dv_key_unique and key and key not in seen_keys:
            seen_keys.add(key)
            extra = dv_key_count.get(key, 0) - 1
            if extra > 0:
                findings.duplicates += extra
                findings.note(f"{pair.mapping}: {extra + 1} Dataverse {pair.dv_table} rows with {pair.dv_key} {key!r}")
        dv_ids = by_bc.get(bc_id)
        if not dv_ids:
            findings.missing += 1
            findings.note(f"{pair.mapping}: BC {pair.bc_table} {key!r} ({bc_id}) has no coupling")
        elif not any(dv_id in dv_by_id for dv_id in dv_ids):
            findings.missing += 1
            findings.note(f"{pair.mapping}: BC {pair.bc_table} {key!r} is coupled to a Dataverse row that does "
                          "not exist")
    return findings


# --- readers -----------------------------------------------------------------------------------------------------


class ApiReader:
    """Pages through the emulators' BC API v2.0 and Dataverse Web API with client-credentials tokens.

    ``info`` is the JSON line of ``python -m emulators serve``; ``token_for(scope)`` returns a bearer token (the
    caller passes ``emulators.testing.client_token``). Requests that fail (a fault left on, a dropped connection)
    are retried up to ``retries`` times with a 1-second pause; then ``requests.HTTPError`` or
    ``requests.ConnectionError`` is raised.
    """

    def __init__(self, info: dict[str, Any], session: requests.Session, token_for: Callable[[str], str], *,
                 retries: int = 8) -> None:
        self.info = info
        self.session = session
        self.retries = retries
        self._headers = {
            "dv": {"Authorization": f"Bearer {token_for(info['dataverse_scope'])}", "OData-Version": "4.0",
                   "Accept": "application/json", "Prefer": "odata.maxpagesize=5000"},
            "bc": {"Authorization": f"Bearer {token_for(info['business_central_scope'])}",
                   "Accept": "application/json", "Prefer": "odata.maxpagesize=5000"},
        }

    def _get(self, url: str, side: str) -> dict[str, Any]:
        for attempt in range(self.retries + 1):
            try:
                response = self.session.get(url, headers=self._headers[side], timeout=120)
                if response.status_code < 400:
                    return dict(response.json())
                if attempt == self.retries:
                    response.raise_for_status()
            except requests.ConnectionError:
                if attempt == self.retries:
                    raise
            time.sleep(1.0)
        raise AssertionError("unreachable")

    def _pages(self, url: str, side: str) -> Iterator[dict[str, Any]]:
        next_url: str | None = url
        while next_url:
            body = self._get(next_url, side)
            yield from body.get("value", [])
            next_url = body.get("@odata.nextLink")

    def bc_rows(self, entity_set: str, select: list[str], company_id: str, *,
                custom_api: bool = False) -> list[dict[str, Any]]:
        """All rows of a BC API v2.0 entity set (or of the companion extension's custom API when ``custom_api``) of
        company ``company_id``, with ``select`` fields."""
        root = self.info["bc_custom_api_url" if custom_api else "bc_api_url"]
        url = f"{root}/companies({company_id})/{entity_set}?$select={','.join(select)}"
        return list(self._pages(url, "bc"))

    def dv_rows(self, entity_set: str, select: list[str]) -> list[dict[str, Any]]:
        """All rows of a Dataverse table (entity set name) with ``select`` columns."""
        return list(self._pages(f"{self.info['dataverse_api_url']}/{entity_set}?$select={','.join(select)}", "dv"))


def read_couplings(cursor: Any, pair: CheckedPair) -> list[tuple[str, str]]:
    """``(bc_id, dataverse_id)`` of every coupling of ``pair`` in the portal's couplings table (a DB-API cursor)."""
    cursor.execute("SELECT bc_id, dataverse_id FROM mappings_coupling WHERE bc_table = %s AND dataverse_table = %s",
                   (pair.bc_table, pair.dv_table))
    return [(str(uuid.UUID(str(bc))), str(uuid.UUID(str(dv)))) for bc, dv in cursor.fetchall()]


#: Record numbers and ids in a failure message (``GI0019236``, ``9805``, ``S00003``), replaced to group messages.
NUMBERED = re.compile(r"\b[A-Z]*\d[\w-]*\b")


@dataclass
class ReviewFindings:
    """The state of the full synchronization review after a trial: lines by status and failed records."""

    lines: dict[str, str]
    failed_records: int
    failed_by_line: dict[str, int] = field(default_factory=dict)
    failure_messages: list[str] = field(default_factory=list)

    @property
    def error_lines(self) -> list[str]:
        return sorted(name for name, status in self.lines.items() if status == "Error")

    @property
    def unfinished_lines(self) -> list[str]:
        return sorted(name for name, status in self.lines.items() if status not in ("Finished", "Error"))


def read_review(cursor: Any) -> ReviewFindings:
    """The review lines that run (not removed, not No Records Found) with their job queue entry status, and the
    failed records of their last synchronization jobs."""
    cursor.execute("SELECT name, job_queue_entry_status FROM syncjobs_fullsyncreviewline "
                   "WHERE NOT excluded AND recommendation <> 'NoRecordsFound'")
    lines = {name: status or "NotStarted" for name, status in cursor.fetchall()}
    cursor.execute("SELECT l.name, sum(j.failed) FROM syncjobs_synchronizationjob j "
                   "JOIN syncjobs_fullsyncreviewline l ON j.id IN (l.to_int_table_job_id, l.from_int_table_job_id) "
                   "GROUP BY l.name HAVING sum(j.failed) > 0")
    failed = {name: int(count) for name, count in cursor.fetchall()}
    cursor.execute("SELECT l.name, substr(e.message, 1, 300) FROM syncjobs_synchronizationerror e "
                   "JOIN syncjobs_fullsyncreviewline l ON e.job_id IN (l.to_int_table_job_id, l.from_int_table_job_id)")
    kinds = Counter((name, NUMBERED.sub("#", message)) for name, message in cursor.fetchall())
    messages = [f"{name}: {count} x {message}" for (name, message), count in kinds.most_common(6)]
    return ReviewFindings(lines=lines, failed_records=sum(failed.values()), failed_by_line=failed,
                          failure_messages=messages)


def check_all(reader: ApiReader, cursor: Any, company_id: str) -> list[PairFindings]:
    """Read both sides and the couplings of every :data:`CHECKED_PAIRS` mapping and compare them."""
    results = []
    for pair in CHECKED_PAIRS:
        bc_select = ["id", pair.bc_key] + ([] if pair.custom_api else ["blocked"])
        bc_rows = reader.bc_rows(pair.bc_entity_set, bc_select, company_id, custom_api=pair.custom_api)
        dv_select = [pair.dv_id, pair.dv_key] + {"product": ["producttypecode"], "account": ["customertypecode"]}.get(
            pair.dv_table, [])
        dv_rows = reader.dv_rows(pair.dv_entity_set, dv_select)
        results.append(compare_pair(pair, bc_rows=bc_rows, dv_rows=dv_rows, couplings=read_couplings(cursor, pair)))
    return results
