"""Job queue entries page and full synchronization review page: what the user sees and the POST actions."""
from __future__ import annotations

import pytest
from django.urls import reverse

from syncjobs import review
from syncjobs.models import FullSyncReviewLine, JobQueueEntry
from syncjobs.review import TableCounts

Status = JobQueueEntry.Status
pytestmark = pytest.mark.django_db(transaction=True)


def test_job_queue_page_lists_entries_with_status_next_run_and_actions(admin_client, make_mapping, make_entry):
    entry = make_entry(make_mapping("ITEM-PRODUCT"), status=Status.ERROR, error_message="Dataverse answered 401",
                       last_result="Error")
    page = admin_client.get(reverse("syncjobs:index")).content.decode()
    assert "ITEM-PRODUCT - Dynamics 365 Sales synchronization job." in page
    assert "Error" in page and "Dataverse answered 401" in page
    for url in ("jobqueueentry-set-ready", "jobqueueentry-set-on-hold", "jobqueueentry-run-now", "jobqueueentry-log"):
        assert reverse(f"syncjobs:{url}", args=[entry.pk]) in page


def test_set_on_hold_set_ready_and_run_now_are_posts_with_messages(admin_client, make_mapping, make_entry, sync_queue):
    entry = make_entry(make_mapping("ITEM-PRODUCT"))
    assert admin_client.get(reverse("syncjobs:jobqueueentry-set-on-hold", args=[entry.pk])).status_code == 405

    response = admin_client.post(reverse("syncjobs:jobqueueentry-set-on-hold", args=[entry.pk]), follow=True)
    assert "is On Hold" in response.content.decode()
    entry.refresh_from_db()
    assert entry.status == Status.ON_HOLD

    admin_client.post(reverse("syncjobs:jobqueueentry-set-ready", args=[entry.pk]))
    entry.refresh_from_db()
    assert entry.status == Status.READY

    response = admin_client.post(reverse("syncjobs:jobqueueentry-run-now", args=[entry.pk]), follow=True)
    assert "is running on a worker" in response.content.decode()
    response = admin_client.post(reverse("syncjobs:jobqueueentry-run-now", args=[entry.pk]), follow=True)
    assert "wait for the run to end" in response.content.decode()


def test_only_integration_administrators_may_change(client, django_user_model, make_mapping, make_entry):
    user = django_user_model.objects.create_user("viewer", password="correct horse battery staple")
    client.force_login(user)
    entry = make_entry(make_mapping("ITEM-PRODUCT"))
    assert client.get(reverse("syncjobs:index")).status_code == 200
    assert client.post(reverse("syncjobs:jobqueueentry-set-on-hold", args=[entry.pk])).status_code == 403
    entry.refresh_from_db()
    assert entry.status == Status.READY


def test_log_page_shows_runs(admin_client, make_mapping, make_entry):
    from syncjobs.jobqueue import job_queue_entry_begin_run, job_queue_entry_finish_run

    entry = make_entry(make_mapping("ITEM-PRODUCT"), status=Status.IN_PROCESS)
    log = job_queue_entry_begin_run(entry=entry, worker_name="worker-7")
    job_queue_entry_finish_run(entry=entry, log=log, error="The run was interrupted: worker worker-7 is gone.")
    page = admin_client.get(reverse("syncjobs:jobqueueentry-log", args=[entry.pk])).content.decode()
    assert "worker-7" in page and "The run was interrupted" in page


def test_review_page_status_json_and_actions(admin_client, connection, make_mapping, make_entry, sync_queue):
    make_mapping("CURRENCY")
    make_mapping("CUSTOMER", dependency_filter="CURRENCY")
    review.full_sync_review_generate(connection=connection, counts={
        "CURRENCY": TableCounts(bc=3, dataverse=2), "CUSTOMER": TableCounts(bc=10, dataverse=0)})
    url = reverse("syncjobs:fullsyncreview-detail", args=[connection.pk])

    page = admin_client.get(url).content.decode()
    assert "Sync All" in page and "CURRENCY" in page and "Couple Records" in page
    assert "syncjobs/progress.js" in page  # the polling script

    data = admin_client.get(reverse("syncjobs:fullsyncreview-status", args=[connection.pk])).json()
    customer = next(line for line in data["lines"] if line["name"] == "CUSTOMER")
    assert customer["waiting"] == "waiting for CURRENCY, which has not started"

    currency = FullSyncReviewLine.objects.get(name="CURRENCY")
    response = admin_client.post(reverse("syncjobs:fullsyncreview-recommend-full", args=[currency.pk]), follow=True)
    assert "will run a full synchronization" in response.content.decode()

    response = admin_client.post(reverse("syncjobs:fullsyncreview-start", args=[connection.pk]), follow=True)
    assert "Started CURRENCY" in response.content.decode()
    response = admin_client.post(reverse("syncjobs:fullsyncreview-restart", args=[currency.pk]), follow=True)
    assert "can be restarted only when it has finished or failed" in response.content.decode()
    data = admin_client.get(reverse("syncjobs:fullsyncreview-status", args=[connection.pk])).json()
    assert next(line for line in data["lines"] if line["name"] == "CURRENCY")["status"] == Status.IN_PROCESS
