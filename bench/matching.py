"""Memory of match-based coupling on a large generated catalogue (the run a worker does for "Match-Based Coupling").

    python bench/matching.py [--sizes 10000,100000] [--candidates 3]

For each size N, in a child process with its own emulators (``--seed demo --scale N``: N generated BC customers):
Dataverse gets ``--candidates`` accounts named exactly as each generated customer (so every BC record has several
candidates and the decision is "several matches"), then match-based coupling of CUSTOMER runs on the name, writing a
coupling log line per record. Prints per size: records decided, Dataverse rows, seconds, resident memory when the
run starts and the peak during the run (VmHWM, reset after the setup), and at the end the ratio of the largest size's
peak to the smallest's (target: 100,000 records under 300 MB, and flat).

Everything runs in this machine's processes: a temporary SQLite database, the embedded Redis, the emulators.
"""
from __future__ import annotations

import argparse
import gc
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.engine import load_steps, peak_rss_mb, setup_django  # noqa: E402
from emulators.testing import start_emulators  # noqa: E402


def _reset_peak_rss() -> None:
    """Start the peak (VmHWM) afresh from the current resident size (Linux: ``echo 5 > /proc/self/clear_refs``), so
    the figure is the run's peak, not the setup's."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def child(size: int, candidates: int) -> None:
    """Child process: emulators with N customers, candidates in Dataverse, one match-based coupling run."""
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-match-{size}-"))
    redis_process = setup_django(workdir)
    emulators = start_emulators(workdir / "emulators", seed="demo", scale=size, timeout=1800)
    steps = load_steps()
    try:
        # Django app loading: models and services exist only after setup_django() ran django.setup().
        from mappings.matching import MatchCriterion

        # Django app loading (as above).
        from mappings.models import IntegrationFieldMapping

        # Django app loading (as above).
        from syncjobs.coupling import match_based_coupling_run

        connection = steps.connect(emulators.info)
        bc, dataverse = steps.clients_for(connection)
        names = [row["displayName"] for row in bc.iter_rows("customers", select=["number", "displayName"],
                                                            filter="startswith(number,'GC')")]
        rows = [{"name": name, "customertypecode": 3} for name in names for _ in range(candidates)]
        for start in range(0, len(rows), 1000):
            dataverse.create_multiple("account", rows[start:start + 1000])
        mapping = steps.mapping(connection, "CUSTOMER")
        mapping.synch_after_bulk_coupling = False
        mapping.create_new_in_case_of_no_match = False
        mapping.save(update_fields=["synch_after_bulk_coupling", "create_new_in_case_of_no_match"])
        name_field = IntegrationFieldMapping.objects.get(table_mapping=mapping, field_name="Name")
        bc_before, dv_before = bc.requests_sent, dataverse.requests_sent
        del names, rows  # the bench's own setup data is not part of the run
        gc.collect()
        _reset_peak_rss()
        before = peak_rss_mb()
        started = time.perf_counter()
        bc_run, dv_run = steps.clients_for(connection)
        job = match_based_coupling_run(mapping=mapping, criteria=[MatchCriterion(name_field.pk)])
        seconds = time.perf_counter() - started
        peak = peak_rss_mb()
        print(json.dumps({"size": size, "decided": job.processed, "dataverse_rows": size * candidates,
                          "several_matches": job.coupling_log.filter(outcome="SeveralMatches").count(),
                          "seconds": round(seconds, 1), "rss_before_mb": round(before, 1),
                          "peak_rss_mb": round(peak, 1), "setup_requests": {"bc": bc_before, "dataverse": dv_before}}))
    finally:
        emulators.stop()
        if redis_process is not None:
            redis_process.terminate()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated numbers of BC records")
    parser.add_argument("--candidates", type=int, default=3, help="Dataverse rows matching each BC record")
    parser.add_argument("--limit-mb", type=float, default=300.0, help="memory target at the largest size")
    parser.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.candidates)
        return 0
    results: list[dict[str, Any]] = []
    for size in (int(s) for s in args.sizes.split(",")):
        print(f"Match-based coupling of {size} records with {args.candidates} candidates each …", flush=True)
        done = subprocess.run([sys.executable, __file__, "--child", str(size), "--candidates", str(args.candidates)],
                              cwd=ROOT, capture_output=True, text=True)
        line = next((x for x in reversed(done.stdout.splitlines()) if x.startswith("{")), None)
        if done.returncode or line is None:
            print(done.stdout[-2000:], done.stderr[-4000:], file=sys.stderr)
            return 1
        result = json.loads(line)
        results.append(result)
        print(f"  decided {result['decided']} records ({result['several_matches']} with several matches) against "
              f"{result['dataverse_rows']} Dataverse rows in {result['seconds']} s; peak RSS "
              f"{result['peak_rss_mb']} MB (before the run {result['rss_before_mb']} MB)", flush=True)
    smallest, largest = results[0], results[-1]
    ratio = largest["peak_rss_mb"] / smallest["peak_rss_mb"]
    print(f"Peak memory at {largest['size']} records / at {smallest['size']}: {ratio:.2f} "
          f"(target: flat); at {largest['size']}: {largest['peak_rss_mb']} MB (target under {args.limit_mb:g} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
