"""The Alerts page in Debian's Chromium: an administrator adds an alert rule from the mapping's page, sees the alert
it raises (the mapping paused), resumes the mapping (a catch-up run is queued) and deletes the rule after confirming."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from syncjobs import alerts
from syncjobs.models import Alert, AlertRule, JobQueueEntry, SynchronizationJob
from tests.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Status = JobQueueEntry.Status


def test_add_a_rule_see_the_alert_resume_and_delete(browser_page: Any, admin_user: Any, make_mapping: Any,
                                                    make_entry: Any, sync_queue: Any) -> None:
    customers = make_mapping("CUSTOMER")
    entry = make_entry(customers)
    page = browser_page
    sign_in(page)

    page.goto(f"/mappings/{customers.pk}/")
    page.click("#mapping-alerts")
    page.click("#alertrule-add")
    page.fill("#id_name", "Customers failing")
    page.fill("#id_email_recipients", "ops@example.com, not-an-address")
    page.click("#alertrule-save")
    assert "Set at least one threshold" not in page.inner_text("main")
    assert "Not a valid e-mail address: not-an-address" in page.inner_text("main")
    page.fill("#id_email_recipients", "ops@example.com")
    page.fill("#id_error_rate_percent", "10")
    page.check("#id_auto_pause")
    page.click("#alertrule-save")
    page.wait_for_selector("ul.messages li.success")
    rule = AlertRule.objects.get()
    assert rule.table_mapping_id == customers.pk and rule.error_rate_percent == Decimal("10.00") and rule.auto_pause
    assert "Customers failing" in page.inner_text(f"#rule-{rule.pk}")

    # A run fails half of its records: the alert is raised, mailed, and the mapping paused.
    SynchronizationJob.objects.create(table_mapping=customers, direction="ToIntegrationTable", failed=5, modified=5,
                                      finished_at=timezone.now())
    alerts.alert_rules_evaluate(mapping=customers)
    assert len(mail.outbox) == 1
    page.reload()
    alert = Alert.objects.get()
    row = page.inner_text(f"#alert-{alert.pk}")
    assert "Open" in row and "50.00" in row and "Mapping paused" in row and "Sent" in row

    page.click(f"#alert-{alert.pk} button:has-text('Resume')")
    page.wait_for_selector("ul.messages li.success")
    assert "catch-up run started" in page.inner_text("ul.messages")
    assert "Mapping paused" not in page.inner_text(f"#alert-{alert.pk}")
    entry.refresh_from_db()
    assert entry.status == Status.IN_PROCESS and entry.rq_job_id in sync_queue.job_ids

    page.click(f"#rule-{rule.pk} a:has-text('Delete')")
    page.wait_for_selector("#confirm-title")
    assert AlertRule.objects.exists()
    page.click("#confirm-delete")
    page.wait_for_selector("ul.messages li.success")
    assert not AlertRule.objects.exists()
    assert "No alert rules yet" in page.inner_text("table.alert-rules")
    assert "Customers failing" in page.inner_text(f"#alert-{alert.pk}"), "the alert stays in the history"
