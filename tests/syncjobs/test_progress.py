"""Progress of synchronization jobs: committed per batch by the engine and per page by match-based coupling, rate of
records handled, time remaining in words, states in words, the counters' legend, the already-coupled counter, and the
line saying why a pass wrote nothing (syncjobs/progress.py, syncjobs/views_progress.py)."""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from mappings.models import CouplingLogEntry, Direction, IntegrationTableMapping
from syncjobs import coupling as coupling_run
from syncjobs import progress
from syncjobs.models import SynchronizationJob

pytestmark = pytest.mark.django_db

TO = Direction.TO_INTEGRATION_TABLE


def _job(mapping: Any, *, seconds: float = 10.0, finished: bool = True, **values: Any) -> SynchronizationJob:
    job = SynchronizationJob.objects.create(table_mapping=mapping, direction=values.pop("direction", TO), **values)
    started = timezone.now() - timedelta(seconds=seconds)
    SynchronizationJob.objects.filter(pk=job.pk).update(
        started_at=started, finished_at=timezone.now() if finished else None)
    job.refresh_from_db()
    return job


@pytest.fixture
def orders(make_mapping: Any) -> Any:
    """SALESORDER-ORDER as the default configuration writes it (BC table filter Status = Released)."""
    return make_mapping("SALESORDER-ORDER", table="Sales Header", integration_table="salesorder",
                        table_filter="status eq 'Released'")


# --- rate, time remaining, states -----------------------------------------------------------------------------------


def test_rate_counts_records_handled_not_rows_read(orders: Any) -> None:
    # The "1,880 records/s for a pass of 0 records": 55 rows read in 0.03 s, none given an outcome.
    read_only = _job(orders, seconds=0.03, total=55, processed=55)
    assert progress.job_rate(read_only) is None
    assert progress.job_progress(read_only)["rate_text"] == ""
    # Records handled over at least a second give a rate.
    handled = _job(orders, seconds=10, total=55, processed=55, inserted=20, unchanged=30)
    assert progress.job_rate(handled) == pytest.approx(5.0, rel=0.05)
    assert progress.job_progress(handled)["rate_text"] == "5.0 records per second"
    # Under the minimum duration there is no rate even with records handled.
    quick = _job(orders, seconds=0.2, total=3, processed=3, inserted=3)
    assert progress.job_rate(quick) is None


def test_time_remaining_from_the_speed_of_reading_in_words(orders: Any) -> None:
    running = _job(orders, seconds=10, finished=False, total=100, processed=20, inserted=20)
    assert progress.job_remaining_seconds(running) == pytest.approx(40, abs=1)
    assert progress.job_progress(running)["remaining_text"] == "about 1 minute left"
    slow = _job(orders, seconds=60, finished=False, total=1000, processed=100, inserted=100)
    assert progress.job_progress(slow)["remaining_text"] == "about 9 minutes left"
    not_started = _job(orders, seconds=10, finished=False, total=100, processed=0)
    assert progress.job_remaining_seconds(not_started) is None
    no_total = _job(orders, seconds=10, finished=False, total=None, processed=10, inserted=10)
    assert progress.job_remaining_seconds(no_total) is None
    assert progress.job_progress(no_total)["records_text"] == "10 records"
    finished = _job(orders, seconds=10, total=100, processed=100, inserted=100)
    assert progress.job_remaining_seconds(finished) is None


@pytest.mark.parametrize(("seconds", "words"), [
    (None, ""), (5, "less than a minute left"), (70, "about 1 minute left"), (150, "about 3 minutes left"),
    (3600, "about 1 hour left"), (3600 + 5 * 60, "about 1 hour 5 minutes left"),
    (2 * 3600 + 60, "about 2 hours 1 minute left"),
])
def test_remaining_words(seconds: float | None, words: str) -> None:
    assert progress.remaining_words(seconds) == words


def test_states_are_words(orders: Any) -> None:
    running = progress.job_progress(_job(orders, finished=False, total=10, processed=4))
    assert (running["status"], running["status_label"]) == ("InProcess", "In Process")
    failed = progress.job_progress(_job(orders, total=10, processed=10, failed=1, modified=9))
    assert failed["status_label"] == "Error"
    could_not_run = progress.job_progress(_job(orders, could_not_run=True, message="BC unreachable"))
    assert could_not_run["status_label"] == "Error"
    done = progress.job_progress(_job(orders, total=10, processed=10, modified=10))
    assert (done["status_label"], done["percent"]) == ("Success", 100)


# --- why nothing was written ----------------------------------------------------------------------------------------


def test_explanation_names_the_table_rule_when_records_are_read_but_not_written(orders: Any) -> None:
    job = _job(orders, total=55, processed=55)
    text = progress.job_explanation(job)
    assert text.startswith("Nothing written: 55 records read but not written: Business Central sends only released "
                           "sales orders")
    assert 'codeunit 5340 "CRM Integration Table Synch."' in text
    # No released order at all: the pass read nothing, and says why.
    empty = _job(orders, total=0, processed=0)
    assert progress.job_explanation(empty).startswith("No records to synchronize: Business Central sends only "
                                                      "released sales orders")
    # While the pass still counts, or when it wrote something, there is nothing to explain.
    assert progress.job_explanation(_job(orders, finished=False, total=None, processed=0)) == ""
    assert progress.job_explanation(_job(orders, total=55, processed=55, inserted=1)) == ""


def test_explanation_for_unchanged_failed_and_skipped_records(make_mapping: Any) -> None:
    items = make_mapping("ITEM-PRODUCT")
    assert progress.job_explanation(_job(items, total=5, processed=5, unchanged=5)) == (
        "Nothing written: all 5 records unchanged since the last synchronization.")
    assert progress.job_explanation(_job(items, total=5, processed=5, failed=2, unchanged=3)) == (
        "Nothing written: 2 failed: see errors; 3 unchanged since the last synchronization.")
    skipped = progress.job_explanation(_job(items, total=1, processed=1, skipped=1))
    assert skipped == ("Nothing written: 1 skipped (excluded after failing twice: see Coupled data synchronization "
                       "errors).")
    # An incremental pass of a mapping that synchronizes only coupled records leaves the uncoupled ones out.
    items.synch_only_coupled_records = True
    items.save(update_fields=["synch_only_coupled_records"])
    assert progress.job_explanation(_job(items, total=4, processed=4)).endswith(
        "4 records read but not written: the mapping synchronizes only coupled records (Synch. Only Coupled "
        "Records); uncoupled ones wait for a full synchronization or a coupling.")
    # Read in the overlap window and synchronized already: no table rule, the general reason.
    items.synch_only_coupled_records = False
    items.save(update_fields=["synch_only_coupled_records"])
    general = progress.job_explanation(_job(items, total=4, processed=4))
    assert general.endswith("4 records read but not written: they were synchronized already or the table's rule "
                            "leaves them out.")


def test_counters_text_and_legend_words(make_mapping: Any) -> None:
    job = _job(make_mapping("CUSTOMER"), total=9, processed=9, inserted=3, unchanged=4, already_coupled=2)
    assert progress.counters_text(job) == "3 inserted, 4 unchanged, 2 already coupled"
    assert [c.label for c in progress.COUNTERS] == [
        "inserted", "modified", "deleted", "unchanged", "skipped", "failed", "coupled", "already coupled",
        "uncoupled"]


# --- the engine commits progress after every batch -----------------------------------------------------------------


def test_a_pass_commits_processed_and_counters_after_every_batch(emulator: Any, settings: Any) -> None:
    from syncjobs.engine import synchronize_mapping
    from tests.syncjobs.engine.conftest import make_sync_connection

    connection = make_sync_connection(emulator, settings)
    mapping = IntegrationTableMapping.objects.get(connection=connection, name="UNIT OF MEASURE")
    stored: list[tuple[int, int | None, int]] = []

    def sample(job: SynchronizationJob) -> None:
        # What another reader of the row sees: the row as stored, not the engine's object.
        row = SynchronizationJob.objects.filter(pk=job.pk).values_list("processed", "total", "inserted").get()
        stored.append(row)

    job = synchronize_mapping(mapping=mapping, full=True, batch_size=3, progress=sample)[0]
    processed = [row[0] for row in stored]
    assert len(processed) >= 3 and processed == sorted(set(processed)), stored  # one UPDATE per batch, rising
    assert all(row[1] == job.total for row in stored) and processed[-1] == job.total == job.processed
    assert [row[2] for row in stored] == sorted(row[2] for row in stored) and stored[-1][2] == job.inserted > 0


# --- match-based coupling: per page, and already coupled on its own ------------------------------------------------


def test_match_based_coupling_counts_already_coupled_apart_and_saves_per_page(
        emulator_connection: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from connections.clients import business_central_client_for
    from mappings.matching import MatchCriterion
    from mappings.services import coupling_create

    mapping = IntegrationTableMapping.objects.get(connection=emulator_connection, name="CUSTOMER")
    bc = business_central_client_for(emulator_connection)
    customers = list(bc.iter_rows("customers"))
    coupling_create(connection=emulator_connection, bc_table="Customer", bc_id=uuid.UUID(customers[0]["id"]),
                    dataverse_table="account", dataverse_id=uuid.uuid4())
    name = mapping.field_mappings.get(field_name="Name")
    monkeypatch.setattr(coupling_run, "LOG_BATCH", 10)
    stored: list[dict[str, Any]] = []
    record = coupling_run._record_outcomes

    def sample(job: Any, outcomes: Any, start: int = 1) -> None:
        stored.append(SynchronizationJob.objects.filter(pk=job.pk).values(
            "total", "processed", "coupled", "already_coupled", "skipped").get())
        record(job, outcomes, start)

    monkeypatch.setattr(coupling_run, "_record_outcomes", sample)
    job = coupling_run.match_based_coupling_run(mapping=mapping, criteria=[MatchCriterion(name.pk)])

    assert job.total == job.processed == len(customers)
    outcomes = dict(job.coupling_log.order_by().values("outcome").annotate(n=Count("id")).values_list("outcome", "n"))
    Outcome = CouplingLogEntry.Outcome
    assert job.already_coupled == outcomes.get(Outcome.ALREADY_COUPLED, 0) >= 1
    assert job.skipped == outcomes.get(Outcome.NO_MATCH, 0) + outcomes.get(Outcome.SEVERAL_MATCHES, 0)
    assert job.coupled == outcomes.get(Outcome.COUPLED, 0)
    # Before the first page the total is known; after each page processed and the counters are stored together.
    assert stored[0]["total"] == len(customers) and stored[0]["processed"] == 0
    pages = [row for row in stored if row["processed"]]
    assert len(pages) >= 3
    assert all(row["coupled"] + row["already_coupled"] + row["skipped"] == row["processed"] for row in pages)
    assert [row["processed"] for row in pages] == sorted({row["processed"] for row in pages})
    assert "Already coupled" in job.message


# --- JSON and pages -------------------------------------------------------------------------------------------------


def test_job_progress_json_and_page(admin_client: Any, orders: Any) -> None:
    job = _job(orders, finished=False, seconds=10, total=100, processed=20, inserted=20)
    data = admin_client.get(reverse("syncjobs:synchronizationjob-progress", args=[job.pk])).json()
    assert data["job"]["status_label"] == "In Process" and data["job"]["records_text"] == "20 of 100 records"
    assert data["job"]["remaining_text"] == "about 1 minute left" and data["error_count"] == 0
    assert admin_client.get(reverse("syncjobs:synchronizationjob-progress", args=[uuid.uuid4()])).status_code == 404

    page = admin_client.get(reverse("syncjobs:synchronizationjob-detail", args=[job.pk])).content.decode()
    assert 'data-running="true"' in page and "syncjobs/progress.js" in page and 'aria-live="polite"' in page
    assert "In Process" in page and ">InProcess<" not in page and "about 1 minute left" in page
    assert '<dl class="legend">' in page and "<dt>already coupled</dt>" in page

    nothing = _job(orders, total=55, processed=55)
    page = admin_client.get(reverse("syncjobs:synchronizationjob-detail", args=[nothing.pk])).content.decode()
    assert "Business Central sends only released sales orders" in page and 'data-running="false"' in page
    log = admin_client.get(reverse("syncjobs:synchronizationjob-list")).content.decode()
    assert "Records per second" in log and "Business Central sends only released sales orders" in log
    assert '<dl class="legend">' in log and ">InProcess<" not in log


def test_coupling_log_progress_returns_the_new_lines_and_refuses_bad_input(admin_client: Any,
                                                                           make_mapping: Any) -> None:
    customers = make_mapping("CUSTOMER")
    job = _job(customers, finished=False, type=SynchronizationJob.Type.COUPLING, total=3, processed=2, coupled=1,
               already_coupled=1)
    for sequence, outcome in enumerate((CouplingLogEntry.Outcome.COUPLED, CouplingLogEntry.Outcome.ALREADY_COUPLED),
                                       start=1):
        CouplingLogEntry.objects.create(job=job, sequence=sequence, bc_id=uuid.uuid4(), bc_name=f"C{sequence}",
                                        outcome=outcome)
    url = reverse("mappings:couplinglog-progress", args=[customers.pk])
    data = admin_client.get(url, {"job": job.pk, "after": 1}).json()
    assert [line["bc"] for line in data["lines"]] == ["C2"] and data["last"] == 2
    assert data["lines"][0]["outcome_label"] == "Already coupled" and data["job"]["already_coupled"] == 1
    only = admin_client.get(url, {"job": job.pk, "outcome": "Coupled"}).json()
    assert [line["bc"] for line in only["lines"]] == ["C1"]
    for bad in ({"job": "x"}, {"job": job.pk, "after": "-1"}, {"job": job.pk, "after": "1e9"},
                {"job": job.pk, "outcome": "Nope"}):
        response = admin_client.get(url, bad)
        assert response.status_code == 400 and response.json()["error"], bad
    assert admin_client.get(url, {"job": uuid.uuid4()}).status_code == 404

    page = admin_client.get(reverse("mappings:couplinglog-list", args=[customers.pk])).content.decode()
    assert 'id="coupling-progress"' in page and 'data-running="true"' in page and 'data-sequence="2"' in page
    assert "1 coupled, 1 already coupled" in page and '<dl class="legend">' in page
    assert "reload" not in page.lower()
