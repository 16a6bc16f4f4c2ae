"""Job queue services: hold/restore with the connection, Set Ready / On Hold / Run Now, Synchronize Modified Records."""
from __future__ import annotations

import pytest
from django.utils import timezone
from rq.job import Job

from syncjobs import services
from syncjobs.models import JobQueueEntry

Status = JobQueueEntry.Status
pytestmark = pytest.mark.django_db(transaction=True)


def test_disabling_puts_entries_on_hold_and_enabling_restores_them_ready(connection, make_mapping, make_entry):
    ready = make_entry(make_mapping("ITEM-PRODUCT"))
    idle = make_entry(make_mapping("CUSTOMER"), status=Status.ON_HOLD_WITH_INACTIVITY_TIMEOUT,
                      earliest_start_date_time=timezone.now() + timezone.timedelta(hours=12))
    running = make_entry(make_mapping("CURRENCY"), status=Status.IN_PROCESS)

    assert services.job_queue_entries_set_on_hold(connection=connection) == 2
    for entry in (ready, idle):
        entry.refresh_from_db()
        assert entry.status == Status.ON_HOLD
    running.refresh_from_db()
    assert running.status == Status.IN_PROCESS

    assert services.job_queue_entries_restore(connection=connection) == 2
    for entry in (ready, idle):
        entry.refresh_from_db()
        assert entry.status == Status.READY
        assert entry.earliest_start_date_time <= timezone.now()


def test_run_now_claims_and_enqueues_and_refuses_while_the_mapping_runs(make_mapping, make_entry, sync_queue):
    mapping = make_mapping("ITEM-PRODUCT")
    entry = make_entry(mapping, status=Status.ERROR, no_of_attempts_to_run=10, error_message="old")

    job_id = services.job_queue_entry_run_now(entry=entry)

    entry.refresh_from_db()
    assert entry.status == Status.IN_PROCESS and entry.rq_job_id == job_id
    assert Job.fetch(job_id, connection=sync_queue.connection).args == (str(entry.pk),)
    with pytest.raises(services.JobQueueEntryBusy, match="running"):
        services.job_queue_entry_run_now(entry=entry)
    other = make_entry(mapping, recurring_job=False, description="One-off run of ITEM-PRODUCT")
    with pytest.raises(services.JobQueueEntryBusy) as refused:
        services.job_queue_entry_run_now(entry=other)
    # The refusal names the run that holds the mapping, and what it says is true: the entry is Ready.
    assert f"'{entry.description.strip()}' is running on mapping ITEM-PRODUCT" in str(refused.value)
    assert "'One-off run of ITEM-PRODUCT' is set Ready and runs after it" in str(refused.value)
    other.refresh_from_db()
    assert other.status == Status.READY


def test_set_on_hold_and_set_ready(make_mapping, make_entry):
    entry = make_entry(make_mapping("ITEM-PRODUCT"), no_of_attempts_to_run=3)
    services.job_queue_entry_set_on_hold(entry=entry)
    assert entry.status == Status.ON_HOLD
    services.job_queue_entry_set_ready(entry=entry)
    assert entry.status == Status.READY and entry.no_of_attempts_to_run == 0


def test_synchronize_modified_records_creates_one_off_entries_in_priority_order(connection, make_mapping, make_entry):
    for name, table, integration_table in [
        ("ITEM-PRODUCT", "Item", "product"),
        ("CUSTOMER", "Customer", "account"),
        ("SALESPEOPLE", "Salesperson/Purchaser", "systemuser"),
        ("POSTEDSALESLINE-INV", "Sales Invoice Line", "invoicedetail"),
        ("CURRENCY", "Currency", "transactioncurrency"),
    ]:
        make_mapping(name, table=table, integration_table=integration_table)

    entries = services.synchronize_modified_records(connection=connection)

    assert [entry.table_mapping.name for entry in entries] == ["SALESPEOPLE", "CURRENCY", "CUSTOMER", "ITEM-PRODUCT"]
    assert all(not entry.recurring_job and entry.maximum_no_of_attempts_to_run == 2 and entry.category == "BCI INTEG"
               for entry in entries)
    starts = [entry.earliest_start_date_time for entry in entries]
    assert starts == sorted(starts)
    # Asking again replaces the Ready one-off entries instead of piling them up.
    services.synchronize_modified_records(connection=connection)
    assert JobQueueEntry.objects.filter(recurring_job=False).count() == 4


def test_active_scheduled_jobs_counts_x_of_y(connection, make_mapping, make_entry):
    make_entry(make_mapping("ITEM-PRODUCT"))
    make_entry(make_mapping("CUSTOMER"), status=Status.ON_HOLD_WITH_INACTIVITY_TIMEOUT)
    make_entry(make_mapping("CURRENCY"), status=Status.ON_HOLD)
    make_entry(None, recurring_job=False)
    assert services.active_scheduled_jobs(connection=connection) == (2, 3)
