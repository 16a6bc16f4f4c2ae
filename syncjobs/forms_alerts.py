"""The alert rule form: thresholds, recipients, webhook and pause of one integration table mapping, with errors that
name what to fix (positive thresholds, valid e-mail addresses, an https webhook URL on the outbound allowlist).

The webhook URL is treated as a secret (it often carries a token): it is never rendered back; blank keeps the stored
URL and "Remove the webhook" clears it.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from mappings.models import IntegrationTableMapping
from syncjobs.alerts import WebhookRefused, webhook_origin, webhook_url_check
from syncjobs.models import AlertRule

#: Upper bounds of the thresholds (a year of minutes; 100 synchronization jobs).
MAX_MINUTES = 525_600
MAX_JOBS = 100


class MappingChoiceField(forms.ModelChoiceField):
    """Integration table mappings labelled "NAME (connection)"."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.connection.name})"


class AlertRuleForm(forms.ModelForm):
    """Creates or changes an :class:`~syncjobs.models.AlertRule`; at least one threshold and one delivery (e-mail or
    webhook) are required."""

    table_mapping = MappingChoiceField(
        label="Integration table mapping",
        queryset=IntegrationTableMapping.objects.select_related("connection").order_by("connection__name", "name"),
        error_messages={"required": "Choose the integration table mapping the rule watches.",
                        "invalid_choice": "Choose one of the listed integration table mappings."},
    )
    webhook_url = forms.CharField(
        label="Webhook URL", required=False, max_length=500, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="An https URL that receives the alert as a JSON POST; its host and port must be listed in the "
        "OUTBOUND_ALLOWED_HOSTS setting. Never shown again; leave blank to keep the stored webhook.",
    )
    remove_webhook = forms.BooleanField(label="Remove the webhook", required=False)

    class Meta:
        model = AlertRule
        fields = ["table_mapping", "name", "is_enabled", "error_rate_percent", "error_rate_jobs", "skipped_records",
                  "minutes_since_success", "email_recipients", "auto_pause"]
        widgets = {"email_recipients": forms.Textarea(attrs={"rows": 2})}
        error_messages = {"name": {"required": "Enter a name for the rule, e.g. 'Customers failing'."}}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stored = self.instance.webhook_origin if self.instance.pk else ""
        if stored:
            self.fields["webhook_url"].help_text += f" Stored: {stored}/…"
        else:
            del self.fields["remove_webhook"]

    def clean_error_rate_percent(self) -> Decimal | None:
        value = self.cleaned_data.get("error_rate_percent")
        if value is not None and not (Decimal("0") < value <= Decimal("100")):
            raise ValidationError("The error rate threshold must be more than 0 and at most 100 (%).")
        return value

    def clean_error_rate_jobs(self) -> int:
        value = self.cleaned_data.get("error_rate_jobs")
        if value is None or not 1 <= value <= MAX_JOBS:
            raise ValidationError(f"Count the error rate over 1 to {MAX_JOBS} synchronization jobs.")
        return value

    def clean_skipped_records(self) -> int | None:
        value = self.cleaned_data.get("skipped_records")
        if value is not None and value < 1:
            raise ValidationError("The skipped records threshold must be at least 1 (leave it blank for none).")
        return value

    def clean_minutes_since_success(self) -> int | None:
        value = self.cleaned_data.get("minutes_since_success")
        if value is not None and not 1 <= value <= MAX_MINUTES:
            raise ValidationError(f"The minutes since the last successful run must be 1 to {MAX_MINUTES} "
                                  "(leave it blank for none).")
        return value

    def clean_email_recipients(self) -> str:
        text = self.cleaned_data.get("email_recipients", "")
        addresses = AlertRule(email_recipients=text).recipients()
        bad = []
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError:
                bad.append(address)
        if bad:
            raise ValidationError(f"Not a valid e-mail address: {', '.join(bad)}. Separate addresses with commas.")
        return ", ".join(addresses)

    def clean_webhook_url(self) -> str:
        url = self.cleaned_data.get("webhook_url", "")
        if url:
            try:
                webhook_url_check(url)
            except WebhookRefused as exc:
                raise ValidationError(str(exc)) from None
        return url

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        thresholds = ("error_rate_percent", "skipped_records", "minutes_since_success")
        if not self.errors and all(data.get(name) is None for name in thresholds):
            raise ValidationError("Set at least one threshold: error rate, skipped records or minutes since the last "
                                  "successful run.")
        keeps_webhook = bool(self.instance.webhook_url) and not data.get("remove_webhook")
        if not self.errors and not (data.get("email_recipients") or data.get("webhook_url") or keeps_webhook):
            raise ValidationError("Say where the alert goes: enter e-mail recipients or a webhook URL.")
        return data

    def save(self, commit: bool = True) -> AlertRule:
        rule: AlertRule = super().save(commit=False)
        url = self.cleaned_data.get("webhook_url", "")
        if url:
            rule.webhook_url, rule.webhook_origin = url, webhook_origin(url)
        elif self.cleaned_data.get("remove_webhook"):
            rule.webhook_url, rule.webhook_origin = "", ""
        if commit:
            rule.save()
        return rule
