"""The default configuration as data: every default integration table mapping, its field mappings, filters,
direction, dependency filter and job queue entry settings, and the special job queue entries (BC: codeunit 7204 CDS
Setup Defaults and codeunit 5334 CRM Setup Defaults, ResetConfiguration; table 472 Job Queue Entry).

``syncjobs.defaults`` applies these definitions to a connection setup; nothing here has behaviour.

Conditions (``when``) select what exists for the connection setup's options:
``""`` always · ``person`` Person ownership model · ``unit_group`` / ``no_unit_group`` unit group mapping on/off ·
``legacy_so`` legacy sales order integration (and not bidirectional) · ``bidirectional_so`` bidirectional sales order
integration · ``any_so`` either · ``item_availability`` · ``auto_create`` (not with bidirectional sales orders, which
deletes that job: BC ResetSalesOrderMappingConfiguration) · ``auto_process``.

Deliberate differences from BC, each named where it applies:
* The ``[CompanyId]`` integration table filters are omitted: a connection setup pairs one BC company with one
  Dataverse environment (multi-company synchronization, BC: table 5335 Integration Table Mapping, field 34 Multi
  Company Synch. Enabled, is not offered).
* POSTEDSALESINV-INV filters ``status ne 'Draft'`` because API v2.0 serves draft and posted invoices in one entity set
  (Microsoft Learn: "Business Central API (v2.0)"); BC reads the posted table directly.
* SALESORDER-ORDER has no Document Type filter because ``salesOrders`` only holds orders (Microsoft Learn: "Business
  Central API (v2.0)").
* Prices follow BC's extended price calculation (PLHEADER-PRICE, PLLINE-PRODPRICE: Price List Header / Line); the
  legacy Customer Price Group / Sales Price mappings (CUSTPRCGRP-PRICE, SALESPRC-PRODPRICE) are not offered, as BC
  removed them with legacy pricing (codeunit 5334 CRM Setup Defaults, ResetConfiguration).
* Priorities follow BC's GetPrioritizedMappingList (systemuser, currency, unit of measure, customer, contact, item,
  resource) and place every other mapping after the mappings it depends on, so every list reads in dependency order.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from mappings.models import Direction

TO = Direction.TO_INTEGRATION_TABLE
FROM = Direction.FROM_INTEGRATION_TABLE
BI = Direction.BIDIRECTIONAL

CRM_SERVICE = "Dynamics 365 Sales"
CDS_SERVICE = "Dataverse"


@dataclass(frozen=True)
class FieldMappingDefault:
    """One default integration field mapping (BC: table 5336 Integration Field Mapping). ``bc_field`` empty =
    constant written to Dataverse; ``dataverse_column`` empty = constant written into BC. ``validate`` is BC's
    Validate Field ("noV" = False)."""

    bc_field: str
    dataverse_column: str
    direction: Direction
    constant: str = ""
    validate: bool = True
    not_null: bool = False
    clear_value_on_failed_sync: bool = False
    use_for_match_based_coupling: bool = False
    when: str = ""


@dataclass(frozen=True)
class JobDefault:
    """A recurring job queue entry of a mapping (BC: codeunit 7204 CDS Setup Defaults,
    RecreateJobQueueEntryFromIntTableMapping; table 472 Job Queue Entry): minutes, minutes, category."""

    minutes_between_runs: int
    inactivity_timeout: int
    category: str = ""
    when: str = ""


@dataclass(frozen=True)
class MappingDefault:
    """One default integration table mapping (BC: codeunit 7204 CDS Setup Defaults and codeunit 5334 CRM Setup
    Defaults, ResetConfiguration)."""

    name: str
    bc_table: str
    dataverse_table: str
    uid_field: str
    direction: Direction
    priority: int
    service: str
    synch_only_coupled_records: bool = True
    modified_on_field: str = "modifiedon"
    table_filter: str = ""
    integration_table_filter: str = ""
    dependencies: tuple[tuple[str, str], ...] = ()  # (mapping name, when)
    job: JobDefault | None = None
    synch_after_bulk_coupling: bool = False
    create_new_in_case_of_no_match: bool = False
    deletion_conflict_resolution: str = "None"
    int_tbl_config_template: dict[str, object] = field(default_factory=dict)
    fields: tuple[FieldMappingDefault, ...] = ()
    when: str = ""


@dataclass(frozen=True)
class SpecialJobDefault:
    """A non-mapping job queue entry (BC: codeunit 5334 CRM Setup Defaults, RecreateJobQueueEntry): recurring every
    ``minutes``, inactivity timeout = minutes, max 2 attempts, created On Hold with Inactivity Timeout.

    ``available`` is False for a job whose work the portal does not do yet: the default configuration does not create
    it, because an entry shown as active that does nothing misleads the administrator."""

    kind: str
    description: str
    minutes: int
    when: str
    available: bool = True


F = FieldMappingDefault


def _owner(salesperson_field: str = "Salesperson Code") -> tuple[FieldMappingDefault, ...]:
    """The Person-model owner pair (BC: codeunit 7204 CDS Setup Defaults, Person ownership model): const
    'systemuser' -> owneridtype, salesperson -> ownerid."""
    return (
        F("", "owneridtype", TO, constant="systemuser", validate=False, when="person"),
        F(salesperson_field, "ownerid", TO, not_null=True, when="person"),
    )


def _party_fields(salesperson_field: str, *, credit_limit: bool) -> tuple[FieldMappingDefault, ...]:
    """CUSTOMER / VENDOR field mappings (BC: codeunit 7204 CDS Setup Defaults)."""
    rows = [
        *_owner(salesperson_field),
        F("Name", "name", BI), F("Contact", "address1_primarycontactname", BI, validate=False),
        F("Address", "address1_line1", BI), F("Address 2", "address1_line2", BI),
        F("Post Code", "address1_postalcode", BI), F("City", "address1_city", BI),
        F("Country/Region Code", "address1_country", BI, validate=False),
        F("County", "address1_stateorprovince", BI), F("Currency Code", "transactioncurrencyid", BI),
        F("E-Mail", "emailaddress1", BI), F("Fax No.", "fax", BI), F("Home Page", "websiteurl", BI),
        F("Phone No.", "telephone1", BI), F("Shipment Method Code", "address1_freighttermscode", BI),
        F("Shipping Agent Code", "address1_shippingmethodcode", BI), F("Payment Terms Code", "paymenttermscode", BI),
    ]
    if credit_limit:
        rows.append(F("Credit Limit (LCY)", "creditlimit", TO))
    rows.append(F("Primary Contact No.", "primarycontactid", BI, clear_value_on_failed_sync=True))
    return tuple(rows)


def _address_to(prefix: str, column_prefix: str, direction: Direction, *, name: bool = True,
                order: tuple[str, ...] = ("Name", "Address", "Address 2", "City", "Country/Region Code", "Post Code",
                                          "County")) -> tuple[FieldMappingDefault, ...]:
    columns = {"Name": "name", "Address": "line1", "Address 2": "line2", "City": "city",
               "Country/Region Code": "country", "Post Code": "postalcode", "County": "stateorprovince"}
    return tuple(F(f"{prefix}{part}", f"{column_prefix}_{columns[part]}", direction)
                 for part in order if name or part != "Name")


#: PLHEADER-PRICE table filter (BC: codeunit 5334 CRM Setup Defaults, ResetPriceListHeaderPricelevelMapping): sales
#: prices only, and "Allow Updating Defaults" = (Sales & Receivables Setup "Default Price List Code" <> ''). The portal
#: applies BC's value for a company with a default price list code (Yes): BC's switch to extended price calculation
#: defines the default price lists and their codes (codeunit 7049 "Feature - Price Calculation",
#: CreateDefaultPriceLists). For a company without one, edit the filter to ``allowUpdatingDefaults eq false``.
PRICE_LIST_HEADER_FILTER = "priceType eq 'Sale' and amountType eq 'Price' and allowUpdatingDefaults eq true"
#: PLLINE-PRODPRICE table filter (BC: ResetPriceListLineProductPricelevelMapping): sales prices of items and
#: resources without a minimum quantity (Dataverse keeps one price per product and unit in a price list).
PRICE_LIST_LINE_FILTER = ("priceType eq 'Sale' and amountType eq 'Price' "
                          "and (assetType eq 'Item' or assetType eq 'Resource') and minimumQuantity eq 0")

_PARTY_DEPENDENCIES = (("SALESPEOPLE", "person"), ("CURRENCY", ""), ("PAYMENT TERMS", ""), ("SHIPMENT METHOD", ""),
                       ("SHIPPING AGENT", ""))

MAPPINGS: tuple[MappingDefault, ...] = (
    # ---- base Dataverse mappings (BC: codeunit 7204 CDS Setup Defaults, ResetConfiguration) ----
    MappingDefault(
        "SALESPEOPLE", "Salesperson/Purchaser", "systemuser", "systemuserid", FROM, 10, CDS_SERVICE,
        integration_table_filter="isdisabled eq false and islicensed eq true and isintegrationuser eq false",
        job=JobDefault(30, 1440), when="person",
        fields=(F("E-Mail", "internalemailaddress", FROM), F("Name", "fullname", FROM),
                F("Phone No.", "mobilephone", FROM)),
    ),
    MappingDefault(
        "CURRENCY", "Currency", "transactioncurrency", "transactioncurrencyid", TO, 20, CDS_SERVICE,
        job=JobDefault(30, 720), synch_after_bulk_coupling=True, create_new_in_case_of_no_match=True,
        fields=(F("Code", "isocurrencycode", TO, use_for_match_based_coupling=True),
                F("Symbol", "currencysymbol", TO), F("Description", "currencyname", TO)),
    ),
    MappingDefault(
        "PAYMENT TERMS", "Payment Terms", "account", "paymenttermscode", TO, 21, CDS_SERVICE, modified_on_field="",
        job=JobDefault(30, 1440, "BCI OPTION"), synch_after_bulk_coupling=True, create_new_in_case_of_no_match=True,
        fields=(F("Code", "paymenttermscode", TO, use_for_match_based_coupling=True),),
    ),
    MappingDefault(
        "SHIPMENT METHOD", "Shipment Method", "account", "address1_freighttermscode", TO, 22, CDS_SERVICE,
        modified_on_field="", job=JobDefault(30, 1440, "BCI OPTION"), synch_after_bulk_coupling=True,
        create_new_in_case_of_no_match=True,
        fields=(F("Code", "address1_freighttermscode", TO, use_for_match_based_coupling=True),),
    ),
    MappingDefault(
        "SHIPPING AGENT", "Shipping Agent", "account", "address1_shippingmethodcode", TO, 23, CDS_SERVICE,
        modified_on_field="", job=JobDefault(30, 1440, "BCI OPTION"), synch_after_bulk_coupling=True,
        create_new_in_case_of_no_match=True,
        fields=(F("Code", "address1_shippingmethodcode", TO, use_for_match_based_coupling=True),),
    ),
    MappingDefault(
        "CUSTOMER", "Customer", "account", "accountid", BI, 40, CDS_SERVICE,
        table_filter="blocked eq ' '", integration_table_filter="statecode eq 0 and customertypecode eq 3",
        dependencies=_PARTY_DEPENDENCIES, job=JobDefault(30, 720, "BCI CUST"),
        int_tbl_config_template={"customertypecode": 3},
        fields=_party_fields("Salesperson Code", credit_limit=True),
    ),
    MappingDefault(
        "VENDOR", "Vendor", "account", "accountid", BI, 45, CDS_SERVICE,
        table_filter="blocked eq ' '", integration_table_filter="statecode eq 0 and customertypecode eq 11",
        dependencies=_PARTY_DEPENDENCIES, job=JobDefault(30, 720, "BCI CUST"),
        int_tbl_config_template={"customertypecode": 11},
        fields=_party_fields("Purchaser Code", credit_limit=False),
    ),
    MappingDefault(
        "CONTACT", "Contact", "contact", "contactid", BI, 50, CDS_SERVICE,
        table_filter="type eq 'Person' and companyNumber ne ''",
        integration_table_filter="_parentcustomerid_value ne null and statecode eq 0 "
                                 "and parentcustomeridtype eq 'account'",
        dependencies=(("CUSTOMER", ""), ("VENDOR", "")), job=JobDefault(30, 720, "BCI CUST"),
        fields=(
            *_owner(), F("Currency Code", "transactioncurrencyid", BI), F("Address", "address1_line1", BI),
            F("Address 2", "address1_line2", BI), F("Post Code", "address1_postalcode", BI),
            F("City", "address1_city", BI), F("Country/Region Code", "address1_country", BI, validate=False),
            F("County", "address1_stateorprovince", BI), F("E-Mail", "emailaddress1", BI), F("Fax No.", "fax", BI),
            F("First Name", "firstname", BI), F("Middle Name", "middlename", BI), F("Surname", "lastname", BI),
            F("Home Page", "websiteurl", BI), F("Mobile Phone No.", "mobilephone", BI), F("Pager", "pager", BI),
            F("Phone No.", "telephone1", BI), F("Type", "", FROM, constant="Person"),
            F("", "parentcustomeridtype", TO, constant="account", validate=False),
        ),
    ),
    # ---- Sales mappings (BC: codeunit 5334 CRM Setup Defaults, ResetConfiguration) ----
    MappingDefault(
        "UNIT OF MEASURE", "Unit of Measure", "uomschedule", "uomscheduleid", TO, 30, CRM_SERVICE,
        job=JobDefault(30, 720), when="no_unit_group",
        fields=(F("Code", "baseuomname", TO),),
    ),
    MappingDefault(
        "UNIT GROUP", "Unit Group", "uomschedule", "uomscheduleid", TO, 30, CRM_SERVICE,
        job=JobDefault(30, 720), synch_after_bulk_coupling=True, create_new_in_case_of_no_match=True,
        when="unit_group",
        fields=(F("Source No.", "name", TO, use_for_match_based_coupling=True), F("Source No.", "baseuomname", TO)),
    ),
    MappingDefault(
        "ITEM UOM", "Item Unit of Measure", "uom", "uomid", TO, 31, CRM_SERVICE,
        dependencies=(("UNIT GROUP", ""),), job=JobDefault(30, 720), synch_after_bulk_coupling=True,
        create_new_in_case_of_no_match=True, when="unit_group",
        fields=(F("Code", "name", TO, use_for_match_based_coupling=True),
                F("Qty. per Unit of Measure", "quantity", TO)),
    ),
    MappingDefault(
        "RESOURCE UOM", "Resource Unit of Measure", "uom", "uomid", TO, 32, CRM_SERVICE,
        dependencies=(("UNIT GROUP", ""),), job=JobDefault(30, 720), synch_after_bulk_coupling=True,
        create_new_in_case_of_no_match=True, when="unit_group",
        fields=(F("Code", "name", TO, use_for_match_based_coupling=True),
                F("Qty. per Unit of Measure", "quantity", TO)),
    ),
    MappingDefault(
        "ITEM-PRODUCT", "Item", "product", "productid", BI, 60, CRM_SERVICE,
        table_filter="blocked eq false", integration_table_filter="producttypecode eq 1 and statecode eq 0",
        dependencies=(("ITEM UOM", "unit_group"), ("UNIT OF MEASURE", "no_unit_group")), job=JobDefault(30, 1440),
        fields=(
            F("No.", "productnumber", TO), F("Description", "name", BI), F("Unit Price", "price", TO),
            F("Unit Cost", "standardcost", TO), F("Unit Cost", "currentcost", TO),
            F("Unit Volume", "stockvolume", TO), F("Gross Weight", "stockweight", TO),
            F("Vendor No.", "vendorid", TO), F("Vendor Item No.", "vendorpartnumber", TO),
            F("Inventory", "quantityonhand", TO),
            F("Base Unit of Measure", "defaultuomid", BI, when="unit_group"),
            F("Base Unit of Measure", "defaultuomscheduleid", BI, when="no_unit_group"),
        ),
    ),
    MappingDefault(
        "RESOURCE-PRODUCT", "Resource", "product", "productid", BI, 70, CRM_SERVICE,
        table_filter="blocked eq false", integration_table_filter="producttypecode eq 3 and statecode eq 0",
        dependencies=(("RESOURCE UOM", "unit_group"), ("UNIT OF MEASURE", "no_unit_group")),
        job=JobDefault(30, 720),
        fields=(
            F("No.", "productnumber", TO), F("Name", "name", BI), F("Unit Price", "price", TO),
            F("Unit Cost", "standardcost", TO), F("Unit Cost", "currentcost", TO), F("Vendor No.", "vendorid", TO),
            F("Capacity", "quantityonhand", TO), F("Base Unit of Measure", "defaultuomid", TO, when="unit_group"),
        ),
    ),
    MappingDefault(
        "PLHEADER-PRICE", "Price List Header", "pricelevel", "pricelevelid", TO, 80, CRM_SERVICE,
        table_filter=PRICE_LIST_HEADER_FILTER,
        dependencies=(("CURRENCY", ""), ("ITEM-PRODUCT", "")), job=JobDefault(30, 1440),
        fields=(F("Code", "name", TO), F("Description", "description", TO),
                F("Currency Code", "transactioncurrencyid", TO), F("Starting Date", "begindate", TO),
                F("Ending Date", "enddate", TO)),
    ),
    MappingDefault(
        "PLLINE-PRODPRICE", "Price List Line", "productpricelevel", "productpricelevelid", TO, 81, CRM_SERVICE,
        synch_only_coupled_records=False, table_filter=PRICE_LIST_LINE_FILTER,
        dependencies=(("PLHEADER-PRICE", ""), ("ITEM-PRODUCT", "")), job=JobDefault(30, 1440),
        fields=(
            F("Price List Code", "pricelevelid", TO), F("Asset No.", "productid", TO),
            F("Asset No.", "productnumber", TO), F("Currency Code", "transactioncurrencyid", TO),
            F("", "pricingmethodcode", TO, constant="CurrencyAmount", validate=False),
            F("Unit of Measure Code", "uomid", TO, when="unit_group"),
            F("Unit of Measure Code", "uomscheduleid", TO, when="no_unit_group"),
            F("Unit Price", "amount", TO),
        ),
    ),
    MappingDefault(
        "OPPORTUNITY", "Opportunity", "opportunity", "opportunityid", BI, 90, CRM_SERVICE,
        synch_only_coupled_records=False, table_filter="status eq 'Not Started' or status eq 'In Progress'",
        dependencies=(("CONTACT", ""),),
        fields=(
            F("Description", "name", BI), F("Contact No.", "parentcontactid", TO),
            F("Contact Company No.", "parentaccountid", TO), *_owner(),
            F("Estimated Value (LCY)", "estimatedvalue", TO), F("Estimated Closing Date", "estimatedclosedate", TO),
        ),
    ),
    MappingDefault(
        "POSTEDSALESINV-INV", "Sales Invoice Header", "invoice", "invoiceid", TO, 100, CRM_SERVICE,
        table_filter="status ne 'Draft'",
        dependencies=(("ITEM-PRODUCT", ""), ("RESOURCE-PRODUCT", ""), ("OPPORTUNITY", "")), job=JobDefault(30, 1440),
        fields=(
            F("No.", "invoicenumber", TO), *_owner(), F("Currency Code", "transactioncurrencyid", TO),
            F("Due Date", "duedate", TO), *_address_to("Ship-to ", "shipto", TO),
            F("Shipment Date", "datedelivered", TO), *_address_to("Bill-to ", "billto", TO),
            F("Amount", "totalamountlessfreight", TO), F("Amount Including VAT", "totalamount", TO),
            F("Invoice Discount Amount", "discountamount", TO), F("Shipping Agent Code", "shippingmethodcode", TO),
            F("Payment Terms Code", "paymenttermscode", TO), F("Work Description", "description", TO, validate=False),
        ),
    ),
    MappingDefault(
        "POSTEDSALESLINE-INV", "Sales Invoice Line", "invoicedetail", "invoicedetailid", TO, 101, CRM_SERVICE,
        synch_only_coupled_records=False, dependencies=(("POSTEDSALESINV-INV", ""),),
        fields=(
            F("Quantity", "quantity", TO), F("Line Discount Amount", "manualdiscountamount", TO),
            F("Unit Price", "priceperunit", TO), F("", "ispriceoverridden", TO, constant="1"),
            F("Amount", "baseamount", TO), F("Amount Including VAT", "extendedamount", TO),
        ),
    ),
    MappingDefault(
        "SALESORDER-ORDER", "Sales Header", "salesorder", "salesorderid", TO, 110, CRM_SERVICE,
        table_filter="status eq 'Released'",
        dependencies=(("ITEM-PRODUCT", ""), ("RESOURCE-PRODUCT", ""), ("OPPORTUNITY", "")), job=JobDefault(30, 720),
        when="legacy_so",
        fields=(
            F("No.", "ordernumber", TO), *_owner(), F("Currency Code", "transactioncurrencyid", TO),
            *_address_to("Ship-to ", "shipto", TO), *_address_to("Bill-to ", "billto", TO),
            F("Last Shipment Date", "datefulfilled", TO), F("Amount", "totalamountlessfreight", TO),
            F("Amount Including VAT", "totalamount", TO), F("Invoice Discount Amount", "discountamount", TO),
            F("Shipping Agent Code", "shippingmethodcode", TO), F("Payment Terms Code", "paymenttermscode", TO),
            F("Requested Delivery Date", "requestdeliveryby", TO),
        ),
    ),
    MappingDefault(
        "SALESORDER-ORDER", "Sales Header", "salesorder", "salesorderid", BI, 110, CRM_SERVICE,
        table_filter="status eq 'Released'", integration_table_filter="statecode eq 1",
        dependencies=(("CUSTOMER", ""), ("ITEM-PRODUCT", ""), ("RESOURCE-PRODUCT", ""), ("OPPORTUNITY", "")),
        job=JobDefault(30, 720), when="bidirectional_so",
        fields=(
            *_owner(), F("Document Type", "", FROM, constant="Order"), F("No.", "bcp_businesscentralordernumber", TO),
            F("Your Reference", "ordernumber", FROM), F("", "customeridtype", TO, constant="account", validate=False),
            F("Sell-to Customer No.", "customerid", BI), F("Currency Code", "transactioncurrencyid", BI),
            *_address_to("Ship-to ", "shipto", BI, order=("Name", "Address", "Address 2", "Post Code", "City",
                                                          "Country/Region Code", "County")),
            F("Last Shipment Date", "datefulfilled", TO),
            *_address_to("Bill-to ", "billto", BI, name=False, order=("Address", "Address 2", "Post Code", "City",
                                                                      "Country/Region Code", "County")),
            F("Invoice Discount Amount", "discountamount", BI), F("Shipping Agent Code", "shippingmethodcode", BI),
            F("Payment Terms Code", "paymenttermscode", BI), F("Shipment Method Code", "freighttermscode", BI),
            F("Requested Delivery Date", "requestdeliveryby", BI), F("Payment Discount %", "discountpercentage", BI),
            F("Work Description", "description", BI, validate=False),
        ),
    ),
    MappingDefault(
        "SOLINE-ORDERDETAIL", "Sales Line", "salesorderdetail", "salesorderdetailid", BI, 111, CRM_SERVICE,
        synch_only_coupled_records=False, table_filter="lineType eq 'Item' or lineType eq 'Resource'",
        dependencies=(("SALESORDER-ORDER", ""),), deletion_conflict_resolution="RemoveCoupling",
        when="bidirectional_so",
        fields=(
            F("Document Type", "", FROM, constant="Order"),
            F("", "producttypecode", TO, constant="Product", validate=False), F("No.", "productid", BI),
            F("Line No.", "bcp_businesscentrallinenumber", BI), F("Quantity", "quantity", BI),
            F("Quantity Shipped", "quantityshipped", BI), F("", "ispriceoverridden", TO, constant="1"),
            F("Unit Price", "priceperunit", BI), F("Currency Code", "transactioncurrencyid", BI),
            F("Amount", "baseamount", BI), F("Amount Including VAT", "extendedamount", BI),
        ),
    ),
)

#: Every name the default configuration can create (user-defined mappings never use these names).
DEFAULT_MAPPING_NAMES: frozenset[str] = frozenset(m.name for m in MAPPINGS)

SPECIAL_JOBS: tuple[SpecialJobDefault, ...] = (
    SpecialJobDefault("CustomerStatistics", f"Customer Statistics - {CRM_SERVICE} synchronization job", 30, ""),
    SpecialJobDefault("ItemAvailability", f"Item Availability - {CRM_SERVICE} synchronization job", 30,
                      "item_availability"),
    SpecialJobDefault("SalesOrderStatus", f"Sales Order Status - {CRM_SERVICE} synchronization job", 7, "legacy_so",
                      available=False),
    SpecialJobDefault("SalesOrderNotes", f"Sales Order Notes - {CRM_SERVICE} synchronization job", 5, "any_so"),
    SpecialJobDefault("ArchivedSalesOrders", f"Archived Sales Orders - {CRM_SERVICE} synchronization job", 30,
                      "bidirectional_so"),
    SpecialJobDefault("AutoCreateSalesOrders",
                      f"Automatically create sales orders from sales orders submitted in {CRM_SERVICE}", 30,
                      "auto_create", available=False),
    SpecialJobDefault("AutoProcessSalesQuotes",
                      f"Automatically process sales quotes from sales quotes activated in {CRM_SERVICE}", 30,
                      "auto_process", available=False),
)

@dataclass(frozen=True)
class OneOffJobDefault:
    """A one-off job queue entry: its kind, description, maximum attempts, rerun delay (seconds) and how long after
    its creation it may start (seconds)."""

    kind: str
    description: str
    maximum_no_of_attempts_to_run: int
    rerun_delay_sec: int
    start_delay_seconds: int


#: The job that creates BC's missing unit groups and then resets the unit group mappings, created when unit group
#: mapping is turned on (BC: codeunit 5330 CRM Integration Management, EnableUnitGroupMapping: start now + 1 s,
#: 3 attempts, rerun delay 60 s, codeunit 5367 "CRM Update Unit Group Mapping").
UNIT_GROUP_UPDATE_JOB = OneOffJobDefault("UnitGroupUpdate", "Updating CRM Unit Group Mapping", 3, 60, 1)

#: Job queue entry settings (BC: codeunit 7204 CDS Setup Defaults, RecreateJobQueueEntryFromIntTableMapping and
#: CreateJobQueueEntry; table 472 Job Queue Entry).
MAPPING_JOB_MAX_ATTEMPTS = 10
SPECIAL_JOB_MAX_ATTEMPTS = 2
RERUN_DELAY_SECONDS = 30

#: Mappings a connection setup option affects (what its toggle rebuilds).
OWNERSHIP_SCOPE = frozenset({"SALESPEOPLE", "CUSTOMER", "VENDOR", "CONTACT", "OPPORTUNITY", "POSTEDSALESINV-INV",
                             "SALESORDER-ORDER"})
#: BC ResetUnitGroupMappingConfiguration also swaps the PLLINE-PRODPRICE unit field (UoMScheduleId <-> UoMId).
UNIT_GROUP_SCOPE = frozenset({"UNIT OF MEASURE", "UNIT GROUP", "ITEM UOM", "RESOURCE UOM", "ITEM-PRODUCT",
                              "RESOURCE-PRODUCT", "PLLINE-PRODPRICE"})
SALES_ORDER_SCOPE = frozenset({"SALESORDER-ORDER", "SOLINE-ORDERDETAIL"})
SALES_ORDER_JOB_KINDS = frozenset({"SalesOrderStatus", "SalesOrderNotes", "ArchivedSalesOrders",
                                   "AutoCreateSalesOrders", "AutoProcessSalesQuotes"})
