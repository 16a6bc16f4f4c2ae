"""The audit trail page's content: django-auditlog's entries for the audited models (connection setup, mappings,
field mappings, job queue entries), newest first, filtered by object type, user, date range and the object's name.

Which fields each model records, and how secrets are masked, is decided in each app's ``audit`` module; this module
only reads the log. BC keeps the same kind of record in table 405 Change Log Entry (page 595 Change Log Entries).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django import forms
from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet

from base.keyset import keyset_page

#: Entries per page.
PAGE_SIZE = 50


def _object_type_choices() -> list[tuple[str, str]]:
    """("app_label.model", "Verbose name") of every audited model, sorted by name."""
    models = sorted(auditlog.get_models(), key=lambda model: model._meta.verbose_name)
    return [("", "All")] + [(model._meta.label_lower, str(model._meta.verbose_name).capitalize()) for model in models]


def _user_choices() -> list[tuple[str, str]]:
    """Usernames of the users who made an audited change, plus "system" for changes made by no signed-in user."""
    names = (LogEntry.objects.filter(actor__isnull=False).order_by("actor__username")
             .values_list("actor__username", flat=True).distinct())
    return [("", "All"), (AuditTrailFilter.SYSTEM, "System (no signed-in user)")] + [(name, name) for name in names]


class AuditTrailFilter(forms.Form):
    """The filters of the audit trail page (all optional; an invalid value is reported and ignored)."""

    SYSTEM = "-system-"

    object_type = forms.ChoiceField(required=False, label="Object type")
    user = forms.ChoiceField(required=False, label="User")
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(required=False, max_length=200, label="Object name contains")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["object_type"].choices = _object_type_choices()
        self.fields["user"].choices = _user_choices()


@dataclass(frozen=True)
class AuditRow:
    """One change for display: when (aware datetime), who (username or "System"), what was changed (action word,
    object type, object name) and ``changes``: (field label, before, after) triples, secrets already masked."""

    timestamp: Any
    actor: str
    action: str
    object_type: str
    object_repr: str
    changes: list[tuple[str, str, str]]


def _entries(cleaned: dict[str, Any]) -> QuerySet[LogEntry]:
    """The audited models' log entries matching the valid filters in ``cleaned``, newest first."""
    types = ContentType.objects.get_for_models(*auditlog.get_models()).values()
    entries = LogEntry.objects.filter(content_type__in=list(types)).select_related("actor", "content_type")
    if cleaned.get("object_type"):
        app_label, _, model = cleaned["object_type"].partition(".")
        entries = entries.filter(content_type__app_label=app_label, content_type__model=model)
    if cleaned.get("user") == AuditTrailFilter.SYSTEM:
        entries = entries.filter(actor__isnull=True)
    elif cleaned.get("user"):
        entries = entries.filter(actor__username=cleaned["user"])
    if cleaned.get("date_from"):
        entries = entries.filter(timestamp__date__gte=cleaned["date_from"])
    if cleaned.get("date_to"):
        entries = entries.filter(timestamp__date__lte=cleaned["date_to"])
    if cleaned.get("q"):
        entries = entries.filter(object_repr__icontains=cleaned["q"])
    return entries.order_by("-timestamp", "-pk")


def _row(entry: LogEntry) -> AuditRow:
    model = entry.content_type.model_class()
    object_type = str(model._meta.verbose_name).capitalize() if model else entry.content_type.model
    changes = [(str(label).capitalize(), *(str(value) for value in values[:2]))
               for label, values in entry.changes_display_dict.items()]
    return AuditRow(timestamp=entry.timestamp, actor=entry.actor.get_username() if entry.actor else "System",
                    action=entry.get_action_display(), object_type=object_type, object_repr=entry.object_repr,
                    changes=changes)


def audit_trail_context(query: dict[str, Any], page_number: str | None) -> dict[str, Any]:
    """The audit trail page's context for the GET parameters ``query`` and the requested page.

    Returns ``form`` (bound :class:`AuditTrailFilter`, with its errors), ``page`` (a keyset page of entries,
    :class:`base.keyset.KeysetPage`; ``page_number`` is no longer used, its cursor is in ``query``),
    ``rows`` (:class:`AuditRow` of that page) and ``query`` (the filters as a query string without ``page``).
    Never raises for bad input: invalid filters are ignored and a damaged page link gives the first page, with
    ``page_error`` saying so.
    """
    form = AuditTrailFilter(query)
    form.is_valid()
    cleaned = getattr(form, "cleaned_data", {})
    # Keyset pages (Newer / Older links carrying the last timestamp and id): no count of the log, no OFFSET.
    page = keyset_page(_entries(cleaned), ("-timestamp", "-id"), query, size=PAGE_SIZE)
    filters = query.copy()
    for name in ("page", "after", "before"):
        filters.pop(name, None)
    return {"form": form, "page": page, "rows": [_row(entry) for entry in page], "query": filters.urlencode(),
            "page_error": page.error}
