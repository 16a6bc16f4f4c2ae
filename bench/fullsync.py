"""Requests and time of a full synchronization of the *default* configuration, and of the incremental runs after it.

    python bench/fullsync.py [--items 20000] [--json FILE]

One run, every figure from it:

1. emulators with ``--seed demo --scale N`` (N generated items, N customers and N price list lines besides the
   demo data), the connection set up the way an administrator does it (``manage.py setup_connection
   --from-emulator … --import-solution --admin-app-from-emulator --enable``: the wizard's defaults, unit groups on,
   every mapping of the default configuration);
2. the full synchronization review started as Sync All does (``syncjobs.review.full_sync_review_start``, the
   engine's default batch size) and its lines run by rq's forking ``Worker`` in this process, one RQ job at a time
   (each job in its own work horse, as on a production worker; the process forgets its in-memory caches before each
   fork, so a job starts with what a fresh work horse has: the shared Redis caches only). Every request is counted
   at the emulator (sign-in, metadata, probes, retries included) around each job, so the figures per mapping are
   exact;
3. per review line: records written, Dataverse / BC / Entra requests, Dataverse requests per record, seconds; then
   the whole run's wall time against (a) the critical path of the dependency graph (the slowest chain of per-line
   seconds: what enough parallel workers could reach) and (b) the slowest side's pure transfer time (the seconds
   the emulator spent answering that side's requests in the same run);
4. the incremental runs of ITEM-PRODUCT on a real ``manage.py rqworker sync`` process (forking, as deployed; its
   Redis caches warm from the full synchronization): a run with nothing changed, then a run after 10 items changed
   in BC, each with its requests per side and seconds.

5. the targets (issue 18): at most 0.02 Dataverse requests per synchronized record in the whole run (meaningful at
   scale: a small catalogue is dominated by per-pass costs) and 0.05 for every line of 100 records or more; an
   incremental run with nothing changed makes at most one request per side and none to Entra; 10 changed items cost
   at most 6 requests in all. The exit status is 1 when the review did not finish or an incremental target, or the
   per-line one, was missed.

``--items 500`` finishes in under a minute (CI: ``python bench/fullsync.py --items 500``). Everything runs in this
machine's processes: a temporary SQLite database, the embedded Redis, the emulators.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.engine import setup_django  # noqa: E402  (the checkout goes on sys.path first when run as a script)
from emulators.testing import start_emulators  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=20000,
                        help="generated items (and customers, and price list lines) the emulators add")
    parser.add_argument("--changes", type=int, default=10, help="items changed before the incremental run")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON to FILE")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-fullsync-"))
    redis_process = setup_django(workdir)
    print(f"Starting the emulators with --seed demo --scale {args.items} …", flush=True)
    emulators = start_emulators(workdir / "emulators", seed="demo", scale=args.items, timeout=1800)
    # Django app loading: the steps import models and services, which exist only after setup_django().
    from bench import fullsync_steps

    try:
        figures = fullsync_steps.run(emulators, workdir, items=args.items, changes=args.changes)
    finally:
        emulators.stop()
        if redis_process is not None:
            redis_process.terminate()
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())

