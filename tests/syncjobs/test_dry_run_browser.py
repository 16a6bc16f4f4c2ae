"""A dry run in a browser on the demo data: started from the full synchronization review, its page reloads until the
dry run has finished, then shows the counts per action and mapping, filters the rows and downloads them as CSV. The
RQ job runs in this process (rq's SimpleWorker, burst mode) against the live server's database."""
from __future__ import annotations

import csv
import io

import django_rq
import pytest
from rq import SimpleWorker

from mappings.models import Coupling
from syncjobs.models import DryRun, DryRunRow
from tests.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_dry_run_started_from_the_review_shows_its_counts_and_downloads_as_csv(
    browser_page, live_server, admin_user, emulator_connection
):
    page = browser_page
    statuses: list[tuple[int, str]] = []
    page.on("response", lambda response: statuses.append((response.status, response.url)))
    sign_in(page)
    page.goto(f"/syncjobs/full-sync-review/{emulator_connection.pk}/")

    page.click("#dry-run")
    page.wait_for_selector("#dry-run-status")
    assert "queued" in page.inner_text(".messages") and "Queued" in page.inner_text("#dry-run-state")
    default = django_rq.get_queue("default")
    SimpleWorker([default], connection=default.connection).work(burst=True)
    # The page reloads itself every 3 seconds while the dry run runs: wait for the finished state.
    page.wait_for_selector("#dry-run-status[data-running='false']", state="attached", timeout=30_000)

    dry_run = DryRun.objects.get()
    assert dry_run.status == DryRun.Status.FINISHED, dry_run.message
    counts = page.inner_text("#dry-run-counts")
    assert "ITEM-PRODUCT" in counts and "CURRENCY" in counts and f"All ({dry_run.rows_planned})" in counts
    inserts = DryRunRow.objects.filter(dry_run=dry_run, action="Insert").count()
    assert page.inner_text("#dry-run-counts tfoot td[data-action='Insert']") == str(inserts)
    assert not Coupling.objects.exists()

    page.select_option("#dry-run-filter select[name=mapping]", "CUSTOMER")
    page.select_option("#dry-run-filter select[name=action]", "Couple")
    page.click("#dry-run-filter button[type=submit]")
    page.wait_for_url("**action=Couple**")
    coupled = page.locator("#dry-run-rows tbody tr")
    assert coupled.count() == DryRunRow.objects.filter(dry_run=dry_run, mapping_name="CUSTOMER",
                                                       action="Couple").count() > 0
    assert "Couple" in coupled.first.inner_text()

    page.click("#dry-run-filter button[type=submit]")  # back to the same filter, then download everything
    page.goto(f"/syncjobs/dry-runs/{dry_run.pk}/")
    with page.expect_download() as download_info:
        page.click("#dry-run-csv")
    content = open(download_info.value.path(), encoding="utf-8").read()  # noqa: SIM115 - Playwright's temp file
    table = list(csv.reader(io.StringIO(content)))
    assert table[0][0] == "Sequence" and len(table) == dry_run.rows_planned + 1
    assert not [status for status in statuses if status[0] >= 500], statuses
