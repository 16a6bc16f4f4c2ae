"""Chaos trials of the full synchronization on PostgreSQL and Redis, checked row by row.

    python bench/chaos.py --items 20000 --trials 10 [--seed S] [--database-url postgres://...] [--workers 2]

Each trial starts from nothing: a fresh PostgreSQL database (created and dropped through ``--database-url``, which
must be PostgreSQL), a fresh ``redis-server`` without persistence, fresh emulators (``--seed demo --scale N``), the
connection set up with ``manage.py setup_connection``, W RQ workers (``manage.py rqworker default sync``) and the cron
scheduler (``manage.py run_cron``) as real child processes kept alive by a supervisor (restart after 1 s, as systemd's
``Restart=always``), and the emulators answering a share of API requests with 429, 500/503 or a dropped connection
all along (``--fault-rates``). Then ``manage.py fullsync --wait`` starts the full synchronization review and, at random
moments while it runs, the trial injects faults:

* ``worker-main``: kill -9 of an RQ worker's main process only (its work-horse, when one runs, goes on);
* ``work-horse``: kill -9 of the work-horse that holds a run's lease only;
* ``both``: kill -9 of that work-horse and its worker's main process;
* ``scheduler``: kill -9 of the cron scheduler;
* ``redis``: kill -9 of Redis and a restart with its data lost;
* ``pg-terminate``: ``pg_terminate_backend`` of every database session of the workers (application_name);
* ``emulator-burst``: 15 s of heavy 429/5xx/dropped connections from the emulators.

Across the trials every kind occurs (``--faults-per-trial`` kinds per trial, rotating through the list). When the
review has settled, the trial compares BC, Dataverse and the couplings row by row (:mod:`bench.chaos_check`) and
prints one line: duplicates, missing records, lines in Error, whether every line finished, recovery seconds (the
longest time from a fault until the synchronization made progress again) and the tail (seconds from the last fault
to the end). A summary follows; the exit code is 1 when any trial had duplicates, missing records, lines in Error or
did not finish. ``--seed`` (printed) replays the same fault plan and timing.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402  (the checkout goes on sys.path first when run as a script)

from bench import chaos_check  # noqa: E402
from bench.chaos_env import (  # noqa: E402
    RedisServer,
    Supervisor,
    children_of,
    connect,
    create_database,
    drop_database,
    free_port,
    require_postgresql,
)
from emulators.testing import EmulatorSession, client_token, start_emulators  # noqa: E402

FAULT_KINDS = ("worker-main", "work-horse", "both", "scheduler", "redis", "pg-terminate", "emulator-burst")
WORKER_APP = "chaos-worker"


def fault_plan(trials: int, per_trial: int, rng: random.Random) -> list[list[str]]:
    """The fault kinds of each trial: ``per_trial`` consecutive kinds of :data:`FAULT_KINDS` (rotating, so every
    kind occurs once ``trials * per_trial >= 7``), shuffled within the trial."""
    plan = []
    for trial in range(trials):
        kinds = [FAULT_KINDS[(trial * per_trial + j) % len(FAULT_KINDS)] for j in range(per_trial)]
        rng.shuffle(kinds)
        plan.append(kinds)
    return plan


@dataclass
class TrialResult:
    """The figures of one trial (seconds are wall-clock)."""

    number: int
    faults: list[str] = field(default_factory=list)
    duplicates: int = 0
    missing: int = 0
    error_lines: list[str] = field(default_factory=list)
    unfinished_lines: list[str] = field(default_factory=list)
    failed_records: int = 0
    failed_by_line: dict[str, int] = field(default_factory=dict)
    failure_messages: list[str] = field(default_factory=list)
    finished: bool = False
    recovery_seconds: float = 0.0
    tail_seconds: float = 0.0
    sync_seconds: float = 0.0
    records: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    restarts: int = 0
    note: str = ""

    @property
    def ok(self) -> bool:
        return (self.finished and not self.duplicates and not self.missing and not self.error_lines
                and not self.unfinished_lines)

    def line(self) -> str:
        checked = ", ".join(f"{name} {count}" for name, count in self.records.items())
        finished = "yes" if self.finished else "no"
        return (f"trial {self.number:>2}: {'OK  ' if self.ok else 'FAIL'} duplicates={self.duplicates} "
                f"missing={self.missing} error_lines={len(self.error_lines)} finished={finished}"
                f" recovery_s={self.recovery_seconds:.0f} tail_s={self.tail_seconds:.0f} sync_s={self.sync_seconds:.0f}"
                f" failed_records={self.failed_records}{self.failed_by_line or ''} restarts={self.restarts}"
                f" faults=[{', '.join(self.faults)}]"
                f" checked: {checked}" + (f" ({self.note})" if self.note else ""))


class Trial:
    """One trial: its services, its processes, its faults, its check (see the module doc)."""

    def __init__(self, number: int, args: argparse.Namespace, kinds: list[str], rng: random.Random,
                 workdir: Path) -> None:
        self.number = number
        self.args = args
        self.kinds = kinds
        self.rng = rng
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.db_name = f"chaos_{os.getpid()}_{number}"
        self.result = TrialResult(number)
        self.redis = RedisServer(free_port(), self.logs / "redis.log")
        self.supervisor = Supervisor(ROOT, self.logs)
        self.emulators: Any = None
        self.db_url = ""
        self.hit_entry = ""  # the job queue entry whose work-horse the last fault killed, and that work-horse
        self.hit_horse = ""

    # --- set-up ------------------------------------------------------------------------------------------------
    def environment(self) -> dict[str, str]:
        port = self.emulators.info["dataverse_url"].rsplit(":", 1)[1]
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(
            DATABASE_URL=self.db_url, REDIS_URL=self.redis.url, DEBUG="0", SECRET_KEY="chaos-" + os.urandom(16).hex(),
            PORTAL_ENCRYPTION_KEY=self.args.encryption_key, ALLOWED_HOSTS="localhost",
            OUTBOUND_ALLOWED_HOSTS=f"127.0.0.1:{port},localhost:{port}",
            OUTBOUND_CA_BUNDLE=self.emulators.info["ca_bundle"], JOB_QUEUE_DISPATCH_INTERVAL="5",
            PYTHONUNBUFFERED="1", PGAPPNAME="chaos-setup",
        )
        return env

    def manage(self, *command: str, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=timeout)
        with (self.logs / "manage.log").open("a") as out:
            out.write(f"$ manage.py {' '.join(command)} -> {done.returncode}\n{done.stdout}\n{done.stderr}\n")
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(command)} exited with {done.returncode}: {done.stderr[-2000:]}")
        return done

    def set_up(self) -> dict[str, str]:
        self.db_url = create_database(self.args.database_url, self.db_name)
        self.redis.start()
        self.emulators = start_emulators(self.workdir / "emulators", seed="demo", scale=self.args.items,
                                         timeout=1800, extra_args=["--fault-seed", str(self.rng.randrange(2**31))])
        env = self.environment()
        info_file = self.workdir / "emulators.json"
        info_file.write_text(json.dumps(self.emulators.info))
        self.manage("migrate", "--noinput", "-v", "0", env=env)
        self.manage("setup_connection", "--from-emulator", str(info_file), "--import-solution",
                    "--admin-app-from-emulator", "--enable", env=env)
        for k in range(1, self.args.workers + 1):
            self.supervisor.add(f"worker-{k}", [sys.executable, "manage.py", "rqworker", "default", "sync"],
                                {**env, "PGAPPNAME": f"{WORKER_APP}-{k}"})
        self.supervisor.add("scheduler", [sys.executable, "manage.py", "run_cron", "--max-backoff", "5"],
                            {**env, "PGAPPNAME": "chaos-scheduler"})
        self.supervisor.start()
        self.emulators.control(**self.args.rates)
        return env

    # --- progress and faults -------------------------------------------------------------------------------------
    def progress(self) -> int:
        """A number that grows while the synchronization makes progress: records counted by its synchronization
        jobs plus couplings plus finished lines."""
        try:
            with connect(self.db_url, connect_timeout=5) as conn:
                row = conn.execute(
                    "SELECT (SELECT coalesce(sum(processed + inserted + modified + unchanged + coupled), 0) "
                    "FROM syncjobs_synchronizationjob) + (SELECT count(*) FROM mappings_coupling) + "
                    "(SELECT count(*) FROM syncjobs_fullsyncreviewline WHERE job_queue_entry_status = 'Finished')"
                ).fetchone()
            return int(row[0]) if row else 0
        except Exception:  # the database refusing a moment is no progress
            return -1

    def _leased_horses(self) -> list[tuple[int, int, str]]:
        """(work-horse pid, worker main pid, job queue entry id) of runs that hold a lease right now and belong to
        our workers."""
        host = socket.gethostname()
        with connect(self.db_url, connect_timeout=5) as conn:
            owners = conn.execute(
                "SELECT lease_owner, id::text FROM syncjobs_jobqueueentry WHERE status = 'InProcess' "
                "AND lease_owner <> '' AND lease_expires_at > now()").fetchall()
        mains = {pid: name for name in self.supervisor.children
                 if name.startswith("worker-") and (pid := self.supervisor.pid(name))}
        found = []
        for owner, entry in owners:
            owner_host, _, pid = owner.rpartition(":")
            if owner_host != host or not pid.isdigit():
                continue
            for main in mains:
                if int(pid) in children_of(main):
                    found.append((int(pid), main, entry))
        return found

    def _wait_for_horse(self, done: subprocess.Popen[str], seconds: float = 120) -> tuple[int, int, str] | None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and done.poll() is None:
            try:
                horses = self._leased_horses()
            except Exception:
                horses = []
            if horses:
                return self.rng.choice(horses)
            time.sleep(0.5)
        return None

    def inject(self, kind: str, done: subprocess.Popen[str]) -> str | None:
        """Inject one fault of ``kind``; returns a description, or None when there was nothing to hit (the run
        ended first)."""
        if kind in ("work-horse", "both"):
            target = self._wait_for_horse(done)
            if target is None:
                return None
            horse, main, self.hit_entry = target
            self.hit_horse = str(horse)
            os.kill(horse, 9)
            if kind == "both":
                os.kill(main, 9)
                return f"both(horse {horse}, main {main})"
            return f"work-horse({horse})"
        if kind == "worker-main":
            target = self._wait_for_horse(done, seconds=20)
            if target is not None:
                os.kill(target[1], 9)
                return f"worker-main({target[1]}, horse {target[0]} left running)"
            names = [n for n in self.supervisor.children if n.startswith("worker-") and self.supervisor.pid(n)]
            pid = self.supervisor.pid(self.rng.choice(names)) if names else None
            if pid is None:
                return None
            os.kill(pid, 9)
            return f"worker-main({pid}, idle)"
        if kind == "scheduler":
            pid = self.supervisor.pid("scheduler")
            if pid is None:
                return None
            os.kill(pid, 9)
            return f"scheduler({pid})"
        if kind == "redis":
            self.redis.kill()
            time.sleep(self.rng.uniform(1, 4))
            self.redis.start()
            return "redis(restarted empty)"
        if kind == "pg-terminate":
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and done.poll() is None:
                with connect(self.db_url, connect_timeout=5) as conn:
                    ended = conn.execute(
                        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = %s AND application_name LIKE %s AND state <> 'idle'",
                        (self.db_name, f"{WORKER_APP}-%")).fetchone()
                if ended and ended[0]:
                    return f"pg-terminate({ended[0]} sessions)"
                time.sleep(0.3)
            return None
        if kind == "emulator-burst":
            self.emulators.control(rate_429=0.25, rate_5xx=0.15, drop_rate=0.1)
            time.sleep(15)
            self.emulators.control(**self.args.rates)
            return "emulator-burst(15 s)"
        raise ValueError(f"unknown fault kind {kind!r}; use one of {', '.join(FAULT_KINDS)}")

    def _entry_resumed(self, entry: str, killed_owner_pid: str) -> bool:
        """Whether job queue entry ``entry`` runs again under another lease, or has ended."""
        try:
            with connect(self.db_url, connect_timeout=5) as conn:
                row = conn.execute("SELECT status, lease_owner FROM syncjobs_jobqueueentry WHERE id = %s",
                                   (entry,)).fetchone()
        except Exception:
            return False
        if row is None or row[0] in ("Finished", "Error"):
            return True
        return row[0] == "InProcess" and bool(row[1]) and not row[1].endswith(f":{killed_owner_pid}")

    def wait_for_recovery(self, since: float, done: subprocess.Popen[str], baseline: int, hit: tuple[str, str],
                          into: list[float]) -> None:
        """Append to ``into`` the seconds from ``since`` until the run hit by a work-horse kill (``hit``: its job
        queue entry and work-horse pid) holds a lease again (or ended), or, for the other faults (``hit`` empty),
        until the synchronization counted more records than ``baseline``; or until the end. Runs in a thread, so
        the next fault does not wait for this one's recovery."""
        while done.poll() is None:
            resumed = self._entry_resumed(*hit) if hit[0] else self.progress() > baseline
            if resumed:
                break
            time.sleep(0.5)
        into.append(time.monotonic() - since)

    # --- the trial -----------------------------------------------------------------------------------------------
    def run(self) -> TrialResult:
        result = self.result
        try:
            env = self.set_up()
            started = time.monotonic()
            fullsync = subprocess.Popen(
                [sys.executable, "manage.py", "fullsync", "--wait", "--json", "--timeout", str(self.args.timeout)],
                cwd=ROOT, env={**env, "PGAPPNAME": "chaos-fullsync"}, stdout=(self.logs / "fullsync.out").open("w"),
                stderr=(self.logs / "fullsync.err").open("w"), text=True)
            last_fault = started
            watchers: list[threading.Thread] = []
            recoveries: list[float] = []
            for kind in self.kinds:
                time.sleep(self.rng.uniform(*self.args.fault_gap))
                if fullsync.poll() is not None:
                    result.faults.append(f"{kind}(not injected: the run ended first)")
                    continue
                baseline = self.progress()
                self.hit_entry = self.hit_horse = ""
                at = time.monotonic()
                what = self.inject(kind, fullsync)
                if what is None:
                    why = "the run ended first" if fullsync.poll() is not None else "no process to hit was found"
                    result.faults.append(f"{kind}(not injected: {why})")
                    continue
                last_fault = time.monotonic()
                result.faults.append(f"{what}@{at - started:.0f}s")
                hit = (self.hit_entry, self.hit_horse)
                watchers.append(threading.Thread(target=self.wait_for_recovery, daemon=True, args=(
                    at, fullsync, max(baseline, self.progress()), hit, recoveries)))
                watchers[-1].start()
            try:
                fullsync.wait(self.args.timeout + 120)
            except subprocess.TimeoutExpired:
                fullsync.kill()
                result.note = "fullsync --wait did not return"
            for watcher in watchers:
                watcher.join(10)
            result.recovery_seconds = max(recoveries, default=0.0)
            end = time.monotonic()
            result.sync_seconds = end - started
            result.tail_seconds = end - last_fault
            self.emulators.control(rate_429=0.0, rate_5xx=0.0, drop_rate=0.0)
            self.check(fullsync.returncode)
        except Exception as exc:  # a trial that could not run is a failed trial, reported with the reason
            result.note = f"{type(exc).__name__}: {exc}"[:500]
        finally:
            result.restarts = sum(child.restarts for child in self.supervisor.children.values())
            self.tear_down()
        return result

    def check(self, returncode: int | None) -> None:
        result = self.result
        info = self.emulators.info
        session = EmulatorSession.for_info(info)
        reader = chaos_check.ApiReader(info, session, lambda scope: client_token(info, scope, session=session))
        with connect(self.db_url) as conn, conn.cursor() as cursor:
            review = chaos_check.read_review(cursor)
            cursor.execute("SELECT bc_company_id::text FROM connections_connectionsetup LIMIT 1")
            company = cursor.fetchone()[0]
            findings = chaos_check.check_all(reader, cursor, company)
        result.error_lines = review.error_lines
        result.unfinished_lines = review.unfinished_lines
        result.failed_records = review.failed_records
        result.failed_by_line = review.failed_by_line
        result.failure_messages = review.failure_messages
        result.finished = returncode in (0, 1) and not review.unfinished_lines and not review.error_lines
        for found in findings:
            result.duplicates += found.duplicates
            result.missing += found.missing
            result.records[found.mapping] = found.bc_records
            result.examples.extend(found.examples)
        if returncode not in (0, 1):
            result.note = (result.note + f"; fullsync exited {returncode}").lstrip("; ")

    def tear_down(self) -> None:
        self.supervisor.stop()
        self.redis.kill()
        if self.emulators is not None:
            self.emulators.stop()
        keep = self.args.keep == "all" or (self.args.keep == "failed" and not self.result.ok)
        if self.db_url and not keep:
            try:
                drop_database(self.args.database_url, self.db_name)
            except Exception as exc:
                print(f"  could not drop database {self.db_name}: {exc}", file=sys.stderr)
        if keep or not self.result.ok:
            kept = Path(tempfile.gettempdir()) / f"chaos-logs-{os.getpid()}-{self.number}"
            shutil.copytree(self.logs, kept, dirs_exist_ok=True)
            print(f"  logs of trial {self.number} kept in {kept}" +
                  (f"; database {self.db_name} kept" if keep else ""), flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module doc); raises SystemExit(2) with a message for bad values, e.g. a SQLite
    ``--database-url``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=300, help="generated catalogue size (emulators --scale N)")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--seed", type=int, default=None, help="random seed (printed; replays the fault plan)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                        help="PostgreSQL URL whose role may create databases (default: $DATABASE_URL)")
    parser.add_argument("--workers", type=int, default=2, help="RQ workers (default 2)")
    parser.add_argument("--faults-per-trial", type=int, default=3)
    parser.add_argument("--faults", default="", help=f"comma-separated fault kinds of every trial instead of the "
                                                     f"rotating plan (kinds: {', '.join(FAULT_KINDS)})")
    parser.add_argument("--fault-rates", default="0.02,0.02,0.01",
                        help="the emulators' 429, 5xx and dropped-connection shares all along (default 0.02,0.02,0.01)")
    parser.add_argument("--fault-gap", default=None,
                        help="seconds between faults: min,max (default 5,max(25, items/200))")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds a trial's synchronization may take (default max(900, items * 0.3))")
    parser.add_argument("--keep", nargs="?", const="failed", choices=("failed", "all"), default=None,
                        help="keep the database (and logs) of failed trials, or of all trials with --keep all")
    parser.add_argument("--verbose", action="store_true", help="print the messages of failed records per trial")
    args = parser.parse_args(argv)
    try:
        args.database_url = require_postgresql(args.database_url)
    except ValueError as exc:
        parser.error(str(exc))
    if args.items < 1 or args.trials < 1 or args.workers < 1 or args.faults_per_trial < 0:
        parser.error("--items, --trials and --workers must be at least 1, --faults-per-trial at least 0")
    try:
        r429, r5xx, drop = (float(x) for x in args.fault_rates.split(","))
        low, high = (float(x) for x in (args.fault_gap or f"5,{max(25, args.items // 200)}").split(","))
    except ValueError:
        parser.error("--fault-rates takes three shares (e.g. 0.02,0.02,0.01), --fault-gap two seconds (e.g. 5,25)")
    if not all(0 <= r < 1 for r in (r429, r5xx, drop)) or not 0 <= low <= high:
        parser.error("--fault-rates shares must be in [0, 1); --fault-gap needs 0 <= min <= max")
    args.faults = [kind.strip() for kind in args.faults.split(",") if kind.strip()]
    unknown = sorted(set(args.faults) - set(FAULT_KINDS))
    if unknown:
        parser.error(f"unknown fault kind(s) {', '.join(unknown)}; use {', '.join(FAULT_KINDS)}")
    args.rates = {"rate_429": r429, "rate_5xx": r5xx, "drop_rate": drop}
    args.fault_gap = (low, high)
    args.timeout = args.timeout or max(900.0, args.items * 0.3)
    args.seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    args.encryption_key = Fernet.generate_key().decode()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rng = random.Random(args.seed)
    plan = fault_plan(args.trials, args.faults_per_trial, rng)
    if args.faults:
        plan = [list(args.faults) for _ in plan]
    print(f"chaos: {args.trials} trials, {args.items} items, {args.workers} workers, seed {args.seed}, emulator "
          f"faults {args.rates} all along; replay with --seed {args.seed}", flush=True)
    results: list[TrialResult] = []
    for number, kinds in enumerate(plan, start=1):
        workdir = Path(tempfile.mkdtemp(prefix=f"chaos-{number}-"))
        try:
            result = Trial(number, args, kinds, random.Random(rng.randrange(2**31)), workdir).run()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        results.append(result)
        print(result.line(), flush=True)
        for example in result.examples[:10]:
            print(f"    {example}", flush=True)
        for message in result.failure_messages if args.verbose else []:
            print(f"    failed records: {message}", flush=True)
        if result.error_lines or result.unfinished_lines:
            print(f"    lines in Error: {result.error_lines}; not finished: {result.unfinished_lines}", flush=True)
    passed = sum(r.ok for r in results)
    kinds_hit = sorted({f.split("(")[0] for r in results for f in r.faults if "not injected" not in f})
    print(f"summary: {passed}/{len(results)} trials OK; duplicates {sum(r.duplicates for r in results)}, missing "
          f"{sum(r.missing for r in results)}, lines in Error {sum(len(r.error_lines) for r in results)}, "
          f"finished {sum(r.finished for r in results)}/{len(results)}, max recovery "
          f"{max((r.recovery_seconds for r in results), default=0):.0f} s; fault kinds injected: "
          f"{', '.join(kinds_hit)}; seed {args.seed}", flush=True)
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
