"""The list behind the Coupled Data Synchronization Errors page: skipped and failed couplings with their latest
synchronization error, filtered by mapping and error text, and grouped by error (BC: page 5333 "CRM Skipped
Records", which lists them one by one; the filters and the grouping are the portal's own, so that a thousand records
failing for one reason are one line with one Retry).

An error message names its record ("Customer 10000: ..."); grouping replaces the record's name (the error row's
``source_name``) with :data:`RECORD_PLACEHOLDER`, so records that failed for the same reason share one group.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, F, OuterRef, QuerySet, Subquery, TextField, Value
from django.db.models.functions import Replace

from mappings.models import Coupling, IntegrationTableMapping
from syncjobs.engine import records
from syncjobs.models import SynchronizationError

#: What stands for the record's own name in a grouped error message.
RECORD_PLACEHOLDER = "[record]"


@dataclass(frozen=True)
class ErrorGroup:
    """One group of the "group by error" view: the error message with the record's name replaced by
    :data:`RECORD_PLACEHOLDER` ("" for records without an error row), and how many records have it."""

    message: str
    count: int


def skipped_records_annotated(*, mapping: IntegrationTableMapping | None = None, error: str = "",
                              error_group: str | None = None) -> QuerySet[Coupling]:
    """Skipped couplings and couplings whose last run failed (:func:`syncjobs.engine.records.skipped_records`), each
    annotated with its latest error: ``error_message``, ``error_fix``, ``error_source_name``, ``error_conflict``,
    ``error_direction``, ``failed_on`` (UTC) and ``error_group`` (the message with the record's name replaced).

    ``mapping`` keeps the couplings of that mapping's table pair; ``error`` those whose latest message contains the
    text (case-insensitive); ``error_group`` those of exactly that group ("" = records without an error row).
    """
    latest = SynchronizationError.objects.filter(coupling=OuterRef("pk")).order_by("-created_at", "-id")
    couplings = records.skipped_records().annotate(
        error_message=Subquery(latest.values("message")[:1]),
        error_fix=Subquery(latest.values("fix")[:1]),
        error_source_name=Subquery(latest.values("source_name")[:1]),
        error_conflict=Subquery(latest.values("conflict")[:1]),
        error_direction=Subquery(latest.values("direction")[:1]),
        failed_on=Subquery(latest.values("created_at")[:1]),
        error_group=Subquery(latest.annotate(
            group=Replace(F("message"), F("source_name"), Value(RECORD_PLACEHOLDER), output_field=TextField()),
        ).values("group")[:1], output_field=TextField()),
    )
    if mapping is not None:
        couplings = couplings.filter(connection_id=mapping.connection_id, bc_table=mapping.table,
                                     dataverse_table=mapping.coupling_dataverse_table)
    if error.strip():
        couplings = couplings.filter(error_message__icontains=error.strip())
    if error_group is not None:
        couplings = (couplings.filter(error_group=error_group) if error_group
                     else couplings.filter(error_group__isnull=True))
    return couplings


def skipped_record_groups(couplings: QuerySet[Coupling]) -> list[ErrorGroup]:
    """The error groups of an annotated list (:func:`skipped_records_annotated`), largest first, then by message;
    one ``GROUP BY`` query."""
    rows = (couplings.order_by().values("error_group").annotate(records=Count("pk", distinct=True))
            .order_by("-records", "error_group"))
    return [ErrorGroup(row["error_group"] or "", row["records"]) for row in rows]
