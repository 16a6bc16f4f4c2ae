"""RQ tasks of the synchronization engine. Tasks take ids (a queued job outlives the objects it was given) and call
one engine service; :mod:`syncjobs.engine.records` enqueues them by their dotted path."""
from __future__ import annotations

from syncjobs.engine import records


def synchronize_coupling(coupling_id: int, direction: str) -> str:
    """Synchronize one coupled record now in ``direction`` ("ToIntegrationTable" or "FromIntegrationTable"); returns
    the synchronization job's id. Raises SynchronizationNotPossible (recorded on the job) when the pass cannot run;
    a coupling deleted meanwhile is reported in the return value, not raised."""
    return records.coupling_synchronize_now(coupling_id=coupling_id, direction=direction)


def delete_surviving_record(coupling_id: int, side: str) -> str:
    """Delete Records: delete the coupled record on ``side`` ("bc" or "dataverse") and the coupling. A record already
    gone counts as deleted. Raises ClientError when the service refuses (RQ records it and the coupling stays)."""
    return records.surviving_record_delete(coupling_id=coupling_id, side=side)
