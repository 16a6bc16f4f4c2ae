"""The integration roles of the portal's solution are enforced request by request: with only "BC Integration
Administrator" and "BC Integration User" (the Basic User role the emulator seeds for the application user taken
away), the default mappings synchronize; a privilege revoked from both roles is named by Test Connection and fails
the records of its table with Dataverse's 403 while the other mappings go on (Microsoft Learn: "Web service error
codes", 0x80040220 PrivilegeDenied; BC: TestIntegrationUserRequirements)."""
from __future__ import annotations

from typing import Any

import pytest

from connections.diagnostics import connection_test
from connections.solution import INTEGRATION_ROLES, solution_package
from mappings.models import IntegrationTableMapping
from mappings.privileges import table_privileges_required
from syncjobs.engine import synchronize_mapping
from syncjobs.models import SynchronizationError
from tests.connections.conftest import admin_dataverse
from tests.syncjobs.engine.conftest import make_sync_connection

pytestmark = pytest.mark.django_db


def _integration_user_with_solution_roles_only(info: dict[str, Any]) -> None:
    """Import the solution, assign its two integration roles and take the seeded roles away from the application
    user (the integration user of the connection)."""
    admin = admin_dataverse(info)
    admin.import_solution(solution_package())
    user = info["application_user_id"]
    for role_id in INTEGRATION_ROLES:
        admin.associate("systemusers", user, "systemuserroles_association", "roles", role_id)
    for role in admin.iter_rows(f"systemusers({user})/systemuserroles_association", select=["roleid", "name"]):
        if role["roleid"] not in {str(r) for r in INTEGRATION_ROLES}:
            admin.disassociate("systemusers", user, "systemuserroles_association", role["roleid"])
    held = {r["name"] for r in admin.iter_rows(f"systemusers({user})/systemuserroles_association", select=["name"])}
    assert held == set(INTEGRATION_ROLES.values())


def test_revoked_privilege_is_named_and_fails_only_its_table(emulator: Any, settings: Any) -> None:
    connection = make_sync_connection(emulator, settings)
    _integration_user_with_solution_roles_only(emulator.info)
    required = table_privileges_required(connection=connection)
    passed = connection_test(connection=connection, timeout=15, check_roles=False, required_privileges=required)
    privileges = next(s for s in passed.steps if s.name == "Integration user privileges")
    assert privileges.ok, privileges  # the two roles hold what the default mappings need

    for role in INTEGRATION_ROLES.values():
        emulator.privileges(role, revoke=["prvCreateProduct"])
    # (a) Test Connection names the missing privilege and the mappings that need it
    report = connection_test(connection=connection, timeout=15, check_roles=False, required_privileges=required)
    step = report.failed_step
    assert step is not None and step.name == "Integration user privileges", report.as_dict()
    assert len(step.details) == 1 and "prvCreateProduct (Create) on the table 'product'" in step.details[0]
    assert "BC Integration User" in step.details[0] and "grants it" in step.details[0]  # the role that grants it
    assert "ITEM-PRODUCT" in step.details[0]

    # (b) the product mapping logs Dataverse's 403 for each record; the other mappings go on
    def run(name: str) -> list[Any]:
        return synchronize_mapping(mapping=IntegrationTableMapping.objects.get(connection=connection, name=name),
                                   full=True)

    for name in ("CURRENCY", "UNIT OF MEASURE"):
        assert all(job.failed == 0 for job in run(name)), name
    items = run("ITEM-PRODUCT")
    failed = sum(job.failed for job in items)
    assert failed > 0 and sum(job.inserted for job in items) == 0
    errors = list(SynchronizationError.objects.filter(job__in=items))
    assert len(errors) == failed
    assert all("is missing prvCreateProduct privilege" in e.message and "0x80040220" in e.message for e in errors)
    customers = run("CUSTOMER")
    assert sum(job.inserted + job.coupled + job.modified for job in customers) > 0
    # (customers of uncoupled salespeople fail for that reason, as in BC, not for a privilege)
    assert not SynchronizationError.objects.filter(job__in=customers, message__contains="0x80040220").exists()
