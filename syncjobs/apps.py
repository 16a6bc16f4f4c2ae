from __future__ import annotations

from django.apps import AppConfig


class SyncjobsConfig(AppConfig):
    name = "syncjobs"
    verbose_name = "Synchronization jobs"
