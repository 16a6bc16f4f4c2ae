"""Job queue entries, synchronization jobs and errors, full synchronization review lines (BC: table 472 Job Queue
Entry, table 5338 Integration Synch. Job, table 5339 Integration Synch. Job Errors, table 5373 CRM Full Synch. Review
Line)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import models
from django.utils import timezone

from mappings.models import Direction


class JobQueueEntry(models.Model):
    """The schedule of a mapping or of a special job (BC: table 472 "Job Queue Entry").

    Minutes for recurrence and inactivity timeout, seconds for the rerun delay, UTC datetimes. The database row is
    the truth: a worker claims an entry by a conditional UPDATE from Ready to In Process.
    """

    class Status(models.TextChoices):
        READY = "Ready", "Ready"
        IN_PROCESS = "InProcess", "In Process"
        ERROR = "Error", "Error"
        ON_HOLD = "OnHold", "On Hold"
        FINISHED = "Finished", "Finished"
        ON_HOLD_WITH_INACTIVITY_TIMEOUT = "OnHoldWithInactivityTimeout", "On Hold with Inactivity Timeout"

    class Kind(models.TextChoices):
        MAPPING = "Mapping", "Integration synch. job runner"
        FULL_SYNCHRONIZATION = "FullSynchronization", "Full synchronization"
        COUPLING = "Coupling", "Match-based coupling"
        UNCOUPLING = "Uncoupling", "Uncoupling"
        CUSTOMER_STATISTICS = "CustomerStatistics", "Customer statistics"
        ITEM_AVAILABILITY = "ItemAvailability", "Item availability"
        SALES_ORDER_STATUS = "SalesOrderStatus", "Sales order status"
        SALES_ORDER_NOTES = "SalesOrderNotes", "Sales order notes"
        ARCHIVED_SALES_ORDERS = "ArchivedSalesOrders", "Archived sales orders"
        AUTO_CREATE_SALES_ORDERS = "AutoCreateSalesOrders", "Automatic sales order creation"
        AUTO_PROCESS_SALES_QUOTES = "AutoProcessSalesQuotes", "Automatic sales quote processing"
        UNIT_GROUP_UPDATE = "UnitGroupUpdate", "Update unit group mapping"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    connection = models.ForeignKey(
        "connections.ConnectionSetup", on_delete=models.CASCADE, related_name="job_queue_entries"
    )
    table_mapping = models.ForeignKey(
        "mappings.IntegrationTableMapping",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="job_queue_entries",
    )
    kind = models.CharField(max_length=30, choices=Kind.choices, default=Kind.MAPPING)
    description = models.CharField(max_length=250)
    category = models.CharField(max_length=10, blank=True, default="BCI INTEG")
    recurring_job = models.BooleanField(default=True)
    no_of_minutes_between_runs = models.PositiveIntegerField(default=30)
    inactivity_timeout_period = models.PositiveIntegerField(default=720, help_text="minutes")
    maximum_no_of_attempts_to_run = models.PositiveIntegerField(default=10)
    no_of_attempts_to_run = models.PositiveIntegerField(default=0)
    rerun_delay_sec = models.PositiveIntegerField(default=30)
    status = models.CharField(max_length=30, choices=Status.choices, default=Status.READY)
    earliest_start_date_time = models.DateTimeField(null=True, blank=True)
    last_ready_state = models.DateTimeField(null=True, blank=True)
    last_run_started_at = models.DateTimeField(null=True, blank=True)
    last_run_finished_at = models.DateTimeField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    rq_job_id = models.CharField(max_length=100, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When the dispatcher last claimed the entry")
    last_result = models.CharField(
        max_length=20, blank=True, help_text="Outcome of the last run: Success, Idle or Error (see the log for details)"
    )
    status_before_hold = models.CharField(
        max_length=30, choices=Status.choices, blank=True, help_text="Status to restore when the connection is enabled"
    )
    lease_owner = models.CharField(
        max_length=200, blank=True, help_text="The process that runs the entry now (host:pid), while it holds the lease"
    )
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="The run is alive until then; its work-horse renews the lease while it works"
    )

    class Meta:
        ordering = ["connection", "description"]
        verbose_name_plural = "job queue entries"
        indexes = [models.Index(fields=["status", "earliest_start_date_time"])]

    def __str__(self) -> str:
        return self.description

    def lease_is_live(self, now: datetime | None = None) -> bool:
        """True while a run holds an unexpired lease on the entry (``lease_expires_at`` after ``now``, UTC).

        The lease, not RQ's view of its worker, decides whether a run is alive: another run of the mapping starts,
        and the dispatcher declares the run dead, only once it expired (BC: table 472 Job Queue Entry keeps the
        running session in "User Session ID"/"User Service Instance ID"; here a renewed expiry replaces the session).
        """
        now = now or timezone.now()
        return self.lease_expires_at is not None and self.lease_expires_at > now

    @classmethod
    def live_lease_of_mapping(
        cls, mapping_id: Any, *, exclude: JobQueueEntry | None = None, now: datetime | None = None
    ) -> JobQueueEntry | None:
        """The entry of integration table mapping ``mapping_id`` (other than ``exclude``) whose run holds a live
        lease now, or None: while one exists no other run of the mapping may start."""
        now = now or timezone.now()
        query = cls.objects.filter(table_mapping_id=mapping_id, lease_expires_at__gt=now)
        if exclude is not None:
            query = query.exclude(pk=exclude.pk)
        return query.first()

    @property
    def is_on_hold(self) -> bool:
        """True for On Hold and On Hold with Inactivity Timeout."""
        return self.status in (self.Status.ON_HOLD, self.Status.ON_HOLD_WITH_INACTIVITY_TIMEOUT)


class JobQueueLogEntry(models.Model):
    """One run of a job queue entry (BC: table 474 "Job Queue Log Entry"); UTC datetimes.

    Written when a worker starts the run and completed when it ends; a run whose worker died is completed by the
    dispatcher's dead-worker check with the reason (``status`` Error).
    """

    class Status(models.TextChoices):
        IN_PROCESS = "InProcess", "In Process"
        SUCCESS = "Success", "Success"
        ERROR = "Error", "Error"

    job_queue_entry = models.ForeignKey(JobQueueEntry, on_delete=models.CASCADE, related_name="log_entries")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.IN_PROCESS)
    attempt = models.PositiveIntegerField(default=1)
    idle = models.BooleanField(default=False,
                               help_text="Nothing inserted, modified, deleted or failed (BC: HaveJobsBeenIdle)")
    records_changed = models.PositiveIntegerField(default=0, help_text="Inserted + modified + deleted + coupled")
    records_failed = models.PositiveIntegerField(default=0)
    error_message = models.TextField(blank=True)
    rq_job_id = models.CharField(max_length=100, blank=True)
    worker_name = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["job_queue_entry", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.job_queue_entry} {self.started_at:%Y-%m-%d %H:%M:%S} {self.status}"


class SynchronizationJob(models.Model):
    """One pass of one mapping in one direction (BC: table 5338 "Integration Synch. Job").

    Written before the first remote call and completed (``finished_at``) after the last; counters count records.
    ``total`` is the number of records counted at the start (for progress), ``processed`` those handled so far.
    """

    class Type(models.TextChoices):
        SYNCHRONIZATION = "Synchronization", "Synchronization"
        COUPLING = "Coupling", "Coupling"
        UNCOUPLING = "Uncoupling", "Uncoupling"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    table_mapping = models.ForeignKey(
        "mappings.IntegrationTableMapping", on_delete=models.CASCADE, related_name="synchronization_jobs"
    )
    job_queue_entry = models.ForeignKey(
        JobQueueEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="synchronization_jobs"
    )
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.SYNCHRONIZATION)
    direction = models.CharField(max_length=20, choices=Direction.choices)
    full_synchronization = models.BooleanField(default=False)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    message = models.TextField(blank=True)
    inserted = models.PositiveIntegerField(default=0)
    modified = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    coupled = models.PositiveIntegerField(default=0)
    already_coupled = models.PositiveIntegerField(
        default=0, help_text="Match-based coupling: records (or their matching rows) coupled before this job"
    )
    uncoupled = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(null=True, blank=True)
    processed = models.PositiveIntegerField(default=0)
    resume_token = models.JSONField(default=dict, blank=True, help_text="Where a resumed pass continues")
    could_not_run = models.BooleanField(
        default=False, help_text="The pass stopped on a connection or configuration problem (message says which)"
    )

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["table_mapping", "-started_at"]),
            # The synchronization log and a job queue entry's log, newest first (keyset pages: started_at, id).
            models.Index(fields=["started_at", "id"], name="synch_job_started"),
            models.Index(fields=["job_queue_entry", "started_at", "id"], name="synch_job_entry_started"),
            # A mapping's jobs of one type, newest first (the coupling log's few coupling jobs among many).
            models.Index(fields=["table_mapping", "type", "started_at"], name="synch_job_mapping_type"),
        ]

    def __str__(self) -> str:
        return f"{self.table_mapping.name} {self.direction} {self.started_at:%Y-%m-%d %H:%M:%S}"

    @property
    def seconds(self) -> float | None:
        """Duration of the pass in seconds (None while it runs)."""
        if self.finished_at is None or self.started_at is None:
            return None
        return max((self.finished_at - self.started_at).total_seconds(), 0.0)

    @property
    def result(self) -> str:
        """"Running", "Failed" (records failed or the pass could not run) or "Success" (for the log filter)."""
        if self.finished_at is None:
            return "Running"
        return "Failed" if self.failed or self.could_not_run else "Success"


class SynchronizationError(models.Model):
    """A per-record failure of a synchronization job (BC: table 5339 "Integration Synch. Job Errors").

    ``conflict`` says whether the failure is an update conflict (both sides changed) or a deletion conflict (the
    coupled record was deleted), which decides the actions the Coupled Data Synchronization Errors page offers.
    """

    class Conflict(models.TextChoices):
        NONE = "", "—"
        UPDATE = "Update", "Update conflict"
        DELETION = "Deletion", "Deletion conflict"

    job = models.ForeignKey(SynchronizationJob, on_delete=models.CASCADE, related_name="errors")
    coupling = models.ForeignKey(
        "mappings.Coupling", null=True, blank=True, on_delete=models.SET_NULL, related_name="synchronization_errors"
    )
    direction = models.CharField(max_length=20, choices=Direction.choices, blank=True)
    conflict = models.CharField(max_length=10, choices=Conflict.choices, blank=True, default=Conflict.NONE)
    source_table = models.CharField(max_length=100, blank=True)
    source_id = models.CharField(max_length=100, blank=True)
    source_name = models.CharField(max_length=250, blank=True)
    destination_table = models.CharField(max_length=100, blank=True)
    destination_id = models.CharField(max_length=100, blank=True)
    field_name = models.CharField(max_length=100, blank=True)
    message = models.TextField()
    fix = models.TextField(blank=True)
    transient = models.BooleanField(default=False)
    exception_detail = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # A coupling's latest error (the skipped records list reads it for each row shown).
        indexes = [models.Index(fields=["coupling", "created_at", "id"], name="synch_error_coupling_latest")]

    def __str__(self) -> str:
        return self.message[:80]


class FullSyncReviewLine(models.Model):
    """One mapping's line of the full synchronization review (BC: table 5373 "CRM Full Synch. Review Line")."""

    class Recommendation(models.TextChoices):
        FULL_SYNCHRONIZATION = "FullSynchronization", "Full Synchronization"
        COUPLE_RECORDS = "CoupleRecords", "Couple Records"
        NO_RECORDS_FOUND = "NoRecordsFound", "No Records To Synchronize Now"

    class JobStatus(models.TextChoices):
        NONE = "", "—"
        SUCCESS = "Success", "Success"
        IN_PROCESS = "InProcess", "In Process"
        ERROR = "Error", "Error"

    connection = models.ForeignKey("connections.ConnectionSetup", on_delete=models.CASCADE, related_name="review_lines")
    table_mapping = models.ForeignKey(
        "mappings.IntegrationTableMapping", on_delete=models.CASCADE, related_name="review_lines"
    )
    name = models.CharField(max_length=20)
    dependency_filter = models.CharField(max_length=250, blank=True)
    direction = models.CharField(max_length=20, choices=Direction.choices)
    recommendation = models.CharField(max_length=30, choices=Recommendation.choices)
    recommendation_overridden = models.BooleanField(default=False)
    job_queue_entry = models.ForeignKey(
        JobQueueEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    job_queue_entry_status = models.CharField(max_length=30, choices=JobQueueEntry.Status.choices, blank=True)
    to_int_table_job = models.ForeignKey(
        SynchronizationJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_int_table_job = models.ForeignKey(
        SynchronizationJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    excluded = models.BooleanField(default=False, help_text="Removed from this run by the administrator")
    created_at = models.DateTimeField(auto_now_add=True)
    bc_record_count = models.PositiveIntegerField(null=True, blank=True, help_text="BC records counted at generation")
    dataverse_record_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="Dataverse rows counted at generation"
    )
    error_message = models.TextField(blank=True, help_text="Why the line could not start or failed")

    class Meta:
        ordering = ["table_mapping__priority", "name"]
        constraints = [models.UniqueConstraint(fields=["connection", "name"], name="review_line_unique_per_connection")]

    def __str__(self) -> str:
        return self.name


from syncjobs.models_alerts import Alert, AlertRule  # noqa: E402, F401  (the alert models of the app)
from syncjobs.models_dry_run import DryRun, DryRunRow  # noqa: E402, F401  (the dry run models of the app)


class MappingErrorCount(models.Model):
    """The sum of ``SynchronizationJob.failed`` over a mapping's synchronization jobs (the Errors column of the
    integration table mappings list), kept with the rows it counts: database triggers on the synchronization job
    table (created by migration ``syncjobs.0007_list_indexes``) add the change of ``failed`` on every insert,
    update and delete, in the same transaction, so the list never sums the log (BC: table 5338 Integration Synch.
    Job, field Failed). Exact, not estimated: a mapping's error count is small and must be right. A mapping
    without a row has 0. Read-only for the portal's code.
    """

    table_mapping = models.OneToOneField("mappings.IntegrationTableMapping", on_delete=models.CASCADE,
                                         primary_key=True, related_name="error_count_row")
    failed = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.table_mapping_id}: {self.failed}"
