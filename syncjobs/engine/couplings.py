"""Bulk writes of coupling rows (BC: table 5331 "CRM Integration Record"): a batch's new pending couplings and its
results are saved in a few statements, inside the batch's transaction, so a batch's couplings and counters commit
together.
"""
from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db import connections, router, transaction

from mappings.models import Coupling
from syncjobs.engine.odata import chunks

#: Couplings per statement when saving a batch's results (well under SQLite's and PostgreSQL's parameter limits).
SAVE_CHUNK = 1000


def save_couplings(updates: list[tuple[Coupling, tuple[str, ...]]]) -> None:
    """Save the named fields of many couplings in a few statements (one ``UPDATE`` per coupling made a full
    synchronization spend most of its time in the database): couplings that set the same fields are grouped, and per
    group of up to :data:`SAVE_CHUNK` couplings the fields holding one value for all of them are written by one
    ``UPDATE ... WHERE id IN (...)`` and the others by one prepared ``UPDATE ... WHERE id = %s`` executed per coupling
    (:func:`_update_each`). ``updates`` holds (saved coupling, field names); call it inside the batch's transaction so
    the batch's couplings and counters commit together."""
    groups: dict[tuple[str, ...], list[Coupling]] = {}
    for coupling, fields in updates:
        groups.setdefault(fields, []).append(coupling)
    for fields, couplings in groups.items():
        for chunk in chunks(couplings, SAVE_CHUNK):
            constant: dict[str, Any] = {}
            varying: list[str] = []
            for name in fields:
                first = getattr(chunk[0], name)
                if all(getattr(coupling, name) == first for coupling in chunk):
                    constant[name] = first
                else:
                    varying.append(name)
            if constant:
                Coupling.objects.filter(pk__in=[coupling.pk for coupling in chunk]).update(**constant)
            if varying:
                _update_each(chunk, varying)


#: The longest name stored on a coupling (``Coupling.bc_name`` / ``Coupling.dataverse_name``).
NAME_LENGTH = 250


def record_name(row: dict[str, Any] | None, name_property: str) -> str | None:
    """The primary name of a record as read or written: ``row[name_property]`` as text, cut to :data:`NAME_LENGTH`
    characters; None when the row or the property is missing or empty (BC: CRM Setup Defaults.GetNameFieldNo; the
    Dataverse table's primary name column)."""
    if not row or not name_property:
        return None
    value = row.get(name_property)
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text[:NAME_LENGTH] or None


def set_record_names(coupling: Coupling, *, bc_name: str | None, dataverse_name: str | None) -> tuple[str, ...]:
    """Set the names of a coupling's two records where a new one is known; returns the names of the fields changed
    (for :func:`save_couplings`). A name that is not known (None) keeps the stored one."""
    changed: list[str] = []
    for field_name, value in (("bc_name", bc_name), ("dataverse_name", dataverse_name)):
        if value is not None and getattr(coupling, field_name) != value:
            setattr(coupling, field_name, value)
            changed.append(field_name)
    return tuple(changed)


def insert_couplings(couplings: list[Coupling]) -> None:
    """Insert new (unsaved) couplings in one transaction and set their ids: one prepared ``INSERT`` executed per row,
    then one query for the ids by (connection, Dataverse table, Dataverse id), which is unique
    (``coupling_row_unique``). The same rows as ``bulk_create``, which compiled the SQL value by value and took a
    third of the engine's own time in a full synchronization. Raises ``IntegrityError`` (nothing inserted) when one
    of the couplings exists already."""
    if not couplings:
        return
    alias = router.db_for_write(Coupling)
    connection = connections[alias]
    quote = connection.ops.quote_name
    fields = [field for field in Coupling._meta.concrete_fields if not field.primary_key]
    sql = (f"INSERT INTO {quote(Coupling._meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    params = [[field.get_db_prep_save(field.pre_save(coupling, True), connection) for field in fields]
              for coupling in couplings]
    groups: dict[tuple[Any, str], list[UUID]] = {}
    for coupling in couplings:
        groups.setdefault((coupling.connection_id, coupling.dataverse_table), []).append(coupling.dataverse_id)
    ids: dict[tuple[Any, str, UUID], int] = {}
    with transaction.atomic(using=alias):
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)
        for (connection_id, table), dataverse_ids in groups.items():
            for chunk in chunks(dataverse_ids, SAVE_CHUNK):
                rows = Coupling.objects.using(alias).filter(
                    connection_id=connection_id, dataverse_table=table, dataverse_id__in=chunk,
                ).values_list("dataverse_id", "pk")
                ids.update(((connection_id, table, dataverse_id), pk) for dataverse_id, pk in rows)
    for coupling in couplings:
        coupling.pk = ids[(coupling.connection_id, coupling.dataverse_table, coupling.dataverse_id)]
        coupling._state.adding = False
        coupling._state.db = alias


def _update_each(couplings: list[Coupling], names: list[str]) -> None:
    """``UPDATE ... SET <names> WHERE id = %s`` once per coupling through one ``executemany`` (one prepared statement;
    Django's ``bulk_update`` builds a ``CASE WHEN`` expression per row and field, which cost more than the rows'
    own saves at 1,000 couplings per batch)."""
    connection = connections[router.db_for_write(Coupling)]
    quote = connection.ops.quote_name
    fields = [Coupling._meta.get_field(name) for name in names]
    pk = Coupling._meta.pk
    assert pk is not None
    sql = (f"UPDATE {quote(Coupling._meta.db_table)} SET "
           + ", ".join(f"{quote(field.column)} = %s" for field in fields)
           + f" WHERE {quote(pk.column)} = %s")
    params = [[field.get_db_prep_save(getattr(coupling, field.attname), connection) for field in fields]
              + [coupling.pk] for coupling in couplings]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)

