"""Sales settings on the connection setup page: legacy and bi-directional sales orders exclude each other, and
toggles rebuild the affected mappings and job queue entries (BC: codeunit 5334 CRM Setup Defaults,
ResetSalesOrderMappingConfiguration)."""
from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from connections.actions.configuration import connection_sales_settings_update, default_configuration_apply
from connections.models import ConnectionSetup
from mappings.models import IntegrationTableMapping
from syncjobs.models import JobQueueEntry

pytestmark = pytest.mark.django_db

SETTINGS = {"unit_group_mapping_enabled": "on"}


def _post(client: Any, connection: ConnectionSetup, **flags: str) -> Any:
    return client.post(reverse("connections:connection-settings", args=[connection.pk]), {**SETTINGS, **flags})


def test_page_refuses_legacy_and_bidirectional_together(admin_client: Any, connection: ConnectionSetup) -> None:
    response = _post(admin_client, connection, legacy_sales_order_integration="on",
                     bidirectional_sales_order_integration="on")
    assert response.status_code == 400
    assert "exclude each other" in response.content.decode()
    connection.refresh_from_db()
    assert not connection.legacy_sales_order_integration and not connection.bidirectional_sales_order_integration


def test_service_refuses_turning_on_bidirectional_while_legacy_is_on(connection: ConnectionSetup,
                                                                      admin_user: Any) -> None:
    connection_sales_settings_update(connection=connection, user=admin_user,
                                              data={"legacy_sales_order_integration": True})
    with pytest.raises(ValidationError, match="exclude each other"):
        connection_sales_settings_update(connection=connection, user=admin_user,
                                                  data={"legacy_sales_order_integration": True,
                                                        "bidirectional_sales_order_integration": True})
    connection.refresh_from_db()
    assert connection.legacy_sales_order_integration and not connection.bidirectional_sales_order_integration


def test_wizard_options_step_refuses_both(admin_client: Any) -> None:
    from connections.forms import WizardOptionsForm

    form = WizardOptionsForm(data={"legacy_sales_order_integration": "on",
                                   "bidirectional_sales_order_integration": "on", "web_api_version": "9.2"})
    assert not form.is_valid()
    assert "exclude each other" in str(form.errors["bidirectional_sales_order_integration"])


def test_auto_create_needs_legacy(connection: ConnectionSetup, admin_user: Any) -> None:
    with pytest.raises(ValidationError, match="legacy sales order integration only"):
        connection_sales_settings_update(connection=connection, user=admin_user,
                                                  data={"auto_create_sales_orders": True})


def test_toggling_bidirectional_rebuilds_sales_order_mappings_and_jobs(admin_client: Any, connection: ConnectionSetup,
                                                                      admin_user: Any) -> None:
    default_configuration_apply(connection=connection, user=admin_user)
    mappings = IntegrationTableMapping.objects.filter(connection=connection)
    assert not mappings.filter(name="SOLINE-ORDERDETAIL").exists()
    assert not JobQueueEntry.objects.filter(connection=connection,
                                            kind=JobQueueEntry.Kind.ARCHIVED_SALES_ORDERS).exists()
    before = set(mappings.values_list("name", flat=True))

    response = _post(admin_client, connection, bidirectional_sales_order_integration="on")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="rebuilds"' in body and "SOLINE-ORDERDETAIL" in body
    order = mappings.get(name="SALESORDER-ORDER")
    assert order.direction == "Bidirectional"
    assert mappings.filter(name="SOLINE-ORDERDETAIL").exists()
    # the Archived Sales Orders and Sales Order Notes jobs come with bi-directional integration
    assert JobQueueEntry.objects.filter(connection=connection, kind=JobQueueEntry.Kind.ARCHIVED_SALES_ORDERS).exists()
    assert JobQueueEntry.objects.filter(connection=connection, kind=JobQueueEntry.Kind.SALES_ORDER_NOTES).exists()
    # Only the sales order mappings changed.
    assert set(mappings.values_list("name", flat=True)) - before == {"SOLINE-ORDERDETAIL", "SALESORDER-ORDER"} - before

    # Switch to legacy: bi-directional off first (exclusive), SOLINE-ORDERDETAIL and the archive job go away.
    _post(admin_client, connection, legacy_sales_order_integration="on")
    assert not mappings.filter(name="SOLINE-ORDERDETAIL").exists()
    assert mappings.get(name="SALESORDER-ORDER").direction == "ToIntegrationTable"
    assert not JobQueueEntry.objects.filter(connection=connection,
                                            kind=JobQueueEntry.Kind.ARCHIVED_SALES_ORDERS).exists()
    assert not JobQueueEntry.objects.filter(connection=connection, kind=JobQueueEntry.Kind.SALES_ORDER_STATUS).exists()
    actions = list(connection.changes.values_list("action", flat=True))
    assert "Rebuilt mappings and job queue entries" in actions


def test_unit_group_mapping_is_locked_while_enabled(connection: ConnectionSetup, admin_user: Any) -> None:
    ConnectionSetup.objects.filter(pk=connection.pk).update(is_enabled=True)
    connection.refresh_from_db()
    with pytest.raises(ValidationError, match="only while the connection is disabled"):
        connection_sales_settings_update(connection=connection, user=admin_user,
                                                  data={"unit_group_mapping_enabled": False})
    connection.refresh_from_db()
    assert connection.unit_group_mapping_enabled
