"""The passes of the synchronization engine: one mapping in one direction (BC: codeunit 5340 "CRM Integration Table
Synch.").

* :mod:`.base` — :class:`Pass`, what both directions share (job row, batches, decisions, results, watermark);
* :mod:`.to_integration` — :class:`ToIntegrationPass`, BC -> Dataverse (SynchNAVTableToCRM);
* :mod:`.from_integration` — :class:`FromIntegrationPass`, Dataverse -> BC (SynchCRMTableToNAV).

The names below are importable from ``syncjobs.engine.passes`` as before the split.
"""
from __future__ import annotations

from syncjobs.engine.context import Counters, Item
from syncjobs.engine.couplings import SAVE_CHUNK, insert_couplings, save_couplings
from syncjobs.engine.odata import odata_datetime, parse_modified
from syncjobs.engine.passes.base import (
    DEFAULT_BATCH_SIZE,
    ID_FILTER_CHUNK,
    OVERLAP_SECONDS,
    READ_PAGE_SIZE_BC,
    READ_PAGE_SIZE_DATAVERSE,
    Pass,
)
from syncjobs.engine.passes.from_integration import FromIntegrationPass
from syncjobs.engine.passes.to_integration import ToIntegrationPass

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "ID_FILTER_CHUNK",
    "OVERLAP_SECONDS",
    "READ_PAGE_SIZE_BC",
    "READ_PAGE_SIZE_DATAVERSE",
    "SAVE_CHUNK",
    "Counters",
    "FromIntegrationPass",
    "Item",
    "Pass",
    "ToIntegrationPass",
    "insert_couplings",
    "odata_datetime",
    "parse_modified",
    "save_couplings",
]
