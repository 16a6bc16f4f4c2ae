"""The Business Central API pages and fields the connection's integration table mappings read and write, for Test
Connection (``connections.diagnostics.connection_test``, ``bc_endpoints``): the callers above the mappings compute
them here and pass them down, so Test Connection does not import the mappings.

Each table's entity set and API route come from the catalogue (``mappings.catalogue``: API v2.0, or the companion
extension's custom route for tables and fields v2.0 lacks; Microsoft Learn: "Business Central API (v2.0)",
"Developing a custom API"); each field from the BC field of an enabled field mapping (BC: table 5336 Integration
Field Mapping, field 3 Field No., field 9 Status).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from connections.bc_requirements import CUSTOMER_STATISTICS_ENDPOINT, BCEndpoint
from connections.models import ConnectionSetup
from mappings.catalogue import BC_TABLES
from mappings.default_configuration import MAPPINGS
from mappings.models import IntegrationFieldMapping, IntegrationTableMapping


@dataclass
class _Use:
    properties: set[str] = field(default_factory=set)
    used_by: list[str] = field(default_factory=list)


def _mapping_uses(connection: ConnectionSetup) -> list[tuple[str, str, list[str]]]:
    """``[(mapping name, BC table, [BC field, ...])]`` of the connection's mappings (enabled field mappings only), or
    of the default configuration (every default mapping and field) when the connection has no mapping yet: what the
    assisted setup is about to create."""
    mappings = list(IntegrationTableMapping.objects.filter(connection=connection).order_by("priority", "name")
                    .prefetch_related("field_mappings"))
    if not mappings:
        return [(default.name, default.bc_table, [f.bc_field for f in default.fields if f.bc_field])
                for default in MAPPINGS]
    return [(mapping.name, mapping.table, [f.field_name for f in mapping.field_mappings.all()
                                           if f.field_name and f.status == IntegrationFieldMapping.Status.ENABLED])
            for mapping in mappings]


def bc_endpoints_required(*, connection: ConnectionSetup) -> list[BCEndpoint]:
    """One :class:`connections.bc_requirements.BCEndpoint` per BC entity set the mappings use (sorted by route and
    entity set), with the API properties read or written (the key, the modified marker and each mapped field) and
    the mapping names, then the Customer Statistics job's page (``CUSTOMER_STATISTICS_ENDPOINT``). Tables or fields
    the catalogue does not know are left out (the mapping pages refuse them)."""
    uses: dict[tuple[str, str], _Use] = {}
    for name, table_name, fields in _mapping_uses(connection):
        table = BC_TABLES.get(table_name)
        if table is None:
            continue
        use = uses.setdefault((table.api, table.entity_set), _Use())
        use.properties.update(p for p in (table.key_property, table.modified_property) if p)
        use.properties.update(table.field(f).api_property for f in fields if table.has_field(f))
        if name not in use.used_by:
            use.used_by.append(name)
    return [*(BCEndpoint(api=api, entity_set=entity_set, properties=tuple(sorted(use.properties)),
                         used_by=tuple(use.used_by))
              for (api, entity_set), use in sorted(uses.items())), CUSTOMER_STATISTICS_ENDPOINT]
