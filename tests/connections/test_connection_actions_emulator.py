"""Finish on an RQ worker against the emulators (rq's SimpleWorker in this process, burst mode): the checklist is
written into the action's row step by step; a successful Finish leaves the connection enabled with the solution
imported, the roles assigned, the default mappings and job queue entries; a failing one ends Failed with the step and
its fix, the connection disabled and what was entered kept. The administrator's access token (from the sign-in with
Microsoft) is blanked in the row by the task and never reaches Redis or a page."""
from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse

from connections.actions import runner
from connections.actions.configuration import connection_save
from connections.actions.queue import connection_action_enqueue
from connections.diagnostics import CheckReport
from connections.models import ConnectionAction, ConnectionSetup
from connections.solution import INTEGRATION_ROLES
from tests.connections.admin_signin import HOST, admin_tokens_for, callback_after_sign_in
from tests.connections.conftest import emulator_setup_data
from tests.connections.test_connection_actions import emptied_default_queue, work
from tests.connections.test_setup_connection_emulator import setup_state

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def default_queue(db: Any) -> Iterator[Any]:
    """The emptied RQ ``default`` queue the connection actions are enqueued on."""
    yield from emptied_default_queue()


Kind = ConnectionAction.Kind
Status = ConnectionAction.Status


def redis_text(redis: Any) -> bytes:
    """Every key and value of the Redis database, with RQ's compressed job payloads decompressed."""
    chunks: list[bytes] = []
    for key in redis.scan_iter():
        chunks.append(key)
        kind = redis.type(key)
        values: list[bytes] = []
        if kind == b"string":
            values = [redis.get(key)]
        elif kind == b"hash":
            values = [item for pair in redis.hgetall(key).items() for item in pair]
        elif kind == b"list":
            values = redis.lrange(key, 0, -1)
        elif kind == b"set":
            values = list(redis.smembers(key))
        elif kind == b"zset":
            values = redis.zrange(key, 0, -1)
        for value in values:
            chunks.append(value)
            try:
                chunks.append(zlib.decompress(value))
            except zlib.error:
                pass
    return b"\n".join(chunks)


def raw_action_row(action: ConnectionAction) -> str:
    from django.db import connection as db

    with db.cursor() as cursor:
        cursor.execute("SELECT * FROM connections_connectionaction WHERE id = %s", [action.pk.hex])
        row = cursor.fetchone()
        if row is None:  # PostgreSQL stores the uuid natively
            cursor.execute("SELECT * FROM connections_connectionaction WHERE id = %s", [str(action.pk)])
            row = cursor.fetchone()
    return " ".join(str(value) for value in row)


def test_finish_on_a_worker_sets_the_connection_up_step_by_step(
        admin_client: Any, emulated_connection: ConnectionSetup, emulator_info: dict[str, Any], admin_user: Any,
        default_queue: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    password = admin_tokens_for(emulator_info).token(emulator_info["dataverse_url"] + "/.default")  # the admin's token
    action = connection_action_enqueue(
        connection=emulated_connection, kind=Kind.FINISH, user=admin_user, admin_account=emulator_info["admin_user"],
        admin_token=password, options={"import_solution": True, "enable": True})
    # Queued: the token is in the row only encrypted, and nowhere in Redis (the job carries the id only).
    assert password not in raw_action_row(action)
    assert password.encode() not in redis_text(default_queue.connection)
    assert str(action.pk).encode() in redis_text(default_queue.connection)

    seen: list[tuple[str, int]] = []
    write = runner._progress_writer

    def recording_writer(running: ConnectionAction) -> Any:
        inner = write(running)

        def progress(report: CheckReport) -> None:
            inner(report)
            row = ConnectionAction.objects.get(pk=running.pk)
            seen.append((row.status, len(row.report.get("steps", []))))
            assert row.admin_password == "" and row.admin_username == ""  # blanked before the first remote call

        return progress

    monkeypatch.setattr(runner, "_progress_writer", recording_writer)
    work(default_queue)

    action.refresh_from_db()
    steps = action.report["steps"]
    assert action.status == Status.SUCCEEDED, steps
    assert action.message == "The assisted setup finished." and action.started_at and action.finished_at
    for name in ("Save the connection setup", "Test connection", "Integration user requirements",
                 "Import the integration solution and assign roles", "Default configuration", "Enable the connection"):
        assert next(s for s in steps if s["name"] == name)["ok"] is True, steps
    # The row was updated after each step while Running, not only at the end.
    counts = [count for status, count in seen if status == Status.RUNNING]
    assert len(set(counts)) >= 5 and counts == sorted(counts)
    assert action.admin_username == "" and action.admin_password == ""
    assert password not in raw_action_row(action)

    state = setup_state(emulator_info)
    assert state["enabled"] and state["solution_installed"]
    assert {str(role_id) for role_id in INTEGRATION_ROLES} <= state["roles"]
    assert {"CUSTOMER", "CONTACT", "ITEM-PRODUCT"} <= {name for name, _ in state["mappings"]}
    assert state["jobs"]

    page = admin_client.get(reverse("connections:connectionaction-detail", args=[emulated_connection.pk, action.pk]))
    body = page.content.decode()
    assert 'data-status="Succeeded"' in body and 'li class="step-ok" data-step="Enable the connection"' in body
    assert "Open the full synchronization review" in body and password not in body
    data = admin_client.get(reverse("connections:connectionaction-status",
                                    args=[emulated_connection.pk, action.pk])).json()
    assert data["done"] and data["ok"] and data["waiting"] == "" and data["pending"] == []
    assert password.encode() not in redis_text(default_queue.connection)


def test_a_failing_finish_ends_failed_with_the_step_and_fix_and_keeps_the_data(
        admin_client: Any, emulator_info: dict[str, Any], admin_user: Any, default_queue: Any) -> None:
    connection = connection_save(connection=None, user=admin_user, data=emulator_setup_data(
        emulator_info, client_secret="not-the-secret"))
    token = admin_tokens_for(emulator_info).token(emulator_info["dataverse_url"] + "/.default")
    action = connection_action_enqueue(
        connection=connection, kind=Kind.FINISH, user=admin_user, admin_account=emulator_info["admin_user"],
        admin_token=token, options={"import_solution": True, "enable": True})
    work(default_queue)

    action.refresh_from_db()
    assert action.status == Status.FAILED
    assert action.message == "The assisted setup stopped at \u201cTest connection\u201d."
    failed = next(s for s in action.report["steps"] if s["ok"] is False)
    assert failed["name"] == "Test connection" and "AADSTS7000215" in failed["message"]
    assert failed["layer"] == "auth" and "secret" in failed["fix"].lower()
    assert [s["ok"] for s in action.report["steps"][2:]] == [None, None, None, None]
    assert action.admin_password == "" and action.admin_username == ""
    connection.refresh_from_db()
    assert not connection.is_enabled and connection.client_secret == "not-the-secret"
    assert connection.dataverse_url == emulator_info["dataverse_url"]
    assert not connection.mappings.exists()

    body = admin_client.get(reverse("connections:connectionaction-detail",
                                    args=[connection.pk, action.pk])).content.decode()
    assert 'data-status="Failed"' in body and 'id="action-failed">' in body
    assert f"Test connection: {failed['fix']}" in body
    assert token not in body and "not-the-secret" not in body


def test_the_wizard_finish_saves_then_queues_and_the_worker_finishes(
        admin_client: Any, emulator_info: dict[str, Any], default_queue: Any, settings: Any) -> None:
    from tests.connections.test_wizard_secrets import wizard_steps_for_emulator

    settings.ALLOWED_HOSTS = [HOST]
    response = None
    for step, values in wizard_steps_for_emulator(emulator_info):
        response = admin_client.post(reverse("connections:connection-wizard"),
                                     {"connection_setup_wizard-current_step": step,
                                      **{f"{step}-{name}": value for name, value in values.items()}}, HTTP_HOST=HOST)
    # Finish saved, then sent the browser to Microsoft's sign-in for the solution import; the callback queues it.
    assert not ConnectionAction.objects.exists() and ConnectionSetup.objects.get().client_id
    response = callback_after_sign_in(admin_client, response, emulator_info)
    connection = ConnectionSetup.objects.get()
    action = ConnectionAction.objects.get()
    assert response is not None and response.status_code == 302 and response["Location"] == reverse(
        "connections:connectionaction-detail", args=[connection.pk, action.pk])
    # Saved in the request, nothing remote yet.
    assert action.status == Status.QUEUED and connection.client_secret == emulator_info["client_secret"]
    assert connection.last_finish_report == {} and connection.last_tested_at is None
    assert emulator_info["admin_password"].encode() not in redis_text(default_queue.connection)

    work(default_queue)
    action.refresh_from_db()
    connection.refresh_from_db()
    assert action.status == Status.SUCCEEDED, action.report
    assert connection.is_enabled and connection.is_solution_installed and connection.mappings.exists()
    assert connection.last_finish_report["ok"] is True
