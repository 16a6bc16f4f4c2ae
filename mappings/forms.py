"""Forms of the mappings pages; validation rules live in ``mappings.services`` and the catalogue."""
from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from connections.models import ConnectionSetup
from mappings.catalogue import BC_TABLES, DATAVERSE_TABLES, bc_table, dataverse_table
from mappings.filter_pane import (
    OPERATORS,
    Condition,
    condition_text,
    filter_build,
    filter_description,
    filter_fields,
    filter_split,
    same_filter,
)
from mappings.matching import MatchCriterion, eligible_field_mappings
from mappings.models import Direction, IntegrationFieldMapping, IntegrationTableMapping
from mappings.services import validate_table_mapping_change

#: The largest match priority: the top of the PositiveIntegerField range on every database Django supports.
MAX_MATCH_PRIORITY = 2**31 - 1


class IntegrationTableMappingForm(forms.ModelForm):
    """The editable settings of an integration table mapping (BC: table 5335 Integration Table Mapping).

    The table filter (BC side) and the integration table filter (Dataverse side) are edited as filter pane rows of
    field caption / operator / value (:mod:`mappings.filter_pane`) plus an "Advanced" OData text for what the rows
    cannot express; on save they are joined into the OData ``$filter`` stored on the mapping. A row's error names
    the filter, the row and the field caption.
    """

    #: (prefix of the pane's fields, model field, side of the filter)
    PANES = (("bc", "table_filter", "bc"), ("dv", "integration_table_filter", "dataverse"))
    #: Empty rows offered after the stored conditions (save and reopen the page for more).
    EMPTY_ROWS = 2

    class Meta:
        model = IntegrationTableMapping
        fields = ["direction", "table_filter", "integration_table_filter", "synch_only_coupled_records",
                  "dependency_filter", "deletion_conflict_resolution", "update_conflict_resolution",
                  "synch_after_bulk_coupling", "create_new_in_case_of_no_match", "disable_event_job_resch"]
        widgets = {"table_filter": forms.TextInput(), "integration_table_filter": forms.TextInput()}
        labels = {"table_filter": "Advanced table filter (OData)",
                  "integration_table_filter": "Advanced integration table filter (OData)"}
        help_texts = {"table_filter": "OData $filter on the BC API properties, joined with the rows above by "
                                      "\"and\"; for what the rows cannot express (\"or\", parentheses).",
                      "integration_table_filter": "OData $filter on Dataverse columns, joined with the rows above "
                                                  "by \"and\"; for what the rows cannot express."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        mapping = self.instance
        self._changes: dict[str, Any] = {}
        self.pane_rows: dict[str, int] = {}
        self._stored = {key: getattr(mapping, key) or "" for _, key, _ in self.PANES}
        for prefix, key, side in self.PANES:
            table = mapping.table if side == "bc" else mapping.integration_table
            try:
                conditions, advanced = filter_split(side, table, getattr(mapping, key) or "")
                fields = filter_fields(side, table)
            except ValidationError:  # a table the catalogue does not know: the advanced text only
                conditions, advanced, fields = [], getattr(mapping, key) or "", []
            self.initial[key] = advanced
            choices = [("", "— field —")] + [(f.name, f.caption) for f in fields]
            self.pane_rows[prefix] = len(conditions) + self.EMPTY_ROWS
            for row in range(self.pane_rows[prefix]):
                condition = conditions[row] if row < len(conditions) else None
                self.fields[f"{prefix}_{row}_field"] = forms.ChoiceField(
                    label=f"Field of row {row + 1}", choices=choices, required=False,
                    initial=condition.field if condition else "")
                self.fields[f"{prefix}_{row}_operator"] = forms.ChoiceField(
                    label=f"Operator of row {row + 1}", choices=list(OPERATORS.items()), required=False,
                    initial=condition.operator if condition else "eq")
                self.fields[f"{prefix}_{row}_value"] = forms.CharField(
                    label=f"Value of row {row + 1}", required=False, strip=False, max_length=250,
                    initial=condition.value if condition else "",
                    widget=forms.TextInput(attrs={"placeholder": "(empty)"}))

    def settings_fields(self) -> list[Any]:
        """The bound fields shown in the settings grid (everything but the two filters and their panes)."""
        hidden = {key for _, key, _ in self.PANES}
        return [self[name] for name in self.Meta.fields if name not in hidden]

    def pane(self, prefix: str) -> dict[str, Any]:
        """One filter pane for the template: its rows (field, operator, value bound fields), the advanced field and
        the OData filter stored on the mapping (shown read-only)."""
        key = dict((p, k) for p, k, _ in self.PANES)[prefix]
        rows = [{"number": row + 1, "field": self[f"{prefix}_{row}_field"],
                 "operator": self[f"{prefix}_{row}_operator"], "value": self[f"{prefix}_{row}_value"]}
                for row in range(self.pane_rows[prefix])]
        return {"prefix": prefix, "rows": rows, "advanced": self[key],
                "stored": self._stored[key]}

    def descriptions(self) -> dict[str, list[str]]:
        """The stored filters in words, for readers without the right to change them: ``{"bc": [...], "dv": [...]}``
        (:func:`mappings.filter_pane.filter_description`)."""
        mapping = self.instance
        return {prefix: filter_description(side, mapping.table if side == "bc" else mapping.integration_table,
                                           self._stored[key]) for prefix, key, side in self.PANES}

    def bc_pane(self) -> dict[str, Any]:
        return self.pane("bc")

    def dv_pane(self) -> dict[str, Any]:
        return self.pane("dv")

    def _build_filters(self, data: dict[str, Any], original: IntegrationTableMapping) -> None:
        """Join each pane's rows and advanced text into its OData filter (in ``data``); errors go to the row's value
        field or to the advanced field."""
        for prefix, key, side in self.PANES:
            table = original.table if side == "bc" else original.integration_table
            conditions: list[Condition] = []
            row_errors = False
            for row in range(self.pane_rows[prefix]):
                field_name = data.get(f"{prefix}_{row}_field") or ""
                if not field_name:
                    continue
                condition = Condition(field_name, data.get(f"{prefix}_{row}_operator") or "eq",
                                      data.get(f"{prefix}_{row}_value") or "")
                try:
                    condition_text(side, table, condition, row=row + 1)
                except ValidationError as exc:
                    self.add_error(f"{prefix}_{row}_value", exc)
                    row_errors = True
                conditions.append(condition)
            if row_errors or key not in data:
                continue
            try:
                built = filter_build(side, table, conditions, data[key] or "")
            except ValidationError as exc:
                self.add_error(key, exc)
                continue
            stored = getattr(original, key) or ""
            data[key] = stored if same_filter(built, stored) else built
            if data[key] != stored:
                self._changes[key] = data[key]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        original = IntegrationTableMapping.objects.get(pk=self.instance.pk)
        self._build_filters(data, original)
        filters = {key for _, key, _ in self.PANES}
        self._changes.update({k: data[k] for k in self.changed_data if k in data and k not in filters
                              and k in self.Meta.fields})
        try:
            validate_table_mapping_change(original, dict(self._changes))
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
        return data

    def changes(self) -> dict[str, Any]:
        """The cleaned values of the settings the user changed (filters: when the joined OData text differs from
        the stored one in more than the order of its conditions)."""
        return dict(self._changes)


class IntegrationFieldMappingForm(forms.ModelForm):
    """One integration field mapping; BC fields and Dataverse columns are chosen from the catalogue."""

    match_priority = forms.IntegerField(min_value=0, max_value=MAX_MATCH_PRIORITY, initial=0, label="Match priority")

    class Meta:
        model = IntegrationFieldMapping
        fields = ["field_name", "integration_field_name", "direction", "constant_value", "validate_field",
                  "validate_integration_table_field", "clear_value_on_failed_sync", "status", "not_null",
                  "transformation_rule", "use_for_match_based_coupling", "case_sensitive_matching", "match_priority"]

    def __init__(self, *args: Any, table_mapping: IntegrationTableMapping, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.table_mapping = table_mapping
        bc_side, dv_side = bc_table(table_mapping.table), dataverse_table(table_mapping.integration_table)
        self.fields["field_name"] = forms.ChoiceField(
            label="BC field", required=False, choices=[("", "— none (constant into Dataverse) —")]
            + [(f.name, f"{f.name} ({f.api_property})") for f in bc_side.fields])
        self.fields["integration_field_name"] = forms.ChoiceField(
            label="Dataverse column", required=False, choices=[("", "— none (constant into BC) —")]
            + [(c, c) for c in sorted(dv_side.columns)])
        if not self.instance.pk:
            self.initial.setdefault("direction", table_mapping.direction)

    def values(self) -> dict[str, Any]:
        return dict(self.cleaned_data)

    def _post_clean(self) -> None:
        # The model's own validation is replaced by the service's rules (reported per field by the view).
        pass


class ConnectionChoiceForm(forms.Form):
    """The connection a new mapping is for (``?connection=<id>``); a malformed or unknown id is a form error."""

    connection = forms.ModelChoiceField(queryset=ConnectionSetup.objects.all(), required=False)

    def chosen(self) -> ConnectionSetup | None:
        """The chosen connection, the first one when none was asked for, ``None`` when there is none. Call after
        :meth:`is_valid` returned True."""
        return self.cleaned_data["connection"] or ConnectionSetup.objects.first()


class NewMappingTablesForm(forms.Form):
    """Step 1 of a new mapping: the table pair from the catalogue."""

    bc_table = forms.ChoiceField(label="BC table", choices=[(n, n) for n in sorted(BC_TABLES)])
    dataverse_table = forms.ChoiceField(label="Dataverse table", choices=[(n, n) for n in sorted(DATAVERSE_TABLES)])


class NewMappingForm(NewMappingTablesForm):
    """Step 2: name, direction, filters, and up to ``ROWS`` field pairs chosen from the two tables' catalogue."""

    ROWS = 8
    name = forms.CharField(max_length=20, help_text="Up to 20 capital letters, e.g. ITEM-CATEGORY")
    direction = forms.ChoiceField(choices=Direction.choices, initial=Direction.BIDIRECTIONAL)
    table_filter = forms.CharField(required=False, help_text="OData $filter on the BC API properties")
    integration_table_filter = forms.CharField(required=False, help_text="OData $filter on Dataverse columns")
    dependency_filter = forms.CharField(required=False, help_text="'|'-separated mapping names")

    def __init__(self, *args: Any, bc_table_name: str, dataverse_table_name: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        bc_side, dv_side = bc_table(bc_table_name), dataverse_table(dataverse_table_name)
        self.initial.update({"bc_table": bc_side.name, "dataverse_table": dv_side.logical_name})
        self.fields["bc_table"].widget = forms.HiddenInput()
        self.fields["dataverse_table"].widget = forms.HiddenInput()
        for row in range(self.ROWS):
            self.fields[f"bc_field_{row}"] = forms.ChoiceField(
                label="BC field", required=False, choices=[("", "—")] + [(f.name, f.name) for f in bc_side.fields])
            self.fields[f"dataverse_column_{row}"] = forms.ChoiceField(
                label="Dataverse column", required=False,
                choices=[("", "—")] + [(c, c) for c in sorted(dv_side.columns) if not dv_side.columns[c].read_only])
            self.fields[f"direction_{row}"] = forms.ChoiceField(label="Direction", choices=Direction.choices,
                                                                initial=Direction.BIDIRECTIONAL)

    def rows(self) -> list[tuple[Any, Any, Any]]:
        return [(self[f"bc_field_{r}"], self[f"dataverse_column_{r}"], self[f"direction_{r}"])
                for r in range(self.ROWS)]

    def field_pairs(self) -> list[tuple[str, str, str]]:
        pairs = []
        for row in range(self.ROWS):
            bc_field = self.cleaned_data.get(f"bc_field_{row}") or ""
            column = self.cleaned_data.get(f"dataverse_column_{row}") or ""
            if bc_field or column:
                pairs.append((bc_field, column, self.cleaned_data[f"direction_{row}"]))
        return pairs


class CouplingForm(forms.Form):
    """Manual coupling: one BC record and one Dataverse row (chosen from the search results)."""

    bc_id = forms.UUIDField(label="BC record")
    dataverse_id = forms.UUIDField(label="Dataverse row")


class MatchCriteriaForm(forms.Form):
    """Match-based coupling criteria (BC: page "Match Based Coupling Criteria"): per eligible field mapping, use /
    case-sensitive / priority."""

    create_new_if_no_match = forms.BooleanField(required=False, label="Create a counterpart when no match is found")
    synch_after = forms.BooleanField(required=False, label="Synchronize newly coupled records right after")

    def __init__(self, *args: Any, table_mapping: IntegrationTableMapping, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.table_mapping = table_mapping
        self.eligible = eligible_field_mappings(table_mapping)
        self.initial.setdefault("create_new_if_no_match", table_mapping.create_new_in_case_of_no_match)
        self.initial.setdefault("synch_after", table_mapping.synch_after_bulk_coupling)
        for fm in self.eligible:
            self.fields[f"use_{fm.pk}"] = forms.BooleanField(required=False, initial=fm.use_for_match_based_coupling)
            self.fields[f"case_{fm.pk}"] = forms.BooleanField(required=False, initial=fm.case_sensitive_matching)
            self.fields[f"priority_{fm.pk}"] = forms.IntegerField(min_value=0, max_value=MAX_MATCH_PRIORITY,
                                                                  initial=fm.match_priority)

    def lines(self) -> list[tuple[IntegrationFieldMapping, Any, Any, Any]]:
        return [(fm, self[f"use_{fm.pk}"], self[f"case_{fm.pk}"], self[f"priority_{fm.pk}"]) for fm in self.eligible]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.eligible and not any(data.get(f"use_{fm.pk}") for fm in self.eligible):
            raise ValidationError("Choose at least one field to match on.")
        return data

    def criteria(self) -> list[MatchCriterion]:
        return [MatchCriterion(fm.pk, bool(self.cleaned_data.get(f"case_{fm.pk}")),
                               int(self.cleaned_data.get(f"priority_{fm.pk}") or 0))
                for fm in self.eligible if self.cleaned_data.get(f"use_{fm.pk}")]
