"""The job queue entry card (BC: page 673 Job Queue Entry Card): minutes between runs, inactivity timeout, attempts,
rerun delay, earliest start and status, validated, audited, and refused as Set Ready is on a disabled connection."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from syncjobs.models import JobQueueEntry
from tests.conftest import sign_in

Status = JobQueueEntry.Status


def _data(**values: Any) -> dict[str, Any]:
    data = {"no_of_minutes_between_runs": "15", "inactivity_timeout_period": "60",
            "maximum_no_of_attempts_to_run": "3", "rerun_delay_sec": "120", "earliest_start_date_time": "",
            "status": Status.READY}
    data.update(values)
    return data


@pytest.fixture
def entry(make_mapping: Any, make_entry: Any) -> JobQueueEntry:
    """CUSTOMER's recurring entry, On Hold, due nowhere."""
    return make_entry(make_mapping("CUSTOMER"), status=Status.ON_HOLD, no_of_attempts_to_run=2)


def _edit_url(entry: JobQueueEntry) -> str:
    return reverse("syncjobs:jobqueueentry-edit", args=[entry.pk])


@pytest.mark.django_db
def test_the_list_links_each_entry_to_its_card(admin_client: Any, entry: JobQueueEntry) -> None:
    assert _edit_url(entry).encode() in admin_client.get(reverse("syncjobs:index")).content
    page = admin_client.get(_edit_url(entry))
    assert page.status_code == 200
    assert b'name="no_of_minutes_between_runs"' in page.content and b'value="30"' in page.content


@pytest.mark.django_db
def test_saving_the_card_changes_the_entry_and_the_audit_trail_records_it(admin_client: Any,
                                                                          entry: JobQueueEntry) -> None:
    response = admin_client.post(_edit_url(entry), _data(earliest_start_date_time="2030-01-02T08:30"))
    assert response.status_code == 302 and response.url == reverse("syncjobs:index")
    entry.refresh_from_db()
    assert (entry.no_of_minutes_between_runs, entry.inactivity_timeout_period, entry.maximum_no_of_attempts_to_run,
            entry.rerun_delay_sec) == (15, 60, 3, 120)
    assert entry.status == Status.READY and entry.no_of_attempts_to_run == 0
    assert entry.earliest_start_date_time == datetime(2030, 1, 2, 8, 30, tzinfo=UTC)
    change = LogEntry.objects.get_for_object(entry).order_by("-timestamp").first()
    assert change is not None and change.changes_dict["no_of_minutes_between_runs"] == ["30", "15"]
    assert change.actor is not None and change.actor.username == "admin"


@pytest.mark.django_db
def test_ready_without_an_earliest_start_is_due_now(admin_client: Any, entry: JobQueueEntry) -> None:
    admin_client.post(_edit_url(entry), _data())
    entry.refresh_from_db()
    assert entry.status == Status.READY and entry.earliest_start_date_time is not None
    assert entry.last_ready_state is not None


@pytest.mark.django_db
@pytest.mark.parametrize(("values", "expected"), [
    ({"no_of_minutes_between_runs": "0"}, "No. of minutes between runs must be at least 1 minute."),
    ({"inactivity_timeout_period": "3"}, "Inactivity timeout period must be at least 5 minutes."),
    ({"rerun_delay_sec": "4000"}, "Rerun delay must be at most 3600 seconds."),
    ({"maximum_no_of_attempts_to_run": "x"}, "Maximum no. of attempts to run must be a whole number."),
    ({"earliest_start_date_time": "tomorrow"}, "Enter the earliest start as a date and time"),
    ({"status": Status.IN_PROCESS}, "Choose Ready or On Hold"),
])
def test_the_card_names_what_to_fix(admin_client: Any, entry: JobQueueEntry, values: dict[str, str],
                                    expected: str) -> None:
    response = admin_client.post(_edit_url(entry), _data(**values))
    assert response.status_code == 200
    assert expected in response.content.decode()
    entry.refresh_from_db()
    assert entry.no_of_minutes_between_runs == 30 and entry.status == Status.ON_HOLD


@pytest.mark.django_db
def test_a_running_entry_is_not_changed(admin_client: Any, entry: JobQueueEntry) -> None:
    JobQueueEntry.objects.filter(pk=entry.pk).update(status=Status.IN_PROCESS)
    response = admin_client.post(_edit_url(entry), _data(status=Status.IN_PROCESS), follow=True)
    assert "is running; wait for the run to end" in response.content.decode()
    entry.refresh_from_db()
    assert entry.no_of_minutes_between_runs == 30 and entry.status == Status.IN_PROCESS


@pytest.mark.django_db
def test_ready_is_refused_while_the_connection_is_disabled(admin_client: Any, connection: Any,
                                                           entry: JobQueueEntry) -> None:
    connection.is_enabled = False
    connection.save(update_fields=["is_enabled"])
    page = admin_client.get(_edit_url(entry)).content.decode()
    assert "the connection is disabled" in page
    response = admin_client.post(_edit_url(entry), _data(), follow=True)
    content = response.content.decode()
    assert "The connection is disabled" in content and "Enable it on the connection setup page" in content
    assert reverse("connections:connection-detail", args=[connection.pk]) in content
    entry.refresh_from_db()
    assert entry.status == Status.ON_HOLD and entry.no_of_minutes_between_runs == 30, "nothing is half-saved"
    # Other settings of a held entry can still be changed.
    admin_client.post(_edit_url(entry), _data(status=Status.ON_HOLD))
    entry.refresh_from_db()
    assert entry.status == Status.ON_HOLD and entry.no_of_minutes_between_runs == 15


@pytest.mark.django_db
def test_viewers_cannot_open_the_card(client: Any, django_user_model: Any, entry: JobQueueEntry) -> None:
    client.force_login(django_user_model.objects.create_user("viewer", "v@example.com", "viewer-password-123"))
    assert client.get(_edit_url(entry)).status_code == 403
    assert client.post(_edit_url(entry), _data()).status_code == 403
    assert _edit_url(entry).encode() not in client.get(reverse("syncjobs:index")).content


@pytest.mark.django_db
def test_an_unknown_entry_is_404(admin_client: Any) -> None:
    assert admin_client.get("/syncjobs/entries/00000000-0000-0000-0000-000000000000/edit/").status_code == 404


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_card_in_the_browser(browser_page: Any, admin_user: Any, entry: JobQueueEntry) -> None:
    page = browser_page
    sign_in(page)
    page.goto("/syncjobs/")
    page.click(f"a[href='{_edit_url(entry)}']")
    page.fill("#id_no_of_minutes_between_runs", "0")
    page.click("#jobqueueentry-save")
    assert "must be at least 1 minute." in page.inner_text("main")
    page.fill("#id_no_of_minutes_between_runs", "45")
    page.select_option("#id_status", Status.READY)
    page.click("#jobqueueentry-save")
    page.wait_for_url("**/syncjobs/")
    assert "every 45 min" in page.inner_text("ul.messages")
    assert page.get_attribute(f"#entry-{entry.pk}", "data-status") == Status.READY
