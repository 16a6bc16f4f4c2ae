"""The "Update unit group mapping" job (BC: codeunit 5330 CRM Integration Management, EnableUnitGroupMapping; codeunit
5367 "CRM Update Unit Group Mapping"): turning unit group mapping on queues it; run by a worker, it has BC create the
unit groups its items and resources lack, resets the unit group mappings, and UNIT GROUP then couples Dataverse unit
groups named with BC's codes ("ITEM 1000 UOM GR")."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rq import SimpleWorker

from connections.actions.configuration import connection_sales_settings_update
from connections.models import ConnectionSetup
from mappings.models import Coupling, IntegrationTableMapping
from syncjobs.defaults import default_configuration_reset, unit_group_update_job_schedule
from syncjobs.engine import clients_for, synchronize_mapping
from syncjobs.models import JobQueueEntry
from syncjobs.scheduler import dispatch_due_entries

UPDATE = JobQueueEntry.Kind.UNIT_GROUP_UPDATE


@pytest.mark.django_db
def test_turning_unit_group_mapping_on_queues_the_update_job_and_off_removes_it(admin_user: Any) -> None:
    connection = ConnectionSetup.objects.create(name="CRONUS", unit_group_mapping_enabled=False)
    default_configuration_reset(connection=connection)
    before = timezone.now()

    report = connection_sales_settings_update(connection=connection, user=admin_user,
                                              data={"unit_group_mapping_enabled": True})

    entry = JobQueueEntry.objects.get(connection=connection, kind=UPDATE)
    assert "Job queue entries created: Updating CRM Unit Group Mapping" in report.rebuilds
    # BC EnableUnitGroupMapping: one-off, start now + 1 s, 3 attempts, rerun delay 60 s; On Hold while disabled
    assert (entry.description, entry.recurring_job, entry.maximum_no_of_attempts_to_run, entry.rerun_delay_sec,
            entry.status) == ("Updating CRM Unit Group Mapping", False, 3, 60, JobQueueEntry.Status.ON_HOLD)
    assert timedelta(seconds=1) <= entry.earliest_start_date_time - before < timedelta(seconds=5)
    assert IntegrationTableMapping.objects.filter(connection=connection, name="UNIT GROUP").exists()

    connection_sales_settings_update(connection=connection, user=admin_user,
                                     data={"unit_group_mapping_enabled": False})
    assert not JobQueueEntry.objects.filter(connection=connection, kind=UPDATE).exists()


@pytest.mark.django_db
def test_scheduling_again_replaces_the_waiting_entry_and_keeps_finished_ones() -> None:
    connection = ConnectionSetup.objects.create(name="CRONUS", is_enabled=True)
    first = unit_group_update_job_schedule(connection=connection)
    assert first is not None and first.status == JobQueueEntry.Status.READY
    second = unit_group_update_job_schedule(connection=connection)
    assert list(JobQueueEntry.objects.filter(kind=UPDATE).values_list("pk", flat=True)) == [second.pk]
    JobQueueEntry.objects.filter(pk=second.pk).update(status=JobQueueEntry.Status.FINISHED)
    unit_group_update_job_schedule(connection=connection)
    assert set(JobQueueEntry.objects.filter(kind=UPDATE).values_list("status", flat=True)) == {
        JobQueueEntry.Status.FINISHED, JobQueueEntry.Status.READY}


@pytest.mark.django_db(transaction=True)
def test_the_job_creates_bc_unit_groups_and_unit_group_couples_them_by_bc_code(
        emulator: Any, emulator_connection: ConnectionSetup, sync_queue: Any) -> None:
    bc, dv = clients_for(emulator_connection)
    bc.create("items", {"number": "UG-1", "displayName": "New item without a unit group",
                        "baseUnitOfMeasureCode": "PCS"})
    sources = [("ITEM", r["number"]) for r in bc.iter_rows("items", select=["number"])] + [
        ("RESOURCE", r["number"]) for r in bc.iter_rows("resources", select=["number"], api="custom")]
    existing = len(list(bc.iter_rows("unitGroups", select=["id"], api="custom")))
    assert existing < len(sources)
    JobQueueEntry.objects.filter(connection=emulator_connection).update(status=JobQueueEntry.Status.ON_HOLD)
    # the unit group mappings drift; the job resets them
    IntegrationTableMapping.objects.filter(connection=emulator_connection, name="UNIT GROUP").update(
        table_filter="sourceType eq 'Resource'")

    entry = unit_group_update_job_schedule(connection=emulator_connection)
    assert entry is not None
    dispatch_due_entries(now=timezone.now() + timedelta(seconds=2))
    SimpleWorker([sync_queue], connection=sync_queue.connection).work(burst=True)

    entry.refresh_from_db()
    assert entry.status == JobQueueEntry.Status.FINISHED, entry.error_message
    groups = list(bc.iter_rows("unitGroups", api="custom"))
    assert sorted((g["sourceType"].upper(), g["sourceNumber"]) for g in groups) == sorted(sources)
    # BC: table 5400 "Unit Group", GetCode
    assert {g["code"] for g in groups} == {f"{kind} {number} UOM GR" for kind, number in sources}
    assert entry.log_entries.get().records_changed == len(sources) - existing  # the unit groups BC created
    unit_group = IntegrationTableMapping.objects.get(connection=emulator_connection, name="UNIT GROUP")
    assert unit_group.table_filter == ""

    job = synchronize_mapping(mapping=unit_group, full=True)[0]
    assert (job.inserted, job.failed) == (len(groups), 0), list(job.errors.values_list("message", flat=True))[:3]
    names = {row["uomscheduleid"]: row["name"] for row in dv.iter_rows("uomschedules",
                                                                        select=["uomscheduleid", "name"])}
    couplings = Coupling.objects.filter(connection=emulator_connection, bc_table="Unit Group")
    assert sorted(names[str(c.dataverse_id)] for c in couplings) == sorted(g["code"] for g in groups)

