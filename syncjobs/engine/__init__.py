"""The synchronization engine: one mapping at a time, BC -> Dataverse then Dataverse -> BC.

Public API:

* :func:`synchronize_mapping` — both passes of a mapping as its direction allows (BC: codeunit 5340 "CRM Integration
  Table Synch.", OnRun);
* :func:`synchronize_record` — one coupled record in one direction (BC: codeunit 5330 "CRM Integration Management",
  "Synchronize" on a coupled record);
* :func:`clients_for` — the two clients of a connection setup;
* :class:`ChangeProbe` — a cheap "is there anything to do?" for the scheduler;
* :class:`SynchronizationNotPossible` — a pass could not run at all (connection, configuration).

Inside: :mod:`.passes` (the two directions), :mod:`.decision` (per record), :mod:`.transfer` (fields and foreign
keys), :mod:`.rules` (what particular tables need beyond the field mappings), :mod:`.writers` (batched writes),
:mod:`.options` (option-set mappings), :mod:`.records` (services of the synchronization log pages).
"""
from __future__ import annotations

from syncjobs.engine.api import (
    ChangeProbe,
    clients_for,
    document_line_mappings,
    integration_user_id,
    pending_business_central_creates,
    synchronize_mapping,
    synchronize_record,
)
from syncjobs.engine.errors import RecordFailure, SynchronizationNotPossible

__all__ = [
    "ChangeProbe",
    "RecordFailure",
    "SynchronizationNotPossible",
    "clients_for",
    "document_line_mappings",
    "integration_user_id",
    "pending_business_central_creates",
    "synchronize_mapping",
    "synchronize_record",
]
