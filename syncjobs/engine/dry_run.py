"""Dry runs: the engine's passes run with seams that record instead of writing (improvement on BC, which has no dry
run of a synchronization).

A planned pass (:class:`PlannedToIntegrationPass`, :class:`PlannedFromIntegrationPass`) *is* the real pass — same
reads, decisions (:mod:`syncjobs.engine.decision`), field transfer (:mod:`syncjobs.engine.transfer`), table rules and
id generation — with these seams replaced:

* the writer (:class:`PlannedWriter`) answers "written" without a request; a BC create gets no id from BC, so the
  pending coupling's placeholder id stands for it;
* the coupling store: pending couplings stay on the records (``Pass.insert_couplings`` / ``delete_coupling``),
  results become :class:`PlannedRow` rows for a sink instead of coupling rows, errors and counters; no watermark
  moves, no synchronization job row is saved, no interrupted run is taken over;
* the clients the table rules write through (:class:`ReadOnlyDataverseClient`, :class:`ReadOnlyBusinessCentralClient`)
  read as usual and answer writes without sending them (a product's price list item, a default price list);
* a :class:`CouplingOverlay` carries the couplings planned by earlier passes, keyed like the real couplings
  (connection's BC table, Dataverse table), and the BC codes of planned BC creates. The passes of later mappings
  resolve foreign keys through it (:class:`OverlayResolver`), as the real run resolves them through the couplings the
  earlier mappings created (unit groups -> products -> price list lines, currencies -> accounts); an inbound pass
  leaves out the Dataverse rows the dry run planned to write, as the real run's echo filter leaves out the rows the
  integration user wrote.

What a dry run cannot know is what the services would answer to the writes: a planned Insert that the service would
refuse shows as Insert, and an id Dataverse or BC assigns on create (a unit group's base unit, a BC record's SystemId)
is not known.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from django.utils import timezone

from mappings.matching import MatchCriterion, iter_match_outcomes
from mappings.models import Coupling, CouplingLogEntry, Direction, IntegrationTableMapping
from syncjobs.engine.api import document_line_mappings, pending_business_central_creates
from syncjobs.engine.context import Counters, Item
from syncjobs.engine.decision import Action
from syncjobs.engine.errors import SynchronizationNotPossible
from syncjobs.engine.options import option_field_mapping, picklist_options, same_label
from syncjobs.engine.passes import FromIntegrationPass, Pass, ToIntegrationPass
from syncjobs.engine.passes.failures import decision_failure
from syncjobs.engine.rules.registry import foreign_key_rules
from syncjobs.engine.schema import bc_info
from syncjobs.engine.transfer import Resolver, dataverse_row_value
from syncjobs.engine.writers import Write
from syncjobs.models import SynchronizationJob

TO = Direction.TO_INTEGRATION_TABLE
FROM = Direction.FROM_INTEGRATION_TABLE

#: The planned actions, as stored (``syncjobs.models_dry_run.DryRunRow.Action`` values).
INSERT, MODIFY, UNCHANGED, COUPLE, UNCOUPLE, SKIP, FAIL = (
    "Insert", "Modify", "Unchanged", "Couple", "Uncouple", "Skip", "Fail")


@dataclass
class PlannedRow:
    """One planned action on one record. ``changes`` holds ``(field, old, new)`` with JSON-friendly values."""

    mapping: str
    direction: str
    action: str
    source_table: str
    source_id: str
    source_name: str = ""
    destination_table: str = ""
    destination_id: str = ""
    destination_name: str = ""
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)
    message: str = ""


#: Where planned rows go, one at a time, in the order the real run would take the records.
RowSink = Callable[[PlannedRow], None]


class CouplingOverlay:
    """The couplings, BC codes, option values and Dataverse writes a dry run planned so far, in memory.

    ``pairs``: (BC table, Dataverse table) -> {BC id: Dataverse id}; ``codes``: BC table -> {upper-case code: BC id}
    of planned BC creates; ``options``: (Dataverse table, column) -> {value: label} of planned option values;
    ``written``: Dataverse table -> ids of rows the dry run planned to create or modify. Two ids per planned coupling:
    memory grows as the resolver's own coupling maps do.
    """

    def __init__(self) -> None:
        self.pairs: dict[tuple[str, str], dict[UUID, UUID]] = {}
        self.codes: dict[str, dict[str, UUID]] = {}
        self.options: dict[tuple[str, str], dict[int, str]] = {}
        self.written: dict[str, set[UUID]] = {}

    def couple(self, *, bc_table: str, bc_id: UUID, dataverse_table: str, dataverse_id: UUID, code: str = "") -> None:
        """Plan a coupling (and the BC code of a planned BC create, when given)."""
        self.pairs.setdefault((bc_table, dataverse_table), {})[bc_id] = dataverse_id
        if code:
            self.codes.setdefault(bc_table, {})[code.upper()] = bc_id

    def uncouple(self, *, bc_table: str, bc_id: UUID, dataverse_table: str) -> None:
        """Forget a planned coupling (Uncouple)."""
        self.pairs.get((bc_table, dataverse_table), {}).pop(bc_id, None)


class OverlayResolver(Resolver):
    """The engine's foreign key resolver, seeing the couplings, codes and option values planned by a dry run besides
    the real ones (see :class:`syncjobs.engine.transfer.Resolver`)."""

    def __init__(self, *, overlay: CouplingOverlay, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.overlay = overlay

    def _coupling_maps(self, bc_table: str, dataverse_table: str) -> tuple[dict[UUID, UUID], dict[UUID, UUID]]:
        key = (bc_table, dataverse_table)
        fresh = key not in self._couplings
        forward, backward = super()._coupling_maps(bc_table, dataverse_table)
        if fresh:
            for bc_id, dataverse_id in self.overlay.pairs.get(key, {}).items():
                forward[bc_id] = dataverse_id
                backward[dataverse_id] = bc_id
        return forward, backward

    def _code_maps(self, bc_table: str) -> tuple[dict[str, UUID], dict[UUID, str]]:
        fresh = bc_table not in self._codes
        by_code, by_id = super()._code_maps(bc_table)
        if fresh:
            for code, bc_id in self.overlay.codes.get(bc_table, {}).items():
                by_code.setdefault(code, bc_id)
                by_id.setdefault(bc_id, code)
        return by_code, by_id

    def picklist_options(self, table: str, column: str) -> dict[int, str]:
        options = super().picklist_options(table, column)
        for value, label in self.overlay.options.get((table, column), {}).items():
            options.setdefault(value, label)
        return options


class ReadOnlyDataverseClient:
    """A DataverseClient that reads through the real client and answers writes without sending them: creates return
    a new id, bulk messages and updates nothing; an action other than a read (``execute`` with a payload) is
    refused with SynchronizationNotPossible, since its answer cannot be made up."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def create(self, entity_set: str, data: dict[str, Any], **_: Any) -> UUID:
        return uuid.uuid4()

    def create_multiple(self, logical_name: str, rows: list[dict[str, Any]]) -> list[UUID]:
        return [uuid.uuid4() for _ in rows]

    def update(self, *_: Any, **__: Any) -> None:
        return None

    upsert = delete = update_multiple = upsert_multiple = associate = disassociate = update

    def write_in_changesets(self, *_: Any, **__: Any) -> list[Any]:
        return []

    def execute(self, action_or_function: str, payload: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        if payload is None:
            return self._client.execute(action_or_function, **kwargs)
        raise SynchronizationNotPossible(f"A dry run cannot call the Dataverse action {action_or_function}.")

    def batch(self, *_: Any, **__: Any) -> Any:
        raise SynchronizationNotPossible("A dry run cannot send a Dataverse $batch request.")


class ReadOnlyBusinessCentralClient:
    """A BusinessCentralClient that reads through the real client and answers writes without sending them (a
    create returns the body with a new id, a ``$batch`` a 200 per operation)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def create(self, entity_set: str, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {**data, "id": str(uuid.uuid4())}

    def update(self, entity_set: str, id: Any, data: dict[str, Any], **_: Any) -> dict[str, Any]:  # noqa: A002
        return {**data, "id": str(id)}

    def delete(self, *_: Any, **__: Any) -> None:
        return None

    def batch(self, operations: list[dict[str, Any]], **_: Any) -> list[dict[str, Any]]:
        return [{"id": str(i), "status": 200, "headers": {}, "body": {}, "error": None}
                for i, _ in enumerate(operations)]


class PlannedWriter:
    """The writer of a planned pass: every write "succeeds" without a request (see the module docstring)."""

    requests = 0

    def write(self, items: list[Write]) -> list[None]:
        """Returns ``None`` (written) for every item."""
        return [None] * len(items)


def _plain(value: Any) -> Any:
    """A value as JSON can hold it (ids, dates and decimals as text)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _name(row: dict[str, Any] | None, *properties: str) -> str:
    for prop in properties:
        value = (row or {}).get(prop) if prop else None
        if value not in (None, "") and not isinstance(value, dict | list):
            return str(value)[:250]
    return ""


class PlanningPass(Pass):
    """The seams of a planned pass (see the module docstring); mixed in before the real pass class.

    ``plan`` is the :class:`DryRunPlan` the rows go to and the overlay comes from.
    """

    def __init__(self, *, plan: DryRunPlan, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.resolver = OverlayResolver(overlay=plan.overlay, connection=self.connection, bc_client=self.bc_client,
                                        dv_client=self.dv_client, keys=foreign_key_rules(self.connection))

    # -- nothing of the job is saved, no watermark moves, no interrupted run is taken over -------------------------
    def _start_job(self) -> SynchronizationJob:
        self.job = SynchronizationJob(table_mapping=self.mapping, direction=self.direction,
                                      full_synchronization=self.full, started_at=timezone.now())
        return self.job

    def _save_job(self, *fields: str) -> None:
        return None

    def _commit_counters(self, processed: int, resume: dict[str, Any] | None) -> None:
        self.ctx.counters = Counters()

    def _take_over_interrupted(self) -> dict[str, Any]:
        return {}

    def _advance_watermark(self, started: datetime) -> None:
        return None

    # -- the coupling store and the writer -------------------------------------------------------------------------
    def insert_couplings(self, couplings: list[Coupling]) -> None:
        return None

    def delete_coupling(self, coupling: Coupling) -> None:
        return None

    def writer(self) -> PlannedWriter:
        return PlannedWriter()

    def couplings_for(self, ids: list[UUID]) -> dict[UUID, Coupling]:
        """The real couplings of ``ids``, and the planned ones of this table pair for those without one."""
        found = super().couplings_for(ids)
        planned = self.plan.overlay.pairs.get((self.mapping.table, self.mapping.integration_table), {})
        if not planned:
            return found
        by_source = planned if self.direction == TO else {dv: bc for bc, dv in planned.items()}
        for source_id in ids:
            other = by_source.get(source_id)
            if source_id in found or other is None:
                continue
            bc_id, dataverse_id = (source_id, other) if self.direction == TO else (other, source_id)
            found[source_id] = Coupling(connection=self.connection, bc_table=self.mapping.table, bc_id=bc_id,
                                        dataverse_table=self.mapping.integration_table, dataverse_id=dataverse_id)
        return found

    def select(self, row: dict[str, Any]) -> bool:
        if self.direction == FROM and self.source_id(row) in self.plan.overlay.written.get(self.dv.logical_name, ()):
            return False  # the real run wrote it as the integration user: its echo filter leaves it out
        return super().select(row)

    # -- results become planned rows -------------------------------------------------------------------------------
    def record_results(self, items: list[Item]) -> None:
        """One :class:`PlannedRow` per record the real run would count (Ignore is not counted; a Skip or Unchanged
        re-read in the overlap window neither), and the planned couplings into the overlay."""
        for item in items:
            action = item.action
            if action == Action.IGNORE:
                continue
            if action in (Action.SKIP, Action.UNCHANGED) and self._overlap_echo(item) and not self.force:
                continue
            if action == Action.SKIP:
                self.plan.add(self._row(item, SKIP, message=item.reason))
            elif action == Action.REMOVE_COUPLING:
                if item.coupling is not None:
                    self.plan.overlay.uncouple(bc_table=self.mapping.table, bc_id=item.coupling.bc_id,
                                               dataverse_table=self.mapping.integration_table)
                self.plan.add(self._row(item, UNCOUPLE))
            elif action == Action.FAIL:
                self.plan.add(self._row(item, FAIL, message=str(item.failure or decision_failure(item))))
            elif item.coupling is None:
                continue
            elif action == Action.UNCHANGED:
                self.plan.add(self._row(item, UNCHANGED))
            else:
                self._plan_write(item, INSERT if action == Action.INSERT else MODIFY)

    def _plan_write(self, item: Item, action: str) -> None:
        coupling = item.coupling
        assert coupling is not None
        if action == INSERT:
            code = ""
            if self.direction == FROM and item.write is not None:
                code = str(item.write.body.get(self.bc.natural_key) or "") if self.bc.natural_key else ""
            self.plan.overlay.couple(bc_table=self.mapping.table, bc_id=coupling.bc_id,
                                     dataverse_table=self.mapping.integration_table,
                                     dataverse_id=coupling.dataverse_id, code=code)
        if self.direction == TO:
            self.plan.overlay.written.setdefault(self.dv.logical_name, set()).add(coupling.dataverse_id)
        self.plan.add(self._row(item, action, changes=self._changes(item)))

    def _changes(self, item: Item) -> list[tuple[str, Any, Any]]:
        """(field, old, new) of what the write would change: logical Dataverse columns (ToIntegrationTable) or BC
        API properties (FromIntegrationTable)."""
        if item.write is None:
            return []
        updated = item.destination if item.write.kind == "update" else None
        if self.direction == TO:
            new = item.payload
            old = {column: dataverse_row_value(updated, column, self.dv) for column in new} if updated else {}
        else:
            new = item.write.body
            old = updated or {}
        return [(name, _plain(old.get(name)), _plain(value)) for name, value in new.items()
                if not name.endswith("@odata.bind")]

    def _row(self, item: Item, action: str, *, message: str = "",
             changes: list[tuple[str, Any, Any]] | None = None) -> PlannedRow:
        written = {**(item.write.body if item.write is not None else {}), **item.payload}
        destination = {**(item.destination or {}), **written}
        if self.direction == TO:
            source_table, destination_table = self.mapping.table, self.mapping.integration_table
            source_name = _name(item.row, self.bc.name_property, self.bc.natural_key)
            destination_name = _name(destination, self.dv.primary_name)
        else:
            source_table, destination_table = self.mapping.integration_table, self.mapping.table
            source_name = _name(item.row, self.dv.primary_name)
            destination_name = _name(destination, self.bc.name_property, self.bc.natural_key)
        destination_id = ""
        if item.coupling is not None:
            destination_id = str(self.destination_id(item.coupling))
            if self.direction == FROM and item.coupling.is_pending and action in (INSERT, FAIL):
                destination_id = ""  # a placeholder: BC assigns the id on create
        return PlannedRow(mapping=self.mapping.name, direction=self.direction, action=action,
                          source_table=source_table, source_id=str(item.source_id),
                          source_name=source_name or item.label, destination_table=destination_table,
                          destination_id=destination_id, destination_name=destination_name,
                          changes=changes or [], message=message)


class PlannedToIntegrationPass(PlanningPass, ToIntegrationPass):
    """BC -> Dataverse, planned (see :class:`PlanningPass`)."""


class PlannedFromIntegrationPass(PlanningPass, FromIntegrationPass):
    """Dataverse -> BC, planned (see :class:`PlanningPass`)."""


@dataclass
class DryRunPlan:
    """What a dry run carries from mapping to mapping: the read-only clients, the overlay of planned couplings and
    the sink the rows go to (``add``). ``integration_user_id`` is the Dataverse user the real run writes as."""

    bc_client: Any
    dv_client: Any
    sink: RowSink
    integration_user_id: UUID | None = None
    overlay: CouplingOverlay = field(default_factory=CouplingOverlay)

    @classmethod
    def for_clients(cls, *, bc_client: Any, dv_client: Any, sink: RowSink,
                    integration_user_id: UUID | None) -> DryRunPlan:
        """A plan whose clients are read-only wrappers of the real (BusinessCentralClient, DataverseClient)."""
        return cls(bc_client=ReadOnlyBusinessCentralClient(bc_client), dv_client=ReadOnlyDataverseClient(dv_client),
                   sink=sink, integration_user_id=integration_user_id)

    def add(self, row: PlannedRow) -> None:
        """Hand one planned row to the sink."""
        self.sink(row)


def plan_mapping(*, mapping: IntegrationTableMapping, plan: DryRunPlan, full: bool) -> None:
    """Plan what :func:`syncjobs.engine.synchronize_mapping` would do for ``mapping`` (its passes in the same order:
    interrupted BC creates, BC -> Dataverse, Dataverse -> BC, then the line mappings riding along), writing nothing.

    Unlike the real run it takes no lease and is not refused while a run of the mapping holds one (it writes
    nothing). Raises SynchronizationNotPossible when a pass could not run at all (as the real run would).
    """
    if mapping.is_option_mapping:
        plan_option_mapping(mapping=mapping, plan=plan)
        return
    common = {"mapping": mapping, "bc_client": plan.bc_client, "dv_client": plan.dv_client, "plan": plan,
              "integration_user_id": plan.integration_user_id}
    interrupted = pending_business_central_creates(mapping)
    if interrupted and mapping.direction == Direction.BIDIRECTIONAL:
        PlannedFromIntegrationPass(only_source_ids=interrupted, force=False, **common).run()
    for pass_class in (PlannedToIntegrationPass, PlannedFromIntegrationPass):
        if mapping.direction in (Direction.BIDIRECTIONAL, pass_class.direction):
            pass_class(full=full, **common).run()
    for lines in document_line_mappings(mapping):
        plan_mapping(mapping=lines, plan=plan, full=full)


def plan_option_mapping(*, mapping: IntegrationTableMapping, plan: DryRunPlan) -> None:
    """Plan an option-set mapping (:func:`syncjobs.engine.options.synchronize_option_mapping`): a BC code whose
    coupled option still carries it is Unchanged, one matching an option's label is coupled (Couple), any other
    would be added as a new option (Insert; Dataverse assigns its value, so a placeholder value stands for it in the
    overlay). Raises SynchronizationNotPossible when the mapping has no enabled field mapping for its column or a
    side cannot be read."""
    column = mapping.integration_table_uid_field
    field_mapping = option_field_mapping(mapping)
    info = bc_info(mapping.table)
    code_property = info.prop(field_mapping.field_name)
    table = mapping.coupling_dataverse_table
    options = picklist_options(plan.dv_client, mapping.integration_table, column)
    planned = plan.overlay.options.setdefault((mapping.integration_table, column), {})
    couplings = {c.bc_id: c.dataverse_id for c in Coupling.objects.filter(
        connection=mapping.connection, bc_table=mapping.table, dataverse_table=table)}
    for row in plan.bc_client.iter_rows(info.entity_set, select=[info.key, code_property], api=info.api):
        bc_id = UUID(str(row[info.key]))
        code = str(row.get(code_property) or "")
        coupled = couplings.get(bc_id)
        base = {"mapping": mapping.name, "direction": TO, "source_table": mapping.table, "source_id": str(bc_id),
                "source_name": code, "destination_table": f"{mapping.integration_table}.{column}"}
        if coupled is not None and coupled.int in options and same_label(options[coupled.int], code):
            plan.add(PlannedRow(action=UNCHANGED, destination_id=str(coupled.int), destination_name=code, **base))
            continue
        value = next((number for number, label in {**options, **planned}.items() if same_label(label, code)), None)
        if value is None:
            value = max([*options, *planned, 0]) + 1
            planned[value] = code
            plan.add(PlannedRow(action=INSERT, destination_name=code, changes=[("Label", None, code)], **base))
        else:
            plan.add(PlannedRow(action=COUPLE, destination_id=str(value), destination_name=options.get(value, code),
                                **base))
        plan.overlay.couple(bc_table=mapping.table, bc_id=bc_id, dataverse_table=table, dataverse_id=UUID(int=value))


def plan_match_based_coupling(*, mapping: IntegrationTableMapping, criteria: list[MatchCriterion],
                              plan: DryRunPlan) -> Iterator[str]:
    """Plan match-based coupling (:func:`syncjobs.coupling.match_based_coupling_run`): one Couple row per BC record
    that matches exactly one free Dataverse row, the coupling into the overlay; yields every record's outcome
    (``CouplingLogEntry.Outcome`` values) so the caller can decide whether a synchronization follows. Raises
    ValidationError for unusable criteria and the clients' ClientError when a side cannot be read."""
    for outcome in iter_match_outcomes(mapping, criteria, bc=plan.bc_client, dataverse=plan.dv_client):
        if outcome.outcome == CouplingLogEntry.Outcome.COUPLED and outcome.dataverse_id is not None:
            plan.overlay.couple(bc_table=mapping.table, bc_id=outcome.bc_id,
                                dataverse_table=mapping.coupling_dataverse_table, dataverse_id=outcome.dataverse_id)
            plan.add(PlannedRow(mapping=mapping.name, direction=TO, action=COUPLE, source_table=mapping.table,
                                source_id=str(outcome.bc_id), source_name=outcome.bc_name,
                                destination_table=mapping.coupling_dataverse_table,
                                destination_id=str(outcome.dataverse_id), destination_name=outcome.dataverse_name))
        yield outcome.outcome
