"""Services behind the Coupled Data Synchronization Errors page and the synchronization job log (reference 6.4,
6.6; BC page 5333 "CRM Skipped Records", `Integration Synch. Job`.DeleteEntries).

Database-only actions (Retry, Retry All, Remove Coupling, delete old log entries) run at once; actions that call a
service (Synchronize, Restore Records, Delete Records) enqueue an RQ task when the transaction commits.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import django_rq
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from mappings.models import Coupling, Direction, IntegrationTableMapping
from syncjobs.models import SynchronizationError, SynchronizationJob

SYNC_QUEUE = "sync"


def skipped_records(*, connection: Any | None = None) -> QuerySet[Coupling]:
    """Skipped couplings (and couplings whose last run failed), newest failure first."""
    couplings = Coupling.objects.filter(Q(skipped=True) | Q(last_synch_result=Coupling.Result.FAILURE)
                                        | Q(last_synch_crm_result=Coupling.Result.FAILURE))
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
    """Retry: un-skip the couplings so the next run picks them up again first (reference 6.4); returns how many.
    Unskipping a customer coupling also resets "Statistics Uploaded" (reference 6.4)."""
    with transaction.atomic():
        count = couplings.update(skipped=False, failure_count=0)
        couplings.filter(bc_table="Customer").update(statistics_uploaded=False)
    return count


def skipped_records_retry_all(*, connection: Any | None = None) -> int:
    """Retry All: un-skip every skipped coupling (of one connection when given); returns how many."""
    couplings = Coupling.objects.filter(skipped=True)
    if connection is not None:
        couplings = couplings.filter(connection=connection)
    return skipped_records_retry(couplings=couplings)


def coupling_synchronize_enqueue(*, coupling: Coupling, direction: str) -> None:
    """"Synchronize now" for one coupled record (reference 11): un-skip it and run it on a worker in ``direction``
    (ToIntegrationTable = send the BC record to Dataverse, FromIntegrationTable = get the Dataverse row).
    Raises ValueError naming the allowed directions when ``direction`` is not allowed by the mapping."""
    mapping = mapping_for(coupling)
    if mapping is None:
        raise ValueError(f"No integration table mapping couples {coupling.bc_table} with {coupling.dataverse_table}.")
    allowed = allowed_directions(mapping)
    if direction not in allowed:
        names = " or ".join(Direction(d).label for d in allowed)
        raise ValueError(f"Mapping {mapping.name} can only synchronize {names}.")
    from syncjobs.tasks_engine import synchronize_coupling

    with transaction.atomic():
        Coupling.objects.filter(pk=coupling.pk).update(skipped=False, failure_count=0)
        django_rq.get_queue(SYNC_QUEUE).enqueue(synchronize_coupling, coupling.pk, direction)


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
    """Restore Records: re-create the deleted side from the surviving one on a worker (reference 6.4). The coupling
    becomes pending, so the re-created Dataverse row keeps its id. Returns the side re-created ("dataverse"/"bc").
    Raises ValueError when the coupling has no deletion conflict."""
    side = deleted_side(coupling)
    if not side:
        raise ValueError(f"{coupling} has no deletion conflict: use Retry or Synchronize instead.")
    from syncjobs.tasks_engine import synchronize_coupling

    direction = Direction.TO_INTEGRATION_TABLE if side == "dataverse" else Direction.FROM_INTEGRATION_TABLE
    with transaction.atomic():
        Coupling.objects.filter(pk=coupling.pk).update(skipped=False, failure_count=0, is_pending=True)
        django_rq.get_queue(SYNC_QUEUE).enqueue(synchronize_coupling, coupling.pk, direction)
    return side


def skipped_record_delete_enqueue(*, coupling: Coupling) -> str:
    """Delete Records: delete the surviving record of a deletion conflict and the coupling, on a worker
    (reference 6.4). Returns the side deleted. Raises ValueError when the coupling has no deletion conflict."""
    side = deleted_side(coupling)
    if not side:
        raise ValueError(f"{coupling} has no deletion conflict: use Remove Coupling instead.")
    from syncjobs.tasks_engine import delete_surviving_record

    surviving = "bc" if side == "dataverse" else "dataverse"
    with transaction.atomic():
        django_rq.get_queue(SYNC_QUEUE).enqueue(delete_surviving_record, coupling.pk, surviving)
    return surviving


def coupling_remove(*, coupling: Coupling) -> None:
    """Remove Coupling: delete the coupling (both records stay as they are)."""
    from mappings.services import coupling_delete

    coupling_delete(coupling=coupling)


def synchronization_jobs_delete_older_than(*, days: int, mapping: IntegrationTableMapping | None = None) -> int:
    """Delete synchronization job log entries started more than ``days`` days ago (BC: DeleteEntries, 6.4): jobs
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
