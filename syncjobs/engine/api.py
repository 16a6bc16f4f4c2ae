"""The engine's public functions: synchronize a mapping or one record, the clients of a connection, the scheduler's
change probe. Re-exported by :mod:`syncjobs.engine`, which is where callers import them from.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from connections.clients import business_central_client_for, dataverse_client_for
from connections.clients.errors import ClientError
from connections.models import ConnectionSetup
from mappings.models import Coupling, Direction, IntegrationTableMapping
from syncjobs.engine.errors import SynchronizationNotPossible
from syncjobs.engine.odata import odata_datetime
from syncjobs.engine.options import synchronize_option_mapping
from syncjobs.engine.passes import FromIntegrationPass, Pass, ToIntegrationPass
from syncjobs.engine.probe import idle_job, pending_records
from syncjobs.engine.rules.registry import line_tables
from syncjobs.engine.schema import bc_info, dv_info
from syncjobs.models import JobQueueEntry, SynchronizationJob


def clients_for(connection: ConnectionSetup) -> tuple[Any, Any]:
    """The (BusinessCentralClient, DataverseClient) of a connection setup.

    Raises SynchronizationNotPossible when the connection is disabled, its settings are incomplete or a client
    cannot be built (the message says which and what to do).
    """
    if not connection.is_enabled:
        raise SynchronizationNotPossible(
            f"The connection {connection.name} is not enabled: enable it on the connection setup page first."
        )
    missing = [label for label, value in (("Dynamics 365 Sales URL", connection.dataverse_url),
                                          ("Business Central API URL", connection.bc_api_url)) if not value]
    if missing:
        raise SynchronizationNotPossible(
            f"The connection {connection.name} has no {' and no '.join(missing)}: complete the connection setup."
        )
    try:
        return business_central_client_for(connection), dataverse_client_for(connection)
    except ClientError as exc:
        raise SynchronizationNotPossible(str(exc)) from exc


def integration_user_id(connection: ConnectionSetup, dv_client: Any) -> UUID | None:
    """The Dataverse systemuserid the engine writes as: the connection's integration user, else the caller's id
    (Microsoft Learn: "WhoAmI Function"). Raises SynchronizationNotPossible when Dataverse cannot be asked."""
    if connection.integration_user_id:
        return connection.integration_user_id
    try:
        return UUID(str(dv_client.who_am_i()["UserId"]))
    except ClientError as exc:
        raise SynchronizationNotPossible(str(exc)) from exc


def synchronize_mapping(
    *,
    mapping: IntegrationTableMapping,
    full: bool = False,
    job_queue_entry: JobQueueEntry | None = None,
    batch_size: int | None = None,
    clients: tuple[Any, Any] | None = None,
    progress: Callable[[SynchronizationJob], None] | None = None,
) -> list[SynchronizationJob]:
    """Run the BC -> Dataverse pass, then the Dataverse -> BC pass, as the mapping's direction allows (BC: codeunit
    5340 "CRM Integration Table Synch.", OnRun).

    An incremental pass (not ``full``) first reads the keys of what it would read, in one request
    (:func:`syncjobs.engine.probe.pending_records`): when nothing needs synchronizing it is recorded as done without
    reading, and when the probe saw exactly what the pass reads, the pass does not count it again.
    Each pass is a SynchronizationJob (written before its first remote call, counters committed per batch of
    ``batch_size`` records (default 500), finished after its last). ``full`` is a full synchronization (all records,
    uncoupled ones created, coupled ones compared field by field). ``clients`` lets a caller reuse its
    (BusinessCentralClient, DataverseClient); ``progress`` is called with the job after every committed batch.
    Returns the jobs of the passes that ran.

    Raises SynchronizationNotPossible when a pass could not run at all (connection disabled or unreachable, mapping
    without field mappings) or while another run of the mapping holds a live lease (another job queue entry than
    ``job_queue_entry``: one mapping is never synchronized by two runs at once); per-record failures never raise —
    they are counted and stored as SynchronizationError.
    """
    holder = JobQueueEntry.live_lease_of_mapping(mapping.pk, exclude=job_queue_entry)
    if holder is not None:
        raise SynchronizationNotPossible(
            f"Mapping {mapping.name} is being synchronized by '{holder.description}' (its run holds the lease until "
            f"{holder.lease_expires_at:%Y-%m-%d %H:%M:%S} UTC and renews it while it works); try again when it ends."
        )
    bc_client, dv_client = clients or clients_for(mapping.connection)
    if mapping.is_option_mapping:
        # Option-set mappings synchronize BC codes to a column's choices, not rows (BC: "CDS Int. Option Synch").
        return [synchronize_option_mapping(mapping=mapping, bc_client=bc_client, dv_client=dv_client,
                                           job_queue_entry=job_queue_entry, full=full)]
    user_id = integration_user_id(mapping.connection, dv_client)
    jobs: list[SynchronizationJob] = []
    interrupted = pending_business_central_creates(mapping)
    if interrupted and mapping.direction == Direction.BIDIRECTIONAL:
        # BC creates whose answer was lost are settled first (adopted by content or number, or created), so the
        # BC -> Dataverse pass does not mistake the records they made for new ones.
        jobs.append(FromIntegrationPass(mapping=mapping, bc_client=bc_client, dv_client=dv_client,
                                        batch_size=batch_size, job_queue_entry=job_queue_entry,
                                        only_source_ids=interrupted, force=False,
                                        integration_user_id=user_id).run())
    for pass_class in (ToIntegrationPass, FromIntegrationPass):
        if mapping.direction not in (Direction.BIDIRECTIONAL, pass_class.direction):
            continue
        pending = None if full else pending_records(mapping=mapping, direction=pass_class.direction,
                                                     bc_client=bc_client, dv_client=dv_client,
                                                     integration_user_id=user_id)
        if pending == 0:  # one probe of the source found nothing to read (syncjobs/engine/probe.py)
            jobs.append(idle_job(mapping=mapping, direction=pass_class.direction, job_queue_entry=job_queue_entry))
            continue
        sync_pass: Pass = pass_class(mapping=mapping, bc_client=bc_client, dv_client=dv_client, full=full,
                                     batch_size=batch_size, job_queue_entry=job_queue_entry,
                                     integration_user_id=user_id, progress=progress)
        sync_pass.known_total = pending
        jobs.append(sync_pass.run())
    for lines in document_line_mappings(mapping):
        # Lines ride along with their header (POSTEDSALESLINE-INV has no job queue entry of its own).
        jobs.extend(synchronize_mapping(mapping=lines, full=full, job_queue_entry=job_queue_entry,
                                        batch_size=batch_size, clients=(bc_client, dv_client), progress=progress))
    if full:
        IntegrationTableMapping.objects.filter(pk=mapping.pk).update(full_sync_is_running=False)
    return jobs


def pending_business_central_creates(mapping: IntegrationTableMapping) -> list[UUID]:
    """Dataverse ids of the mapping's pending couplings written by a Dataverse -> BC pass that never recorded an
    outcome (a BC create whose answer may have been lost; failed creates are retried by the pass itself)."""
    return list(Coupling.objects.filter(
        connection=mapping.connection, bc_table=mapping.table, dataverse_table=mapping.integration_table,
        is_pending=True, last_synch_job_id__isnull=False, last_synch_crm_job_id__isnull=True,
        last_synch_result=Coupling.Result.NONE,
    ).values_list("dataverse_id", flat=True))


def document_line_mappings(mapping: IntegrationTableMapping) -> list[IntegrationTableMapping]:
    """The line mappings that ride along with a header mapping: mappings of the line tables the table rules name
    (:func:`syncjobs.engine.rules.registry.line_tables`) whose dependency filter names it (BC: table 5335
    "Integration Table Mapping", field "Dependency Filter")."""
    tables = line_tables()
    if mapping.table in tables:
        return []
    candidates = IntegrationTableMapping.objects.filter(connection=mapping.connection, table__in=tables)
    return [m for m in candidates if mapping.name in (part.strip() for part in m.dependency_filter.split("|"))]


def synchronize_record(
    *, mapping: IntegrationTableMapping, coupling: Coupling, direction: str, clients: tuple[Any, Any] | None = None,
) -> SynchronizationJob:
    """Synchronize one coupled record now in ``direction`` (BC: codeunit 5330 "CRM Integration Management",
    "Synchronize" on a coupled record).

    ToIntegrationTable sends the BC record to Dataverse, FromIntegrationTable gets the Dataverse row into BC; the
    record is written even when unchanged (ForceModify) and a skipped coupling is un-skipped first.
    Raises SynchronizationNotPossible when the pass cannot run, ValueError for an unknown direction.
    """
    if direction not in (Direction.TO_INTEGRATION_TABLE, Direction.FROM_INTEGRATION_TABLE):
        raise ValueError(f"Choose a direction: {Direction.TO_INTEGRATION_TABLE} or {Direction.FROM_INTEGRATION_TABLE}.")
    if mapping.direction not in (Direction.BIDIRECTIONAL, direction):
        raise SynchronizationNotPossible(
            f"Mapping {mapping.name} is {mapping.get_direction_display()}: it cannot synchronize in direction "
            f"{direction}."
        )
    if coupling.skipped or coupling.failure_count:
        coupling.skipped = False
        coupling.failure_count = 0
        coupling.save(update_fields=["skipped", "failure_count"])
    bc_client, dv_client = clients or clients_for(mapping.connection)
    user_id = integration_user_id(mapping.connection, dv_client)
    pass_class = ToIntegrationPass if direction == Direction.TO_INTEGRATION_TABLE else FromIntegrationPass
    source_id = coupling.bc_id if direction == Direction.TO_INTEGRATION_TABLE else coupling.dataverse_id
    sync_pass = pass_class(mapping=mapping, bc_client=bc_client, dv_client=dv_client, batch_size=1,
                           only_source_ids=[source_id], force=True, integration_user_id=user_id)
    return sync_pass.run()


class ChangeProbe:
    """A cheap probe of whether a mapping has anything to synchronize: one request per side asking for a single
    record modified after the watermark (minus the overlap window) — BC ``lastModifiedDateTime``, Dataverse
    ``modifiedon`` not by the integration user. Used by the scheduler to wake entries on hold (BC: table 472 "Job
    Queue Entry", status On Hold with Inactivity Timeout, DoesJobNeedToBeRun).

    ``clients`` is an optional (BusinessCentralClient, DataverseClient) to reuse; by default each call builds the
    mapping's connection's clients."""

    def __init__(self, clients: tuple[Any, Any] | None = None) -> None:
        self._clients = clients

    def has_changes(self, *, mapping: IntegrationTableMapping) -> bool:
        """True when the BC table or the Dataverse table has a record modified since the mapping's watermarks, or
        a failed coupling waits to be retried. Raises SynchronizationNotPossible when a side cannot be asked."""
        if Coupling.objects.filter(
            connection=mapping.connection, bc_table=mapping.table, dataverse_table=mapping.integration_table,
            skipped=False,
        ).filter(last_synch_result=Coupling.Result.FAILURE).exists() or Coupling.objects.filter(
            connection=mapping.connection, bc_table=mapping.table, dataverse_table=mapping.integration_table,
            skipped=False, last_synch_crm_result=Coupling.Result.FAILURE,
        ).exists():
            return True
        bc_client, dv_client = self._clients or clients_for(mapping.connection)
        try:
            if mapping.direction in (Direction.BIDIRECTIONAL, Direction.TO_INTEGRATION_TABLE):
                bc = bc_info(mapping.table)
                since = mapping.synch_int_tbl_mod_on_fltr
                # Strictly after the watermark: the probe only wakes entries; the pass itself re-reads the overlap.
                parts = [mapping.table_filter, f"{bc.modified} gt {odata_datetime(since)}" if since else ""]
                filter_ = " and ".join(f"({p})" for p in parts if p) or None
                for _row in bc_client.iter_rows(bc.entity_set, filter=filter_, select=[bc.key], page_size=1,
                                                api=bc.api):
                    return True
            if mapping.direction in (Direction.BIDIRECTIONAL, Direction.FROM_INTEGRATION_TABLE):
                dv = dv_info(mapping.integration_table)
                since = mapping.synch_modified_on_filter
                user = integration_user_id(mapping.connection, dv_client)
                parts = [mapping.integration_table_filter,
                         f"{dv.modified_on} gt {odata_datetime(since)}" if since else "",
                         f"_modifiedby_value ne {user}" if user else ""]
                filter_ = " and ".join(f"({p})" for p in parts if p) or None
                for _row in dv_client.iter_rows(dv.entity_set, select=[dv.primary_id], filter=filter_, page_size=1):
                    return True
        except ClientError as exc:
            raise SynchronizationNotPossible(str(exc)) from exc
        return False
