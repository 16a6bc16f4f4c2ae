"""Actions of the connection setup page that need no remote call: disable (job queue entries On Hold), Use Default
Synchronization Setup (with confirmation), Synchronize Modified Records, Reset Web Client URL, the
"active scheduled synchronization jobs: X of Y" figure; and Enable, which runs on a worker, refusing a connection
that cannot be reached."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse

from connections.actions.configuration import default_configuration_apply
from connections.models import ConnectionSetup
from mappings.models import IntegrationTableMapping
from syncjobs.models import JobQueueEntry
from tests.connections.conftest import BC_ONLINE_API_URL
from tests.connections.test_connection_actions import emptied_default_queue, work

pytestmark = pytest.mark.django_db


@pytest.fixture
def default_queue(db: Any) -> Iterator[Any]:
    """The emptied RQ ``default`` queue the connection actions are enqueued on."""
    yield from emptied_default_queue()


@pytest.fixture
def enabled_connection(connection: ConnectionSetup, admin_user: Any) -> ConnectionSetup:
    """The fixture connection with its default configuration, enabled (as after a successful enable)."""
    default_configuration_apply(connection=connection, user=admin_user)
    JobQueueEntry.objects.filter(connection=connection).update(status=JobQueueEntry.Status.READY)
    ConnectionSetup.objects.filter(pk=connection.pk).update(is_enabled=True)
    connection.refresh_from_db()
    return connection


def test_disable_puts_job_queue_entries_on_hold_and_records_the_reason(admin_client: Any,
                                                                       enabled_connection: ConnectionSetup) -> None:
    total = JobQueueEntry.objects.filter(connection=enabled_connection).count()
    response = admin_client.post(reverse("connections:connection-disable", args=[enabled_connection.pk]),
                                 {"reason": "Maintenance window"}, follow=True)
    assert f"{total} job queue entries are On Hold" in response.content.decode()
    enabled_connection.refresh_from_db()
    assert not enabled_connection.is_enabled
    assert enabled_connection.disable_reason == "Maintenance window"
    assert set(JobQueueEntry.objects.filter(connection=enabled_connection).values_list("status", flat=True)) == {
        JobQueueEntry.Status.ON_HOLD}
    assert "The connection was disabled: Maintenance window" in response.content.decode()
    change = enabled_connection.changes.get(field="is_enabled")
    assert (change.old_value, change.new_value, change.username) == ("Yes", "No", "admin")


def test_active_scheduled_jobs_shows_x_of_y(admin_client: Any, enabled_connection: ConnectionSetup) -> None:
    recurring = JobQueueEntry.objects.filter(connection=enabled_connection, recurring_job=True)
    recurring.filter(pk=recurring.first().pk).update(status=JobQueueEntry.Status.ERROR)
    page = admin_client.get(reverse("connections:connection-detail", args=[enabled_connection.pk])).content.decode()
    assert f'id="active-jobs">{recurring.count() - 1} of {recurring.count()}<' in page


def test_default_setup_needs_confirmation_then_replaces_mappings(admin_client: Any,
                                                                 enabled_connection: ConnectionSetup) -> None:
    url = reverse("connections:connection-default-setup", args=[enabled_connection.pk])
    IntegrationTableMapping.objects.filter(connection=enabled_connection, name="CUSTOMER").update(
        table_filter="displayName eq 'changed'")
    unconfirmed = admin_client.post(url, {})
    assert unconfirmed.status_code == 200 and "This field is required" in unconfirmed.content.decode()
    assert IntegrationTableMapping.objects.get(connection=enabled_connection, name="CUSTOMER").table_filter == \
        "displayName eq 'changed'"
    confirmed = admin_client.post(url, {"confirm": "on"})
    assert "Mappings changed: CUSTOMER" in confirmed.content.decode()
    assert IntegrationTableMapping.objects.get(connection=enabled_connection, name="CUSTOMER").table_filter != \
        "displayName eq 'changed'"


def test_synchronize_modified_records_queues_one_run_per_mapping(admin_client: Any,
                                                                  enabled_connection: ConnectionSetup) -> None:
    response = admin_client.post(reverse("connections:connection-synchronize-modified",
                                         args=[enabled_connection.pk]), follow=True)
    one_off = JobQueueEntry.objects.filter(connection=enabled_connection, recurring_job=False)
    assert one_off.count() > 0
    assert f"{one_off.count()} mappings were queued" in response.content.decode()


def test_synchronize_modified_records_refused_while_disabled(admin_client: Any, connection: ConnectionSetup) -> None:
    response = admin_client.post(reverse("connections:connection-synchronize-modified", args=[connection.pk]),
                                 follow=True)
    assert "Enable the connection before synchronizing" in response.content.decode()
    assert not JobQueueEntry.objects.filter(connection=connection, recurring_job=False).exists()


def test_reset_web_client_url_derives_it_from_the_api_url(admin_client: Any, connection: ConnectionSetup) -> None:
    admin_client.post(reverse("connections:connection-reset-web-client-url", args=[connection.pk]))
    connection.refresh_from_db()
    assert connection.bc_web_client_url == "https://bc.contoso.com:7048/BC"  # on-premises: the part before /api/
    ConnectionSetup.objects.filter(pk=connection.pk).update(bc_api_url=BC_ONLINE_API_URL,
                                                            bc_authentication_type="OAuth")
    admin_client.post(reverse("connections:connection-reset-web-client-url", args=[connection.pk]))
    connection.refresh_from_db()
    assert connection.bc_web_client_url == "https://businesscentral.dynamics.com/contoso/Production"


@pytest.mark.django_db(transaction=True)
def test_enable_refuses_without_a_working_connection(admin_client: Any, connection: ConnectionSetup,
                                                     default_queue: Any) -> None:
    ConnectionSetup.objects.filter(pk=connection.pk).update(dataverse_url="https://nonexistent.invalid",
                                                            authority_host="https://nonexistent.invalid")
    queued = admin_client.post(reverse("connections:connection-enable", args=[connection.pk]))
    assert queued.status_code == 302
    work(default_queue)
    page = admin_client.get(queued["Location"])
    assert page.status_code == 200
    body = page.content.decode()
    assert "the connection stays disabled" in body and 'data-status="Failed"' in body
    connection.refresh_from_db()
    assert not connection.is_enabled
