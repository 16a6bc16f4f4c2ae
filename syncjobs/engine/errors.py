"""Errors of the synchronization engine and the messages that name the record, the field and the fix.

Reference 6.3 step 5 (BC: '<field> <value> must be coupled'), 6.4 (skipped records), 6.6 (job errors). This project
improves on BC's messages: every per-record message names the record, the field and what the administrator does
about it ("salesperson JO is not coupled to a Dataverse user: couple it under Couple Salespersons").
"""
from __future__ import annotations

from dataclasses import dataclass


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


# Where the administrator couples the records of each referenced table (the pages of the mappings app).
COUPLE_HINTS = {
    "systemuser": "couple it under Couple Salespersons",
    "transactioncurrency": "couple it on the CURRENCY mapping's coupled records page, or run its full synchronization",
}


def not_coupled_failure(
    *, record: str, field_name: str, referenced_table: str, value: str, destination_table: str
) -> RecordFailure:
    """The failure for a foreign key whose referenced record has no coupling (reference 6.3 step 5, 10), e.g.
    "Customer 10000: salesperson JO (field Salesperson Code) is not coupled to a Dataverse user" with the fix
    "couple it under Couple Salespersons; then retry this record".

    ``record`` names the record being synchronized, ``referenced_table`` the BC table of the value (e.g.
    "Salesperson/Purchaser"), ``destination_table`` the Dataverse table a coupled row is needed in.
    """
    label = "salesperson" if referenced_table == "Salesperson/Purchaser" else referenced_table
    target = "a Dataverse user" if destination_table == "systemuser" else f"a {destination_table} row"
    hint = COUPLE_HINTS.get(destination_table) or (
        f"couple it on the coupled records page of the mapping for {referenced_table}, "
        "or synchronize that mapping first"
    )
    return RecordFailure(
        message=f"{record}: {label} {value} (field {field_name}) is not coupled to {target}",
        field_name=field_name,
        fix=f"{hint}; then retry this record",
    )
