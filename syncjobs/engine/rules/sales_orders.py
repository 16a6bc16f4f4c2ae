"""Sales orders and their lines, both directions (BC: table 5330 "CRM Connection Setup", fields "Is S.Order
Integration Enabled" and "Bidirectional Sales Order Int."; codeunit 5334 "CRM Setup Defaults", mappings
SALESORDER-ORDER and SOLINE-ORDERDETAIL; codeunit 5341 "CRM Int. Table. Subscriber"; codeunit 414 "Release Sales
Document").

Dataverse states (Microsoft Learn: "SalesOrder table/entity reference"): only Active orders and their lines can be
changed, so

* BC -> Dataverse: a submitted order is set Active before its header or lines are written and Submitted again after;
  a new order is submitted after it is created. Legacy integration (no SOLINE-ORDERDETAIL mapping) rebuilds the order
  products from the BC sales lines. A new order nobody owns is owned by the default team.
* Dataverse -> BC: a released BC order is reopened before its header or lines are written and released again after;
  an order line goes under the BC order coupled to its Dataverse order, as an Item or Resource line after the BC
  table its product is coupled to. Order lines are read in full, not from a watermark: a line entered before its
  order was submitted (and coupled) must still reach BC when the order does.
* Bi-directional: the header synchronization reconciles the lines, so a line deleted on one side is deleted on the
  other instead of being created again from its counterpart.
"""
from __future__ import annotations

import uuid
from typing import Any, ClassVar
from uuid import UUID

from connections.clients.errors import ClientError, NotFoundError
from mappings.models import Coupling, Direction, IntegrationTableMapping
from syncjobs.engine.context import Item, PassContext
from syncjobs.engine.decision import Action
from syncjobs.engine.errors import RecordFailure
from syncjobs.engine.rules.base import ID_NAMESPACE, TableRule, fail_items
from syncjobs.engine.rules.documents import PRODUCT_LINE_TYPES, DocumentHeaderRule, DocumentLineRule, HeaderLink
from syncjobs.engine.rules.products import product_unit
from syncjobs.engine.rules.salespeople import OWNER_COLUMN, team_owner
from syncjobs.engine.schema import bc_info
from syncjobs.engine.writers import failure_from

#: Dataverse salesorder states: Active 0 / status New 1, Submitted 1 / In Progress 3.
ORDER_ACTIVE = {"statecode": 0, "statuscode": 1}
ORDER_SUBMITTED = {"statecode": 1, "statuscode": 3}
SALES_HEADER_TABLE = "Sales Header"
SALES_LINE_TABLE = "Sales Line"
ORDER_TABLE = "salesorder"
ORDER_LINE_TABLE = "salesorderdetail"
ORDER_HEADER = HeaderLink("salesorderid", SALES_HEADER_TABLE, ORDER_TABLE)


# -- BC -> Dataverse -----------------------------------------------------------------------------------------------
class OrderHeaderRule(DocumentHeaderRule):
    """BC table -> salesorder: a new order's customer, price list and name; owned by the default team when no user
    owns it (BC: SetOwnerId, in both ownership models)."""

    def new_row(self, ctx: PassContext, item: Item, body: dict[str, Any]) -> dict[str, Any]:
        body = super().new_row(ctx, item, body)
        if OWNER_COLUMN not in body:
            team_owner(ctx, body, any_model=True)
        return body


class OrderLineRule(DocumentLineRule):
    """BC line table -> salesorderdetail: lines of coupled orders, each under its order with its product."""

    header = ORDER_HEADER


class _SubmittedOrders:
    """Writes to submitted Dataverse orders, BC -> Dataverse: set Active before, Submitted after."""

    def dataverse_order(self, ctx: PassContext, item: Item) -> UUID | None:
        """The existing Dataverse order a write of ``item`` changes (None: it changes none)."""
        return None

    def activate_orders(self, ctx: PassContext, items: list[Item]) -> None:
        """Set the submitted Dataverse orders the batch changes back to Active and remember them to submit again
        after the writes. An order in another state (Canceled, Fulfilled, Invoiced) is not changed: its records
        fail naming the state; so do they when the order cannot be read or activated."""
        by_order: dict[UUID, list[Item]] = {}
        for item in items:
            order = self.dataverse_order(ctx, item)
            if order is not None:
                by_order.setdefault(order, []).append(item)
        if not by_order:
            return
        resubmit = ctx.cache.orders_to_submit
        filter_ = " or ".join(f"salesorderid eq {order}" for order in by_order)
        try:
            states = {UUID(str(r["salesorderid"])): r.get("statecode") for r in ctx.dv_client.iter_rows(
                "salesorders", select=["salesorderid", "statecode"], filter=filter_)}
        except ClientError as error:
            for its in by_order.values():
                fail_items(its, failure_from(error, its[0].label, "Reading the Dataverse order of"))
            return
        for order, its in by_order.items():
            state = states.get(order)
            if state in (None, ORDER_ACTIVE["statecode"]):
                continue
            if state != ORDER_SUBMITTED["statecode"]:
                fail_items(its, RecordFailure(
                    message=f"{its[0].label}: the Dataverse order is no longer Active or Submitted (statecode "
                            f"{state}) and is not changed",
                    field_name="statecode",
                    fix="reactivate the order in Dynamics 365 Sales if it must change, then retry"))
                continue
            try:
                ctx.dv_client.update("salesorders", order, dict(ORDER_ACTIVE))
            except ClientError as error:
                fail_items(its, failure_from(error, its[0].label, "Activating the Dataverse order of"))
                continue
            resubmit.add(order)

    def orders_to_submit(self, ctx: PassContext, items: list[Item]) -> dict[UUID, list[Item]]:
        """The Dataverse orders to submit after the batch's writes, with the records written to each: the orders
        set Active before them."""
        to_submit: dict[UUID, list[Item]] = {}
        for item in items:
            if item.write is None or item.failure is not None:
                continue
            order = self.dataverse_order(ctx, item)
            if order is not None and order in ctx.cache.orders_to_submit:
                to_submit.setdefault(order, []).append(item)
        return to_submit

    def submit_orders(self, ctx: PassContext, items: list[Item], *, legacy: bool = False) -> None:
        """Submit the orders of :meth:`orders_to_submit`, rebuilding their lines first under ``legacy`` integration
        (:func:`legacy_order_lines`). A failure fails that order's records naming the order and the fix."""
        for order, its in self.orders_to_submit(ctx, items).items():
            try:
                if legacy:
                    legacy_order_lines(ctx, its[0], order)
                ctx.dv_client.update("salesorders", order, dict(ORDER_SUBMITTED))
            except RecordFailure as failure:
                fail_items(its, failure)
                continue
            except ClientError as error:
                fail_items(its, failure_from(error, its[0].label, "Writing the lines and submitting the Dataverse "
                                                                  "order of"))
                continue
            ctx.cache.orders_to_submit.discard(order)


class SalesOrderRule(_SubmittedOrders, OrderHeaderRule):
    """Sales Header -> salesorder (SALESORDER-ORDER): every written order is submitted; legacy integration rebuilds
    its order products first; bi-directional integration reconciles deleted lines."""

    def dataverse_order(self, ctx: PassContext, item: Item) -> UUID | None:
        if item.write is None:
            return None
        return item.write.key if item.write.kind == "update" else None

    def before_write(self, ctx: PassContext, items: list[Item]) -> None:
        self.activate_orders(ctx, items)

    def orders_to_submit(self, ctx: PassContext, items: list[Item]) -> dict[UUID, list[Item]]:
        to_submit: dict[UUID, list[Item]] = {}
        for item in items:
            if item.write is None or item.failure is not None:
                continue
            if item.write.key is not None:
                to_submit.setdefault(item.write.key, []).append(item)
        return to_submit

    def after_write(self, ctx: PassContext, items: list[Item]) -> None:
        legacy = not IntegrationTableMapping.objects.filter(connection=ctx.connection,
                                                            table=SALES_LINE_TABLE).exists()
        self.submit_orders(ctx, items, legacy=legacy)

    def after_batch(self, ctx: PassContext, items: list[Item]) -> None:
        reconcile_order_lines(ctx, items)


class SalesOrderLineRule(_SubmittedOrders, OrderLineRule):
    """Sales Line -> salesorderdetail (SOLINE-ORDERDETAIL): lines of submitted orders are written while the order is
    Active; synchronized with the SALESORDER-ORDER mapping."""

    rides_with_header = True

    def dataverse_order(self, ctx: PassContext, item: Item) -> UUID | None:
        if item.write is None:
            return None
        headers = ctx.cache.header_couplings or {}
        return headers.get(str(item.row.get("documentId")))

    def before_write(self, ctx: PassContext, items: list[Item]) -> None:
        self.activate_orders(ctx, items)

    def after_write(self, ctx: PassContext, items: list[Item]) -> None:
        self.submit_orders(ctx, items)


def legacy_order_lines(ctx: PassContext, item: Item, order: UUID) -> None:
    """The order products of a legacy-integration order, from the BC sales order's lines (BC: "CRM lines rebuilt
    from sales lines"): one salesorderdetail per BC item/resource line, id derived from the BC line (a repeat
    upserts, never duplicates), the product's default unit, the BC quantity and unit price (price overridden);
    Dataverse lines of the order that no BC line yields are deleted. Other BC lines (comments, G/L accounts) become
    write-in products named by their description.

    Raises RecordFailure naming the line and the fix when an item or resource is not coupled to a product, and the
    clients' ClientError."""
    line_info = bc_info(SALES_LINE_TABLE)
    wanted: dict[str, dict[str, Any]] = {}
    for line in ctx.bc_client.iter_rows(line_info.entity_set, filter=f"documentId eq {item.source_id}",
                                        api=line_info.api):
        line_id = uuid.uuid5(ID_NAMESPACE, f"salesorderdetail:{line['id']}")
        row: dict[str, Any] = {"salesorderid@odata.bind": f"/salesorders({order})",
                               "quantity": line.get("quantity") or 0, "priceperunit": line.get("unitPrice") or 0,
                               "ispriceoverridden": True}
        line_type, number = line.get("lineType"), line.get("lineObjectNumber")
        if line_type in PRODUCT_LINE_TYPES and number:
            product, _ = ctx.resolver.dataverse_id(target="product", code=number)
            if product is None:
                raise RecordFailure(
                    message=f"{item.label}: line {line.get('sequence')} {line_type.lower()} {number} is not coupled "
                            "to a product", field_name="No.",
                    fix=f"synchronize the {'ITEM' if line_type == 'Item' else 'RESOURCE'}-PRODUCT mapping first, "
                        "then retry this order")
            row["productid@odata.bind"] = f"/products({product})"
            unit = product_unit(ctx, product)
            if unit is not None:
                row["uomid@odata.bind"] = f"/uoms({unit})"
        else:
            row["isproductoverridden"] = True
            row["productdescription"] = line.get("description") or line_type or "Line"
        row["salesorderdetailid"] = str(line_id)
        wanted[str(line_id)] = row
    existing = _dataverse_line_ids(ctx, order)
    new_rows = [row for key, row in wanted.items() if key not in existing]
    changed_rows = [{k: v for k, v in row.items() if k not in ("isproductoverridden", "salesorderid@odata.bind")}
                    for key, row in wanted.items() if key in existing]
    if new_rows:
        ctx.dv_client.upsert_multiple(ORDER_LINE_TABLE, new_rows)
    if changed_rows:
        ctx.dv_client.update_multiple(ORDER_LINE_TABLE, changed_rows)
    _delete_dataverse_lines(ctx, existing - set(wanted))


# -- Dataverse -> BC -----------------------------------------------------------------------------------------------
def coupled_orders(ctx: PassContext) -> dict[str, UUID]:
    """Dataverse order id (lower-case text) -> BC sales order SystemId of the connection's coupled, not archived
    orders; read once per pass."""
    cached = ctx.cache.coupled_orders
    if cached is None:
        cached = {str(dv_id).lower(): bc_id for bc_id, dv_id in Coupling.objects.filter(
            connection=ctx.connection, bc_table=SALES_HEADER_TABLE, dataverse_table=ORDER_TABLE, is_pending=False,
            archived_sales_order=False,
        ).values_list("bc_id", "dataverse_id")}
        ctx.cache.coupled_orders = cached
    return cached


class _ReleasedOrders:
    """Writes to released BC orders, Dataverse -> BC: reopened before, released after."""

    def bc_order(self, ctx: PassContext, item: Item) -> UUID | None:
        """The existing BC sales order a write of ``item`` changes (None: it changes none)."""
        return None

    def before_write(self, ctx: PassContext, items: list[Item]) -> None:
        """Reopen the released BC sales orders the batch changes (BC: "before transfer the BC header Status is
        forced Open"); an order that cannot be reopened fails its records, naming it."""
        by_order: dict[UUID, list[Item]] = {}
        for item in items:
            order = self.bc_order(ctx, item)
            if order is not None:
                by_order.setdefault(order, []).append(item)
        for order, its in by_order.items():
            try:
                bc_order_action(ctx, order, "reopen")
            except ClientError as error:
                fail_items(its, failure_from(error, its[0].label, "Reopening the Business Central sales order of"))

    def after_write(self, ctx: PassContext, items: list[Item]) -> None:
        """Release the BC sales orders the batch changed (BC: on insert and modify the lines are rebuilt, then the
        order is released). A new order is released by its lines' pass (it has no lines before). An order that
        cannot be released fails its records with BC's reason (e.g. nothing to release)."""
        by_order: dict[UUID, list[Item]] = {}
        for item in items:
            order = self.bc_order(ctx, item)
            if order is not None and item.failure is None:
                by_order.setdefault(order, []).append(item)
        for order, its in by_order.items():
            try:
                bc_order_action(ctx, order, "release")
            except ClientError as error:
                failure = failure_from(error, its[0].label, "Releasing the Business Central sales order of")
                for item in its:
                    item.failure = failure
                    item.action = Action.FAIL


class SalesOrderFromDataverseRule(_ReleasedOrders, TableRule):
    """Sales Header <- salesorder (bi-directional SALESORDER-ORDER): released orders reopened and released around
    the writes; the header synchronization reconciles deleted lines."""

    def bc_order(self, ctx: PassContext, item: Item) -> UUID | None:
        if item.write is None or item.write.kind == "insert":
            return None
        return item.coupling.bc_id if item.coupling is not None else None

    def after_batch(self, ctx: PassContext, items: list[Item]) -> None:
        reconcile_order_lines(ctx, items)


class OrderLineFromDataverseRule(TableRule):
    """BC table <- salesorderdetail: only lines of orders coupled to a BC sales order take part, and every such line
    is read (not only those modified since the watermark; their own modified-on still decides what is written)."""

    def select(self, ctx: PassContext, row: dict[str, Any]) -> bool:
        return str(row.get("_salesorderid_value") or "").lower() in coupled_orders(ctx)

    def source_columns(self, ctx: PassContext) -> list[str]:
        return ["_salesorderid_value"]

    def reads_every_row(self, ctx: PassContext) -> bool:
        return True


class SalesLineFromDataverseRule(_ReleasedOrders, OrderLineFromDataverseRule):
    """Sales Line <- salesorderdetail (bi-directional SOLINE-ORDERDETAIL): a line under its coupled BC order, as an
    Item or Resource line; its order reopened and released around the writes."""

    rides_with_header: ClassVar[bool] = True

    def bc_order(self, ctx: PassContext, item: Item) -> UUID | None:
        if item.write is None:
            return None
        document = item.write.body.get("documentId") or (item.destination or {}).get("documentId")
        return UUID(str(document)) if document else None

    def adjust_payload(self, ctx: PassContext, item: Item, payload: dict[str, Any]) -> dict[str, Any]:
        """Raises RecordFailure naming the line, the field and the fix when its order is not coupled or its product
        is a write-in product."""
        order = coupled_orders(ctx).get(str(item.row.get("_salesorderid_value") or "").lower())
        if order is None:
            raise RecordFailure(message=f"{item.label}: its order is not coupled to a Business Central sales order",
                                field_name="salesorderid",
                                fix="submit the order in Dataverse and synchronize the SALESORDER-ORDER mapping, "
                                    "then retry this line")
        product = item.row.get("_productid_value")
        if not product:
            raise RecordFailure(message=f"{item.label}: a write-in product cannot become a Business Central line",
                                field_name="productid",
                                fix="choose an existing product coupled to an item or resource, then retry")
        _, bc_table = ctx.resolver.bc_code(target="product", dataverse_id=UUID(str(product)))
        payload["lineType"] = bc_table or "Item"
        # The constant 'Order' -> "Document Type" is what the salesOrderLines entity set holds anyway, and a line's
        # currency is its order's: the API serves both read-only.
        payload.pop("documentType", None)
        payload.pop("currencyCode", None)
        if item.action == Action.INSERT:
            payload["documentId"] = str(order)
            if not payload.get("sequence"):
                payload.pop("sequence", None)  # BC numbers the line (next 10000)
        return payload


def bc_order_action(ctx: PassContext, order_id: UUID, action: str) -> None:
    """``Microsoft.NAV.release`` / ``Microsoft.NAV.reopen`` of a BC sales order (BC: codeunit 414 "Release Sales
    Document", served by the companion extension's salesOrders API page: API v2.0 has no such action). Raises the
    client's ClientError."""
    header = bc_info(SALES_HEADER_TABLE)
    url = f"{header.entity_set}({order_id})/Microsoft.NAV.{action}"
    result = ctx.bc_client.batch([{"method": "POST", "url": url}], api=header.api, idempotent=True)[0]
    if isinstance(result.get("error"), ClientError):
        raise result["error"]


# -- bi-directional line reconciliation ----------------------------------------------------------------------------
def _dataverse_line_ids(ctx: PassContext, order: UUID) -> set[str]:
    """Ids (lower-case text) of the salesorderdetails of a Dataverse order. Raises the client's ClientError."""
    return {str(r["salesorderdetailid"]).lower() for r in ctx.dv_client.iter_rows(
        "salesorderdetails", select=["salesorderdetailid"], filter=f"_salesorderid_value eq {order}")}


def _delete_dataverse_lines(ctx: PassContext, line_ids: set[str]) -> None:
    """Delete salesorderdetails by id (one already gone counts as deleted). Raises the client's ClientError."""
    for line_id in sorted(line_ids):
        try:
            ctx.dv_client.delete("salesorderdetails", line_id)
        except NotFoundError:
            continue


def _bc_line_ids(ctx: PassContext, order: UUID) -> set[str]:
    """SystemIds (lower-case text) of the lines of a BC sales order. Raises the client's ClientError."""
    info = bc_info(SALES_LINE_TABLE)
    return {str(r["id"]).lower() for r in ctx.bc_client.iter_rows(
        info.entity_set, select=["id"], filter=f"documentId eq {order}", api=info.api)}


def _line_couplings(ctx: PassContext, *, bc_ids: set[str] | None = None,
                    dv_ids: set[str] | None = None) -> list[Coupling]:
    """The settled SOLINE-ORDERDETAIL couplings of the given BC lines or Dataverse lines (pending ones, of lines just
    created on the other side and not settled yet, are left out: they are never deleted)."""
    couplings = Coupling.objects.filter(connection=ctx.connection, bc_table=SALES_LINE_TABLE,
                                        dataverse_table=ORDER_LINE_TABLE, is_pending=False)
    if bc_ids is not None:
        couplings = couplings.filter(bc_id__in=[UUID(i) for i in bc_ids])
    if dv_ids is not None:
        couplings = couplings.filter(dataverse_id__in=[UUID(i) for i in dv_ids])
    return list(couplings)


def _orders_to_reconcile(ctx: PassContext, items: list[Item]) -> list[Item]:
    """The coupled orders of a batch whose source changed since the last synchronization (their destination was
    read) and were written or found unchanged without failing; none under legacy integration (no bi-directional
    Sales Line mapping: the lines are rebuilt by :func:`legacy_order_lines`)."""
    if ctx.cache.bidirectional_lines is None:
        ctx.cache.bidirectional_lines = IntegrationTableMapping.objects.filter(
            connection=ctx.connection, table=SALES_LINE_TABLE, integration_table=ORDER_LINE_TABLE).exists()
    if not ctx.cache.bidirectional_lines:
        return []
    return [item for item in items
            if item.failure is None and item.coupling is not None and not item.coupling.is_pending
            and item.coupling.pk and item.destination is not None
            and item.action in (Action.MODIFY, Action.FORCE_MODIFY, Action.UNCHANGED)]


def reconcile_order_lines(ctx: PassContext, items: list[Item]) -> None:
    """Delete the lines a bi-directional order lost on the source side (BC: the header synchronization reconciles
    the lines, so a deleted line must not be recreated from its counterpart).

    For every coupled order of a SALESORDER-ORDER batch whose source changed (written or unchanged):

    * Dataverse -> BC: the BC lines whose coupled salesorderdetail no longer exists are deleted in BC, the order
      reopened first and released after (BC: "the order is temporarily reopened, lines reconciled from CRM, and
      released again");
    * BC -> Dataverse: the salesorderdetails whose coupled BC sales line no longer exists are deleted, a submitted
      order set Active first and Submitted after.

    Only lines with a settled coupling whose counterpart is gone are deleted: a line not coupled yet (just created on
    the other side) is created by SOLINE-ORDERDETAIL as before. The deleted lines' couplings are removed and counted
    as the header job's ``deleted`` (also when the order then fails). A failure fails the order's record naming the
    order, the field and the fix; nothing is raised."""
    to_bc = ctx.direction == Direction.FROM_INTEGRATION_TABLE
    for item in _orders_to_reconcile(ctx, items):
        assert item.coupling is not None
        bc_order, dv_order = item.coupling.bc_id, item.coupling.dataverse_id
        try:
            if to_bc:
                _delete_stale_bc_lines(ctx, bc_order, dv_order)
            else:
                _delete_stale_dataverse_lines(ctx, item, bc_order, dv_order)
        except RecordFailure as failure:
            fail_items([item], failure)
        except ClientError as error:
            failure = failure_from(error, item.label, "Deleting the order lines removed on the other side for")
            failure.field_name = SALES_LINE_TABLE if to_bc else ORDER_LINE_TABLE
            fail_items([item], failure)


def _delete_stale_bc_lines(ctx: PassContext, bc_order: UUID, dv_order: UUID) -> None:
    """Delete the BC lines of ``bc_order`` whose coupled Dataverse line is gone (reopen, delete, release) and their
    couplings, counting them as deleted. Raises the clients' ClientError (the order is released again whenever it
    was reopened)."""
    couplings = _line_couplings(ctx, bc_ids=_bc_line_ids(ctx, bc_order))
    if not couplings:
        return
    present = _dataverse_line_ids(ctx, dv_order)
    stale = [c for c in couplings if str(c.dataverse_id).lower() not in present]
    if not stale:
        return
    info = bc_info(SALES_LINE_TABLE)
    deleted: list[Coupling] = []
    bc_order_action(ctx, bc_order, "reopen")
    try:
        for coupling in stale:
            try:
                ctx.bc_client.delete(info.entity_set, coupling.bc_id, etag="*", api=info.api)
            except NotFoundError:
                pass
            deleted.append(coupling)
    finally:
        Coupling.objects.filter(pk__in=[c.pk for c in deleted]).delete()
        ctx.counters.deleted += len(deleted)
        bc_order_action(ctx, bc_order, "release")


def _delete_stale_dataverse_lines(ctx: PassContext, item: Item, bc_order: UUID, dv_order: UUID) -> None:
    """Delete the Dataverse lines of ``dv_order`` whose coupled BC line is gone (a submitted order set Active
    before and Submitted after) and their couplings, counting them as deleted. Raises RecordFailure when the order is
    in another state (Canceled, Fulfilled, Invoiced), the clients' ClientError otherwise."""
    couplings = _line_couplings(ctx, dv_ids=_dataverse_line_ids(ctx, dv_order))
    if not couplings:
        return
    present = _bc_line_ids(ctx, bc_order)
    stale = [c for c in couplings if str(c.bc_id).lower() not in present]
    if not stale:
        return
    state = ctx.dv_client.retrieve("salesorders", dv_order, select=["statecode"]).get("statecode")
    if state not in (ORDER_ACTIVE["statecode"], ORDER_SUBMITTED["statecode"]):
        raise RecordFailure(
            message=f"{item.label}: {len(stale)} line(s) deleted in Business Central cannot be deleted from the "
                    f"Dataverse order, which is no longer Active or Submitted (statecode {state})",
            field_name="statecode", fix="reactivate the order in Dynamics 365 Sales if it must change, then retry")
    submitted = state == ORDER_SUBMITTED["statecode"]
    if submitted:
        ctx.dv_client.update("salesorders", dv_order, dict(ORDER_ACTIVE))
    try:
        for coupling in stale:  # each coupling goes with its line: a failure half-way leaves none orphaned
            _delete_dataverse_lines(ctx, {str(coupling.dataverse_id)})
            coupling.delete()
            ctx.counters.deleted += 1
    finally:
        if submitted:
            ctx.dv_client.update("salesorders", dv_order, dict(ORDER_SUBMITTED))
