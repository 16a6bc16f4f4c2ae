"""The Dataverse privileges the connection's integration table mappings need, table by table, for Test Connection
(``connections.diagnostics.connection_test``, ``required_privileges``): the callers above the mappings compute them
here and pass them down, so Test Connection does not import the mappings.

Privilege types are those of Dataverse's table privileges (Microsoft Learn: "SecurityPrivilegeMetadata ComplexType",
PrivilegeType; "Security concepts in Microsoft Dataverse"): writing to Dataverse (BC → Dataverse) reads, creates and
updates rows and sets their lookups (Append on the row, AppendTo on the row it points to); reading from Dataverse
(Dataverse → BC) reads rows.
"""
from __future__ import annotations

from connections.models import ConnectionSetup
from mappings.models import Direction, IntegrationTableMapping

#: Privilege types a mapping needs on its Dataverse table, by direction.
TO_INTEGRATION_TABLE = ("Read", "Create", "Write", "Append", "AppendTo")
FROM_INTEGRATION_TABLE = ("Read",)
PRIVILEGE_TYPES = {
    Direction.TO_INTEGRATION_TABLE: TO_INTEGRATION_TABLE,
    Direction.FROM_INTEGRATION_TABLE: FROM_INTEGRATION_TABLE,
    Direction.BIDIRECTIONAL: TO_INTEGRATION_TABLE,  # To integration table includes Read (From integration table)
}


def table_privileges_required(*, connection: ConnectionSetup) -> dict[str, dict[str, list[str]]]:
    """``{Dataverse table: {privilege type: [mapping name, ...]}}`` for the connection's integration table mappings
    (the mapping model has no per-mapping enabled flag, so every mapping counts). The table is the logical name
    before any ``.`` (an option mapping stored as ``table.column`` needs the table); types follow the mapping's
    direction (:data:`PRIVILEGE_TYPES`), except that an option mapping (PAYMENT TERMS, ...) needs Read only: it writes
    option values, not rows. Tables, types and names are sorted."""
    required: dict[str, dict[str, list[str]]] = {}
    mappings = IntegrationTableMapping.objects.filter(connection=connection).only(
        "name", "integration_table", "direction", "integration_table_uid_field", "int_tbl_modified_on_field",
    ).order_by("name")
    for mapping in mappings:
        table = mapping.integration_table.split(".", 1)[0].strip().lower()
        if not table:
            continue
        # An option mapping writes option values of a column, not rows of the table: it reads the table only.
        types = (FROM_INTEGRATION_TABLE if mapping.is_option_mapping
                 else PRIVILEGE_TYPES.get(Direction(mapping.direction), FROM_INTEGRATION_TABLE))
        for privilege_type in types:
            names = required.setdefault(table, {}).setdefault(privilege_type, [])
            if mapping.name not in names:
                names.append(mapping.name)
    return {table: dict(sorted(by_type.items())) for table, by_type in sorted(required.items())}
