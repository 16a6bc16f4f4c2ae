"""Speed and memory of the synchronization engine against the emulators (bulk writes, memory, incremental runs).

    python bench/engine.py [--scale 100000] [--memory-scales 10000,100000] [--batch-size 1000]
                           [--batch1-records 500]

Prints, in one run (emulators started with ``--seed demo --scale N``):

* a full synchronization of ITEM-PRODUCT (BC -> Dataverse) with bulk writes and with batch size 1: records per
  second each and their ratio (target: at least 20x). Batch size 1 runs over the first ``--batch1-records`` items
  (records per second is per record, so the comparison holds; the whole table at one request per record would take
  hours at 100,000 items);
* Dataverse requests per synchronized record with bulk writes (target: at most 0.01);
* peak memory (RSS) of a worker process running the full synchronization at each ``--memory-scales`` size, each in
  a child process with its own emulators (target: under 300 MB, and flat);
* the cost of an incremental run after 10 items changed (requests, seconds; target: at most 10 requests, under 2 s);
* an immediate re-run (target: nothing written).

Everything runs in this machine's processes: a temporary SQLite database, the embedded Redis, the emulators.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import django  # noqa: E402  (the checkout goes on sys.path first when run as a script)
from cryptography.fernet import Fernet  # noqa: E402
from django.core.management import call_command  # noqa: E402

from emulators.testing import start_emulators  # noqa: E402
from portal import embedded_redis  # noqa: E402


def setup_django(workdir: Path, database_url: str | None = None) -> Any:
    """Configure a throwaway database (``database_url``, default a SQLite file in ``workdir``) and Redis for this
    process, migrate, and return the embedded Redis process (None when ``REDIS_URL`` is set)."""
    # Production-like: DEBUG off (Django would otherwise keep every query in memory), throwaway keys, no developer
    # defaults from var/portal.env.
    os.environ["DEBUG"] = "0"
    os.environ["PORTAL_ENV_FILE"] = ""
    os.environ.setdefault("SECRET_KEY", "bench-" + os.urandom(24).hex())
    os.environ.setdefault("PORTAL_ENCRYPTION_KEY", Fernet.generate_key().decode())
    os.environ.setdefault("ALLOWED_HOSTS", "localhost")
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["OUTBOUND_ALLOWED_HOSTS"] = "127.0.0.1,localhost"
    redis_process = None
    if not os.environ.get("REDIS_URL"):
        url = f"redis://127.0.0.1:{embedded_redis.free_port()}/0"
        redis_process = embedded_redis.start(url, data_dir=workdir)
        os.environ["REDIS_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    call_command("migrate", verbosity=0)
    return redis_process


def load_steps() -> Any:
    """The measured steps (:mod:`bench.engine_steps`), importable once :func:`setup_django` has run."""
    # Django app loading: the steps import models, which exist only after django.setup() in setup_django().
    from bench import engine_steps

    return engine_steps


def child_memory(scale: int, batch_size: int) -> None:
    """Child process: emulators at ``scale``, full item synchronization, print peak RSS (MB) as JSON."""
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-mem-{scale}-"))
    redis_process = setup_django(workdir)
    emulators = start_emulators(workdir / "emulators", seed="demo", scale=scale, timeout=1800)
    steps = load_steps()
    try:
        connection = steps.connect(emulators.info)
        steps.prerequisites(connection)
        before = peak_rss_mb()
        result = steps.full_item_pass(connection, batch_size=batch_size)
        peak = peak_rss_mb()
        print(json.dumps({"scale": scale, "records": result["records"], "peak_rss_mb": round(peak, 1),
                          "rss_before_mb": round(before, 1), "seconds": round(result["seconds"], 1)}))
    finally:
        emulators.stop()
        if redis_process is not None:
            redis_process.terminate()
        shutil.rmtree(workdir, ignore_errors=True)


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB: VmHWM (Linux; unlike ru_maxrss it is not inherited across
    exec from the parent), else ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=100000, help="items generated by the emulators' demo seed")
    parser.add_argument("--memory-scales", default="10000,100000", help="comma-separated item counts")
    parser.add_argument("--batch-size", type=int, default=1000, help="records per bulk write")
    parser.add_argument("--batch1-records", type=int, default=500, help="items written with batch size 1")
    parser.add_argument("--child-memory", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_memory:
        child_memory(args.child_memory, args.batch_size)
        return

    workdir = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    redis_process = setup_django(workdir)
    print(f"Starting the emulators with --seed demo --scale {args.scale} …", flush=True)
    emulators = start_emulators(workdir / "emulators", seed="demo", scale=args.scale, timeout=1800)
    steps = load_steps()
    try:
        connection = steps.connect(emulators.info)
        steps.prerequisites(connection)
        bulk = steps.full_item_pass(connection, batch_size=args.batch_size)
        bulk_rps = bulk["records"] / bulk["seconds"]
        print(f"Full synchronization ITEM-PRODUCT, bulk writes (batch {args.batch_size}): {bulk['records']} records "
              f"in {bulk['seconds']:.1f} s = {bulk_rps:.0f} records/s ({bulk['failed']} failed)")
        print(f"Dataverse requests per synchronized record (bulk): {bulk['dv_requests']} / {bulk['records']} = "
              f"{bulk['dv_requests'] / max(bulk['records'], 1):.4f}")

        # incremental run after 10 changes, then an immediate re-run
        bc, _ = steps.clients_for(connection)
        for row in list(islice(bc.iter_rows("items", filter="blocked eq false", page_size=10), 10)):
            bc.update("items", row["id"], {"unitPrice": float(row.get("unitPrice") or 0) + 1}, etag=row["@odata.etag"])
        item_mapping = steps.mapping(connection, "ITEM-PRODUCT")
        for label in ("Incremental run after 10 items changed", "Immediate re-run"):
            bc_client, dv_client = steps.clients_for(connection)
            started = time.perf_counter()
            jobs = steps.synchronize_mapping(mapping=item_mapping, clients=(bc_client, dv_client))
            seconds = time.perf_counter() - started
            written = sum(j.inserted + j.modified for j in jobs)
            print(f"{label}: {bc_client.requests_sent + dv_client.requests_sent} requests "
                  f"(BC {bc_client.requests_sent}, Dataverse {dv_client.requests_sent}), {seconds:.2f} s, "
                  f"{written} records written")
            item_mapping.refresh_from_db()

        # batch size 1 over the first N items
        emulators.reset()
        steps.forget_items(connection)
        steps.prerequisites(connection)
        numbers = sorted(r["number"] for r in bc.iter_rows("items", select=["number"], filter="blocked eq false"))
        limit = numbers[min(args.batch1_records, len(numbers)) - 1]
        item_mapping.table_filter = f"blocked eq false and number le '{limit}'"
        item_mapping.save(update_fields=["table_filter"])
        single = steps.full_item_pass(connection, batch_size=1)
        single_rps = single["records"] / single["seconds"]
        print(f"Full synchronization ITEM-PRODUCT, batch size 1: {single['records']} records in "
              f"{single['seconds']:.1f} s = {single_rps:.1f} records/s")
        print(f"Bulk / batch size 1: {bulk_rps / single_rps:.1f}x")
    finally:
        emulators.stop()
        if redis_process is not None:
            redis_process.terminate()
        shutil.rmtree(workdir, ignore_errors=True)

    for scale in (int(s) for s in args.memory_scales.split(",") if s.strip()):
        out = subprocess.run([sys.executable, __file__, "--child-memory", str(scale), "--batch-size",
                              str(args.batch_size)], capture_output=True, text=True, cwd=str(ROOT), check=False,
                             env={k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")})
        line = next((ln for ln in reversed(out.stdout.splitlines()) if ln.startswith("{")), "")
        if not line:
            print(f"Peak memory at {scale} items: the child failed: {out.stderr[-2000:]}")
            continue
        figures = json.loads(line)
        print(f"Peak memory of the worker at {scale} items: {figures['peak_rss_mb']} MB "
              f"(before the pass {figures['rss_before_mb']} MB; {figures['records']} records in "
              f"{figures['seconds']} s)")


if __name__ == "__main__":
    main()
