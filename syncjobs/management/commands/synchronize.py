"""``python manage.py synchronize [--mapping NAME ...] [--full] [--json] [--batch-size N] [--connection NAME]``.

Runs the synchronization engine in this process for the named integration table mappings (all mappings of the
enabled connections in dependency order when none is named), shows progress on stderr and prints per pass the
mapping, direction, counters and seconds. Exit status 1 when a pass could not run at all (connection,
configuration), 0 when the passes ran, whatever records failed (they are in the counters and on the error pages).
"""
from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from connections.models import ConnectionSetup
from mappings.models import IntegrationTableMapping
from syncjobs.engine import SynchronizationNotPossible, synchronize_mapping
from syncjobs.models import SynchronizationJob

COUNTERS = ("inserted", "modified", "deleted", "unchanged", "skipped", "failed", "coupled")


def dependency_order(mappings: list[IntegrationTableMapping]) -> list[IntegrationTableMapping]:
    """Mappings sorted so that every mapping comes after those named in its dependency filter (BC: table 5335
    Integration Table Mapping, field 30 Dependency Filter), ties broken by priority then name. Dependencies
    outside the list are ignored."""
    by_name = {m.name: m for m in mappings}
    ordered: list[IntegrationTableMapping] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(mapping: IntegrationTableMapping) -> None:
        if mapping.name in done or mapping.name in visiting:
            return
        visiting.add(mapping.name)
        for name in filter(None, (part.strip() for part in mapping.dependency_filter.split("|"))):
            if name in by_name:
                visit(by_name[name])
        visiting.discard(mapping.name)
        done.add(mapping.name)
        ordered.append(mapping)

    for mapping in sorted(mappings, key=lambda m: (m.priority, m.name)):
        visit(mapping)
    return ordered


def job_summary(mapping: IntegrationTableMapping, job: SynchronizationJob) -> dict[str, Any]:
    """One pass as printed by ``--json``."""
    return {"mapping": mapping.name, "direction": job.direction, **{c: getattr(job, c) for c in COUNTERS},
            "seconds": round(job.seconds or 0.0, 3)}


class Command(BaseCommand):
    help = "Run the synchronization engine for integration table mappings in this process."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--mapping", action="append", default=[], metavar="NAME",
                            help="Integration table mapping name (repeatable); default: all, in dependency order")
        parser.add_argument("--connection", default="", help="Connection setup name (default: every enabled one)")
        parser.add_argument("--full", action="store_true", help="Run a full synchronization")
        parser.add_argument("--json", action="store_true", help="Print a JSON list of passes")
        parser.add_argument("--batch-size", type=int, default=None, help="Records per write batch")

    def _progress(self, job: SynchronizationJob) -> None:
        total = f" of {job.total}" if job.total is not None else ""
        self.stderr.write(f"  {job.get_direction_display()}: {job.processed}{total} records, {job.inserted} inserted, "
                          f"{job.modified} modified, {job.failed} failed")

    def handle(self, *args: Any, **options: Any) -> None:
        connections = ConnectionSetup.objects.all()
        if options["connection"]:
            connections = connections.filter(name=options["connection"])
            if not connections.exists():
                raise CommandError(f"No connection setup named {options['connection']!r}.")
        else:
            connections = connections.filter(is_enabled=True)
        mappings = list(IntegrationTableMapping.objects.filter(connection__in=connections).select_related("connection"))
        if options["mapping"]:
            wanted = list(dict.fromkeys(options["mapping"]))
            unknown = [name for name in wanted if name not in {m.name for m in mappings}]
            if unknown:
                known = ", ".join(sorted({m.name for m in mappings})) or "none"
                raise CommandError(f"Unknown integration table mapping {', '.join(unknown)}; known: {known}.")
            mappings = [m for m in mappings if m.name in wanted]
        if not mappings:
            raise CommandError("No integration table mappings to synchronize: set up and enable a connection first.")
        if options["batch_size"] is not None and options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        results: list[dict[str, Any]] = []
        could_not_run: list[str] = []
        for mapping in dependency_order(mappings):
            self.stderr.write(f"Synchronizing {mapping.name} ({mapping.table} ⇄ {mapping.integration_table})…")
            try:
                jobs = synchronize_mapping(mapping=mapping, full=options["full"], batch_size=options["batch_size"],
                                           progress=self._progress)
            except SynchronizationNotPossible as exc:
                could_not_run.append(f"{mapping.name}: {exc}")
                self.stderr.write(self.style.ERROR(f"  {mapping.name} could not run: {exc}"))
                jobs = list(SynchronizationJob.objects.filter(table_mapping=mapping, could_not_run=True)
                            .order_by("-started_at")[:1])
            for job in jobs:
                summary = job_summary(mapping, job)
                results.append(summary)
                if not options["json"]:
                    counters = ", ".join(f"{c} {summary[c]}" for c in COUNTERS)
                    self.stdout.write(f"{mapping.name:<20} {job.direction:<21} {counters}, {summary['seconds']} s")
        if options["json"]:
            self.stdout.write(json.dumps(results))
        if could_not_run:
            self.stderr.write(self.style.ERROR(f"{len(could_not_run)} mapping(s) could not run."))
            sys.exit(1)
