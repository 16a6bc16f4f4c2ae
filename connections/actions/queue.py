"""Connection actions on a worker: Finish, Enable and Redeploy Integration Solution are rows of
:class:`connections.models.ConnectionAction`, written first, enqueued on commit, claimed by one worker, and failed
with a fix when their RQ job is lost.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import asdict
from typing import Any

import django_rq
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from redis.exceptions import RedisError
from rq import Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from connections.actions.finish import FINISH_STEPS
from connections.diagnostics import CheckReport
from connections.models import ConnectionAction, ConnectionSetup
from connections.setup import User, connection_action_record

logger = logging.getLogger(__name__)

#: The RQ queue of the connection actions (``make demo``'s workers listen on "default" and "sync").
ACTION_QUEUE = "default"
#: The RQ task that runs an action, by dotted path (the task module imports this one, not the other way round).
RUN_TASK = "connections.tasks.run_connection_action"


#: Seconds a Queued action may lack its RQ job before it counts as lost (the job is enqueued when the row commits).
ACTION_LOST_AFTER = 60


WORKER_HINT = "start one with `python manage.py rqworker default sync`"


def _action_lost(action: Any, *, now: Any = None) -> str:
    """Why the Queued/Running ``action`` will never finish (its RQ job is gone, or ended without the task recording
    an outcome: the worker was killed), or "" while it may still run. Redis errors count as "may still run"."""

    now = now or timezone.now()
    try:
        job = Job.fetch(action.rq_job_id, connection=django_rq.get_connection(ACTION_QUEUE))
        status = job.get_status()
    except NoSuchJobError:
        if (now - action.created_at).total_seconds() < ACTION_LOST_AFTER:
            return ""
        return "Its RQ job no longer exists (Redis was emptied or restarted)."
    except RedisError:
        return ""
    if status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED, JobStatus.FINISHED):
        return f"Its RQ job ended ({status}) without recording an outcome: the worker was stopped or killed."
    return ""


def connection_action_fail_lost(*, action: Any, reason: str) -> bool:
    """Mark a Queued/Running ``action`` whose job is lost Failed with ``reason`` (and blank any credentials left in
    its row). Conditional on its status, so a worker finishing it at the same moment wins. Returns whether it was
    changed."""
    report = CheckReport.from_dict(action.report or {})
    report.add("Worker", False, reason, layer="worker",
               fix=f"Run the action again; make sure an RQ worker is running ({WORKER_HINT}).")
    changed = ConnectionAction.objects.filter(pk=action.pk, status__in=ConnectionAction.ACTIVE_STATUSES).update(
        status=ConnectionAction.Status.FAILED, report=report.as_dict(), finished_at=timezone.now(),
        message=f"The action did not finish: {reason}"[:500], admin_username="", admin_password="")
    action.refresh_from_db()
    return bool(changed)


def connection_actions_recover_lost(*, now: Any = None) -> int:
    """Fail every Queued/Running connection action whose RQ job is lost (:func:`_action_lost`: the job is gone, or
    ended without the task recording an outcome because the worker was killed), so its status page stops waiting
    and says what to do. Run every minute by the RQ cron scheduler (``syncjobs.cron``), beside the job queue
    dispatcher's detection of dead synchronization runs. Returns how many actions were failed."""
    failed = 0
    for action in ConnectionAction.objects.active():
        reason = _action_lost(action, now=now)
        if reason and connection_action_fail_lost(action=action, reason=reason):
            logger.warning("connection action %s (%s) is lost: %s", action.pk, action.kind, reason)
            failed += 1
    return failed


#: Non-secret inputs of the assisted setup that Finish's remote part reads from its ``data`` (besides the saved
#: connection setup): kept in ``ConnectionAction.options`` for the worker. Add a new Finish input here.
FINISH_OPTIONS = ("import_solution", "enable", "salesperson_couplings", "couple_salespersons_by_email")


def connection_action_enqueue(*, connection: ConnectionSetup, kind: str, user: User, admin_token: str = "",
                              admin_account: str = "", options: dict[str, Any] | None = None) -> Any:
    """Start a remote action of ``connection`` on an RQ worker: Finish, Enable or Redeploy Integration Solution
    (``ConnectionAction.Kind``). Returns the :class:`~connections.models.ConnectionAction`.

    The row (status Queued) is written first; ``connections.tasks.run_connection_action(action_id)`` is enqueued on
    the "default" queue when the transaction commits (django-rq's on-commit mode), with the action's id as its only
    argument. ``admin_token`` (Finish with the solution import, Redeploy: the access token the Dataverse administrator
    signed in for, :func:`connections.solution_import.admin_sign_in_finish`) and ``admin_account`` (who signed in)
    ride in the row's ``admin_password`` (encrypted) and ``admin_username`` columns until the task reads and blanks
    them, before any remote call. ``options`` (Finish only) holds the keys of
    :data:`FINISH_OPTIONS` from the wizard's data (``import_solution``, ``enable``, ``salesperson_couplings``, ...),
    JSON-serialisable and never secret; other keys raise ValueError.

    At most one action per connection runs at a time: when one is already Queued or Running it is returned instead
    (``action.created`` is False) and nothing is enqueued — unless its RQ job is lost (see :func:`_action_lost`),
    in which case it is marked Failed and a new one starts. Raises ValidationError for a Redeploy without the
    administrator's token (nothing is saved).
    """


    Kind = ConnectionAction.Kind
    kind = Kind(kind)
    options = dict(options or {}) if kind == Kind.FINISH else {}
    unknown = set(options) - set(FINISH_OPTIONS)
    if unknown:
        raise ValueError(f"Unknown Finish options {sorted(unknown)}: add them to FINISH_OPTIONS if they are inputs of "
                         "connection_setup_finish (never secrets).")
    if kind == Kind.REDEPLOY and not admin_token:
        raise ValidationError("Sign in with Microsoft as a Dataverse administrator to import the integration "
                              "solution.")
    keep_credentials = kind == Kind.REDEPLOY or (kind == Kind.FINISH and bool(options.get("import_solution")))
    real_user = user if user is not None and getattr(user, "is_authenticated", False) else None
    with transaction.atomic():
        # Serialise enqueues of one connection (PostgreSQL row lock; SQLite serialises writers anyway).
        list(ConnectionSetup.objects.select_for_update().filter(pk=connection.pk).values("pk"))
        running = ConnectionAction.objects.active().filter(connection=connection).first()
        if running is not None:
            reason = _action_lost(running)
            if not reason:
                running.created = False
                return running
            connection_action_fail_lost(action=running, reason=reason)
        action_id = uuid.uuid4()
        try:
            with transaction.atomic():
                action = ConnectionAction.objects.create(
                    id=action_id, connection=connection, kind=kind, requested_by=real_user,
                    options=options,
                    admin_username=admin_account[:250] if keep_credentials else "",
                    admin_password=admin_token if keep_credentials else "",
                    rq_job_id=f"connection-action-{action_id}")
        except IntegrityError:  # another request queued one in the meantime (the partial unique constraint)
            running = ConnectionAction.objects.active().filter(connection=connection).first()
            if running is None:
                raise
            running.created = False
            return running
        django_rq.get_queue(ACTION_QUEUE).enqueue_call(RUN_TASK, args=(str(action.pk),),
                                                       job_id=action.rq_job_id)
        connection_action_record(connection=connection, user=user, action=f"{kind.label} queued")
    action.created = True
    logger.info("%s of %s queued as %s", kind.label, connection.name, action.pk)
    return action


def connection_action_status(*, action: Any) -> dict[str, Any]:
    """The status of ``action`` for its page and its JSON endpoint (polled every two seconds).

    Shape: ``{"id", "kind", "kind_display", "status", "status_display", "active": bool, "done": bool, "ok": bool,
    "message", "waiting": str, "steps": [{"name", "ok", "status", "message", "fix", "layer", "details"}],
    "pending": [step names not run yet], "failed_step": step | None, "created_at", "started_at", "finished_at"}``
    (times ISO 8601 UTC). ``waiting`` says what a Queued action waits for: no live RQ worker on the queue (with the
    command that starts one) or its turn on the queue.
    """
    report = CheckReport.from_dict(action.report or {})
    steps = [{**asdict(step), "status": step.status} for step in report.steps]
    done = action.status in (ConnectionAction.Status.SUCCEEDED, ConnectionAction.Status.FAILED)
    pending: list[str] = []
    if not done and action.kind == ConnectionAction.Kind.FINISH:
        seen = {step.name for step in report.steps}
        pending = [name for name in FINISH_STEPS if name not in seen]
    waiting = ""
    if action.status == ConnectionAction.Status.QUEUED:
        waiting = _queue_waiting_text()
    failed = report.failed_step
    return {
        "id": str(action.pk), "kind": str(action.kind), "kind_display": action.get_kind_display(),
        "status": str(action.status), "status_display": action.get_status_display(),
        "active": not done, "done": done, "ok": action.status == ConnectionAction.Status.SUCCEEDED,
        "message": action.message, "waiting": waiting, "steps": steps, "pending": pending,
        "failed_step": {**asdict(failed), "status": failed.status} if failed else None,
        "created_at": action.created_at.isoformat() if action.created_at else None,
        "started_at": action.started_at.isoformat() if action.started_at else None,
        "finished_at": action.finished_at.isoformat() if action.finished_at else None,
    }


def _queue_waiting_text() -> str:
    """What a Queued action waits for: a worker (none alive on the queue) or its turn."""
    try:

        queue = django_rq.get_queue(ACTION_QUEUE)
        workers = Worker.count(queue=queue)
        ahead = len(queue)
    except (ImportError, RedisError, OSError) as error:
        return f"Waiting for a worker; Redis cannot be read ({type(error).__name__})."
    if not workers:
        return f"Waiting for a worker: {WORKER_HINT} (no RQ worker is running)."
    return f"Waiting for a worker to pick it up ({ahead} job(s) on the queue, {workers} worker(s) alive)."

