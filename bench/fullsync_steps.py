"""The measured steps of ``bench/fullsync.py``: the connection set up as an administrator does, Sync All run one RQ
job at a time by rq's forking worker with the emulator's request counters read around each job, the figures per
review line, and the incremental runs on a ``manage.py rqworker`` process.

Imported by ``bench/fullsync.py`` once Django is set up (it configures a throwaway database and Redis first).
"""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import islice
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import django_rq
from django import db
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from rq import Worker

from connections.clients import entra
from connections.clients.dataverse import DataverseClient
from connections.models import ConnectionSetup
from syncjobs import review
from syncjobs.engine import clients_for
from syncjobs.engine.passes import DEFAULT_BATCH_SIZE, OVERLAP_SECONDS
from syncjobs.jobqueue import SYNC_QUEUE
from syncjobs.models import FullSyncReviewLine, JobQueueEntry, JobQueueLogEntry, SynchronizationError
from syncjobs.scheduler import dispatch_due_entries
from syncjobs.services import job_queue_entry_run_now

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("dataverse", "businesscentral", "entra")
#: The mapping whose incremental runs are measured, and the BC table changed before the second one.
INCREMENTAL_MAPPING = "ITEM-PRODUCT"


@dataclass
class Counts:
    """Requests received and seconds spent answering them, per service, as the emulator counted them."""

    requests: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SERVICES, 0))
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SERVICES, 0.0))
    tokens: int = 0

    @classmethod
    def read(cls, emulators: Any) -> Counts:
        """The emulator's counters now (``GET /_emulator/state``)."""
        state = emulators.state()
        return cls({s: int(state["requests"][s]) for s in SERVICES},
                   {s: float(state["request_seconds"][s]) for s in SERVICES}, int(state["entra_token_requests"]))

    def __sub__(self, other: Counts) -> Counts:
        return Counts({s: self.requests[s] - other.requests[s] for s in SERVICES},
                      {s: self.seconds[s] - other.seconds[s] for s in SERVICES}, self.tokens - other.tokens)

    def __add__(self, other: Counts) -> Counts:
        return Counts({s: self.requests[s] + other.requests[s] for s in SERVICES},
                      {s: self.seconds[s] + other.seconds[s] for s in SERVICES}, self.tokens + other.tokens)

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "server_seconds": {k: round(v, 3) for k, v in self.seconds.items()},
                "entra_token_requests": self.tokens}


def forget_process_caches() -> None:
    """Drop what this process remembers of the services (msal applications with their tokens, Dataverse table
    definitions and bulk message answers), so the next forked work horse starts as a fresh one does: with the
    shared Redis caches only."""
    with entra._apps_lock:
        entra._apps.clear()
    with DataverseClient._definitions_lock:
        DataverseClient._definitions.clear()
    DataverseClient.forget_bulk_messages()


def connect(emulators: Any, workdir: Path) -> ConnectionSetup:
    """The connection set up as an administrator does from the command line (the wizard's defaults: every mapping,
    unit groups on), with the solution imported by the emulator's administrator app; returns it enabled."""
    info = emulators.info
    settings.OUTBOUND_CA_BUNDLE = info["ca_bundle"]
    port = urlsplit(info["dataverse_url"]).port
    settings.OUTBOUND_ALLOWED_HOSTS = [f"127.0.0.1:{port}", f"localhost:{port}"]  # the emulators' port only
    os.environ["OUTBOUND_CA_BUNDLE"] = info["ca_bundle"]
    os.environ["OUTBOUND_ALLOWED_HOSTS"] = ",".join(settings.OUTBOUND_ALLOWED_HOSTS)
    line = workdir / "emulators.json"
    line.write_text(json.dumps(info))
    call_command("setup_connection", "--from-emulator", str(line), "--import-solution", "--admin-app-from-emulator",
                 "--enable", stdout=io.StringIO(), stderr=io.StringIO())
    connection = ConnectionSetup.objects.get()
    if not connection.is_enabled:
        raise SystemExit("setup_connection did not enable the connection")
    return connection


def _line_of_job(job: Any) -> str:
    """The review line (mapping name) an RQ job of the sync queue runs."""
    if job.func_name.endswith("run_full_sync_line"):
        line = FullSyncReviewLine.objects.filter(pk=job.args[0]).first()
        return line.name if line else f"line {job.args[0]}"
    entry = JobQueueEntry.objects.filter(pk=job.args[0]).select_related("table_mapping").first()
    if entry is not None and entry.table_mapping is not None:
        line = FullSyncReviewLine.objects.filter(job_queue_entry=entry).first()
        return line.name if line else entry.table_mapping.name
    return entry.description if entry else "?"


def run_one_job(queue: Any) -> None:
    """Run the first job of ``queue`` in a forked work horse (rq's ``Worker``, as ``manage.py rqworker`` does)."""
    db.connections.close_all()  # the horse opens its own database connection
    forget_process_caches()
    Worker([queue], connection=queue.connection).work(burst=True, max_jobs=1, logging_level="WARNING")


def sync_all(emulators: Any, connection: ConnectionSetup) -> dict[str, Any]:
    """Sync All, one RQ job at a time; returns per line the emulator's counts and seconds, and the run's totals."""
    queue = django_rq.get_queue(SYNC_QUEUE)
    per_line: dict[str, dict[str, Any]] = {}
    forget_process_caches()
    started = time.perf_counter()
    before = Counts.read(emulators)
    review.full_sync_review_start(connection=connection)  # generates the review (counts both sides), starts lines
    after = Counts.read(emulators)
    per_line["(review: count and start)"] = {"counts": after - before, "seconds": time.perf_counter() - started}
    idle_rounds = 0
    while True:
        ids = queue.get_job_ids(0, 1)
        if not ids:
            status = review.full_sync_review_status(connection=connection)
            if not status["running"] or idle_rounds > 20:
                break
            idle_rounds += 1
            dispatch_due_entries(now=timezone.now() + timedelta(seconds=61))  # the cron's retries of a failed run
            continue
        name = _line_of_job(queue.fetch_job(ids[0]))
        before = Counts.read(emulators)
        job_started = time.perf_counter()
        run_one_job(queue)
        seconds = time.perf_counter() - job_started
        counts = Counts.read(emulators) - before
        slot = per_line.setdefault(name, {"counts": Counts(), "seconds": 0.0})
        slot["counts"] = slot["counts"] + counts
        slot["seconds"] += seconds
    wall = time.perf_counter() - started
    return {"per_line": per_line, "wall": wall, "status": review.full_sync_review_status(connection=connection)}


def critical_path(seconds: dict[str, float], lines: list[FullSyncReviewLine]) -> tuple[float, list[str]]:
    """The slowest chain of the review's dependency graph: (sum of its lines' seconds, the chain's names)."""
    parents = {line.name: [p for p in review.dependency_names(line) if p in seconds] for line in lines}
    memo: dict[str, tuple[float, list[str]]] = {}

    def longest(name: str, trail: tuple[str, ...] = ()) -> tuple[float, list[str]]:
        if name in memo:
            return memo[name]
        best: tuple[float, list[str]] = (0.0, [])
        for parent in parents.get(name, []):
            if parent in trail:  # a cycle in the dependency filters: BC refuses those; never loop here
                continue
            candidate = longest(parent, (*trail, name))
            if candidate[0] > best[0]:
                best = candidate
        memo[name] = (best[0] + seconds.get(name, 0.0), [*best[1], name])
        return memo[name]

    return max((longest(name) for name in seconds), default=(0.0, []))


def _records(totals: dict[str, Any]) -> int:
    """Records a line synchronized: written (inserted, modified) or coupled without a write."""
    return int(totals["inserted"]) + int(totals["modified"]) + int(totals["unchanged"]) + int(totals["coupled"])


def report_full(result: dict[str, Any], connection: ConnectionSetup) -> dict[str, Any]:
    """Print the per-line table and the run's totals; return them as data."""
    status_lines = {line["name"]: line for line in result["status"]["lines"]}
    rows = []
    print(f"\nFull synchronization of the default configuration: {len(status_lines)} review lines, batch size "
          f"{DEFAULT_BATCH_SIZE} (the engine's default), run by rq's forking Worker in this process one job at a time")
    header = (f"{'line':32} {'status':10} {'records':>8} {'failed':>6} {'DV req':>7} {'BC req':>7} {'Entra':>5} "
              f"{'DV/rec':>7} {'all/rec':>7} {'seconds':>8}")
    print(header)
    print("-" * len(header))
    total = Counts()
    records_total = failed_total = 0
    for name, slot in result["per_line"].items():
        counts: Counts = slot["counts"]
        total = total + counts
        line = status_lines.get(name)
        records = _records(line["totals"]) if line else 0
        failed = int(line["totals"]["failed"]) if line else 0
        records_total += records
        failed_total += failed
        all_requests = sum(counts.requests.values())
        dv_ratio = counts.requests["dataverse"] / records if records else None
        all_ratio = all_requests / records if records else None
        rows.append({"line": name, "status": line["status"] if line else "", "records": records, "failed": failed,
                     **counts.as_dict(), "dataverse_per_record": dv_ratio, "requests_per_record": all_ratio,
                     "seconds": round(slot["seconds"], 2)})
        requests = counts.requests
        dv_text = "" if dv_ratio is None else f"{dv_ratio:.4f}"
        all_text = "" if all_ratio is None else f"{all_ratio:.4f}"
        print(f"{name[:32]:32} {(line['status'] if line else '')[:10]:10} {records:8d} {failed:6d} "
              f"{requests['dataverse']:7d} {requests['businesscentral']:7d} {requests['entra']:5d} "
              f"{dv_text:>7} {all_text:>7} {slot['seconds']:8.2f}")
    for row in rows:
        if row["failed"]:
            error = (SynchronizationError.objects.filter(job__table_mapping__connection=connection,
                                                         job__table_mapping__name=row["line"])
                     .order_by("pk").values_list("message", flat=True).first())
            row["first_error"] = error or ""
            print(f"  {row['line']}: {row['failed']} failed records, e.g. {(error or '?')[:300]}")
    for name, line in status_lines.items():
        if name not in result["per_line"]:
            print(f"{name[:32]:32} {'not run':10} ({line['recommendation']}{', removed' if line['excluded'] else ''})")
    lines = list(FullSyncReviewLine.objects.filter(connection=connection))
    path_seconds, chain = critical_path({n: s["seconds"] for n, s in result["per_line"].items()
                                         if not n.startswith("(")}, lines)
    slowest = max(("dataverse", "businesscentral"), key=lambda s: total.seconds[s])
    dv_ratio = total.requests["dataverse"] / max(records_total, 1)
    worst = max((r for r in rows if r["dataverse_per_record"] is not None and r["records"] >= 100),
                key=lambda r: r["dataverse_per_record"], default=None)
    print("-" * len(header))
    print(f"{'whole run':32} {'':10} {records_total:8d} {failed_total:6d} {total.requests['dataverse']:7d} "
          f"{total.requests['businesscentral']:7d} {total.requests['entra']:5d} {dv_ratio:7.4f} "
          f"{sum(total.requests.values()) / max(records_total, 1):7.4f} {result['wall']:8.2f}")
    print(f"Entra token requests in the run: {total.tokens} (the rest of the Entra column: OpenID discovery)")
    other = "businesscentral" if slowest == "dataverse" else "dataverse"
    print(f"Wall time {result['wall']:.1f} s (one job at a time) against (a) the critical path {path_seconds:.1f} s "
          f"({' -> '.join(chain)}) and (b) the slowest side's pure transfer time {total.seconds[slowest]:.1f} s "
          f"({slowest}; {other} {total.seconds[other]:.1f} s, Entra {total.seconds['entra']:.1f} s)")
    if worst is not None:
        print(f"Highest Dataverse requests per record (lines with 100 records or more): {worst['line']} "
              f"{worst['dataverse_per_record']:.4f}")
    return {"lines": rows, "records": records_total, "failed": failed_total, "totals": total.as_dict(),
            "dataverse_per_record": dv_ratio, "wall_seconds": round(result["wall"], 2),
            "critical_path_seconds": round(path_seconds, 2), "critical_path": chain,
            "slowest_side": slowest, "slowest_side_transfer_seconds": round(total.seconds[slowest], 2),
            "done": bool(result["status"]["done"])}


class RQWorkerProcess:
    """``manage.py rqworker sync`` in its own process group (a real forking RQ worker, as deployed)."""

    def __init__(self, workdir: Path) -> None:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        self.log = (workdir / "rqworker.log").open("wb")
        self.process = subprocess.Popen([sys.executable, "manage.py", "rqworker", SYNC_QUEUE], cwd=ROOT, env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> None:
        """Stop the worker (SIGTERM to its process group: the worker and its work horse)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


def run_entry_on_worker(emulators: Any, entry: JobQueueEntry, timeout: float = 600) -> dict[str, Any]:
    """Run Now on ``entry`` and wait for the worker to finish it; returns its counts, seconds and log entry."""
    before = Counts.read(emulators)
    started = time.perf_counter()
    job_queue_entry_run_now(entry=entry)
    deadline = time.monotonic() + timeout
    log = None
    while time.monotonic() < deadline:
        entry.refresh_from_db()
        log = JobQueueLogEntry.objects.filter(job_queue_entry=entry).order_by("-started_at").first()
        if entry.status != JobQueueEntry.Status.IN_PROCESS and log is not None and log.finished_at is not None:
            break
        time.sleep(0.05)
    else:
        raise SystemExit(f"The worker did not finish '{entry.description}' within {timeout:.0f} s")
    wall = time.perf_counter() - started
    counts = Counts.read(emulators) - before
    run_seconds = (log.finished_at - log.started_at).total_seconds() if log and log.finished_at else wall
    return {"counts": counts, "seconds": run_seconds, "wall": wall, "changed": log.records_changed if log else 0,
            "failed": log.records_failed if log else 0, "status": entry.status}


def incremental(emulators: Any, connection: ConnectionSetup, workdir: Path, *, changes: int) -> dict[str, Any]:
    """The incremental runs of :data:`INCREMENTAL_MAPPING` on a ``manage.py rqworker`` process: nothing changed,
    then ``changes`` BC items changed. Returns both runs' figures."""
    entry = JobQueueEntry.objects.filter(connection=connection, table_mapping__name=INCREMENTAL_MAPPING,
                                         kind=JobQueueEntry.Kind.MAPPING).first()
    if entry is None:
        raise SystemExit(f"No job queue entry of {INCREMENTAL_MAPPING}")
    db.connections.close_all()
    worker = RQWorkerProcess(workdir)
    figures: dict[str, Any] = {}
    # The job queue runs an entry a minute apart at most: each run here waits until the overlap window after the
    # last change has passed (OVERLAP_SECONDS), as it would have on the job queue.
    settle = OVERLAP_SECONDS + 0.5
    try:
        # The first run after the full synchronization re-reads the overlap window when the full synchronization
        # started within OVERLAP_SECONDS of the source's last change (a small catalogue seeded just before): printed,
        # but not a "nothing changed" run of the targets.
        time.sleep(settle)
        figures["first run after the full synchronization"] = run_entry_on_worker(emulators, entry)
        time.sleep(settle)
        figures["nothing changed"] = run_entry_on_worker(emulators, entry)
        bc, _ = clients_for(connection)
        # Twice: the first update of products in the hour asks once whether UpdateMultiple is available (the
        # full synchronization only created products); the answer is then shared by every process for an hour.
        for label in (f"{changes} items changed (first update in the hour)", f"{changes} items changed"):
            for row in list(islice(bc.iter_rows("items", filter="blocked eq false", page_size=changes), changes)):
                bc.update("items", row["id"], {"unitPrice": float(row.get("unitPrice") or 0) + 1},
                          etag=row["@odata.etag"])
            time.sleep(settle)
            figures[label] = run_entry_on_worker(emulators, entry)
        time.sleep(settle)
        figures["nothing changed, again"] = run_entry_on_worker(emulators, entry)
    finally:
        worker.stop()
    print(f"\nIncremental runs of {INCREMENTAL_MAPPING} on a `manage.py rqworker {SYNC_QUEUE}` process (forking; "
          f"every job in a fresh work horse, Redis caches warm; each run {settle:g} s after the last change):")
    for label, run in figures.items():
        counts: Counts = run["counts"]
        print(f"  {label}: {sum(counts.requests.values())} requests in all (Dataverse {counts.requests['dataverse']}, "
              f"BC {counts.requests['businesscentral']}, Entra {counts.requests['entra']} of which "
              f"{counts.tokens} token requests), run {run['seconds']:.2f} s (Run Now to finished {run['wall']:.2f} s), "
              f"{run['changed']} records changed, status {run['status']}")
    return {label: {**run, "counts": run["counts"].as_dict()} for label, run in figures.items()}


def run(emulators: Any, workdir: Path, *, items: int, changes: int) -> dict[str, Any]:
    """The whole bench: set up, Sync All, report, incremental runs. Returns the figures (``ok`` False when a line
    did not finish)."""
    started = time.perf_counter()
    connection = connect(emulators, workdir)
    print(f"Connection set up with setup_connection (wizard defaults, unit group mapping "
          f"{'on' if connection.unit_group_mapping_enabled else 'OFF'}) in {time.perf_counter() - started:.1f} s",
          flush=True)
    result = sync_all(emulators, connection)
    full = report_full(result, connection)
    runs = incremental(emulators, connection, workdir, changes=changes)
    targets = report_targets(full, runs, changes=changes)
    ok = full["done"] and all(met for name, met in targets.items() if not name.startswith("whole run"))
    return {"items": items, "batch_size": DEFAULT_BATCH_SIZE, "full": full, "incremental": runs, "targets": targets,
            "ok": ok}


def report_targets(full: dict[str, Any], runs: dict[str, Any], *, changes: int) -> dict[str, bool]:
    """Print the targets of issue 18 and whether this run met them. The whole-run ratio is meaningful at scale only
    (a small catalogue is dominated by per-pass costs), so it does not decide the exit status."""
    idle = [run["counts"]["requests"] for label, run in runs.items() if label.startswith("nothing changed")]
    warm = runs[f"{changes} items changed"]["counts"]["requests"]
    targets = {
        "whole run: at most 0.02 Dataverse requests per synchronized record (informative below 20,000 items)":
            full["dataverse_per_record"] <= 0.02,
        "no line of 100 records or more above 0.05 Dataverse requests per record": all(
            row["dataverse_per_record"] <= 0.05 for row in full["lines"]
            if row["records"] >= 100 and row["dataverse_per_record"] is not None),
        "nothing changed: at most one request per side and no Entra request": all(
            r["dataverse"] <= 1 and r["businesscentral"] <= 1 and r["entra"] == 0 for r in idle),
        f"{changes} items changed, warm worker: at most 6 requests in all": sum(warm.values()) <= 6,
    }
    print("\nTargets:")
    for name, met in targets.items():
        print(f"  {'met    ' if met else 'NOT MET'} {name}")
    return targets
