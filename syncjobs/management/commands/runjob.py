"""`python manage.py runjob "<description>" [--wait] [--json]`: run one job queue entry now (BC: page 672 Job Queue
Entries, action "Run once (foreground)"/Run Now) and print the run's counters.

Without ``--wait`` the run is claimed and enqueued for the RQ workers (as the Run Now button does). With ``--wait`` the
command takes the claimed run off the ``sync`` queue and runs it in this process, or, when a worker already took it,
waits for that worker; then it prints the run's log entry.
"""
from __future__ import annotations

import json
import time
from typing import Any

import django_rq
from django.core.management.base import BaseCommand, CommandError, CommandParser

from syncjobs.jobqueue import SYNC_QUEUE
from syncjobs.models import JobQueueEntry, JobQueueLogEntry
from syncjobs.runner import run_claimed_entry
from syncjobs.services import JobQueueEntryBusy, job_queue_entry_run_now


def _summary(entry: JobQueueEntry, log: JobQueueLogEntry | None, rq_job_id: str) -> dict[str, Any]:
    return {
        "description": entry.description.strip(), "kind": entry.kind, "status": entry.status,
        "rq_job_id": rq_job_id,
        "run": None if log is None else {
            "status": log.status, "changed": log.records_changed, "failed": log.records_failed, "idle": log.idle,
            "started_at": log.started_at.isoformat(),
            "finished_at": log.finished_at.isoformat() if log.finished_at else None,
            "error": log.error_message},
    }


class Command(BaseCommand):
    help = "Run one job queue entry now (by its description) and print the run's counters."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("description", help="The job queue entry's description (case-insensitive).")
        parser.add_argument("--wait", action="store_true", help="Run it to the end and print its counters.")
        parser.add_argument("--json", action="store_true", help="Print JSON.")
        parser.add_argument("--timeout", type=float, default=3600, help="Seconds to wait for a worker's run.")

    def handle(self, *args: Any, **options: Any) -> None:
        wanted = options["description"].strip()
        entries = [e for e in JobQueueEntry.objects.select_related("connection", "table_mapping")
                   if e.description.strip().lower() == wanted.lower()]
        if not entries:
            raise CommandError(f'No job queue entry is described "{wanted}"; `manage.py syncstatus` lists them.')
        if len(entries) > 1:
            raise CommandError(f'{len(entries)} job queue entries are described "{wanted}" (one per connection '
                               "setup); rename one or run it from the job queue entries page.")
        entry = entries[0]
        if not entry.connection.is_enabled:
            raise CommandError(f"The connection {entry.connection.name} is not enabled: enable it first.")
        try:
            rq_job_id = job_queue_entry_run_now(entry=entry)
        except JobQueueEntryBusy as exc:
            raise CommandError(str(exc)) from exc
        log = None
        if options["wait"]:
            if django_rq.get_queue(SYNC_QUEUE).remove(rq_job_id):
                run_claimed_entry(str(entry.pk))
            else:
                self._wait_for_worker(entry, options["timeout"])
            entry.refresh_from_db()
            log = entry.log_entries.order_by("-started_at", "-id").first()
        summary = _summary(entry, log, rq_job_id)
        if options["json"]:
            self.stdout.write(json.dumps(summary, indent=2))
            return
        run = summary["run"]
        if run is None:
            self.stdout.write(f"Started '{summary['description']}' (RQ job {rq_job_id}).")
        else:
            self.stdout.write(f"'{summary['description']}': {run['status']}, changed {run['changed']}, failed "
                              f"{run['failed']}" + (f" [{run['error']}]" if run["error"] else ""))

    @staticmethod
    def _wait_for_worker(entry: JobQueueEntry, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            entry.refresh_from_db(fields=["status"])
            if entry.status != JobQueueEntry.Status.IN_PROCESS:
                return
            time.sleep(1)
        raise CommandError(f"'{entry.description.strip()}' is still running after {timeout:.0f} s.")
