"""RQ cron configuration: `python manage.py rqcron syncjobs.cron` (started by `make demo`).

Every minute the dispatcher claims the due job queue entries and enqueues them on the `sync` queue, and the
connection actions (Finish, Enable, Redeploy) whose worker was lost are marked Failed so their status page says so.
``JOB_QUEUE_DISPATCH_INTERVAL`` (seconds) paces both jobs every N seconds instead of every minute on the minute.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from rq import cron

from connections.tasks import recover_lost_connection_actions
from syncjobs.tasks import dispatch_due_job_queue_entries


def schedule() -> dict[str, Any]:
    """The schedule of the every-minute jobs: ``{"cron": "* * * * *"}``, or ``{"interval": N}`` (seconds) when
    ``settings.JOB_QUEUE_DISPATCH_INTERVAL`` is N > 0."""
    interval = settings.JOB_QUEUE_DISPATCH_INTERVAL
    return {"interval": interval} if interval else {"cron": "* * * * *"}


cron.register(dispatch_due_job_queue_entries, "default", name="job-queue-dispatcher", **schedule())
cron.register(recover_lost_connection_actions, "default", name="connection-action-recovery", **schedule())
