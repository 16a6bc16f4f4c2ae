"""`python manage.py syncstatus [--json]`: the job queue entries and the last full synchronization review."""
from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from connections.models import ConnectionSetup
from syncjobs import review
from syncjobs.management.commands.fullsync import line_summary
from syncjobs.models import JobQueueEntry


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


class Command(BaseCommand):
    help = "Print the job queue entries and the last full synchronization review."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print JSON: {job_queue: [...], review: [...]}")

    def handle(self, *args: Any, **options: Any) -> None:
        entries = [
            {
                "description": entry.description.strip(),
                "mapping": entry.table_mapping.name if entry.table_mapping else None,
                "kind": entry.kind,
                "status": entry.status,
                "recurring": entry.recurring_job,
                "next_run": _iso(entry.earliest_start_date_time),
                "last_run": _iso(entry.last_run_finished_at),
                "last_result": entry.last_result,
                "attempts": entry.no_of_attempts_to_run,
                "error": entry.error_message,
            }
            for entry in JobQueueEntry.objects.select_related("table_mapping").order_by(
                "-recurring_job", "table_mapping__priority", "description"
            )
        ]
        reviews = {}
        for connection in ConnectionSetup.objects.order_by("name"):
            status = review.full_sync_review_status(connection=connection)
            reviews[connection.name] = [line_summary(line) for line in status["lines"]]
        if options["json"]:
            self.stdout.write(json.dumps({"job_queue": entries, "review": reviews}, indent=2))
            return
        self.stdout.write("Job queue entries")
        for entry in entries:
            self.stdout.write(
                f"  {entry['status']:<28} next {entry['next_run'] or '-':<34} last {entry['last_result'] or '-':<8} "
                f"{entry['description']}" + (f"  [{entry['error']}]" if entry["error"] else "")
            )
        for name, lines in reviews.items():
            self.stdout.write(f"Full synchronization review of {name}")
            for line in lines:
                self.stdout.write(
                    f"  {line['mapping']:<22}{line['status']:<16} inserted {line['inserted']} modified "
                    f"{line['modified']} failed {line['failed']} coupled {line['coupled']} ({line['seconds']} s)"
                )
