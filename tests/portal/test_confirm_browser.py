"""Forms with ``data-confirm`` ask in the browser before they submit, under the site's Content-Security-Policy (which
forbids inline ``onsubmit`` handlers): cancelling keeps the page, accepting submits."""
from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_delete_old_log_entries_asks_first(browser_page: Any, admin_user: Any) -> None:
    page = browser_page
    sign_in(page)
    page.goto("/syncjobs/log/")
    page.fill("form.delete-old input[name=days]", "30")
    asked: list[str] = []

    def dismiss(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.click("form.delete-old button[type=submit]")
    page.wait_for_timeout(300)
    assert asked and "Delete the synchronization job log entries older than" in asked[0]
    assert page.url.endswith("/syncjobs/log/")  # nothing was posted

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("form.delete-old button[type=submit]")
    assert "/syncjobs/log/" in page.url
