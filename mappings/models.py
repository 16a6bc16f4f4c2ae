"""Integration table mappings, integration field mappings and couplings (BC: table 5335 Integration Table Mapping,
table 5336 Integration Field Mapping, table 5331 CRM Integration Record)."""
from __future__ import annotations

import uuid

from django.db import models


class Direction(models.TextChoices):
    """Synchronization direction (BC: Integration Table Mapping, Direction)."""

    BIDIRECTIONAL = "Bidirectional", "Bidirectional"
    TO_INTEGRATION_TABLE = "ToIntegrationTable", "To integration table (BC → Dataverse)"
    FROM_INTEGRATION_TABLE = "FromIntegrationTable", "From integration table (Dataverse → BC)"


class IntegrationTableMapping(models.Model):
    """One BC table ⇄ one Dataverse table of a connection (BC: table 5335 "Integration Table Mapping").

    Watermarks are UTC datetimes: ``synch_modified_on_filter`` is the Dataverse ``modifiedon`` watermark and
    ``synch_int_tbl_mod_on_fltr`` the BC ``lastModifiedDateTime`` watermark (BC's names are swapped: fields 12
    Synch. Int. Tbl. Mod. On Fltr. and 13 Synch. Modified On Filter).
    """

    class DeletionConflictResolution(models.TextChoices):
        NONE = "None", "None"
        RESTORE_RECORDS = "RestoreRecords", "Restore records"
        REMOVE_COUPLING = "RemoveCoupling", "Delete coupling"

    class UpdateConflictResolution(models.TextChoices):
        NONE = "None", "None"
        SEND_UPDATE_TO_INTEGRATION = "SendUpdateToIntegration", "Send data update to integration table"
        GET_UPDATE_FROM_INTEGRATION = "GetUpdateFromIntegration", "Get data update from integration table"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    connection = models.ForeignKey("connections.ConnectionSetup", on_delete=models.CASCADE, related_name="mappings")
    name = models.CharField(max_length=20)
    table = models.CharField("BC table", max_length=100)
    integration_table = models.CharField("Dataverse table", max_length=100)
    integration_table_uid_field = models.CharField(max_length=100, blank=True)
    int_tbl_modified_on_field = models.CharField(max_length=100, blank=True, default="modifiedon")
    direction = models.CharField(max_length=20, choices=Direction.choices, default=Direction.BIDIRECTIONAL)
    table_filter = models.TextField("table filter", blank=True, help_text="OData $filter on the BC side")
    integration_table_filter = models.TextField(
        "integration table filter", blank=True, help_text="OData $filter on the Dataverse side"
    )
    synch_only_coupled_records = models.BooleanField("synch. only coupled records", default=True)
    dependency_filter = models.CharField(max_length=250, blank=True, help_text="'|'-separated mapping names")
    deletion_conflict_resolution = models.CharField(
        max_length=20, choices=DeletionConflictResolution.choices, default=DeletionConflictResolution.NONE
    )
    update_conflict_resolution = models.CharField(
        max_length=30, choices=UpdateConflictResolution.choices, default=UpdateConflictResolution.NONE
    )
    table_config_template = models.JSONField(default=dict, blank=True, help_text="Values for new BC records")
    int_tbl_config_template = models.JSONField(default=dict, blank=True, help_text="Values for new Dataverse rows")
    synch_modified_on_filter = models.DateTimeField(null=True, blank=True)
    synch_int_tbl_mod_on_fltr = models.DateTimeField(null=True, blank=True)
    synch_after_bulk_coupling = models.BooleanField("synch. after match-based coupling", default=False)
    create_new_in_case_of_no_match = models.BooleanField(default=False)
    disable_event_job_resch = models.BooleanField(default=False)
    full_sync_is_running = models.BooleanField(default=False)
    last_full_sync_start = models.DateTimeField(null=True, blank=True)
    user_defined = models.BooleanField(default=False)
    priority = models.PositiveIntegerField(default=0, help_text="Position in BC's prioritized mapping list")

    class Meta:
        ordering = ["priority", "name"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "name"], name="mapping_name_unique_per_connection"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_option_mapping(self) -> bool:
        """Whether the Dataverse side is an option set column of ``integration_table`` rather than its rows
        (PAYMENT TERMS, SHIPMENT METHOD, SHIPPING AGENT; BC: codeunit 7204 CDS Setup Defaults, option-set mappings
        whose field 7 Int. Table UID Field Type is Option)."""
        return bool(self.integration_table_uid_field) and not self.int_tbl_modified_on_field and (
            self.integration_table_uid_field != f"{self.integration_table}id"
        )

    @property
    def coupling_dataverse_table(self) -> str:
        """The ``Coupling.dataverse_table`` value of this mapping's couplings: the logical name, or
        ``<table>.<option column>`` for option mappings (their "rows" are option values, not table rows)."""
        if self.is_option_mapping:
            return f"{self.integration_table}.{self.integration_table_uid_field}"
        return self.integration_table

    def temp_description(self) -> str:
        """'<BC table> <-> | -> | <- <Dataverse table>' (BC: Integration Table Mapping.GetTempDescription)."""
        arrow = {Direction.BIDIRECTIONAL: "<->", Direction.TO_INTEGRATION_TABLE: "->",
                 Direction.FROM_INTEGRATION_TABLE: "<-"}[Direction(self.direction)]
        return f"{self.table} {arrow} {self.integration_table}"


class IntegrationFieldMapping(models.Model):
    """One BC field ⇄ one Dataverse column of a table mapping (BC: table 5336 "Integration Field Mapping").

    ``field_name`` empty means a constant pushed to Dataverse; ``integration_field_name`` empty means a constant
    written into BC (BC: field 3 Field No. or field 4 Integration Table Field No. 0, with field 7 Constant Value).
    """

    class Status(models.TextChoices):
        ENABLED = "Enabled", "Enabled"
        DISABLED = "Disabled", "Disabled"

    table_mapping = models.ForeignKey(IntegrationTableMapping, on_delete=models.CASCADE, related_name="field_mappings")
    sequence = models.PositiveIntegerField(default=0)
    field_name = models.CharField("BC field", max_length=100, blank=True)
    integration_field_name = models.CharField("Dataverse column", max_length=100, blank=True)
    direction = models.CharField(max_length=20, choices=Direction.choices, default=Direction.BIDIRECTIONAL)
    constant_value = models.CharField(max_length=100, blank=True)
    validate_field = models.BooleanField(default=False)
    validate_integration_table_field = models.BooleanField(default=False)
    clear_value_on_failed_sync = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ENABLED)
    not_null = models.BooleanField(default=False)
    transformation_rule = models.CharField(max_length=50, blank=True)
    transformation_direction = models.CharField(max_length=20, choices=Direction.choices, blank=True)
    use_for_match_based_coupling = models.BooleanField(default=False)
    case_sensitive_matching = models.BooleanField(default=False)
    match_priority = models.PositiveIntegerField(default=0)
    user_defined = models.BooleanField(default=False)

    class Meta:
        ordering = ["table_mapping", "sequence", "id"]

    def __str__(self) -> str:
        return f"{self.table_mapping.name}: {self.field_name or self.constant_value} ⇄ {self.integration_field_name}"


#: The couplings listed as Coupled Data Synchronization Errors: skipped, or whose last run failed either way (BC:
#: page 5333 "CRM Skipped Records" lists table 5331 rows with Skipped set; the portal adds the failed ones).
SKIPPED_OR_FAILED = (models.Q(skipped=True) | models.Q(last_synch_result="Failure")
                     | models.Q(last_synch_crm_result="Failure"))


class Coupling(models.Model):
    """The link between one BC record (SystemId) and one Dataverse row (GUID) (BC: table 5331 "CRM Integration
    Record").

    One BC record couples to at most one row of a Dataverse table, and a Dataverse row to at most one BC record,
    enforced by unique constraints. ``last_synch_*`` timestamps are UTC. ``is_pending`` marks a coupling written
    before a create request is sent (ids generated by the engine), so a lost response never duplicates a row.
    """

    class Result(models.TextChoices):
        NONE = "", "—"
        SUCCESS = "Success", "Success"
        FAILURE = "Failure", "Failure"

    connection = models.ForeignKey("connections.ConnectionSetup", on_delete=models.CASCADE, related_name="couplings")
    bc_table = models.CharField("BC table", max_length=100)
    bc_id = models.UUIDField("BC SystemId")
    dataverse_table = models.CharField("Dataverse table", max_length=100)
    dataverse_id = models.UUIDField("Dataverse ID")
    last_synch_modified_on = models.DateTimeField(null=True, blank=True)
    last_synch_crm_modified_on = models.DateTimeField(null=True, blank=True)
    last_synch_result = models.CharField(max_length=10, choices=Result.choices, blank=True, default=Result.NONE)
    last_synch_crm_result = models.CharField(max_length=10, choices=Result.choices, blank=True, default=Result.NONE)
    last_synch_job_id = models.UUIDField(null=True, blank=True)
    last_synch_crm_job_id = models.UUIDField(null=True, blank=True)
    skipped = models.BooleanField(default=False)
    failure_count = models.PositiveSmallIntegerField(default=0)
    is_pending = models.BooleanField(default=False)
    statistics_uploaded = models.BooleanField(default=False)
    archived_sales_order = models.BooleanField(default=False)
    archived_sales_order_updated = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # The primary name of each side as the last pass (or coupling) saw it, for the pages that list records (BC: CRM
    # Setup Defaults.GetNameFieldNo; Dataverse: the table's primary name column). Null: not seen yet, which differs
    # from a record whose name is empty; nullable columns are added to a large coupling table without a rewrite.
    bc_name = models.CharField("BC record name", max_length=250, null=True, blank=True)  # noqa: DJ001
    dataverse_name = models.CharField("Dataverse row name", max_length=250, null=True, blank=True)  # noqa: DJ001

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "bc_table", "bc_id", "dataverse_table"], name="coupling_bc_record_unique"
            ),
            models.UniqueConstraint(
                fields=["connection", "dataverse_table", "dataverse_id"], name="coupling_row_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["connection", "bc_table", "skipped"]),
            # Coupled records of a mapping, newest first (keyset pages: created_at, id).
            models.Index(fields=["connection", "bc_table", "dataverse_table", "created_at", "id"],
                         name="coupling_pair_created"),
            # Coupled data synchronization errors: skipped first, then by table (keyset pages), of every mapping
            # or of one; partial, so they hold only the few skipped or failed couplings.
            models.Index(fields=["-skipped", "bc_table", "id"], condition=SKIPPED_OR_FAILED,
                         name="coupling_skipped_list"),
            models.Index(fields=["connection", "bc_table", "dataverse_table", "-skipped", "id"],
                         condition=SKIPPED_OR_FAILED, name="coupling_skipped_pair"),
        ]

    def __str__(self) -> str:
        return (f"{self.bc_table} {self.bc_name or self.bc_id} ⇄ {self.dataverse_table} "
                f"{self.dataverse_name or self.dataverse_id}")


class CouplingLogEntry(models.Model):
    """One record's outcome in a match-based coupling run (BC: "Int. Coupling Job Runner", which logs coupling jobs
    as table 5338 Integration Synch. Job rows of Type Coupling; here ``job`` with per-record lines so the
    administrator sees why a record was not coupled).
    """

    class Outcome(models.TextChoices):
        COUPLED = "Coupled", "Coupled"
        CREATED = "Created", "No match: counterpart created"
        NO_MATCH = "NoMatch", "No match"
        SEVERAL_MATCHES = "SeveralMatches", "Several matches"
        ALREADY_COUPLED = "AlreadyCoupled", "Already coupled"
        FAILED = "Failed", "Failed"

    job = models.ForeignKey("syncjobs.SynchronizationJob", on_delete=models.CASCADE, related_name="coupling_log")
    sequence = models.PositiveIntegerField(default=0)
    bc_id = models.UUIDField("BC SystemId")
    bc_name = models.CharField(max_length=250, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    dataverse_id = models.UUIDField(null=True, blank=True)
    dataverse_name = models.CharField(max_length=250, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["job", "sequence"]
        indexes = [
            models.Index(fields=["job", "sequence", "id"], name="coupling_log_job_sequence"),
            models.Index(fields=["job", "outcome", "sequence", "id"], name="coupling_log_job_outcome"),
        ]

    def __str__(self) -> str:
        return f"{self.bc_name}: {self.get_outcome_display()}"


class CouplingCount(models.Model):
    """How many couplings a table pair of a connection has, and how many of them are skipped, kept with the rows
    they count: database triggers on the coupling table (created by migration ``mappings.0004_list_indexes``)
    add and subtract on every insert, delete and change of ``skipped`` or of the pair, whichever code path writes
    (``bulk_create``, ``QuerySet.update`` and cascades included), in the same transaction.

    Exact counters rather than PostgreSQL's statistics ("about N"): the mappings list shows small numbers (a
    mapping's skipped records) where an estimate would be wrong, and SQLite has no such statistics. A pair with no
    row has no coupling. Read-only for the portal's code; the triggers alone write it.
    """

    connection = models.ForeignKey("connections.ConnectionSetup", on_delete=models.CASCADE,
                                   related_name="coupling_counts")
    bc_table = models.CharField("BC table", max_length=100)
    dataverse_table = models.CharField("Dataverse table", max_length=100)
    total = models.BigIntegerField(default=0)
    skipped = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "bc_table", "dataverse_table"],
                                    name="coupling_count_pair_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.bc_table} ⇄ {self.dataverse_table}: {self.total} ({self.skipped} skipped)"
