"""Alert rules of integration table mappings: evaluation after a run and every minute, once per breach, e-mail
(Django's locmem outbox) and webhook (a local HTTPS receiver allowed through the outbound policy), auto-pause of the
mapping's job queue entries and Resume with its catch-up run."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from auditlog.models import LogEntry
from django.core import mail
from django.db import connection as db_connection
from django.urls import reverse
from django.utils import timezone
from rq import SimpleWorker

from emulators.certs import ensure_tls, server_context
from mappings.models import Coupling, IntegrationTableMapping
from portal.testing.pytest_plugin import allow_outbound_origin
from syncjobs import alerts
from syncjobs.engine import clients_for, synchronize_mapping
from syncjobs.forms_alerts import AlertRuleForm
from syncjobs.jobqueue import due_entries
from syncjobs.models import Alert, AlertRule, JobQueueEntry, JobQueueLogEntry, SynchronizationJob
from syncjobs.runner import run_claimed_entry
from syncjobs.scheduler import dispatch_due_entries
from syncjobs.services import ConnectionDisabled
from tests.syncjobs.processes import emulator_clients

Status = JobQueueEntry.Status
Measure = Alert.Measure


# --- a small named world ---------------------------------------------------------------------------------------------


@pytest.fixture
def customers(make_mapping: Any) -> Any:
    """The CUSTOMER mapping (Customer ⇄ account) of the enabled connection "CRONUS"."""
    return make_mapping("CUSTOMER")


@pytest.fixture
def customer_entry(customers: Any, make_entry: Any) -> Any:
    """CUSTOMER's recurring job queue entry, Ready."""
    return make_entry(customers)


def _job(mapping: Any, *, failed: int = 0, modified: int = 0, could_not_run: bool = False) -> SynchronizationJob:
    """A finished synchronization job of ``mapping`` with these counters."""
    return SynchronizationJob.objects.create(table_mapping=mapping, direction="ToIntegrationTable", failed=failed,
                                             modified=modified, could_not_run=could_not_run,
                                             finished_at=timezone.now())


def _rule(mapping: Any, **values: Any) -> AlertRule:
    values.setdefault("name", "Customers failing")
    values.setdefault("email_recipients", "ops@example.com")
    return AlertRule.objects.create(table_mapping=mapping, **values)


def _skip(connection: Any, count: int) -> None:
    """``count`` skipped couplings of the Customer ⇄ account table pair."""
    import uuid

    for _ in range(count):
        Coupling.objects.create(connection=connection, bc_table="Customer", bc_id=uuid.uuid4(),
                                dataverse_table="account", dataverse_id=uuid.uuid4(), skipped=True)


class _Receiver(BaseHTTPRequestHandler):
    """Records each POST body on the server; answers with the server's ``status``."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length", "0"))
        self.server.bodies.append((self.path, self.headers.get("Content-Type"), self.rfile.read(length)))  # type: ignore[attr-defined]
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook(tmp_path: Any, settings: Any) -> Iterator[Any]:
    """A local HTTPS receiver (the emulators' test CA, trusted through OUTBOUND_CA_BUNDLE) on a loopback port that
    the outbound policy allows; ``.url`` is its https URL with a token in the path, ``.bodies`` what it received,
    ``.status`` what it answers."""
    files = ensure_tls(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.socket = server_context(files).wrap_socket(server.socket, server_side=True)
    server.bodies = []  # type: ignore[attr-defined]
    server.status = 204  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"https://127.0.0.1:{server.server_address[1]}/hooks/secret-token-123"  # type: ignore[attr-defined]
    settings.OUTBOUND_CA_BUNDLE = str(files.ca)
    allowed = list(settings.OUTBOUND_ALLOWED_HOSTS)
    allow_outbound_origin(server.url)
    try:
        yield server
    finally:
        server.shutdown()
        settings.OUTBOUND_ALLOWED_HOSTS = allowed


# --- evaluation ------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_error_rate_alert_is_raised_once_per_breach_mailed_and_resolved(customers: Any) -> None:
    rule = _rule(customers, error_rate_percent=Decimal("10"), email_recipients="ops@example.com, lead@example.com")
    _job(customers, failed=3, modified=7)

    raised = alerts.alert_rules_evaluate(mapping=customers)

    assert [(a.measure, a.value, a.threshold) for a in raised] == [(Measure.ERROR_RATE, Decimal("30.00"),
                                                                    Decimal("10.00"))]
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ops@example.com", "lead@example.com"]
    assert "Customers failing" in message.subject and "CUSTOMER" in message.subject
    assert "30.00 %" in message.body and "/syncjobs/alerts/" in message.body
    assert Alert.objects.get().email_status == Alert.Delivery.SENT

    # Still breached: the same breach, no second alert and no second e-mail.
    _job(customers, failed=5, modified=5)
    assert alerts.alert_rules_evaluate(mapping=customers) == []
    assert Alert.objects.count() == 1 and len(mail.outbox) == 1

    # Back under the threshold: resolved.
    _job(customers, modified=10)
    alerts.alert_rules_evaluate(mapping=customers)
    assert Alert.objects.get().resolved_at is not None

    # A new breach raises a new alert.
    _job(customers, failed=10)
    assert len(alerts.alert_rules_evaluate(mapping=customers)) == 1
    assert Alert.objects.filter(rule=rule).count() == 2 and len(mail.outbox) == 2


@pytest.mark.django_db
def test_error_rate_counts_the_last_n_jobs_and_a_job_that_could_not_run(customers: Any) -> None:
    _job(customers, failed=9, modified=1)  # older than the window below
    for _ in range(3):
        _job(customers, modified=10)
    assert alerts.error_rate_percent(mapping=customers, jobs=3) == Decimal("0.00")
    assert alerts.error_rate_percent(mapping=customers, jobs=4) == Decimal("22.50")
    _job(customers, could_not_run=True)
    assert alerts.error_rate_percent(mapping=customers, jobs=1) == Decimal("100.00")
    assert alerts.error_rate_percent(mapping=customers, jobs=2) == Decimal("9.09")


@pytest.mark.django_db
def test_no_synchronization_job_yet_raises_no_error_rate_alert(customers: Any) -> None:
    _rule(customers, error_rate_percent=Decimal("1"))
    assert alerts.alert_rules_evaluate(mapping=customers) == []


@pytest.mark.django_db
def test_skipped_records_alert(connection: Any, customers: Any) -> None:
    _rule(customers, skipped_records=3)
    _skip(connection, 2)
    assert alerts.alert_rules_evaluate(mapping=customers) == []
    _skip(connection, 1)
    [alert] = alerts.alert_rules_evaluate(mapping=customers)
    assert (alert.measure, alert.value) == (Measure.SKIPPED_RECORDS, Decimal("3.00"))
    assert "Skipped records of integration table mapping CUSTOMER" in alert.message
    Coupling.objects.filter(skipped=True).update(skipped=False)  # retried
    alerts.alert_rules_evaluate(mapping=customers)
    alert.refresh_from_db()
    assert alert.resolved_at is not None


@pytest.mark.django_db
def test_minutes_since_last_success_is_checked_by_the_dispatcher(connection: Any, customers: Any,
                                                                 customer_entry: Any) -> None:
    _rule(customers, minutes_since_success=60)
    now = timezone.now()
    JobQueueLogEntry.objects.create(job_queue_entry=customer_entry, started_at=now - timedelta(minutes=90),
                                    finished_at=now - timedelta(minutes=89), status=JobQueueLogEntry.Status.SUCCESS)
    JobQueueEntry.objects.filter(pk=customer_entry.pk).update(earliest_start_date_time=now + timedelta(hours=1))

    dispatch_due_entries(now=now)

    alert = Alert.objects.get()
    assert alert.measure == Measure.MINUTES_SINCE_SUCCESS and Decimal("89") <= alert.value < Decimal("91")
    assert len(mail.outbox) == 1
    assert alerts.alerts_check_stale(now=now + timedelta(minutes=1)) == 0, "raised once per breach"

    JobQueueLogEntry.objects.create(job_queue_entry=customer_entry, started_at=now, finished_at=now,
                                    status=JobQueueLogEntry.Status.SUCCESS)
    alerts.alerts_check_stale(now=now + timedelta(minutes=2))
    alert.refresh_from_db()
    assert alert.resolved_at is not None


@pytest.mark.django_db
def test_a_mapping_nobody_runs_is_not_late(connection: Any, customers: Any, customer_entry: Any) -> None:
    rule = _rule(customers, minutes_since_success=1)
    AlertRule.objects.filter(pk=rule.pk).update(created_at=timezone.now() - timedelta(days=1))
    JobQueueEntry.objects.filter(pk=customer_entry.pk).update(status=Status.ON_HOLD)
    assert alerts.alerts_check_stale() == 0
    JobQueueEntry.objects.filter(pk=customer_entry.pk).update(status=Status.READY)
    connection.is_enabled = False
    connection.save(update_fields=["is_enabled"])
    assert alerts.alerts_check_stale() == 0
    connection.is_enabled = True
    connection.save(update_fields=["is_enabled"])
    assert alerts.alerts_check_stale() == 1


@pytest.mark.django_db
def test_a_disabled_rule_raises_nothing(customers: Any) -> None:
    _rule(customers, error_rate_percent=Decimal("1"), is_enabled=False)
    _job(customers, failed=1)
    assert alerts.alert_rules_evaluate(mapping=customers) == []


@pytest.mark.django_db(transaction=True)  # the runner starts by closing stale connections, as a worker does
def test_the_runner_evaluates_the_rules_when_a_run_ends(connection: Any, customers: Any,
                                                        customer_entry: Any) -> None:
    _rule(customers, skipped_records=1, auto_pause=True)
    _skip(connection, 1)
    JobQueueEntry.objects.filter(pk=customer_entry.pk).update(status=Status.IN_PROCESS, rq_job_id="jqe-test")

    entry = run_claimed_entry(str(customer_entry.pk))  # the connection has no URLs: the run fails, alerts still run

    alert = Alert.objects.get()
    assert alert.measure == Measure.SKIPPED_RECORDS and alert.paused
    assert entry is not None and entry.status == Status.ON_HOLD
    assert entry.error_message.startswith(alerts.PAUSE_REASON_PREFIX) and "Customers failing" in entry.error_message


@pytest.mark.django_db
def test_an_evaluation_failure_never_leaves_the_run(customers: Any, customer_entry: Any) -> None:
    _rule(customers, error_rate_percent=Decimal("1"))
    _job(customers, failed=1)
    customer_entry.table_mapping_id = 999_999  # a mapping that does not exist: the evaluation fails
    assert alerts.alerts_after_run(entry=customer_entry) is customer_entry
    assert not Alert.objects.exists()


# --- delivery --------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_webhook_receives_the_alert_as_json_without_secrets(connection: Any, customers: Any, webhook: Any) -> None:
    connection.client_secret = "client-secret-never-sent"
    connection.save()
    _rule(customers, error_rate_percent=Decimal("10"), email_recipients="", webhook_url=webhook.url,
          webhook_origin=alerts.webhook_origin(webhook.url))
    _job(customers, failed=1)

    [alert] = alerts.alert_rules_evaluate(mapping=customers)

    alert.refresh_from_db()
    assert alert.webhook_status == Alert.Delivery.SENT and alert.webhook_error == ""
    assert alert.email_status == Alert.Delivery.NOT_REQUESTED and not mail.outbox
    [(path, content_type, body)] = webhook.bodies
    assert path == "/hooks/secret-token-123" and content_type == "application/json"
    payload = json.loads(body)
    assert payload["alert"] == alert.pk and payload["mapping"] == "CUSTOMER" and payload["connection"] == "CRONUS"
    assert (payload["measure"], payload["value"], payload["threshold"], payload["unit"]) == ("ErrorRate", 100.0,
                                                                                           10.0, "%")
    assert "client-secret-never-sent" not in body.decode()


@pytest.mark.django_db
def test_webhook_failures_are_recorded_on_the_alert(customers: Any, webhook: Any, settings: Any) -> None:
    rule = _rule(customers, error_rate_percent=Decimal("10"), webhook_url=webhook.url)
    webhook.status = 500
    _job(customers, failed=1)
    [alert] = alerts.alert_rules_evaluate(mapping=customers)
    alert.refresh_from_db()
    assert alert.webhook_status == Alert.Delivery.FAILED and "HTTP 500" in alert.webhook_error
    assert "secret-token" not in alert.webhook_error, "the URL's path (its token) is never shown"
    assert alert.email_status == Alert.Delivery.SENT, "the e-mail is independent of the webhook"

    # The host is taken off the allowlist after the rule was saved: refused at delivery, naming the setting.
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    second = alerts.alert_deliver(alert=Alert.objects.create(
        rule=rule, rule_name=rule.name, table_mapping=customers, measure=Measure.SKIPPED_RECORDS, value=1,
        threshold=1, message="m", raised_at=timezone.now()))
    assert second.webhook_status == Alert.Delivery.FAILED and "OUTBOUND_ALLOWED_HOSTS" in second.webhook_error


@pytest.mark.django_db
def test_an_unreachable_mail_server_is_recorded_not_raised(customers: Any, settings: Any) -> None:
    import socket

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 2
    settings.EMAIL_HOST_PASSWORD = "smtp-password-never-shown"
    _rule(customers, error_rate_percent=Decimal("10"))
    _job(customers, failed=1)
    [alert] = alerts.alert_rules_evaluate(mapping=customers)
    alert.refresh_from_db()
    assert alert.email_status == Alert.Delivery.FAILED
    assert "EMAIL_" in alert.email_error and "smtp-password-never-shown" not in alert.email_error


# --- auto-pause and resume -------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_auto_pause_holds_the_entries_and_resume_sets_them_ready_and_runs_at_once(
        connection: Any, customers: Any, make_entry: Any, sync_queue: Any) -> None:
    ready = make_entry(customers)
    running = make_entry(customers, description=" CUSTOMER one-off", recurring_job=False, status=Status.IN_PROCESS,
                         rq_job_id="jqe-running")
    other = make_entry(None)  # a special job of no mapping: untouched
    _rule(customers, error_rate_percent=Decimal("10"), auto_pause=True)
    _job(customers, failed=1)

    [alert] = alerts.alert_rules_evaluate(mapping=customers)

    ready.refresh_from_db()
    assert ready.status == Status.ON_HOLD and "Customers failing" in ready.error_message
    assert alert.held_entry_ids == [str(ready.pk)] and alert.pending_entry_ids == [str(running.pk)]
    assert "were set On Hold" in mail.outbox[0].body
    # The run In Process ends: its entry is held too, and the next evaluation (same breach) raises nothing new.
    JobQueueEntry.objects.filter(pk=running.pk).update(status=Status.READY, rq_job_id="")
    running.refresh_from_db()
    alerts.alerts_after_run(entry=running)
    running.refresh_from_db()
    assert running.status == Status.ON_HOLD and Alert.objects.count() == 1
    assert not due_entries().filter(table_mapping=customers).exists(), "the dispatcher starts no held entry"
    other.refresh_from_db()
    assert other.status == Status.READY

    entry = alerts.mapping_resume(mapping=customers, user_name="admin")

    assert entry is not None and entry.pk == ready.pk
    ready.refresh_from_db()
    running.refresh_from_db()
    assert ready.status == Status.IN_PROCESS and ready.rq_job_id in sync_queue.job_ids, "the catch-up run is queued"
    assert running.status == Status.READY and running.error_message == ""
    alert.refresh_from_db()
    assert alert.resumed_at is not None and alert.resumed_by == "admin" and not alert.can_resume
    with pytest.raises(alerts.ResumeRefused):
        alerts.mapping_resume(mapping=customers, user_name="admin")


@pytest.mark.django_db
def test_resume_is_refused_while_the_connection_is_disabled(connection: Any, customers: Any,
                                                            customer_entry: Any) -> None:
    _rule(customers, error_rate_percent=Decimal("10"), auto_pause=True)
    _job(customers, failed=1)
    alerts.alert_rules_evaluate(mapping=customers)
    connection.is_enabled = False
    connection.save(update_fields=["is_enabled"])
    with pytest.raises(ConnectionDisabled):
        alerts.mapping_resume(mapping=customers, user_name="admin")
    customer_entry.refresh_from_db()
    assert customer_entry.status == Status.ON_HOLD


# --- the form --------------------------------------------------------------------------------------------------------


def _form(mapping: Any, **data: Any) -> AlertRuleForm:
    values = {"table_mapping": mapping.pk, "name": "Rule", "is_enabled": "on", "error_rate_jobs": 1,
              "email_recipients": "ops@example.com", "error_rate_percent": "10"}
    values.update(data)
    return AlertRuleForm({k: v for k, v in values.items() if v is not None})


@pytest.mark.django_db
@pytest.mark.parametrize(("data", "field", "expected"), [
    ({"error_rate_percent": "0"}, "error_rate_percent", "more than 0 and at most 100"),
    ({"error_rate_percent": "120"}, "error_rate_percent", "more than 0 and at most 100"),
    ({"skipped_records": "0"}, "skipped_records", "at least 1"),
    ({"minutes_since_success": "0"}, "minutes_since_success", "1 to 525600"),
    ({"error_rate_jobs": "0"}, "error_rate_jobs", "1 to 100 synchronization jobs"),
    ({"email_recipients": "ops@example.com, not-an-address"}, "email_recipients",
     "Not a valid e-mail address: not-an-address"),
    ({"webhook_url": "http://127.0.0.1/hook"}, "webhook_url", "must start with https://"),
    ({"webhook_url": "https://hooks.example.com/x"}, "webhook_url",
     'add "hooks.example.com:443" to the OUTBOUND_ALLOWED_HOSTS setting'),
    ({"webhook_url": "https://user:pw@127.0.0.1/x"}, "webhook_url", "credentials in URLs are not allowed"),
    ({"error_rate_percent": ""}, "__all__", "Set at least one threshold"),
    ({"email_recipients": ""}, "__all__", "enter e-mail recipients or a webhook URL"),
])
def test_the_form_names_what_to_fix(customers: Any, data: dict[str, Any], field: str, expected: str) -> None:
    form = _form(customers, **data)
    assert not form.is_valid()
    assert expected in " ".join(form.errors[field]), form.errors


@pytest.mark.django_db
def test_the_form_keeps_the_webhook_secret(customers: Any, webhook: Any) -> None:
    form = _form(customers, webhook_url=webhook.url, email_recipients="")
    assert form.is_valid(), form.errors
    rule = form.save()
    assert rule.webhook_url == webhook.url and rule.webhook_origin == alerts.webhook_origin(webhook.url)
    with db_connection.cursor() as cursor:  # encrypted at rest
        cursor.execute("SELECT webhook_url FROM syncjobs_alertrule WHERE id = %s", [rule.pk])
        assert "secret-token" not in cursor.fetchone()[0]
    # Edit: the URL is not rendered back; blank keeps it; "Remove the webhook" alone leaves no delivery.
    edit = AlertRuleForm(instance=rule)
    assert "secret-token" not in str(edit) and alerts.webhook_origin(webhook.url) in str(edit)
    kept = AlertRuleForm({"table_mapping": customers.pk, "name": "Rule 2", "error_rate_jobs": 1,
                          "error_rate_percent": "5"}, instance=rule)
    assert kept.is_valid(), kept.errors
    assert kept.save().webhook_url == webhook.url
    removed = AlertRuleForm({"table_mapping": customers.pk, "name": "Rule 2", "error_rate_jobs": 1,
                             "error_rate_percent": "5", "remove_webhook": "on"}, instance=rule)
    assert not removed.is_valid() and "webhook URL" in str(removed.errors)
    # The audit trail records the rule with the webhook masked.
    created = LogEntry.objects.get_for_object(rule).order_by("timestamp").first()
    assert created is not None and created.changes_dict["webhook_url"][1] == "(set)"
    assert "secret-token" not in json.dumps(created.changes_dict)


# --- the pages -------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_alert_pages_add_edit_delete_and_resume(admin_client: Any, connection: Any, customers: Any,
                                                customer_entry: Any, sync_queue: Any) -> None:
    page = admin_client.get(reverse("syncjobs:alert-list"))
    assert page.status_code == 200 and b"No alert rules yet" in page.content
    assert admin_client.get(reverse("syncjobs:alertrule-create") + f"?mapping={customers.pk}").status_code == 200

    response = admin_client.post(reverse("syncjobs:alertrule-create"), {
        "table_mapping": customers.pk, "name": "Customers failing", "is_enabled": "on", "error_rate_percent": "10",
        "error_rate_jobs": "1", "email_recipients": "ops@example.com", "auto_pause": "on"})
    assert response.status_code == 302
    rule = AlertRule.objects.get()
    invalid = admin_client.post(reverse("syncjobs:alertrule-update", args=[rule.pk]), {
        "table_mapping": customers.pk, "name": "Customers failing", "error_rate_percent": "-1",
        "error_rate_jobs": "1", "email_recipients": "ops@example.com"})
    assert invalid.status_code == 200 and b"more than 0 and at most 100" in invalid.content

    _job(customers, failed=1)
    [alert] = alerts.alert_rules_evaluate(mapping=customers)
    listing = admin_client.get(reverse("syncjobs:alert-list") + f"?mapping={customers.pk}")
    assert b"Mapping paused" in listing.content and b"Resume" in listing.content
    resumed = admin_client.post(reverse("syncjobs:alert-resume", args=[alert.pk]), follow=True)
    assert b"catch-up run started" in resumed.content
    again = admin_client.post(reverse("syncjobs:alert-resume", args=[alert.pk]), follow=True)
    assert b"not paused by an alert" in again.content

    confirm = admin_client.get(reverse("syncjobs:alertrule-delete", args=[rule.pk]))
    assert confirm.status_code == 200 and b"Delete the alert rule Customers failing" in confirm.content
    assert AlertRule.objects.exists(), "GET only asks"
    admin_client.post(reverse("syncjobs:alertrule-delete", args=[rule.pk]))
    assert not AlertRule.objects.exists()
    alert.refresh_from_db()
    assert alert.rule is None and alert.rule_name == "Customers failing", "the alert stays in the history"
    assert admin_client.get(reverse("syncjobs:alert-list")).status_code == 200


@pytest.mark.django_db
def test_viewers_see_alerts_but_cannot_change_them(client: Any, django_user_model: Any, customers: Any) -> None:
    rule = _rule(customers, error_rate_percent=Decimal("10"))
    client.force_login(django_user_model.objects.create_user("viewer", "v@example.com", "viewer-password-123"))
    page = client.get(reverse("syncjobs:alert-list"))
    assert page.status_code == 200 and b"Customers failing" in page.content and b"Add alert rule" not in page.content
    assert client.get(reverse("syncjobs:alertrule-create")).status_code == 403
    assert client.post(reverse("syncjobs:alertrule-delete", args=[rule.pk])).status_code == 403
    assert AlertRule.objects.exists()


@pytest.mark.django_db
def test_pages_link_to_the_alerts(admin_client: Any, customers: Any) -> None:
    assert reverse("syncjobs:alert-list").encode() in admin_client.get("/").content
    detail = admin_client.get(reverse("mappings:mapping-detail", args=[customers.pk]))
    assert f'{reverse("syncjobs:alert-list")}?mapping={customers.pk}'.encode() in detail.content
    assert admin_client.get(reverse("syncjobs:alert-list") + "?mapping=abc").status_code == 200
    filtered = admin_client.get(reverse("syncjobs:alert-list") + f"?mapping={customers.pk}").content.decode()
    assert "Alerts of CUSTOMER" in filtered and f"rules/new/?mapping={customers.pk}" in filtered
    form = admin_client.get(reverse("syncjobs:alertrule-create") + f"?mapping={customers.pk}").content.decode()
    assert f'<option value="{customers.pk}" selected>' in form
    assert admin_client.get(reverse("syncjobs:alertrule-update", args=[9999])).status_code == 404


# --- the catch-up run on the emulators -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_resume_catches_up_a_change_made_in_bc_while_the_mapping_was_paused(emulator: Any, emulator_connection: Any,
                                                                           sync_queue: Any) -> None:
    connection = emulator_connection
    currency = IntegrationTableMapping.objects.get(connection=connection, name="CURRENCY")
    JobQueueEntry.objects.filter(connection=connection).exclude(table_mapping=currency).update(status=Status.ON_HOLD)
    entry = JobQueueEntry.objects.get(table_mapping=currency, recurring_job=True)
    synchronize_mapping(mapping=currency, full=True)
    coupling = Coupling.objects.filter(connection=connection, bc_table="Currency", skipped=False).first()
    assert coupling is not None, "the full synchronization coupled the currencies"

    # No successful run for longer than the threshold: the every-minute check raises the alert and pauses CURRENCY.
    AlertRule.objects.create(table_mapping=currency, name="Currencies late", minutes_since_success=30,
                             email_recipients="ops@example.com", auto_pause=True)
    alerts.alerts_check_stale(now=timezone.now() + timedelta(minutes=31))
    alert = Alert.objects.get()
    entry.refresh_from_db()
    assert alert.paused and entry.status == Status.ON_HOLD and len(mail.outbox) == 1

    # A BC user edits the currency while the mapping is paused; the dispatcher does not start the held entry.
    time.sleep(1.1)  # the edit lands in a later second than the first run's watermark
    bc, _ = emulator_clients(emulator.info)
    row = bc.get("currencies", coupling.bc_id)
    bc.update("currencies", coupling.bc_id, {"displayName": "Edited while paused", "symbol": "¤"},
              etag=row["@odata.etag"])
    dispatch_due_entries(now=timezone.now() + timedelta(hours=2))
    assert not len(sync_queue)

    resumed = alerts.mapping_resume(mapping=currency, user_name="admin")
    assert resumed is not None and resumed.pk == entry.pk
    SimpleWorker([sync_queue], connection=sync_queue.connection).work(burst=True)

    _, dataverse = clients_for(connection)
    [synchronized] = list(dataverse.iter_rows("transactioncurrencies", select=["currencyname"],
                                              filter=f"transactioncurrencyid eq {coupling.dataverse_id}"))
    assert synchronized["currencyname"] == "Edited while paused"
    entry.refresh_from_db()
    alert.refresh_from_db()
    assert entry.status == Status.READY and entry.last_result == "Success"
    assert alert.resolved_at is not None, "the catch-up run succeeded: the alert is resolved"
