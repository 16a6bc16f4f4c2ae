"""Test Connection checks what Business Central needs beyond the company: the companion extension (its version on the
``integrationInfo`` page) and every API page and field the mappings use, in a few requests. Against a second emulator
process started with ``--bc-extension absent`` (404 on the whole custom route), ``setup_connection --enable`` and the
connection test page name the missing extension and the fix."""
from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from connections.bc_requirements import INSTALL_FIX, PERMISSION_FIX, UPDATE_FIX, BCEndpoint, _endpoint_problem
from connections.clients.businesscentral import REQUIRED_EXTENSION_VERSION, extension_version_problem
from connections.clients.errors import error_for_status
from connections.diagnostics import CheckReport, connection_test
from connections.models import ConnectionSetup
from connections.solution import solution_package
from mappings.bc_endpoints import bc_endpoints_required
from mappings.catalogue import BC_TABLES, BCField
from mappings.models import IntegrationFieldMapping, IntegrationTableMapping
from portal.testing.pytest_plugin import allow_outbound_origin
from syncjobs.defaults import default_configuration_reset
from tests.connections.conftest import admin_dataverse, emulator_setup_data

pytestmark = pytest.mark.django_db

EXTENSION = "Business Central companion extension"
PAGES = "Business Central API pages and fields"
APP_JSON = Path(__file__).resolve().parents[2] / "bc-extension" / "app.json"


@pytest.fixture(scope="module")
def absent_emulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A second emulator process whose BC tenant lacks the companion extension."""
    from emulators.testing import start_emulators

    running = start_emulators(tmp_path_factory.mktemp("emulators-no-extension"), seed="demo", bc_extension=False)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def absent_info(absent_emulators: Any, settings: Any) -> dict[str, Any]:
    absent_emulators.reset()
    settings.OUTBOUND_CA_BUNDLE = absent_emulators.info["ca_bundle"]
    allow_outbound_origin(absent_emulators.info["dataverse_url"])
    return absent_emulators.info


def _step(report: CheckReport, name: str) -> Any:
    return next(step for step in report.steps if step.name == name)


def _bc_requests(emulators: Any) -> int:
    return int(emulators.state()["requests"]["businesscentral"])


def test_setup_connection_enable_exits_non_zero_naming_the_extension(absent_info: dict[str, Any],
                                                                     tmp_path: Path) -> None:
    line = tmp_path / "emulator.json"
    line.write_text(json.dumps(absent_info) + "\n")
    out = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("setup_connection", "--from-emulator", str(line), "--enable", stdout=out)
    assert "Setup failed at “Test connection”" in str(failure.value)
    assert "companion extension is not installed" in str(failure.value)
    assert INSTALL_FIX in str(failure.value)
    assert "fix: " + INSTALL_FIX in out.getvalue()
    assert not ConnectionSetup.objects.get().is_enabled


def test_connection_test_page_names_the_missing_extension(absent_info: dict[str, Any], absent_emulators: Any,
                                                          admin_client: Any, admin_user: Any) -> None:
    from connections.actions.configuration import connection_save

    connection = connection_save(connection=None, user=admin_user, data=emulator_setup_data(absent_info))
    default_configuration_reset(connection=connection)
    before = _bc_requests(absent_emulators)

    page = admin_client.post(reverse("connections:connection-test", args=[connection.pk]), follow=True)

    html = page.content.decode()
    assert page.status_code == 200
    assert "companion extension is not installed" in html and INSTALL_FIX in html
    connection.refresh_from_db()
    report = CheckReport.from_dict(connection.last_test_report)
    assert _step(report, EXTENSION).ok is False and _step(report, EXTENSION).layer == "business central"
    # the custom route is not probed page by page once it is known to be missing; API v2.0 pages still answer
    assert _step(report, PAGES).ok is True and "were not checked: it is not installed" in _step(report, PAGES).message
    assert _bc_requests(absent_emulators) - before <= 5


def test_with_the_extension_every_page_and_field_answers_in_few_requests(emulated_connection: ConnectionSetup,
                                                                         emulator_info: dict[str, Any],
                                                                         emulator: Any) -> None:
    admin_dataverse(emulator_info).import_solution(solution_package())
    default_configuration_reset(connection=emulated_connection)
    endpoints = bc_endpoints_required(connection=emulated_connection)
    assert {("custom", "priceListLines"), ("custom", "items"), ("v2.0", "currencies")} <= {
        (e.api, e.entity_set) for e in endpoints}
    before = _bc_requests(emulator)

    report = connection_test(connection=emulated_connection, timeout=10, check_roles=False, bc_endpoints=endpoints)

    assert report.ok, report.as_dict()
    assert _step(report, EXTENSION).message.startswith(f"Version {REQUIRED_EXTENSION_VERSION} is installed")
    assert f"{len(endpoints)} API pages" in _step(report, PAGES).message
    # companies, companyInformation, integrationInfo and one $batch per API route, however many mappings
    assert _bc_requests(emulator) - before <= 5, _bc_requests(emulator) - before


@pytest.mark.parametrize(("change", "expected", "fix"), [
    ("field", "Field `shelfNumber` not found on `items` (used by ITEM-PRODUCT)", UPDATE_FIX),
    ("page", "Business Central API page `itemShelves` not found (used by ITEM-PRODUCT)", UPDATE_FIX),
])
def test_a_page_or_field_the_extension_lacks_is_named(emulated_connection: ConnectionSetup,
                                                      monkeypatch: pytest.MonkeyPatch, change: str, expected: str,
                                                      fix: str) -> None:
    item = BC_TABLES["Item"]
    if change == "field":
        monkeypatch.setitem(BC_TABLES, "Item", replace(item, fields=(*item.fields, BCField(
            "Shelf No.", "shelfNumber", "code", extension=True))))
    else:
        monkeypatch.setitem(BC_TABLES, "Item", replace(item, entity_set="itemShelves"))
    default_configuration_reset(connection=emulated_connection)
    mapping = IntegrationTableMapping.objects.get(connection=emulated_connection, name="ITEM-PRODUCT")
    IntegrationFieldMapping.objects.create(table_mapping=mapping, sequence=999, field_name="Shelf No.",
                                           integration_field_name="size", direction="ToIntegrationTable")

    report = connection_test(connection=emulated_connection, timeout=10, check_roles=False,
                             bc_endpoints=bc_endpoints_required(connection=emulated_connection))

    step = _step(report, PAGES)
    assert step.ok is False and step.layer == "business central"
    assert expected in step.message and fix in step.fix
    assert _step(report, EXTENSION).ok is True


def test_a_missing_permission_names_the_permission_set() -> None:
    # The emulator has no BC permission model to take the permission set away; BC answers 403 as below (Microsoft
    # Learn: "Business Central error codes", Authorization_InsufficientPermissions).
    denied = error_for_status(service="businesscentral", status=403, code="Authorization_InsufficientPermissions",
                              message="You do not have the following permissions on TableData Price List Line: Read.")
    problem = _endpoint_problem(BCEndpoint("custom", "priceListLines", ("id",), ("PLLINE-PRODPRICE",)), denied,
                                extension_installed=True)
    assert problem.layer == "privilege" and problem.fix == PERMISSION_FIX
    assert "`priceListLines` (used by PLLINE-PRODPRICE)" in problem.message
    assert "BCPORTAL INTEGRATION" in PERMISSION_FIX and "Microsoft Entra Applications" in PERMISSION_FIX


@pytest.mark.parametrize(("installed", "fits"), [
    ("1.0.0.0", True), ("1.3.2.0", True), ("2.0.0.0", False), ("0.9.0.0", False), ("", False), ("abc", False),
])
def test_extension_version_rule(installed: str, fits: bool) -> None:
    assert (extension_version_problem(installed, "1.0.0.0") == "") is fits
    assert extension_version_problem("1.1.0.0", "1.2.0.0") == \
        "version 1.1.0.0 is installed; this portal needs 1.2 or a later 1.x"


def test_the_required_version_is_the_shipped_extension_version() -> None:
    shipped = json.loads(APP_JSON.read_text())["version"]
    assert extension_version_problem(shipped) == ""
