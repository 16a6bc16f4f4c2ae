"""A worker killed in the middle of a full synchronization: the dispatcher detects the dead run, retries it, the
engine resumes after the last committed batch, and the result has no duplicate and no missing row.

Real RQ workers run as separate processes (`manage.py rqworker`) against the emulators; the kill is SIGKILL of the
worker's process group (its work horse too), as when a machine is lost. The mapping is UNIT OF MEASURE (BC
unitsOfMeasure -> Dataverse uomschedule), synchronized two records per batch with a slowed-down emulator so the
kill lands between batches.
"""
from __future__ import annotations

import json
import sqlite3

from tests.syncjobs.processes import emulator_clients, portal, wait_for

MAPPING = "UNIT OF MEASURE"
BATCH = "2"
START = ("fullsync", "--batch-size", BATCH, "--mapping", MAPPING)

PASS = f"""
SELECT j.processed, j.total FROM syncjobs_synchronizationjob j
JOIN mappings_integrationtablemapping m ON m.id = j.table_mapping_id
WHERE m.name = '{MAPPING}' AND j.direction = 'ToIntegrationTable' AND j.finished_at IS NULL
"""

FAILED_LINES = """
SELECT l.name, e.error_message FROM syncjobs_fullsyncreviewline l
JOIN syncjobs_jobqueueentry e ON e.id = l.job_queue_entry_id WHERE e.error_message != ''
"""

RECOVER = """
import json
from datetime import timedelta
from django.utils import timezone
from syncjobs.scheduler import dispatch_due_entries, recover_abandoned_entries
recovered = recover_abandoned_entries()
# The retry is due after the rerun delay (30 s); dispatch as the cron would a minute later.
enqueued = dispatch_due_entries(now=timezone.now() + timedelta(seconds=61))
print(json.dumps({"recovered": [e.description for e in recovered], "enqueued": enqueued}))
"""


def test_a_worker_killed_mid_full_synchronization_is_retried_and_resumes_without_duplicates(
    emulator, tmp_path, settings
):
    settings.OUTBOUND_CA_BUNDLE = emulator.info["ca_bundle"]
    bc, dataverse = emulator_clients(emulator.info)
    units = {row["id"] for row in bc.iter_rows("unitsOfMeasure", select=["id"])}
    schedules_before = dataverse.count("uomschedules")
    assert len(units) >= 6

    with portal(tmp_path, emulator.info, "--no-unit-group-mapping") as installation:
        emulator.control(latency_ms=150)  # every request slower, so the kill lands between batches
        worker = installation.start_worker("worker-a")
        installation.manage(*START)
        database = sqlite3.connect(tmp_path / "portal.sqlite3", timeout=30)

        def pass_mid_run() -> bool:
            failed = database.execute(FAILED_LINES).fetchall()
            assert not failed, f"a line failed before the kill: {failed}\n{installation.logs()}"
            row = database.execute(PASS).fetchone()
            return bool(row and row[1] and 2 <= row[0] <= row[1] - 2)

        wait_for(pass_mid_run, timeout=300, interval=0.05, message=f"{MAPPING} never ran:\n" + installation.logs())
        installation.kill(worker)
        processed_at_kill = database.execute(PASS).fetchone()[0]

        outcome = installation.python(RECOVER)
        assert any(MAPPING in description for description in outcome["recovered"]), outcome
        assert outcome["enqueued"] >= 1
        log = database.execute(
            "SELECT l.error_message FROM syncjobs_jobqueuelogentry l JOIN syncjobs_jobqueueentry e "
            f"ON e.id = l.job_queue_entry_id WHERE l.status = 'Error' AND e.description LIKE '%{MAPPING}%'"
        ).fetchone()
        assert log and "died while running the job" in log[0]

        emulator.control(latency_ms=0)
        installation.start_worker("worker-b")
        result = installation.manage("fullsync", "--wait", "--json", "--timeout", "300", "--mapping", MAPPING,
                                     check=False)
        assert result.returncode == 0, result.stdout + result.stderr + installation.logs()
        summary = {line["mapping"]: line for line in json.loads(result.stdout)}
        assert summary[MAPPING]["status"] == "Finished" and summary[MAPPING]["failed"] == 0

        # The retried pass continued after the committed batches instead of starting over.
        passes = database.execute(
            "SELECT j.processed, j.inserted, j.message FROM syncjobs_synchronizationjob j "
            "JOIN mappings_integrationtablemapping m ON m.id = j.table_mapping_id "
            f"WHERE m.name = '{MAPPING}' AND j.direction = 'ToIntegrationTable' AND j.full_synchronization "
            "ORDER BY j.started_at"
        ).fetchall()
        assert len(passes) == 2, passes
        assert "resumed" in passes[0][2].lower()
        assert passes[0][0] == processed_at_kill  # the interrupted pass kept what it had committed
        assert passes[0][1] + passes[1][1] == len(units)  # every unit created once: nothing twice, nothing lost

        # No duplicate and no missing row: one coupling per BC unit, each to its own existing Dataverse row.
        couplings = database.execute(
            "SELECT bc_id, dataverse_id FROM mappings_coupling WHERE bc_table = 'Unit of Measure'"
        ).fetchall()
        assert {bc_id.replace("-", "") for bc_id, _ in couplings} == {unit.replace("-", "") for unit in units}
        assert len({dataverse_id for _, dataverse_id in couplings}) == len(units)
        assert dataverse.count("uomschedules") == schedules_before + len(units)
