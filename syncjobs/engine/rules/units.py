"""Units of measure and unit groups, BC -> Dataverse (BC: codeunit 5334 "CRM Setup Defaults", mappings UNIT OF
MEASURE, UNIT GROUP, ITEM UOM and RESOURCE UOM; codeunit 5341 "CRM Int. Table. Subscriber").

* Unit-of-measure mode: one BC unit of measure becomes one Dataverse unit group (``uomschedule``) named after it,
  whose base unit Dataverse creates with the group (Microsoft Learn: "UoMSchedule table/entity reference").
* Unit group mode: a BC unit group (table 5400 "Unit Group", one per item or resource, created by BC's codeunit 5367
  "CRM Update Unit Group Mapping") becomes a unit group named with BC's code for it, "ITEM 1000 UOM GR" (BC: table
  5400, GetCode; codeunit "CRM Synch. Helper", PrefixUnitGroupCode replaces the mapped "Source No." on every
  transfer), whose base unit is the item's or resource's base unit of measure; each item or resource unit of
  measure becomes a unit (``uom``) of that group, expressed in its base unit (Microsoft Learn: "UoM table/entity
  reference": ``uomscheduleid`` is required and create-only).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from syncjobs.engine.context import Item, PassContext
from syncjobs.engine.decision import Action
from syncjobs.engine.errors import RecordFailure
from syncjobs.engine.odata import chunks, id_filter
from syncjobs.engine.rules.base import TableRule

#: BC tables whose code is unique per item/resource only: the API property naming the owner and the owner's table.
UNIT_TABLES = {
    "Item Unit of Measure": ("itemNumber", "Item"),
    "Resource Unit of Measure": ("resourceNumber", "Resource"),
}
UNIT_GROUP_TABLE = "Unit Group"
UNIT_GROUP_DATAVERSE_TABLE = "uomschedule"
#: The entity set (and its API route) of each unit group source and price list asset type ("Item", "Resource").
ASSET_SOURCES = {"Item": ("items", "v2.0"), "Resource": ("resources", "custom")}
#: BC: table 5400 "Unit Group", GetCode: "<ITEM|RESOURCE> <No.> UOM GR".
UNIT_GROUP_CODE_SUFFIX = "UOM GR"
#: Unit groups per ``_uomscheduleid_value eq … or …`` filter when reading their base units (keeps the URL short).
SCHEDULE_FILTER_CHUNK = 100


def bc_records_by_number(ctx: PassContext, table: str) -> dict[str, dict[str, Any]]:
    """{upper-case number: record (``id``, ``number``, ``baseUnitOfMeasureCode``)} of the BC items or resources
    (``table`` "Item" or "Resource"), read once per pass."""
    entity_set, api = ASSET_SOURCES[table]
    name = f"{entity_set}:number:*"
    if name not in ctx.cache.bc_lookups:
        ctx.cache.bc_lookups[name] = {
            str(r.get("number") or "").upper(): r
            for r in ctx.bc_client.iter_rows(entity_set, select=["id", "number", "baseUnitOfMeasureCode"], api=api)}
    return ctx.cache.bc_lookups[name]


def unit_group_code(row: dict[str, Any]) -> str:
    """BC's code of a unit group row (API properties): its ``code``, else computed as BC does (BC: table 5400 "Unit
    Group", GetCode), e.g. "ITEM 1000 UOM GR"."""
    if row.get("code"):
        return str(row["code"])
    return f"{str(row.get('sourceType') or '').upper()} {row.get('sourceNumber') or ''} {UNIT_GROUP_CODE_SUFFIX}"


def unit_group_of(ctx: PassContext, owner_table: str, number: str) -> UUID | None:
    """The Dataverse unit group coupled to the BC unit group of an item or resource (``owner_table`` "Item" or
    "Resource", its ``number``); None when BC has no unit group for it or that group is not coupled. BC's unit
    groups and their couplings are read once per pass."""
    groups = ctx.cache.unit_groups
    if groups is None:
        groups = {(str(r.get("sourceType")), str(r.get("sourceNumber"))): str(r.get("id"))
                  for r in ctx.bc_client.iter_rows("unitGroups", select=["id", "sourceType", "sourceNumber"],
                                                   api="custom")}
        ctx.cache.unit_groups = groups
    group_id = groups.get((owner_table, number))
    if group_id is None:
        return None
    # the unit group couplings are read once per pass by the resolver
    return ctx.resolver.coupled_dataverse_id(bc_table=UNIT_GROUP_TABLE, dataverse_table=UNIT_GROUP_DATAVERSE_TABLE,
                                             bc_id=UUID(group_id))


def base_unit(ctx: PassContext, schedule_id: UUID) -> UUID | None:
    """The base unit of a Dataverse unit group (created by Dataverse with the group); read once per group and
    pass, unless :func:`prefetch_base_units` read it with the other groups of its page. None when the group has
    none. Raises the client's ClientError."""
    if schedule_id not in ctx.cache.base_units:
        prefetch_base_units(ctx, [schedule_id])
    return ctx.cache.base_units[schedule_id]


def prefetch_base_units(ctx: PassContext, schedule_ids: Iterable[UUID]) -> None:
    """Read the base unit and its name of every Dataverse unit group in ``schedule_ids`` not read yet in this pass,
    :data:`SCHEDULE_FILTER_CHUNK` groups per request (``_uomscheduleid_value eq A or …``), into ``ctx.cache``
    (``base_units``: group -> base unit or None; ``unit_names``: base unit -> name). A group's base unit is the
    unit flagged ``isschedulebaseuom``, or the one without a ``baseuom`` or that is its own base (Microsoft Learn:
    "UoM table/entity reference"). Raises the client's ClientError."""
    cache = ctx.cache
    wanted = list(dict.fromkeys(s for s in schedule_ids if s not in cache.base_units))
    for chunk in chunks(wanted, SCHEDULE_FILTER_CHUNK):
        rows = list(ctx.dv_client.iter_rows("uoms", select=["uomid", "name", "_baseuom_value", "isschedulebaseuom",
                                                            "_uomscheduleid_value"],
                                            filter=id_filter("_uomscheduleid_value", chunk)))
        found: dict[UUID, UUID | None] = dict.fromkeys(chunk)
        for row in rows:
            schedule = UUID(str(row.get("_uomscheduleid_value")))
            if found.get(schedule) is None and (row.get("isschedulebaseuom") or not row.get("_baseuom_value") or (
                    str(row.get("_baseuom_value")) == str(row.get("uomid")))):
                found[schedule] = UUID(str(row["uomid"]))
                cache.unit_names[found[schedule]] = str(row.get("name") or "")
        cache.base_units.update(found)


def records_to_create(items: list[Item]) -> list[Item]:
    """The records of a page that the pass is about to create (or restore) in Dataverse."""
    return [item for item in items if item.action in (Action.INSERT, Action.RESTORE)]


class UnitOfMeasureRule(TableRule):
    """BC table -> uomschedule: a new unit group is named after its base unit when nothing else names it (UNIT OF
    MEASURE maps Code -> baseuomname only)."""

    def new_row(self, ctx: PassContext, item: Item, body: dict[str, Any]) -> dict[str, Any]:
        body.setdefault("name", body.get("baseuomname"))
        return body


class UnitGroupRule(UnitOfMeasureRule):
    """Unit Group -> uomschedule: the Dataverse unit group is named with BC's code of the unit group ("ITEM 1000 UOM
    GR"; the mapped "Source No." -> Name is replaced on every transfer, BC: "CRM Synch. Helper", PrefixUnitGroupCode)
    and its base unit is the item's or resource's base unit of measure (Source No. -> BaseUoMName names the source,
    not a unit, so the base unit's code replaces it)."""

    def adjust_payload(self, ctx: PassContext, item: Item, payload: dict[str, Any]) -> dict[str, Any]:
        if "name" in payload:
            payload["name"] = unit_group_code(item.row)
        if "baseuomname" in payload:
            table = str(item.row.get("sourceType") or "")
            source = bc_records_by_number(ctx, table).get(str(item.row.get("sourceNumber") or "").upper()) \
                if table in ASSET_SOURCES else None
            if source and source.get("baseUnitOfMeasureCode"):
                payload["baseuomname"] = source["baseUnitOfMeasureCode"]
        return payload

    def new_row(self, ctx: PassContext, item: Item, body: dict[str, Any]) -> dict[str, Any]:
        body.setdefault("name", unit_group_code(item.row))
        return super().new_row(ctx, item, body)


class UnitRule(TableRule):
    """Item / Resource Unit of Measure -> uom: a unit of the owner's unit group, in the group's base unit; the base
    unit itself, which Dataverse created with the group, is adopted rather than created twice (BC couples it by
    name). The base units of a page's unit groups are read together before its records are transferred."""

    def prefetch(self, ctx: PassContext, items: list[Item]) -> None:
        number_property, owner_table = UNIT_TABLES[ctx.mapping.table]
        schedules = (unit_group_of(ctx, owner_table, str(item.row.get(number_property) or ""))
                     for item in records_to_create(items))
        prefetch_base_units(ctx, (s for s in schedules if s is not None))

    def new_row(self, ctx: PassContext, item: Item, body: dict[str, Any]) -> dict[str, Any]:
        """Raises RecordFailure when the owner's unit group is not coupled yet."""
        number_property, owner_table = UNIT_TABLES[ctx.mapping.table]
        number = str(item.row.get(number_property) or "")
        schedule = unit_group_of(ctx, owner_table, number)
        if schedule is None:
            raise RecordFailure(message=f"{item.label}: the unit group of {owner_table.lower()} {number} is not "
                                        "coupled",
                                field_name=number_property,
                                fix="synchronize the UNIT GROUP mapping first, then retry this unit")
        base = base_unit(ctx, schedule)
        if base is not None and ctx.cache.unit_names.get(base, "").upper() == str(item.row.get("code") or "").upper():
            item.adopted_key = base  # the group's base unit: update it in place
            body.pop("quantity", None)
            return body
        body["uomscheduleid"] = schedule
        if base is not None:
            body["baseuom"] = base
        return body
