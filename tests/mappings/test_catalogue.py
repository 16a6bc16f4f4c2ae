"""The catalogue and filter validation: clear messages naming the unknown column or the syntax error."""
from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from mappings.catalogue import (
    BC_TABLES,
    CUSTOM_API,
    DATAVERSE_TABLES,
    STANDARD_API,
    bc_table,
    dataverse_table,
    validate_filter,
)


def test_valid_filters_of_both_sides_pass() -> None:
    validate_filter("bc", "Customer", "blocked eq ' ' and contains(displayName,'Adatum')")
    validate_filter("bc", "Item", "lastModifiedDateTime gt 2026-01-01T00:00:00Z and blocked eq false")
    validate_filter("dataverse", "contact", "_parentcustomerid_value ne null and statecode eq 0")
    validate_filter("dataverse", "account", "")


def test_unknown_bc_column_is_named_with_the_known_ones() -> None:
    with pytest.raises(ValidationError) as caught:
        validate_filter("bc", "Item", "Blocked eq false")
    message = caught.value.messages[0]
    assert '"Blocked"' in message and 'Business Central table "Item"' in message and "blocked" in message


def test_lookup_is_filtered_through_its_value_property() -> None:
    with pytest.raises(ValidationError, match='"parentcustomerid"'):
        validate_filter("dataverse", "contact", "parentcustomerid ne null")
    validate_filter("dataverse", "contact", "_parentcustomerid_value ne null")


@pytest.mark.parametrize("expression", [
    "city eq 'London' or country eq 'GB'",
    "blocked eq ' ' and (contains(number,'1') or contains(displayName,'1'))",
    "not (city eq 'London' or postalCode eq 'W1')",
])
def test_bc_filter_or_across_two_fields_is_refused_as_bc_refuses_it(expression: str) -> None:
    """Microsoft Learn "Known limitations with Business Central OData": no "or" across two different fields."""
    with pytest.raises(ValidationError) as caught:
        validate_filter("bc", "Customer", expression)
    assert "The 'OR' operator is not supported on distinct fields" in caught.value.messages[0]


def test_or_on_one_bc_field_and_any_dataverse_or_pass() -> None:
    validate_filter("bc", "Customer", "(city eq 'London' or city eq 'Paris') and blocked eq ' '")
    validate_filter("bc", "Customer", "contains(city,'Lon') or startswith(city,'Par')")
    validate_filter("dataverse", "account", "statecode eq 0 or name eq 'Fabrikam'")


@pytest.mark.parametrize("expression", ["statecode eq", "name eq 'unterminated", "(statecode eq 0"])
def test_syntax_errors_are_refused_with_the_position(expression: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_filter("dataverse", "account", expression)
    assert "is not valid OData" in caught.value.messages[0]


def test_unknown_tables_name_the_known_ones() -> None:
    with pytest.raises(ValidationError, match="Choose one of: .*Customer"):
        bc_table("Customers")
    with pytest.raises(ValidationError, match="Choose one of: .*account"):
        dataverse_table("accounts")


def test_catalogue_describes_keys_names_and_lookups() -> None:
    assert BC_TABLES["Item"].field("No.").api_property == "number"
    assert BC_TABLES["Item"].field("Unit Price").api_property == "unitPrice"
    # Resource is served by the custom route; Item too, because it carries fields v2.0 lacks (Gross Weight)
    assert BC_TABLES["Resource"].api == CUSTOM_API and BC_TABLES["Item"].field("Gross Weight").extension
    assert BC_TABLES["Item"].api == CUSTOM_API
    assert BC_TABLES["Currency"].api == STANDARD_API  # no extension fields: the standard API serves it
    product = DATAVERSE_TABLES["product"]
    assert (product.entity_set, product.primary_id, product.primary_name) == ("products", "productid", "name")
    contact = DATAVERSE_TABLES["contact"]
    assert contact.column("parentcustomerid").navigation_property("account") == "parentcustomerid_account"
    assert DATAVERSE_TABLES["account"].column("transactioncurrencyid").targets == ("transactioncurrency",)
