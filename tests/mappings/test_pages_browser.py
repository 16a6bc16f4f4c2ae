"""The mappings pages in a real browser: list → mapping → a refused filter with its message → a saved filter."""
from __future__ import annotations

from typing import Any

import pytest

from mappings.models import IntegrationTableMapping
from syncjobs.defaults import default_configuration_reset
from tests.conftest import sign_in


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_edit_a_filter_in_the_browser(browser_page: Any, admin_user: Any) -> None:
    from connections.models import ConnectionSetup

    connection = ConnectionSetup.objects.create(name="CRONUS", unit_group_mapping_enabled=True)
    default_configuration_reset(connection=connection)
    page = browser_page
    sign_in(page)
    page.goto("/mappings/")
    page.click("text=ITEM-PRODUCT")
    page.fill("#id_table_filter", "blocked eq false and colour eq 'red'")
    page.click("form[action$='/edit/'] button[type=submit]")
    page.wait_for_selector("text=Nothing was saved")
    assert '"colour"' in page.inner_text("main")
    page.fill("#id_table_filter", "blocked eq false and type eq 'Inventory'")
    page.click("form[action$='/edit/'] button[type=submit]")
    page.wait_for_selector("text=Saved ITEM-PRODUCT")
    mapping = IntegrationTableMapping.objects.get(connection=connection, name="ITEM-PRODUCT")
    assert mapping.table_filter == "blocked eq false and type eq 'Inventory'"
