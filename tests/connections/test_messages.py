"""Messages at the top of the connection page say what actually changed or why nothing was saved, and no input is
truncated silently: a disable reason over 250 characters (BC: "Disable Reason", Text[250]) is a form error on
Disable's confirmation page, which also says what Disable changes, with counts."""
from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from connections.models import ConnectionSetup
from syncjobs.models import JobQueueEntry
from tests.connections.test_actions import enabled_connection  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


def _messages_then(page: str, marker: str) -> None:
    """The message list comes before ``marker`` on the page (at the top, not 2,000 px down)."""
    assert '<ul class="messages">' in page and marker in page
    assert page.index('<ul class="messages">') < page.index(marker)


def test_disable_asks_first_with_counts(admin_client: Any, enabled_connection: ConnectionSetup) -> None:  # noqa: F811
    entries = JobQueueEntry.objects.filter(connection=enabled_connection)
    to_hold = entries.exclude(status__in=[JobQueueEntry.Status.ON_HOLD, JobQueueEntry.Status.IN_PROCESS,
                                          JobQueueEntry.Status.FINISHED]).count()
    assert to_hold > 0
    detail = admin_client.get(reverse("connections:connection-detail", args=[enabled_connection.pk])).content.decode()
    assert f'href="{reverse("connections:connection-disable", args=[enabled_connection.pk])}"' in detail
    page = admin_client.get(reverse("connections:connection-disable", args=[enabled_connection.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Disable the connection" in body
    assert f"<strong>{to_hold}</strong> job queue entries put On Hold" in body
    assert f"<strong>{enabled_connection.mappings.count()}</strong> mapping(s) stop synchronizing" in body
    assert 'maxlength' not in body.split('id="confirm-impact"', 1)[1]
    enabled_connection.refresh_from_db()
    assert enabled_connection.is_enabled  # asking changed nothing


def test_disable_reason_over_250_characters_is_a_form_error(admin_client: Any,
                                                            enabled_connection: ConnectionSetup) -> None:  # noqa: F811
    response = admin_client.post(reverse("connections:connection-disable", args=[enabled_connection.pk]),
                                 {"reason": "x" * 251})
    assert response.status_code == 400
    body = response.content.decode()
    assert "The reason can be at most 250 characters long; it has 251." in body
    _messages_then(body, 'id="confirm-impact"')
    assert "The connection was not disabled" in body
    enabled_connection.refresh_from_db()
    assert enabled_connection.is_enabled and enabled_connection.disable_reason == ""


def test_disable_reason_of_250_characters_is_kept_whole(admin_client: Any,
                                                        enabled_connection: ConnectionSetup) -> None:  # noqa: F811
    reason = "Maintenance " + "y" * 238
    assert len(reason) == 250
    response = admin_client.post(reverse("connections:connection-disable", args=[enabled_connection.pk]),
                                 {"reason": reason}, follow=True)
    assert "The connection is disabled;" in response.content.decode()
    enabled_connection.refresh_from_db()
    assert not enabled_connection.is_enabled and enabled_connection.disable_reason == reason


def test_viewer_cannot_open_the_disable_page(client: Any, viewer: Any, connection: ConnectionSetup) -> None:
    client.force_login(viewer)
    assert client.get(reverse("connections:connection-disable", args=[connection.pk])).status_code == 403


def test_settings_message_says_item_availability_was_turned_off(admin_client: Any,
                                                                connection: ConnectionSetup) -> None:
    ConnectionSetup.objects.filter(pk=connection.pk).update(item_availability_enabled=True)
    response = admin_client.post(reverse("connections:connection-settings", args=[connection.pk]),
                                 {"unit_group_mapping_enabled": "on"})
    body = response.content.decode()
    assert "Saved: Automatically synchronize item availability turned off." in body
    assert "turned on" not in body
    connection.refresh_from_db()
    assert not connection.item_availability_enabled
    response = admin_client.post(reverse("connections:connection-settings", args=[connection.pk]),
                                 {"unit_group_mapping_enabled": "on", "item_availability_enabled": "on"})
    assert "Saved: Automatically synchronize item availability turned on." in response.content.decode()


def test_refused_settings_save_has_a_message_at_the_top(admin_client: Any, connection: ConnectionSetup) -> None:
    response = admin_client.post(reverse("connections:connection-settings", args=[connection.pk]), {
        "unit_group_mapping_enabled": "on", "legacy_sales_order_integration": "on",
        "bidirectional_sales_order_integration": "on"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "The Sales settings were not saved:" in body
    _messages_then(body, reverse("connections:connection-settings", args=[connection.pk]))


def test_refused_edit_has_a_message_at_the_top(admin_client: Any, connection: ConnectionSetup) -> None:
    response = admin_client.post(reverse("connections:connection-edit", args=[connection.pk]), {"name": ""})
    body = response.content.decode()
    assert "Nothing was saved: correct the fields marked below." in body
    _messages_then(body, 'name="dataverse_url"')
