"""Table definitions of the Dataverse emulator.

Each :class:`Table` lists its columns with type, required level, create/update validity, lookup
targets with navigation property and relationship names, option values and state/status pairs, as the Microsoft
Learn table/entity references of Dataverse and Dynamics 365 Sales describe them ("Account table/entity reference",
"Contact ...", "Product ...", "Order (SalesOrder) ...", "Price List Item (ProductPriceLevel) ...", ...).
System columns are added by :func:`_finish`: primary key, ``createdon``/``modifiedon``,
``createdby``/``modifiedby`` (+ on-behalf-of), ``versionnumber``, ``overriddencreatedon``,
ownership columns for user-owned tables, ``statecode``/``statuscode`` where the table has states,
and ``transactioncurrencyid``/``exchangerate``/``<money>_base`` on money tables.

:data:`STANDARD_TABLES` is what a fresh organization has. Custom tables and columns exist only once a solution that
defines them is imported (:mod:`.components` builds them from the solution's ``customizations.xml``); each
organization's schema is the standard tables plus its imported components (:func:`build_schema`).
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field

_NS = uuid.UUID("9f5d3b1e-3a55-4e0c-8d7e-2f1c8b7a6e41")


@dataclass
class Col:
    """One column (attribute). ``type`` uses Dataverse AttributeType names (String, Memo, Integer,
    BigInt, Decimal, Double, Money, Boolean, DateTime, Picklist, State, Status, Uniqueidentifier,
    Lookup, Customer, Owner, EntityName)."""

    name: str
    type: str
    max_length: int | None = None
    required: str = "None"
    create: bool = True
    update: bool = True
    read_only: bool = False
    targets: tuple[str, ...] = ()
    navs: dict[str, str] = field(default_factory=dict)
    rels: dict[str, str] = field(default_factory=dict)
    options: dict[int, str] = field(default_factory=dict)
    default: object = None
    on_delete: str = "removelink"  # removelink | cascade | restrict
    date_only: bool = False
    #: unique name of the solution that added the column (``None``: a standard column)
    solution: str | None = None
    system: bool = False
    minimum: float | None = None
    maximum: float | None = None

    @property
    def is_lookup(self) -> bool:
        return self.type in ("Lookup", "Customer", "Owner")

    @property
    def filter_kind(self) -> str:
        t = self.type
        if t in ("String", "Memo", "EntityName"):
            return "str"
        if t == "Boolean":
            return "bool"
        if t == "DateTime":
            return "datetime"
        if t in ("Uniqueidentifier", "Lookup", "Customer", "Owner"):
            return "guid"
        return "num"


@dataclass
class Table:
    """One table; ``states`` maps statecode -> (default statuscode, allowed statuscodes, label); ``bulk``: the seeded
    ``sdkmessagefilters`` offer CreateMultiple and UpdateMultiple for it (Microsoft Learn "Use bulk operation
    messages": custom tables and many, not all, standard tables)."""

    logical: str
    entity_set: str
    primary_name: str | None
    ownership: str = "UserOwned"
    columns: dict[str, Col] = field(default_factory=dict)
    states: dict[int, tuple[int, tuple[int, ...], str]] = field(default_factory=dict)
    status_labels: dict[int, str] = field(default_factory=dict)
    change_tracking: bool = False
    bulk: bool = True
    read_only: bool = False
    #: unique name of the solution that created the table (``None``: a standard table)
    solution: str | None = None
    currency: bool = False
    object_type_code: int = 0
    display: str = ""
    #: SchemaName when it is not derived from the logical name (custom tables: as the solution spells it)
    schema: str = ""

    @property
    def primary_id(self) -> str:
        return self.logical + "id"

    @property
    def metadata_id(self) -> str:
        return str(uuid.uuid5(_NS, "entity:" + self.logical))

    def nav_map(self) -> dict[str, tuple[Col, str]]:
        """Single-valued navigation property -> (lookup column, target table)."""
        out: dict[str, tuple[Col, str]] = {}
        for c in self.columns.values():
            for t in c.targets:
                out[c.navs.get(t, c.name)] = (c, t)
        return out


def S(n: int = 100, **kw: object) -> Col:  # noqa: N802 - compact DSL
    return Col("", "String", max_length=n, **kw)  # type: ignore[arg-type]


def M(n: int = 2000, **kw: object) -> Col:  # noqa: N802
    return Col("", "Memo", max_length=n, **kw)  # type: ignore[arg-type]


def I(**kw: object) -> Col:  # noqa: E743, N802
    return Col("", "Integer", **kw)  # type: ignore[arg-type]


def D(**kw: object) -> Col:  # noqa: N802
    return Col("", "Decimal", **kw)  # type: ignore[arg-type]


def MONEY(**kw: object) -> Col:  # noqa: N802
    kw.setdefault("minimum", -1e12)
    kw.setdefault("maximum", 1e12)
    return Col("", "Money", **kw)  # type: ignore[arg-type]


def B(**kw: object) -> Col:  # noqa: N802
    kw.setdefault("default", False)
    return Col("", "Boolean", **kw)  # type: ignore[arg-type]


def DT(**kw: object) -> Col:  # noqa: N802
    return Col("", "DateTime", **kw)  # type: ignore[arg-type]


def DATE(**kw: object) -> Col:  # noqa: N802
    return Col("", "DateTime", date_only=True, **kw)  # type: ignore[arg-type]


def P(options: dict[int, str], **kw: object) -> Col:  # noqa: N802
    return Col("", "Picklist", options=options, **kw)  # type: ignore[arg-type]


def G(**kw: object) -> Col:  # noqa: N802
    return Col("", "Uniqueidentifier", **kw)  # type: ignore[arg-type]


def L(*targets: str, navs: dict[str, str] | None = None, rels: dict[str, str] | None = None,  # noqa: N802
      kind: str = "Lookup", **kw: object) -> Col:
    return Col("", kind, targets=tuple(targets), navs=navs or {}, rels=rels or {}, **kw)  # type: ignore[arg-type]


ACTIVE_INACTIVE = {0: (1, (1,), "Active"), 1: (2, (2,), "Inactive")}
ACTIVE_INACTIVE_LABELS = {1: "Active", 2: "Inactive"}
ADDRESS = {
    "address1_line1": S(250), "address1_line2": S(250), "address1_line3": S(250), "address1_city": S(80),
    "address1_stateorprovince": S(50), "address1_postalcode": S(20), "address1_country": S(80),
    "address1_telephone1": S(50), "address1_primarycontactname": S(100), "address1_fax": S(50),
}
PAYMENT_TERMS = {1: "Net 30", 2: "2% 10, Net 30", 3: "Net 45", 4: "Net 60"}
FREIGHT_TERMS = {1: "FOB", 2: "No Charge"}
SHIPPING_METHOD = {1: "Airborne", 2: "DHL", 3: "FedEx", 4: "UPS", 5: "Postal Mail", 6: "Full Load", 7: "Will Call"}


def _doc_lines(parent: str, rel: str) -> dict[str, Col]:
    return {
        parent: L(parent[:-2], required="SystemRequired", update=False, on_delete="cascade", rels={parent[:-2]: rel}),
        "productid": L("product", on_delete="restrict",
                       rels={"product": "product_order_details" if parent == "salesorderid"
                             else "product_invoice_details"}),
        "isproductoverridden": B(update=False), "productdescription": S(500),
        "uomid": L("uom", on_delete="restrict",
                   rels={"uom": "unit_of_measurement_order_details" if parent == "salesorderid"
                         else "unit_of_measurement_invoice_details"}),
        "quantity": D(required="ApplicationRequired", minimum=-1e11, maximum=1e11),
        "priceperunit": MONEY(), "ispriceoverridden": B(), "manualdiscountamount": MONEY(), "tax": MONEY(),
        "baseamount": MONEY(read_only=True), "extendedamount": MONEY(read_only=True),
        "lineitemnumber": I(), "sequencenumber": I(), "requestdeliveryby": DATE(),
        "quantityshipped": D(), "quantitybackordered": D(), "quantitycancelled": D(),
        "salesrepid": L("systemuser"), "description": M(),
        "producttypecode": P({1: "Product", 2: "Bundle", 3: "Required Bundle Product",
                              4: "Optional Bundle Product", 5: "Project-based Service"}, update=False, default=1),
        "pricingerrorcode": P({0: "None", 1: "Detail Error", 2: "Missing Price Level", 3: "Inactive Price Level",
                               4: "Missing Quantity", 5: "Missing Unit Price", 6: "Missing Product",
                               7: "Invalid Product", 8: "Missing Pricing Code", 9: "Invalid Pricing Code",
                               10: "Missing UOM", 11: "Product Not In Price Level",
                               12: "Missing Price Level Amount", 31: "Missing Product Default UOM",
                               32: "Missing Product UOM Schedule", 34: "Invalid Price Level Currency"},
                              read_only=True, default=0),
        "skippricecalculation": P({0: "DoPriceCalcAlways", 1: "SkipPriceCalcOnCreate", 2: "SkipPriceCalcOnUpdate",
                                   3: "SkipPriceCalcOnUpSert"}, default=0),
    }


def _doc_header(number_col: str) -> dict[str, Col]:
    return {
        "name": S(300, required="ApplicationRequired"), number_col: S(100),
        "customerid": L("account", "contact", kind="Customer", required="ApplicationRequired",
                        navs={"account": "customerid_account", "contact": "customerid_contact"}),
        "pricelevelid": L("pricelevel", on_delete="restrict"),
        "opportunityid": L("opportunity"),
        "totalamount": MONEY(read_only=True), "totallineitemamount": MONEY(read_only=True),
        "totaltax": MONEY(read_only=True), "totalamountlessfreight": MONEY(read_only=True),
        "discountamount": MONEY(), "discountpercentage": D(), "freightamount": MONEY(),
        "ispricelocked": B(), "description": M(),
        "paymenttermscode": P(PAYMENT_TERMS), "shippingmethodcode": P(SHIPPING_METHOD),
        "freighttermscode": P(FREIGHT_TERMS),
        "billto_name": S(200), "billto_line1": S(250), "billto_line2": S(250), "billto_line3": S(250),
        "billto_city": S(80), "billto_stateorprovince": S(50), "billto_postalcode": S(20),
        "billto_country": S(80), "billto_contactname": S(150), "billto_telephone": S(50),
        "shipto_name": S(200), "shipto_line1": S(250), "shipto_line2": S(250), "shipto_line3": S(250),
        "shipto_city": S(80), "shipto_stateorprovince": S(50), "shipto_postalcode": S(20),
        "shipto_country": S(80), "shipto_contactname": S(150), "shipto_telephone": S(50),
        "shipto_freighttermscode": P({1: "FOB", 2: "No Charge"}),
        "customeridtype": Col("", "EntityName", read_only=True, create=False, update=False),
    }


def _tables() -> list[Table]:
    t: list[Table] = []
    t.append(Table("organization", "organizations", "name", ownership="None", read_only=True, bulk=False,
                   object_type_code=1019, columns={
                       "name": S(160), "basecurrencyid": L("transactioncurrency", read_only=True),
                       "currencydecimalprecision": I(read_only=True), "basecurrencysymbol": S(5, read_only=True),
                       "expirechangetrackingindays": I(read_only=True), "issopintegrationenabled": B()}))
    t.append(Table("businessunit", "businessunits", "name", ownership="BusinessOwned", bulk=False,
                   object_type_code=10, columns={
                       "name": S(160, required="SystemRequired"),
                       "parentbusinessunitid": L("businessunit",
                       rels={"businessunit": "business_unit_parent_business_unit"}),
                       "divisionname": S(100), "websiteurl": S(200), "isdisabled": B(read_only=True)}))
    t.append(Table("systemuser", "systemusers", "fullname", ownership="BusinessOwned", change_tracking=True,
                   bulk=False, object_type_code=8, columns={
                       "domainname": S(1024), "firstname": S(256), "lastname": S(256),
                       "fullname": S(200, read_only=True), "internalemailaddress": S(100),
                       "azureactivedirectoryobjectid": G(), "applicationid": G(),
                       "businessunitid": L("businessunit", required="SystemRequired",
                                           rels={"businessunit": "business_unit_system_users"}),
                       "isdisabled": B(default=False), "islicensed": B(default=True),
                       "accessmode": P({0: "Read-Write", 1: "Administrative", 2: "Read", 3: "Support User",
                                        4: "Non-interactive", 5: "Delegated Admin"}, default=0),
                       "title": S(128), "mobilephone": S(64), "address1_telephone1": S(64),
                       "isintegrationuser": B()}))
    t.append(Table("team", "teams", "name", ownership="BusinessOwned", bulk=False, object_type_code=9, columns={
        "name": S(160, required="SystemRequired"),
        "businessunitid": L("businessunit", required="SystemRequired", rels={"businessunit": "business_unit_teams"}),
        "teamtype": P({0: "Owner", 1: "Access", 2: "Security Group", 3: "Office Group"}, default=0),
        "isdefault": B(read_only=True), "administratorid": L("systemuser"), "description": M()}))
    t.append(Table("roletemplate", "roletemplates", "name", ownership="None", read_only=True, bulk=False,
                   object_type_code=1037, columns={"name": S(100)}))
    t.append(Table("role", "roles", "name", ownership="BusinessOwned", bulk=False, object_type_code=1036, columns={
        "name": S(100, required="SystemRequired"),
        "businessunitid": L("businessunit", required="SystemRequired", rels={"businessunit": "business_unit_roles"}),
        "roletemplateid": L("roletemplate", read_only=True, rels={"roletemplate": "role_template_roles"}),
        "parentrootroleid": L("role", read_only=True, rels={"role": "role_parent_root_role"}),
        "parentroleid": L("role", read_only=True, rels={"role": "role_parent_role"}),
        "ismanaged": B(read_only=True), "solutionid": G(read_only=True), "description": M()}))
    # the privileges of the organization's tables (Microsoft Learn "privilege EntityType"); rows are created with the
    # tables (seed, solution import)
    t.append(Table("privilege", "privileges", "name", ownership="None", read_only=True, bulk=False,
                   object_type_code=1023, columns={
                       "name": S(100), "accessright": I(), "canbebasic": B(), "canbelocal": B(), "canbedeep": B(),
                       "canbeglobal": B()}))
    t.append(Table("publisher", "publishers", "friendlyname", ownership="OrganizationOwned", read_only=True,
                   bulk=False, object_type_code=7101, columns={
                       "uniquename": S(256), "friendlyname": S(256), "customizationprefix": S(8),
                       "customizationoptionvalueprefix": I()}))
    t.append(Table("solution", "solutions", "friendlyname", ownership="None", read_only=True, bulk=False,
                   object_type_code=7100, columns={
                       "uniquename": S(65), "friendlyname": S(256), "version": S(256), "ismanaged": B(),
                       "installedon": DT(), "description": M(),
                       "publisherid": L("publisher", read_only=True, rels={"publisher": "publisher_solution"})}))
    t.append(Table("sdkmessage", "sdkmessages", "name", ownership="None", read_only=True, bulk=False,
                   object_type_code=4606, columns={"name": S(256)}))
    t.append(Table("sdkmessagefilter", "sdkmessagefilters", None, ownership="None", read_only=True, bulk=False,
                   object_type_code=4607, columns={
                       "sdkmessageid": L("sdkmessage", rels={"sdkmessage": "sdkmessageid_sdkmessagefilter"}),
                       "primaryobjecttypecode": Col("", "EntityName"),
                       "secondaryobjecttypecode": Col("", "EntityName"), "isvisible": B(default=True)}))
    # transactioncurrency, uom and productpricelevel lack CreateMultiple/UpdateMultiple (their Microsoft Learn table
    # references, "Currency (TransactionCurrency) table/entity reference", "Unit (UoM) ..." and "Price List Item
    # (ProductPriceLevel) ...", list Create, Update and Upsert but no bulk operation message).
    t.append(Table("transactioncurrency", "transactioncurrencies", "currencyname", ownership="OrganizationOwned",
                   change_tracking=True, bulk=False, object_type_code=9105, states=ACTIVE_INACTIVE,
                   status_labels=ACTIVE_INACTIVE_LABELS, columns={
                       "isocurrencycode": S(5, required="SystemRequired", update=False),
                       "currencyname": S(100, required="SystemRequired"),
                       "currencysymbol": S(10, required="SystemRequired"),
                       "exchangerate": D(required="SystemRequired", minimum=1e-12, maximum=1e11),
                       "currencyprecision": I(required="SystemRequired", minimum=0, maximum=10)}))
    t.append(Table("uomschedule", "uomschedules", "name", ownership="OrganizationOwned", object_type_code=1056,
                   states=ACTIVE_INACTIVE, status_labels=ACTIVE_INACTIVE_LABELS, columns={
                       "name": S(200, required="SystemRequired"),
                       "baseuomname": S(100, required="SystemRequired", update=False),
                       "description": M()}))
    t.append(Table("uom", "uoms", "name", ownership="None", bulk=False, object_type_code=1055, columns={
        "name": S(100, required="SystemRequired"),
        "uomscheduleid": L("uomschedule", required="SystemRequired", update=False, on_delete="cascade",
                           rels={"uomschedule": "unit_of_measure_schedule_conversions"}),
        "baseuom": L("uom", required="ApplicationRequired", on_delete="restrict",
                     rels={"uom": "unit_of_measurement_base_unit"}),
        "quantity": D(minimum=0, maximum=1e11), "isschedulebaseuom": B(read_only=True)}))
    t.append(Table("pricelevel", "pricelevels", "name", ownership="OrganizationOwned", change_tracking=True,
                   currency=True, object_type_code=1022,
                   states={0: (100001, (100001,), "Active"), 1: (100002, (100002,), "Inactive")},
                   status_labels={100001: "Active", 100002: "Inactive"}, columns={
                       "name": S(100, required="SystemRequired"), "begindate": DATE(), "enddate": DATE(),
                       "description": M(), "freighttermscode": P({1: "Default Value"}),
                       "paymentmethodcode": P({1: "Default Value"}), "shippingmethodcode": P({1: "Default Value"})}))
    t.append(Table("product", "products", "name", ownership="OrganizationOwned", change_tracking=True,
                   currency=True, object_type_code=1024,
                   states={0: (1, (1,), "Active"), 1: (2, (2,), "Retired"), 2: (0, (0,), "Draft"),
                           3: (3, (3,), "Under Revision")},
                   status_labels={0: "Draft", 1: "Active", 2: "Retired", 3: "Under Revision"}, columns={
                       "name": S(100, required="ApplicationRequired"),
                       "productnumber": S(100, required="SystemRequired"),
                       "producttypecode": P({1: "Sales Inventory", 2: "Miscellaneous Charges", 3: "Services",
                                             4: "Flat Fees"}, default=1),
                       "productstructure": P({1: "Product", 2: "Product Family", 3: "Product Bundle"},
                                             required="SystemRequired", update=False, default=1),
                       "defaultuomscheduleid": L("uomschedule", required="ApplicationRequired", on_delete="restrict",
                                                 rels={"uomschedule": "unit_of_measurement_schedule_products"}),
                       "defaultuomid": L("uom", required="ApplicationRequired", on_delete="restrict",
                                         rels={"uom": "unit_of_measurement_products"}),
                       "pricelevelid": L("pricelevel", create=False, rels={"pricelevel": "price_level_products"}),
                       "quantitydecimal": I(required="ApplicationRequired", minimum=0, maximum=5, default=2),
                       "quantityonhand": D(minimum=0, maximum=1e9), "price": MONEY(minimum=0),
                       "standardcost": MONEY(minimum=0), "currentcost": MONEY(minimum=0), "description": M(),
                       "isstockitem": B(), "iskit": B(),
                       "parentproductid": L("product", rels={"product": "product_parent_product"}),
                       "stockweight": D(), "stockvolume": D(), "vendorid": S(100), "vendorname": S(100),
                       "vendorpartnumber": S(100),
                       "suppliername": S(100), "size": S(200), "producturl": S(255),
                       "validfromdate": DATE(), "validtodate": DATE()}))
    t.append(Table("productpricelevel", "productpricelevels", None, ownership="OrganizationOwned",
                   change_tracking=True, currency=True, bulk=False, object_type_code=1026, columns={
                       "pricelevelid": L("pricelevel", required="SystemRequired", update=False, on_delete="cascade",
                                         rels={"pricelevel": "price_level_product_price_levels"}),
                       "productid": L("product", required="SystemRequired", on_delete="cascade",
                                      rels={"product": "product_price_levels"}),
                       "uomid": L("uom", required="SystemRequired", on_delete="restrict",
                                  rels={"uom": "unit_of_measurement_product_price_levels"}),
                       "uomscheduleid": L("uomschedule",
                       rels={"uomschedule": "unit_of_measure_schedule_product_price_level"}),
                       "productnumber": S(100, read_only=True, create=False, update=False),
                       "amount": MONEY(), "percentage": D(),
                       "pricingmethodcode": P({1: "Currency Amount", 2: "Percent of List",
                                               3: "Percent Markup - Current Cost", 4: "Percent Margin - Current Cost",
                                               5: "Percent Markup - Standard Cost",
                                               6: "Percent Margin - Standard Cost"},
                                              required="ApplicationRequired", default=1),
                       "quantitysellingcode": P({1: "No Control", 2: "Whole", 3: "Whole and Fractional"}, default=1),
                       "roundingpolicycode": P({1: "None", 2: "Up", 3: "Down", 4: "To Nearest"}),
                       "roundingoptioncode": P({1: "Ends in", 2: "Multiple of"}), "roundingoptionamount": MONEY()}))
    t.append(Table("account", "accounts", "name", change_tracking=True, currency=True, object_type_code=1,
                   states=ACTIVE_INACTIVE, status_labels=ACTIVE_INACTIVE_LABELS, columns={
                       "name": S(160, required="ApplicationRequired"), "accountnumber": S(20),
                       "telephone1": S(50), "telephone2": S(50), "fax": S(50), "emailaddress1": S(100),
                       "websiteurl": S(200), **ADDRESS,
                       "address1_freighttermscode": P(FREIGHT_TERMS),
                       "address1_shippingmethodcode": P(SHIPPING_METHOD),
                       "parentaccountid": L("account", rels={"account": "account_parent_account"}),
                       "primarycontactid": L("contact", rels={"contact": "account_primary_contact"}),
                       "defaultpricelevelid": L("pricelevel", rels={"pricelevel": "price_level_accounts"}),
                       "customertypecode": P({1: "Competitor", 2: "Consultant", 3: "Customer", 4: "Investor",
                                              5: "Partner", 6: "Influencer", 7: "Press", 8: "Prospect",
                                              9: "Reseller", 10: "Supplier", 11: "Vendor", 12: "Other"}),
                       "paymenttermscode": P(PAYMENT_TERMS), "creditlimit": MONEY(), "revenue": MONEY(),
                       "numberofemployees": I(minimum=0, maximum=1e9), "description": M(),
                       "industrycode": P({1: "Accounting", 2: "Agriculture", 3: "Broadcasting", 4: "Brokers",
                                          5: "Building Supply Retail", 6: "Business Services", 7: "Consulting",
                                          8: "Consumer Services", 9: "Design", 10: "Distributors",
                                          11: "Doctor's Offices", 12: "Durable Manufacturing"})}))
    t.append(Table("contact", "contacts", "fullname", change_tracking=True, currency=True, object_type_code=2,
                   states=ACTIVE_INACTIVE, status_labels=ACTIVE_INACTIVE_LABELS, columns={
                       "firstname": S(50), "middlename": S(50), "lastname": S(50, required="ApplicationRequired"),
                       "fullname": S(160, read_only=True), "emailaddress1": S(100), "telephone1": S(50),
                       "mobilephone": S(50), "jobtitle": S(100), "salutation": S(100), **ADDRESS,
                       "fax": S(50), "pager": S(50), "websiteurl": S(200), "telephone2": S(50),
                       "parentcustomeridtype": Col("", "EntityName", read_only=True, create=False, update=False),
                       "parentcustomerid": L("account", "contact", kind="Customer", on_delete="cascade",
                                             navs={"account": "parentcustomerid_account",
                                                   "contact": "parentcustomerid_contact"},
                                             rels={"account": "contact_customer_accounts",
                                                   "contact": "contact_customer_contacts"}),
                       "annualincome": MONEY(), "description": M()}))
    opp_states = {0: (1, (1, 2), "Open"), 1: (3, (3,), "Won"), 2: (4, (4, 5), "Lost")}
    t.append(Table("opportunity", "opportunities", "name", change_tracking=True, currency=True,
                   object_type_code=3, states=opp_states,
                   status_labels={1: "In Progress", 2: "On Hold", 3: "Won", 4: "Canceled", 5: "Out-Sold"},
                   columns={
                       "name": S(300, required="ApplicationRequired"),
                       "customerid": L("account", "contact", kind="Customer",
                                       navs={"account": "customerid_account", "contact": "customerid_contact"},
                                       rels={"account": "opportunity_customer_accounts",
                                             "contact": "opportunity_customer_contacts"}),
                       "parentaccountid": L("account", rels={"account": "opportunity_parent_account"}),
                       "parentcontactid": L("contact", rels={"contact": "opportunity_parent_contact"}),
                       "customeridtype": Col("", "EntityName", read_only=True, create=False, update=False),
                       "pricelevelid": L("pricelevel", rels={"pricelevel": "price_level_opportunties"}),
                       "estimatedvalue": MONEY(), "estimatedclosedate": DATE(),
                       "closeprobability": I(minimum=0, maximum=100), "actualvalue": MONEY(),
                       "actualclosedate": DATE(), "description": M(), "stepname": S(200),
                       "opportunityratingcode": P({1: "Hot", 2: "Warm", 3: "Cold"}, default=2)}))
    quote = _doc_header("quotenumber")
    quote.update({"revisionnumber": I(read_only=True), "effectivefrom": DATE(), "effectiveto": DATE()})
    quote["customerid"].rels = {"account": "quote_customer_accounts", "contact": "quote_customer_contacts"}
    quote["pricelevelid"].rels = {"pricelevel": "price_level_quotes"}
    quote["opportunityid"].rels = {"opportunity": "opportunity_quotes"}
    t.append(Table("quote", "quotes", "name", change_tracking=True, currency=True, object_type_code=1084,
                   states={0: (1, (1,), "Draft"), 1: (2, (2, 3), "Active"), 2: (4, (4,), "Won"),
                           3: (7, (5, 6, 7), "Closed")},
                   status_labels={1: "In Progress", 2: "In Progress", 3: "Open", 4: "Won", 5: "Lost",
                                  6: "Canceled", 7: "Revised"}, columns=quote))
    order = _doc_header("ordernumber")
    order.update({"quoteid": L("quote", rels={"quote": "quote_orders"}), "requestdeliveryby": DATE(),
                  "datefulfilled": DT(), "submitdate": DT(), "lastbackofficesubmit": DATE()})
    order["customerid"].rels = {"account": "order_customer_accounts", "contact": "order_customer_contacts"}
    order["pricelevelid"].rels = {"pricelevel": "price_level_orders"}
    order["opportunityid"].rels = {"opportunity": "opportunity_sales_orders"}
    t.append(Table("salesorder", "salesorders", "name", change_tracking=True, currency=True, object_type_code=1088,
                   states={0: (1, (1, 2, 700970000), "Active"), 1: (3, (3,), "Submitted"),
                           2: (4, (4,), "Canceled"), 3: (100001, (100001, 100002), "Fulfilled"),
                           4: (100003, (100003,), "Invoiced")},
                   status_labels={1: "New", 2: "Pending", 3: "In Progress", 4: "No Money", 100001: "Complete",
                                  100002: "Partial", 100003: "Invoiced", 700970000: "In Progress"},
                   columns=order))
    order_lines = _doc_lines("salesorderid", "order_details")
    t.append(Table("salesorderdetail", "salesorderdetails", "productdescription", ownership="None",
                   change_tracking=True, currency=True, object_type_code=1089, columns=order_lines))
    inv = _doc_header("invoicenumber")
    inv.update({"salesorderid": L("salesorder", rels={"salesorder": "order_invoices"}), "duedate": DATE(),
                "datedelivered": DT()})
    inv["customerid"].rels = {"account": "invoice_customer_accounts", "contact": "invoice_customer_contacts"}
    inv["pricelevelid"].rels = {"pricelevel": "price_level_invoices"}
    inv["opportunityid"].rels = {"opportunity": "opportunity_invoices"}
    t.append(Table("invoice", "invoices", "name", change_tracking=True, currency=True, object_type_code=1090,
                   states={0: (1, (1, 2, 4, 5, 6), "Active"), 1: (100003, (3, 7), "Closed"),
                           2: (100001, (100001, 100002), "Paid"), 3: (100003, (100003,), "Canceled")},
                   status_labels={1: "New", 2: "Partially Shipped", 4: "Billed", 5: "Booked", 6: "Installed",
                                  3: "Canceled (deprecated)", 7: "Paid in Full (deprecated)", 100001: "Complete",
                                  100002: "Partial", 100003: "Canceled"}, columns=inv))
    t.append(Table("invoicedetail", "invoicedetails", "productdescription", ownership="None",
                   change_tracking=True, currency=True, object_type_code=1091,
                   columns=_doc_lines("invoiceid", "invoice_details")))
    regarding = ("account", "contact", "opportunity", "quote", "salesorder", "invoice", "product")
    t.append(Table("annotation", "annotations", "subject", object_type_code=5, columns={
        "subject": S(500), "notetext": M(100000), "isdocument": B(), "filename": S(255), "mimetype": S(256),
        "documentbody": M(1073741823), "filesize": I(read_only=True),
        "objectid": L(*regarding, on_delete="cascade", navs={x: f"objectid_{x}" for x in regarding},
                      rels={x: f"{x.capitalize()}_Annotation" for x in regarding}),
        "objecttypecode": Col("", "EntityName", read_only=True)}))
    return [_finish(x) for x in t]


def _sys(**kw: object) -> Col:
    c = Col("", kw.pop("type"), **kw)  # type: ignore[arg-type]
    c.system = True
    return c


def finish_table(t: Table) -> Table:
    """Add the system columns of a table (see the module docstring) and name its columns; returns ``t``."""
    return _finish(t)


def _finish(t: Table) -> Table:
    cols: dict[str, Col] = {t.primary_id: _sys(type="Uniqueidentifier", required="SystemRequired", update=False)}
    cols.update(t.columns)
    for sysname in ("createdby", "modifiedby", "createdonbehalfby", "modifiedonbehalfby"):
        cols[sysname] = _sys(type="Lookup", targets=("systemuser",), read_only=True, create=False, update=False,
                             rels={"systemuser": f"lk_{t.logical}_{sysname}"})
    cols["createdon"] = _sys(type="DateTime", read_only=True, create=False, update=False)
    cols["modifiedon"] = _sys(type="DateTime", read_only=True, create=False, update=False)
    cols["overriddencreatedon"] = _sys(type="DateTime", update=False)
    cols["versionnumber"] = _sys(type="BigInt", read_only=True, create=False, update=False)
    cols["importsequencenumber"] = _sys(type="Integer", update=False)
    cols["timezoneruleversionnumber"] = _sys(type="Integer")
    cols["utcconversiontimezonecode"] = _sys(type="Integer")
    if t.ownership == "UserOwned":
        cols["ownerid"] = _sys(type="Owner", targets=("systemuser", "team"), required="SystemRequired",
                               navs={"systemuser": "ownerid", "team": "ownerid"},
                               rels={"systemuser": f"user_{t.logical}", "team": f"team_{t.logical}"})
        cols["owningbusinessunit"] = _sys(type="Lookup", targets=("businessunit",), read_only=True, create=False,
                                          update=False, rels={"businessunit": f"business_unit_{t.logical}"})
        cols["owninguser"] = _sys(type="Lookup", targets=("systemuser",), read_only=True, create=False,
                                  update=False, rels={"systemuser": f"owninguser_{t.logical}"})
        cols["owningteam"] = _sys(type="Lookup", targets=("team",), read_only=True, create=False, update=False,
                                  rels={"team": f"owningteam_{t.logical}"})
        cols["owneridtype"] = _sys(type="EntityName", read_only=True, create=False, update=False)
    elif t.ownership in ("OrganizationOwned", "BusinessOwned") and t.logical != "organization":
        cols["organizationid"] = _sys(type="Lookup", targets=("organization",), read_only=True, create=False,
                                      update=False, rels={"organization": f"organization_{t.logical}"})
    if t.states:
        first_state = min(t.states)
        cols["statecode"] = _sys(type="State", required="SystemRequired",
                                 options={k: v[2] for k, v in t.states.items()}, default=first_state)
        cols["statuscode"] = _sys(type="Status", options=dict(t.status_labels))
    if t.currency:
        if "transactioncurrencyid" not in cols:
            cols["transactioncurrencyid"] = Col("transactioncurrencyid", "Lookup", targets=("transactioncurrency",),
                                                required="ApplicationRequired" if t.logical == "pricelevel" else "None",
                                                update=t.logical not in ("pricelevel", "salesorderdetail",
                                                "invoicedetail"),
                                                on_delete="restrict",
                                                rels={"transactioncurrency":
                                                      f"TransactionCurrency_{t.logical.capitalize()}"})
        cols["exchangerate"] = _sys(type="Decimal", read_only=True, create=False, update=False)
        for name, c in list(cols.items()):
            if c.type == "Money" and not name.endswith("_base"):
                cols[name + "_base"] = _sys(type="Money", read_only=True, create=False, update=False)
    for name, c in cols.items():
        c.name = name
    t.columns = cols
    if not t.display:
        t.display = t.logical.replace("_", " ").title()
    return t


#: The tables of a fresh organization (no solution imported). Never mutated: each organization works on copies
#: (:func:`build_schema`).
STANDARD_TABLES: dict[str, Table] = {x.logical: x for x in _tables()}

#: Role template of System Administrator (a role based on it holds every privilege).
SYSTEM_ADMINISTRATOR_TEMPLATE = "627090ff-40a3-4053-8790-584edc5be201"

#: N:N relationships: name -> (entity1, entity2).
MANY_TO_MANY: dict[str, tuple[str, str]] = {
    "systemuserroles_association": ("systemuser", "role"),
    # a role's privileges (Microsoft Learn "roleprivileges EntityType"; read only through the Web API, changed with
    # AddPrivilegesRole / ReplacePrivilegesRole or a solution import)
    "roleprivileges_association": ("role", "privilege"),
    "teamroles_association": ("team", "role"),
    "teammembership_association": ("systemuser", "team"),
}

#: The bulk operation messages of standard tables (Microsoft Learn "Use bulk operation messages"). The seeded
#: ``sdkmessagefilters`` name only CreateMultiple and UpdateMultiple: the page's availability query "will not return
#: results for UpsertMultiple", which a table supports when it supports both (:data:`BULK_FILTER_MESSAGES`).
BULK_MESSAGES = ("CreateMultiple", "UpdateMultiple", "UpsertMultiple")
BULK_FILTER_MESSAGES = ("CreateMultiple", "UpdateMultiple")


def stable_id(*parts: str) -> str:
    """Deterministic GUID for seeded rows (stable across restarts and resets)."""
    return str(uuid.uuid5(_NS, "/".join(parts)))


#: Schema names that are not the capitalised logical name.
SCHEMA_NAMES = {"salesorder": "SalesOrder", "salesorderdetail": "SalesOrderDetail", "invoicedetail": "InvoiceDetail",
                "transactioncurrency": "TransactionCurrency", "uom": "UoM", "uomschedule": "UoMSchedule",
                "pricelevel": "PriceLevel", "productpricelevel": "ProductPriceLevel", "systemuser": "SystemUser",
                "businessunit": "BusinessUnit", "roletemplate": "RoleTemplate", "sdkmessage": "SdkMessage",
                "sdkmessagefilter": "SdkMessageFilter"}


def schema_name(logical: str) -> str:
    """A standard table's SchemaName (``account`` -> ``Account``, ``salesorder`` -> ``SalesOrder``); custom tables
    carry theirs (:attr:`Table.schema`)."""
    return SCHEMA_NAMES.get(logical, logical.capitalize())


def table_schema_name(t: Table) -> str:
    """The SchemaName of a table: the solution's spelling for a custom table, else :func:`schema_name`."""
    return t.schema or schema_name(t.logical)


def build_schema(components: list[tuple[list[Table], dict[str, list[Col]]]]) -> dict[str, Table]:
    """An organization's tables: deep copies of :data:`STANDARD_TABLES` plus, in import order, the custom tables and
    the columns added to existing tables by each imported solution (``components``: ``[(tables, {table: [col]})]``
    as :mod:`.components` parses them). A later import of the same solution replaces its earlier components."""
    tables = dict(STANDARD_TABLES)
    changed: set[str] = set()
    for new_tables, new_columns in components:
        for t in new_tables:
            tables[t.logical] = copy.deepcopy(t)
            changed.add(t.logical)
        for logical, cols in new_columns.items():
            if logical not in tables:
                continue
            if logical not in changed:  # copy on write: the standard tables stay as they are
                tables[logical] = copy.copy(tables[logical])
                tables[logical].columns = dict(tables[logical].columns)
                changed.add(logical)
            for c in cols:
                tables[logical].columns[c.name] = copy.deepcopy(c)
    return tables
