"""Progress that moves, in a browser (issue 19, point 2):

* a full synchronization line of several batches shows at least three different progress values on the review page
  before it finishes, without a reload, with its state in words, a rate, the time left and the counters' legend; the
  synchronization job page then shows the finished job;
* the coupling log of a running match-based coupling fills page by page without a reload, and counts already coupled
  records apart from skipped ones;
* a pass that read records but wrote none says why (SALESORDER-ORDER: only released orders), and shows no rate;
* no request answers HTTP 500.

Chromium runs in a thread of its own and samples the page while this thread runs the work (rq's SimpleWorker, as the
RQ worker would, or the coupling run itself) against the live server's database; the emulators add latency to every
request so each batch takes a moment, as it does on a real tenant.
"""
from __future__ import annotations

import re
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from rq import SimpleWorker

from syncjobs import review
from syncjobs.models import FullSyncReviewLine, JobQueueEntry
from tests.conftest import chromium_page, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: Records per committed batch for the line under test (161 BC currencies: 17 batches).
BATCH_SIZE = 10
#: Added to every Dataverse and BC request by the emulators (milliseconds).
LATENCY_MS = 400


class Sampler(threading.Thread):
    """Open the review page in Chromium and record what the line's progress cell shows until the line has finished
    (or ``stop`` is set), every 200 ms; records the HTTP statuses of every answer the page received."""

    def __init__(self, live_server: Any, monkeypatch: pytest.MonkeyPatch, url: str, line_id: int) -> None:
        super().__init__(daemon=True)
        self.live_server, self.monkeypatch, self.url, self.line_id = live_server, monkeypatch, url, line_id
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.samples: list[str] = []
        self.visible_texts: list[str] = []
        self.statuses: list[tuple[int, str]] = []
        self.legend: list[str] = []
        self.same_document = False
        self.finished_text = ""
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with chromium_page(self.live_server, self.monkeypatch) as page:
                page.on("response", lambda response: self.statuses.append((response.status, response.url)))
                sign_in(page)
                page.goto(self.url)
                page.evaluate("window.__sameDocument = true")  # a reload would wipe it out
                self.legend = page.eval_on_selector_all("dl.legend dt", "terms => terms.map(t => t.textContent)")
                self.ready.set()
                cell = f"#line-{self.line_id} .line-to"
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline:
                    text = page.inner_text(cell)
                    self.samples.append(text)
                    self.visible_texts.append(page.inner_text("main"))
                    if page.get_attribute("#review-table", "data-done") == "true" or self.stop.is_set():
                        break
                    page.wait_for_timeout(200)
                self.same_document = page.evaluate("window.__sameDocument === true")
                page.click(f"{cell} a.job-status")
                page.wait_for_selector("#job-progress")
                self.finished_text = page.inner_text("main")
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
            self.error = exc
        finally:
            self.ready.set()


def test_a_multi_batch_line_shows_progress_that_moves(live_server: Any, admin_user: Any, emulator: Any,
                                                      emulator_connection: Any, sync_queue: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the review's CURRENCY line runs: the recurring entries wait, the other lines are removed from this run.
    JobQueueEntry.objects.filter(connection=emulator_connection).update(status=JobQueueEntry.Status.ON_HOLD)
    lines = review.full_sync_review_generate(connection=emulator_connection)
    line = next(line for line in lines if line.name == "CURRENCY")
    assert line.recommendation == FullSyncReviewLine.Recommendation.FULL_SYNCHRONIZATION
    assert (line.bc_record_count or 0) >= 3 * BATCH_SIZE  # at least three batches
    for other in lines:
        if other.pk != line.pk:
            review.full_sync_review_remove(line=other)
    emulator.control(latency_ms=LATENCY_MS)

    # Started as Sync All starts it (claimed and queued), with small batches; the page opens while it is queued.
    started = review.full_sync_review_start(connection=emulator_connection, batch_size=BATCH_SIZE)
    assert [started_line.name for started_line in started] == ["CURRENCY"]
    sampler = Sampler(live_server, monkeypatch, f"/syncjobs/full-sync-review/{emulator_connection.pk}/", line.pk)
    sampler.start()
    assert sampler.ready.wait(120) and sampler.error is None, sampler.error
    began = time.monotonic()
    try:
        SimpleWorker([sync_queue], connection=sync_queue.connection).work(burst=True)
    finally:
        seconds = time.monotonic() - began
        sampler.join(120)
        sampler.stop.set()
        emulator.control(latency_ms=0)
    assert sampler.error is None, sampler.error

    status = review.full_sync_review_status(connection=emulator_connection)
    currency = next(line for line in status["lines"] if line["name"] == "CURRENCY")
    assert status["done"] and currency["to"]["failed"] == 0, currency
    total = currency["to"]["total"]
    # While the line ran, the page showed at least three different progress values, without a reload.
    shown = [int(match.group(1)) for sample in sampler.samples
             if (match := re.search(r"(\d+) of (\d+) records", sample))]
    distinct = list(dict.fromkeys(shown))
    assert distinct == sorted(distinct), distinct  # progress only moves forward
    assert len([value for value in distinct if 0 < value < total]) >= 3, (seconds, distinct)
    assert sampler.same_document
    # Rate and time left appeared as words; states in words, never the raw "InProcess".
    assert any("records per second" in sample for sample in sampler.samples), sampler.samples
    assert any(" left" in sample for sample in sampler.samples), sampler.samples
    assert any("In Process" in sample for sample in sampler.samples), sampler.samples
    assert all("InProcess" not in text for text in sampler.visible_texts)
    assert sampler.samples[-1].startswith("Success") and f"{total} of {total} records" in sampler.samples[-1]
    # The counters' legend is on the page, with "already coupled" as a counter of its own.
    assert {"inserted", "modified", "unchanged", "failed", "skipped", "coupled", "already coupled"} <= set(
        sampler.legend)
    # The job's own page shows the finished pass the same way.
    assert "Success" in sampler.finished_text and f"{total} of {total} records" in sampler.finished_text
    assert "What the counters mean" in sampler.finished_text
    assert not [(code, url) for code, url in sampler.statuses if code >= 500]
    print(f"CURRENCY: {total} records in {seconds:.1f} s; values seen: {distinct}")


def test_coupling_log_fills_without_reload_and_counts_already_coupled(live_server: Any, admin_user: Any,
                                                                       emulator_connection: Any,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from connections.clients import business_central_client_for
    from mappings.matching import MatchCriterion
    from mappings.models import IntegrationTableMapping
    from mappings.services import coupling_create
    from syncjobs import coupling as coupling_run

    mapping = IntegrationTableMapping.objects.get(connection=emulator_connection, name="CUSTOMER")
    customers = list(business_central_client_for(emulator_connection).iter_rows("customers"))
    coupling_create(connection=emulator_connection, bc_table="Customer", bc_id=uuid.UUID(customers[0]["id"]),
                    dataverse_table="account", dataverse_id=uuid.uuid4())
    # Ten log lines per page, and a pause after the first page until the page is open; then a short wait per page,
    # as BC's read of the next page would take.
    monkeypatch.setattr(coupling_run, "LOG_BATCH", 10)
    first_page, page_open = threading.Event(), threading.Event()
    record = coupling_run._record_outcomes

    def paced(job: Any, outcomes: Any, start: int = 1) -> None:
        record(job, outcomes, start)
        if not first_page.is_set():
            first_page.set()
            assert page_open.wait(120)
        else:
            time.sleep(0.4)

    monkeypatch.setattr(coupling_run, "_record_outcomes", paced)
    seen: dict[str, Any] = {"rows": [], "states": [], "statuses": [], "texts": []}
    errors: list[BaseException] = []

    def watch() -> None:
        try:
            with chromium_page(live_server, monkeypatch) as page:
                page.on("response", lambda response: seen["statuses"].append(response.status))
                sign_in(page)
                assert first_page.wait(120)
                page.goto(f"/mappings/{mapping.pk}/coupling-log/")
                page.evaluate("window.__sameDocument = true")
                page_open.set()
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    seen["rows"].append(page.locator("#coupling-log tbody tr[data-sequence]").count())
                    state = page.inner_text("#coupling-progress [data-field=status_label]")
                    seen["states"].append(state)
                    seen["texts"].append(page.inner_text("main"))
                    if state == "Success" and seen["rows"][-1] == len(customers):
                        break
                    page.wait_for_timeout(200)
                seen["same_document"] = page.evaluate("window.__sameDocument === true")
                seen["counters"] = page.inner_text("#coupling-progress [data-field=counters_text]")
                seen["legend"] = page.eval_on_selector_all("dl.legend dt", "terms => terms.map(t => t.textContent)")
                seen["already"] = page.locator("#coupling-log tbody tr.outcome-AlreadyCoupled").count()
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
            errors.append(exc)
        finally:
            page_open.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    job = coupling_run.match_based_coupling_run(mapping=mapping, criteria=[
        MatchCriterion(mapping.field_mappings.get(field_name="Name").pk)])
    watcher.join(180)
    assert not errors, errors

    assert job.already_coupled >= 1 and job.total == len(customers)
    rows = seen["rows"]
    assert rows[0] == 10 and rows[-1] == len(customers), rows  # the first page, then every line, without a reload
    assert len(set(rows)) >= 3 and seen["same_document"]
    assert seen["states"][0] == "In Process" and seen["states"][-1] == "Success"
    assert all("InProcess" not in text and "reload" not in text.lower() for text in seen["texts"])
    assert f"{job.already_coupled} already coupled" in seen["counters"]
    assert seen["already"] == job.already_coupled
    assert "already coupled" in seen["legend"]
    assert not [status for status in seen["statuses"] if status >= 500]


def test_a_pass_that_writes_nothing_says_why(browser_page: Any, live_server: Any, admin_user: Any,
                                              emulator_connection: Any) -> None:
    from mappings.models import Direction, IntegrationTableMapping
    from syncjobs.models import SynchronizationJob

    # SALESORDER-ORDER as BC sets it up (table filter Status = Released), and a pass that read 55 orders and wrote
    # none, finished in 30 ms.
    orders = IntegrationTableMapping.objects.create(
        connection=emulator_connection, name="SALESORDER-ORDER", table="Sales Header", integration_table="salesorder",
        direction=Direction.TO_INTEGRATION_TABLE, table_filter="status eq 'Released'")
    job = SynchronizationJob.objects.create(table_mapping=orders, direction=Direction.TO_INTEGRATION_TABLE, total=55,
                                            processed=55, message="0 inserted, 0 modified, 0 unchanged")
    SynchronizationJob.objects.filter(pk=job.pk).update(finished_at=job.started_at + timedelta(milliseconds=30))
    page = browser_page
    sign_in(page)
    page.goto(f"/syncjobs/log/{job.pk}/")
    explanation = page.inner_text("#job-progress .explanation")
    assert explanation.startswith("Nothing written: 55 records read but not written: Business Central sends only "
                                  "released sales orders")
    assert page.inner_text("#job-progress [data-field=rate_text]") == "—"  # no "1,880 records/s" for 0 records
    assert page.inner_text("#job-progress [data-field=status_label]") == "Success"
    page.goto("/syncjobs/log/")
    assert "Business Central sends only released sales orders" in page.inner_text("table.synchronization-jobs")
    assert "InProcess" not in page.inner_text("main")
