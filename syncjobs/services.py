"""Services of the job queue (BC: table 472 Job Queue Entry): hold and restore with the connection, Set Ready /
Set On Hold / Run Now, Synchronize Modified Records, and the "X of Y scheduled synchronization jobs are active"
count."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from connections.models import ConnectionSetup
from mappings.models import IntegrationTableMapping
from syncjobs.jobqueue import claim_entry
from syncjobs.models import JobQueueEntry

Status = JobQueueEntry.Status
ACTIVE_STATUSES = (Status.READY, Status.IN_PROCESS, Status.ON_HOLD_WITH_INACTIVITY_TIMEOUT)


class JobQueueEntryBusy(Exception):
    """The job queue entry (or another entry of its mapping) is In Process; the message says so."""


def job_queue_entries_set_on_hold(*, connection: ConnectionSetup) -> int:
    """Put every job queue entry of ``connection`` On Hold (BC: disabling the connection,
    UpdateCRMJobQueueEntriesStatus), remembering each status so :func:`job_queue_entries_restore` can bring it back.
    A run In Process finishes; the dispatcher starts nothing for a disabled connection. Returns how many entries were
    put on hold."""
    count = 0
    with transaction.atomic():
        entries = JobQueueEntry.objects.filter(connection=connection).exclude(
            status__in=[Status.ON_HOLD, Status.IN_PROCESS, Status.FINISHED]
        )
        for entry in entries:
            count += JobQueueEntry.objects.filter(pk=entry.pk, status=entry.status).update(
                status=Status.ON_HOLD, status_before_hold=entry.status
            )
    return count


def job_queue_entries_restore(*, connection: ConnectionSetup) -> int:
    """Set every On Hold (and On Hold with Inactivity Timeout) entry of ``connection`` Ready, due now (BC: enabling
    the connection runs Restart on its table 472 Job Queue Entry entries). Entries held by a running full
    synchronization stay held until it ends. Returns how many entries were set Ready."""
    now = timezone.now()
    return (
        JobQueueEntry.objects.filter(
            connection=connection, status__in=[Status.ON_HOLD, Status.ON_HOLD_WITH_INACTIVITY_TIMEOUT]
        )
        .exclude(table_mapping__full_sync_is_running=True)
        .update(status=Status.READY, status_before_hold="", earliest_start_date_time=now, last_ready_state=now)
    )


def job_queue_entry_set_ready(*, entry: JobQueueEntry) -> JobQueueEntry:
    """Set Ready (BC: Set Status to Ready): due now, attempts reset. Raises JobQueueEntryBusy while In Process."""
    now = timezone.now()
    updated = JobQueueEntry.objects.filter(pk=entry.pk).exclude(status=Status.IN_PROCESS).update(
        status=Status.READY, earliest_start_date_time=now, last_ready_state=now, no_of_attempts_to_run=0,
        status_before_hold="",
    )
    if not updated:
        raise JobQueueEntryBusy(f"'{entry.description.strip()}' is running; wait for the run to end.")
    entry.refresh_from_db()
    return entry


def job_queue_entry_set_on_hold(*, entry: JobQueueEntry) -> JobQueueEntry:
    """Set On Hold (BC: Set On Hold): the dispatcher skips it until Set Ready. Raises JobQueueEntryBusy while In
    Process."""
    updated = JobQueueEntry.objects.filter(pk=entry.pk).exclude(status=Status.IN_PROCESS).update(
        status=Status.ON_HOLD, status_before_hold=""
    )
    if not updated:
        raise JobQueueEntryBusy(f"'{entry.description.strip()}' is running; wait for the run to end.")
    entry.refresh_from_db()
    return entry


def job_queue_entry_run_now(*, entry: JobQueueEntry) -> str:
    """Run the entry now on a worker (BC: Run once): set it Ready and claim it at once, enqueueing its run on the
    ``sync`` queue when this transaction commits. Returns the RQ job id. Raises JobQueueEntryBusy when the entry
    or another entry of its integration table mapping is In Process (a mapping never runs twice at once); in the
    second case the entry stays Ready (committed), so the dispatcher runs it when the other run has ended, and the
    message names the run that holds the mapping."""
    with transaction.atomic():
        job_queue_entry_set_ready(entry=entry)
        job_id = claim_entry(entry, force=True)
    if job_id is None:
        busy = (JobQueueEntry.objects.filter(table_mapping_id=entry.table_mapping_id, status=Status.IN_PROCESS)
                .exclude(pk=entry.pk).order_by("claimed_at").first())
        holder = (f"'{busy.description.strip()}' is running on mapping {entry.table_mapping}"
                  + (f" (since {busy.claimed_at:%Y-%m-%d %H:%M:%S} UTC)" if busy.claimed_at else "")
                  if busy is not None else f"Another run of mapping {entry.table_mapping} was claimed at the same time")
        raise JobQueueEntryBusy(f"{holder}; '{entry.description.strip()}' is set Ready and runs after it.")
    entry.refresh_from_db()
    return job_id


def prioritized_mappings(*, connection: ConnectionSetup) -> list[Any]:
    """The connection's mappings in BC's GetPrioritizedMappingList order (codeunit 5334 CRM Setup Defaults):
    systemuser, currency, unit of measure, customer, contact, item, resource, then the rest; invoice lines (ride
    along with headers) and sales order lines are left out."""
    first = ("systemuser", "transactioncurrency", "uomschedule", "uom", "account", "contact", "product")
    bc_first = {"Customer": 3, "Vendor": 3, "Item": 5, "Resource": 6}

    def rank(mapping: Any) -> tuple[int, int, str]:
        table_rank = first.index(mapping.integration_table) if mapping.integration_table in first else len(first)
        if mapping.integration_table in ("account", "product"):
            table_rank = bc_first.get(mapping.table, table_rank)
        return table_rank, mapping.priority, mapping.name

    mappings = IntegrationTableMapping.objects.filter(connection=connection).exclude(
        name__in=["POSTEDSALESLINE-INV", "SOLINE-ORDERDETAIL"]
    )
    return sorted(mappings, key=rank)


def synchronize_modified_records(*, connection: ConnectionSetup) -> list[JobQueueEntry]:
    """Synchronize Modified Records (BC: SynchronizeNow(false), one-off entries as codeunit 7204 CDS Setup
    Defaults, CreateJobQueueEntry makes them): one one-off job queue entry per mapping in priority order, Ready
    from now + 1 s (staggered by priority), max 2 attempts, rerun delay 30 s, category BCI INTEG; earlier Ready
    one-off entries of the same mappings are replaced. The dispatcher starts them within a minute. Returns the
    created entries."""
    now = timezone.now()
    created: list[JobQueueEntry] = []
    with transaction.atomic():
        for position, mapping in enumerate(prioritized_mappings(connection=connection)):
            JobQueueEntry.objects.filter(
                table_mapping=mapping, recurring_job=False, kind=JobQueueEntry.Kind.MAPPING, status=Status.READY
            ).delete()
            created.append(
                JobQueueEntry.objects.create(
                    connection=connection,
                    table_mapping=mapping,
                    kind=JobQueueEntry.Kind.MAPPING,
                    description=(
                        f" {mapping.table} <-> {mapping.integration_table} - Dynamics 365 Sales synchronization job."
                    ),
                    category="BCI INTEG",
                    recurring_job=False,
                    maximum_no_of_attempts_to_run=2,
                    rerun_delay_sec=30,
                    status=Status.READY,
                    earliest_start_date_time=now + timedelta(seconds=1 + position),
                )
            )
    return created


def active_scheduled_jobs(*, connection: ConnectionSetup) -> tuple[int, int]:
    """("X of Y") recurring job queue entries of ``connection`` that are active (Ready, In Process or On Hold with
    Inactivity Timeout) and how many there are in all (BC: Connection Setup "Scheduled synchronization jobs")."""
    recurring = JobQueueEntry.objects.filter(connection=connection, recurring_job=True)
    return recurring.filter(status__in=ACTIVE_STATUSES).count(), recurring.count()
