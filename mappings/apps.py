from __future__ import annotations

from django.apps import AppConfig


class MappingsConfig(AppConfig):
    name = "mappings"
    verbose_name = "Integration table mappings"

    def ready(self) -> None:
        """Register the models with the audit trail (django-auditlog)."""
        # Django app loading: django-auditlog's registry loads its models, so it is imported once apps are ready.
        from mappings import audit

        audit.register()
