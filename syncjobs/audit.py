"""What the audit trail records of the job queue entries: the settings an administrator chooses (which mapping, the
recurrence, the inactivity timeout, attempts and rerun delay, the description, category and parameters), as BC's job
queue entry card shows them (BC: table 472 Job Queue Entry).

Not audited: the run state the dispatcher and the workers change on every run (status, earliest start, claim, lease,
RQ job, attempts, last run and result, error message). Set Ready / Set On Hold are therefore not in the audit trail;
each run and its outcome is in the job queue log entries instead. The log is django-auditlog's ``LogEntry``; this
module registers the model by name and imports no model at start-up.
"""
from __future__ import annotations

from auditlog.registry import auditlog
from django.apps import apps

#: The fields of a job queue entry that the audit trail records.
JOB_QUEUE_ENTRY_AUDITED = ("connection", "table_mapping", "kind", "description", "category", "recurring_job",
                           "no_of_minutes_between_runs", "inactivity_timeout_period", "maximum_no_of_attempts_to_run",
                           "rerun_delay_sec", "parameters")


def register() -> None:
    """Register ``JobQueueEntry`` with django-auditlog, ``JOB_QUEUE_ENTRY_AUDITED`` only, and ``AlertRule`` (its
    webhook URL masked); called once from ``SyncjobsConfig.ready``."""
    auditlog.register(apps.get_model("syncjobs", "JobQueueEntry"), include_fields=list(JOB_QUEUE_ENTRY_AUDITED))
    # Alert rules: every setting, the webhook URL (it may carry a token) masked to "(set)" as the connection's secrets.
    auditlog.register(apps.get_model("syncjobs", "AlertRule"), exclude_fields=["created_at", "updated_at"],
                      mask_fields=["webhook_url"], mask_callable="connections.audit.mask_secret")
