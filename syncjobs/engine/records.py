"""Services behind the Coupled Data Synchronization Errors page and the synchronization job log (BC: page 5333 "CRM
Skipped Records", caption Coupled Data Synchronization Errors; table 5338 "Integration Synch. Job", DeleteEntries).

Database-only actions (Retry, Retry All, Remove Coupling, delete old log entries) run at once; actions that call a
service (Synchronize, Restore Records, Delete Records) enqueue an RQ task on the ``sync`` queue when the transaction
commits (django-rq's commit mode defers the enqueue). The tasks are named by their dotted path
(:data:`SYNCHRONIZE_COUPLING_TASK`, :data:`DELETE_SURVIVING_RECORD_TASK`): the engine does not import the task
module, which calls the engine.
"""
from __future__ import annotations

from datetime import timedelta

import django_rq
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from connections.clients.errors import NotFoundError
from connections.models import ConnectionSetup
from mappings.models import SKIPPED_OR_FAILED, Coupling, Direction, IntegrationTableMapping
from mappings.services import coupling_delete
from syncjobs.engine.api import clients_for, synchronize_record
from syncjobs.engine.errors import SynchronizationNotPossible
from syncjobs.engine.rules.contacts import CUSTOMER_TABLE
from syncjobs.engine.schema import bc_info, dv_info
from syncjobs.models import SynchronizationError, SynchronizationJob

SYNC_QUEUE = "sync"
#: RQ task that synchronizes one coupling now: ``(coupling id, direction)``.
SYNCHRONIZE_COUPLING_TASK = "syncjobs.tasks_engine.synchronize_coupling"
#: RQ task that deletes the surviving record of a deletion conflict: ``(coupling id, "bc" | "dataverse")``.
DELETE_SURVIVING_RECORD_TASK = "syncjobs.tasks_engine.delete_surviving_record"


def skipped_records(*, connection: ConnectionSetup | None = None) -> QuerySet[Coupling]:
    """Skipped couplings (and couplings whose last run failed), newest failure first. The filter is the condition
    of the partial indexes that serve this list (:data:`mappings.models.SKIPPED_OR_FAILED`)."""
    couplings = Coupling.objects.filter(SKIPPED_OR_FAILED)
    if connection is not None:
        couplings = couplings.filter(connection=connection)
    return couplings.select_related("connection").order_by("-skipped", "bc_table", "id")


def mapping_for(coupling: Coupling) -> IntegrationTableMapping | None:
    """The integration table mapping of a coupling's table pair (the non-temporary one with the lowest priority)."""
    return (IntegrationTableMapping.objects.filter(connection=coupling.connection, table=coupling.bc_table,
                                                   integration_table=coupling.dataverse_table)
            .order_by("priority", "name").first())


def latest_error(coupling: Coupling) -> SynchronizationError | None:
    """The newest synchronization error of a coupling."""
    return coupling.synchronization_errors.order_by("-created_at", "-id").first()


def skipped_records_retry(*, couplings: QuerySet[Coupling]) -> int:
    """Retry: un-skip the couplings so the next run picks them up again first; returns how many. Unskipping a
    customer coupling also resets "Statistics Uploaded" (BC: page 5333 "CRM Skipped Records", Retry; table 5331 "CRM
    Integration Record", field Statistics Uploaded)."""
    with transaction.atomic():
        count = couplings.update(skipped=False, failure_count=0)
        couplings.filter(bc_table=CUSTOMER_TABLE).update(statistics_uploaded=False)
    return count


def skipped_records_retry_all(*, connection: ConnectionSetup | None = None) -> int:
    """Retry All: un-skip every skipped coupling (of one connection when given); returns how many."""
    couplings = Coupling.objects.filter(skipped=True)
    if connection is not None:
        couplings = couplings.filter(connection=connection)
    return skipped_records_retry(couplings=couplings)


def coupling_synchronize_enqueue(*, coupling: Coupling, direction: str) -> None:
    """"Synchronize now" for one coupled record: un-skip it and run it on a worker in ``direction``
    (ToIntegrationTable = send the BC record to Dataverse, FromIntegrationTable = get the Dataverse row).
    Raises ValueError naming the allowed directions when ``direction`` is not allowed by the mapping."""
    mapping = mapping_for(coupling)
    if mapping is None:
        raise ValueError(f"No integration table mapping couples {coupling.bc_table} with {coupling.dataverse_table}.")
    allowed = allowed_directions(mapping)
    if direction not in allowed:
        names = " or ".join(Direction(d).label for d in allowed)
        raise ValueError(f"Mapping {mapping.name} can only synchronize {names}.")
    with transaction.atomic():
        Coupling.objects.filter(pk=coupling.pk).update(skipped=False, failure_count=0)
        django_rq.get_queue(SYNC_QUEUE).enqueue(SYNCHRONIZE_COUPLING_TASK, coupling.pk, direction)


def allowed_directions(mapping: IntegrationTableMapping) -> list[str]:
    """The directions a record of ``mapping`` can be synchronized in."""
    if mapping.direction == Direction.BIDIRECTIONAL:
        return [Direction.TO_INTEGRATION_TABLE, Direction.FROM_INTEGRATION_TABLE]
    return [mapping.direction]


def deleted_side(coupling: Coupling) -> str:
    """For a deletion conflict: "dataverse" when the Dataverse row was deleted (found by a BC -> Dataverse pass),
    "bc" when the BC record was; "" when the coupling has no deletion conflict."""
    error = latest_error(coupling)
    if error is None or error.conflict != SynchronizationError.Conflict.DELETION:
        return ""
    return "dataverse" if error.direction == Direction.TO_INTEGRATION_TABLE else "bc"


def skipped_record_restore_enqueue(*, coupling: Coupling) -> str:
    """Restore Records: re-create the deleted side from the surviving one on a worker. The coupling
    becomes pending, so the re-created Dataverse row keeps its id. Returns the side re-created ("dataverse"/"bc").
    Raises ValueError when the coupling has no deletion conflict."""
    side = deleted_side(coupling)
    if not side:
        raise ValueError(f"{coupling} has no deletion conflict: use Retry or Synchronize instead.")
    direction = Direction.TO_INTEGRATION_TABLE if side == "dataverse" else Direction.FROM_INTEGRATION_TABLE
    with transaction.atomic():
        Coupling.objects.filter(pk=coupling.pk).update(skipped=False, failure_count=0, is_pending=True)
        django_rq.get_queue(SYNC_QUEUE).enqueue(SYNCHRONIZE_COUPLING_TASK, coupling.pk, direction)
    return side


def skipped_record_delete_enqueue(*, coupling: Coupling) -> str:
    """Delete Records: delete the surviving record of a deletion conflict and the coupling, on a worker. Returns the
    side deleted. Raises ValueError when the coupling has no deletion conflict."""
    side = deleted_side(coupling)
    if not side:
        raise ValueError(f"{coupling} has no deletion conflict: use Remove Coupling instead.")
    surviving = "bc" if side == "dataverse" else "dataverse"
    with transaction.atomic():
        django_rq.get_queue(SYNC_QUEUE).enqueue(DELETE_SURVIVING_RECORD_TASK, coupling.pk, surviving)
    return surviving


def coupling_remove(*, coupling: Coupling) -> None:
    """Remove Coupling: delete the coupling (both records stay as they are)."""
    coupling_delete(coupling=coupling)


def coupling_synchronize_now(*, coupling_id: int, direction: str) -> str:
    """Synchronize one coupled record now in ``direction`` (the worker's side of
    :func:`coupling_synchronize_enqueue` and :func:`skipped_record_restore_enqueue`); returns the synchronization
    job's id, or a sentence when the coupling was deleted meanwhile.

    Raises SynchronizationNotPossible (recorded on the job when it started) when the pass cannot run or no mapping
    couples the coupling's tables, ValueError for an unknown direction."""
    coupling = Coupling.objects.select_related("connection").filter(pk=coupling_id).first()
    if coupling is None:
        return f"coupling {coupling_id} no longer exists"
    mapping = mapping_for(coupling)
    if mapping is None:
        raise SynchronizationNotPossible(
            f"No integration table mapping couples {coupling.bc_table} with {coupling.dataverse_table}."
        )
    job = synchronize_record(mapping=mapping, coupling=coupling, direction=direction)
    return str(job.pk)


def surviving_record_delete(*, coupling_id: int, side: str) -> str:
    """Delete the coupled record on ``side`` ("bc" or "dataverse") and the coupling (the worker's side of
    :func:`skipped_record_delete_enqueue`); returns what was done. A record already gone counts as deleted; a
    coupling deleted meanwhile is reported in the return value.

    Raises SynchronizationNotPossible when the connection cannot be used and the clients' ClientError when the service
    refuses (the coupling then stays)."""
    coupling = Coupling.objects.select_related("connection").filter(pk=coupling_id).first()
    if coupling is None:
        return f"coupling {coupling_id} no longer exists"
    bc_client, dv_client = clients_for(coupling.connection)
    try:
        if side == "bc":
            bc = bc_info(coupling.bc_table)
            record = bc_client.get(bc.entity_set, coupling.bc_id, api=bc.api)
            bc_client.delete(bc.entity_set, coupling.bc_id, etag=record.get("@odata.etag", "*"), api=bc.api)
        else:
            dv = dv_info(coupling.dataverse_table)
            dv_client.delete(dv.entity_set, coupling.dataverse_id)
    except NotFoundError:
        pass  # already gone: deleting it is done
    coupling_remove(coupling=coupling)
    return f"deleted the {side} record of {coupling}"


def synchronization_jobs_delete_older_than(*, days: int, mapping: IntegrationTableMapping | None = None) -> int:
    """Delete synchronization job log entries started more than ``days`` days ago (BC: table 5338 "Integration Synch.
    Job", DeleteEntries): jobs
    without failures always, failed ones only when no skipped coupling still refers to them. Their errors go with
    them. Returns the number of jobs deleted. Raises ValueError for a negative ``days``."""
    if days < 0:
        raise ValueError("The number of days must be 0 or more.")
    cutoff = timezone.now() - timedelta(days=days)
    jobs = SynchronizationJob.objects.filter(started_at__lt=cutoff, finished_at__isnull=False)
    if mapping is not None:
        jobs = jobs.filter(table_mapping=mapping)
    referenced = Coupling.objects.filter(skipped=True).filter(
        Q(last_synch_job_id=OuterRef("pk")) | Q(last_synch_crm_job_id=OuterRef("pk"))
    )
    deletable = jobs.filter(Q(failed=0) | ~Exists(referenced))
    with transaction.atomic():
        count = deletable.count()
        SynchronizationError.objects.filter(job__in=deletable).delete()
        deletable.delete()
    return count
