from __future__ import annotations

from django.apps import AppConfig


class SyncjobsConfig(AppConfig):
    name = "syncjobs"
    verbose_name = "Synchronization jobs"

    def ready(self) -> None:
        """Register the models with the audit trail (django-auditlog)."""
        # Django app loading: django-auditlog's registry loads its models, so it is imported once apps are ready.
        from syncjobs import audit

        audit.register()
