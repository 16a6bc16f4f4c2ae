"""The default configuration against BC's codeunit 7204 CDS Setup Defaults and codeunit 5334 CRM Setup Defaults for
every combination of options, and the toggles."""
from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from mappings.catalogue import bc_table, dataverse_table, validate_filter
from mappings.models import IntegrationFieldMapping, IntegrationTableMapping
from syncjobs.defaults import (
    default_configuration_reset,
    ownership_model_apply,
    sales_order_configuration_reset,
    special_jobs_apply,
    unit_group_mapping_apply,
)
from syncjobs.models import JobQueueEntry

# BC's default mappings (CDS / CRM Setup Defaults): name -> (BC table, Dataverse table, direction, coupled only,
# BC filter, Dataverse filter)
BASE = {
    "CURRENCY": ("Currency", "transactioncurrency", "ToIntegrationTable", True, "", ""),
    "PAYMENT TERMS": ("Payment Terms", "account", "ToIntegrationTable", True, "", ""),
    "SHIPMENT METHOD": ("Shipment Method", "account", "ToIntegrationTable", True, "", ""),
    "SHIPPING AGENT": ("Shipping Agent", "account", "ToIntegrationTable", True, "", ""),
    "CUSTOMER": ("Customer", "account", "Bidirectional", True, "blocked eq ' '",
                 "statecode eq 0 and customertypecode eq 3"),
    "VENDOR": ("Vendor", "account", "Bidirectional", True, "blocked eq ' '",
               "statecode eq 0 and customertypecode eq 11"),
    "CONTACT": ("Contact", "contact", "Bidirectional", True, "type eq 'Person' and companyNumber ne ''",
                "_parentcustomerid_value ne null and statecode eq 0 and parentcustomeridtype eq 'account'"),
    "ITEM-PRODUCT": ("Item", "product", "Bidirectional", True, "blocked eq false",
                     "producttypecode eq 1 and statecode eq 0"),
    "RESOURCE-PRODUCT": ("Resource", "product", "Bidirectional", True, "blocked eq false",
                         "producttypecode eq 3 and statecode eq 0"),
    # BC: ResetPriceListHeaderPricelevelMapping / ResetPriceListLineProductPricelevelMapping (extended pricing)
    "PLHEADER-PRICE": ("Price List Header", "pricelevel", "ToIntegrationTable", True,
                       "priceType eq 'Sale' and amountType eq 'Price' and allowUpdatingDefaults eq true", ""),
    "PLLINE-PRODPRICE": ("Price List Line", "productpricelevel", "ToIntegrationTable", False,
                         "priceType eq 'Sale' and amountType eq 'Price' "
                         "and (assetType eq 'Item' or assetType eq 'Resource') and minimumQuantity eq 0", ""),
    "POSTEDSALESINV-INV": ("Sales Invoice Header", "invoice", "ToIntegrationTable", True, "status ne 'Draft'", ""),
    "POSTEDSALESLINE-INV": ("Sales Invoice Line", "invoicedetail", "ToIntegrationTable", False, "", ""),
    "OPPORTUNITY": ("Opportunity", "opportunity", "Bidirectional", False,
                    "status eq 'Not Started' or status eq 'In Progress'", ""),
}
PERSON_ONLY = {"SALESPEOPLE": ("Salesperson/Purchaser", "systemuser", "FromIntegrationTable", True, "",
                               "isdisabled eq false and islicensed eq true and isintegrationuser eq false")}
UNIT_GROUP = {"UNIT GROUP": ("Unit Group", "uomschedule", "ToIntegrationTable", True, "", ""),
              "ITEM UOM": ("Item Unit of Measure", "uom", "ToIntegrationTable", True, "", ""),
              "RESOURCE UOM": ("Resource Unit of Measure", "uom", "ToIntegrationTable", True, "", "")}
NO_UNIT_GROUP = {"UNIT OF MEASURE": ("Unit of Measure", "uomschedule", "ToIntegrationTable", True, "", "")}
LEGACY_SO = {"SALESORDER-ORDER": ("Sales Header", "salesorder", "ToIntegrationTable", True, "status eq 'Released'", "")}
BIDIRECTIONAL_SO = {
    "SALESORDER-ORDER": ("Sales Header", "salesorder", "Bidirectional", True, "status eq 'Released'", "statecode eq 1"),
    "SOLINE-ORDERDETAIL": ("Sales Line", "salesorderdetail", "Bidirectional", False,
                           "lineType eq 'Item' or lineType eq 'Resource'", ""),
}

# (minutes between runs, inactivity timeout, category); None = no job queue entry (BC: the job queue entries that
# CDS / CRM Setup Defaults create)
JOBS = {
    "SALESPEOPLE": (30, 1440, ""), "CUSTOMER": (30, 720, "BCI CUST"), "VENDOR": (30, 720, "BCI CUST"),
    "CONTACT": (30, 720, "BCI CUST"), "CURRENCY": (30, 720, ""), "PAYMENT TERMS": (30, 1440, "BCI OPTION"),
    "SHIPMENT METHOD": (30, 1440, "BCI OPTION"), "SHIPPING AGENT": (30, 1440, "BCI OPTION"),
    "UNIT OF MEASURE": (30, 720, ""), "UNIT GROUP": (30, 720, ""), "ITEM UOM": (30, 720, ""),
    "RESOURCE UOM": (30, 720, ""), "ITEM-PRODUCT": (30, 1440, ""), "RESOURCE-PRODUCT": (30, 720, ""),
    "PLHEADER-PRICE": (30, 1440, ""), "PLLINE-PRODPRICE": (30, 1440, ""), "POSTEDSALESINV-INV": (30, 1440, ""),
    "POSTEDSALESLINE-INV": None, "OPPORTUNITY": None, "SALESORDER-ORDER": (30, 720, ""), "SOLINE-ORDERDETAIL": None,
}

OWNER = ["|owneridtype|To|systemuser", "Salesperson Code|ownerid|To"]
SHIP_TO = ["Ship-to Name|shipto_name", "Ship-to Address|shipto_line1", "Ship-to Address 2|shipto_line2",
           "Ship-to City|shipto_city", "Ship-to Country/Region Code|shipto_country",
           "Ship-to Post Code|shipto_postalcode", "Ship-to County|shipto_stateorprovince"]
BILL_TO = [row.replace("Ship-to", "Bill-to").replace("shipto", "billto") for row in SHIP_TO]


def _party(owner_field: str, credit_limit: bool) -> list[str]:
    rows = ["|owneridtype|To|systemuser", f"{owner_field}|ownerid|To", "Name|name|Bi",
            "Contact|address1_primarycontactname|Bi", "Address|address1_line1|Bi", "Address 2|address1_line2|Bi",
            "Post Code|address1_postalcode|Bi", "City|address1_city|Bi", "Country/Region Code|address1_country|Bi",
            "County|address1_stateorprovince|Bi", "Currency Code|transactioncurrencyid|Bi",
            "E-Mail|emailaddress1|Bi", "Fax No.|fax|Bi", "Home Page|websiteurl|Bi", "Phone No.|telephone1|Bi",
            "Shipment Method Code|address1_freighttermscode|Bi", "Shipping Agent Code|address1_shippingmethodcode|Bi",
            "Payment Terms Code|paymenttermscode|Bi"]
    if credit_limit:
        rows.append("Credit Limit (LCY)|creditlimit|To")
    return [*rows, "Primary Contact No.|primarycontactid|Bi"]


# Field mapping lists of CDS / CRM Setup Defaults in Person ownership; "BC field|Dataverse column|direction|constant".
FIELDS = {
    "SALESPEOPLE": ["E-Mail|internalemailaddress|From", "Name|fullname|From", "Phone No.|mobilephone|From"],
    "CUSTOMER": _party("Salesperson Code", True),
    "VENDOR": _party("Purchaser Code", False),
    "CONTACT": [*OWNER, "Currency Code|transactioncurrencyid|Bi", "Address|address1_line1|Bi",
                "Address 2|address1_line2|Bi", "Post Code|address1_postalcode|Bi", "City|address1_city|Bi",
                "Country/Region Code|address1_country|Bi", "County|address1_stateorprovince|Bi",
                "E-Mail|emailaddress1|Bi", "Fax No.|fax|Bi", "First Name|firstname|Bi", "Middle Name|middlename|Bi",
                "Surname|lastname|Bi", "Home Page|websiteurl|Bi", "Mobile Phone No.|mobilephone|Bi", "Pager|pager|Bi",
                "Phone No.|telephone1|Bi", "Type||From|Person", "|parentcustomeridtype|To|account"],
    "CURRENCY": ["Code|isocurrencycode|To", "Symbol|currencysymbol|To", "Description|currencyname|To"],
    "PAYMENT TERMS": ["Code|paymenttermscode|To"],
    "SHIPMENT METHOD": ["Code|address1_freighttermscode|To"],
    "SHIPPING AGENT": ["Code|address1_shippingmethodcode|To"],
    "UNIT OF MEASURE": ["Code|baseuomname|To"],
    "UNIT GROUP": ["Source No.|name|To", "Source No.|baseuomname|To"],
    "ITEM UOM": ["Code|name|To", "Qty. per Unit of Measure|quantity|To"],
    "RESOURCE UOM": ["Code|name|To", "Qty. per Unit of Measure|quantity|To"],
    "ITEM-PRODUCT": ["No.|productnumber|To", "Description|name|Bi", "Unit Price|price|To", "Unit Cost|standardcost|To",
                     "Unit Cost|currentcost|To", "Unit Volume|stockvolume|To", "Gross Weight|stockweight|To",
                     "Vendor No.|vendorid|To", "Vendor Item No.|vendorpartnumber|To", "Inventory|quantityonhand|To"],
    "RESOURCE-PRODUCT": ["No.|productnumber|To", "Name|name|Bi", "Unit Price|price|To", "Unit Cost|standardcost|To",
                         "Unit Cost|currentcost|To", "Vendor No.|vendorid|To", "Capacity|quantityonhand|To"],
    "PLHEADER-PRICE": ["Code|name|To", "Description|description|To", "Currency Code|transactioncurrencyid|To",
                       "Starting Date|begindate|To", "Ending Date|enddate|To"],
    "PLLINE-PRODPRICE": ["Price List Code|pricelevelid|To", "Asset No.|productid|To", "Asset No.|productnumber|To",
                         "Currency Code|transactioncurrencyid|To", "|pricingmethodcode|To|CurrencyAmount",
                         "Unit Price|amount|To"],
    "POSTEDSALESINV-INV": ["No.|invoicenumber|To", *OWNER, "Currency Code|transactioncurrencyid|To",
                           "Due Date|duedate|To", *(f"{r}|To" for r in SHIP_TO), "Shipment Date|datedelivered|To",
                           *(f"{r}|To" for r in BILL_TO), "Amount|totalamountlessfreight|To",
                           "Amount Including VAT|totalamount|To", "Invoice Discount Amount|discountamount|To",
                           "Shipping Agent Code|shippingmethodcode|To", "Payment Terms Code|paymenttermscode|To",
                           "Work Description|description|To"],
    "POSTEDSALESLINE-INV": ["Quantity|quantity|To", "Line Discount Amount|manualdiscountamount|To",
                            "Unit Price|priceperunit|To", "|ispriceoverridden|To|1", "Amount|baseamount|To",
                            "Amount Including VAT|extendedamount|To"],
    "OPPORTUNITY": ["Description|name|Bi", "Contact No.|parentcontactid|To", "Contact Company No.|parentaccountid|To",
                    *OWNER, "Estimated Value (LCY)|estimatedvalue|To", "Estimated Closing Date|estimatedclosedate|To"],
    "SOLINE-ORDERDETAIL": ["Document Type||From|Order", "|producttypecode|To|Product", "No.|productid|Bi",
                           "Line No.|bcp_businesscentrallinenumber|Bi", "Quantity|quantity|Bi",
                           "Quantity Shipped|quantityshipped|Bi", "|ispriceoverridden|To|1",
                           "Unit Price|priceperunit|Bi", "Currency Code|transactioncurrencyid|Bi",
                           "Amount|baseamount|Bi", "Amount Including VAT|extendedamount|Bi"],
}
SO_LEGACY_FIELDS = ["No.|ordernumber|To", *OWNER, "Currency Code|transactioncurrencyid|To",
                    *(f"{r}|To" for r in SHIP_TO), *(f"{r}|To" for r in BILL_TO),
                    "Last Shipment Date|datefulfilled|To", "Amount|totalamountlessfreight|To",
                    "Amount Including VAT|totalamount|To", "Invoice Discount Amount|discountamount|To",
                    "Shipping Agent Code|shippingmethodcode|To", "Payment Terms Code|paymenttermscode|To",
                    "Requested Delivery Date|requestdeliveryby|To"]
SO_BIDIRECTIONAL_FIELDS = [
    *OWNER, "Document Type||From|Order", "No.|bcp_businesscentralordernumber|To", "Your Reference|ordernumber|From",
    "|customeridtype|To|account", "Sell-to Customer No.|customerid|Bi", "Currency Code|transactioncurrencyid|Bi",
    "Ship-to Name|shipto_name|Bi", "Ship-to Address|shipto_line1|Bi", "Ship-to Address 2|shipto_line2|Bi",
    "Ship-to Post Code|shipto_postalcode|Bi", "Ship-to City|shipto_city|Bi",
    "Ship-to Country/Region Code|shipto_country|Bi", "Ship-to County|shipto_stateorprovince|Bi",
    "Last Shipment Date|datefulfilled|To", "Bill-to Address|billto_line1|Bi", "Bill-to Address 2|billto_line2|Bi",
    "Bill-to Post Code|billto_postalcode|Bi", "Bill-to City|billto_city|Bi",
    "Bill-to Country/Region Code|billto_country|Bi", "Bill-to County|billto_stateorprovince|Bi",
    "Invoice Discount Amount|discountamount|Bi", "Shipping Agent Code|shippingmethodcode|Bi",
    "Payment Terms Code|paymenttermscode|Bi", "Shipment Method Code|freighttermscode|Bi",
    "Requested Delivery Date|requestdeliveryby|Bi", "Payment Discount %|discountpercentage|Bi",
    "Work Description|description|Bi"]

SHORT = {"ToIntegrationTable": "To", "FromIntegrationTable": "From", "Bidirectional": "Bi"}


def _expected_fields(name: str, *, person: bool, unit_group: bool, bidirectional: bool) -> list[str]:
    if name == "SALESORDER-ORDER":
        rows = SO_BIDIRECTIONAL_FIELDS if bidirectional else SO_LEGACY_FIELDS
    else:
        rows = list(FIELDS[name])
    if name == "ITEM-PRODUCT":
        rows = [*rows, "Base Unit of Measure|defaultuomid|Bi" if unit_group
                else "Base Unit of Measure|defaultuomscheduleid|Bi"]
    if name == "RESOURCE-PRODUCT" and unit_group:
        rows = [*rows, "Base Unit of Measure|defaultuomid|To"]
    if name == "PLLINE-PRODPRICE":  # UoMId in unit group mode, UoMScheduleId otherwise, before "Unit Price"
        rows.insert(-1, "Unit of Measure Code|uomid|To" if unit_group else "Unit of Measure Code|uomscheduleid|To")
    if not person:
        rows = [r for r in rows if "|owneridtype|" not in r and "|ownerid|" not in r]
    return [r if r.count("|") == 3 else f"{r}|" for r in rows]


def _actual_fields(mapping: IntegrationTableMapping) -> list[str]:
    return [f"{f.field_name}|{f.integration_field_name}|{SHORT[f.direction]}|{f.constant_value}"
            for f in mapping.field_mappings.order_by("sequence")]


def _expected_dependency(name: str, *, person: bool, unit_group: bool, bidirectional: bool) -> str:
    party = "SALESPEOPLE|CURRENCY|PAYMENT TERMS|SHIPMENT METHOD|SHIPPING AGENT" if person else \
        "CURRENCY|PAYMENT TERMS|SHIPMENT METHOD|SHIPPING AGENT"
    return {
        "CUSTOMER": party, "VENDOR": party, "CONTACT": "CUSTOMER|VENDOR", "ITEM UOM": "UNIT GROUP",
        "RESOURCE UOM": "UNIT GROUP", "ITEM-PRODUCT": "ITEM UOM" if unit_group else "UNIT OF MEASURE",
        "RESOURCE-PRODUCT": "RESOURCE UOM" if unit_group else "UNIT OF MEASURE",
        "PLHEADER-PRICE": "CURRENCY|ITEM-PRODUCT", "PLLINE-PRODPRICE": "PLHEADER-PRICE|ITEM-PRODUCT",
        "POSTEDSALESINV-INV": "ITEM-PRODUCT|RESOURCE-PRODUCT|OPPORTUNITY", "POSTEDSALESLINE-INV": "POSTEDSALESINV-INV",
        "OPPORTUNITY": "CONTACT",
        "SALESORDER-ORDER": ("CUSTOMER|" if bidirectional else "") + "ITEM-PRODUCT|RESOURCE-PRODUCT|OPPORTUNITY",
        "SOLINE-ORDERDETAIL": "SALESORDER-ORDER",
    }.get(name, "")


COMBINATIONS = list(itertools.product(["Person", "Team"], [True, False], ["none", "legacy", "bidirectional"]))


@pytest.mark.django_db
@pytest.mark.parametrize(("ownership", "unit_group", "sales_orders"), COMBINATIONS)
def test_default_configuration_matches_reference(connection: Any, ownership: str, unit_group: bool,
                                                 sales_orders: str) -> None:
    connection.ownership_model = ownership
    connection.unit_group_mapping_enabled = unit_group
    connection.legacy_sales_order_integration = sales_orders == "legacy"
    connection.bidirectional_sales_order_integration = sales_orders == "bidirectional"
    connection.save()
    person, bidirectional = ownership == "Person", sales_orders == "bidirectional"

    report = default_configuration_reset(connection=connection)

    expected = dict(BASE)
    expected.update(PERSON_ONLY if person else {})
    expected.update(UNIT_GROUP if unit_group else NO_UNIT_GROUP)
    expected.update({"legacy": LEGACY_SO, "bidirectional": BIDIRECTIONAL_SO, "none": {}}[sales_orders])
    mappings = {m.name: m for m in IntegrationTableMapping.objects.filter(connection=connection)}
    assert set(mappings) == set(expected)
    assert sorted(report.created) == sorted(expected)
    for name, (table, integration_table, direction, coupled, table_filter, int_filter) in expected.items():
        mapping = mappings[name]
        assert (mapping.table, mapping.integration_table, mapping.direction, mapping.synch_only_coupled_records,
                mapping.table_filter, mapping.integration_table_filter) == (
            table, integration_table, direction, coupled, table_filter, int_filter), name
        flags = dict(person=person, unit_group=unit_group, bidirectional=bidirectional)
        assert mapping.dependency_filter == _expected_dependency(name, **flags), name
        assert _actual_fields(mapping) == _expected_fields(name, **flags), name
        jobs = list(mapping.job_queue_entries.all())
        if JOBS[name] is None:
            assert jobs == [], name
        else:
            (job,) = jobs
            assert (job.no_of_minutes_between_runs, job.inactivity_timeout_period, job.category) == JOBS[name], name
            assert (job.maximum_no_of_attempts_to_run, job.rerun_delay_sec, job.recurring_job) == (10, 30, True)
            assert job.kind == JobQueueEntry.Kind.MAPPING
            assert job.description.startswith(f"{name} - ")
    specials = set(JobQueueEntry.objects.filter(connection=connection).exclude(kind=JobQueueEntry.Kind.MAPPING)
                   .values_list("kind", flat=True))
    # of the sales order jobs Sales Order Notes (either mode) and Archived Sales Orders (bi-directional) have a
    # handler; the others have none yet, so the default configuration does not create them
    expected = {"CustomerStatistics"} | ({"SalesOrderNotes"} if sales_orders != "none" else set())
    assert specials == expected | ({"ArchivedSalesOrders"} if bidirectional else set()), sales_orders


@pytest.mark.django_db
def test_field_mapping_flags_follow_reference(connection: Any) -> None:
    default_configuration_reset(connection=connection)
    customer = IntegrationTableMapping.objects.get(connection=connection, name="CUSTOMER")
    owner = customer.field_mappings.get(integration_field_name="ownerid")
    assert owner.not_null and owner.direction == "ToIntegrationTable"
    assert owner.transformation_direction == owner.direction
    assert customer.field_mappings.get(integration_field_name="primarycontactid").clear_value_on_failed_sync
    assert not customer.field_mappings.get(integration_field_name="address1_country").validate_field
    assert customer.field_mappings.get(integration_field_name="name").validate_field
    assert customer.int_tbl_config_template == {"customertypecode": 3}
    currency = IntegrationTableMapping.objects.get(connection=connection, name="CURRENCY")
    assert currency.synch_after_bulk_coupling and currency.create_new_in_case_of_no_match
    assert currency.field_mappings.get(field_name="Code").use_for_match_based_coupling
    assert IntegrationTableMapping.objects.get(connection=connection, name="PAYMENT TERMS").is_option_mapping
    assert not customer.is_option_mapping


@pytest.mark.django_db
def test_every_default_names_catalogue_fields_and_valid_filters(connection: Any) -> None:
    connection.bidirectional_sales_order_integration = True
    connection.save()
    default_configuration_reset(connection=connection)
    connection.unit_group_mapping_enabled = False
    connection.bidirectional_sales_order_integration = False
    connection.legacy_sales_order_integration = True
    connection.save()
    default_configuration_reset(connection=connection)
    for field in IntegrationFieldMapping.objects.select_related("table_mapping"):
        mapping = field.table_mapping
        if field.field_name:
            assert bc_table(mapping.table).has_field(field.field_name), (mapping.name, field.field_name)
        if field.integration_field_name:
            assert field.integration_field_name in dataverse_table(mapping.integration_table).columns, field
    for mapping in IntegrationTableMapping.objects.all():
        validate_filter("bc", mapping.table, mapping.table_filter)
        validate_filter("dataverse", mapping.integration_table, mapping.integration_table_filter)


@pytest.mark.django_db
def test_priorities_put_dependencies_first(connection: Any) -> None:
    connection.bidirectional_sales_order_integration = True
    connection.save()
    default_configuration_reset(connection=connection)
    priority = dict(IntegrationTableMapping.objects.values_list("name", "priority"))
    # BC GetPrioritizedMappingList: systemuser, currency, unit of measure, customer, contact, item, resource.
    order = ["SALESPEOPLE", "CURRENCY", "UNIT GROUP", "CUSTOMER", "CONTACT", "ITEM-PRODUCT", "RESOURCE-PRODUCT"]
    assert sorted(order, key=priority.__getitem__) == order
    for mapping in IntegrationTableMapping.objects.all():
        for dependency in filter(None, mapping.dependency_filter.split("|")):
            assert priority[dependency] < mapping.priority, (dependency, mapping.name)


@pytest.mark.django_db
def test_reset_twice_changes_nothing_and_restores_edits(connection: Any) -> None:
    default_configuration_reset(connection=connection)
    ids = dict(IntegrationTableMapping.objects.values_list("name", "id"))
    job_ids = set(JobQueueEntry.objects.values_list("id", flat=True))
    again = default_configuration_reset(connection=connection)
    assert not again.has_changes and again.summary() == "The default configuration was already in place."
    assert set(JobQueueEntry.objects.values_list("id", flat=True)) == job_ids

    item = IntegrationTableMapping.objects.get(connection=connection, name="ITEM-PRODUCT")
    item.table_filter = "blocked eq true"
    item.save(update_fields=["table_filter"])
    item.field_mappings.filter(integration_field_name="price").delete()
    one = default_configuration_reset(connection=connection, mapping_name="ITEM-PRODUCT")
    assert one.changed == ["ITEM-PRODUCT"] and one.created == [] and one.deleted == []
    item.refresh_from_db()
    assert item.id == ids["ITEM-PRODUCT"] and item.table_filter == "blocked eq false"
    assert item.field_mappings.filter(integration_field_name="price").exists()


@pytest.mark.django_db
def test_reset_of_one_mapping_refuses_names_outside_the_defaults(connection: Any) -> None:
    with pytest.raises(ValidationError, match="not a default mapping"):
        default_configuration_reset(connection=connection, mapping_name="MY-MAPPING")
    with pytest.raises(ValidationError, match="unit group mapping"):
        default_configuration_reset(connection=connection, mapping_name="UNIT OF MEASURE")


def _snapshot(connection: Any, names: set[str]) -> dict[str, Any]:
    """Rows that must stay untouched: mapping ids and their field mapping ids and job ids."""
    return {m.name: (m.id, sorted(m.field_mappings.values_list("id", flat=True)),
                     sorted(m.job_queue_entries.values_list("id", flat=True)))
            for m in IntegrationTableMapping.objects.filter(connection=connection) if m.name not in names}


@pytest.mark.django_db
def test_unit_group_toggle_rebuilds_exactly_the_affected_mappings(connection: Any) -> None:
    default_configuration_reset(connection=connection)
    affected = {"UNIT GROUP", "ITEM UOM", "RESOURCE UOM", "UNIT OF MEASURE", "ITEM-PRODUCT", "RESOURCE-PRODUCT",
                "PLLINE-PRODPRICE"}
    before = _snapshot(connection, affected)
    connection.unit_group_mapping_enabled = False
    connection.save()
    report = unit_group_mapping_apply(connection=connection)
    assert report.created == ["UNIT OF MEASURE"]
    assert sorted(report.deleted) == ["ITEM UOM", "RESOURCE UOM", "UNIT GROUP"]
    assert sorted(report.changed) == ["ITEM-PRODUCT", "PLLINE-PRODPRICE", "RESOURCE-PRODUCT"]
    assert _snapshot(connection, affected) == before
    item = IntegrationTableMapping.objects.get(connection=connection, name="ITEM-PRODUCT")
    assert item.dependency_filter == "UNIT OF MEASURE"
    assert item.field_mappings.filter(integration_field_name="defaultuomscheduleid").exists()
    assert not item.field_mappings.filter(integration_field_name="defaultuomid").exists()


@pytest.mark.django_db
def test_sales_order_toggle_rebuilds_exactly_the_sales_order_mappings_and_jobs(connection: Any) -> None:
    connection.legacy_sales_order_integration = True
    connection.auto_create_sales_orders = True
    connection.save()
    default_configuration_reset(connection=connection)
    before = _snapshot(connection, {"SALESORDER-ORDER", "SOLINE-ORDERDETAIL"})
    kinds_before = set(JobQueueEntry.objects.exclude(kind="Mapping").values_list("kind", flat=True))
    assert kinds_before == {"CustomerStatistics", "SalesOrderNotes"}  # the others have no handler yet

    connection.legacy_sales_order_integration = False
    connection.bidirectional_sales_order_integration = True
    connection.save()
    report = sales_order_configuration_reset(connection=connection)
    assert report.changed == ["SALESORDER-ORDER"] and report.created == ["SOLINE-ORDERDETAIL"]
    assert _snapshot(connection, {"SALESORDER-ORDER", "SOLINE-ORDERDETAIL"}) == before
    kinds = set(JobQueueEntry.objects.exclude(kind="Mapping").values_list("kind", flat=True))
    assert kinds == {"CustomerStatistics", "SalesOrderNotes", "ArchivedSalesOrders"}  # the others have no handler yet
    order = IntegrationTableMapping.objects.get(connection=connection, name="SALESORDER-ORDER")
    assert order.direction == "Bidirectional" and order.integration_table_filter == "statecode eq 1"

    connection.bidirectional_sales_order_integration = False
    connection.legacy_sales_order_integration = True
    connection.save()
    back = sales_order_configuration_reset(connection=connection)
    assert back.deleted == ["SOLINE-ORDERDETAIL"] and back.changed == ["SALESORDER-ORDER"]
    assert set(JobQueueEntry.objects.exclude(kind="Mapping").values_list("kind", flat=True)) == {
        "CustomerStatistics", "SalesOrderNotes"}


@pytest.mark.django_db
def test_ownership_toggle_to_team_removes_salespeople_and_owner_fields(connection: Any) -> None:
    default_configuration_reset(connection=connection)
    untouched = {"CURRENCY", "ITEM-PRODUCT", "UNIT GROUP"}
    before = {k: v for k, v in _snapshot(connection, set()).items() if k in untouched}
    connection.ownership_model = "Team"
    connection.save()
    report = ownership_model_apply(connection=connection)
    assert report.deleted == ["SALESPEOPLE"]
    assert sorted(report.changed) == ["CONTACT", "CUSTOMER", "OPPORTUNITY", "POSTEDSALESINV-INV", "VENDOR"]
    assert {k: v for k, v in _snapshot(connection, set()).items() if k in untouched} == before
    assert not IntegrationFieldMapping.objects.filter(integration_field_name="ownerid").exists()
    customer = IntegrationTableMapping.objects.get(connection=connection, name="CUSTOMER")
    assert "SALESPEOPLE" not in customer.dependency_filter
    assert not JobQueueEntry.objects.filter(description__startswith="SALESPEOPLE").exists()


@pytest.mark.django_db
def test_special_jobs_follow_the_toggles_with_reference_settings(connection: Any) -> None:
    connection.is_enabled = True
    connection.item_availability_enabled = True
    connection.auto_process_sales_quotes = True
    connection.save()
    report = special_jobs_apply(connection=connection)
    assert len(report.jobs_created) == 2  # quote processing has no handler yet, so it is not created
    availability = JobQueueEntry.objects.get(connection=connection, kind="ItemAvailability")
    assert (availability.no_of_minutes_between_runs, availability.inactivity_timeout_period,
            availability.maximum_no_of_attempts_to_run, availability.status) == (
        30, 30, 2, JobQueueEntry.Status.ON_HOLD_WITH_INACTIVITY_TIMEOUT)
    connection.item_availability_enabled = False
    connection.save()
    assert special_jobs_apply(connection=connection).jobs_deleted == [availability.description]


@pytest.mark.django_db
def test_user_defined_mappings_survive_a_reset(connection: Any) -> None:
    IntegrationTableMapping.objects.create(connection=connection, name="MY-ITEMS", table="Item",
                                           integration_table="product", user_defined=True)
    default_configuration_reset(connection=connection)
    assert IntegrationTableMapping.objects.filter(name="MY-ITEMS").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("unit_group", [True, False])
def test_prices_are_price_list_mappings_and_legacy_pricing_is_gone(connection: Any, unit_group: bool) -> None:
    connection.unit_group_mapping_enabled = unit_group
    connection.save()
    default_configuration_reset(connection=connection)
    tables = set(IntegrationTableMapping.objects.filter(connection=connection).values_list("table", flat=True))
    assert {"Price List Header", "Price List Line"} <= tables
    assert not tables & {"Sales Price", "Customer Price Group"}
    assert not IntegrationTableMapping.objects.filter(name__in=["CUSTPRCGRP-PRICE", "SALESPRC-PRODPRICE"]).exists()
    with pytest.raises(ValidationError):
        bc_table("Sales Price")
    line = IntegrationTableMapping.objects.get(connection=connection, name="PLLINE-PRODPRICE")
    unit = line.field_mappings.get(field_name="Unit of Measure Code")
    assert unit.integration_field_name == ("uomid" if unit_group else "uomscheduleid")
    method = line.field_mappings.get(integration_field_name="pricingmethodcode")
    assert (method.constant_value, method.validate_field) == ("CurrencyAmount", False)
    # BC: the header's table filter and both job queue entries
    header = IntegrationTableMapping.objects.get(connection=connection, name="PLHEADER-PRICE")
    validate_filter("bc", header.table, header.table_filter)
    validate_filter("bc", line.table, line.table_filter)
    assert [(j.no_of_minutes_between_runs, j.inactivity_timeout_period) for j in header.job_queue_entries.all()] == [
        (30, 1440)]
