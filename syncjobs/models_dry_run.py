"""Dry runs: what a full synchronization or one mapping's synchronization would do, record by record, before anything
is written (improvement on BC, which has no dry run; its page 5331 "Dataverse Full Synch. Review" only recommends).

A :class:`DryRun` is one request (queued, run on an RQ worker, finished); its :class:`DryRunRow` rows are the planned
actions in the order the real run would take them. Imported by :mod:`syncjobs.models` (its last line), so these are
models of the ``syncjobs`` app.
"""
from __future__ import annotations

from django.db import models

from connections.models import ConnectionSetup
from mappings.models import Direction, IntegrationTableMapping


class DryRun(models.Model):
    """One dry run of a connection's full synchronization (``table_mapping`` empty) or of one mapping.

    ``full`` says whether the mapping's dry run plans a full synchronization (all records, uncoupled ones created) or
    the next scheduled run (from the watermarks). Times are UTC. ``message`` says why it failed, or which review lines
    it left out; ``rows_planned`` counts the rows stored so far (the page shows progress while it runs).
    """

    class Status(models.TextChoices):
        QUEUED = "Queued", "Queued"
        RUNNING = "Running", "Running"
        FINISHED = "Finished", "Finished"
        FAILED = "Failed", "Failed"

    connection = models.ForeignKey(ConnectionSetup, on_delete=models.CASCADE, related_name="dry_runs")
    table_mapping = models.ForeignKey(IntegrationTableMapping, null=True, blank=True, on_delete=models.CASCADE,
                                      related_name="dry_runs", help_text="Empty: the full synchronization")
    full = models.BooleanField(default=True, help_text="Plans a full synchronization (all records)")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    rows_planned = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        what = self.table_mapping.name if self.table_mapping_id and self.table_mapping else "full synchronization"
        return f"Dry run of {what} ({self.created_at:%Y-%m-%d %H:%M:%S} UTC)"

    @property
    def is_done(self) -> bool:
        """Whether the dry run has ended (Finished or Failed)."""
        return self.status in (self.Status.FINISHED, self.Status.FAILED)


class DryRunRow(models.Model):
    """One planned action on one record (BC: codeunit 5345 "Integration Rec. Synch. Invoke" SynchAction, as a dry
    run would take it).

    ``source_*`` is the record read (BC record in a ToIntegrationTable pass, Dataverse row in a FromIntegrationTable
    pass), ``destination_*`` its counterpart when known: the coupled record, the matched row of a Couple, or the id the
    engine generated for a Dataverse Insert (a BC Insert gets its id from BC, so none is shown). ``changes`` lists
    ``[field, old value, new value]`` of a Modify (and the values of an Insert, old value empty); ``message`` is the
    failure (Fail) or the reason (Skip).
    """

    class Action(models.TextChoices):
        INSERT = "Insert", "Insert"
        MODIFY = "Modify", "Modify"
        UNCHANGED = "Unchanged", "Unchanged"
        COUPLE = "Couple", "Couple"
        UNCOUPLE = "Uncouple", "Uncouple"
        SKIP = "Skip", "Skip"
        FAIL = "Fail", "Fail"

    dry_run = models.ForeignKey(DryRun, on_delete=models.CASCADE, related_name="rows")
    sequence = models.PositiveIntegerField()
    mapping_name = models.CharField(max_length=20)
    direction = models.CharField(max_length=20, choices=Direction.choices)
    action = models.CharField(max_length=10, choices=Action.choices)
    source_table = models.CharField(max_length=100, blank=True)
    source_id = models.CharField(max_length=100, blank=True)
    source_name = models.CharField(max_length=250, blank=True)
    destination_table = models.CharField(max_length=100, blank=True)
    destination_id = models.CharField(max_length=100, blank=True)
    destination_name = models.CharField(max_length=250, blank=True)
    changes = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["dry_run", "sequence"]
        constraints = [models.UniqueConstraint(fields=["dry_run", "sequence"], name="dry_run_row_sequence_unique")]
        indexes = [models.Index(fields=["dry_run", "mapping_name", "action"], name="dry_run_row_filter")]

    def __str__(self) -> str:
        return f"{self.mapping_name} {self.action} {self.source_name or self.source_id}"
