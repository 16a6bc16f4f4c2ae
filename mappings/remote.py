"""Reading the records of a mapping's two sides for the coupling pages (names, search, links), through the clients
of ``connections.clients``. Views call these services; nothing here writes.

Links: the BC web client page of a record (``bc_web_client_url`` + page + SystemId filter) and the Dataverse row
(``{dataverse_url}/main.aspx?etn=<logical name>&id=<guid>&pagetype=entityrecord``).
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from connections.clients import (
    BusinessCentralClient,
    DataverseClient,
    business_central_client_for,
    dataverse_client_for,
)
from connections.models import ConnectionSetup
from mappings.catalogue import BCTable, DataverseTable, bc_table, dataverse_table

#: BC web client card/list page of each table (BC page ids of the Base Application).
BC_PAGES = {
    "Customer": 21, "Vendor": 26, "Item": 30, "Contact": 5050, "Resource": 76, "Salesperson/Purchaser": 5116,
    "Opportunity": 5124, "Sales Header": 42, "Sales Invoice Header": 132, "Currency": 5, "Payment Terms": 4,
    "Shipment Method": 11, "Shipping Agent": 428, "Unit of Measure": 209, "Price List Header": 7016,
}
#: Dataverse columns searched besides the primary name column (record numbers).
NUMBER_COLUMNS = ("accountnumber", "productnumber", "isocurrencycode", "ordernumber", "invoicenumber",
                  "internalemailaddress")
SEARCH_LIMIT = 25
ID_CHUNK = 40


@dataclass(frozen=True)
class RemoteRecord:
    """One record of either side: id, a display label (number and name) and the link that opens it."""

    id: uuid.UUID
    label: str
    url: str


def _quote(text: str) -> str:
    return text.replace("'", "''")


def bc_record_url(connection: ConnectionSetup, table: str, record_id: uuid.UUID | str) -> str:
    """The BC web client address of a record ('' when the connection has no web client URL)."""
    base = (connection.bc_web_client_url or "").rstrip("/")
    if not base:
        return ""
    query = {"page": BC_PAGES.get(table, 0), "filter": f"'SystemId' IS '{record_id}'"}
    if connection.bc_company_name:
        query = {"company": connection.bc_company_name, **query}
    return f"{base}/?{urlencode(query)}"


def dataverse_record_url(connection: ConnectionSetup, logical_name: str, row_id: uuid.UUID | str) -> str:
    """The Dataverse environment's address of a row."""
    base = (connection.dataverse_url or "").rstrip("/")
    return f"{base}/main.aspx?{urlencode({'etn': logical_name, 'id': str(row_id), 'pagetype': 'entityrecord'})}"


def _bc_label(side: BCTable, row: dict[str, Any]) -> str:
    number = row.get(side.field(side.number_field).api_property)
    name = row.get(side.field(side.name_field).api_property)
    return " · ".join(dict.fromkeys(str(v) for v in (number, name) if v not in (None, ""))) or str(row.get("id"))


def _dv_label(side: DataverseTable, row: dict[str, Any]) -> str:
    parts = [row.get(side.primary_name)] + [row.get(c) for c in NUMBER_COLUMNS if c in side.columns]
    return " · ".join(dict.fromkeys(str(v) for v in parts if v not in (None, ""))) or str(row.get(side.primary_id))


def _bc_select(side: BCTable) -> list[str]:
    return sorted({side.key_property, side.field(side.number_field).api_property,
                   side.field(side.name_field).api_property})


def _dv_select(side: DataverseTable) -> list[str]:
    return sorted({side.primary_id, side.primary_name} | {c for c in NUMBER_COLUMNS if c in side.columns})


def bc_records(connection: ConnectionSetup, table: str, *, ids: Iterable[uuid.UUID] = (), search: str = "",
               bc: BusinessCentralClient | None = None) -> list[RemoteRecord]:
    """BC records of ``table`` by SystemId (all of ``ids``) or by a search on number and name (up to 25).
    Raises the clients' ``ClientError`` when BC cannot be read.

    The search reads the number and the name one after the other and merges them: BC refuses ``or`` across two
    fields in one ``$filter`` (Microsoft Learn: "Known limitations with Business Central OData"); ``or`` on one
    field (the id list) is allowed."""
    side = bc_table(table)
    bc = bc or business_central_client_for(connection)
    number, name = side.field(side.number_field).api_property, side.field(side.name_field).api_property
    filters: list[str] = []
    if search:
        term = _quote(search.strip())
        filters = [f"contains({field},'{term}')" for field in dict.fromkeys((number, name))]
    else:
        id_list = [str(i) for i in ids]
        filters = [" or ".join(f"id eq {i}" for i in id_list[k:k + ID_CHUNK]) for k in range(0, len(id_list), ID_CHUNK)]
    found: dict[uuid.UUID, RemoteRecord] = {}
    for expression in filters:
        for row in bc.iter_rows(side.entity_set, filter=expression, select=_bc_select(side), api=side.api):
            record_id = uuid.UUID(str(row["id"]))
            found.setdefault(record_id, RemoteRecord(record_id, _bc_label(side, row),
                                                     bc_record_url(connection, table, row["id"])))
            if search and len(found) >= SEARCH_LIMIT:
                return list(found.values())
    return list(found.values())


def dataverse_rows(connection: ConnectionSetup, logical_name: str, *, ids: Iterable[uuid.UUID] = (), search: str = "",
                   extra_filter: str = "", dataverse: DataverseClient | None = None) -> list[RemoteRecord]:
    """Dataverse rows of ``logical_name`` by id (all of ``ids``) or by a search on the name and number columns (up to
    25), within ``extra_filter``. Raises the clients' ``ClientError`` when Dataverse cannot be read."""
    side = dataverse_table(logical_name)
    dataverse = dataverse or dataverse_client_for(connection)
    if search:
        term = _quote(search.strip())
        columns = [side.primary_name] + [c for c in NUMBER_COLUMNS if c in side.columns]
        filters = ["(" + " or ".join(f"contains({c},'{term}')" for c in columns) + ")"]
    else:
        id_list = [str(i) for i in ids]
        filters = ["(" + " or ".join(f"{side.primary_id} eq {i}" for i in id_list[k:k + ID_CHUNK]) + ")"
                   for k in range(0, len(id_list), ID_CHUNK)]
    found: list[RemoteRecord] = []
    for expression in filters:
        full = f"{expression} and ({extra_filter})" if extra_filter else expression
        for row in dataverse.iter_rows(side.entity_set, select=_dv_select(side), filter=full):
            row_id = row[side.primary_id]
            found.append(RemoteRecord(uuid.UUID(str(row_id)), _dv_label(side, row),
                                      dataverse_record_url(connection, logical_name, row_id)))
            if search and len(found) >= SEARCH_LIMIT:
                return found
    return found
