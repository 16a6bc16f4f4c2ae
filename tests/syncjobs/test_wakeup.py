"""Entries On Hold with Inactivity Timeout wake up within a minute when either side changes (BC: table 472 Job Queue
Entry wake-up, improved): the engine's change probe asks the emulators for records modified beyond the mapping's
watermarks."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from mappings.models import IntegrationTableMapping
from syncjobs.models import JobQueueEntry
from syncjobs.scheduler import dispatch_due_entries, wake_entries_on_hold
from tests.syncjobs.processes import emulator_clients

Status = JobQueueEntry.Status
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sleeping_item_entry(emulator_connection):
    """ITEM-PRODUCT's recurring entry after an idle run: on hold for 24 h, watermarks at now on both sides."""
    now = timezone.now()
    mapping = IntegrationTableMapping.objects.get(connection=emulator_connection, name="ITEM-PRODUCT")
    IntegrationTableMapping.objects.filter(pk=mapping.pk).update(synch_int_tbl_mod_on_fltr=now,
                                                                 synch_modified_on_filter=now)
    JobQueueEntry.objects.filter(connection=emulator_connection).update(
        status=Status.ON_HOLD_WITH_INACTIVITY_TIMEOUT, earliest_start_date_time=timezone.now() + timedelta(hours=24))
    return JobQueueEntry.objects.get(table_mapping=mapping, recurring_job=True)


def test_nothing_changed_leaves_the_entry_on_hold(sleeping_item_entry, sync_queue):
    assert sleeping_item_entry not in wake_entries_on_hold()
    sleeping_item_entry.refresh_from_db()
    assert sleeping_item_entry.status == Status.ON_HOLD_WITH_INACTIVITY_TIMEOUT


def test_an_item_edited_in_bc_wakes_the_entry(emulator, sleeping_item_entry, sync_queue):
    bc, _ = emulator_clients(emulator.info)
    item = next(iter(bc.iter_rows("items", page_size=1)))
    bc.update("items", item["id"], {"displayName": "Edited in BC"}, etag=item["@odata.etag"])

    woken = wake_entries_on_hold()

    assert sleeping_item_entry.pk in [entry.pk for entry in woken]
    sleeping_item_entry.refresh_from_db()
    assert sleeping_item_entry.status == Status.READY
    # The same minute's dispatch claims it.
    assert dispatch_due_entries() >= 1
    sleeping_item_entry.refresh_from_db()
    assert sleeping_item_entry.status == Status.IN_PROCESS


def test_an_account_edited_in_dataverse_by_a_user_wakes_the_entry(emulator, emulator_connection, sync_queue):
    now = timezone.now()
    mapping = IntegrationTableMapping.objects.get(connection=emulator_connection, name="CUSTOMER")
    IntegrationTableMapping.objects.filter(pk=mapping.pk).update(synch_int_tbl_mod_on_fltr=now,
                                                                 synch_modified_on_filter=now)
    JobQueueEntry.objects.filter(table_mapping=mapping).update(
        status=Status.ON_HOLD_WITH_INACTIVITY_TIMEOUT, earliest_start_date_time=timezone.now() + timedelta(hours=12))
    entry = JobQueueEntry.objects.get(table_mapping=mapping, recurring_job=True)
    assert entry.pk not in [woken.pk for woken in wake_entries_on_hold()]
    time.sleep(1.1)  # Dataverse's modifiedon has whole seconds: the edits land in a later second than the watermark

    # An edit by the integration user is an echo of the portal's own writes: it wakes nothing.
    _, as_integration_user = emulator_clients(emulator.info)
    account = next(iter(as_integration_user.iter_rows(
        "accounts", select=["accountid"], filter=mapping.integration_table_filter, page_size=1)))
    as_integration_user.update("accounts", account["accountid"], {"telephone1": "+1 425 555 0100"})
    assert entry.pk not in [woken.pk for woken in wake_entries_on_hold()]

    _, as_user = emulator_clients(emulator.info, username=emulator.info["admin_user"],
                                  password=emulator.info["admin_password"])
    as_user.update("accounts", account["accountid"], {"telephone1": "+1 425 555 0101"})

    assert entry.pk in [woken.pk for woken in wake_entries_on_hold()]


def test_a_ready_entry_scheduled_later_is_pulled_forward_when_its_mapping_changes(
    emulator, sleeping_item_entry, sync_queue
):
    later = timezone.now() + timedelta(minutes=30)
    JobQueueEntry.objects.filter(pk=sleeping_item_entry.pk).update(status=Status.READY, earliest_start_date_time=later)
    bc, _ = emulator_clients(emulator.info)
    item = next(iter(bc.iter_rows("items", page_size=1)))
    bc.update("items", item["id"], {"displayName": "Edited again in BC"}, etag=item["@odata.etag"])

    wake_entries_on_hold()

    sleeping_item_entry.refresh_from_db()
    assert sleeping_item_entry.status == Status.READY
    assert sleeping_item_entry.earliest_start_date_time <= timezone.now()
