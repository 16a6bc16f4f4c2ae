"""What the audit trail records of the mappings: every change of an integration table mapping (direction, table
filters, dependencies, conflict resolution, templates, the match-based coupling options) and of its field mappings
(BC: table 5335 Integration Table Mapping, table 5336 Integration Field Mapping).

Not audited: the modified-on filters and the full synchronization flags, which the engine moves on every run. The log
itself is django-auditlog's ``LogEntry``; this module registers the models by name and imports no model at start-up.
"""
from __future__ import annotations

from auditlog.registry import auditlog
from django.apps import apps

#: Mapping fields the synchronization engine writes on every run, not an administrator's change.
MAPPING_NOT_AUDITED = ("synch_modified_on_filter", "synch_int_tbl_mod_on_fltr", "full_sync_is_running",
                       "last_full_sync_start")


def register() -> None:
    """Register ``IntegrationTableMapping`` (all fields but ``MAPPING_NOT_AUDITED``) and ``IntegrationFieldMapping``
    (all fields) with django-auditlog; called once from ``MappingsConfig.ready``."""
    auditlog.register(apps.get_model("mappings", "IntegrationTableMapping"), exclude_fields=list(MAPPING_NOT_AUDITED))
    auditlog.register(apps.get_model("mappings", "IntegrationFieldMapping"))
