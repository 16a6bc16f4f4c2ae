"""The full synchronization review: which lines, recommendations, dependency order, actions (BC: table 5373 CRM Full
Synch. Review Line, Generate, GetInitialSynchRecommendation and Start; page 5331 actions)."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from rq.job import Job

from syncjobs import review
from syncjobs.jobqueue import RunOutcome, job_queue_entry_finish_run
from syncjobs.models import FullSyncReviewLine, JobQueueEntry, SynchronizationJob
from syncjobs.review import TableCounts, initial_synch_recommendation

Recommendation = FullSyncReviewLine.Recommendation
Status = JobQueueEntry.Status


@pytest.mark.parametrize(
    ("name", "counts", "expected"),
    [
        ("SALESPEOPLE", TableCounts(bc=0, dataverse=0), Recommendation.FULL_SYNCHRONIZATION),
        ("CURRENCY", TableCounts(bc=5, dataverse=1, currency_exchange_rate=Decimal("1.0000")),
         Recommendation.FULL_SYNCHRONIZATION),
        ("CURRENCY", TableCounts(bc=5, dataverse=1, currency_exchange_rate=Decimal("1.2")),
         Recommendation.COUPLE_RECORDS),
        ("CURRENCY", TableCounts(bc=5, dataverse=2), Recommendation.COUPLE_RECORDS),
        ("UNIT GROUP", TableCounts(bc=0, dataverse=1), Recommendation.NO_RECORDS_FOUND),
        ("UNIT OF MEASURE", TableCounts(bc=8, dataverse=3), Recommendation.COUPLE_RECORDS),
        ("ITEM UOM", TableCounts(bc=8, dataverse=1), Recommendation.FULL_SYNCHRONIZATION),
        ("RESOURCE UOM", TableCounts(bc=0, dataverse=4), Recommendation.FULL_SYNCHRONIZATION),
        ("PAYMENT TERMS", TableCounts(bc=0, dataverse=0), Recommendation.NO_RECORDS_FOUND),
        ("SHIPMENT METHOD", TableCounts(bc=3, dataverse=0), Recommendation.COUPLE_RECORDS),
        ("CUSTOMER", TableCounts(bc=0, dataverse=0), Recommendation.NO_RECORDS_FOUND),
        ("CUSTOMER", TableCounts(bc=10, dataverse=4), Recommendation.COUPLE_RECORDS),
        ("CUSTOMER", TableCounts(bc=10, dataverse=0), Recommendation.FULL_SYNCHRONIZATION),
        ("CONTACT", TableCounts(bc=0, dataverse=7), Recommendation.FULL_SYNCHRONIZATION),
        ("ITEM-PRODUCT", TableCounts(bc=30, dataverse=0), Recommendation.FULL_SYNCHRONIZATION),
        ("OPPORTUNITY", TableCounts(bc=0, dataverse=0), Recommendation.NO_RECORDS_FOUND),
        ("POSTEDSALESINV-INV", TableCounts(bc=3, dataverse=2), Recommendation.COUPLE_RECORDS),
    ],
)
def test_initial_synch_recommendation_follows_bc_rules(name, counts, expected):
    assert initial_synch_recommendation(mapping_name=name, counts=counts) == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("ownership", "bidirectional", "expected_missing"),
    [
        ("Person", False, {"SOLINE-ORDERDETAIL", "POSTEDSALESLINE-INV", "SALESORDER-ORDER"}),
        ("Person", True, {"SOLINE-ORDERDETAIL", "POSTEDSALESLINE-INV"}),
        ("Team", False, {"SOLINE-ORDERDETAIL", "POSTEDSALESLINE-INV", "SALESORDER-ORDER", "SALESPEOPLE"}),
    ],
)
def test_lines_are_generated_for_the_applicable_mappings(
    connection, make_mapping, ownership, bidirectional, expected_missing
):
    connection.ownership_model = ownership
    connection.bidirectional_sales_order_integration = bidirectional
    connection.save()
    names = ["SALESPEOPLE", "CUSTOMER", "ITEM-PRODUCT", "SALESORDER-ORDER", "SOLINE-ORDERDETAIL", "POSTEDSALESINV-INV",
             "POSTEDSALESLINE-INV"]
    for name in names:
        make_mapping(name)
    counts = {name: TableCounts(bc=1, dataverse=0) for name in names}

    lines = review.full_sync_review_generate(connection=connection, counts=counts)

    assert {line.name for line in lines} == set(names) - expected_missing
    assert all(line.recommendation == Recommendation.FULL_SYNCHRONIZATION for line in lines
               if line.name != "SALESPEOPLE")


def _line(name: str, dependency_filter: str = "", status: str = "", recommendation: str = "FullSynchronization",
          excluded: bool = False) -> FullSyncReviewLine:
    return FullSyncReviewLine(name=name, dependency_filter=dependency_filter, job_queue_entry_status=status,
                              recommendation=recommendation, excluded=excluded)


def test_a_line_starts_only_when_every_dependency_finished_or_found_no_records():
    lines = [
        _line("UNIT GROUP"),
        _line("ITEM UOM", "UNIT GROUP"),
        _line("CURRENCY", status=Status.FINISHED),
        _line("PAYMENT TERMS", recommendation=Recommendation.NO_RECORDS_FOUND),
        _line("CUSTOMER", "SALESPEOPLE|CURRENCY|PAYMENT TERMS"),  # SALESPEOPLE has no line: does not block
        _line("ITEM-PRODUCT", "ITEM UOM"),
        _line("PLHEADER-PRICE", "CURRENCY|ITEM-PRODUCT"),
        _line("OPPORTUNITY", "CONTACT"),
        _line("CONTACT", "CUSTOMER", excluded=True),
    ]
    startable = [line.name for line in review.startable_lines(lines)]
    # CONTACT is removed from this run, so OPPORTUNITY does not wait for it; PAYMENT TERMS never starts.
    assert startable == ["UNIT GROUP", "CUSTOMER", "OPPORTUNITY"]

    lines[0].job_queue_entry_status = Status.FINISHED
    assert [line.name for line in review.startable_lines(lines)] == ["ITEM UOM", "CUSTOMER", "OPPORTUNITY"]


def test_a_failed_dependency_keeps_its_dependants_visibly_waiting():
    lines = [
        _line("ITEM-PRODUCT", status=Status.ERROR),
        _line("UNIT GROUP", status=Status.IN_PROCESS),
        _line("PLHEADER-PRICE", "CURRENCY|ITEM-PRODUCT"),
        _line("ITEM UOM", "UNIT GROUP"),
    ]
    assert review.startable_lines(lines) == []
    assert review.waiting_message(lines[2], lines) == "waiting for ITEM-PRODUCT, which failed"
    assert review.waiting_message(lines[3], lines) == "waiting for UNIT GROUP, which is running"
    assert review.waiting_message(lines[0], lines) == ""


@pytest.fixture
def chain(connection, make_mapping, make_entry):
    """UNIT GROUP -> ITEM UOM -> ITEM-PRODUCT, CURRENCY independent, CUSTOMER couples records; recurring entries."""
    mappings = {
        "UNIT GROUP": make_mapping("UNIT GROUP", priority=1),
        "ITEM UOM": make_mapping("ITEM UOM", dependency_filter="UNIT GROUP", priority=2),
        "ITEM-PRODUCT": make_mapping("ITEM-PRODUCT", dependency_filter="ITEM UOM", priority=3),
        "CURRENCY": make_mapping("CURRENCY", priority=4),
        "CUSTOMER": make_mapping("CUSTOMER", dependency_filter="CURRENCY", priority=5),
    }
    for mapping in mappings.values():
        make_entry(mapping)
    counts = {
        "UNIT GROUP": TableCounts(bc=3, dataverse=1),
        "ITEM UOM": TableCounts(bc=3, dataverse=1),
        "ITEM-PRODUCT": TableCounts(bc=30, dataverse=0),
        "CURRENCY": TableCounts(bc=3, dataverse=1, currency_exchange_rate=Decimal(1)),
        "CUSTOMER": TableCounts(bc=10, dataverse=5),
    }
    review.full_sync_review_generate(connection=connection, counts=counts)
    return mappings


def _finish(line_name: str, connection, *, error: str = "", failed: int = 0) -> JobQueueEntry:
    line = FullSyncReviewLine.objects.get(connection=connection, name=line_name)
    entry = line.job_queue_entry
    SynchronizationJob.objects.create(table_mapping=line.table_mapping, job_queue_entry=entry,
                                      direction="ToIntegrationTable", total=10, processed=10, inserted=10 - failed,
                                      failed=failed, finished_at=entry.created_at)
    entry = job_queue_entry_finish_run(entry=entry, log=None, outcome=RunOutcome(changed=10), error=error)
    review.full_sync_review_on_entry_changed(entry=entry)
    return entry


@pytest.mark.django_db(transaction=True)
def test_sync_all_starts_independent_lines_together_and_chains_the_rest(connection, chain, sync_queue):
    started = review.full_sync_review_start(connection=connection)

    assert sorted(line.name for line in started) == ["CURRENCY", "UNIT GROUP"]
    lines = {line.name: line for line in FullSyncReviewLine.objects.filter(connection=connection)}
    for name in ("CURRENCY", "UNIT GROUP"):
        entry = lines[name].job_queue_entry
        assert entry.kind == JobQueueEntry.Kind.FULL_SYNCHRONIZATION and not entry.recurring_job
        assert entry.status == Status.IN_PROCESS and lines[name].job_queue_entry_status == Status.IN_PROCESS
        job = Job.fetch(entry.rq_job_id, connection=sync_queue.connection)
        assert job.func_name == "syncjobs.tasks.run_full_sync_line" and job.args == (lines[name].pk,)
        # The mapping's recurring entry is held while its full synchronization runs (BC:
        # SetOriginalJobQueueEntryOnHold).
        recurring = JobQueueEntry.objects.get(table_mapping=lines[name].table_mapping, recurring_job=True)
        assert recurring.status == Status.ON_HOLD
    assert lines["ITEM UOM"].job_queue_entry is None
    # Sync All again starts nothing twice.
    assert review.full_sync_review_start(connection=connection) == []

    _finish("UNIT GROUP", connection)
    lines = {line.name: line for line in FullSyncReviewLine.objects.filter(connection=connection)}
    assert lines["UNIT GROUP"].job_queue_entry_status == Status.FINISHED
    assert lines["UNIT GROUP"].to_int_table_job is not None
    assert lines["ITEM UOM"].job_queue_entry_status == Status.IN_PROCESS
    assert lines["ITEM-PRODUCT"].job_queue_entry is None
    recurring = JobQueueEntry.objects.get(table_mapping=chain["UNIT GROUP"], recurring_job=True)
    assert recurring.status == Status.READY  # restored after the full synchronization

    _finish("CURRENCY", connection)
    customer = FullSyncReviewLine.objects.get(connection=connection, name="CUSTOMER")
    assert customer.recommendation == Recommendation.COUPLE_RECORDS
    assert customer.job_queue_entry.kind == JobQueueEntry.Kind.COUPLING


@pytest.mark.django_db(transaction=True)
def test_a_failed_line_blocks_its_dependants_until_restarted(connection, chain, sync_queue):
    review.full_sync_review_start(connection=connection)
    unit_group = FullSyncReviewLine.objects.get(connection=connection, name="UNIT GROUP")
    entry = unit_group.job_queue_entry
    for _ in range(entry.maximum_no_of_attempts_to_run):
        entry.refresh_from_db()
        entry.status = Status.IN_PROCESS
        entry.save(update_fields=["status"])
        entry = job_queue_entry_finish_run(entry=entry, log=None, error="uomschedule: permission denied")
        review.full_sync_review_on_entry_changed(entry=entry)
    assert entry.status == Status.ERROR

    status = review.full_sync_review_status(connection=connection)
    by_name = {line["name"]: line for line in status["lines"]}
    assert by_name["ITEM UOM"]["waiting"] == "waiting for UNIT GROUP, which failed"
    assert by_name["UNIT GROUP"]["error"] == "uomschedule: permission denied"
    assert FullSyncReviewLine.objects.get(connection=connection, name="ITEM UOM").job_queue_entry is None

    started = review.full_sync_review_restart(line=FullSyncReviewLine.objects.get(pk=unit_group.pk))
    assert [line.name for line in started] == ["UNIT GROUP"]
    assert FullSyncReviewLine.objects.get(pk=unit_group.pk).job_queue_entry_status == Status.IN_PROCESS


@pytest.mark.django_db(transaction=True)
def test_review_actions_are_refused_when_the_state_does_not_allow_them(connection, chain, sync_queue):
    customer = FullSyncReviewLine.objects.get(connection=connection, name="CUSTOMER")
    item = FullSyncReviewLine.objects.get(connection=connection, name="ITEM-PRODUCT")
    with pytest.raises(review.ReviewActionRefused):
        review.full_sync_review_restart(line=item)  # never started
    with pytest.raises(review.ReviewActionRefused):
        review.full_sync_review_recommend_full(line=item)  # not Couple Records

    review.full_sync_review_recommend_full(line=customer)
    customer.refresh_from_db()
    assert customer.recommendation == Recommendation.FULL_SYNCHRONIZATION and customer.recommendation_overridden
    # The override survives regeneration.
    review.full_sync_review_generate(connection=connection, counts={
        name: TableCounts(bc=10, dataverse=5) for name in chain})
    customer.refresh_from_db()
    assert customer.recommendation == Recommendation.FULL_SYNCHRONIZATION

    review.full_sync_review_remove(line=item)
    item.refresh_from_db()
    assert item.excluded

    review.full_sync_review_start(connection=connection)
    with pytest.raises(review.ReviewActionRefused):
        review.full_sync_review_reset(connection=connection)
    with pytest.raises(review.ReviewActionRefused):
        review.full_sync_review_remove(line=FullSyncReviewLine.objects.get(connection=connection, name="UNIT GROUP"))


@pytest.mark.django_db
def test_status_reports_progress_rate_and_time_remaining(connection, chain):
    line = FullSyncReviewLine.objects.get(connection=connection, name="ITEM-PRODUCT")
    entry = JobQueueEntry.objects.create(connection=connection, table_mapping=line.table_mapping,
                                         kind=JobQueueEntry.Kind.FULL_SYNCHRONIZATION, description="full",
                                         recurring_job=False, status=Status.IN_PROCESS)
    line.job_queue_entry = entry
    line.job_queue_entry_status = Status.IN_PROCESS
    line.save()
    job = SynchronizationJob.objects.create(table_mapping=line.table_mapping, job_queue_entry=entry,
                                            direction="ToIntegrationTable", total=400, processed=100, inserted=100)
    SynchronizationJob.objects.filter(pk=job.pk).update(started_at=job.started_at - timedelta(seconds=10))

    status = review.full_sync_review_status(connection=connection)

    item = next(row for row in status["lines"] if row["name"] == "ITEM-PRODUCT")
    assert item["to"]["processed"] == 100 and item["to"]["total"] == 400
    assert item["to"]["status"] == "InProcess"
    assert 5 <= item["to"]["rate"] <= 10.5
    assert 25 <= item["to"]["remaining_seconds"] <= 61
    assert status["processed"] == 100 and status["total"] == 400
    assert status["running"] and not status["done"]


@pytest.mark.django_db
def test_couple_records_matches_on_the_chosen_criteria_else_on_the_name(make_mapping):
    from mappings.models import IntegrationFieldMapping
    from syncjobs.runner import review_match_criteria

    mapping = make_mapping("CUSTOMER")
    phone = IntegrationFieldMapping.objects.create(table_mapping=mapping, sequence=2, field_name="Phone No.",
                                                   integration_field_name="telephone1")
    name = IntegrationFieldMapping.objects.create(table_mapping=mapping, sequence=1, field_name="Name",
                                                  integration_field_name="name")

    assert [criterion.field_mapping_id for criterion in review_match_criteria(mapping)] == [name.pk]

    phone.use_for_match_based_coupling = True
    phone.save()
    assert [criterion.field_mapping_id for criterion in review_match_criteria(mapping)] == [phone.pk]


@pytest.mark.django_db
def test_totals_add_up_every_job_of_a_line(connection, chain):
    """A Couple Records line: the coupling job and the synchronization after it both count."""
    line = FullSyncReviewLine.objects.get(connection=connection, name="CUSTOMER")
    entry = JobQueueEntry.objects.create(connection=connection, table_mapping=line.table_mapping, description="c",
                                         kind=JobQueueEntry.Kind.COUPLING, recurring_job=False,
                                         status=Status.FINISHED)
    line.job_queue_entry = entry
    line.job_queue_entry_status = Status.FINISHED
    line.save()
    for values in ({"type": "Coupling", "coupled": 4, "skipped": 6}, {"inserted": 6, "failed": 1}):
        SynchronizationJob.objects.create(table_mapping=line.table_mapping, job_queue_entry=entry,
                                          direction="ToIntegrationTable", finished_at=entry.created_at, **values)

    status = review.full_sync_review_status(connection=connection)

    customer = next(row for row in status["lines"] if row["name"] == "CUSTOMER")
    assert customer["to"]["inserted"] == 6  # progress: the newest job
    assert {k: customer["totals"][k] for k in ("coupled", "inserted", "skipped", "failed")} == {
        "coupled": 4, "inserted": 6, "skipped": 6, "failed": 1}


def test_a_review_is_settled_only_when_one_read_shows_nothing_running_or_startable() -> None:
    """``fullsync --wait`` decides from one read of the lines: a parent that just finished with its dependant not
    taken yet leaves the review unsettled (the dependant can start), as does a taken (Ready) line."""
    def line(name: str, status: str = "", parents: str = "") -> FullSyncReviewLine:
        return FullSyncReviewLine(name=name, job_queue_entry_status=status, dependency_filter=parents,
                                  recommendation=FullSyncReviewLine.Recommendation.FULL_SYNCHRONIZATION)

    finished = JobQueueEntry.Status.FINISHED
    assert not review.review_settled([line("ITEM-PRODUCT", finished), line("PLLINE-PRODPRICE", "", "ITEM-PRODUCT")])
    assert not review.review_settled([line("ITEM-PRODUCT", finished),
                                      line("PLLINE-PRODPRICE", JobQueueEntry.Status.READY, "ITEM-PRODUCT")])
    assert review.review_settled([line("ITEM-PRODUCT", finished), line("PLLINE-PRODPRICE", finished, "ITEM-PRODUCT")])
