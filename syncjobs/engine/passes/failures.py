"""How a pass stores a record's failure: on its coupling (two strikes mark it skipped) and as an error row (BC:
table 5331 "CRM Integration Record", SetLastSynchResultFailed; table 5339 "Integration Synch. Job Errors")."""
from __future__ import annotations

import uuid

from mappings.models import Coupling, Direction, IntegrationTableMapping
from syncjobs.engine.context import Item
from syncjobs.engine.errors import RecordFailure
from syncjobs.models import SynchronizationError, SynchronizationJob

TO = Direction.TO_INTEGRATION_TABLE
FROM = Direction.FROM_INTEGRATION_TABLE


def decision_failure(item: Item) -> RecordFailure:
    """The failure of a record the decision failed (deletion or update conflict), with what to do about it."""
    if "deleted" in item.reason:
        fix = ("choose Restore Records or Delete Records on the Coupled Data Synchronization Errors page, or set "
               "the mapping's deletion-conflict resolution")
    else:
        fix = ("synchronize the record choosing the winning side on the Coupled Data Synchronization Errors page, or "
               "set the mapping's update-conflict resolution")
    return RecordFailure(
        message=f"{item.label}: {item.reason}",
        fix=fix,
        conflict=SynchronizationError.Conflict.DELETION if "deleted" in item.reason else "",
    )


def pending_coupling_for_failed_insert(item: Item, *, mapping: IntegrationTableMapping, direction: str,
                                       job: SynchronizationJob | None) -> Coupling:
    """A new pending coupling (saved) for a record whose create failed before it was sent, with a new id on the other
    side, so that the next run retries it first; the record's previous coupling, if any, is deleted."""
    if item.coupling is not None and item.coupling.pk:
        item.coupling.delete()
    bc_id, dv_id = (item.source_id, uuid.uuid4()) if direction == TO else (uuid.uuid4(), item.source_id)
    job_field = "last_synch_crm_job_id" if direction == TO else "last_synch_job_id"
    return Coupling.objects.create(
        connection=mapping.connection, bc_table=mapping.table, bc_id=bc_id,
        dataverse_table=mapping.integration_table, dataverse_id=dv_id, is_pending=True,
        **{job_field: job.pk if job else None},
    )


def failure_row(item: Item, failure: RecordFailure, *, mapping: IntegrationTableMapping, direction: str,
                job: SynchronizationJob | None) -> SynchronizationError:
    """Store ``failure`` on the record's coupling (result Failure and the job in the pass ``direction``; a permanent
    failure counts, and a permanent failure in the previous run of the same direction too marks the coupling skipped)
    and return the unsaved error row of ``job``."""
    coupling = item.coupling
    assert job is not None
    if coupling is not None and coupling.pk:
        result_field = "last_synch_crm_result" if direction == TO else "last_synch_result"
        job_field = "last_synch_crm_job_id" if direction == TO else "last_synch_job_id"
        failed_before = (getattr(coupling, result_field) == Coupling.Result.FAILURE
                         and getattr(coupling, job_field) not in (None, job.pk))
        setattr(coupling, result_field, Coupling.Result.FAILURE)
        setattr(coupling, job_field, job.pk)
        fields = [result_field, job_field]
        if not failure.transient:
            coupling.failure_count = coupling.failure_count + 1
            fields.append("failure_count")
            previous = (SynchronizationError.objects.filter(coupling=coupling, direction=direction)
                        .exclude(job=job).order_by("-created_at", "-id").first()) if failed_before else None
            if previous is not None and not previous.transient:
                # The same direction failed permanently in the previous run too: skip (two strikes).
                coupling.skipped = True
                fields.append("skipped")
        coupling.save(update_fields=fields)
    source_table, destination_table = (
        (mapping.table, mapping.integration_table) if direction == TO
        else (mapping.integration_table, mapping.table)
    )
    destination_id = ""
    if coupling is not None:
        destination_id = str(coupling.dataverse_id if direction == TO else coupling.bc_id)
    return SynchronizationError(
        job=job, coupling=coupling if coupling is not None and coupling.pk else None,
        direction=direction, source_table=source_table, source_id=str(item.source_id),
        source_name=item.label[:250], destination_table=destination_table,
        destination_id="" if coupling is not None and coupling.is_pending and direction == FROM
        else destination_id,
        field_name=failure.field_name[:100], message=failure.message, fix=failure.fix,
        transient=failure.transient, exception_detail=failure.detail, conflict=failure.conflict,
    )
