"""The main job, end to end, as an administrator runs it:

setup_connection from the emulators (solution imported, enabled) -> `fullsync --wait` on two real RQ workers ->
every mapping of the CRONUS demo company reaches Dataverse in dependency order, customers already in Dataverse are
coupled rather than duplicated -> with the RQ cron scheduler running, an item edited in BC appears in Dataverse and
an account edited in Dataverse (by a user, not the integration user) appears in BC within two minutes.

The scheduler runs the portal's own cron configuration (``syncjobs.cron``: the same jobs, queues and names), paced
every :data:`CRON_INTERVAL` seconds through ``JOB_QUEUE_DISPATCH_INTERVAL`` instead of every minute, so the test does
not wait for minute boundaries (paced by the minute it took 85-110 s, most of it waiting for the next minute).
"""
from __future__ import annotations

import json
import sqlite3
import uuid
from collections import Counter

from tests.syncjobs.processes import emulator_clients, portal, wait_for

#: Seconds between the scheduler's runs of the jobs of ``syncjobs.cron`` (``JOB_QUEUE_DISPATCH_INTERVAL``).
CRON_INTERVAL = 2
#: Seconds between the test's checks of the other side.
POLL_INTERVAL = 0.5

def test_full_synchronization_then_the_job_queue_keeps_both_sides_in_step(emulator, tmp_path, settings):
    settings.OUTBOUND_CA_BUNDLE = emulator.info["ca_bundle"]
    bc, dataverse = emulator_clients(emulator.info)
    accounts_before = [row["name"] for row in dataverse.iter_rows("accounts", select=["name"])]

    with portal(tmp_path, emulator.info) as installation:
        # Counters of every process summed for /metrics (prometheus-client's multiprocess mode).
        (tmp_path / "prometheus").mkdir()
        installation.env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "prometheus")
        installation.start_worker("worker-1")
        installation.start_worker("worker-2")
        # The scheduler runs throughout, as in `make demo`: it retries failed runs and then keeps both sides in step.
        installation.env["JOB_QUEUE_DISPATCH_INTERVAL"] = str(CRON_INTERVAL)
        installation.start("run_cron", log_name="run_cron")

        result = installation.manage("fullsync", "--wait", "--json", "--timeout", "900", check=False)

        assert result.returncode == 0, result.stdout + result.stderr + installation.logs()
        summary = {line["mapping"]: line for line in json.loads(result.stdout)}
        assert all(line["status"] in ("Finished", "NoRecordsFound", "Removed") for line in summary.values()), summary
        assert summary["ITEM-PRODUCT"]["inserted"] > 0
        assert summary["CUSTOMER"]["coupled"] > 0

        # /metrics after the full synchronization: runs, records and errors per mapping, HTTP per service, queue.
        exposition = installation.manage("shell", "-c", "from portal.metrics import metrics_text; "
                                         "print(metrics_text().decode())").stdout
        samples = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in exposition.splitlines()
                   if line.startswith("bcportal_")}
        assert samples['bcportal_synchronization_records_total{direction="ToIntegrationTable",mapping="ITEM-PRODUCT",'
                       'outcome="inserted"}'] == summary["ITEM-PRODUCT"]["inserted"]
        assert any(k.startswith("bcportal_synchronization_runs_total{") and v > 0 for k, v in samples.items())
        assert any(k.startswith("bcportal_http_requests_total{") and v > 0 for k, v in samples.items()), exposition
        assert any(k.startswith("bcportal_mapping_lag_seconds{") for k in samples)
        assert "bcportal_job_queue_due_entries" in samples and "bcportal_job_queue_oldest_due_age_seconds" in samples
        assert any(k.startswith("bcportal_rq_queue_depth{") for k in samples)

        # Dependency order: no line started before the lines of its dependency filter finished.
        database = sqlite3.connect(tmp_path / "portal.sqlite3", timeout=30)
        rows = database.execute(
            "SELECT l.name, l.dependency_filter, e.last_run_started_at, e.last_run_finished_at "
            "FROM syncjobs_fullsyncreviewline l JOIN syncjobs_jobqueueentry e ON e.id = l.job_queue_entry_id"
        ).fetchall()
        runs = {name: (dependencies, started, finished) for name, dependencies, started, finished in rows}
        for name, (dependencies, started, _) in runs.items():
            for parent in filter(None, dependencies.split("|")):
                if parent in runs:
                    assert runs[parent][2] <= started, f"{name} started before {parent} finished"
        # Independent lines ran at the same time on the two workers.
        assert any(
            a != b and runs[a][1] < runs[b][2] and runs[b][1] < runs[a][2] for a in runs for b in runs
        ), runs

        # Customers already in Dataverse were coupled, not duplicated.
        accounts_after = Counter(row["name"] for row in dataverse.iter_rows("accounts", select=["name"]))
        for name in set(accounts_before):
            assert accounts_after[name] == Counter(accounts_before)[name], f"account {name} was duplicated"

        # The job queue keeps both sides in step, driven by the RQ cron scheduler alone.
        item = next(row for row in bc.iter_rows("items") if not row["blocked"])
        bc.update("items", item["id"], {"displayName": "Bicycle, edited in BC"}, etag=item["@odata.etag"])

        def product_name() -> bool:
            rows = dataverse.iter_rows("products", select=["name"], filter=f"productnumber eq '{item['number']}'")
            return any(row["name"] == "Bicycle, edited in BC" for row in rows)

        wait_for(product_name, timeout=150, interval=POLL_INTERVAL,
                 message="the item edit did not reach Dataverse:\n" + installation.logs())

        _, as_user = emulator_clients(emulator.info, username=emulator.info["admin_user"],
                                      password=emulator.info["admin_password"])
        bc_id, dataverse_id = (uuid.UUID(value) for value in database.execute(
            "SELECT bc_id, dataverse_id FROM mappings_coupling WHERE bc_table = 'Customer' AND NOT is_pending "
            "AND 'Success' IN (last_synch_result, last_synch_crm_result) LIMIT 1"
        ).fetchone())
        as_user.update("accounts", dataverse_id, {"telephone1": "+1 425 555 0199"})

        def customer_phone() -> bool:
            return bc.get("customers", bc_id).get("phoneNumber") == "+1 425 555 0199"

        wait_for(customer_phone, timeout=150, interval=POLL_INTERVAL,
                 message="the account edit did not reach BC:\n" + installation.logs())
