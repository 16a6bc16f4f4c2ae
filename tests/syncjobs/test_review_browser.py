"""Sync All in a browser on the demo data: the review page shows the lines' progress as they run, without a reload,
until every line is finished. The RQ jobs run in this process (rq's SimpleWorker, burst mode) against the live
server's database, while Chromium polls the page."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from rq import SimpleWorker

from syncjobs import review
from syncjobs.models import JobQueueEntry
from syncjobs.scheduler import dispatch_due_entries
from tests.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sync_all_shows_live_progress_until_every_line_is_finished(
    browser_page, live_server, admin_user, emulator_connection, sync_queue
):
    # The recurring job queue is not under test here: only the review's lines run.
    JobQueueEntry.objects.filter(connection=emulator_connection).update(status=JobQueueEntry.Status.ON_HOLD)
    page = browser_page
    sign_in(page)
    page.goto(f"/syncjobs/full-sync-review/{emulator_connection.pk}/")
    page.click("#sync-all")
    page.wait_for_selector("#review-table tbody tr[data-line]")
    assert "Started" in page.inner_text(".messages")
    lines = page.locator("#review-table tbody tr[data-line]").count()
    assert lines >= 5
    # A marker that a reload would wipe out.
    page.evaluate("window.__sameDocument = true")
    # Selectors, not wait_for_function: the page's Content-Security-Policy forbids eval, which that would use.
    page.wait_for_selector("#review-table[data-done]", state="attached")
    statuses_seen: set[str] = set()

    deadline = time.monotonic() + 600
    while True:
        assert time.monotonic() < deadline, page.inner_text("#review-table")
        SimpleWorker([sync_queue], connection=sync_queue.connection).work(burst=True)
        # What the cron does every minute: retries of failed lines once their rerun delay has passed.
        dispatch_due_entries(now=timezone.now() + timedelta(seconds=61))
        page.wait_for_timeout(700)
        statuses_seen.update(page.eval_on_selector_all(
            ".line-status", "cells => cells.map(cell => cell.getAttribute('data-status'))"))
        status = review.full_sync_review_status(connection=emulator_connection)
        if not status["running"] and not len(sync_queue):
            break
    failed = {line["name"]: line["error"] for line in status["lines"] if line["status"] == "Error"}
    assert status["done"], f"lines failed: {failed}"
    page.wait_for_selector("#review-table[data-done='true']", state="attached")

    assert page.evaluate("window.__sameDocument") is True
    overall = page.inner_text("#overall-text")
    assert "lines finished" in overall and "done" in overall
    finished, _, total = overall.split(" lines finished")[0].partition(" of ")
    assert finished == total
    assert "Finished" in statuses_seen
    # Each finished line shows its counters and a filled progress bar, rendered by the script.
    assert page.locator(".line-to progress").count() >= 1
    assert "records" in page.inner_text(".line-to >> nth=0") or "—" in page.inner_text(".line-to >> nth=0")
