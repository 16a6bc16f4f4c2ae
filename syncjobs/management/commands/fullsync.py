"""`python manage.py fullsync [--mapping NAME ...] [--wait] [--json]`: the full synchronization of the review page.

Starts the lines of the full synchronization review that can start (Sync All; BC: table 5373 CRM Full Synch. Review
Line, Start); RQ workers on the ``sync`` queue run them in dependency order. Starting is idempotent: the review is
generated only when it has no lines (Reset on the review page generates it again), and a start while the review runs
attaches to it. With ``--wait`` it shows progress until the run ends and exits 0 when every line finished without
failed records, 1 otherwise (2 when ``--timeout`` seconds passed first).
"""
from __future__ import annotations

import json
import sys
import time
from typing import Any

from django import db
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.utils import InterfaceError, OperationalError

from connections.models import ConnectionSetup
from syncjobs import review
from syncjobs.models import FullSyncReviewLine, JobQueueEntry

COUNTERS = ("inserted", "modified", "unchanged", "skipped", "failed", "coupled")


def line_summary(line: dict[str, Any]) -> dict[str, Any]:
    """Per-mapping summary of a status line: mapping, status, counters and seconds summed over all its jobs."""
    summary: dict[str, Any] = {"mapping": line["name"], "status": line["status"] or "NotStarted"}
    if line["excluded"]:
        summary["status"] = "Removed"
    elif line["recommendation_value"] == FullSyncReviewLine.Recommendation.NO_RECORDS_FOUND and not line["status"]:
        summary["status"] = "NoRecordsFound"
    for counter in COUNTERS:
        summary[counter] = line["totals"][counter]
    summary["seconds"] = line["totals"]["seconds"]
    return summary


def run_succeeded(status: dict[str, Any]) -> bool:
    """Every line that runs has Finished and no record failed."""
    for line in status["lines"]:
        summary = line_summary(line)
        if summary["status"] in ("Removed", "NoRecordsFound"):
            continue
        if line["status"] != JobQueueEntry.Status.FINISHED or summary["failed"]:
            return False
    return True


class Command(BaseCommand):
    help = "Start the full synchronization of the review (Sync All), optionally wait for it and report per mapping."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--mapping", action="append", default=[], metavar="NAME",
                            help="Only these integration table mappings (repeatable); the other lines are removed "
                                 "from this run.")
        parser.add_argument("--wait", action="store_true", help="Show progress until the run ends.")
        parser.add_argument("--json", action="store_true", help="Print a per-mapping summary as JSON.")
        parser.add_argument("--connection", help="Connection setup name (default: the only/first one).")
        parser.add_argument("--batch-size", type=int, default=None,
                            help="Records per committed batch (default: the engine's).")
        parser.add_argument("--timeout", type=float, default=6 * 3600, help="Seconds to wait at most (default 6 h).")

    def handle(self, *args: Any, **options: Any) -> None:
        connections = ConnectionSetup.objects.order_by("name")
        if options["connection"]:
            connections = connections.filter(name=options["connection"])
        connection = connections.first()
        if connection is None:
            raise CommandError("No connection setup found: run `python manage.py setup_connection` first.")
        if not connection.is_enabled:
            raise CommandError(f"The connection '{connection.name}' is disabled: enable it first.")
        running = review.full_sync_review_running(connection=connection)
        lines = review.full_sync_review_lines(connection=connection)
        names = {line.name for line in lines}
        unknown = sorted(set(options["mapping"]) - names)
        if unknown:
            raise CommandError(f"Unknown mapping(s) {', '.join(unknown)}; the review has: {', '.join(sorted(names))}. "
                               "Reset the review on the Full Synchronization Review page to generate it again.")
        if running:
            # Attach to the running review: its lines and recommendations stay as they are (only Reset regenerates).
            self.stderr.write("A full synchronization is running: attached to it"
                              + ("; --mapping does not change a running review." if options["mapping"] else "."))
        elif options["mapping"]:
            FullSyncReviewLine.objects.filter(connection=connection).exclude(name__in=options["mapping"]).filter(
                job_queue_entry_status=""
            ).update(excluded=True)
        if options["batch_size"] is not None and options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        started = review.full_sync_review_start(connection=connection, batch_size=options["batch_size"])
        if not options["json"]:
            self.stdout.write(f"Started: {', '.join(line.name for line in started) or 'nothing new'}")
        status = review.full_sync_review_status(connection=connection)
        if options["wait"]:
            status, timed_out = self._wait(connection, options)
            if timed_out:
                self._report(status, options)
                sys.exit(2)
        self._report(status, options)
        if options["wait"] and not run_succeeded(status):
            sys.exit(1)

    def _wait(self, connection: ConnectionSetup, options: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        deadline = time.monotonic() + options["timeout"]
        tty = not options["json"] and self.stdout.isatty()
        last = ""
        outage_since: float | None = None
        while True:
            try:
                status = review.full_sync_review_status(connection=connection)
            except (OperationalError, InterfaceError) as error:
                # The database dropped the connection (restart, failover, pg_terminate_backend): the run goes on
                # on the workers; close the dead connection (Django opens a new one) and read again.
                if outage_since is None:
                    outage_since = time.monotonic()
                    self.stderr.write(f"The database connection was lost ({type(error).__name__}); reconnecting …")
                db.connection.close()
                if time.monotonic() > deadline:
                    raise CommandError(f"The database stayed unreachable: {error}") from None
                time.sleep(min(5.0, 0.5 * 2 ** min(int(time.monotonic() - outage_since), 4)))
                continue
            if outage_since is not None:
                self.stderr.write(f"Reconnected to the database after {time.monotonic() - outage_since:.0f} s.")
                outage_since = None
            if status["settled"]:
                return status, False
            if time.monotonic() > deadline:
                return status, True
            if not options["json"]:
                text = self._progress(status, tty)
                if tty:
                    self.stdout.write("\r" + text, ending="")
                elif text != last:
                    self.stdout.write(text)
                last = text
            time.sleep(1)

    def _progress(self, status: dict[str, Any], tty: bool) -> str:
        total = status["total"] or 0
        fraction = status["processed"] / total if total else 0.0
        running = [line["name"] for line in status["lines"] if line["status"] == JobQueueEntry.Status.IN_PROCESS]
        text = (f"{status['lines_finished']}/{status['lines_total']} lines, {status['processed']}/{total} records"
                f" running: {', '.join(running) or '-'}")
        if tty:
            width = 30
            filled = int(width * fraction)
            return f"[{'#' * filled}{'.' * (width - filled)}] {fraction:5.1%} {text}"[:160]
        return text

    def _report(self, status: dict[str, Any], options: dict[str, Any]) -> None:
        summaries = [line_summary(line) for line in status["lines"]]
        if options["json"]:
            self.stdout.write(json.dumps(summaries, indent=2))
            return
        if self.stdout.isatty():
            self.stdout.write("")
        self.stdout.write(f"{'mapping':<22}{'status':<16}" + "".join(f"{c:>10}" for c in COUNTERS) + f"{'seconds':>10}")
        for summary in summaries:
            self.stdout.write(
                f"{summary['mapping']:<22}{summary['status']:<16}"
                + "".join(f"{summary[c]:>10}" for c in COUNTERS)
                + f"{summary['seconds']:>10}"
            )
