"""RQ cron configuration: `python manage.py rqcron syncjobs.cron` (started by `make demo`).

Every minute the dispatcher claims the due job queue entries and enqueues them on the `sync` queue, and the
connection actions (Finish, Enable, Redeploy) whose worker was lost are marked Failed so their status page says so.
"""
from __future__ import annotations

from rq import cron

from connections.tasks import recover_lost_connection_actions
from syncjobs.tasks import dispatch_due_job_queue_entries

cron.register(dispatch_due_job_queue_entries, "default", cron="* * * * *", name="job-queue-dispatcher")
cron.register(recover_lost_connection_actions, "default", cron="* * * * *", name="connection-action-recovery")
