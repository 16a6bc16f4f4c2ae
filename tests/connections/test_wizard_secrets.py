"""The assisted setup wizard never stores a raw secret in its session row, never renders one back, never logs one,
never puts one in Redis (Finish runs on a worker that gets the action's id only); a failed finish keeps what was
entered (secrets encrypted) and leaves the connection disabled."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse

from connections.models import ConnectionAction, ConnectionSetup
from tests.connections.test_connection_actions import emptied_default_queue, work

pytestmark = pytest.mark.django_db


@pytest.fixture
def default_queue(db: Any) -> Iterator[Any]:
    """The emptied RQ ``default`` queue the connection actions are enqueued on."""
    yield from emptied_default_queue()

SECRETS = {
    "client_secret": "wizard-client-secret-5b1f",
    "password": "wizard-user-password-77aa",
    "bc_client_secret": "wizard-bc-secret-0e4e",
    "bc_access_key": "wizard-bc-access-key-91f0",
}

STEPS: list[tuple[str, dict[str, str]]] = [
    ("environment", {"dataverse_url": "https://nonexistent.invalid"}),
    ("signin", {"authentication_type": "ClientSecret", "tenant_id": "contoso.onmicrosoft.com",
                "authority_host": "https://login.microsoftonline.com",
                "custom_authority_host": "https://nonexistent.invalid", "client_id": "app-id",
                "client_secret": SECRETS["client_secret"], "password": SECRETS["password"]}),
    ("businesscentral", {"bc_api_url": "https://nonexistent.invalid/api/v2.0", "bc_authentication_type": "OAuth",
                         "bc_client_id": "bc-app", "bc_client_secret": SECRETS["bc_client_secret"],
                         "bc_access_key": SECRETS["bc_access_key"]}),
    # Without the solution import, Finish starts at once (with it, the administrator signs in with Microsoft first).
    ("options", {"web_api_version": "9.2", "enable": "on", "unit_group_mapping_enabled": "on"}),
    ("ownership", {"ownership_model": "Team"}),
    ("review", {"confirm": "on"}),
]


def wizard_steps_for_emulator(info: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    """The wizard's steps filled in for the emulators (Team ownership, solution import and enable ticked)."""
    from urllib.parse import urlsplit

    authority = urlsplit(info["entra_authority"])
    return [
        ("environment", {"dataverse_url": info["dataverse_url"]}),
        ("signin", {"authentication_type": "ClientSecret", "tenant_id": info["tenant_id"],
                    "authority_host": "https://login.microsoftonline.com",
                    "custom_authority_host": f"{authority.scheme}://{authority.netloc}",
                    "client_id": info["client_id"], "client_secret": info["client_secret"]}),
        ("businesscentral", {"bc_api_url": info["bc_api_url"], "bc_company": info["bc_companies"][0]["id"],
                             "bc_authentication_type": "OAuth"}),
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


@pytest.mark.django_db(transaction=True)
def test_secrets_never_reach_session_rows_pages_redis_or_logs(admin_client: Any, caplog: pytest.LogCaptureFixture,
                                                              settings: Any, default_queue: Any) -> None:
    caplog.set_level(logging.DEBUG)
    bodies = [admin_client.get(reverse("connections:connection-wizard")).content.decode()]
    for step, values in STEPS:
        response = _post_step(admin_client, step, values)
        expected = 302 if step == "review" else 200  # Finish redirects to the action's status page
        assert response.status_code == expected, response.content.decode()[:2000]
        bodies.append(response.content.decode())
        stored = _session_text()
        for name, secret in SECRETS.items():
            assert secret not in stored, f"{name} in the session after step {step}"
    from tests.connections.test_connection_actions_emulator import redis_text

    queued = redis_text(default_queue.connection)
    # Finish runs on a worker: the job (the action's id only) is queued, nothing remote ran in the request.
    action = ConnectionAction.objects.get()
    assert action.status == ConnectionAction.Status.QUEUED and not ConnectionSetup.objects.get().last_finish_report
    work(default_queue)
    finish = admin_client.get(response["Location"]).content.decode()
    bodies.append(finish)
    assert 'id="finish-checklist"' in finish
    assert 'data-status="Failed"' in finish
    logged = caplog.text + " ".join(str(record.args) for record in caplog.records)
    for name, secret in SECRETS.items():
        assert secret.encode() not in queued, f"{name} in Redis"
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
    # Nothing secret reached the action's row (it carries no administrator token without the solution import).
    from django.db import connection as db

    with db.cursor() as cursor:
        cursor.execute("SELECT * FROM connections_connectionsetup")
        row_text = " ".join(str(value) for value in cursor.fetchone())
        cursor.execute("SELECT old_value, new_value FROM connections_connectionsetupchange")
        log_text = " ".join(str(value) for row in cursor.fetchall() for value in row)
        cursor.execute("SELECT admin_username, admin_password, options, report FROM connections_connectionaction")
        action_text = " ".join(str(value) for value in cursor.fetchone())
    for secret in SECRETS.values():
        assert secret not in row_text and secret not in log_text and secret not in action_text
    action.refresh_from_db()
    assert (action.admin_username, action.admin_password) == ("", "")
    assert action.options == {"import_solution": False, "enable": True}
    report = connection.last_finish_report
    assert report == action.report
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
    blank = {**STEPS[1][1], "client_secret": "", "password": ""}
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


@pytest.mark.django_db(transaction=True)
def test_after_a_failed_finish_the_wizard_starts_from_what_was_entered(admin_client: Any,
                                                                       default_queue: Any) -> None:
    for step, values in STEPS:
        _post_step(admin_client, step, values)
    work(default_queue)
    assert ConnectionAction.objects.get().status == ConnectionAction.Status.FAILED
    assert not ConnectionSetup.objects.get().is_enabled
    first = admin_client.get(reverse("connections:connection-wizard")).content.decode()
    assert 'value="https://nonexistent.invalid"' in first
    second = _post_step(admin_client, "environment", {"dataverse_url": "https://nonexistent.invalid"}).content.decode()
    assert 'value="contoso.onmicrosoft.com"' in second and 'value="app-id"' in second
    assert SECRETS["client_secret"] not in second
    assert "Leave blank to keep the stored value." in second
