"""Throughput of the Dataverse emulator on this machine (rows per second).

Runs ``python -m emulators serve --seed none --no-limits`` in a temporary directory and measures, over
real HTTPS with an msal-issued token:

1. ``UpsertMultiple`` of 100,000 products in batches of 1,000 (target >= 5,000 rows/s);
2. paging those 100,000 rows with ``Prefer: odata.maxpagesize=5000`` (target >= 20,000 rows/s);
3. single ``POST accounts`` creates, one after another on one keep-alive connection;
4. sequential ``GET WhoAmI`` on one keep-alive session (requests per second: the per-request overhead
   every other benchmark pays; ~23/s before TCP_NODELAY + one-send responses, ~1,400/s after).

Usage: ``python bench/emulators.py [--rows 100000] [--batch 1000] [--page 5000] [--singles 2000]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emulators.testing import EmulatorSession, client_token, start_emulators  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=1_000)
    p.add_argument("--page", type=int, default=5_000)
    p.add_argument("--singles", type=int, default=2_000)
    p.add_argument("--whoami", type=int, default=1_000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp, \
            start_emulators(Path(tmp), seed="none", extra_args=["--no-limits"]) as emu:
        info = emu.info
        s = EmulatorSession.for_info(info)
        token = client_token(info, session=s)
        api = info["dataverse_url"] + "/api/data/v9.2/"
        s.headers.update({"Authorization": f"Bearer {token}", "OData-Version": "4.0", "Accept": "application/json"})
        sched = s.get(api + "uomschedules?$select=name").json()["value"][0]["uomscheduleid"]
        unit = s.get(api + f"uoms?$filter=_uomscheduleid_value eq {sched}").json()["value"][0]["uomid"]

        started = time.perf_counter()
        for start in range(0, args.rows, args.batch):
            targets = [{"@odata.type": "Microsoft.Dynamics.CRM.product", "productid": str(uuid.uuid4()),
                        "name": f"Bench product {i}", "productnumber": f"B{i:07d}", "price": float(i % 997),
                        "defaultuomscheduleid@odata.bind": f"/uomschedules({sched})",
                        "defaultuomid@odata.bind": f"/uoms({unit})"}
                       for i in range(start, min(start + args.batch, args.rows))]
            r = s.post(api + "products/Microsoft.Dynamics.CRM.UpsertMultiple", json={"Targets": targets})
            r.raise_for_status()
        upsert_s = time.perf_counter() - started

        started = time.perf_counter()
        url, rows = api + "products", 0
        while url:
            r = s.get(url, headers={"Prefer": f"odata.maxpagesize={args.page}"})
            r.raise_for_status()
            body = r.json()
            rows += len(body["value"])
            url = body.get("@odata.nextLink")
        page_s = time.perf_counter() - started
        assert rows == args.rows, rows

        started = time.perf_counter()
        for i in range(args.singles):
            s.post(api + "accounts", json={"name": f"Single {i}", "accountnumber": f"S{i}"}).raise_for_status()
        single_s = time.perf_counter() - started

        s.get(api + "WhoAmI").raise_for_status()
        started = time.perf_counter()
        for _ in range(args.whoami):
            s.get(api + "WhoAmI").raise_for_status()
        whoami_s = time.perf_counter() - started

    print(f"UpsertMultiple {args.rows:,} products in batches of {args.batch:,}: "
          f"{args.rows / upsert_s:,.0f} rows/s ({upsert_s:.1f} s)")
    print(f"Paging {rows:,} rows at {args.page:,} per page: {rows / page_s:,.0f} rows/s ({page_s:.1f} s)")
    print(f"Single creates ({args.singles:,} POST accounts, sequential): {args.singles / single_s:,.0f} rows/s "
          f"({single_s:.1f} s)")
    print(f"Sequential GET WhoAmI ({args.whoami:,}, one keep-alive session): {args.whoami / whoami_s:,.0f} requests/s "
          f"({whoami_s / args.whoami * 1000:.2f} ms per request)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
