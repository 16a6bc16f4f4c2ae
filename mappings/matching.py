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

BC records are decided a page at a time: for each page, the Dataverse rows whose match values equal those of the
page's records are read (id, name and match columns only, up to ``VALUES_PER_QUERY`` values per request) and indexed,
so a run makes a few requests per page instead of one query per record, and its memory does not grow with the number
of records or of candidates (:func:`iter_match_outcomes`).
"""
from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterator
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


#: BC records decided per page; Dataverse candidates are read for one page at a time.
PAGE_SIZE = 500
#: Values per Dataverse ``$filter`` (``col eq 'a' or col eq 'b' ...``), well inside the Web API's URL length limit.
VALUES_PER_QUERY = 100
#: Candidates kept per key: enough to tell one from several and to name a few in the message.
CANDIDATES_KEPT = 5
_QUOTED_TYPES = {"String", "Memo"}
_NUMBER_TYPES = {"Integer", "BigInt", "Decimal", "Money", "Double"}


@dataclass(frozen=True)
class _Candidate:
    id: uuid.UUID
    name: str


def _literal(column: Any, value: Any) -> str | None:
    """The OData literal of a BC value for a Dataverse column, or None when it cannot be filtered on the server."""
    text = str(value).strip()
    if column.type in _QUOTED_TYPES:
        return "'" + text.replace("'", "''") + "'"
    if column.type in _NUMBER_TYPES:
        try:
            float(text)
        except ValueError:
            return None
        return text
    return None


class _PageIndex:
    """Dataverse candidates of one page of BC records for one priority group: key -> (count, first candidates).

    Reads only the rows whose first filterable column equals a value of the page (Dataverse compares strings
    case-insensitively; Microsoft Learn: "Filter rows"), then checks every column of the group locally with the
    group's case sensitivity. A group with no filterable column reads the table once for the whole run instead.
    """

    def __init__(self, group: list[tuple[Any, Any, bool]], dv_side: Any, integration_filter: str | None) -> None:
        self.group = group
        self.dv_side = dv_side
        self.integration_filter = integration_filter
        self.server_column = next((i for i, (_, col, _) in enumerate(group)
                                   if col.type in _QUOTED_TYPES | _NUMBER_TYPES), None)
        self.columns = sorted({dv_side.primary_id, dv_side.primary_name} | {col.name for _, col, _ in group})
        self.keys: dict[tuple[str, ...], tuple[int, list[_Candidate]]] = {}
        self._whole_table_read = False

    def key_of_record(self, record: dict[str, Any]) -> tuple[str, ...] | None:
        key = tuple(_normalise(record.get(f.api_property), cs) for f, _, cs in self.group)
        return None if None in key else key  # type: ignore[return-value]

    def _add(self, row: dict[str, Any]) -> None:
        key = tuple(_normalise(row.get(col.name), cs) for _, col, cs in self.group)
        if None in key:
            return
        count, kept = self.keys.get(key, (0, []))  # type: ignore[arg-type]
        if len(kept) < CANDIDATES_KEPT:
            kept.append(_Candidate(uuid.UUID(str(row[self.dv_side.primary_id])),
                                   str(row.get(self.dv_side.primary_name) or "")))
        self.keys[key] = (count + 1, kept)  # type: ignore[index]

    def load(self, dataverse: DataverseClient, records: list[dict[str, Any]]) -> None:
        """Read the candidates of ``records`` (one page)."""
        if self.server_column is None:
            if not self._whole_table_read:
                for row in dataverse.iter_rows(self.dv_side.entity_set, select=self.columns,
                                               filter=self.integration_filter or None):
                    self._add(row)
                self._whole_table_read = True
            return
        self.keys = {}
        bc_field, column, _ = self.group[self.server_column]
        literals = sorted({lit for r in records if self.key_of_record(r) is not None
                           for lit in [_literal(column, r.get(bc_field.api_property))] if lit is not None})
        for start in range(0, len(literals), VALUES_PER_QUERY):
            chunk = " or ".join(f"{column.name} eq {lit}" for lit in literals[start:start + VALUES_PER_QUERY])
            expression = f"({chunk}) and ({self.integration_filter})" if self.integration_filter else chunk
            for row in dataverse.iter_rows(self.dv_side.entity_set, select=self.columns, filter=expression):
                self._add(row)


def _pages(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    page: list[dict[str, Any]] = []
    for row in rows:
        page.append(row)
        if len(page) >= size:
            yield page
            page = []
    if page:
        yield page


def iter_match_outcomes(mapping: IntegrationTableMapping, criteria: list[MatchCriterion], *,
                        bc: BusinessCentralClient | None = None, dataverse: DataverseClient | None = None,
                        page_size: int = PAGE_SIZE) -> Iterator[MatchOutcome]:
    """Decide every BC record of the mapping (within its table filter), one page of ``page_size`` records at a time;
    writes nothing. Memory stays bounded by the page (the candidates of its records, at most
    ``CANDIDATES_KEPT`` per key) plus one id per row coupled during the run. Raises ``ValidationError`` for unusable
    criteria and the clients' ``ClientError`` when a side cannot be read."""
    groups = criteria_check(mapping, criteria)
    connection = mapping.connection
    bc = bc or business_central_client_for(connection)
    dataverse = dataverse or dataverse_client_for(connection)
    bc_side, dv_side = bc_table(mapping.table), dataverse_table(mapping.integration_table)
    name_property = bc_side.field(bc_side.name_field).api_property
    number_property = bc_side.field(bc_side.number_field).api_property
    indexes = [_PageIndex(group, dv_side, mapping.integration_table_filter) for group in groups]
    coupled_in_run: dict[uuid.UUID, uuid.UUID] = {}  # Dataverse row -> BC record coupled earlier in this run
    bc_properties = sorted({bc_side.key_property, name_property, number_property}
                           | {f.api_property for g in groups for f, _, _ in g})
    records = bc.iter_rows(bc_side.entity_set, filter=mapping.table_filter or None, select=bc_properties,
                           api=bc_side.api)
    for page in _pages(records, page_size):
        page_ids = [uuid.UUID(str(r[bc_side.key_property])) for r in page]
        coupled_bc = {c.bc_id: c.dataverse_id for c in couplings_for_mapping(mapping).filter(bc_id__in=page_ids)}
        undecided = [r for r, i in zip(page, page_ids, strict=True) if i not in coupled_bc]
        for index in indexes:
            index.load(dataverse, undecided)
        chosen_of: dict[uuid.UUID, tuple[_Candidate | None, tuple[int, list[_Candidate]] | None]] = {}
        for record, bc_id in zip(page, page_ids, strict=True):
            if bc_id in coupled_bc:
                continue
            chosen: _Candidate | None = None
            several: tuple[int, list[_Candidate]] | None = None
            for index in indexes:
                key = index.key_of_record(record)
                if key is None:
                    continue
                count, kept = index.keys.get(key, (0, []))
                if count == 1:
                    chosen = kept[0]
                    break
                if count > 1 and several is None:
                    several = (count, kept)
            chosen_of[bc_id] = (chosen, several)
        chosen_ids = [c.id for c, _ in chosen_of.values() if c is not None]
        holders = {c.dataverse_id: c for c in Coupling.objects.filter(
            connection=connection, dataverse_table=mapping.coupling_dataverse_table, dataverse_id__in=chosen_ids)}
        for record, bc_id in zip(page, page_ids, strict=True):
            label = " ".join(dict.fromkeys(str(record.get(p) or "")
                                           for p in (number_property, name_property))).strip()
            if bc_id in coupled_bc:
                yield MatchOutcome(bc_id, label, Outcome.ALREADY_COUPLED, coupled_bc[bc_id],
                                   message="This record is already coupled.")
                continue
            chosen, several = chosen_of[bc_id]
            if chosen is not None:
                holder = holders.get(chosen.id)
                if holder is not None or chosen.id in coupled_in_run:
                    holder_text = (f"{holder.bc_table} {holder.bc_id}" if holder is not None
                                   else f"{mapping.table} {coupled_in_run[chosen.id]}")
                    yield MatchOutcome(bc_id, label, Outcome.ALREADY_COUPLED, chosen.id, chosen.name,
                                       f"The matching row is already coupled to {holder_text}.")
                    continue
                coupled_in_run[chosen.id] = bc_id
                yield MatchOutcome(bc_id, label, Outcome.COUPLED, chosen.id, chosen.name)
            elif several is not None:
                count, kept = several
                names = ", ".join(f"{c.name} ({c.id})" for c in kept)
                more = f" and {count - len(kept)} more" if count > len(kept) else ""
                yield MatchOutcome(bc_id, label, Outcome.SEVERAL_MATCHES, message=f"{count} rows match: {names}{more}.")
            else:
                yield MatchOutcome(bc_id, label, Outcome.NO_MATCH, message=(
                    "No row matches; a counterpart will be created." if mapping.create_new_in_case_of_no_match
                    else "No row matches."))


def match_outcomes(mapping: IntegrationTableMapping, criteria: list[MatchCriterion], *,
                   bc: BusinessCentralClient | None = None,
                   dataverse: DataverseClient | None = None) -> list[MatchOutcome]:
    """:func:`iter_match_outcomes` as a list (the preview page shows them all)."""
    return list(iter_match_outcomes(mapping, criteria, bc=bc, dataverse=dataverse))


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
