"""Django admin of mappings and couplings (read-mostly: the pages and services enforce the rules)."""
from __future__ import annotations

from django.contrib import admin

from mappings.models import Coupling, CouplingLogEntry, IntegrationFieldMapping, IntegrationTableMapping


class IntegrationFieldMappingInline(admin.TabularInline):
    model = IntegrationFieldMapping
    extra = 0
    fields = ["sequence", "field_name", "integration_field_name", "direction", "constant_value", "status",
              "not_null", "clear_value_on_failed_sync", "use_for_match_based_coupling"]


@admin.register(IntegrationTableMapping)
class IntegrationTableMappingAdmin(admin.ModelAdmin):
    list_display = ["name", "connection", "table", "integration_table", "direction", "priority", "user_defined"]
    list_filter = ["connection", "direction", "user_defined"]
    search_fields = ["name", "table", "integration_table"]
    inlines = [IntegrationFieldMappingInline]


@admin.register(Coupling)
class CouplingAdmin(admin.ModelAdmin):
    list_display = ["bc_table", "bc_id", "dataverse_table", "dataverse_id", "skipped", "last_synch_result",
                    "last_synch_crm_result"]
    list_filter = ["connection", "bc_table", "skipped"]
    search_fields = ["bc_id", "dataverse_id"]


@admin.register(CouplingLogEntry)
class CouplingLogEntryAdmin(admin.ModelAdmin):
    list_display = ["job", "sequence", "bc_name", "outcome", "dataverse_name"]
    list_filter = ["outcome"]
