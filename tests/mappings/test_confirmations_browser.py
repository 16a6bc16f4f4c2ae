"""In a real browser (Playwright + Debian Chromium): "Use default synchronization setup" on the mapping list asks
first, with counts, and changes nothing until confirmed; confirming resets the mapping."""
from __future__ import annotations

from typing import Any

import pytest

from mappings.models import IntegrationTableMapping
from syncjobs.defaults import default_configuration_reset
from tests.conftest import sign_in


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_default_setup_asks_before_it_resets(browser_page: Any, admin_user: Any) -> None:
    from connections.models import ConnectionSetup

    connection = ConnectionSetup.objects.create(name="CRONUS", unit_group_mapping_enabled=True)
    default_configuration_reset(connection=connection)
    mappings = IntegrationTableMapping.objects.filter(connection=connection)
    mappings.filter(name="ITEM-PRODUCT").update(table_filter="blocked eq true")
    page = browser_page
    sign_in(page)
    page.goto("/mappings/")
    page.click("text=Use default synchronization setup (CRONUS)")
    page.wait_for_selector("#confirm-impact")
    impact = page.inner_text("#confirm-impact")
    assert f"{mappings.count()} mapping(s) reset to the defaults" in impact
    assert "field mapping(s) replaced" in impact and "job queue entries recreated" in impact
    assert mappings.get(name="ITEM-PRODUCT").table_filter == "blocked eq true"  # asking changed nothing

    page.click("text=Cancel")
    page.wait_for_url("**/mappings/")
    assert mappings.get(name="ITEM-PRODUCT").table_filter == "blocked eq true"

    # from the mapping's own page, then confirmed
    page.click("text=ITEM-PRODUCT")
    page.click("#mapping-reset")
    page.wait_for_selector("#confirm-impact")
    assert "1 mapping(s) reset to the defaults" in page.inner_text("#confirm-impact")
    page.click("#confirm-reset")
    page.wait_for_selector(".messages")
    assert mappings.get(name="ITEM-PRODUCT").table_filter != "blocked eq true"
