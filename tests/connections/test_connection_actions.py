"""Finish, Enable and Redeploy Integration Solution run on an RQ worker, not in the web request: the views write a
ConnectionAction row and enqueue its id; a second request while one is queued or running gets the running one; the
status page and its JSON show the checklist, and what a queued action waits for; a task that raises ends Failed.
These tests never work the queue against a remote service (see test_connection_actions_emulator.py for that)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse
from rq import SimpleWorker

from connections import tasks
from connections.actions import runner
from connections.actions.queue import connection_action_enqueue
from connections.diagnostics import CheckReport, CheckStep
from connections.models import ConnectionAction, ConnectionSetup

Kind = ConnectionAction.Kind
Status = ConnectionAction.Status
ADMIN_TOKEN = "redeploy-admin-token-4c2e"


def emptied_default_queue() -> Iterator[Any]:
    """The RQ ``default`` queue on this test process's embedded Redis, emptied before and after the test (the body of
    the ``default_queue`` fixture of this module and of the other modules running connection actions)."""
    import django_rq

    queue = django_rq.get_queue("default")
    queue.connection.flushdb()
    yield queue
    queue.connection.flushdb()


@pytest.fixture
def default_queue(db: Any) -> Iterator[Any]:
    """The emptied RQ ``default`` queue (see :func:`emptied_default_queue`)."""
    yield from emptied_default_queue()


def work(queue: Any) -> None:
    """Run every job on ``queue`` in this process (rq's SimpleWorker, burst mode), as an RQ worker would."""
    SimpleWorker([queue], connection=queue.connection).work(burst=True)


def action_url(action: ConnectionAction) -> str:
    return reverse("connections:connectionaction-detail", args=[action.connection_id, action.pk])


@pytest.mark.django_db(transaction=True)
def test_enable_view_enqueues_and_returns_without_calling_out(admin_client: Any, connection: ConnectionSetup,
                                                               default_queue: Any) -> None:
    response = admin_client.post(reverse("connections:connection-enable", args=[connection.pk]))
    action = ConnectionAction.objects.get()
    assert response.status_code == 302 and response["Location"] == action_url(action)
    assert (action.kind, action.status, action.requested_by.username) == (Kind.ENABLE, Status.QUEUED, "admin")
    # No Test Connection ran in the request: it would have stored its report and time on the connection.
    connection.refresh_from_db()
    assert connection.last_tested_at is None and connection.last_test_report == {}
    assert not connection.is_enabled
    # The job carries the action's id only.
    job = default_queue.jobs[0]
    assert job.id == action.rq_job_id and job.args == (str(action.pk),) and job.kwargs == {}
    assert job.func_name == "connections.tasks.run_connection_action"


@pytest.mark.django_db(transaction=True)
def test_status_page_and_json_of_a_queued_action_say_no_worker_is_running(
        admin_client: Any, connection: ConnectionSetup, default_queue: Any) -> None:
    page = admin_client.post(reverse("connections:connection-enable", args=[connection.pk]), follow=True)
    body = page.content.decode()
    assert "Enable started on a worker" in body
    assert 'id="action-outcome"' in body and 'data-status="Queued"' in body
    assert "Waiting for a worker: start one with `python manage.py rqworker default sync`" in body
    assert "connections/action.js" in body
    action = ConnectionAction.objects.get()
    data = admin_client.get(reverse("connections:connectionaction-status", args=[connection.pk, action.pk])).json()
    assert data["status"] == "Queued" and data["active"] and not data["done"]
    assert data["waiting"].startswith("Waiting for a worker: start one with `python manage.py rqworker default sync`")
    assert data["steps"] == []


@pytest.mark.django_db(transaction=True)
def test_a_second_request_while_one_is_queued_returns_the_running_action(
        admin_client: Any, connection: ConnectionSetup, admin_user: Any, default_queue: Any) -> None:
    first = admin_client.post(reverse("connections:connection-enable", args=[connection.pk]))
    # What the sign-in callback does for a Redeploy while Enable is still queued.
    second = connection_action_enqueue(connection=connection, kind=Kind.REDEPLOY, user=admin_user,
                                       admin_account="admin@contoso.com", admin_token=ADMIN_TOKEN)
    action = ConnectionAction.objects.get()
    assert first["Location"] == action_url(action)
    assert not second.created and second.pk == action.pk
    page = admin_client.get(action_url(action)).content.decode()
    assert "Enable" in page and len(default_queue) == 1
    # Nothing of the refused redeploy was kept: no second row, no token.
    assert action.kind == Kind.ENABLE and action.admin_password == "" and action.admin_username == ""


@pytest.mark.django_db(transaction=True)
def test_concurrent_enqueue_returns_the_running_action(connection: ConnectionSetup, admin_user: Any,
                                                       default_queue: Any) -> None:
    first = connection_action_enqueue(connection=connection, kind=Kind.ENABLE, user=admin_user)
    assert first.created
    assert runner.connection_action_claim(action_id=str(first.pk)) is not None  # a worker took it: Running
    again = connection_action_enqueue(connection=connection, kind=Kind.FINISH, user=admin_user,
                                               options={"enable": True})
    assert not again.created and again.pk == first.pk and again.status == Status.RUNNING
    assert ConnectionAction.objects.count() == 1 and len(default_queue) == 1
    # The database refuses a second active action even past the service (partial unique constraint).
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        ConnectionAction.objects.create(connection=connection, kind=Kind.ENABLE)


@pytest.mark.django_db(transaction=True)
def test_a_claimed_action_is_not_run_twice(connection: ConnectionSetup, admin_user: Any, default_queue: Any) -> None:
    action = connection_action_enqueue(connection=connection, kind=Kind.ENABLE, user=admin_user)
    assert runner.connection_action_claim(action_id=str(action.pk)) is not None
    assert runner.connection_action_claim(action_id=str(action.pk)) is None
    assert tasks.run_connection_action(str(action.pk)) == "not claimed"
    action.refresh_from_db()
    assert action.status == Status.RUNNING and action.report == {}


@pytest.mark.django_db(transaction=True)
def test_a_task_that_raises_ends_failed_with_the_error_and_wipes_the_credentials(
        connection: ConnectionSetup, admin_user: Any, default_queue: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(**kwargs: Any) -> CheckReport:
        signed_in = CheckStep("Administrator sign-in", True, "Signed in.")
        kwargs["progress"](CheckReport(steps=[signed_in]))
        raise RuntimeError("database went away")

    monkeypatch.setattr(runner, "integration_solution_import", explode)
    action = connection_action_enqueue(connection=connection, kind=Kind.REDEPLOY, user=admin_user,
                                       admin_account="admin@contoso.com", admin_token=ADMIN_TOKEN)
    work(default_queue)
    action.refresh_from_db()
    assert action.status == Status.FAILED and action.finished_at is not None
    assert action.message == "The action stopped with an unexpected error: RuntimeError."
    steps = action.report["steps"]
    assert [(s["name"], s["ok"]) for s in steps] == [("Administrator sign-in", True), ("Unexpected error", False)]
    assert steps[-1]["message"] == "RuntimeError: database went away" and steps[-1]["layer"] == "unexpected"
    assert action.admin_username == "" and action.admin_password == ""
    # A new action may start now that this one has ended.
    assert connection_action_enqueue(connection=connection, kind=Kind.ENABLE, user=admin_user).created


@pytest.mark.django_db(transaction=True)
def test_an_action_whose_job_is_lost_is_failed_and_a_new_one_starts(
        connection: ConnectionSetup, admin_user: Any, default_queue: Any) -> None:
    from datetime import timedelta

    lost = connection_action_enqueue(connection=connection, kind=Kind.ENABLE, user=admin_user)
    default_queue.connection.flushdb()  # Redis emptied: the job is gone
    ConnectionAction.objects.filter(pk=lost.pk).update(created_at=lost.created_at - timedelta(minutes=5))
    fresh = connection_action_enqueue(connection=connection, kind=Kind.ENABLE, user=admin_user)
    assert fresh.created and fresh.pk != lost.pk
    lost.refresh_from_db()
    assert lost.status == Status.FAILED and "no longer exists" in lost.message
    assert lost.report["steps"][-1]["layer"] == "worker"


@pytest.mark.django_db(transaction=True)
def test_the_scheduler_fails_an_action_whose_worker_was_killed(
        connection: ConnectionSetup, admin_user: Any, default_queue: Any) -> None:
    """A worker killed mid-action leaves its RQ job ended without an outcome: the cron task marks the action Failed
    (status page stops waiting, names the worker layer and the fix); a live action is left alone."""
    from rq.job import Job

    from connections.tasks import recover_lost_connection_actions

    action = connection_action_enqueue(connection=connection, kind=Kind.ENABLE, user=admin_user)
    assert recover_lost_connection_actions() == 0  # queued, job present: may still run
    ConnectionAction.objects.filter(pk=action.pk).update(status=Status.RUNNING)
    job = Job.fetch(action.rq_job_id, connection=default_queue.connection)
    job.set_status("failed")  # what RQ's registry cleanup records for the job of a killed worker
    assert recover_lost_connection_actions() == 1
    action.refresh_from_db()
    assert action.status == Status.FAILED and "worker was stopped or killed" in action.message
    assert action.report["steps"][-1]["layer"] == "worker"
    assert recover_lost_connection_actions() == 0


@pytest.mark.django_db(transaction=True)
def test_redeploy_without_a_token_is_refused_and_queues_nothing(
        admin_client: Any, connection: ConnectionSetup, admin_user: Any, default_queue: Any) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="Sign in with Microsoft"):
        connection_action_enqueue(connection=connection, kind=Kind.REDEPLOY, user=admin_user)
    # Without a reachable Entra ID the sign-in cannot start: the page says why (no error page), nothing is queued.
    response = admin_client.post(reverse("connections:connection-redeploy-solution", args=[connection.pk]))
    assert response.status_code == 400 and 'id="signin-failed"' in response.content.decode()
    assert not ConnectionAction.objects.exists() and len(default_queue) == 0


@pytest.mark.django_db(transaction=True)
def test_viewers_cannot_start_actions(client: Any, viewer: Any, connection: ConnectionSetup,
                                      default_queue: Any) -> None:
    client.force_login(viewer)
    assert client.post(reverse("connections:connection-enable", args=[connection.pk])).status_code == 403
    assert not ConnectionAction.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_connection_page_lists_recent_actions_with_their_outcome(
        admin_client: Any, connection: ConnectionSetup, admin_user: Any, default_queue: Any) -> None:
    action = connection_action_enqueue(connection=connection, kind=Kind.ENABLE, user=admin_user)
    ConnectionAction.objects.filter(pk=action.pk).update(status=Status.FAILED,
                                                         message="The connection test failed; it stays disabled.")
    page = admin_client.get(reverse("connections:connection-detail", args=[connection.pk])).content.decode()
    section = page.split('id="recent-actions"')[1].split("</section>")[0]
    assert action_url(action) in section and "Enable" in section and "Failed" in section
    assert "The connection test failed; it stays disabled." in section


@pytest.mark.django_db(transaction=True)
def test_status_of_an_action_of_another_connection_is_404(admin_client: Any, connection: ConnectionSetup,
                                                          admin_user: Any, default_queue: Any) -> None:
    action = connection_action_enqueue(connection=connection, kind=Kind.ENABLE, user=admin_user)
    other = ConnectionSetup.objects.create(name="Other")
    url = reverse("connections:connectionaction-status", args=[other.pk, action.pk])
    assert admin_client.get(url).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_the_connection_page_points_to_the_running_action(admin_client: Any, connection: ConnectionSetup,
                                                          admin_user: Any, default_queue: Any) -> None:
    action = connection_action_enqueue(connection=connection, kind=Kind.ENABLE, user=admin_user)
    page = admin_client.get(reverse("connections:connection-detail", args=[connection.pk])).content.decode()
    banner = page.split('id="active-action">')[1].split("</p>")[0]
    assert "Enable is queued on a worker" in banner and action_url(action) in banner
    ConnectionAction.objects.filter(pk=action.pk).update(status=Status.SUCCEEDED)
    page = admin_client.get(reverse("connections:connection-detail", args=[connection.pk])).content.decode()
    assert 'id="active-action"' not in page
