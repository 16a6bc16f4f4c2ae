"""Layout in Debian's Chromium: at 1,280 × 800 no page of the portal scrolls sideways; at 375 × 800 the navigation
reaches every link without sideways scrolling; the connection page is in sections that fit a screen; select-all on
the skipped records selects every row; the filter pane builds the filter that the mapping's synchronization then uses.

Pages are measured on the demo data (the accessibility test's ``demo_connection``: currencies and customers
synchronized, with couplings, errors and skipped records).
"""
from __future__ import annotations

from typing import Any

import pytest

from connections.diagnostics import connection_test
from connections.models import ConnectionAction
from mappings.models import Coupling, IntegrationTableMapping
from syncjobs.engine import clients_for, synchronize_mapping
from tests.conftest import sign_in
from tests.portal.test_accessibility_browser import demo_connection, integration_administrator, portal_pages

__all__ = ["demo_connection", "integration_administrator"]  # fixtures used by name below

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: The tallest section of the connection page allowed, in CSS pixels ("fits a screen").
SECTION_MAX_HEIGHT = 1200

OVERFLOW = "() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})"


def _sign_in(page: Any) -> None:
    sign_in(page, "integrator", "integrator-password-123")


def test_no_page_scrolls_sideways_at_1280(browser_page: Any, demo_connection: Any,
                                          integration_administrator: Any) -> None:
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 800})
    _sign_in(page)
    wide: dict[str, dict[str, int]] = {}
    for path in portal_pages(demo_connection):
        response = page.goto(path)
        assert response is not None and response.status == 200, f"{path}: HTTP {response and response.status}"
        size = page.evaluate(OVERFLOW)
        if size["scroll"] > size["inner"]:
            wide[path] = size
    assert not wide, f"pages wider than 1,280 px: {wide}"


def test_the_navigation_works_at_375(browser_page: Any, demo_connection: Any, integration_administrator: Any) -> None:
    page = browser_page
    page.set_viewport_size({"width": 375, "height": 800})
    _sign_in(page)
    wide: dict[str, dict[str, int]] = {}
    for path in portal_pages(demo_connection)[:3] + ["/mappings/", "/syncjobs/skipped-records/"]:
        page.goto(path)
        size = page.evaluate(OVERFLOW)
        if size["scroll"] > size["inner"]:
            wide[path] = size
    assert not wide, f"pages wider than 375 px: {wide}"
    page.goto("/")
    links = page.locator("header.topbar nav a")
    assert links.count() >= 8
    for index in range(links.count()):
        box = links.nth(index).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375, (links.nth(index).inner_text(),
                                                                                      box)
    target = links.nth(links.count() - 1)
    href = target.get_attribute("href")
    target.click()
    page.wait_for_url(f"**{href}")


def test_the_connection_page_is_in_sections_that_fit_a_screen(browser_page: Any, demo_connection: Any,
                                                              integration_administrator: Any) -> None:
    connection_test(connection=demo_connection)  # the last Test Connection report is part of the page
    for kind in (ConnectionAction.Kind.ENABLE, ConnectionAction.Kind.REDEPLOY):
        ConnectionAction.objects.create(connection=demo_connection, kind=kind,
                                        status=ConnectionAction.Status.SUCCEEDED, message="Done in 12 seconds.")
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 800})
    _sign_in(page)
    page.goto(f"/connections/{demo_connection.pk}/")
    anchors = page.locator("nav.section-nav a")
    assert anchors.count() >= 7
    heights: dict[str, float] = {}
    for index in range(anchors.count()):
        target = anchors.nth(index).get_attribute("href")
        assert target and target.startswith("#")
        section = page.locator(f"section{target}")
        assert section.count() == 1, f"no section {target}"
        box = section.bounding_box()
        assert box is not None
        heights[target] = box["height"]
    assert max(heights.values()) <= SECTION_MAX_HEIGHT, heights
    # the recent actions are a table whose cells line up under their headers
    table = page.locator("#recent-actions table")
    assert table.evaluate("t => getComputedStyle(t).display") == "table"
    header_x = [round(b["x"]) for b in (c.bounding_box() for c in table.locator("thead th").all()) if b]
    for row in table.locator("tbody tr").all():
        assert [round(b["x"]) for b in (c.bounding_box() for c in row.locator("td").all()) if b] == header_x
    page.locator("nav.section-nav a[href='#change-log']").click()
    page.wait_for_function("() => location.hash === '#change-log'")
    # the settings open in place
    page.locator("#sales-settings summary").click()
    assert page.locator("#sales-settings button[type=submit]").is_visible()


def test_select_all_selects_every_skipped_record(browser_page: Any, demo_connection: Any,
                                                 integration_administrator: Any) -> None:
    page = browser_page
    _sign_in(page)
    page.goto("/syncjobs/skipped-records/")
    rows = page.locator("table.skipped-records input[name=coupling]")
    assert rows.count() >= 2, "the demo has failed customers"
    select_all = page.locator("input[data-select-all=coupling]")
    assert select_all.is_visible()
    select_all.check()
    assert all(rows.nth(i).is_checked() for i in range(rows.count()))
    rows.nth(0).uncheck()
    assert page.evaluate("() => document.querySelector('input[data-select-all]').indeterminate")
    select_all.check()
    select_all.uncheck()
    assert not any(rows.nth(i).is_checked() for i in range(rows.count()))
    select_all.check()
    selected = rows.count()
    page.click("button[value=retry]")
    page.wait_for_selector("#confirm-count")
    assert f"Retry for these {selected} record(s)" in page.inner_text("#confirm-count")


def test_the_filter_pane_builds_the_filter_the_mapping_uses(browser_page: Any, demo_connection: Any,
                                                            integration_administrator: Any) -> None:
    bc, _ = clients_for(demo_connection)
    codes = sorted(c["code"] for c in bc.iter_rows("currencies"))
    assert len(codes) >= 2
    chosen = codes[0]
    currency = IntegrationTableMapping.objects.get(connection=demo_connection, name="CURRENCY")
    Coupling.objects.filter(connection=demo_connection, bc_table="Currency").delete()
    page = browser_page
    _sign_in(page)
    page.goto(f"/mappings/{currency.pk}/")
    page.select_option("#id_bc_0_field", label="Code")
    page.select_option("#id_bc_0_operator", label="is")
    page.fill("#id_bc_0_value", chosen)
    page.click("form[action$='/edit/'] button[type=submit]")
    page.wait_for_selector("text=Saved CURRENCY")
    assert page.text_content("#filter-pane-bc details.odata code") == f"code eq '{chosen}'"
    currency.refresh_from_db()
    assert currency.table_filter == f"code eq '{chosen}'"
    synchronize_mapping(mapping=currency, full=True)
    coupled = set(Coupling.objects.filter(connection=demo_connection, bc_table="Currency")
                  .values_list("bc_name", flat=True))
    assert coupled == {chosen}
    # a value that does not fit the field is refused, naming the field
    page.select_option("#id_bc_1_field", label="Amount Rounding Precision")
    page.fill("#id_bc_1_value", "two")
    page.select_option("#id_bc_1_operator", label="is greater than")
    page.click("form[action$='/edit/'] button[type=submit]")
    page.wait_for_selector("text=Nothing was saved")
    refused = 'Table filter, row 2 (Amount Rounding Precision): "two" is not a number'
    assert refused in page.inner_text("#filter-pane-bc")
