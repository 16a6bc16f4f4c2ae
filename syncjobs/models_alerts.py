"""Alert rules per integration table mapping and the alerts they raised.

Improvement on BC, which only notifies the user who scheduled a job queue entry when it ends in Error (BC: table 472
Job Queue Entry, "Notify On Success"/error notifications): here an administrator sets thresholds per mapping (error
rate of the last synchronization jobs, skipped records, minutes since the last successful run), has them delivered by
e-mail and/or webhook, and may let a breach put the mapping's job queue entries On Hold until someone resumes them.

Imported at the end of :mod:`syncjobs.models` so that Django finds the models of the app; this module imports no
other model module (foreign keys name their models by string).
"""
from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q

from base.fields import EncryptedTextField


class AlertRule(models.Model):
    """The thresholds of one integration table mapping that raise an alert, and where the alert goes.

    Every threshold is optional (at least one is set, see the form): ``error_rate_percent`` (failed records in % of
    the records processed by the last ``error_rate_jobs`` synchronization jobs of the mapping), ``skipped_records``
    (skipped records of the mapping's table pair now), ``minutes_since_success`` (minutes since the last job queue
    entry run of the mapping that ended Success). A measure breaches when it reaches its threshold (``>=``) and is
    resolved when it is back under it. ``email_recipients`` is a comma-separated list of addresses;
    ``webhook_url`` an https URL whose host is allowed by the outbound policy (``OUTBOUND_ALLOWED_HOSTS``), kept
    encrypted like the connection's secrets because webhook URLs often carry a token; ``webhook_origin`` is its
    ``scheme://host:port``, the only part the pages show.
    """

    table_mapping = models.ForeignKey(
        "mappings.IntegrationTableMapping", on_delete=models.CASCADE, related_name="alert_rules"
    )
    name = models.CharField(max_length=100)
    is_enabled = models.BooleanField("Enabled", default=True)
    error_rate_percent = models.DecimalField(
        "Error rate (%)", max_digits=5, decimal_places=2, null=True, blank=True,
        help_text="Alert when failed records reach this share of the records processed (1–100 %).",
    )
    error_rate_jobs = models.PositiveSmallIntegerField(
        "Over the last N synchronization jobs", default=1,
        help_text="How many of the mapping's latest synchronization jobs the error rate counts (1 = the last run).",
    )
    skipped_records = models.PositiveIntegerField(
        "Skipped records", null=True, blank=True,
        help_text="Alert when the mapping has this many skipped records (or more).",
    )
    minutes_since_success = models.PositiveIntegerField(
        "Minutes since the last successful run", null=True, blank=True,
        help_text="Alert when no run of the mapping's job queue entries has succeeded for this many minutes.",
    )
    email_recipients = models.TextField(
        "E-mail recipients", blank=True, help_text="Comma-separated e-mail addresses (sent with the portal's mail "
        "settings, EMAIL_HOST and DEFAULT_FROM_EMAIL).",
    )
    webhook_url = EncryptedTextField(
        "Webhook URL", help_text="An https URL that receives the alert as a JSON POST; its host must be listed in the "
        "OUTBOUND_ALLOWED_HOSTS setting. Encrypted at rest and never shown again (webhook URLs often carry a token).",
    )
    webhook_origin = models.CharField(
        "Webhook", max_length=300, blank=True, help_text="The webhook URL's scheme, host and port (what the pages show)"
    )
    auto_pause = models.BooleanField(
        "Pause the mapping", default=False,
        help_text="Set the mapping's job queue entries On Hold when the alert is raised; Resume on the Alerts page "
        "sets them Ready and runs a catch-up synchronization at once.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["table_mapping__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["table_mapping", "name"], name="alert_rule_unique_name_per_mapping",
                violation_error_message="This mapping already has an alert rule of this name; choose another name.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def recipients(self) -> list[str]:
        """The e-mail addresses of ``email_recipients`` (split on commas, semicolons and white space)."""
        text = self.email_recipients.replace(";", ",").replace("\n", ",")
        return [address.strip() for address in text.split(",") if address.strip()]


class Alert(models.Model):
    """One breach of one threshold of an alert rule (raised once; resolved when the measure is back under it).

    ``value`` and ``threshold`` are in the unit of ``measure`` (percent, records or minutes). The delivery fields say
    whether the e-mail and the webhook were sent (their errors are kept, never raised into the run). When the rule
    pauses the mapping, ``held_entry_ids`` lists the job queue entries it put On Hold and ``pending_entry_ids`` those
    that were In Process then (held when their run ends); ``resumed_at`` is set by Resume. ``rule`` is kept null when
    the rule is deleted: the alert stays in the history (``rule_name``) and a paused mapping can still be resumed.
    """

    class Measure(models.TextChoices):
        ERROR_RATE = "ErrorRate", "Error rate (%)"
        SKIPPED_RECORDS = "SkippedRecords", "Skipped records"
        MINUTES_SINCE_SUCCESS = "MinutesSinceSuccess", "Minutes since the last successful run"

    class Delivery(models.TextChoices):
        NOT_REQUESTED = "", "—"
        SENT = "Sent", "Sent"
        FAILED = "Failed", "Failed"

    rule = models.ForeignKey(AlertRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    rule_name = models.CharField(max_length=100)
    table_mapping = models.ForeignKey(
        "mappings.IntegrationTableMapping", on_delete=models.CASCADE, related_name="alerts"
    )
    measure = models.CharField(max_length=30, choices=Measure.choices)
    value = models.DecimalField(max_digits=12, decimal_places=2)
    threshold = models.DecimalField(max_digits=12, decimal_places=2)
    message = models.TextField()
    raised_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    email_status = models.CharField(max_length=10, choices=Delivery.choices, blank=True, default=Delivery.NOT_REQUESTED)
    email_error = models.TextField(blank=True)
    webhook_status = models.CharField(
        max_length=10, choices=Delivery.choices, blank=True, default=Delivery.NOT_REQUESTED
    )
    webhook_error = models.TextField(blank=True)
    paused = models.BooleanField(default=False, help_text="The alert put the mapping's job queue entries On Hold")
    held_entry_ids = models.JSONField(default=list, blank=True)
    pending_entry_ids = models.JSONField(default=list, blank=True)
    resumed_at = models.DateTimeField(null=True, blank=True)
    resumed_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "measure"], condition=Q(resolved_at__isnull=True), name="alert_open_once_per_measure"
            ),
        ]
        indexes = [models.Index(fields=["table_mapping", "-raised_at"])]

    def __str__(self) -> str:
        return f"{self.rule_name}: {self.get_measure_display()} {self.value}"

    @property
    def is_open(self) -> bool:
        """True while the measure is still at or over its threshold."""
        return self.resolved_at is None

    @property
    def can_resume(self) -> bool:
        """True when the alert paused the mapping and nobody has resumed it yet."""
        return self.paused and self.resumed_at is None

    @property
    def unit(self) -> str:
        """The unit of ``value`` and ``threshold``: "%", "records" or "minutes"."""
        return {self.Measure.ERROR_RATE: "%", self.Measure.SKIPPED_RECORDS: "records"}.get(
            self.Measure(self.measure), "minutes")

    @staticmethod
    def quantize(value: Decimal | float | int) -> Decimal:
        """``value`` rounded to two decimals, as stored."""
        return Decimal(str(value)).quantize(Decimal("0.01"))
