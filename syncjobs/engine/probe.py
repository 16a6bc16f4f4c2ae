"""Whether an incremental pass has anything to read, asked with one request to its source before the pass runs.

An incremental pass with nothing to do still counted its source (``$count``), re-read its overlap window and read it
(one page), on both sides of a bidirectional mapping: up to six requests a run for nothing, every minute per mapping.
:func:`pending_records` reads the keys and modified-ons of what the pass would read, in one request: the records
modified after the watermark, or from the start of the overlap window when the previous read did not settle it (the
same rule as :meth:`syncjobs.engine.passes.base.Pass._run`), within the mapping's table filter and, from Dataverse,
not modified by the integration user. When none of them needs synchronizing and no failed coupling or interrupted
pass waits, :func:`idle_job` records the pass as done without reading (counters zero, the watermark left as it is),
so an idle run costs one request per side. Improvement on BC, whose job queue runs every pass of an entry in full
(table 472 "Job Queue Entry"; BC only probes entries On Hold with Inactivity Timeout, DoesJobNeedToBeRun, as the
portal's scheduler does too: :class:`syncjobs.engine.api.ChangeProbe`).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from itertools import islice
from typing import Any
from uuid import UUID

from django.utils import timezone

from connections.clients.errors import ClientError
from mappings.models import Coupling, Direction, IntegrationTableMapping
from syncjobs.engine.decision import comparable, last_result
from syncjobs.engine.errors import SynchronizationNotPossible
from syncjobs.engine.odata import and_filter, odata_datetime, parse_modified
from syncjobs.engine.passes.base import OVERLAP_SECONDS
from syncjobs.engine.schema import bc_info, dv_info
from syncjobs.models import JobQueueEntry, SynchronizationJob


def _read_from(mapping: IntegrationTableMapping, direction: str) -> tuple[Any, str]:
    """(the earliest modified-on the pass would read, "gt" or "ge"): after the watermark when the last completed
    pass read at least OVERLAP_SECONDS after it, else from the overlap window's start; (None, "") = everything."""
    since = mapping.synch_int_tbl_mod_on_fltr if direction == Direction.TO_INTEGRATION_TABLE \
        else mapping.synch_modified_on_filter
    if since is None:
        return None, ""
    previous = (SynchronizationJob.objects.filter(table_mapping=mapping, direction=direction,
                                                  finished_at__isnull=False, could_not_run=False)
                .order_by("-started_at").values_list("started_at", flat=True).first())
    if previous is not None and previous - since >= timedelta(seconds=OVERLAP_SECONDS):
        return since, "gt"
    return since - timedelta(seconds=OVERLAP_SECONDS), "ge"


def _waiting_in_database(mapping: IntegrationTableMapping, direction: str) -> bool:
    """A failed coupling to retry in this direction, or an interrupted pass to resume."""
    # The result of the pass's direction: To writes Dataverse (Last Synch. CRM Result), From writes BC.
    result = "last_synch_crm_result" if direction == Direction.TO_INTEGRATION_TABLE else "last_synch_result"
    if Coupling.objects.filter(connection=mapping.connection, bc_table=mapping.table,
                               dataverse_table=mapping.integration_table, skipped=False,
                               **{result: Coupling.Result.FAILURE}).exists():
        return True
    return SynchronizationJob.objects.filter(table_mapping=mapping, direction=direction,
                                             finished_at__isnull=True).exists()


#: Rows the probe reads at most: more than this in the window and after it means work without looking further.
PROBE_ROWS = 200


def pending_records(*, mapping: IntegrationTableMapping, direction: str, bc_client: Any, dv_client: Any,
                    integration_user_id: UUID | None) -> int | None:
    """How many records the incremental pass of ``mapping`` in ``direction`` ("ToIntegrationTable" reads BC,
    "FromIntegrationTable" reads Dataverse) will read, asked with ONE read of its source (keys and modified-ons, at
    most :data:`PROBE_ROWS`): 0 = nothing to synchronize (skip the pass), n = exactly the n records modified after
    the watermark (the pass need not count them), None = work of a size the pass must count itself.

    A record in the overlap window is work unless its coupling was synchronized at that modified-on (the pass's own
    rule, :meth:`syncjobs.engine.passes.base.Pass.overlap_keys`). Also work (None): a failed coupling to retry, an
    interrupted pass, a table without a modified-on, an unknown table, a failed read (the pass then runs and reports
    it), :data:`PROBE_ROWS` records or more."""
    if _waiting_in_database(mapping, direction):
        return None
    read_from, operator = _read_from(mapping, direction)
    to_integration = direction == Direction.TO_INTEGRATION_TABLE
    try:
        if to_integration:
            bc = bc_info(mapping.table)
            if not bc.modified:
                return None
            key, modified = bc.key, bc.modified
            since = f"{modified} {operator} {odata_datetime(read_from)}" if read_from else ""
            rows = bc_client.iter_rows(bc.entity_set, filter=and_filter(mapping.table_filter, since) or None,
                                       select=[key, modified], page_size=PROBE_ROWS, api=bc.api)
        else:
            dv = dv_info(mapping.integration_table)
            key, modified = dv.primary_id, dv.modified_on
            since = f"{modified} {operator} {odata_datetime(read_from)}" if read_from else ""
            echo = f"_modifiedby_value ne {integration_user_id}" if integration_user_id else ""
            rows = dv_client.iter_rows(dv.entity_set, select=[key, modified], page_size=PROBE_ROWS,
                                       filter=and_filter(mapping.integration_table_filter, since, echo) or None)
        found = list(islice(rows, PROBE_ROWS))
    except (ClientError, SynchronizationNotPossible):
        return None
    if len(found) >= PROBE_ROWS:
        return None
    if operator != "ge":
        return len(found)  # exactly what the pass reads: after the watermark (or the whole table, never read yet)
    watermark = read_from + timedelta(seconds=OVERLAP_SECONDS)
    window: dict[UUID, datetime | None] = {}
    for row in found:
        stamp = parse_modified(row.get(modified))
        if stamp is None or stamp > watermark:
            return None
        window[UUID(str(row[key]))] = stamp
    return None if _window_has_work(mapping, direction, window) else 0


def _window_has_work(mapping: IntegrationTableMapping, direction: str, window: dict[UUID, datetime | None]) -> bool:
    """Whether a record of the overlap window (source id -> modified-on) was not synchronized at that modified-on."""
    to_integration = direction == Direction.TO_INTEGRATION_TABLE
    side = "bc_id" if to_integration else "dataverse_id"
    couplings = {getattr(c, side): c for c in Coupling.objects.filter(
        connection=mapping.connection, bc_table=mapping.table, dataverse_table=mapping.integration_table,
        **{f"{side}__in": list(window)})}
    only_coupled = mapping.synch_only_coupled_records
    for source_id, stamp in window.items():
        coupling = couplings.get(source_id)
        if coupling is None:
            if not only_coupled:
                return True
            continue
        stored = coupling.last_synch_modified_on if to_integration else coupling.last_synch_crm_modified_on
        if (coupling.is_pending or stored is None or stamp is None or stamp > comparable(stored, direction)
                or last_result(coupling, direction) == Coupling.Result.FAILURE):
            return True
    return False


def idle_job(*, mapping: IntegrationTableMapping, direction: str,
             job_queue_entry: JobQueueEntry | None) -> SynchronizationJob:
    """Record an incremental pass that found nothing to read (see :func:`pending_records`): a finished job with zero
    counters and a message saying so; the watermark is left as it is."""
    now = timezone.now()
    job = SynchronizationJob.objects.create(table_mapping=mapping, direction=direction, full_synchronization=False,
                                            job_queue_entry=job_queue_entry, total=0)
    job.finished_at = now
    job.message = "Nothing changed since the last run: the change probe found no record to read."
    job.save(update_fields=["finished_at", "message"])
    return job
