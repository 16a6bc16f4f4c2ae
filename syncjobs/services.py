"""Services of the job queue (BC: table 472 Job Queue Entry): hold and restore with the connection, Set Ready /
Set On Hold / Run Now, Synchronize Modified Records, and the "X of Y scheduled synchronization jobs are active"
count."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from connections.models import ConnectionSetup
from mappings.default_configuration import DEFAULT_MAPPING_NAMES
from mappings.models import IntegrationFieldMapping, IntegrationTableMapping
from mappings.services import couplings_for_mapping
from syncjobs.defaults import desired_mappings
from syncjobs.jobqueue import claim_entry
from syncjobs.models import FullSyncReviewLine, JobQueueEntry

Status = JobQueueEntry.Status
ACTIVE_STATUSES = (Status.READY, Status.IN_PROCESS, Status.ON_HOLD_WITH_INACTIVITY_TIMEOUT)


class JobQueueEntryBusy(Exception):
    """The job queue entry (or another entry of its mapping) is In Process; the message says so."""


class ConnectionDisabled(Exception):
    """An action that starts synchronization (Run Now, Set Ready, Sync All, Start coupling) was asked for on a
    disabled connection setup (BC: table 5330 CRM Connection Setup, "Is Enabled"; a disabled connection runs no
    integration job). ``str()`` is the plain message; :meth:`as_html` adds the link to the connection page, where
    Enable is."""

    def __init__(self, connection: ConnectionSetup) -> None:
        self.connection = connection
        super().__init__(f"The connection is disabled: {connection.name} starts no synchronization until it is "
                         "enabled. Enable it on the connection setup page.")

    def as_html(self) -> SafeString:
        """The message with a link to the connection setup page (safe HTML for ``django.contrib.messages``)."""
        return format_html('The connection is disabled: {} starts no synchronization until it is enabled. '
                           '<a href="{}">Enable it on the connection setup page</a>.', self.connection.name,
                           reverse("connections:connection-detail", args=[self.connection.pk]))


def connection_require_enabled(*, connection: ConnectionSetup) -> None:
    """Refuse an administrator's action that would start synchronization on a disabled connection (read from the
    database, not from the possibly stale instance). Raises :class:`ConnectionDisabled`.

    The pages call this before Run Now, Set Ready, Sync All and Start coupling; the services themselves do not, so
    internal callers that legitimately run while the connection is disabled (Enable's own steps, the commands,
    the tests) keep working."""
    if not ConnectionSetup.objects.filter(pk=connection.pk, is_enabled=True).exists():
        raise ConnectionDisabled(connection)


@dataclass(frozen=True)
class ConfigurationImpact:
    """What "Use Default Synchronization Setup" changes, counted before it runs (shown on its confirmation page).

    ``mappings_reset``: existing default mappings set back to the defaults (their filters, directions and settings);
    ``mappings_created`` / ``mappings_deleted``: default mappings the connection's options add or exclude;
    ``field_mappings``: field mappings of the existing mappings, replaced by the default ones; ``job_queue_entries``:
    job queue entries recreated; ``couplings``: couplings of the affected table pairs, which are kept."""

    mappings_reset: int
    mappings_created: int
    mappings_deleted: int
    field_mappings: int
    job_queue_entries: int
    couplings: int


def default_configuration_impact(*, connection: ConnectionSetup, mapping_name: str | None = None
                                 ) -> ConfigurationImpact:
    """Count what "Use Default Synchronization Setup" of the whole connection (``mapping_name`` None) or of one
    default mapping would change (BC: CRM Setup Defaults.ResetConfiguration / ResetIntTableMappingDefaultConfiguration,
    which ask "This will reset ... Do you want to continue?" first). User-defined mappings are never touched."""
    names = set(DEFAULT_MAPPING_NAMES) if mapping_name is None else {mapping_name} & set(DEFAULT_MAPPING_NAMES)
    desired = desired_mappings(connection)
    existing = list(IntegrationTableMapping.objects.filter(connection=connection, name__in=names))
    existing_names = {m.name for m in existing}
    scope = Q(table_mapping__in=existing) | (Q(table_mapping=None) if mapping_name is None else Q(pk__in=[]))
    entries = JobQueueEntry.objects.filter(scope, connection=connection)
    return ConfigurationImpact(
        mappings_reset=len(existing_names & set(desired)),
        mappings_created=len((names & set(desired)) - existing_names),
        mappings_deleted=len(existing_names - set(desired)),
        field_mappings=IntegrationFieldMapping.objects.filter(table_mapping__in=existing).count(),
        job_queue_entries=entries.count(),
        couplings=sum(couplings_for_mapping(m).count() for m in existing),
    )


def connection_disable_impact(*, connection: ConnectionSetup) -> dict[str, int]:
    """Count what Disable changes (BC: UpdateCRMJobQueueEntriesStatus on disabling): ``{"on_hold": job queue
    entries put On Hold, "in_process": runs that finish first, "mappings": mappings that stop synchronizing}``
    (couplings and mappings are kept; Enable restores the entries)."""
    entries = JobQueueEntry.objects.filter(connection=connection)
    return {
        "on_hold": entries.exclude(status__in=[Status.ON_HOLD, Status.IN_PROCESS, Status.FINISHED]).count(),
        "in_process": entries.filter(status=Status.IN_PROCESS).count(),
        "mappings": IntegrationTableMapping.objects.filter(connection=connection).count(),
    }


def full_sync_review_reset_impact(*, connection: ConnectionSetup) -> dict[str, int]:
    """Count what Reset of the full synchronization review discards (BC: page 5331 action Reset): ``{"lines",
    "overridden" (recommendations changed by hand), "excluded" (lines removed from this run), "started" (lines
    with a job queue entry)}``. Mappings, job queue entries and couplings are not changed by Reset."""
    lines = FullSyncReviewLine.objects.filter(connection=connection)
    return {
        "lines": lines.count(),
        "overridden": lines.filter(recommendation_overridden=True).count(),
        "excluded": lines.filter(excluded=True).count(),
        "started": lines.exclude(job_queue_entry_status="").count(),
    }


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
