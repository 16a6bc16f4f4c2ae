"""Match-based coupling (BC: "Match Based Coupling Criteria" + "Int. Coupling Job Runner").

The criteria live where BC keeps them, on the mapping's integration field mappings (Use For Match-Based Coupling,
Case-Sensitive Matching, Match Priority) and the mapping's flags (Synch. After Match-Based Coupling, Create New in
Case of No Match). Fields with the same priority are matched together; groups are tried in ascending priority.

How a BC record is decided (the preview and the run share :func:`match_outcomes`, so the preview equals the run on the
same data):
* the BC record is already coupled → ``AlreadyCoupled``;
* per priority group: the Dataverse rows (within the integration table filter) whose match columns equal the record's
  values — case-insensitively unless the field is case-sensitive; empty values never match. Exactly one row → coupled
  (or ``AlreadyCoupled`` naming the holder when that row is coupled to another record, including one coupled earlier
  in the same run); several rows → the next group is tried;
* no group gives exactly one row → ``SeveralMatches`` naming the rows when some group found several, else ``NoMatch``.

Dataverse rows are read once per run (id, name and match columns only) and indexed in memory, so a run makes a
fixed number of requests per page instead of one query per BC record.
"""
from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from connections.clients import (
    BusinessCentralClient,
    DataverseClient,
    business_central_client_for,
    dataverse_client_for,
)
from mappings.catalogue import bc_table, dataverse_table
from mappings.models import Coupling, CouplingLogEntry, Direction, IntegrationFieldMapping, IntegrationTableMapping
from mappings.services import couplings_for_mapping

logger = logging.getLogger(__name__)

Outcome = CouplingLogEntry.Outcome
NOT_COMPARABLE_BC_TYPES = {"guid"}


@dataclass(frozen=True)
class MatchCriterion:
    """One match field: the integration field mapping's id, case sensitivity and priority group (>= 0)."""

    field_mapping_id: int
    case_sensitive: bool = False
    priority: int = 0


@dataclass(frozen=True)
class MatchOutcome:
    """What match-based coupling does (or did) with one BC record."""

    bc_id: uuid.UUID
    bc_name: str
    outcome: str
    dataverse_id: uuid.UUID | None = None
    dataverse_name: str = ""
    message: str = ""

    @property
    def outcome_label(self) -> str:
        return Outcome(self.outcome).label


def eligible_field_mappings(mapping: IntegrationTableMapping) -> list[IntegrationFieldMapping]:
    """Field mappings usable for matching (BC: table 5336 Integration Field Mapping, as "Match Based Coupling
    Criteria" offers them: no constant; comparable types — no lookups/GUIDs)."""
    bc_side, dv_side = bc_table(mapping.table), dataverse_table(mapping.integration_table)
    eligible = []
    for field_mapping in mapping.field_mappings.order_by("sequence", "id"):
        if field_mapping.constant_value or not field_mapping.field_name or not field_mapping.integration_field_name:
            continue
        if not bc_side.has_field(field_mapping.field_name):
            continue
        column = dv_side.columns.get(field_mapping.integration_field_name)
        if column is None or column.is_lookup or column.type == "Uniqueidentifier":
            continue
        if bc_side.field(field_mapping.field_name).type in NOT_COMPARABLE_BC_TYPES:
            continue
        eligible.append(field_mapping)
    return eligible


def criteria_from_mapping(mapping: IntegrationTableMapping) -> list[MatchCriterion]:
    """The criteria saved on the mapping's field mappings (Use For Match-Based Coupling set)."""
    return [MatchCriterion(f.pk, f.case_sensitive_matching, f.match_priority)
            for f in mapping.field_mappings.filter(use_for_match_based_coupling=True).order_by("sequence", "id")]


def criteria_check(mapping: IntegrationTableMapping,
                   criteria: list[MatchCriterion]) -> list[list[tuple[Any, Any, bool]]]:
    """Resolve criteria to priority groups of (BCField, DataverseColumn, case_sensitive); raises ValidationError
    when a criterion is unusable."""
    if mapping.is_option_mapping:
        raise ValidationError(f"{mapping.name} maps option values, not rows; couple its values by synchronizing it "
                              "(option values are matched by their label).")
    if mapping.name == "SALESORDER-ORDER" and mapping.direction == Direction.BIDIRECTIONAL:
        raise ValidationError("Match-based coupling is not available for SALESORDER-ORDER with bidirectional sales "
                              "order integration (BC does not offer it either).")
    if not criteria:
        raise ValidationError("Choose at least one field to match on.")
    eligible = {f.pk: f for f in eligible_field_mappings(mapping)}
    bc_side, dv_side = bc_table(mapping.table), dataverse_table(mapping.integration_table)
    groups: dict[int, list[tuple[Any, Any, bool]]] = defaultdict(list)
    for criterion in criteria:
        field_mapping = eligible.get(criterion.field_mapping_id)
        if field_mapping is None:
            raise ValidationError(f"Field mapping {criterion.field_mapping_id} of {mapping.name} cannot be used for "
                                  "matching (constants, lookups and GUID fields are not comparable).")
        if criterion.priority < 0:
            raise ValidationError("Match priority must be 0 or more.")
        groups[criterion.priority].append((bc_side.field(field_mapping.field_name),
                                           dv_side.columns[field_mapping.integration_field_name],
                                           criterion.case_sensitive))
    return [groups[p] for p in sorted(groups)]


def _normalise(value: Any, case_sensitive: bool) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    return text if case_sensitive else text.casefold()


def match_outcomes(mapping: IntegrationTableMapping, criteria: list[MatchCriterion], *,
                   bc: BusinessCentralClient | None = None,
                   dataverse: DataverseClient | None = None) -> list[MatchOutcome]:
    """Decide every BC record of the mapping (within its table filter); writes nothing."""

    groups = criteria_check(mapping, criteria)
    connection = mapping.connection
    bc = bc or business_central_client_for(connection)
    dataverse = dataverse or dataverse_client_for(connection)
    bc_side, dv_side = bc_table(mapping.table), dataverse_table(mapping.integration_table)
    name_property = bc_side.field(bc_side.name_field).api_property
    number_property = bc_side.field(bc_side.number_field).api_property
    dv_columns = sorted({dv_side.primary_id, dv_side.primary_name} | {col.name for g in groups for _, col, _ in g})
    dv_rows = list(dataverse.iter_rows(dv_side.entity_set, select=dv_columns,
                                       filter=mapping.integration_table_filter or None))
    indexes: list[dict[tuple[str, ...], list[dict[str, Any]]]] = []
    for group in groups:
        index: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for row in dv_rows:
            key = tuple(_normalise(row.get(col.name), cs) for _, col, cs in group)
            if None not in key:
                index[key].append(row)  # type: ignore[index]
        indexes.append(index)
    coupled_bc = {c.bc_id: c for c in couplings_for_mapping(mapping)}
    holder_of_row = {c.dataverse_id: c for c in Coupling.objects.filter(
        connection=connection, dataverse_table=mapping.coupling_dataverse_table)}
    bc_properties = sorted({bc_side.key_property, name_property, number_property}
                           | {f.api_property for g in groups for f, _, _ in g})
    outcomes: list[MatchOutcome] = []
    for record in bc.iter_rows(bc_side.entity_set, filter=mapping.table_filter or None, select=bc_properties,
                               api=bc_side.api):
        bc_id = uuid.UUID(str(record[bc_side.key_property]))
        label = " ".join(dict.fromkeys(str(record.get(p) or "") for p in (number_property, name_property))).strip()
        if bc_id in coupled_bc:
            outcomes.append(MatchOutcome(bc_id, label, Outcome.ALREADY_COUPLED, coupled_bc[bc_id].dataverse_id,
                                         message="This record is already coupled."))
            continue
        several: list[dict[str, Any]] = []
        chosen: dict[str, Any] | None = None
        for group, index in zip(groups, indexes, strict=True):
            key = tuple(_normalise(record.get(f.api_property), cs) for f, _, cs in group)
            if None in key:
                continue
            rows = index.get(key, [])  # type: ignore[arg-type]
            if len(rows) == 1:
                chosen = rows[0]
                break
            if len(rows) > 1 and not several:
                several = rows
        if chosen is not None:
            dv_id = uuid.UUID(str(chosen[dv_side.primary_id]))
            dv_name = str(chosen.get(dv_side.primary_name) or "")
            holder = holder_of_row.get(dv_id)
            if holder is not None:
                outcomes.append(MatchOutcome(bc_id, label, Outcome.ALREADY_COUPLED, dv_id, dv_name,
                                             f"The matching row is already coupled to {holder.bc_table} "
                                             f"{holder.bc_id}."))
                continue
            holder_of_row[dv_id] = Coupling(bc_table=mapping.table, bc_id=bc_id)
            outcomes.append(MatchOutcome(bc_id, label, Outcome.COUPLED, dv_id, dv_name))
        elif several:
            names = ", ".join(f"{r.get(dv_side.primary_name) or ''} ({r[dv_side.primary_id]})" for r in several)
            outcomes.append(MatchOutcome(bc_id, label, Outcome.SEVERAL_MATCHES,
                                         message=f"{len(several)} rows match: {names}."))
        else:
            outcomes.append(MatchOutcome(bc_id, label, Outcome.NO_MATCH, message=(
                "No row matches; a counterpart will be created." if mapping.create_new_in_case_of_no_match
                else "No row matches.")))
    return outcomes


def criteria_save(mapping: IntegrationTableMapping, criteria: list[MatchCriterion]) -> None:
    chosen = {c.field_mapping_id: c for c in criteria}
    for field_mapping in mapping.field_mappings.all():
        criterion = chosen.get(field_mapping.pk)
        values = (criterion is not None, bool(criterion and criterion.case_sensitive),
                  criterion.priority if criterion else 0)
        if (field_mapping.use_for_match_based_coupling, field_mapping.case_sensitive_matching,
                field_mapping.match_priority) != values:
            (field_mapping.use_for_match_based_coupling, field_mapping.case_sensitive_matching,
             field_mapping.match_priority) = values
            field_mapping.save(update_fields=["use_for_match_based_coupling", "case_sensitive_matching",
                                              "match_priority"])


def match_based_coupling_preview(*, mapping: IntegrationTableMapping, criteria: list[MatchCriterion],
                                 create_new_if_no_match: bool | None = None) -> list[MatchOutcome]:
    """What match-based coupling would do, record by record, without writing anything (remote reads only).

    Raises ``ValidationError`` for unusable criteria and the clients' ``ClientError`` when a side cannot be read.
    """
    if create_new_if_no_match is not None:
        mapping.create_new_in_case_of_no_match = create_new_if_no_match  # in memory only: the message says so
    return match_outcomes(mapping, criteria)
