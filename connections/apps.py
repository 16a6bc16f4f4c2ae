from __future__ import annotations

from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    name = "connections"
    verbose_name = "Connection setup"

    def ready(self) -> None:
        """Register the models with the audit trail (django-auditlog)."""
        # Django app loading: django-auditlog's registry loads its models, so it is imported once apps are ready.
        from connections import audit

        audit.register()
