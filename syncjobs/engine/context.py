"""What one pass knows while it runs, handed explicitly to the table rules (:mod:`syncjobs.engine.rules`).

* :class:`PassContext` — the mapping, its connection and direction, both clients, both tables' shapes, the foreign key
  resolver, the integration user, the batch's counters and the rules' per-pass caches;
* :class:`Item` — one source record on its way through a batch;
* :class:`Counters` — the counters a batch adds to its job (BC: table 5338 "Integration Synch. Job", fields Inserted,
  Modified, Deleted, Unchanged, Skipped, Failed, Coupled, Uncoupled).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from connections.clients import BusinessCentralClient, DataverseClient
from connections.models import ConnectionSetup
from mappings.models import Coupling, IntegrationTableMapping
from syncjobs.engine.decision import Action
from syncjobs.engine.errors import RecordFailure
from syncjobs.engine.schema import BCTableInfo, DVTableInfo
from syncjobs.engine.transfer import Resolver
from syncjobs.engine.writers import Write


@dataclass
class Counters:
    """Per-batch counters added to the job when the batch commits."""

    inserted: int = 0
    modified: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    coupled: int = 0
    uncoupled: int = 0


@dataclass
class Item:
    """One source record on its way through a batch.

    ``row`` is the source record as read (BC API properties or Dataverse columns), ``source_id`` its id (BC
    SystemId / Dataverse primary id), ``modified`` its modified-on (UTC; None for BC tables without one), ``label``
    its name in messages ("Item 1000"). ``coupling`` is its coupling (None when uncoupled), ``action`` what the pass
    does with it, ``destination`` the coupled record read from the other side, ``write`` the write built for it and
    ``failure`` why it failed. ``payload`` holds the logical Dataverse payload that was written (BC -> Dataverse),
    ``adopted_key`` the id of an existing Dataverse row a rule chose to update instead of creating one, and
    ``keep_failed_insert`` marks a create that failed before it was sent (it keeps a pending coupling).
    """

    row: dict[str, Any]
    source_id: UUID
    modified: datetime | None
    label: str
    coupling: Coupling | None
    action: Action = Action.IGNORE
    reason: str = ""
    destination: dict[str, Any] | None = None
    write: Write | None = None
    failure: RecordFailure | None = None
    new_coupling: bool = False
    restore: bool = False
    payload: dict[str, Any] = field(default_factory=dict)
    adopted_key: UUID | None = None
    keep_failed_insert: bool = False

    def fail(self, failure: RecordFailure) -> None:
        """Fail the record with ``failure``: nothing of it is written (its write, if any, is dropped)."""
        self.failure = failure
        self.action = Action.FAIL
        self.write = None


@dataclass
class RuleCache:
    """What the table rules read once per pass and reuse for every record of it (all per pass, never shared).

    Keys that are ids in text form are lower-case where noted; every ``None`` means "not read yet".
    """

    #: BC header SystemId (text) -> Dataverse id of the coupled document header (lines ride along with headers).
    header_couplings: dict[str, UUID] | None = None
    #: Dataverse order id (lower-case text) -> BC sales order SystemId, coupled and not archived.
    coupled_orders: dict[str, UUID] | None = None
    #: Dataverse product id -> its default unit (``defaultuomid``), None when it has none.
    product_units: dict[UUID, UUID | None] = field(default_factory=dict)
    #: Dataverse unit group id -> its base unit.
    base_units: dict[UUID, UUID | None] = field(default_factory=dict)
    #: Dataverse unit id -> its name.
    unit_names: dict[UUID, str] = field(default_factory=dict)
    #: (BC owner table "Item"/"Resource", owner number) -> SystemId (text) of its BC unit group.
    unit_groups: dict[tuple[str, str], str] | None = None
    #: "<entity set>:<key>:<value>" -> {key value: value} read from a BC entity set.
    bc_lookups: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: name -> rows read from a BC entity set ("companies", "customers").
    bc_rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: Upper-case contact number -> SystemId of the customer a BC company contact is linked to.
    company_customers: dict[str, UUID] | None = None
    #: Whether the default team was looked up, and the team (None when Dataverse has none).
    default_team_read: bool = False
    default_team: UUID | None = None
    #: The connection's default price list in Dataverse, once ensured.
    price_list_id: UUID | None = None
    #: Dataverse price list id -> {(product id, unit id) (lower-case text): its price list item, or None when a
    #: record of this pass already takes that product and unit}.
    price_list_items: dict[UUID, dict[tuple[str, str], UUID | None]] = field(default_factory=dict)
    #: Dataverse orders set Active before a write that must be submitted again after it.
    orders_to_submit: set[UUID] = field(default_factory=set)
    #: Salesperson codes in BC, with the codes this pass assigned appended.
    salesperson_codes: list[str] | None = None
    #: Whether the connection has a Sales Line <-> salesorderdetail mapping (bi-directional order lines).
    bidirectional_lines: bool | None = None


@dataclass
class PassContext:
    """Everything a table rule may use during one pass, passed to every rule hook.

    ``direction`` is ``Direction.TO_INTEGRATION_TABLE`` (BC -> Dataverse) or ``FROM_INTEGRATION_TABLE``;
    ``integration_user_id`` is the Dataverse systemuserid the engine writes as (None when unknown). ``counters`` are
    the counters of the batch in flight (a rule that deletes records counts them here); ``cache`` holds what rules
    read once per pass.
    """

    mapping: IntegrationTableMapping
    connection: ConnectionSetup
    direction: str
    bc_client: BusinessCentralClient
    dv_client: DataverseClient
    bc: BCTableInfo
    dv: DVTableInfo
    resolver: Resolver
    integration_user_id: UUID | None = None
    counters: Counters = field(default_factory=Counters)
    cache: RuleCache = field(default_factory=RuleCache)
