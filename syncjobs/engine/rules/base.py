"""The shape of a table rule: the hooks a pass calls, each a no-op here.

A table rule holds what BC does for one pair of tables beyond the field mappings (BC: codeunit 5341 "CRM Int. Table.
Subscriber" and codeunit 5340 "CRM Integration Table Synch." subscribers, e.g. OnBeforeInsertRecord,
OnAfterInsertRecord, OnFindUncoupledDestinationRecord). The registry (:mod:`syncjobs.engine.rules.registry`) keys the
rules by (BC table, Dataverse table, direction). Every hook receives the pass's :class:`PassContext` explicitly; the
hooks of one pass run in this order:

1. :meth:`TableRule.reads_every_row` and :meth:`TableRule.source_columns` when the pass starts reading
   (Dataverse -> BC);
2. :meth:`TableRule.select` for every source row read;
   :meth:`TableRule.prefetch` once per page with the records the pass is about to transfer (BC -> Dataverse);
3. :meth:`TableRule.lookup` for every lookup column the field mappings fill (BC -> Dataverse), then
   :meth:`TableRule.adjust_payload` once the field mappings transferred a record;
4. :meth:`TableRule.new_row` for a Dataverse row about to be created (BC -> Dataverse);
5. :meth:`TableRule.before_write` / :meth:`TableRule.after_write` around a batch's writes;
6. :meth:`TableRule.after_batch` once the batch's writes are done, before its results are saved.

A rule that fails a record raises :class:`RecordFailure` (per-record hooks) or fails the record itself
(:meth:`Item.fail`, batch hooks); it never raises for one record in a batch hook.
"""
from __future__ import annotations

import uuid
from typing import Any, ClassVar

from syncjobs.engine.context import Item, PassContext
from syncjobs.engine.transfer import FieldRule, LookupOutcome

#: Namespace of the Dataverse ids the rules derive from BC ids or the connection (uuid5), so that repeating a create
#: is an upsert of the same row (Microsoft Learn: "Use Upsert to create or update a record").
ID_NAMESPACE = uuid.UUID("0b8a8b62-1f0c-4a43-9a52-7f6f9d6c1f11")


class TableRule:
    """A rule with no effect: every record takes part and is written as the field mappings make it.

    Subclasses override the hooks they need. ``rides_with_header`` marks the rule of a document line table whose
    mapping is synchronized by its header's mapping (BC: lines are handled inside their header's synchronization).
    """

    rides_with_header: ClassVar[bool] = False

    def select(self, ctx: PassContext, row: dict[str, Any]) -> bool:
        """Whether the source ``row`` takes part in the pass at all (False: it is not even counted)."""
        return True

    def source_columns(self, ctx: PassContext) -> list[str]:
        """Dataverse columns a Dataverse -> BC pass reads besides the mapped ones."""
        return []

    def reads_every_row(self, ctx: PassContext) -> bool:
        """Whether the pass reads every source row instead of those modified since its watermark."""
        return False

    def prefetch(self, ctx: PassContext, items: list[Item]) -> None:
        """Called once per page (BC -> Dataverse) with the records about to be transferred, before any per-record
        hook: reads in bulk what their per-record hooks need, into ``ctx.cache``. Raises the clients' ClientError
        (every record of the page then fails)."""
        return None

    def lookup(self, ctx: PassContext, rule: FieldRule, value: Any, row: dict[str, Any],
               record: str) -> LookupOutcome | None:
        """A BC -> Dataverse lookup column's value when this rule decides it (see ``transfer.LookupHook``; ``record``
        names the record in messages); None lets the couplings translate it. Raises RecordFailure naming the record,
        the field and the fix."""
        return None

    def adjust_payload(self, ctx: PassContext, item: Item, payload: dict[str, Any]) -> dict[str, Any]:
        """The transferred payload (logical Dataverse columns, or BC API properties) adjusted; returns it.
        Raises RecordFailure naming the record, the field and the fix, or the clients' ClientError."""
        return payload

    def new_row(self, ctx: PassContext, item: Item, body: dict[str, Any]) -> dict[str, Any]:
        """Values for a new Dataverse row that the field mappings do not carry, added to ``body`` (logical columns);
        returns it. May set ``item.adopted_key`` to update an existing row instead. Raises RecordFailure or the
        clients' ClientError."""
        return body

    def before_write(self, ctx: PassContext, items: list[Item]) -> None:
        """Called once per batch with the records about to be written; fails records with :meth:`Item.fail`."""
        return None

    def after_write(self, ctx: PassContext, items: list[Item]) -> None:
        """Called once per batch with the records written successfully; fails records by setting their failure
        and action. A ClientError raised here fails every one of them on a BC -> Dataverse pass (their writes are
        repeated by the next run)."""
        return None

    def after_batch(self, ctx: PassContext, items: list[Item]) -> None:
        """Called once per batch with all its records after the writes, before the results are saved."""
        return None


def fail_items(items: list[Item], failure: Any) -> None:
    """Fail every record of ``items`` with the same ``failure`` (their writes are dropped)."""
    for item in items:
        item.fail(failure)
