"""Units of measure and unit groups, BC -> Dataverse (BC: codeunit 5334 "CRM Setup Defaults", mappings UNIT OF
MEASURE, UNIT GROUP, ITEM UOM and RESOURCE UOM; codeunit 5341 "CRM Int. Table. Subscriber").

* Unit-of-measure mode: one BC unit of measure becomes one Dataverse unit group (``uomschedule``) named after it,
  whose base unit Dataverse creates with the group (Microsoft Learn: "UoMSchedule table/entity reference").
* Unit group mode: a BC unit group ("ITEM 1000") becomes a unit group whose base unit is the item's or resource's
  base unit of measure, and each item or resource unit of measure becomes a unit (``uom``) of that group, expressed
  in its base unit (Microsoft Learn: "UoM table/entity reference": ``uomscheduleid`` is required and create-only).
"""
from __future__ import annotations

from typing import Any
from uuid import UUID

from mappings.models import Coupling
from syncjobs.engine.context import Item, PassContext
from syncjobs.engine.errors import RecordFailure
from syncjobs.engine.rules.base import TableRule

#: BC tables whose code is unique per item/resource only: the API property naming the owner and the owner's table.
UNIT_TABLES = {
    "Item Unit of Measure": ("itemNumber", "Item"),
    "Resource Unit of Measure": ("resourceNumber", "Resource"),
}
UNIT_GROUP_TABLE = "Unit Group"
UNIT_GROUP_DATAVERSE_TABLE = "uomschedule"
#: The entity set (and its API route) holding each unit group source's base unit of measure.
_UNIT_GROUP_SOURCES = {"Item": ("items", "v2.0"), "Resource": ("resources", "custom")}


def bc_lookup(ctx: PassContext, entity_set: str, api: str, select: list[str], key: str,
              value: str) -> dict[str, Any]:
    """{``key`` value (text): ``value``} of every record of a BC entity set, read once per pass."""
    name = f"{entity_set}:{key}:{value}"
    if name not in ctx.cache.bc_lookups:
        ctx.cache.bc_lookups[name] = {str(r.get(key)): r.get(value)
                                      for r in ctx.bc_client.iter_rows(entity_set, select=select, api=api)}
    return ctx.cache.bc_lookups[name]


def unit_group_of(ctx: PassContext, owner_table: str, number: str) -> UUID | None:
    """The Dataverse unit group coupled to the BC unit group of an item or resource (``owner_table`` "Item" or
    "Resource", its ``number``); None when BC has no unit group for it or that group is not coupled."""
    groups = ctx.cache.unit_groups
    if groups is None:
        groups = {(str(r.get("sourceType")), str(r.get("sourceNumber"))): str(r.get("id"))
                  for r in ctx.bc_client.iter_rows("unitGroups", select=["id", "sourceType", "sourceNumber"],
                                                   api="custom")}
        ctx.cache.unit_groups = groups
    group_id = groups.get((owner_table, number))
    if group_id is None:
        return None
    coupling = Coupling.objects.filter(connection=ctx.connection, bc_table=UNIT_GROUP_TABLE, bc_id=group_id,
                                       dataverse_table=UNIT_GROUP_DATAVERSE_TABLE, is_pending=False).first()
    return coupling.dataverse_id if coupling else None


def base_unit(ctx: PassContext, schedule_id: UUID) -> UUID | None:
    """The base unit of a Dataverse unit group (created by Dataverse with the group); read once per group and
    pass. None when the group has none."""
    cache = ctx.cache.base_units
    if schedule_id not in cache:
        cache[schedule_id] = None
        for row in ctx.dv_client.iter_rows("uoms", select=["uomid", "_baseuom_value", "isschedulebaseuom"],
                                           filter=f"_uomscheduleid_value eq {schedule_id}"):
            if row.get("isschedulebaseuom") or not row.get("_baseuom_value") or (
                str(row.get("_baseuom_value")) == str(row.get("uomid"))
            ):
                cache[schedule_id] = UUID(str(row["uomid"]))
                break
    return cache[schedule_id]


class UnitOfMeasureRule(TableRule):
    """BC table -> uomschedule: a new unit group is named after its base unit when nothing else names it (UNIT OF
    MEASURE maps Code -> baseuomname only)."""

    def new_row(self, ctx: PassContext, item: Item, body: dict[str, Any]) -> dict[str, Any]:
        body.setdefault("name", body.get("baseuomname"))
        return body


class UnitGroupRule(UnitOfMeasureRule):
    """Unit Group -> uomschedule: the Dataverse unit group is named by the BC code ("ITEM 1000": BC prefixes the
    source number) and its base unit is the item's or resource's base unit of measure."""

    def new_row(self, ctx: PassContext, item: Item, body: dict[str, Any]) -> dict[str, Any]:
        if item.row.get("code"):
            body["name"] = item.row["code"]
        source = _UNIT_GROUP_SOURCES.get(str(item.row.get("sourceType")))
        if source is not None:
            entity_set, api = source
            bases = bc_lookup(ctx, entity_set, api, ["number", "baseUnitOfMeasureCode"], "number",
                              "baseUnitOfMeasureCode")
            base = bases.get(str(item.row.get("sourceNumber")))
            if base:
                body["baseuomname"] = base
        return super().new_row(ctx, item, body)


class UnitRule(TableRule):
    """Item / Resource Unit of Measure -> uom: a unit of the owner's unit group, in the group's base unit; the base
    unit itself, which Dataverse created with the group, is adopted rather than created twice (BC couples it by
    name)."""

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
        names = ctx.cache.unit_names
        if base is not None and base not in names:
            names[base] = str(ctx.dv_client.retrieve("uoms", base, select=["name"]).get("name") or "")
        if base is not None and names.get(base, "").upper() == str(item.row.get("code") or "").upper():
            item.adopted_key = base  # the group's base unit: update it in place
            body.pop("quantity", None)
            return body
        body["uomscheduleid"] = schedule
        if base is not None:
            body["baseuom"] = base
        return body
