"""Test Connection against the emulators for two failure classes produced by the services themselves (not by
constructed errors): a privilege the integration user's role lacks (Dataverse 403 ``0x80040220``, Microsoft Learn:
"Web service error codes") and BC's local currency missing in Dataverse (BC: table 5330 CRM Connection Setup,
EnableCRMConnection: LCY Code must exist as an ISO currency code)."""
from __future__ import annotations

from typing import Any

import pytest

from connections.diagnostics import CheckReport, connection_test
from connections.models import ConnectionSetup
from tests.connections.conftest import admin_dataverse

pytestmark = pytest.mark.django_db


def _test(connection: ConnectionSetup) -> CheckReport:
    return connection_test(connection=connection, timeout=10, check_roles=False)


def test_missing_read_privilege_names_the_privilege_layer_and_fix(emulated_connection: ConnectionSetup,
                                                                  emulator: Any) -> None:
    # The application user holds only "Basic User"; without prvReadTransactionCurrency the base currency cannot
    # be read.
    emulator.privileges("Basic User", revoke=["prvReadTransactionCurrency"])
    report = _test(emulated_connection)
    step = report.failed_step
    assert step is not None and step.name == "Organization settings"
    assert report.failing_layer == "privilege"
    assert step.message.startswith("The integration user lacks the privilege prvReadTransactionCurrency on the "
                                   "table 'transactioncurrency': ")
    assert "0x80040220" in step.message and "roleCount=1" in step.message
    assert "Give the integration user prvReadTransactionCurrency" in step.fix
    assert "Redeploy Integration Solution" in step.fix
    emulated_connection.refresh_from_db()
    assert emulated_connection.last_test_report["steps"][-1]["layer"] == "privilege"
    # granted back: the same test passes
    emulator.privileges("Basic User", grant=["prvReadTransactionCurrency"])
    assert _test(emulated_connection).ok


def test_missing_privilege_while_checking_the_integration_user(emulated_connection: ConnectionSetup,
                                                               emulator: Any) -> None:
    emulator.privileges("Basic User", revoke=["prvReadUser"])
    report = _test(emulated_connection)
    step = next(s for s in report.steps if s.name == "Integration user requirements")
    assert step.ok is False and step.layer == "privilege"
    assert "prvReadUser" in step.message and "prvReadUser" in step.fix
    assert not report.ok


def test_local_currency_missing_in_dataverse_then_added(emulated_connection: ConnectionSetup, emulator: Any,
                                                        emulator_info: dict[str, Any]) -> None:
    emulator.local_currency("DKK")
    report = _test(emulated_connection)
    step = report.failed_step
    assert step is not None and step.name == "Local currency in Dataverse"
    assert report.failing_layer == "currency"
    assert step.message == "The local currency DKK of Business Central is not present in Dataverse."
    assert "Add the currency DKK in Dynamics 365 Sales" in step.fix
    # an administrator adds the currency in Dataverse: Test Connection passes again
    admin_dataverse(emulator_info).create("transactioncurrencies", {
        "isocurrencycode": "DKK", "currencyname": "Danish Krone", "currencysymbol": "kr.", "exchangerate": 6.9,
        "currencyprecision": 2})
    again = _test(emulated_connection)
    assert again.ok, again.as_dict()
    currency = next(s for s in again.steps if s.name == "Local currency in Dataverse")
    assert currency.message == "Local currency DKK exists in Dataverse."


def test_blank_local_currency_code_fails(emulated_connection: ConnectionSetup, emulator: Any) -> None:
    """BC (EnableCRMConnection): General Ledger Setup "LCY Code" must be non-empty."""
    emulator.local_currency("")
    report = _test(emulated_connection)
    assert report.failing_layer == "currency"
    assert report.failed_step.message == "Business Central has no local currency code (LCY Code)."
    assert "General Ledger Setup" in report.failed_step.fix
