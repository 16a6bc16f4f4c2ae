"""Alerts of integration table mappings: evaluation of the alert rules, delivery by e-mail and webhook, the pause of a
mapping and its Resume with a catch-up run.

Improvement on BC, which only notifies about a job queue entry that ended in Error (BC: table 472 Job Queue Entry,
error notifications): an :class:`~syncjobs.models.AlertRule` sets thresholds per mapping.

- :func:`alerts_after_run` is called by the runner when a run of a job queue entry has ended (all measures of the
  entry's mapping); :func:`alerts_check_stale` by the dispatcher every minute ("minutes since the last successful
  run" of every mapping with such a rule). Neither raises: an evaluation or delivery failure is logged and recorded
  on the alert, never an exception out of the run or the dispatcher.
- An alert is raised once per breach: a second evaluation while the measure stays at or over the threshold finds the
  open alert (at most one open alert per rule and measure, a unique constraint) and does nothing; the alert is
  resolved when the measure is back under the threshold, and the next breach raises a new one.
- Delivery: ``django.core.mail.send_mail`` (settings ``EMAIL_*``, ``DEFAULT_FROM_EMAIL``) and a JSON POST through the
  portal's outbound policy (:mod:`connections.clients.outbound`: https, the host on ``OUTBOUND_ALLOWED_HOSTS``, no
  redirect, a timeout). Bodies name the mapping, the connection, the measure and the threshold, never a secret.
- A rule with ``auto_pause`` sets the mapping's job queue entries On Hold (BC: Set On Hold) with the alert as the
  reason; :func:`mapping_resume` sets them Ready and claims one for a catch-up run at once. The catch-up is an
  ordinary incremental run: it reads everything modified since the mapping's watermarks, so nothing changed while
  the mapping was paused is lost.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.urls import reverse
from django.utils import timezone

from connections.clients.errors import ClientError, OutboundURLRejected
from connections.clients.outbound import DEFAULT_PORTS, checked_address, is_allowed
from connections.clients.transport import Transport
from mappings.models import IntegrationTableMapping
from mappings.services import couplings_for_mapping
from syncjobs import services
from syncjobs.models import Alert, AlertRule, JobQueueEntry, JobQueueLogEntry, SynchronizationJob

logger = logging.getLogger(__name__)

Measure = Alert.Measure
Status = JobQueueEntry.Status

#: Seconds a webhook POST may take (connect and read each).
WEBHOOK_TIMEOUT_SECONDS = 10.0
#: Repeats of a webhook POST that never reached the receiver (DNS, refused, TLS, connect timeout).
WEBHOOK_MAX_RETRIES = 2
#: The job queue entry kinds an alert pauses (the mapping's synchronization runs, recurring or one-off).
PAUSED_KINDS = (JobQueueEntry.Kind.MAPPING,)
#: Statuses of a scheduled entry: "minutes since the last successful run" is measured only while one exists.
SCHEDULED_STATUSES = (Status.READY, Status.IN_PROCESS, Status.ON_HOLD_WITH_INACTIVITY_TIMEOUT, Status.ERROR)
#: Start of the reason an alert writes into the error message of the entries it holds.
PAUSE_REASON_PREFIX = "Paused by alert"


class WebhookRefused(ValueError):
    """A webhook URL the outbound policy refuses; ``str()`` says what to change (the setting or the URL)."""


class ResumeRefused(Exception):
    """Resume was asked for a mapping that no alert holds (already resumed, or never paused)."""


@dataclass(frozen=True)
class Reading:
    """One measure of one rule now: ``value`` and ``threshold`` in the measure's unit (percent, records, minutes)."""

    measure: Measure
    value: Decimal
    threshold: Decimal

    @property
    def breached(self) -> bool:
        """The measure reached its threshold (``value >= threshold``)."""
        return self.value >= self.threshold


# --- measures --------------------------------------------------------------------------------------------------------


def error_rate_percent(*, mapping: IntegrationTableMapping, jobs: int) -> Decimal | None:
    """Failed records in % of the records processed by the last ``jobs`` finished synchronization jobs of ``mapping``
    (both directions; BC: table 5338 Integration Synch. Job counters). Processed = inserted + modified + deleted +
    unchanged + skipped + failed; a job that could not run (connection or configuration problem) counts as one failed
    record. None when the mapping has no finished synchronization job yet."""
    recent = list(
        SynchronizationJob.objects.filter(table_mapping=mapping, type=SynchronizationJob.Type.SYNCHRONIZATION,
                                          finished_at__isnull=False)
        .order_by("-started_at")
        .values("inserted", "modified", "deleted", "unchanged", "skipped", "failed", "could_not_run")[: max(jobs, 1)]
    )
    if not recent:
        return None
    processed = failed = 0
    for job in recent:
        handled = job["inserted"] + job["modified"] + job["deleted"] + job["unchanged"] + job["skipped"] + job["failed"]
        if job["could_not_run"] and not handled:
            handled = job["failed"] = 1
        processed += handled
        failed += job["failed"]
    if not processed:
        return Decimal("0.00")
    return Alert.quantize(Decimal(failed) * 100 / Decimal(processed))


def skipped_record_count(*, mapping: IntegrationTableMapping) -> int:
    """Skipped records of ``mapping``'s table pair now: couplings excluded from runs until retried (BC: table 5331
    CRM Integration Record, field Skipped)."""
    return couplings_for_mapping(mapping).filter(skipped=True).count()


def minutes_since_success(*, rule: AlertRule, now: datetime) -> Decimal | None:
    """Minutes (UTC clock) since the last run of a job queue entry of the rule's mapping that ended Success (BC: table
    474 Job Queue Log Entry), or since the rule was created when none did. None while the mapping has no scheduled
    entry (all On Hold or finished) or its connection is disabled: a mapping nobody runs is not late."""
    mapping = rule.table_mapping
    scheduled = JobQueueEntry.objects.filter(table_mapping=mapping, recurring_job=True, status__in=SCHEDULED_STATUSES,
                                             connection__is_enabled=True)
    if not scheduled.exists():
        return None
    last = JobQueueLogEntry.objects.filter(
        job_queue_entry__table_mapping=mapping, status=JobQueueLogEntry.Status.SUCCESS
    ).aggregate(last=Max("finished_at"))["last"]
    since = last or rule.created_at
    return Alert.quantize(max((now - since).total_seconds(), 0.0) / 60)


def rule_readings(*, rule: AlertRule, measures: Iterable[Measure], now: datetime) -> list[Reading]:
    """The readings of ``rule``'s thresholds among ``measures`` (a measure without threshold, or that cannot be
    measured now, gives no reading)."""
    mapping = rule.table_mapping
    readings: list[Reading] = []
    wanted = set(measures)
    if Measure.ERROR_RATE in wanted and rule.error_rate_percent is not None:
        rate = error_rate_percent(mapping=mapping, jobs=rule.error_rate_jobs)
        if rate is not None:
            readings.append(Reading(Measure.ERROR_RATE, rate, Alert.quantize(rule.error_rate_percent)))
    if Measure.SKIPPED_RECORDS in wanted and rule.skipped_records is not None:
        readings.append(Reading(Measure.SKIPPED_RECORDS, Alert.quantize(skipped_record_count(mapping=mapping)),
                                Alert.quantize(rule.skipped_records)))
    if Measure.MINUTES_SINCE_SUCCESS in wanted and rule.minutes_since_success is not None:
        minutes = minutes_since_success(rule=rule, now=now)
        if minutes is not None:
            readings.append(Reading(Measure.MINUTES_SINCE_SUCCESS, minutes, Alert.quantize(rule.minutes_since_success)))
    return readings


# --- evaluation ------------------------------------------------------------------------------------------------------


def alert_rules_evaluate(*, mapping: IntegrationTableMapping, measures: Iterable[Measure] = tuple(Measure),
                         now: datetime | None = None) -> list[Alert]:
    """Evaluate the enabled alert rules of ``mapping`` for ``measures``: raise an alert for each breached measure that
    has no open alert (then pause the mapping if the rule says so, and deliver it), resolve the open alerts whose
    measure is back under the threshold. Returns the alerts raised now. Delivery failures are recorded on the alert;
    database errors propagate (the callers log them)."""
    now = now or timezone.now()
    measures = tuple(measures)
    raised: list[Alert] = []
    for rule in AlertRule.objects.filter(table_mapping=mapping, is_enabled=True).select_related(
        "table_mapping__connection"
    ):
        for reading in rule_readings(rule=rule, measures=measures, now=now):
            open_alerts = Alert.objects.filter(rule=rule, measure=reading.measure, resolved_at__isnull=True)
            if not reading.breached:
                open_alerts.update(resolved_at=now)
                continue
            if open_alerts.exists():
                continue  # the same breach: raised once
            alert = _alert_create(rule=rule, reading=reading, now=now)
            if alert is not None:
                raised.append(alert)
    for alert in raised:
        rule = alert.rule
        if rule is not None and rule.auto_pause:
            mapping_pause(alert=alert)
        alert_deliver(alert=alert)
    return raised


def _alert_create(*, rule: AlertRule, reading: Reading, now: datetime) -> Alert | None:
    """Write the alert of ``reading`` (None when a concurrent evaluation raised it first: the unique constraint on the
    open alert per rule and measure)."""
    mapping = rule.table_mapping
    try:
        with transaction.atomic():
            return Alert.objects.create(
                rule=rule, rule_name=rule.name, table_mapping=mapping, measure=reading.measure, value=reading.value,
                threshold=reading.threshold, raised_at=now, message=_message(rule=rule, reading=reading),
            )
    except IntegrityError:
        return None


def _message(*, rule: AlertRule, reading: Reading) -> str:
    """The alert's text: what breached on which mapping and connection (no secret, no record data)."""
    mapping = rule.table_mapping
    unit = {Measure.ERROR_RATE: " %", Measure.SKIPPED_RECORDS: " skipped records"}.get(reading.measure, " minutes")
    what = {
        Measure.ERROR_RATE: f"Error rate over the last {rule.error_rate_jobs} synchronization job(s)",
        Measure.SKIPPED_RECORDS: "Skipped records",
        Measure.MINUTES_SINCE_SUCCESS: "Time since the last successful run",
    }[reading.measure]
    return (f"{what} of integration table mapping {mapping.name} ({mapping.table} ⇄ {mapping.integration_table}, "
            f"connection {mapping.connection.name}) is {reading.value}{unit}, at or over the threshold "
            f"{reading.threshold}{unit} of alert rule '{rule.name}'.")


def alerts_after_run(*, entry: JobQueueEntry) -> JobQueueEntry:
    """After a run of ``entry`` has ended (the runner calls it after BC's after-run rules): hold the entry if an alert
    paused its mapping while it ran, then evaluate every measure of its mapping's alert rules. Returns the entry as it
    is now. Never raises (a failure is logged): alerts must not turn a finished run into a failed one."""
    if entry.table_mapping_id is None:
        return entry
    try:
        _hold_pending(entry=entry)
        alert_rules_evaluate(mapping=entry.table_mapping)
        entry.refresh_from_db()
    except Exception:
        logger.exception("could not evaluate the alert rules of mapping %s after a run", entry.table_mapping_id)
    return entry


def alerts_check_stale(*, now: datetime | None = None) -> int:
    """The every-minute check (called by the dispatcher): evaluate "minutes since the last successful run" of every
    mapping of an enabled connection that has an enabled rule with that threshold. Returns the alerts raised. Never
    raises (a failure is logged, the dispatcher goes on)."""
    now = now or timezone.now()
    raised = 0
    try:
        mapping_ids = set(AlertRule.objects.filter(
            is_enabled=True, minutes_since_success__isnull=False, table_mapping__connection__is_enabled=True
        ).values_list("table_mapping_id", flat=True))
        for mapping in IntegrationTableMapping.objects.filter(pk__in=mapping_ids).select_related("connection"):
            raised += len(alert_rules_evaluate(mapping=mapping, measures=[Measure.MINUTES_SINCE_SUCCESS], now=now))
    except Exception:
        logger.exception("could not check the alert rules for minutes since the last successful run")
    return raised


# --- pause and resume ------------------------------------------------------------------------------------------------


def pause_reason(alert: Alert) -> str:
    """The reason written into the error message of the entries ``alert`` holds."""
    return (f"{PAUSE_REASON_PREFIX} '{alert.rule_name}' ({alert.get_measure_display()} {alert.value}, threshold "
            f"{alert.threshold}) raised {alert.raised_at:%Y-%m-%d %H:%M} UTC. Resume the mapping on the Alerts page.")


def mapping_pause(*, alert: Alert) -> list[str]:
    """Set the job queue entries of ``alert``'s mapping On Hold (BC: Set On Hold) with the alert as the reason.

    Entries Ready, On Hold with Inactivity Timeout or Error are held at once (conditional UPDATEs); an entry In
    Process finishes its run and is held when it ends (:func:`alerts_after_run`). Records the held and pending ids on
    the alert. Returns the ids of the entries held now."""
    reason = pause_reason(alert)
    held: list[str] = []
    pending: list[str] = []
    entries = JobQueueEntry.objects.filter(table_mapping=alert.table_mapping, kind__in=PAUSED_KINDS).exclude(
        status__in=[Status.ON_HOLD, Status.FINISHED])
    for entry in entries:
        if entry.status != Status.IN_PROCESS and JobQueueEntry.objects.filter(
            pk=entry.pk, status=entry.status
        ).update(status=Status.ON_HOLD, status_before_hold="", error_message=reason):
            held.append(str(entry.pk))
        else:
            pending.append(str(entry.pk))
    Alert.objects.filter(pk=alert.pk).update(paused=True, held_entry_ids=held, pending_entry_ids=pending)
    alert.paused, alert.held_entry_ids, alert.pending_entry_ids = True, held, pending
    return held


def _hold_pending(*, entry: JobQueueEntry) -> None:
    """Hold ``entry`` if an unresumed alert of its mapping was waiting for its run to end."""
    key = str(entry.pk)
    for alert in Alert.objects.filter(table_mapping_id=entry.table_mapping_id, paused=True, resumed_at__isnull=True):
        if key not in alert.pending_entry_ids:
            continue
        JobQueueEntry.objects.filter(pk=entry.pk).exclude(status__in=[Status.IN_PROCESS, Status.FINISHED]).update(
            status=Status.ON_HOLD, status_before_hold="", error_message=pause_reason(alert))
        Alert.objects.filter(pk=alert.pk).update(
            pending_entry_ids=[pk for pk in alert.pending_entry_ids if pk != key],
            held_entry_ids=[*alert.held_entry_ids, key],
        )


def paused_alerts(*, mapping: IntegrationTableMapping) -> Any:
    """The alerts that hold ``mapping`` now (paused, not resumed), newest first."""
    return Alert.objects.filter(table_mapping=mapping, paused=True, resumed_at__isnull=True)


def mapping_resume(*, mapping: IntegrationTableMapping, user_name: str) -> JobQueueEntry | None:
    """Resume a mapping held by alerts: mark every holding alert resumed (by ``user_name``), set the entries they hold
    Ready (only those still On Hold: an administrator may have changed them meanwhile) and start a catch-up run of the
    mapping's recurring synchronization entry at once (Run Now: claimed and enqueued on the ``sync`` queue when this
    transaction commits). The run is incremental from the mapping's watermarks, so records changed while the mapping
    was paused are synchronized.

    Returns the entry of the catch-up run (None when the mapping has no synchronization entry). Raises
    :class:`ResumeRefused` when no alert holds the mapping, :class:`syncjobs.services.ConnectionDisabled` when its
    connection is disabled, :class:`syncjobs.services.JobQueueEntryBusy` when another run of the mapping is In Process
    (the entries stay Ready and the dispatcher runs them after it)."""
    services.connection_require_enabled(connection=mapping.connection)
    now = timezone.now()
    with transaction.atomic():
        holding = list(paused_alerts(mapping=mapping).select_for_update())
        if not holding:
            raise ResumeRefused(f"Mapping {mapping.name} is not paused by an alert; nothing to resume.")
        held = {pk for alert in holding for pk in alert.held_entry_ids}
        Alert.objects.filter(pk__in=[alert.pk for alert in holding]).update(
            resumed_at=now, resumed_by=user_name[:150], pending_entry_ids=[])
        JobQueueEntry.objects.filter(pk__in=held, status=Status.ON_HOLD).update(
            status=Status.READY, earliest_start_date_time=now, last_ready_state=now, no_of_attempts_to_run=0,
            error_message="")
    entry = (JobQueueEntry.objects.filter(table_mapping=mapping, kind=JobQueueEntry.Kind.MAPPING, recurring_job=True)
             .exclude(status__in=[Status.ON_HOLD, Status.FINISHED]).select_related("table_mapping", "connection")
             .order_by("created_at").first())
    if entry is None:
        return None
    if entry.status != Status.IN_PROCESS:
        services.job_queue_entry_run_now(entry=entry)
    return entry


# --- delivery --------------------------------------------------------------------------------------------------------


def webhook_origin(url: str) -> str:
    """``scheme://host:port`` of ``url``: the part of a webhook URL the pages show (its path may carry a token)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or DEFAULT_PORTS.get(scheme)
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


def webhook_url_check(url: str) -> None:
    """Refuse a webhook URL the outbound policy does not allow (:mod:`connections.clients.outbound`): the scheme must
    be https, the host and port must be listed in ``OUTBOUND_ALLOWED_HOSTS`` (webhooks go only where the operator
    allowed them), and the URL must pass the policy's other rules (no credentials in it). Raises
    :class:`WebhookRefused` with the fix."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookRefused(f"The webhook URL is not valid: {exc}. Enter a URL such as "
                             "https://hooks.example.com/portal-alerts.") from None
    if parts.scheme.lower() != "https":
        raise WebhookRefused("The webhook URL must start with https:// (alerts are only posted over TLS).")
    host = (parts.hostname or "").lower()
    if not host:
        raise WebhookRefused("The webhook URL has no host name. Enter a URL such as "
                             "https://hooks.example.com/portal-alerts.")
    port = port or DEFAULT_PORTS["https"]
    if not is_allowed(host, port, "https"):
        raise WebhookRefused(
            f"The webhook host {host}:{port} is not allowed for outbound calls: add \"{host}:{port}\" to the "
            "OUTBOUND_ALLOWED_HOSTS setting (environment variable of the portal, workers and scheduler) and restart "
            "them, or use a host that is listed there.")
    try:
        checked_address(url)
    except OutboundURLRejected as exc:
        raise WebhookRefused(f"{exc.message} {exc.fix}".strip()) from None


def alert_payload(alert: Alert) -> dict[str, Any]:
    """The webhook's JSON body: ``{"alert": id, "rule", "mapping", "table", "integration_table", "connection",
    "measure", "measure_label", "value", "threshold", "unit", "raised_at" (ISO 8601 UTC), "paused", "message",
    "url"}`` (no secret, no record data)."""
    mapping = alert.table_mapping
    return {
        "alert": alert.pk,
        "rule": alert.rule_name,
        "mapping": mapping.name,
        "table": mapping.table,
        "integration_table": mapping.integration_table,
        "connection": mapping.connection.name,
        "measure": alert.measure,
        "measure_label": alert.get_measure_display(),
        "value": float(alert.value),
        "threshold": float(alert.threshold),
        "unit": alert.unit,
        "raised_at": alert.raised_at.isoformat(),
        "paused": alert.paused,
        "message": alert.message,
        "url": alerts_page_url(),
    }


def alerts_page_url() -> str:
    """The Alerts page as an absolute URL when ``settings.PORTAL_BASE_URL`` is set, else its path."""
    base = (getattr(settings, "PORTAL_BASE_URL", "") or "").rstrip("/")
    return f"{base}{reverse('syncjobs:alert-list')}"


def _email_body(alert: Alert) -> str:
    lines = [alert.message, ""]
    if alert.paused:
        lines.append("The mapping's job queue entries were set On Hold. Resume them on the Alerts page; a catch-up "
                     "synchronization then runs at once.")
    lines += [f"Raised: {alert.raised_at:%Y-%m-%d %H:%M:%S} UTC", f"Alerts: {alerts_page_url()}"]
    return "\n".join(lines)


def alert_deliver(*, alert: Alert) -> Alert:
    """Send ``alert`` by e-mail to its rule's recipients and POST it to its rule's webhook; record per channel Sent or
    Failed with the error (never raised). A rule deleted meanwhile delivers nothing. Returns the alert."""
    rule = alert.rule
    if rule is None:
        return alert
    fields: dict[str, Any] = {}
    recipients = rule.recipients()
    if recipients:
        try:
            send_mail(f"[Integration portal] Alert: {alert.rule_name} on {alert.table_mapping.name}",
                      _email_body(alert), None, recipients, fail_silently=False)
            fields.update(email_status=Alert.Delivery.SENT, email_error="")
        except Exception as exc:  # SMTP refused, host unreachable, bad settings: recorded, the run goes on
            logger.warning("alert %s: the e-mail could not be sent: %s", alert.pk, exc.__class__.__name__)
            fields.update(email_status=Alert.Delivery.FAILED,
                          email_error=f"{exc.__class__.__name__}: {exc}"[:2000] + " Check the EMAIL_* settings.")
    if rule.webhook_url:
        error = _post_webhook(rule.webhook_url, alert_payload(alert))
        fields.update(webhook_status=Alert.Delivery.FAILED if error else Alert.Delivery.SENT, webhook_error=error)
    if fields:
        Alert.objects.filter(pk=alert.pk).update(**fields)
        for name, value in fields.items():
            setattr(alert, name, value)
    return alert


def _post_webhook(url: str, payload: dict[str, Any]) -> str:
    """POST ``payload`` as JSON to ``url`` through the outbound policy; returns "" or the error (the URL's path is
    never part of it)."""
    try:
        webhook_url_check(url)
        transport = Transport(service="alert webhook", base_url=url, timeout=WEBHOOK_TIMEOUT_SECONDS,
                              max_retries=WEBHOOK_MAX_RETRIES, max_retry_wait=30.0)
        transport.request("POST", url, json=payload, headers={"User-Agent": "bcportal-alerts/1"})
    except WebhookRefused as exc:
        return str(exc)
    except ClientError as exc:
        status = f"HTTP {exc.status}" if exc.status else exc.layer
        return f"The webhook at {webhook_origin(url)} failed ({status}): {exc.message}"[:2000]
    except Exception as exc:  # never out of the run
        logger.exception("alert webhook to %s failed", webhook_origin(url))
        return f"The webhook at {webhook_origin(url)} failed: {exc.__class__.__name__}."
    return ""


def rules_of(*, mapping: IntegrationTableMapping | None = None) -> Any:
    """The alert rules (of ``mapping``, or all), with their mapping and connection, ordered by mapping and name."""
    rules = AlertRule.objects.select_related("table_mapping__connection").order_by(
        "table_mapping__connection__name", "table_mapping__name", "name")
    return rules.filter(table_mapping=mapping) if mapping is not None else rules


def recent_alerts(*, mapping: IntegrationTableMapping | None = None, limit: int = 200) -> list[Alert]:
    """The latest ``limit`` alerts (of ``mapping``, or all), open ones first."""
    alerts = Alert.objects.select_related("table_mapping__connection", "rule")
    if mapping is not None:
        alerts = alerts.filter(table_mapping=mapping)
    return list(alerts.order_by(F("resolved_at").desc(nulls_first=True), "-raised_at", "-id")[:limit])


def mapping_paused_by_alert(*, mapping_id: Any) -> bool:
    """True while an alert holds the mapping (for the pages)."""
    return Alert.objects.filter(table_mapping_id=mapping_id, paused=True, resumed_at__isnull=True).exists()

