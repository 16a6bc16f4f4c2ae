"""The filter pane of an integration table mapping: rows of field caption / operator / value build the OData filter
(quoting, operators, errors naming the field), stored filters split back into rows, and the mapping page saves what
the pane builds."""
from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from mappings.default_configuration import MAPPINGS
from mappings.filter_pane import (
    Condition,
    condition_text,
    conjuncts,
    filter_build,
    filter_fields,
    filter_split,
    quote,
    same_filter,
)
from mappings.models import IntegrationTableMapping
from syncjobs.defaults import default_configuration_reset


def test_captions_are_bc_field_names_and_dataverse_display_names() -> None:
    bc = {f.caption: f.name for f in filter_fields("bc", "Customer")}
    assert bc["No."] == "number" and bc["Blocked"] == "blocked" and bc["Salesperson Code"] == "salespersonCode"
    dv = {f.caption: f.name for f in filter_fields("dataverse", "account")}
    assert dv["Account Name"] == "name" and dv["Status"] == "statecode"
    assert dv["Relationship Type"] == "customertypecode"
    assert dv["Primary Contact"] == "_primarycontactid_value"  # lookups filter as _<lookup>_value


@pytest.mark.parametrize(("side", "table", "condition", "expected"), [
    ("bc", "Customer", Condition("displayName", "eq", "O'Neil & Sons"), "displayName eq 'O''Neil & Sons'"),
    ("bc", "Customer", Condition("blocked", "eq", " "), "blocked eq ' '"),
    ("bc", "Contact", Condition("companyNumber", "ne", ""), "companyNumber ne ''"),
    ("bc", "Item", Condition("blocked", "eq", "No"), "blocked eq false"),
    ("bc", "Item", Condition("unitPrice", "ge", "12.5"), "unitPrice ge 12.5"),
    ("bc", "Item", Condition("displayName", "contains", "bike's"), "contains(displayName,'bike''s')"),
    ("bc", "Item", Condition("number", "startswith", "19"), "startswith(number,'19')"),
    ("bc", "Sales Header", Condition("orderDate", "lt", "2024-02-01"), "orderDate lt 2024-02-01"),
    ("bc", "Item", Condition("lastModifiedDateTime", "gt", "2024-02-01T10:00:00+00:00"),
     "lastModifiedDateTime gt 2024-02-01T10:00:00Z"),
    ("dataverse", "account", Condition("statecode", "eq", "0"), "statecode eq 0"),
    ("dataverse", "contact", Condition("_parentcustomerid_value", "ne", ""), "_parentcustomerid_value ne null"),
    ("dataverse", "account", Condition("_primarycontactid_value", "eq", "9F2B6C1A-0000-4000-8000-000000000001"),
     "_primarycontactid_value eq 9f2b6c1a-0000-4000-8000-000000000001"),
    ("dataverse", "account", Condition("name", "endswith", "Ltd"), "endswith(name,'Ltd')"),
])
def test_each_operator_and_literal(side: Any, table: str, condition: Condition, expected: str) -> None:
    assert condition_text(side, table, condition) == expected
    rows, advanced = filter_split(side, table, expected)  # and back: one row that builds the same text
    assert advanced == "" and [condition_text(side, table, row) for row in rows] == [expected]


@pytest.mark.parametrize(("side", "table", "condition", "message"), [
    ("bc", "Item", Condition("colour", "eq", "red"), '"colour" is not a field of Item'),
    ("bc", "Item", Condition("blocked", "eq", "maybe"), "(Blocked): \"maybe\" is not Yes/No"),
    ("bc", "Item", Condition("unitPrice", "eq", "12,5"), "(Unit Price): \"12,5\" is not a number"),
    ("bc", "Item", Condition("unitPrice", "contains", "1"), "(Unit Price): \"contains\" works on text fields only"),
    ("bc", "Sales Header", Condition("orderDate", "eq", "1 Feb"), "(Order Date): \"1 Feb\" is not a date"),
    ("bc", "Item", Condition("lastModifiedDateTime", "gt", "2024-02-01T10:00:00"), "needs a time and a time zone"),
    ("dataverse", "account", Condition("statecode", "eq", "Active"), "(Status): \"Active\" is not a number"),
    ("dataverse", "account", Condition("_primarycontactid_value", "eq", "abc"),
     "(Primary Contact): \"abc\" is not an id"),
    ("dataverse", "account", Condition("statecode", "like", "0"), "\"like\" is not an operator"),
    ("dataverse", "account", Condition("creditlimit", "gt", ""), "enter a value"),
])
def test_bad_rows_are_refused_naming_the_field(side: Any, table: str, condition: Condition, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        filter_build(side, table, [Condition("displayName" if side == "bc" else "name", "eq", "x"), condition])
    text = " ".join(caught.value.messages)
    assert message in text and "row 2" in text


def test_quote_doubles_single_quotes() -> None:
    assert quote("it's") == "'it''s'" and quote("''") == "''''''"


def test_conjuncts_respect_quotes_and_parentheses() -> None:
    text = "a eq 'x and y' and (b eq 1 or b eq 2) and c eq 'it''s and'"
    assert conjuncts(text) == ["a eq 'x and y'", "(b eq 1 or b eq 2)", "c eq 'it''s and'"]
    assert conjuncts("") == [] and conjuncts("   ") == []


def test_advanced_text_is_joined_and_validated() -> None:
    rows = [Condition("type", "eq", "Person")]
    assert filter_build("bc", "Contact", rows, "companyNumber ne ''") == "type eq 'Person' and companyNumber ne ''"
    with pytest.raises(ValidationError) as caught:
        filter_build("bc", "Opportunity", rows[:0], "status eq 'Won' or number eq '1'")
    assert "cannot combine different fields" in caught.value.messages[0]
    # the same condition in a row and in the advanced text is kept once
    assert filter_build("bc", "Item", [Condition("blocked", "eq", "false")], "blocked eq false") == "blocked eq false"


@pytest.mark.parametrize("default", [m for m in MAPPINGS if m.table_filter or m.integration_table_filter],
                         ids=lambda m: m.name)
def test_the_default_filters_round_trip(default: Any) -> None:
    """Every filter of the default configuration splits into rows (and advanced text for "or" and parentheses) and
    builds back to the same conditions; all but those with "or" are rows only."""
    for side, table, expression in (("bc", default.bc_table, default.table_filter),
                                    ("dataverse", default.dataverse_table, default.integration_table_filter)):
        if not expression:
            continue
        rows, advanced = filter_split(side, table, expression)
        rebuilt = filter_build(side, table, rows, advanced)
        assert same_filter(rebuilt, expression), (expression, rebuilt)
        assert (advanced == "") == (" or " not in expression), (expression, advanced)
        if not advanced:
            assert rebuilt == expression


# ---- the mapping page ------------------------------------------------------------------------------------------
@pytest.fixture
def configured(connection: Any) -> Any:
    default_configuration_reset(connection=connection)
    return connection


def _post_data(mapping: IntegrationTableMapping, **rows: str) -> dict[str, str]:
    data = {"direction": mapping.direction, "table_filter": "", "integration_table_filter": "",
            "dependency_filter": mapping.dependency_filter,
            "deletion_conflict_resolution": mapping.deletion_conflict_resolution,
            "update_conflict_resolution": mapping.update_conflict_resolution}
    if mapping.synch_only_coupled_records:
        data["synch_only_coupled_records"] = "on"
    data.update(rows)
    return data


@pytest.mark.django_db
def test_the_mapping_page_shows_the_rows_of_the_stored_filters(admin_client: Any, configured: Any) -> None:
    contact = IntegrationTableMapping.objects.get(connection=configured, name="CONTACT")
    html = admin_client.get(reverse("mappings:mapping-detail", args=[contact.pk])).content.decode()
    assert 'id="filter-pane-bc"' in html and 'id="filter-pane-dv"' in html
    assert '<option value="type" selected>Type</option>' in html
    assert '<option value="companyNumber" selected>Company No.</option>' in html
    assert '<option value="_parentcustomerid_value" selected>Company Name</option>' in html
    assert "OData $filter stored on the mapping" in html


@pytest.mark.django_db
def test_the_pane_builds_and_saves_the_filter(admin_client: Any, configured: Any) -> None:
    customer = IntegrationTableMapping.objects.get(connection=configured, name="CUSTOMER")
    url = reverse("mappings:mapping-update", args=[customer.pk])
    data = _post_data(customer, bc_0_field="blocked", bc_0_operator="eq", bc_0_value=" ",
                      bc_1_field="displayName", bc_1_operator="startswith", bc_1_value="O'N",
                      dv_0_field="statecode", dv_0_operator="eq", dv_0_value="0",
                      dv_1_field="customertypecode", dv_1_operator="eq", dv_1_value="3")
    response = admin_client.post(url, data, follow=True)
    assert "Saved CUSTOMER: table_filter." in response.content.decode()
    customer.refresh_from_db()
    assert customer.table_filter == "blocked eq ' ' and startswith(displayName,'O''N')"
    assert customer.integration_table_filter == "statecode eq 0 and customertypecode eq 3"


@pytest.mark.django_db
def test_a_bad_row_is_a_form_error_naming_the_field_and_nothing_is_saved(admin_client: Any,
                                                                        configured: Any) -> None:
    item = IntegrationTableMapping.objects.get(connection=configured, name="ITEM-PRODUCT")
    url = reverse("mappings:mapping-update", args=[item.pk])
    response = admin_client.post(url, _post_data(item, bc_0_field="unitPrice", bc_0_operator="gt",
                                                 bc_0_value="ten"))
    html = response.content.decode()
    assert response.status_code == 400 and "Nothing was saved" in html
    assert "Table filter, row 1 (Unit Price): &quot;ten&quot; is not a number" in html
    item.refresh_from_db()
    assert item.table_filter == "blocked eq false"


@pytest.mark.django_db
def test_saving_the_page_unchanged_keeps_the_stored_text(admin_client: Any, configured: Any) -> None:
    """A filter the pane shows partly as rows and partly as advanced text is stored again unchanged."""
    line = IntegrationTableMapping.objects.get(connection=configured, name="PLLINE-PRODPRICE")
    stored = line.table_filter
    rows, advanced = filter_split("bc", line.table, stored)
    data = _post_data(line, table_filter=advanced)
    for index, row in enumerate(rows):
        data.update({f"bc_{index}_field": row.field, f"bc_{index}_operator": row.operator,
                     f"bc_{index}_value": row.value})
    response = admin_client.post(reverse("mappings:mapping-update", args=[line.pk]), data, follow=True)
    assert "Nothing changed." in response.content.decode()
    line.refresh_from_db()
    assert line.table_filter == stored and advanced == "(assetType eq 'Item' or assetType eq 'Resource')"


@pytest.mark.django_db
def test_readers_see_the_filters_in_words(client: Any, django_user_model: Any, configured: Any) -> None:
    client.force_login(django_user_model.objects.create_user("viewer", "v@example.com", "pw-viewer-123"))
    customer = IntegrationTableMapping.objects.get(connection=configured, name="CUSTOMER")
    html = client.get(reverse("mappings:mapping-detail", args=[customer.pk])).content.decode()
    assert "<div>Blocked is &#x27; &#x27;</div>" in html
    assert "<div>Status is 0</div>" in html and "<div>Relationship Type is 3</div>" in html
    assert 'id="filter-pane-bc"' not in html  # no edit pane for readers


@pytest.mark.django_db
def test_hostile_pane_input_is_a_form_error_never_a_server_error(admin_client: Any, configured: Any) -> None:
    item = IntegrationTableMapping.objects.get(connection=configured, name="ITEM-PRODUCT")
    url = reverse("mappings:mapping-update", args=[item.pk])
    for rows in ({"bc_0_field": "colour') or (1 eq 1", "bc_0_value": "x"},
                 {"bc_0_field": "number", "bc_0_operator": "eq) or (true", "bc_0_value": "x"},
                 {"bc_0_field": "number", "bc_0_value": "x" * 300},
                 {"dv_0_field": "statecode", "dv_0_value": "0 or statecode eq 1"}):
        response = admin_client.post(url, _post_data(item, **rows))
        assert response.status_code == 400, rows
    item.refresh_from_db()
    assert item.table_filter == "blocked eq false" and item.integration_table_filter == "producttypecode eq 1 and " \
        "statecode eq 0"
