"""The Sales synchronization rules that are not field mappings (BC: codeunit 5341 "CRM Int. Table. Subscriber";
reference 4.B, 6.2, 9.1, 10). Each rule is a small named function; everything else is driven by the mapping rows.

* :func:`bc_record_selected` — sales prices only for customer price groups with a code (SALESPRC-PRODPRICE table
  filter, 4.B); contacts of type Company are not synchronized as contacts (6.2 step 3).
* :func:`to_dataverse_payload` — negative inventory is sent as 0 quantity on hand (4.B ITEM-PRODUCT).
* :func:`new_dataverse_row` — items become Sales Inventory products, resources Services products (4.B), with the
  product structure, decimals supported (BC: GetProductQuantityPrecision = 2) and a default unit.
* :func:`after_dataverse_write` — items and resources create their price list item in the connection's default
  price list (BC: CRMSynchHelper "Default CRM Price List"), and the product points at that price list.
* The owner from the salesperson (reference 10) needs no rule here: the OwnerId field mapping is a foreign key
  through the SALESPEOPLE couplings (see :mod:`.transfer`).
"""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any
from uuid import UUID

from mappings.models import Coupling, Direction, IntegrationTableMapping
from syncjobs.engine.schema import BCTableInfo, bc_info
from syncjobs.engine.transfer import UNIT_TABLES

if TYPE_CHECKING:  # pragma: no cover
    from syncjobs.engine.passes import FromIntegrationPass, Item, ToIntegrationPass

#: Product type codes of protocols.md C3.
PRODUCT_TYPE_SALES_INVENTORY = 1
PRODUCT_TYPE_SERVICES = 3
PRODUCT_STRUCTURE_PRODUCT = 1
#: BC: CRM Setup Defaults.GetProductQuantityPrecision (reference 4.B).
PRODUCT_QUANTITY_PRECISION = 2
#: Name of the price list the portal keeps the items' and resources' unit prices in (BC: "Default CRM Price List").
DEFAULT_PRICE_LIST_NAME = "Business Central default price list"
PRICING_METHOD_CURRENCY_AMOUNT = 1
_NAMESPACE = uuid.UUID("0b8a8b62-1f0c-4a43-9a52-7f6f9d6c1f11")


def bc_record_selected(mapping: IntegrationTableMapping, row: dict[str, Any], bc: BCTableInfo) -> bool:
    """Whether a BC record takes part in a BC -> Dataverse pass at all (reference 4.B, 6.2 step 3)."""
    if mapping.table == "Sales Price":
        return row.get("salesType") in ("Customer Price Group", "CustomerPriceGroup") and bool(row.get("salesCode"))
    if mapping.table == "Contact" and mapping.integration_table == "contact":
        return row.get("type") != "Company"
    return True


def line_of_coupled_document(pass_: ToIntegrationPass, row: dict[str, Any]) -> bool:
    """Document lines ride along with their header: only lines of headers coupled to a Dataverse document take part
    (reference 4.B POSTEDSALESLINE-INV; draft invoices and unreleased orders are not synchronized)."""
    if pass_.dv.logical_name not in DOCUMENT_LINES:
        return True
    _, header_table, header_dv = DOCUMENT_LINES[pass_.dv.logical_name]
    headers: set[str] | None = pass_.__dict__.get("_coupled_headers")
    if headers is None:
        headers = {str(i) for i in Coupling.objects.filter(
            connection=pass_.connection, bc_table=header_table, dataverse_table=header_dv, is_pending=False,
        ).values_list("bc_id", flat=True)}
        pass_.__dict__["_coupled_headers"] = headers
    return str(row.get("documentId")) in headers


def to_dataverse_payload(pass_: ToIntegrationPass, item: Item, payload: dict[str, Any]) -> dict[str, Any]:
    """Adjust a transferred payload: quantity on hand is never negative (reference 4.B ITEM-PRODUCT); a contact
    goes under the account of its company (:func:`contact_parent_account`); a document line under its coupled
    header, with its product (:func:`document_line_parent`)."""
    quantity = payload.get("quantityonhand")
    if isinstance(quantity, int | float) and quantity < 0:
        payload["quantityonhand"] = 0
    if pass_.mapping.table == "Contact" and pass_.dv.logical_name == "contact":
        contact_parent_account(pass_, item, payload)
    if pass_.dv.logical_name in DOCUMENT_LINES:
        document_line_parent(pass_, item, payload)
    return payload


def _cached_rows(pass_: ToIntegrationPass, name: str, entity_set: str, select: list[str],
                 filter_: str | None = None) -> list[dict[str, Any]]:
    cache: dict[str, list[dict[str, Any]]] = pass_.__dict__.setdefault("_rule_rows", {})
    if name not in cache:
        cache[name] = list(pass_.bc_client.iter_rows(entity_set, select=select, filter=filter_))
    return cache[name]


def contact_parent_account(pass_: ToIntegrationPass, item: Item, payload: dict[str, Any]) -> None:
    """A BC person contact goes under the account coupled to the customer its company contact is linked to (BC:
    the sync subscriber resolves the parent from Contact."Company No.", reference 4.A CONTACT; the company contact's
    business relation links it to the customer of the same name). Raises RecordFailure naming the company and the
    fix when that customer is not coupled."""
    from syncjobs.engine.errors import RecordFailure

    company_number = item.row.get("companyNumber")
    if not company_number:
        return
    companies = {c["number"]: c for c in _cached_rows(pass_, "companies", "contacts",
                                                       ["number", "displayName", "contactBusinessRelation"],
                                                       "type eq 'Company'")}
    company = companies.get(company_number)
    if company is None:
        return
    customers = {c["displayName"]: c for c in _cached_rows(pass_, "customers", "customers", ["id", "displayName"])}
    customer = customers.get(company.get("displayName"))
    if customer is None:
        return
    coupling = Coupling.objects.filter(connection=pass_.connection, bc_table="Customer", bc_id=customer["id"],
                                       dataverse_table="account", is_pending=False).first()
    if coupling is None:
        raise RecordFailure(
            message=f"{item.label}: its company {company['displayName']} (customer) is not coupled to an account",
            field_name="Company No.",
            fix="synchronize the CUSTOMER mapping first (its dependency), then retry this contact",
        )
    payload["parentcustomerid"] = coupling.dataverse_id
    payload["parentcustomeridtype"] = "account"


#: Dataverse line tables, their header lookup and the BC header table (reference 4.B, 8.2).
DOCUMENT_LINES = {
    "invoicedetail": ("invoiceid", "Sales Invoice Header", "invoice"),
    "salesorderdetail": ("salesorderid", "Sales Header", "salesorder"),
}


def document_line_parent(pass_: ToIntegrationPass, item: Item, payload: dict[str, Any]) -> None:
    """A BC document line goes under the Dataverse document coupled to its header and refers to the product coupled
    to its item or resource, in the product's default unit (BC: lines ride along with their header, reference 4.B
    POSTEDSALESLINE-INV / SOLINE-ORDERDETAIL). Raises RecordFailure when the header or the product is not coupled;
    a line of another type (comment, G/L account) becomes a write-in product."""
    from syncjobs.engine.errors import RecordFailure

    parent_column, header_table, header_dv = DOCUMENT_LINES[pass_.dv.logical_name]
    headers: dict[str, UUID] | None = pass_.__dict__.get("_header_couplings")
    if headers is None:  # one query per pass, not one per line
        headers = {str(bc_id): dv_id for bc_id, dv_id in Coupling.objects.filter(
            connection=pass_.connection, bc_table=header_table, dataverse_table=header_dv, is_pending=False,
        ).values_list("bc_id", "dataverse_id")}
        pass_.__dict__["_header_couplings"] = headers
    header = headers.get(str(item.row.get("documentId")))
    if header is None:
        raise RecordFailure(message=f"{item.label}: its document is not coupled to a {header_dv} row",
                            field_name="Document Id",
                            fix="synchronize the document header's mapping first, then retry this line")
    payload[parent_column] = header
    line_type = item.row.get("lineType")
    number = item.row.get("lineObjectNumber")
    if line_type in ("Item", "Resource") and number:
        product, _ = pass_.resolver.dataverse_id(target="product", code=number)
        if product is None:
            raise RecordFailure(message=f"{item.label}: {line_type.lower()} {number} is not coupled to a product",
                                field_name="No.",
                                fix=f"synchronize the {'ITEM' if line_type == 'Item' else 'RESOURCE'}-PRODUCT "
                                    "mapping first, then retry this line")
        payload["productid"] = product
        payload["isproductoverridden"] = False
        unit = _product_unit(pass_, product)
        if unit is not None:
            payload["uomid"] = unit
    else:
        payload["isproductoverridden"] = True
        payload["productdescription"] = item.row.get("description") or line_type or "Line"


def _product_unit(pass_: ToIntegrationPass, product_id: UUID) -> UUID | None:
    cache: dict[UUID, UUID | None] = pass_.__dict__.setdefault("_product_units", {})
    if product_id not in cache:
        row = pass_.dv_client.retrieve("products", product_id, select=["_defaultuomid_value"])
        value = row.get("_defaultuomid_value")
        cache[product_id] = UUID(str(value)) if value else None
    return cache[product_id]


def new_dataverse_row(pass_: ToIntegrationPass, item: Item, body: dict[str, Any]) -> dict[str, Any]:
    """Values for a new Dataverse row that the field mappings do not carry (reference 4.B, protocols.md C1, C3,
    C6): a unit group is named after its BC unit of measure; a currency without a symbol shows its ISO code, with the
    exchange rate 1 until the currency's rate is maintained in Dataverse and 2 decimals."""
    if pass_.dv.logical_name == "uomschedule":
        if pass_.mapping.table == "Unit Group":
            unit_group_defaults(pass_, item, body)
        body.setdefault("name", body.get("baseuomname"))
    if pass_.dv.logical_name == "uom" and pass_.mapping.table in UNIT_OWNERS:
        unit_defaults(pass_, item, body)
    if pass_.dv.logical_name == "transactioncurrency":
        code = body.get("isocurrencycode")
        if not body.get("currencysymbol"):
            body["currencysymbol"] = code
        if not body.get("currencyname"):
            body["currencyname"] = code
        body.setdefault("exchangerate", 1.0)
        body.setdefault("currencyprecision", 2)
    if pass_.dv.logical_name in ("invoice", "salesorder"):
        document_header_defaults(pass_, item, body)
    if pass_.dv.logical_name == "productpricelevel" and body.get("productid") and not body.get("uomid"):
        # Sales prices carry no unit in legacy pricing: the item's base unit, its product's default unit (4.B).
        unit = _product_unit(pass_, body["productid"])
        if unit is not None:
            body["uomid"] = unit
    if pass_.dv.logical_name in ("account", "contact") and "ownerid" not in body:
        team_owner(pass_, body)
    if pass_.dv.logical_name == "salesorder" and "ownerid" not in body:
        # BC SetOwnerId (reference 10): a new order whose salesperson has no coupled user is owned by the default
        # team, in both ownership models.
        team_owner(pass_, body, any_model=True)
    if pass_.dv.logical_name == "product":
        body.setdefault(
            "producttypecode",
            PRODUCT_TYPE_SERVICES if pass_.mapping.table == "Resource" else PRODUCT_TYPE_SALES_INVENTORY,
        )
        body.setdefault("productstructure", PRODUCT_STRUCTURE_PRODUCT)
        body.setdefault("quantitydecimal", PRODUCT_QUANTITY_PRECISION)
        if body.get("defaultuomid") and not body.get("defaultuomscheduleid"):
            # Unit group mode maps the unit only (reference 4.B): the product's group is the item's unit group.
            schedule = _unit_group_of(pass_, pass_.mapping.table, str(item.row.get("number") or ""))
            if schedule is not None:
                body["defaultuomscheduleid"] = schedule
        if not body.get("defaultuomscheduleid") and not body.get("defaultuomid"):
            # Legacy unit-of-measure mode maps no unit for resources (reference 4.B): their base unit's group.
            code = item.row.get("baseUnitOfMeasureCode")
            if code:
                schedule, _ = pass_.resolver.dataverse_id(target="uomschedule", code=code)
                if schedule is not None:
                    body["defaultuomscheduleid"] = schedule
        if body.get("defaultuomscheduleid") and not body.get("defaultuomid"):
            base_unit = _base_unit(pass_, body["defaultuomscheduleid"])
            if base_unit is not None:
                body["defaultuomid"] = base_unit
    return body


#: Unit of measure tables of unit group mode: the API property of their owner's number and the owner's BC table.
UNIT_OWNERS = UNIT_TABLES


def unit_group_defaults(pass_: ToIntegrationPass, item: Item, body: dict[str, Any]) -> None:
    """A BC unit group becomes a Dataverse unit group named by its code ("ITEM 1000": BC prefixes the source number,
    reference 4.B UNIT GROUP) whose base unit is the item's or resource's base unit of measure."""
    if item.row.get("code"):
        body["name"] = item.row["code"]
    source = {"Item": "items", "Resource": "resources"}.get(str(item.row.get("sourceType")))
    if source is None:
        return
    api = "v2.0" if source == "items" else "custom"
    bases = _bc_lookup(pass_, source, api, ["number", "baseUnitOfMeasureCode"], "number", "baseUnitOfMeasureCode")
    base = bases.get(str(item.row.get("sourceNumber")))
    if base:
        body["baseuomname"] = base


def _bc_lookup(pass_: ToIntegrationPass, entity_set: str, api: str, select: list[str], key: str,
               value: str) -> dict[str, Any]:
    cache: dict[str, dict[str, Any]] = pass_.__dict__.setdefault("_bc_lookups", {})
    name = f"{entity_set}:{key}:{value}"
    if name not in cache:
        cache[name] = {str(r.get(key)): r.get(value) for r in pass_.bc_client.iter_rows(entity_set, select=select,
                                                                                          api=api)}
    return cache[name]


def _unit_group_of(pass_: ToIntegrationPass, owner_table: str, number: str) -> UUID | None:
    """The Dataverse unit group coupled to the BC unit group of an item or resource."""
    groups = pass_.__dict__.setdefault("_unit_groups", None)
    if groups is None:
        groups = {(str(r.get("sourceType")), str(r.get("sourceNumber"))): str(r.get("id"))
                  for r in pass_.bc_client.iter_rows("unitGroups", select=["id", "sourceType", "sourceNumber"],
                                                     api="custom")}
        pass_.__dict__["_unit_groups"] = groups
    group_id = groups.get((owner_table, number))
    if group_id is None:
        return None
    coupling = Coupling.objects.filter(connection=pass_.connection, bc_table="Unit Group", bc_id=group_id,
                                       dataverse_table="uomschedule", is_pending=False).first()
    return coupling.dataverse_id if coupling else None


def unit_defaults(pass_: ToIntegrationPass, item: Item, body: dict[str, Any]) -> None:
    """A BC item/resource unit of measure becomes a unit of the item's unit group (``uomscheduleid`` is required
    and create-only, protocols.md C2), expressed in the group's base unit; the base unit itself, which Dataverse
    created with the group, is adopted rather than created twice (BC couples it by name, reference 4.B ITEM UOM).
    Raises RecordFailure when the unit group is not coupled yet."""
    from syncjobs.engine.errors import RecordFailure

    number_property, owner_table = UNIT_OWNERS[pass_.mapping.table]
    number = str(item.row.get(number_property) or "")
    schedule = _unit_group_of(pass_, owner_table, number)
    if schedule is None:
        raise RecordFailure(message=f"{item.label}: the unit group of {owner_table.lower()} {number} is not coupled",
                            field_name=number_property,
                            fix="synchronize the UNIT GROUP mapping first, then retry this unit")
    base_unit = _base_unit(pass_, schedule)
    units: dict[UUID, str] = pass_.__dict__.setdefault("_unit_names", {})
    if base_unit is not None and base_unit not in units:
        units[base_unit] = str(pass_.dv_client.retrieve("uoms", base_unit, select=["name"]).get("name") or "")
    if base_unit is not None and units.get(base_unit, "").upper() == str(item.row.get("code") or "").upper():
        item.extra["key"] = base_unit  # the group's base unit: update it in place
        body.pop("quantity", None)
        return
    body["uomscheduleid"] = schedule
    if base_unit is not None:
        body["baseuom"] = base_unit


def team_owner(pass_: ToIntegrationPass, body: dict[str, Any], *, any_model: bool = False) -> None:
    """Team ownership model: a new account or contact is owned by the default team of the root business unit
    (reference 10: "on insert of Customer/Vendor/Contact accounts/contacts the owner is set to the default owning
    team"); the Person model sets the owner from the salesperson through the OwnerId field mapping instead."""
    from connections.models import ConnectionSetup

    if pass_.connection.ownership_model != ConnectionSetup.OwnershipModel.TEAM and not any_model:
        return
    if "_default_team" not in pass_.__dict__:
        team = next(iter(pass_.dv_client.iter_rows("teams", select=["teamid"], filter="isdefault eq true",
                                                   page_size=1)), None)
        pass_.__dict__["_default_team"] = UUID(str(team["teamid"])) if team else None
    if pass_.__dict__["_default_team"] is not None:
        body["ownerid"] = pass_.__dict__["_default_team"]
        body["owneridtype"] = "team"


def document_header_defaults(pass_: ToIntegrationPass, item: Item, body: dict[str, Any]) -> None:
    """A new Dataverse invoice or order: its customer is the account coupled to the BC sell-to customer, its price
    list the connection's default price list and its name the BC document number (BC: CRM Int. Table. Subscriber
    for posted invoices and orders, reference 4.B, 8.2). Raises RecordFailure when the customer is not coupled."""
    from syncjobs.engine.errors import RecordFailure

    number = item.row.get("customerNumber")
    if not body.get("customerid") and number:
        account, _ = pass_.resolver.dataverse_id(target="account", code=number)
        if account is None:
            raise RecordFailure(message=f"{item.label}: customer {number} is not coupled to an account",
                                field_name="Sell-to Customer No.",
                                fix="synchronize the CUSTOMER mapping first (or couple the customer), then retry")
        body["customerid"] = account
        body["customeridtype"] = "account"
    if not body.get("pricelevelid"):
        body["pricelevelid"] = default_price_list_id(pass_)
    body.setdefault("name", item.row.get("number"))


def _base_unit(pass_: ToIntegrationPass, schedule_id: UUID) -> UUID | None:
    """The base unit of a unit group (created by Dataverse with the group, protocols.md C1); cached per pass."""
    cache: dict[UUID, UUID | None] = pass_.__dict__.setdefault("_base_units", {})
    if schedule_id not in cache:
        cache[schedule_id] = None
        for row in pass_.dv_client.iter_rows("uoms", select=["uomid", "_baseuom_value", "isschedulebaseuom"],
                                             filter=f"_uomscheduleid_value eq {schedule_id}"):
            if row.get("isschedulebaseuom") or not row.get("_baseuom_value") or (
                str(row.get("_baseuom_value")) == str(row.get("uomid"))
            ):
                cache[schedule_id] = UUID(str(row["uomid"]))
                break
    return cache[schedule_id]


def default_price_list_id(pass_: ToIntegrationPass) -> UUID:
    """The connection's default price list (created once, with an id derived from the connection so that repeating
    the create is an upsert of the same row)."""
    cached = pass_.__dict__.get("_price_list_id")
    if cached is not None:
        return cached
    price_list_id = uuid.uuid5(_NAMESPACE, f"pricelevel:{pass_.connection.pk}")
    body: dict[str, Any] = {"name": DEFAULT_PRICE_LIST_NAME}
    if pass_.connection.base_currency_id:
        body["transactioncurrencyid@odata.bind"] = f"/transactioncurrencies({pass_.connection.base_currency_id})"
    pass_.dv_client.upsert("pricelevels", price_list_id, body)
    pass_.__dict__["_price_list_id"] = price_list_id
    return price_list_id


def after_dataverse_write(pass_: ToIntegrationPass, items: list[Item]) -> None:
    """Items and resources create their price list item (BC: "items create their price list", reference 4.B).

    For every product created or whose price changed in this batch: one ``UpsertMultiple`` of price list items
    (ids derived from the product, so a repeat never duplicates) and one ``UpdateMultiple`` pointing new products at
    the default price list (``pricelevelid`` cannot be set on create, protocols.md C3).
    """
    if pass_.dv.logical_name in ("salesorder", "salesorderdetail") and pass_.mapping.table in (
            SALES_HEADER_TABLE, SALES_LINE_TABLE):
        sales_orders_after_dataverse_write(pass_, items)
        return
    if pass_.dv.logical_name != "product" or pass_.mapping.table not in ("Item", "Resource"):
        return
    rows: list[dict[str, Any]] = []
    products: list[dict[str, Any]] = []
    for item in items:
        payload = item.extra.get("payload") or {}
        if item.write is None or ("price" not in payload and item.write.kind != "insert"):
            continue
        unit = payload.get("defaultuomid")
        price = payload.get("price")
        if unit is None or price is None:
            continue
        product_id = item.write.key
        if not rows:
            price_list = default_price_list_id(pass_)
        rows.append({
            "productpricelevelid": str(uuid.uuid5(_NAMESPACE, f"productpricelevel:{product_id}")),
            "pricelevelid@odata.bind": f"/pricelevels({price_list})",
            "productid@odata.bind": f"/products({product_id})",
            "uomid@odata.bind": f"/uoms({unit})",
            "amount": price,
            "pricingmethodcode": PRICING_METHOD_CURRENCY_AMOUNT,
        })
        if item.write.kind == "insert":
            products.append({"productid": str(product_id), "pricelevelid@odata.bind": f"/pricelevels({price_list})"})
    if rows:
        pass_.dv_client.upsert_multiple("productpricelevel", rows)
    if products:
        pass_.dv_client.update_multiple("product", products)


# -- sales orders (reference 8.1, 8.2) and new salespersons (reference 10) ------------------------------------------
#: Dataverse salesorder states (protocols.md C13; reference 8): Active 0 / status New 1, Submitted 1 / In Progress 3.
ORDER_ACTIVE = {"statecode": 0, "statuscode": 1}
ORDER_SUBMITTED = {"statecode": 1, "statuscode": 3}
SALES_HEADER_TABLE = "Sales Header"
SALES_LINE_TABLE = "Sales Line"
#: BC Salesperson/Purchaser field lengths (Name Text[50], E-Mail Text[80], Phone No. Text[30]).
SALESPERSON_LIMITS = {"displayName": 50, "email": 80, "phoneNo": 30}


def dataverse_record_selected(pass_: FromIntegrationPass, row: dict[str, Any]) -> bool:
    """Whether a Dataverse row takes part in a Dataverse -> BC pass (reference 10, 8.2): the connection's own
    integration user never becomes a salesperson (the SALESPEOPLE filter leaves out integration users; the
    connection's user is left out even when Dataverse does not flag it); order lines take part only when their order
    is coupled to a BC sales order (lines ride along with their header)."""
    if pass_.dv.logical_name == "systemuser" and pass_.integration_user_id is not None:
        return str(row.get("systemuserid") or "").lower() != str(pass_.integration_user_id).lower()
    if pass_.dv.logical_name == "salesorderdetail":
        return str(row.get("_salesorderid_value") or "").lower() in _coupled_orders(pass_)
    return True


def extra_dataverse_columns(pass_: FromIntegrationPass) -> list[str]:
    """Columns a Dataverse -> BC pass reads besides the mapped ones: an order line's order."""
    return ["_salesorderid_value"] if pass_.dv.logical_name == "salesorderdetail" else []


def reads_every_row(pass_: FromIntegrationPass) -> bool:
    """Whether a Dataverse -> BC pass reads all rows instead of the rows modified since its watermark: order lines,
    because a line entered before its order was submitted (and coupled) must still reach BC when the order does
    (BC rebuilds the lines from the order, reference 8.2). The rows' own modified-on still decides what is written."""
    return pass_.dv.logical_name == "salesorderdetail"


def _coupled_orders(pass_: Any) -> dict[str, UUID]:
    """Dataverse order id (lower-case text) -> BC sales order SystemId of the connection's coupled, not archived
    orders; read once per pass."""
    cached: dict[str, UUID] | None = pass_.__dict__.get("_coupled_orders")
    if cached is None:
        cached = {str(dv_id).lower(): bc_id for bc_id, dv_id in Coupling.objects.filter(
            connection=pass_.connection, bc_table=SALES_HEADER_TABLE, dataverse_table="salesorder", is_pending=False,
            archived_sales_order=False,
        ).values_list("bc_id", "dataverse_id")}
        pass_.__dict__["_coupled_orders"] = cached
    return cached


def to_bc_payload(pass_: FromIntegrationPass, item: Item, payload: dict[str, Any]) -> dict[str, Any]:
    """Adjust a transferred BC payload (reference 10, 8.2):

    * a new salesperson gets the next code 'SP NO. 00001', 'SP NO. 00002', … (BC: increment of the last code matching
      'SP NO. 0*'; the same rule as Couple Salespersons' "Create Salesperson", ``mappings.salespeople``), and its
      name, e-mail and phone cut to the BC field lengths;
    * an order line goes under the BC sales order coupled to its Dataverse order, as an Item or Resource line after
      the BC table its product is coupled to.

    Raises RecordFailure naming the record, the field and the fix (order not coupled, write-in product, codes not
    readable)."""
    from syncjobs.engine.decision import Action
    from syncjobs.engine.errors import RecordFailure

    if pass_.mapping.table == "Salesperson/Purchaser" and item.action == Action.INSERT:
        for prop, limit in SALESPERSON_LIMITS.items():
            if isinstance(payload.get(prop), str):
                payload[prop] = payload[prop][:limit]
        payload["code"] = _next_salesperson_code(pass_, item)
    if pass_.mapping.table == SALES_LINE_TABLE and pass_.dv.logical_name == "salesorderdetail":
        order = _coupled_orders(pass_).get(str(item.row.get("_salesorderid_value") or "").lower())
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
        _, bc_table = pass_.resolver.bc_code(target="product", dataverse_id=UUID(str(product)))
        payload["lineType"] = bc_table or "Item"
        # The constant 'Order' -> "Document Type" (reference 4.B) is what the salesOrderLines entity set holds
        # anyway, and a line's currency is its order's: the API serves both read-only.
        payload.pop("documentType", None)
        payload.pop("currencyCode", None)
        if item.action == Action.INSERT:
            payload["documentId"] = str(order)
            if not payload.get("sequence"):
                payload.pop("sequence", None)  # BC numbers the line (next 10000)
    return payload


def _next_salesperson_code(pass_: FromIntegrationPass, item: Item) -> str:
    from connections.clients.errors import ClientError
    from mappings.salespeople import existing_salesperson_codes, next_salesperson_code
    from syncjobs.engine.writers import failure_from

    codes: list[str] | None = pass_.__dict__.get("_salesperson_codes")
    if codes is None:
        try:
            codes = existing_salesperson_codes(pass_.bc_client)
        except ClientError as error:
            raise failure_from(error, item.label, "Reading the salesperson codes for") from error
        pass_.__dict__["_salesperson_codes"] = codes
    code = next_salesperson_code(codes)
    codes.append(code)
    return code


def _bc_order_of(pass_: FromIntegrationPass, item: Item) -> UUID | None:
    """The BC sales order a Dataverse -> BC write changes (None for a new order: it has no lines yet)."""
    if item.write is None:
        return None
    if pass_.mapping.table == SALES_HEADER_TABLE:
        if item.write.kind == "insert":
            return None
        return item.coupling.bc_id if item.coupling is not None else None
    if pass_.mapping.table == SALES_LINE_TABLE:
        document = item.write.body.get("documentId") or (item.destination or {}).get("documentId")
        return UUID(str(document)) if document else None
    return None


def _bc_order_action(pass_: Any, order_id: UUID, action: str) -> None:
    """``Microsoft.NAV.release`` / ``Microsoft.NAV.reopen`` of the companion extension's salesOrders page (codeunit
    "Release Sales Document"; API v2.0 has none, protocols.md D11). Raises the client's ClientError."""
    from connections.clients.errors import ClientError

    header = bc_info(SALES_HEADER_TABLE)
    url = f"{header.entity_set}({order_id})/Microsoft.NAV.{action}"
    result = pass_.bc_client.batch([{"method": "POST", "url": url}], api=header.api, idempotent=True)[0]
    if isinstance(result.get("error"), ClientError):
        raise result["error"]


def _fail_items(items: list[Item], failure: Any) -> None:
    from syncjobs.engine.decision import Action

    for item in items:
        item.failure = failure
        item.action = Action.FAIL
        item.write = None


def before_bc_write(pass_: FromIntegrationPass, items: list[Item]) -> None:
    """Reopen the released BC sales orders a Dataverse -> BC batch changes (reference 8.2: "before transfer the BC
    header Status is forced Open"); a BC order that cannot be reopened fails its records, naming it."""
    from connections.clients.errors import ClientError
    from syncjobs.engine.writers import failure_from

    by_order: dict[UUID, list[Item]] = {}
    for item in items:
        order = _bc_order_of(pass_, item)
        if order is not None:
            by_order.setdefault(order, []).append(item)
    for order, its in by_order.items():
        try:
            _bc_order_action(pass_, order, "reopen")
        except ClientError as error:
            _fail_items(its, failure_from(error, its[0].label, "Reopening the Business Central sales order of"))


def after_bc_write(pass_: FromIntegrationPass, items: list[Item]) -> None:
    """Release the BC sales orders a Dataverse -> BC batch changed (reference 8.2: on insert and modify the lines are
    rebuilt, then the order is released). A new order is released by its lines' pass (it has no lines before).
    An order that cannot be released fails its records with BC's reason (e.g. nothing to release)."""
    from connections.clients.errors import ClientError
    from syncjobs.engine.writers import failure_from

    by_order: dict[UUID, list[Item]] = {}
    for item in items:
        order = _bc_order_of(pass_, item)
        if order is not None and item.failure is None:
            by_order.setdefault(order, []).append(item)
    for order, its in by_order.items():
        try:
            _bc_order_action(pass_, order, "release")
        except ClientError as error:
            failure = failure_from(error, its[0].label, "Releasing the Business Central sales order of")
            for item in its:
                item.failure = failure
                from syncjobs.engine.decision import Action

                item.action = Action.FAIL


def _dataverse_order_of(pass_: ToIntegrationPass, item: Item) -> UUID | None:
    """The Dataverse order a BC -> Dataverse write changes (an existing one: header update or any line write)."""
    if item.write is None:
        return None
    if pass_.dv.logical_name == "salesorder":
        return item.write.key if item.write.kind == "update" else None
    if pass_.dv.logical_name == "salesorderdetail":
        headers: dict[str, UUID] = pass_.__dict__.get("_header_couplings") or {}
        return headers.get(str(item.row.get("documentId")))
    return None


def before_dataverse_write(pass_: ToIntegrationPass, items: list[Item]) -> None:
    """Set the submitted Dataverse orders a BC -> Dataverse batch changes back to Active (only Active orders and their
    lines can be changed, protocols.md C13/C14; BC: "before modifying the CRM order its state is set to Active",
    reference 8.1) and remember them to submit again after the writes. An order in another state (Canceled,
    Fulfilled, Invoiced) is not changed: its records fail naming the state."""
    from connections.clients.errors import ClientError
    from syncjobs.engine.errors import RecordFailure
    from syncjobs.engine.writers import failure_from

    by_order: dict[UUID, list[Item]] = {}
    for item in items:
        order = _dataverse_order_of(pass_, item)
        if order is not None:
            by_order.setdefault(order, []).append(item)
    if not by_order:
        return
    resubmit: set[UUID] = pass_.__dict__.setdefault("_orders_to_submit", set())
    filter_ = " or ".join(f"salesorderid eq {order}" for order in by_order)
    try:
        states = {UUID(str(r["salesorderid"])): r.get("statecode") for r in pass_.dv_client.iter_rows(
            "salesorders", select=["salesorderid", "statecode"], filter=filter_)}
    except ClientError as error:
        for its in by_order.values():
            _fail_items(its, failure_from(error, its[0].label, "Reading the Dataverse order of"))
        return
    for order, its in by_order.items():
        state = states.get(order)
        if state in (None, ORDER_ACTIVE["statecode"]):
            continue
        if state != ORDER_SUBMITTED["statecode"]:
            _fail_items(its, RecordFailure(
                message=f"{its[0].label}: the Dataverse order is no longer Active or Submitted (statecode {state}) "
                        "and is not changed",
                field_name="statecode", fix="reactivate the order in Dynamics 365 Sales if it must change, then retry"))
            continue
        try:
            pass_.dv_client.update("salesorders", order, dict(ORDER_ACTIVE))
        except ClientError as error:
            _fail_items(its, failure_from(error, its[0].label, "Activating the Dataverse order of"))
            continue
        resubmit.add(order)


def sales_orders_after_dataverse_write(pass_: ToIntegrationPass, items: list[Item]) -> None:
    """After a BC -> Dataverse batch of orders or order lines (reference 8.1, 8.2): a legacy integration (no
    SOLINE-ORDERDETAIL mapping) writes each written order's lines from the BC sales lines; then every new order and
    every order set Active by :func:`before_dataverse_write` is submitted (statecode Submitted), as BC leaves the
    orders it writes. A failure fails that order's records naming the order and the fix."""
    from connections.clients.errors import ClientError
    from syncjobs.engine.errors import RecordFailure
    from syncjobs.engine.writers import failure_from

    to_submit: dict[UUID, list[Item]] = {}
    resubmit: set[UUID] = pass_.__dict__.setdefault("_orders_to_submit", set())
    for item in items:
        if item.write is None or item.failure is not None:
            continue
        order = item.write.key if pass_.dv.logical_name == "salesorder" else _dataverse_order_of(pass_, item)
        if order is not None and (order in resubmit or pass_.dv.logical_name == "salesorder"):
            to_submit.setdefault(order, []).append(item)
    legacy = pass_.dv.logical_name == "salesorder" and not IntegrationTableMapping.objects.filter(
        connection=pass_.connection, table=SALES_LINE_TABLE).exists()
    for order, its in to_submit.items():
        try:
            if legacy:
                legacy_order_lines(pass_, its[0], order)
            pass_.dv_client.update("salesorders", order, dict(ORDER_SUBMITTED))
        except RecordFailure as failure:
            _fail_items(its, failure)
            continue
        except ClientError as error:
            _fail_items(its, failure_from(error, its[0].label, "Writing the lines and submitting the Dataverse "
                                                               "order of"))
            continue
        resubmit.discard(order)


def legacy_order_lines(pass_: ToIntegrationPass, item: Item, order: UUID) -> None:
    """The order products of a legacy-integration order, from the BC sales order's lines (BC: lines ride along with
    the order, reference 8.1/8.2 "CRM lines rebuilt from sales lines"): one salesorderdetail per BC item/resource
    line, id derived from the BC line (a repeat upserts, never duplicates), the product's default unit, the BC
    quantity and unit price (price overridden); Dataverse lines of the order that no BC line yields are deleted.
    Other BC lines (comments, G/L accounts) become write-in products named by their description.

    Raises RecordFailure naming the line and the fix when an item or resource is not coupled to a product, and the
    clients' ClientError."""
    from syncjobs.engine.errors import RecordFailure

    line_info = bc_info(SALES_LINE_TABLE)
    wanted: dict[str, dict[str, Any]] = {}
    for line in pass_.bc_client.iter_rows(line_info.entity_set, filter=f"documentId eq {item.source_id}",
                                          api=line_info.api):
        line_id = uuid.uuid5(_NAMESPACE, f"salesorderdetail:{line['id']}")
        row: dict[str, Any] = {"salesorderid@odata.bind": f"/salesorders({order})",
                               "quantity": line.get("quantity") or 0, "priceperunit": line.get("unitPrice") or 0,
                               "ispriceoverridden": True}
        line_type, number = line.get("lineType"), line.get("lineObjectNumber")
        if line_type in ("Item", "Resource") and number:
            product, _ = pass_.resolver.dataverse_id(target="product", code=number)
            if product is None:
                raise RecordFailure(
                    message=f"{item.label}: line {line.get('sequence')} {line_type.lower()} {number} is not coupled "
                            "to a product", field_name="No.",
                    fix=f"synchronize the {'ITEM' if line_type == 'Item' else 'RESOURCE'}-PRODUCT mapping first, "
                        "then retry this order")
            row["productid@odata.bind"] = f"/products({product})"
            unit = _product_unit(pass_, product)
            if unit is not None:
                row["uomid@odata.bind"] = f"/uoms({unit})"
        else:
            row["isproductoverridden"] = True
            row["productdescription"] = line.get("description") or line_type or "Line"
        row["salesorderdetailid"] = str(line_id)
        wanted[str(line_id)] = row
    existing = _dataverse_line_ids(pass_, order)
    new_rows = [row for key, row in wanted.items() if key not in existing]
    changed_rows = [{k: v for k, v in row.items() if k not in ("isproductoverridden", "salesorderid@odata.bind")}
                    for key, row in wanted.items() if key in existing]
    if new_rows:
        pass_.dv_client.upsert_multiple("salesorderdetail", new_rows)
    if changed_rows:
        pass_.dv_client.update_multiple("salesorderdetail", changed_rows)
    _delete_dataverse_lines(pass_, existing - set(wanted))


def _dataverse_line_ids(pass_: Any, order: UUID) -> set[str]:
    """Ids (lower-case text) of the salesorderdetails of a Dataverse order. Raises the client's ClientError."""
    return {str(r["salesorderdetailid"]).lower() for r in pass_.dv_client.iter_rows(
        "salesorderdetails", select=["salesorderdetailid"], filter=f"_salesorderid_value eq {order}")}


def _delete_dataverse_lines(pass_: Any, line_ids: set[str]) -> None:
    """Delete salesorderdetails by id (one already gone counts as deleted). Raises the client's ClientError."""
    from connections.clients.errors import NotFoundError

    for line_id in sorted(line_ids):
        try:
            pass_.dv_client.delete("salesorderdetails", line_id)
        except NotFoundError:
            continue


def _bc_line_ids(pass_: Any, order: UUID) -> set[str]:
    """SystemIds (lower-case text) of the lines of a BC sales order. Raises the client's ClientError."""
    info = bc_info(SALES_LINE_TABLE)
    return {str(r["id"]).lower() for r in pass_.bc_client.iter_rows(
        info.entity_set, select=["id"], filter=f"documentId eq {order}", api=info.api)}


def _line_couplings(pass_: Any, *, bc_ids: set[str] | None = None, dv_ids: set[str] | None = None) -> list[Coupling]:
    """The settled SOLINE-ORDERDETAIL couplings of the given BC lines or Dataverse lines (pending ones, of lines just
    created on the other side and not settled yet, are left out: reference 8.2 never deletes those)."""
    couplings = Coupling.objects.filter(connection=pass_.connection, bc_table=SALES_LINE_TABLE,
                                        dataverse_table="salesorderdetail", is_pending=False)
    if bc_ids is not None:
        couplings = couplings.filter(bc_id__in=[UUID(i) for i in bc_ids])
    if dv_ids is not None:
        couplings = couplings.filter(dataverse_id__in=[UUID(i) for i in dv_ids])
    return list(couplings)


def _orders_to_reconcile(pass_: Any, items: list[Item]) -> list[Item]:
    """The coupled order headers of a bi-directional header pass whose source changed since the last
    synchronization (their destination was read) and were written or found unchanged without failing."""
    from syncjobs.engine.decision import Action

    if pass_.mapping.table != SALES_HEADER_TABLE or pass_.dv.logical_name != "salesorder":
        return []
    if "_bidirectional_lines" not in pass_.__dict__:
        pass_.__dict__["_bidirectional_lines"] = IntegrationTableMapping.objects.filter(
            connection=pass_.connection, table=SALES_LINE_TABLE, integration_table="salesorderdetail").exists()
    if not pass_.__dict__["_bidirectional_lines"]:
        return []  # legacy: the lines are rebuilt by legacy_order_lines
    return [item for item in items
            if item.failure is None and item.coupling is not None and not item.coupling.is_pending
            and item.coupling.pk and item.destination is not None
            and item.action in (Action.MODIFY, Action.FORCE_MODIFY, Action.UNCHANGED)]


def reconcile_order_lines(pass_: Any, items: list[Item]) -> None:
    """Delete the lines a bi-directional order lost on the source side (reference 8.2: the header sync reconciles
    the lines; "header sync re-creates lines", so a deleted line must not be recreated from its counterpart).

    For every coupled order of a SALESORDER-ORDER batch whose source changed (written or unchanged):

    * Dataverse -> BC: the BC lines whose coupled salesorderdetail no longer exists are deleted in BC, the order
      reopened first and released after (BC: "the order is temporarily reopened, lines reconciled from CRM, and
      released again");
    * BC -> Dataverse: the salesorderdetails whose coupled BC sales line no longer exists are deleted, a submitted
      order set Active first and Submitted after (protocols.md C13/C14).

    Only lines with a settled coupling whose counterpart is gone are deleted: a line not coupled yet (just created on
    the other side) is created by SOLINE-ORDERDETAIL as before. The deleted lines' couplings are removed and counted
    as the header job's ``deleted`` (also when the order then fails). A failure fails the order's record naming the
    order, the field and the fix; nothing is raised."""
    from connections.clients.errors import ClientError
    from syncjobs.engine.errors import RecordFailure
    from syncjobs.engine.writers import failure_from

    to_bc = pass_.direction == Direction.FROM_INTEGRATION_TABLE
    for item in _orders_to_reconcile(pass_, items):
        assert item.coupling is not None
        bc_order, dv_order = item.coupling.bc_id, item.coupling.dataverse_id
        try:
            if to_bc:
                _delete_stale_bc_lines(pass_, bc_order, dv_order)
            else:
                _delete_stale_dataverse_lines(pass_, item, bc_order, dv_order)
        except RecordFailure as failure:
            _fail_items([item], failure)
        except ClientError as error:
            failure = failure_from(error, item.label, "Deleting the order lines removed on the other side for")
            failure.field_name = "Sales Line" if to_bc else "salesorderdetail"
            _fail_items([item], failure)


def _delete_stale_bc_lines(pass_: FromIntegrationPass, bc_order: UUID, dv_order: UUID) -> None:
    """Delete the BC lines of ``bc_order`` whose coupled Dataverse line is gone (reopen, delete, release) and their
    couplings, counting them as deleted. Raises the clients' ClientError (the order is released again whenever it was
    reopened)."""
    from connections.clients.errors import NotFoundError

    couplings = _line_couplings(pass_, bc_ids=_bc_line_ids(pass_, bc_order))
    if not couplings:
        return
    present = _dataverse_line_ids(pass_, dv_order)
    stale = [c for c in couplings if str(c.dataverse_id).lower() not in present]
    if not stale:
        return
    info = bc_info(SALES_LINE_TABLE)
    deleted: list[Coupling] = []
    _bc_order_action(pass_, bc_order, "reopen")
    try:
        for coupling in stale:
            try:
                pass_.bc_client.delete(info.entity_set, coupling.bc_id, etag="*", api=info.api)
            except NotFoundError:
                pass
            deleted.append(coupling)
    finally:
        Coupling.objects.filter(pk__in=[c.pk for c in deleted]).delete()
        pass_.counters.deleted += len(deleted)
        _bc_order_action(pass_, bc_order, "release")


def _delete_stale_dataverse_lines(pass_: ToIntegrationPass, item: Item, bc_order: UUID, dv_order: UUID) -> None:
    """Delete the Dataverse lines of ``dv_order`` whose coupled BC line is gone (a submitted order set Active
    before and Submitted after) and their couplings, counting them as deleted. Raises RecordFailure when the order is in
    another state (Canceled, Fulfilled, Invoiced), the clients' ClientError otherwise."""
    from syncjobs.engine.errors import RecordFailure

    couplings = _line_couplings(pass_, dv_ids=_dataverse_line_ids(pass_, dv_order))
    if not couplings:
        return
    present = _bc_line_ids(pass_, bc_order)
    stale = [c for c in couplings if str(c.bc_id).lower() not in present]
    if not stale:
        return
    state = pass_.dv_client.retrieve("salesorders", dv_order, select=["statecode"]).get("statecode")
    if state not in (ORDER_ACTIVE["statecode"], ORDER_SUBMITTED["statecode"]):
        raise RecordFailure(
            message=f"{item.label}: {len(stale)} line(s) deleted in Business Central cannot be deleted from the "
                    f"Dataverse order, which is no longer Active or Submitted (statecode {state})",
            field_name="statecode", fix="reactivate the order in Dynamics 365 Sales if it must change, then retry")
    submitted = state == ORDER_SUBMITTED["statecode"]
    if submitted:
        pass_.dv_client.update("salesorders", dv_order, dict(ORDER_ACTIVE))
    try:
        for coupling in stale:  # each coupling goes with its line: a failure half-way leaves none orphaned
            _delete_dataverse_lines(pass_, {str(coupling.dataverse_id)})
            coupling.delete()
            pass_.counters.deleted += 1
    finally:
        if submitted:
            pass_.dv_client.update("salesorders", dv_order, dict(ORDER_SUBMITTED))
