"""The assisted setup wizard never stores a raw secret in its session row, never renders one back, never logs one;
a failed finish keeps what was entered (secrets encrypted) and leaves the connection disabled."""
from __future__ import annotations

import logging
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse

from connections.models import ConnectionSetup

pytestmark = pytest.mark.django_db

SECRETS = {
    "client_secret": "wizard-client-secret-5b1f",
    "password": "wizard-user-password-77aa",
    "admin_password": "wizard-admin-password-c3d9",
    "bc_client_secret": "wizard-bc-secret-0e4e",
    "bc_access_key": "wizard-bc-access-key-91f0",
}

STEPS: list[tuple[str, dict[str, str]]] = [
    ("environment", {"dataverse_url": "https://nonexistent.invalid"}),
    ("signin", {"authentication_type": "ClientSecret", "tenant_id": "contoso.onmicrosoft.com",
                "authority_host": "https://login.microsoftonline.com",
                "custom_authority_host": "https://nonexistent.invalid", "client_id": "app-id",
                "client_secret": SECRETS["client_secret"], "password": SECRETS["password"],
                "admin_username": "admin@contoso.com", "admin_password": SECRETS["admin_password"]}),
    ("businesscentral", {"bc_api_url": "https://nonexistent.invalid/api/v2.0", "bc_authentication_type": "OAuth",
                         "bc_client_id": "bc-app", "bc_client_secret": SECRETS["bc_client_secret"],
                         "bc_access_key": SECRETS["bc_access_key"]}),
    ("options", {"import_solution": "on", "web_api_version": "9.2", "enable": "on",
                 "unit_group_mapping_enabled": "on"}),
    ("ownership", {"ownership_model": "Team"}),
    ("review", {"confirm": "on"}),
]


def _post_step(client: Any, step: str, values: dict[str, str]) -> Any:
    data = {"connection_setup_wizard-current_step": step}
    data.update({f"{step}-{name}": value for name, value in values.items()})
    return client.post(reverse("connections:connection-wizard"), data)


def _session_text() -> str:
    return " ".join(str(session.get_decoded()) + session.session_data for session in Session.objects.all())


def test_secrets_never_reach_session_rows_pages_or_logs(admin_client: Any, caplog: pytest.LogCaptureFixture,
                                                         settings: Any) -> None:
    caplog.set_level(logging.DEBUG)
    bodies = [admin_client.get(reverse("connections:connection-wizard")).content.decode()]
    for step, values in STEPS:
        response = _post_step(admin_client, step, values)
        assert response.status_code == 200, response.content.decode()[:2000]
        bodies.append(response.content.decode())
        stored = _session_text()
        for name, secret in SECRETS.items():
            assert secret not in stored, f"{name} in the session after step {step}"
    finish = bodies[-1]
    assert 'id="finish-checklist"' in finish
    assert "not finished" in finish
    logged = caplog.text + " ".join(str(record.args) for record in caplog.records)
    for name, secret in SECRETS.items():
        assert all(secret not in body for body in bodies), f"{name} rendered"
        assert secret not in logged, f"{name} logged"
    # Finish failed (the host does not resolve): the connection stays disabled, and what was typed is kept.
    connection = ConnectionSetup.objects.get()
    assert not connection.is_enabled
    assert connection.client_secret == SECRETS["client_secret"]
    assert connection.bc_client_secret == SECRETS["bc_client_secret"]
    assert connection.dataverse_url == "https://nonexistent.invalid"
    assert connection.authority_host == "https://nonexistent.invalid"
    # The administrator's password is used once and never stored anywhere.
    from django.db import connection as db

    with db.cursor() as cursor:
        cursor.execute("SELECT * FROM connections_connectionsetup")
        row_text = " ".join(str(value) for value in cursor.fetchone())
        cursor.execute("SELECT old_value, new_value FROM connections_connectionsetupchange")
        log_text = " ".join(str(value) for row in cursor.fetchall() for value in row)
    for secret in SECRETS.values():
        assert secret not in row_text and secret not in log_text
    report = connection.last_finish_report
    failed = next(step for step in report["steps"] if step["ok"] is False)
    assert failed["name"] == "Test connection" and failed["layer"] == "dns"
    assert [step["ok"] for step in report["steps"][2:]] == [None, None, None, None]


def test_secret_left_blank_on_a_revisited_step_is_kept(admin_client: Any) -> None:
    for step, values in STEPS[:2]:
        _post_step(admin_client, step, values)
    # Back to sign-in and submit it again without re-typing the secrets (they are never rendered back).
    page = admin_client.post(reverse("connections:connection-wizard"),
                             {"connection_setup_wizard-current_step": "businesscentral",
                              "wizard_goto_step": "signin"}).content.decode()
    assert SECRETS["client_secret"] not in page
    blank = {**STEPS[1][1], "client_secret": "", "admin_password": "", "password": ""}
    _post_step(admin_client, "signin", blank)
    storage = next(s.get_decoded() for s in Session.objects.all()
                   if "wizard_connection_setup_wizard" in s.get_decoded())
    stored = storage["wizard_connection_setup_wizard"]["step_data"]["signin"]["signin-client_secret"][0]
    assert stored.startswith("enc:") and SECRETS["client_secret"] not in stored


def test_options_step_refuses_both_sales_order_modes(admin_client: Any) -> None:
    for step, values in STEPS[:3]:
        _post_step(admin_client, step, values)
    response = _post_step(admin_client, "options", {**STEPS[3][1], "legacy_sales_order_integration": "on",
                                                    "bidirectional_sales_order_integration": "on"})
    body = response.content.decode()
    assert "exclude each other" in body
    assert "Step 4 of 6" in body


def test_after_a_failed_finish_the_wizard_starts_from_what_was_entered(admin_client: Any) -> None:
    for step, values in STEPS:
        _post_step(admin_client, step, values)
    assert not ConnectionSetup.objects.get().is_enabled
    first = admin_client.get(reverse("connections:connection-wizard")).content.decode()
    assert 'value="https://nonexistent.invalid"' in first
    second = _post_step(admin_client, "environment", {"dataverse_url": "https://nonexistent.invalid"}).content.decode()
    assert 'value="contoso.onmicrosoft.com"' in second and 'value="app-id"' in second
    assert SECRETS["client_secret"] not in second
    assert "Leave blank to keep the stored value." in second
