"""RQ cron configuration: `python manage.py rqcron syncjobs.cron` (started by `make demo`).

Every minute the dispatcher claims the due job queue entries and enqueues them on the `sync` queue.
"""
from __future__ import annotations

from rq import cron

from syncjobs.tasks import dispatch_due_job_queue_entries

cron.register(dispatch_due_job_queue_entries, "default", cron="* * * * *", name="job-queue-dispatcher")
