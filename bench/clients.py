"""Throughput and overhead of the portal's clients (connections/clients) against the emulators.

Starts ``python -m emulators serve --seed none --no-limits`` and an embedded Redis, then prints:

1. ``DataverseClient.upsert_multiple`` of N accounts in batches of B (rows per second);
2. ``DataverseClient.iter_rows`` over those rows with 5,000-row pages (rows per second, and the peak Python memory
   allocated while streaming, which must not grow with N);
3. the cost of the Redis concurrency cap: ``who_am_i`` one after another with the cap and without it
   (milliseconds per request each, and the difference).

Usage: ``python bench/clients.py [--rows 20000] [--batch 1000] [--calls 300]``.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django  # noqa: E402  (the checkout goes on sys.path first when run as a script)
from django.conf import settings  # noqa: E402

from emulators.testing import start_emulators  # noqa: E402
from portal import embedded_redis  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()

    redis_url = f"redis://127.0.0.1:{embedded_redis.free_port()}/0"
    redis_process = embedded_redis.start(redis_url)
    os.environ["REDIS_URL"] = redis_url
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("OUTBOUND_ALLOWED_HOSTS", "127.0.0.1,localhost")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    # Django app loading: the clients read settings (REDIS_URL above) that exist only after django.setup().
    from connections.clients import DataverseClient, TokenProvider

    try:
        with tempfile.TemporaryDirectory() as tmp, \
                start_emulators(Path(tmp), seed="none", extra_args=["--no-limits"]) as emu:
            info = emu.info
            settings.OUTBOUND_CA_BUNDLE = info["ca_bundle"]
            port = urlsplit(info["dataverse_url"]).port
            settings.OUTBOUND_ALLOWED_HOSTS = [f"127.0.0.1:{port}", f"localhost:{port}"]
            tokens = TokenProvider(authority=info["entra_authority"], client_id=info["client_id"],
                                   client_secret=info["client_secret"])
            client = DataverseClient(info["dataverse_url"], tokens, concurrency_key=uuid.uuid4().hex)
            client.who_am_i()

            started = time.perf_counter()
            for start in range(0, args.rows, args.batch):
                client.upsert_multiple("account", [{"accountid": str(uuid.uuid4()), "name": f"Bench {start + i}"}
                                                   for i in range(min(args.batch, args.rows - start))])
            seconds = time.perf_counter() - started
            print(f"upsert_multiple: {args.rows} rows in {seconds:.2f} s = {args.rows / seconds:,.0f} rows/s "
                  f"(batches of {args.batch})")

            tracemalloc.start()
            started = time.perf_counter()
            read = sum(1 for _ in client.iter_rows("accounts", select=["accountid", "name"], page_size=5000))
            seconds = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"iter_rows: {read} rows in {seconds:.2f} s = {read / seconds:,.0f} rows/s; "
                  f"peak Python allocations while streaming {peak / 1e6:.1f} MB")

            figures = {}
            for label, cap in (("with the Redis cap", 8), ("without a cap", 0)):
                capped = DataverseClient(info["dataverse_url"], tokens, max_concurrency=cap,
                                         concurrency_key=uuid.uuid4().hex)
                capped.who_am_i()
                started = time.perf_counter()
                for _ in range(args.calls):
                    capped.who_am_i()
                figures[label] = (time.perf_counter() - started) / args.calls * 1000
                print(f"who_am_i {label}: {figures[label]:.2f} ms per request")
            print(f"concurrency cap overhead: {figures['with the Redis cap'] - figures['without a cap']:.2f} ms "
                  "per request")
    finally:
        redis_process.terminate()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
