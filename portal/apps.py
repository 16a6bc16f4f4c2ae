from __future__ import annotations

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Integration portal"

    def ready(self) -> None:
        # Django app loading: system checks may be registered only once the app registry is ready.
        from portal import checks  # noqa: F401
