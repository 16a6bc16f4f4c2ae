"""`manage.py syncstatus` and the argument checks of `manage.py fullsync` (its runs: test_worker_kill, end to end)."""
from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from syncjobs import review
from syncjobs.management.commands.fullsync import line_summary, run_succeeded
from syncjobs.models import JobQueueEntry
from syncjobs.review import TableCounts

pytestmark = pytest.mark.django_db


def test_syncstatus_json_lists_the_job_queue_and_the_review(connection, make_mapping, make_entry):
    make_entry(make_mapping("ITEM-PRODUCT"), status=JobQueueEntry.Status.ERROR, error_message="BC answered 401")
    review.full_sync_review_generate(connection=connection, counts={"ITEM-PRODUCT": TableCounts(bc=3, dataverse=0)})
    out = StringIO()

    call_command("syncstatus", "--json", stdout=out)

    data = json.loads(out.getvalue())
    assert data["job_queue"][0]["mapping"] == "ITEM-PRODUCT"
    assert data["job_queue"][0]["status"] == "Error" and data["job_queue"][0]["error"] == "BC answered 401"
    assert data["review"]["CRONUS"] == [{"mapping": "ITEM-PRODUCT", "status": "NotStarted", "inserted": 0,
                                         "modified": 0, "unchanged": 0, "skipped": 0, "failed": 0, "coupled": 0,
                                         "seconds": 0}]


def test_syncstatus_text(connection, make_mapping, make_entry):
    make_entry(make_mapping("ITEM-PRODUCT"))
    out = StringIO()
    call_command("syncstatus", stdout=out)
    assert "ITEM-PRODUCT - Dynamics 365 Sales synchronization job." in out.getvalue()
    assert "Ready" in out.getvalue()


def test_fullsync_refuses_without_an_enabled_connection(db, connection):
    connection.is_enabled = False
    connection.save()
    with pytest.raises(CommandError, match="disabled: enable it first"):
        call_command("fullsync")
    connection.delete()
    with pytest.raises(CommandError, match="No connection setup found"):
        call_command("fullsync")


def test_run_succeeded_needs_every_running_line_finished_without_failed_records():
    def line(name, status, failed=0, recommendation="FullSynchronization", excluded=False):
        job = {"inserted": 1, "modified": 0, "unchanged": 0, "skipped": 0, "failed": failed, "coupled": 0,
               "seconds": 1.0}
        return {"name": name, "status": status, "excluded": excluded, "recommendation_value": recommendation,
                "to": job, "from": None, "totals": job}

    ok = {"lines": [line("A", "Finished"), line("B", "", recommendation="NoRecordsFound"),
                    line("C", "", excluded=True)]}
    assert run_succeeded(ok)
    assert line_summary(ok["lines"][1])["status"] == "NoRecordsFound"
    assert not run_succeeded({"lines": [line("A", "Finished", failed=1)]})
    assert not run_succeeded({"lines": [line("A", "Error")]})


def test_fullsync_wait_rides_out_a_dropped_database_connection(connection, monkeypatch):
    """The database drops the connection twice while `fullsync --wait` polls (a restart, a failover,
    pg_terminate_backend): the command reconnects and reports the settled run instead of crashing."""
    from django.db.utils import OperationalError

    from syncjobs.management.commands.fullsync import Command

    answers = [OperationalError("server closed the connection unexpectedly"),
               OperationalError("terminating connection due to administrator command"),
               {"settled": True, "lines": []}]

    def status(**kwargs):
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(review, "full_sync_review_status", status)
    monkeypatch.setattr("syncjobs.management.commands.fullsync.time.sleep", lambda seconds: None)
    err = StringIO()
    command = Command(stdout=StringIO(), stderr=err)
    result, timed_out = command._wait(connection, {"timeout": 60, "json": True})
    assert result == {"settled": True, "lines": []} and not timed_out
    assert err.getvalue().count("The database connection was lost") == 1
    assert "Reconnected to the database" in err.getvalue()
