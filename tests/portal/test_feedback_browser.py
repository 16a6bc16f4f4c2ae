"""In a real browser (Playwright + Debian Chromium), as an administrator uses the portal:

* an action on a disabled connection is refused with "the connection is disabled" and a link to enable it, and the
  refusal is on screen without scrolling;
* a refused settings save shows its banner at the top of the screen, and a save says what actually changed;
* a disable reason over 250 characters is a form error, not a silently shortened reason;
* a change made on a page appears on the audit trail page with who, before and after.
"""
from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from connections.models import ConnectionSetup
from mappings.models import IntegrationTableMapping
from syncjobs.defaults import default_configuration_reset
from syncjobs.models import JobQueueEntry
from tests.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _on_screen(page: Any, selector: str) -> bool:
    """The element is visible inside the viewport as the page opens (no scrolling needed to read it)."""
    box = page.locator(selector).first.bounding_box()
    return box is not None and 0 <= box["y"] < page.viewport_size["height"]


def test_run_now_on_a_disabled_connection_is_refused_on_screen(browser_page: Any, admin_user: Any) -> None:
    connection = ConnectionSetup.objects.create(name="CRONUS", unit_group_mapping_enabled=True)
    default_configuration_reset(connection=connection)
    mapping = IntegrationTableMapping.objects.get(connection=connection, name="CUSTOMER")
    entry = JobQueueEntry.objects.filter(connection=connection, table_mapping=mapping).first()
    assert entry is not None
    status_before = entry.status
    page = browser_page
    sign_in(page)
    page.goto(reverse("syncjobs:jobqueueentry-list"))
    page.locator(f"form[action='{reverse('syncjobs:jobqueueentry-run-now', args=[entry.pk])}'] button").click()
    page.wait_for_selector(".messages")
    assert "The connection is disabled: CRONUS starts no synchronization until it is enabled." in page.inner_text(
        ".messages")
    assert _on_screen(page, ".messages")
    link = page.locator(".messages a", has_text="Enable it on the connection setup page")
    assert link.get_attribute("href") == reverse("connections:connection-detail", args=[connection.pk])
    entry.refresh_from_db()
    assert entry.status == status_before


def test_settings_refusal_and_save_messages_are_at_the_top(browser_page: Any, admin_user: Any) -> None:
    connection = ConnectionSetup.objects.create(name="CRONUS", unit_group_mapping_enabled=True,
                                                item_availability_enabled=True)
    page = browser_page
    sign_in(page)
    page.goto(reverse("connections:connection-detail", args=[connection.pk]))
    settings = f"form[action='{reverse('connections:connection-settings', args=[connection.pk])}']"
    page.click("#sales-settings summary")  # the options are folded away until opened
    page.check(f"{settings} input[name=legacy_sales_order_integration]")
    page.check(f"{settings} input[name=bidirectional_sales_order_integration]")
    page.click(f"{settings} button[type=submit]")
    page.wait_for_selector(".messages")
    assert "The Sales settings were not saved:" in page.inner_text(".messages")
    assert _on_screen(page, ".messages")
    connection.refresh_from_db()
    assert not connection.legacy_sales_order_integration and not connection.bidirectional_sales_order_integration

    page.goto(reverse("connections:connection-detail", args=[connection.pk]))
    page.click("#sales-settings summary")
    page.uncheck(f"{settings} input[name=item_availability_enabled]")
    page.click(f"{settings} button[type=submit]")
    page.wait_for_selector(".messages")
    text = page.inner_text(".messages")
    assert "item availability turned off" in text and "turned on" not in text
    assert _on_screen(page, ".messages")
    connection.refresh_from_db()
    assert not connection.item_availability_enabled

    # the audit trail shows who turned it off, before and after
    page.goto(reverse("portal:audit-log") + "?q=CRONUS")
    row = page.locator("table.audit-trail tbody tr", has_text="item availability").first
    assert "admin" in row.inner_text()
    change = row.locator("li", has_text="item availability")
    assert change.locator(".before").inner_text() == "True" and change.locator(".after").inner_text() == "False"


def test_a_disable_reason_over_250_characters_is_a_form_error(browser_page: Any, admin_user: Any) -> None:
    connection = ConnectionSetup.objects.create(name="CRONUS", is_enabled=True, unit_group_mapping_enabled=True)
    page = browser_page
    sign_in(page)
    page.goto(reverse("connections:connection-disable", args=[connection.pk]))
    page.fill("textarea[name=reason], input[name=reason]", "x" * 251)
    page.click("form[action$='/disable/'] button[type=submit]")
    page.wait_for_selector("text=The reason can be at most 250 characters long; it has 251.")
    assert "The connection was not disabled" in page.inner_text(".messages")
    assert _on_screen(page, ".messages")
    connection.refresh_from_db()
    assert connection.is_enabled and connection.disable_reason == ""
