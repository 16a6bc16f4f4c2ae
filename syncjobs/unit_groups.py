"""The "Update unit group mapping" job: BC creates the unit groups its items and resources lack, then the unit group
mappings are reset (BC: codeunit 5330 "CRM Integration Management", EnableUnitGroupMapping, UpdateItemUnitGroup and
UpdateResourceUnitGroup; codeunit 5367 "CRM Update Unit Group Mapping"; codeunit 5334 "CRM Setup Defaults",
ResetUnitGroupMappingConfiguration).

BC runs codeunit 5367 inside BC; the portal runs the same work through the companion extension's bound action
``integrationInfo({id})/Microsoft.NAV.createMissingUnitGroups`` (custom API ``api/bcportal/integration/v1.0``), which
inserts one Unit Group per Item / Resource lacking one and returns how many it created.
"""
from __future__ import annotations

from typing import Any

from connections.clients.errors import ClientError, PermanentError
from syncjobs.defaults import unit_group_mapping_apply
from syncjobs.engine import clients_for
from syncjobs.models import JobQueueEntry

#: The companion extension's entity set that carries the integration actions, and the action creating unit groups.
INTEGRATION_INFO_SET = "integrationInfo"
CREATE_MISSING_UNIT_GROUPS = "createMissingUnitGroups"
CUSTOM_API = "custom"


def create_missing_unit_groups(*, bc_client: Any) -> int:
    """Call ``Microsoft.NAV.createMissingUnitGroups`` on the company's ``integrationInfo`` record and return how many
    unit groups BC created (BC: codeunit 5367 "CRM Update Unit Group Mapping"). Raises the client's ClientError (a
    PermanentError when the extension serves no integrationInfo record)."""
    info = next(iter(bc_client.iter_rows(INTEGRATION_INFO_SET, select=["id"], api=CUSTOM_API)), None)
    if info is None:
        raise PermanentError("Business Central served no integrationInfo record, so it cannot create the missing "
                             "unit groups.", service="businesscentral",
                             fix="Install or update the portal's Business Central extension, then run the job again.")
    url = f"{INTEGRATION_INFO_SET}({info['id']})/Microsoft.NAV.{CREATE_MISSING_UNIT_GROUPS}"
    result = bc_client.batch([{"method": "POST", "url": url}], api=CUSTOM_API, idempotent=True)[0]
    if isinstance(result.get("error"), ClientError):
        raise result["error"]
    body = result.get("body") or {}
    value = body.get("value") if isinstance(body, dict) else body
    return int(value or 0)


def unit_group_mapping_update(*, entry: JobQueueEntry) -> int:
    """Run one "Update unit group mapping" job queue entry: BC creates the missing unit groups, then the unit group
    mappings (UNIT GROUP, ITEM UOM, RESOURCE UOM and the unit fields of ITEM-PRODUCT, RESOURCE-PRODUCT and
    PLLINE-PRODPRICE) are reset to the defaults. Returns how many unit groups BC created. Raises
    SynchronizationNotPossible (connection disabled or incomplete) or the client's ClientError; the job queue then
    retries it (3 attempts, 60 s apart)."""
    connection = entry.connection
    bc_client, _ = clients_for(connection)
    created = create_missing_unit_groups(bc_client=bc_client)
    unit_group_mapping_apply(connection=connection)
    return created
