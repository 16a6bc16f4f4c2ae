"""RQ tasks of the synchronization engine. Tasks take ids and call a service (DESIGN: tasks take ids)."""
from __future__ import annotations

from connections.clients.errors import NotFoundError
from mappings.models import Coupling
from syncjobs.engine import SynchronizationNotPossible, clients_for, synchronize_record
from syncjobs.engine.records import coupling_remove, mapping_for
from syncjobs.engine.schema import bc_info, dv_info


def synchronize_coupling(coupling_id: int, direction: str) -> str:
    """Synchronize one coupled record now in ``direction`` (reference 11); returns the synchronization job's id.

    Raises SynchronizationNotPossible (recorded on the job) when the pass cannot run; a coupling deleted meanwhile
    is reported in the return value, not raised."""
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


def delete_surviving_record(coupling_id: int, side: str) -> str:
    """Delete Records (reference 6.4): delete the coupled record on ``side`` ("bc" or "dataverse") and the coupling.
    A record already gone counts as deleted. Raises ClientError when the service refuses (RQ retries/records it)."""
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
