"""What the engine needs to know about each side's tables, read from the MAPPINGS catalogue (`mappings.catalogue`).

This module is the single place where the engine reads the catalogue, so the passes only see two small shapes:
:class:`BCTableInfo` (entity set, API route, key and modified-on properties, BC field name -> API property) and
:class:`DVTableInfo` (entity set, primary id / name / modifiedon columns, lookups with their targets and navigation
properties for ``@odata.bind`` (Microsoft Learn: "Associate and disassociate table rows using the Web API"),
picklist options).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from django.core.exceptions import ValidationError

from mappings import catalogue
from syncjobs.engine.errors import SynchronizationNotPossible


@dataclass(frozen=True)
class BCTableInfo:
    """A BC table as the API serves it. ``fields`` maps BC field names ("No.") to API properties ("number")."""

    name: str
    entity_set: str
    api: str = "v2.0"
    key: str = "id"
    modified: str = "lastModifiedDateTime"
    fields: dict[str, str] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    read_only: frozenset[str] = frozenset()
    natural_key: str = ""
    name_property: str = ""

    def prop(self, field_name: str) -> str:
        """The API property of a BC field name (an API property name is accepted as is).

        Raises SynchronizationNotPossible naming the field and the table when the catalogue does not know it.
        """
        if field_name in self.fields:
            return self.fields[field_name]
        if field_name in self.fields.values():
            return field_name
        raise SynchronizationNotPossible(
            f"BC table {self.name} has no field {field_name!r}: correct the integration field mapping"
        )


@dataclass(frozen=True)
class DVLookup:
    """A Dataverse lookup column: its targets and the navigation property per target (Microsoft Learn: "Associate
    and disassociate table rows using the Web API")."""

    column: str
    targets: tuple[str, ...]
    navs: dict[str, str] = field(default_factory=dict)

    def nav_for(self, target: str) -> str:
        """The navigation property for ``target`` (the column name itself for ordinary lookups)."""
        return self.navs.get(target) or (self.column if len(self.targets) <= 1 else f"{self.column}_{target}")


@dataclass(frozen=True)
class DVTableInfo:
    """A Dataverse table: entity set, primary id/name, modifiedon, columns, lookups and picklist options."""

    logical_name: str
    entity_set: str
    primary_id: str
    primary_name: str = ""
    modified_on: str = "modifiedon"
    columns: frozenset[str] = frozenset()
    lookups: dict[str, DVLookup] = field(default_factory=dict)
    picklists: frozenset[str] = frozenset()
    read_only: frozenset[str] = frozenset()
    types: dict[str, str] = field(default_factory=dict)

    def read_name(self, column: str) -> str:
        """The name under which a column comes back in a GET: ``_<lookup>_value`` for lookups (Microsoft Learn:
        "Lookup properties")."""
        return f"_{column}_value" if column in self.lookups else column


@lru_cache(maxsize=256)
def bc_info(name: str) -> BCTableInfo:
    """The BC table ``name`` ("Item", "Customer", "Salesperson/Purchaser") from the catalogue.

    Raises SynchronizationNotPossible when the catalogue does not describe it.
    """
    try:
        table = catalogue.bc_table(name)
    except ValidationError as exc:
        raise SynchronizationNotPossible(" ".join(exc.messages)) from exc
    fields = {f.name: f.api_property for f in table.fields}
    return BCTableInfo(
        name=name,
        entity_set=table.entity_set,
        api=table.api,
        key=table.key_property,
        modified=table.modified_property,
        fields=fields,
        types={f.api_property: f.type for f in table.fields},
        read_only=frozenset(f.api_property for f in table.fields if f.read_only),
        natural_key=fields.get(table.number_field, ""),
        name_property=fields.get(table.name_field, ""),
    )


@lru_cache(maxsize=256)
def dv_info(logical_name: str) -> DVTableInfo:
    """The Dataverse table ``logical_name`` from the catalogue.

    Raises SynchronizationNotPossible when the catalogue does not describe it.
    """
    try:
        table = catalogue.dataverse_table(logical_name)
    except ValidationError as exc:
        raise SynchronizationNotPossible(" ".join(exc.messages)) from exc
    lookups = {
        name: DVLookup(name, column.targets, {t: column.navigation_property(t) for t in column.targets})
        for name, column in table.columns.items()
        if column.is_lookup
    }
    return DVTableInfo(
        logical_name=logical_name,
        entity_set=table.entity_set,
        primary_id=table.primary_id,
        primary_name=table.primary_name,
        modified_on=table.modified_on,
        columns=frozenset(table.columns),
        lookups=lookups,
        picklists=frozenset(name for name, column in table.columns.items() if column.type == "Picklist"),
        read_only=frozenset(name for name, column in table.columns.items() if column.read_only),
        types={name: column.type for name, column in table.columns.items()},
    )
