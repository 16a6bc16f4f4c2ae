"""Speed and memory of the synchronization engine against the emulators (issue 6, "Speed and memory").

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


def setup_django(workdir: Path) -> Any:
    """Configure a throwaway database and Redis for this process and return the embedded Redis process."""
    # Production-like: DEBUG off (Django would otherwise keep every query in memory), throwaway keys.
    from cryptography.fernet import Fernet

    from portal import embedded_redis

    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "bench-" + os.urandom(24).hex())
    os.environ.setdefault("PORTAL_ENCRYPTION_KEY", Fernet.generate_key().decode())
    os.environ.setdefault("ALLOWED_HOSTS", "localhost")
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["OUTBOUND_ALLOWED_HOSTS"] = "127.0.0.1,localhost"
    redis_process = None
    if not os.environ.get("REDIS_URL"):
        url = f"redis://127.0.0.1:{embedded_redis.free_port()}/0"
        redis_process = embedded_redis.start(url, data_dir=workdir)
        os.environ["REDIS_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return redis_process


def connect(info: dict[str, Any]) -> Any:
    """A connection setup on the emulators with the default configuration (unit-of-measure mode)."""
    from django.conf import settings

    from connections.models import ConnectionSetup
    from mappings.defaults import default_configuration_reset
    from mappings.models import IntegrationFieldMapping

    settings.OUTBOUND_CA_BUNDLE = info["ca_bundle"]
    company = info["bc_companies"][0]
    connection = ConnectionSetup.objects.create(
        name="Bench", dataverse_url=info["dataverse_url"], tenant_id=info["tenant_id"],
        authority_host=info["dataverse_url"], client_id=info["client_id"], client_secret=info["client_secret"],
        bc_api_url=info["bc_api_url"], bc_company_id=company["id"], bc_company_name=company["name"],
        unit_group_mapping_enabled=False, integration_user_id=info["application_user_id"], is_enabled=True,
    )
    default_configuration_reset(connection=connection)
    # the emulated product has no vendorid column
    IntegrationFieldMapping.objects.filter(table_mapping__connection=connection, integration_field_name="vendorid"
                                           ).update(status=IntegrationFieldMapping.Status.DISABLED)
    from syncjobs.engine import clients_for

    _, dv = clients_for(connection)
    organization = next(dv.iter_rows("organizations", select=["_basecurrencyid_value"]))
    connection.base_currency_id = organization["_basecurrencyid_value"]
    connection.save(update_fields=["base_currency_id"])
    return connection


def mapping(connection: Any, name: str) -> Any:
    from mappings.models import IntegrationTableMapping

    return IntegrationTableMapping.objects.get(connection=connection, name=name)


def prerequisites(connection: Any) -> None:
    from syncjobs.engine import synchronize_mapping

    for name in ("CURRENCY", "UNIT OF MEASURE"):
        synchronize_mapping(mapping=mapping(connection, name), full=True)


def full_item_pass(connection: Any, *, batch_size: int) -> dict[str, Any]:
    """One full BC -> Dataverse pass of ITEM-PRODUCT with fresh clients; returns records, seconds, requests."""
    from syncjobs.engine import clients_for
    from syncjobs.engine.passes import ToIntegrationPass

    bc, dv = clients_for(connection)
    started = time.perf_counter()
    job = ToIntegrationPass(mapping=mapping(connection, "ITEM-PRODUCT"), bc_client=bc, dv_client=dv, full=True,
                            batch_size=batch_size, integration_user_id=connection.integration_user_id).run()
    seconds = time.perf_counter() - started
    return {"records": job.inserted + job.modified, "failed": job.failed, "seconds": seconds,
            "dv_requests": dv.requests_sent, "bc_requests": bc.requests_sent}


def forget_items(connection: Any) -> None:
    """Drop the item couplings and jobs (after the emulators were reset) for the next measurement."""
    from mappings.models import Coupling
    from syncjobs.models import SynchronizationJob

    Coupling.objects.filter(connection=connection).delete()
    SynchronizationJob.objects.all().delete()
    from mappings.models import IntegrationTableMapping

    IntegrationTableMapping.objects.filter(connection=connection).update(synch_modified_on_filter=None,
                                                                        synch_int_tbl_mod_on_fltr=None)


def child_memory(scale: int, batch_size: int) -> None:
    """Child process: emulators at ``scale``, full item synchronization, print peak RSS (MB) as JSON."""
    from emulators.testing import start_emulators

    workdir = Path(tempfile.mkdtemp(prefix=f"bench-mem-{scale}-"))
    redis_process = setup_django(workdir)
    emulators = start_emulators(workdir / "emulators", seed="demo", scale=scale, timeout=1800)
    try:
        connection = connect(emulators.info)
        prerequisites(connection)
        before = peak_rss_mb()
        result = full_item_pass(connection, batch_size=batch_size)
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

    from emulators.testing import start_emulators

    workdir = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    redis_process = setup_django(workdir)
    print(f"Starting the emulators with --seed demo --scale {args.scale} …", flush=True)
    emulators = start_emulators(workdir / "emulators", seed="demo", scale=args.scale, timeout=1800)
    try:
        connection = connect(emulators.info)
        prerequisites(connection)
        bulk = full_item_pass(connection, batch_size=args.batch_size)
        bulk_rps = bulk["records"] / bulk["seconds"]
        print(f"Full synchronization ITEM-PRODUCT, bulk writes (batch {args.batch_size}): {bulk['records']} records "
              f"in {bulk['seconds']:.1f} s = {bulk_rps:.0f} records/s ({bulk['failed']} failed)")
        print(f"Dataverse requests per synchronized record (bulk): {bulk['dv_requests']} / {bulk['records']} = "
              f"{bulk['dv_requests'] / max(bulk['records'], 1):.4f}")

        # incremental run after 10 changes, then an immediate re-run
        from syncjobs.engine import clients_for, synchronize_mapping

        bc, _ = clients_for(connection)
        for row in list(islice(bc.iter_rows("items", filter="blocked eq false", page_size=10), 10)):
            bc.update("items", row["id"], {"unitPrice": float(row.get("unitPrice") or 0) + 1}, etag=row["@odata.etag"])
        item_mapping = mapping(connection, "ITEM-PRODUCT")
        for label in ("Incremental run after 10 items changed", "Immediate re-run"):
            bc_client, dv_client = clients_for(connection)
            started = time.perf_counter()
            jobs = synchronize_mapping(mapping=item_mapping, clients=(bc_client, dv_client))
            seconds = time.perf_counter() - started
            written = sum(j.inserted + j.modified for j in jobs)
            print(f"{label}: {bc_client.requests_sent + dv_client.requests_sent} requests "
                  f"(BC {bc_client.requests_sent}, Dataverse {dv_client.requests_sent}), {seconds:.2f} s, "
                  f"{written} records written")
            item_mapping.refresh_from_db()

        # batch size 1 over the first N items
        emulators.reset()
        forget_items(connection)
        prerequisites(connection)
        numbers = sorted(r["number"] for r in bc.iter_rows("items", select=["number"], filter="blocked eq false"))
        limit = numbers[min(args.batch1_records, len(numbers)) - 1]
        item_mapping.table_filter = f"blocked eq false and number le '{limit}'"
        item_mapping.save(update_fields=["table_filter"])
        single = full_item_pass(connection, batch_size=1)
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
