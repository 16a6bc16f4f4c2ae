"""The per-record decision (BC: codeunit 5345 "Integration Rec. Synch. Invoke", SynchRecord) on real coupling and
mapping rows."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connections.models import ConnectionSetup
from mappings.models import Coupling, Direction, IntegrationTableMapping
from syncjobs.engine.decision import Action, decide

T0 = datetime(2026, 1, 5, 10, 0, 0, tzinfo=UTC)
TO = Direction.TO_INTEGRATION_TABLE
FROM = Direction.FROM_INTEGRATION_TABLE


@pytest.fixture
def mapping(db: Any) -> IntegrationTableMapping:
    connection = ConnectionSetup.objects.create(name="Decision world", is_enabled=True)
    return IntegrationTableMapping.objects.create(connection=connection, name="CUSTOMER", table="Customer",
                                                  integration_table="account", direction=Direction.BIDIRECTIONAL)


@pytest.fixture
def coupling(mapping: IntegrationTableMapping) -> Coupling:
    return Coupling.objects.create(connection=mapping.connection, bc_table="Customer", bc_id=uuid.uuid4(),
                                   dataverse_table="account", dataverse_id=uuid.uuid4(),
                                   last_synch_modified_on=T0, last_synch_crm_modified_on=T0,
                                   last_synch_result=Coupling.Result.SUCCESS,
                                   last_synch_crm_result=Coupling.Result.SUCCESS)


def test_uncoupled_record_is_ignored_when_only_coupled_and_inserted_otherwise(mapping: IntegrationTableMapping) -> None:
    ignored = decide(mapping=mapping, direction=TO, coupling=None, source_modified=T0, destination_exists=None)
    inserted = decide(mapping=mapping, direction=TO, coupling=None, source_modified=T0, destination_exists=None,
                      only_coupled=False)
    assert (ignored.action, inserted.action) == (Action.IGNORE, Action.INSERT)


def test_skipped_coupling_is_skipped_unless_forced(mapping: IntegrationTableMapping, coupling: Coupling) -> None:
    coupling.skipped = True
    later = T0 + timedelta(minutes=1)
    assert decide(mapping=mapping, direction=TO, coupling=coupling, source_modified=later,
                  destination_exists=True).action == Action.SKIP
    assert decide(mapping=mapping, direction=TO, coupling=coupling, source_modified=later, destination_exists=True,
                  force=True).action == Action.FORCE_MODIFY


def test_unchanged_source_is_ignored_unchanged(mapping: IntegrationTableMapping, coupling: Coupling) -> None:
    assert decide(mapping=mapping, direction=TO, coupling=coupling, source_modified=T0,
                  destination_exists=None).action == Action.UNCHANGED
    assert decide(mapping=mapping, direction=FROM, coupling=coupling, source_modified=T0 - timedelta(seconds=1),
                  destination_exists=None).action == Action.UNCHANGED


def test_changed_source_is_modified(mapping: IntegrationTableMapping, coupling: Coupling) -> None:
    later = T0 + timedelta(milliseconds=1)
    assert decide(mapping=mapping, direction=TO, coupling=coupling, source_modified=later,
                  destination_exists=True).action == Action.MODIFY


def test_dataverse_whole_seconds_compare_with_999_ms(mapping: IntegrationTableMapping, coupling: Coupling) -> None:
    # modifiedon has whole seconds: a change in the same second as the stored time is a change (BC subtracts 999 ms)
    coupling.last_synch_crm_modified_on = T0 + timedelta(milliseconds=600)
    assert decide(mapping=mapping, direction=FROM, coupling=coupling, source_modified=T0,
                  destination_exists=True).action == Action.MODIFY
    coupling.last_synch_modified_on = T0 + timedelta(milliseconds=600)
    assert decide(mapping=mapping, direction=TO, coupling=coupling, source_modified=T0,
                  destination_exists=True).action == Action.UNCHANGED


def test_failed_last_time_counts_as_changed(mapping: IntegrationTableMapping, coupling: Coupling) -> None:
    coupling.last_synch_crm_result = Coupling.Result.FAILURE
    assert decide(mapping=mapping, direction=TO, coupling=coupling, source_modified=T0,
                  destination_exists=True).action == Action.MODIFY
    # the other direction's failure does not make the Dataverse row changed
    assert decide(mapping=mapping, direction=FROM, coupling=coupling, source_modified=T0 - timedelta(seconds=1),
                  destination_exists=True).action == Action.UNCHANGED


def test_pending_coupling_repeats_the_create(mapping: IntegrationTableMapping, coupling: Coupling) -> None:
    coupling.is_pending = True
    assert decide(mapping=mapping, direction=TO, coupling=coupling, source_modified=T0,
                  destination_exists=None).action == Action.INSERT


@pytest.mark.parametrize(("resolution", "expected"), [
    (IntegrationTableMapping.DeletionConflictResolution.NONE, Action.FAIL),
    (IntegrationTableMapping.DeletionConflictResolution.RESTORE_RECORDS, Action.RESTORE),
    (IntegrationTableMapping.DeletionConflictResolution.REMOVE_COUPLING, Action.REMOVE_COUPLING),
])
def test_deletion_conflict_follows_the_mapping(mapping: IntegrationTableMapping, coupling: Coupling,
                                               resolution: str, expected: Action) -> None:
    mapping.deletion_conflict_resolution = resolution
    decision = decide(mapping=mapping, direction=TO, coupling=coupling, source_modified=T0 + timedelta(seconds=1),
                      destination_exists=False)
    assert decision.action == expected
    if expected == Action.FAIL:
        assert "deleted" in decision.reason


@pytest.mark.parametrize(("resolution", "direction", "expected"), [
    (IntegrationTableMapping.UpdateConflictResolution.NONE, TO, Action.CONFLICT),
    (IntegrationTableMapping.UpdateConflictResolution.NONE, FROM, Action.CONFLICT),
    (IntegrationTableMapping.UpdateConflictResolution.SEND_UPDATE_TO_INTEGRATION, TO, Action.FORCE_MODIFY),
    (IntegrationTableMapping.UpdateConflictResolution.SEND_UPDATE_TO_INTEGRATION, FROM, Action.SKIP),
    (IntegrationTableMapping.UpdateConflictResolution.GET_UPDATE_FROM_INTEGRATION, TO, Action.SKIP),
    (IntegrationTableMapping.UpdateConflictResolution.GET_UPDATE_FROM_INTEGRATION, FROM, Action.FORCE_MODIFY),
])
def test_update_conflict_follows_the_mapping(mapping: IntegrationTableMapping, coupling: Coupling, resolution: str,
                                             direction: str, expected: Action) -> None:
    mapping.update_conflict_resolution = resolution
    decision = decide(mapping=mapping, direction=direction, coupling=coupling,
                      source_modified=T0 + timedelta(seconds=1), destination_exists=True, destination_changed=True)
    assert decision.action == expected


def test_one_way_mapping_has_no_update_conflict(mapping: IntegrationTableMapping, coupling: Coupling) -> None:
    mapping.direction = Direction.TO_INTEGRATION_TABLE
    decision = decide(mapping=mapping, direction=TO, coupling=coupling, source_modified=T0 + timedelta(seconds=1),
                      destination_exists=True, destination_changed=True)
    assert decision.action == Action.MODIFY
