"""Test Connection checks the integration user's privileges on the tables of the connection's integration table
mappings, over real HTTP against the emulators (Microsoft Learn: "RetrieveUserPrivileges Function", "EntityMetadata
EntityType", "SecurityPrivilegeMetadata ComplexType"): the requirements are computed by ``mappings.privileges`` and
passed in by the callers above (the Test Connection page, Enable)."""
from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from connections.diagnostics import connection_test
from connections.models import ConnectionSetup
from mappings.models import Direction, IntegrationTableMapping
from mappings.privileges import table_privileges_required
from syncjobs.defaults import default_configuration_reset

pytestmark = pytest.mark.django_db


def test_required_privileges_follow_the_mapping_directions(emulated_connection: ConnectionSetup) -> None:
    assert table_privileges_required(connection=emulated_connection) == {}
    IntegrationTableMapping.objects.create(connection=emulated_connection, name="CUSTOMER", table="Customer",
                                           integration_table="account", direction=Direction.BIDIRECTIONAL)
    IntegrationTableMapping.objects.create(connection=emulated_connection, name="VENDOR", table="Vendor",
                                           integration_table="account", direction=Direction.FROM_INTEGRATION_TABLE)
    IntegrationTableMapping.objects.create(connection=emulated_connection, name="ITEM-PRODUCT", table="Item",
                                           integration_table="product", direction=Direction.TO_INTEGRATION_TABLE)
    # An option mapping (its Dataverse side is the option set column paymenttermscode of account) reads the table only.
    IntegrationTableMapping.objects.create(connection=emulated_connection, name="PAYMENT TERMS",
                                           table="Payment Terms", integration_table="account",
                                           integration_table_uid_field="paymenttermscode", int_tbl_modified_on_field="",
                                           direction=Direction.TO_INTEGRATION_TABLE)
    assert table_privileges_required(connection=emulated_connection) == {
        "account": {"Append": ["CUSTOMER"], "AppendTo": ["CUSTOMER"], "Create": ["CUSTOMER"],
                    "Read": ["CUSTOMER", "PAYMENT TERMS", "VENDOR"], "Write": ["CUSTOMER"]},
        "product": {"Append": ["ITEM-PRODUCT"], "AppendTo": ["ITEM-PRODUCT"], "Create": ["ITEM-PRODUCT"],
                    "Read": ["ITEM-PRODUCT"], "Write": ["ITEM-PRODUCT"]},
    }


def test_missing_read_account_names_privilege_table_and_mapping(emulated_connection: ConnectionSetup,
                                                                emulator: Any) -> None:
    default_configuration_reset(connection=emulated_connection)
    required = table_privileges_required(connection=emulated_connection)
    assert "CUSTOMER" in required["account"]["Read"]
    emulator.privileges("Basic User", revoke=["prvReadAccount"])  # the role the application user holds
    report = connection_test(connection=emulated_connection, timeout=10, check_roles=False,
                             required_privileges=required)
    step = report.failed_step
    assert step is not None and step.name == "Integration user privileges", report.as_dict()
    assert step.layer == "privilege" and not report.ok
    assert step.details == [line for line in step.details if "prvReadAccount" in line] and len(step.details) == 1
    assert "prvReadAccount (Read) on the table 'account', needed by " in step.message
    assert "CUSTOMER" in step.details[0]
    assert "Redeploy Integration Solution" in step.fix and "security roles" in step.fix
    # the later steps still ran
    assert any(s.name == "Local currency in Dataverse" and s.ok for s in report.steps)
    emulator.privileges("Basic User", grant=["prvReadAccount"])
    again = connection_test(connection=emulated_connection, timeout=10, check_roles=False,
                            required_privileges=required)
    assert again.ok, again.as_dict()
    passed = next(s for s in again.steps if s.name == "Integration user privileges")
    assert passed.ok and f"on {len(required)} table(s)" in passed.message


def test_without_mappings_no_privilege_step(emulated_connection: ConnectionSetup) -> None:
    report = connection_test(connection=emulated_connection, timeout=10, check_roles=False,
                             required_privileges=table_privileges_required(connection=emulated_connection))
    assert not any(s.name == "Integration user privileges" for s in report.steps)


def test_test_connection_page_checks_the_mappings_privileges(admin_client: Any, emulated_connection: ConnectionSetup,
                                                             emulator: Any) -> None:
    default_configuration_reset(connection=emulated_connection)
    emulator.privileges("Basic User", revoke=["prvReadAccount"])
    response = admin_client.post(reverse("connections:connection-test", args=[emulated_connection.pk]))
    assert response.status_code == 302
    text = " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert "Integration user privileges" in text
    assert "prvReadAccount" in text and "'account'" in text and "CUSTOMER" in text
    emulated_connection.refresh_from_db()
    steps = {s["name"]: s for s in emulated_connection.last_test_report["steps"]}
    assert steps["Integration user privileges"]["ok"] is False
