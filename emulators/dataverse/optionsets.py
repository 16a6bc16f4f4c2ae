"""Local option sets (choices, picklists) in the Dataverse emulator: the current options of a column and the
``InsertOptionValue``/``UpdateOptionValue``/``DeleteOptionValue`` actions.

Sources: Microsoft Learn "Create and update choices (option sets) using the Web API" (new option values start at
the publisher's option value prefix ``CustomizationOptionValuePrefix`` times 10,000), "InsertOptionValue Action",
"UpdateOptionValue Action" and "DeleteOptionValue Action".
Writes of a picklist column are validated against the current option set (out of range: 400 ``0x8004431a``).
"""

from __future__ import annotations

from typing import Any

from ..httpcore import Response, json_response
from .core import OPTION_VALUE_PREFIX, DataverseBase, DVError, bad
from .schema import Col, Table


def label_text(label: Any) -> str | None:
    """The text of a Label complex type (its first non-empty ``LocalizedLabels`` entry), ``None`` when absent."""
    if not isinstance(label, dict):
        return None
    for lbl in label.get("LocalizedLabels") or []:
        if isinstance(lbl, dict) and isinstance(lbl.get("Label"), str) and lbl["Label"].strip():
            return lbl["Label"]
    return None


class OptionSetsMixin(DataverseBase):
    """Option values of picklist columns."""

    def options_of(self, t: Table, c: Col) -> dict[int, str]:
        """The current options {value: label} of a picklist column: the organization's changed option set
        (``InsertOptionValue`` & co.) or the schema's standard options of a fresh org."""
        changed = getattr(self.state, "option_sets", None) or {}
        return changed.get(f"{t.logical}.{c.name}", c.options)

    def option_action(self, name: str, body: Any) -> Response:
        """``InsertOptionValue`` / ``UpdateOptionValue`` / ``DeleteOptionValue`` on a local option set.

        Body: ``EntityLogicalName``, ``AttributeLogicalName``, ``Value`` (Insert: optional; Update/Delete:
        required), ``Label`` ({"LocalizedLabels": [{"Label", "LanguageCode"}]}; Insert/Update), ``MergeLabels``.
        Insert without ``Value`` takes the next free value from the default publisher's option value prefix
        (:data:`OPTION_VALUE_PREFIX` * 10000 = 100000000, as a fresh org's default publisher does); a duplicate
        label is allowed, a duplicate value is 400 ``0x80040203``.  Returns 200 ``{"NewOptionValue": n}`` for
        Insert, 204 for Update/Delete.  Global option sets (``OptionSetName``) are not modelled: 404."""
        if not isinstance(body, dict):
            raise bad("The request body must be a JSON object.", "0x80040203")
        if body.get("OptionSetName"):
            raise DVError(404, "0x80040217", f"Could not find optionset with name {body['OptionSetName']!r}.")
        entity, attribute = body.get("EntityLogicalName"), body.get("AttributeLogicalName")
        if not isinstance(entity, str) or not isinstance(attribute, str) or not entity or not attribute:
            raise bad(f"{name}: EntityLogicalName and AttributeLogicalName are required for a local option set.",
                       "0x80040203")
        t = self.tables.get(entity.lower())
        if t is None:
            raise DVError(404, "0x80040217", f"Could not find entity with name {entity!r}.")
        c = t.columns.get(attribute.lower())
        if c is None:
            raise DVError(404, "0x80040217", f"Could not find attribute {attribute!r} on entity {t.logical}.")
        if c.type != "Picklist" or not c.options:
            raise bad(f"Attribute {c.name!r} of entity {t.logical!r} is of type {c.type}, not a picklist; "
                       f"{name} applies to picklist attributes.", "0x80040203")
        value = body.get("Value")
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or not 0 <= value <= 2147483647):
            raise bad(f"{name}: Value must be an integer between 0 and 2147483647, not {value!r}.", "0x80040203")
        current = dict(self.options_of(t, c))
        label = label_text(body.get("Label"))
        if name == "InsertOptionValue":
            if label is None:
                raise bad("InsertOptionValue: Label with at least one LocalizedLabels entry is required.",
                           "0x80040203")
            if value is None:
                value = OPTION_VALUE_PREFIX * 10000
                while value in current:
                    value += 1
            elif value in current:
                raise bad(f"The value {value} is already used by the option {current[value]!r} of attribute "
                           f"{c.name!r} on entity {t.logical!r}. Option values must be unique within an option "
                           "set.", "0x80040203")
            current[value] = label
        else:
            if value is None:
                raise bad(f"{name}: Value is required.", "0x80040203")
            if value not in current:
                raise DVError(404, "0x80040217", f"The option value {value} was not found in the option set of "
                              f"attribute {c.name!r} on entity {t.logical!r}.")
            if name == "DeleteOptionValue":
                del current[value]
            else:
                if label is None:
                    raise bad("UpdateOptionValue: Label with at least one LocalizedLabels entry is required.",
                               "0x80040203")
                current[value] = label
        if getattr(self.state, "option_sets", None) is None:
            self.state.option_sets = {}
        self.state.option_sets[f"{t.logical}.{c.name}"] = current
        if name == "InsertOptionValue":
            return json_response(200, {"@odata.context": self.base +
                                       "$metadata#Microsoft.Dynamics.CRM.InsertOptionValueResponse",
                                       "NewOptionValue": value})
        return Response(204, headers=[("OData-Version", "4.0")])
