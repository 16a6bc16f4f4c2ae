"""The per-record decision of a pass (BC: codeunit 5345 "Integration Rec. Synch. Invoke", SynchRecord).

:func:`decide` is pure: it looks at the coupling, the source's modified-on, whether the destination still exists
and whether someone other than the integration user changed it since the last synchronization, and returns what to
do. The pass then transfers the fields and turns a Modify without any changed field into Unchanged and a Conflict
into Modify / Fail depending on whether a bidirectional field really differs (BC: OnUpdateConflictDetected and the
mapping's "Update-Conflict Resolution", table 5335 "Integration Table Mapping").
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from mappings.models import Coupling, Direction, IntegrationTableMapping


class Action(enum.StrEnum):
    """What a pass does with one record (BC: codeunit 5345 "Integration Rec. Synch. Invoke", SynchAction)."""

    INSERT = "Insert"
    MODIFY = "Modify"
    FORCE_MODIFY = "ForceModify"
    CONFLICT = "Conflict"  # both sides changed and the mapping's update-conflict resolution is None
    UNCHANGED = "IgnoreUnchanged"
    SKIP = "Skip"
    FAIL = "Fail"
    RESTORE = "RestoreRecords"
    REMOVE_COUPLING = "RemoveCoupling"
    IGNORE = "Ignore"  # not counted: uncoupled under "synch. only coupled records"


@dataclass(frozen=True)
class Decision:
    """An :class:`Action` and, for Fail/Skip, the reason in words."""

    action: Action
    reason: str = ""


def last_synced_source_time(coupling: Coupling, direction: str) -> datetime | None:
    """The source side's modified-on stored at the last successful synchronization (UTC): BC's for a
    ToIntegrationTable pass, Dataverse's for a FromIntegrationTable pass (BC: table 5331 "CRM Integration Record",
    fields "Last Synch. Modified On" and "Last Synch. CRM Modified On")."""
    if direction == Direction.TO_INTEGRATION_TABLE:
        return coupling.last_synch_modified_on
    return coupling.last_synch_crm_modified_on


#: Dataverse keeps ``modifiedon`` to the second: its comparisons subtract 999 ms (BC: codeunit 5340 "CRM Integration
#: Table Synch." filters ModifiedOn > "Synch. Modified On Filter" - 999 ms).
DATAVERSE_PRECISION = timedelta(milliseconds=999)


def comparable(stored: datetime, direction: str) -> datetime:
    """The stored modified-on to compare a source's modified-on against: Dataverse sources (FromIntegrationTable)
    compare with 999 ms subtracted, since ``modifiedon`` has whole seconds (as BC does); BC is exact."""
    return stored - DATAVERSE_PRECISION if direction == Direction.FROM_INTEGRATION_TABLE else stored


def last_result(coupling: Coupling, direction: str) -> str:
    """The coupling's last result in the pass direction (To: "Last Synch. CRM Result", From: "Last Synch. Result")."""
    if direction == Direction.TO_INTEGRATION_TABLE:
        return coupling.last_synch_crm_result
    return coupling.last_synch_result


def decide(
    *,
    mapping: IntegrationTableMapping,
    direction: str,
    coupling: Coupling | None,
    source_modified: datetime | None,
    destination_exists: bool | None,
    destination_changed: bool = False,
    only_coupled: bool = True,
    force: bool = False,
) -> Decision:
    """Decide what to do with one source record (BC: codeunit 5345 "Integration Rec. Synch. Invoke", SynchRecord:
    skipped couplings, missing destinations, deletion conflicts, change detection, update conflicts).

    ``direction`` is the pass direction (Direction.TO_INTEGRATION_TABLE or FROM_INTEGRATION_TABLE);
    ``destination_exists`` is None when the destination was not looked up (the record is unchanged or uncoupled);
    ``destination_changed`` says the destination was modified by someone other than the integration user since the
    last synchronization; ``force`` is a full synchronization or a manual "Synchronize now" (ForceModify).
    """
    if coupling is not None and coupling.skipped and not force:
        return Decision(Action.SKIP, "the coupling is marked skipped; retry it on the Coupled Data Synchronization "
                                     "Errors page")
    if coupling is None:
        return Decision(Action.IGNORE) if only_coupled else Decision(Action.INSERT)
    if coupling.is_pending:
        # Written before a create whose response may have been lost: repeat it as an idempotent upsert.
        return Decision(Action.INSERT)
    if destination_exists is False:
        resolution = mapping.deletion_conflict_resolution
        if resolution == IntegrationTableMapping.DeletionConflictResolution.RESTORE_RECORDS:
            return Decision(Action.RESTORE)
        if resolution == IntegrationTableMapping.DeletionConflictResolution.REMOVE_COUPLING:
            return Decision(Action.REMOVE_COUPLING)
        return Decision(Action.FAIL, "its coupled record was deleted on the other side (deletion conflict)")
    stored = last_synced_source_time(coupling, direction)
    changed = (
        force
        or stored is None
        or (source_modified is not None and source_modified > comparable(stored, direction))
        or last_result(coupling, direction) == Coupling.Result.FAILURE
    )
    if not changed:
        return Decision(Action.UNCHANGED)
    if mapping.direction == Direction.BIDIRECTIONAL and destination_changed:
        resolution = mapping.update_conflict_resolution
        wins = IntegrationTableMapping.UpdateConflictResolution
        if resolution == wins.GET_UPDATE_FROM_INTEGRATION:
            if direction == Direction.FROM_INTEGRATION_TABLE:
                return Decision(Action.FORCE_MODIFY)
            return Decision(Action.SKIP, "both sides changed; the mapping gets updates from Dataverse")
        if resolution == wins.SEND_UPDATE_TO_INTEGRATION:
            if direction == Direction.TO_INTEGRATION_TABLE:
                return Decision(Action.FORCE_MODIFY)
            return Decision(Action.SKIP, "both sides changed; the mapping sends updates to Dataverse")
        return Decision(Action.CONFLICT)
    return Decision(Action.FORCE_MODIFY if force else Action.MODIFY)
