"""The audit trail: changes of mappings, job queue entries and the connection setup are recorded with who, when,
before and after (django-auditlog); secrets never reach the log; the page filters and never answers 500."""
from __future__ import annotations

from typing import Any

import pytest
from auditlog.context import set_actor
from auditlog.models import LogEntry
from django.db import connection as db_connection
from django.urls import reverse
from django.utils import timezone

from connections.actions.configuration import connection_save
from mappings.models import IntegrationTableMapping
from syncjobs.defaults import default_configuration_reset
from syncjobs.models import JobQueueEntry
from tests.connections.conftest import BC_ACCESS_KEY, BC_ON_PREMISES_API_URL, CLIENT_SECRET
from tests.connections.test_connection_setup_page import _edit_data

pytestmark = pytest.mark.django_db

NEW_CLIENT_SECRET = "audit-new-secret-7e6d5c4b-never-logged"
AUDIT_URL = reverse("portal:audit-log")


@pytest.fixture
def connection(admin_user: Any) -> Any:
    """A disabled connection setup (client secret sign-in, BC on-premises) with its default mappings."""
    saved = connection_save(connection=None, user=admin_user, data={
        "name": "Contoso", "dataverse_url": "https://contoso.crm4.dynamics.com", "authentication_type": "ClientSecret",
        "tenant_id": "contoso.onmicrosoft.com", "authority_host": "https://login.microsoftonline.com",
        "client_id": "11111111-2222-3333-4444-555555555555", "client_secret": CLIENT_SECRET,
        "bc_api_url": BC_ON_PREMISES_API_URL, "bc_authentication_type": "Basic", "bc_username": "WS",
        "bc_access_key": BC_ACCESS_KEY, "web_api_version": "9.2", "ownership_model": "Team",
    })
    default_configuration_reset(connection=saved)
    return saved


@pytest.fixture
def viewer_client(client: Any, django_user_model: Any) -> Any:
    """A signed-in user outside the Integration Administrator group."""
    client.force_login(django_user_model.objects.create_user("viewer", "viewer@example.com", "pw-viewer-123"))
    return client


def _updates_of(instance: Any) -> Any:
    return LogEntry.objects.get_for_object(instance).filter(action=LogEntry.Action.UPDATE).order_by("-timestamp")


def _all_log_text() -> str:
    return " ".join(f"{entry.changes} {entry.changes_text} {entry.object_repr} {entry.additional_data} "
                    f"{entry.serialized_data}" for entry in LogEntry.objects.all())


def test_changing_a_mapping_filter_on_its_page_records_who_when_before_and_after(
        admin_client: Any, admin_user: Any, connection: Any) -> None:
    item = IntegrationTableMapping.objects.get(connection=connection, name="ITEM-PRODUCT")
    before = item.table_filter
    started = timezone.now()
    response = admin_client.post(reverse("mappings:mapping-update", args=[item.pk]), {
        "direction": "Bidirectional", "table_filter": "blocked eq false and type eq 'Inventory'",
        "integration_table_filter": "", "synch_only_coupled_records": "on", "dependency_filter": "ITEM UOM",
        "deletion_conflict_resolution": "None", "update_conflict_resolution": "None"}, follow=True)
    assert "Saved ITEM-PRODUCT" in response.content.decode()
    entry = _updates_of(item).first()
    assert entry is not None and entry.actor == admin_user and entry.timestamp >= started
    assert entry.changes_dict["table_filter"] == [before, "blocked eq false and type eq 'Inventory'"]
    page = admin_client.get(AUDIT_URL, {"q": "ITEM-PRODUCT"}).content.decode()
    assert "Table filter" in page and "type eq &#x27;Inventory&#x27;" in page and "admin" in page


def test_field_mapping_changes_are_recorded(admin_user: Any, connection: Any) -> None:
    field = IntegrationTableMapping.objects.get(connection=connection, name="CURRENCY").field_mappings.first()
    with set_actor(admin_user):
        field.status = "Disabled"
        field.save()
    entry = _updates_of(field).get()
    assert entry.actor == admin_user and entry.changes_dict["status"] == ["Enabled", "Disabled"]


def test_job_queue_entry_recurrence_is_recorded_but_run_state_is_not(admin_user: Any, connection: Any) -> None:
    entry = JobQueueEntry.objects.filter(connection=connection, recurring_job=True).first()
    old_minutes = entry.no_of_minutes_between_runs
    with set_actor(admin_user):
        entry.no_of_minutes_between_runs = old_minutes + 15
        entry.save()
    logged = _updates_of(entry).get()
    assert logged.actor == admin_user
    assert logged.changes_dict == {"no_of_minutes_between_runs": [str(old_minutes), str(old_minutes + 15)]}
    # What the dispatcher and workers change on every run is not an administrator's change: no new entry.
    entry.status = JobQueueEntry.Status.IN_PROCESS
    entry.claimed_at = timezone.now()
    entry.rq_job_id = "rq-123"
    entry.no_of_attempts_to_run = 3
    entry.last_run_started_at = timezone.now()
    entry.save()
    assert _updates_of(entry).count() == 1


def test_new_client_secret_is_recorded_without_any_secret_value(admin_client: Any, admin_user: Any,
                                                                connection: Any) -> None:
    url = reverse("connections:connection-edit", args=[connection.pk])
    response = admin_client.post(url, _edit_data(connection, client_secret=NEW_CLIENT_SECRET), follow=True)
    assert "The connection setup was saved." in response.content.decode()
    connection.refresh_from_db()
    assert connection.client_secret == NEW_CLIENT_SECRET
    entry = _updates_of(connection).first()
    assert entry.actor == admin_user and entry.changes_dict["client_secret"] == ["(set)", "(set)"]
    with db_connection.cursor() as cursor:  # the encrypted value as stored
        cursor.execute(f"SELECT client_secret FROM {connection._meta.db_table} WHERE id = %s",
                       [connection._meta.pk.get_db_prep_value(connection.pk, db_connection)])
        (stored,) = cursor.fetchone()
    assert stored and NEW_CLIENT_SECRET not in stored
    text = _all_log_text()
    half = NEW_CLIENT_SECRET[len(NEW_CLIENT_SECRET) // 2:]  # django-auditlog's default mask keeps this half
    for secret in (NEW_CLIENT_SECRET, CLIENT_SECRET, BC_ACCESS_KEY, stored, half):
        assert secret not in text
    page = admin_client.get(AUDIT_URL, {"object_type": "connections.connectionsetup"}).content.decode()
    assert "Client secret" in page and NEW_CLIENT_SECRET not in page and CLIENT_SECRET not in page


def test_page_filters_by_object_type_and_user(client: Any, admin_user: Any, django_user_model: Any,
                                              connection: Any) -> None:
    other = django_user_model.objects.create_user("operator", "operator@example.com", "pw-operator-123")
    item = IntegrationTableMapping.objects.get(connection=connection, name="ITEM-PRODUCT")
    entry = JobQueueEntry.objects.filter(connection=connection).first()
    with set_actor(other):
        item.table_filter = "blocked eq true"
        item.save()
    with set_actor(admin_user):
        entry.description = "Audited description"
        entry.save()
    client.force_login(other)  # not an administrator: viewers read the trail too
    by_user = client.get(AUDIT_URL, {"user": "operator"})
    assert by_user.status_code == 200
    body = by_user.content.decode()
    assert "blocked eq true" in body and "Audited description" not in body
    by_type = client.get(AUDIT_URL, {"object_type": "syncjobs.jobqueueentry"}).content.decode()
    assert "Audited description" in by_type and "blocked eq true" not in by_type
    rows = client.get(AUDIT_URL, {"object_type": "syncjobs.jobqueueentry"}).context["rows"]
    assert rows and {row.object_type for row in rows} == {"Job queue entry"}


@pytest.mark.parametrize("query", [
    {"object_type": "auth.user", "user": "<script>", "date_from": "2024-13-45", "date_to": "x", "page": "-1"},
    {"object_type": "x" * 5000, "q": "x" * 5000, "date_from": "9999-12-31", "date_to": "0001-01-01",
     "page": str(10**30)},
    {"user": "-system-", "q": "'\"%_\\", "page": "last"},
])
def test_hostile_filter_values_give_a_page_not_a_500(viewer_client: Any, connection: Any, query: dict) -> None:
    response = viewer_client.get(AUDIT_URL, query)
    assert response.status_code == 200
    assert "<script>" not in response.content.decode()


def test_anonymous_users_are_sent_to_sign_in(client: Any) -> None:
    response = client.get(AUDIT_URL)
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_navigation_links_the_audit_trail(viewer_client: Any) -> None:
    assert f'href="{AUDIT_URL}"' in viewer_client.get(reverse("portal:dashboard")).content.decode()
