"""Errors of the synchronization engine and the messages that name the record, the field and the fix.

BC reports an uncoupled foreign key as '<field> <value> must be coupled' (codeunit 5336 "Integration Record
Synch."), stores per-record errors in table 5339 "Integration Synch. Job Errors" and skips couplings that failed twice
(table 5331 "CRM Integration Record", field Skipped). The messages here go further: every per-record message names
the record, the field and what the administrator does about it ("salesperson JO is not coupled to a Dataverse user:
couple it under Couple Salespersons").
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


class SynchronizationNotPossible(Exception):
    """A pass could not run at all: the connection is disabled or unreachable, or the mapping is not configured
    (no field mappings for the direction, unknown table). Per-record failures never raise this."""


@dataclass
class RecordFailure(Exception):
    """One record could not be synchronized; counted as Failed and stored as a SynchronizationError.

    ``message`` says what went wrong naming the record, ``field_name`` the BC field or Dataverse column involved
    ("" when none), ``fix`` what to do, ``transient`` whether repeating later can succeed (transient failures never
    count towards the two-strike skip rule).
    """

    message: str
    field_name: str = ""
    fix: str = ""
    transient: bool = False
    detail: str = ""
    conflict: str = ""  # SynchronizationError.Conflict value: "", "Update" or "Deletion"

    def __str__(self) -> str:
        return f"{self.message}: {self.fix}" if self.fix else self.message


@dataclass(frozen=True)
class CouplingHints:
    """How the messages about a missing coupling name tables and where they send the administrator, per table
    (supplied by the table rules: ``syncjobs.engine.rules.registry.foreign_key_rules``).

    ``record_labels``: BC table -> the word for one of its records ("salesperson"); ``row_labels``: Dataverse table
    -> the phrase for one of its rows ("a Dataverse user"); ``couple_hints``: Dataverse table -> where to couple a BC
    record to one of its rows; ``reverse_couple_hints``: Dataverse table -> where to couple one of its rows to a BC
    record. Tables without an entry get generic wording.
    """

    record_labels: Mapping[str, str] = field(default_factory=dict)
    row_labels: Mapping[str, str] = field(default_factory=dict)
    couple_hints: Mapping[str, str] = field(default_factory=dict)
    reverse_couple_hints: Mapping[str, str] = field(default_factory=dict)


def not_coupled_failure(
    *, record: str, field_name: str, referenced_table: str, value: str, destination_table: str,
    hints: CouplingHints | None = None,
) -> RecordFailure:
    """The failure for a foreign key whose referenced record has no coupling (BC: '<field> <value> must be coupled'),
    e.g. "Customer 10000: salesperson JO (field Salesperson Code) is not coupled to a Dataverse user" with the fix
    "couple it under Couple Salespersons; then retry this record".

    ``record`` names the record being synchronized, ``referenced_table`` the BC table of the value (e.g.
    "Salesperson/Purchaser"), ``destination_table`` the Dataverse table a coupled row is needed in; ``hints`` words
    the message for particular tables.
    """
    hints = hints or CouplingHints()
    label = hints.record_labels.get(referenced_table, referenced_table)
    target = hints.row_labels.get(destination_table) or f"a {destination_table} row"
    hint = hints.couple_hints.get(destination_table) or (
        f"couple it on the coupled records page of the mapping for {referenced_table}, "
        "or synchronize that mapping first"
    )
    return RecordFailure(
        message=f"{record}: {label} {value} (field {field_name}) is not coupled to {target}",
        field_name=field_name,
        fix=f"{hint}; then retry this record",
    )


def not_coupled_in_business_central_failure(
    *, record: str, column: str, dataverse_id: object, bc_table: str, targets: list[str],
    hints: CouplingHints | None = None,
) -> RecordFailure:
    """The failure for a Dataverse lookup whose row has no coupling to a BC record (Dataverse -> BC), e.g.
    "contact Ann: ownerid 5b1c… is not coupled to a Business Central Salesperson/Purchaser" with the fix "couple the
    user under Couple Salespersons; then retry this record".

    ``column`` is the lookup column, ``dataverse_id`` the row it refers to, ``bc_table`` the BC table it should be
    coupled to ("" when unknown), ``targets`` the lookup's target tables, the one looked in first; ``hints`` words
    the fix for particular tables.
    """
    hints = hints or CouplingHints()
    fix = (hints.reverse_couple_hints.get(targets[0]) if targets else None) or (
        f"couple it on the coupled records page of the mapping for {bc_table or targets[0]}"
    )
    return RecordFailure(
        message=f"{record}: {column} {dataverse_id} is not coupled to a Business Central {bc_table or 'record'}",
        field_name=column,
        fix=fix + "; then retry this record",
    )
