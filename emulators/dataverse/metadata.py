"""Metadata in the Dataverse emulator: the CSDL ``$metadata`` document, ``EntityDefinitions`` (tables,
attributes with their option sets, alternate keys, relationships) with ``$select``/``$filter``/``$expand``.

Sources: Microsoft Learn "Web API service documents" / "Web API EntityType reference" (the CSDL document), "Query
table definitions using the Web API" (``EntityDefinitions``, ``Attributes`` cast to
``Microsoft.Dynamics.CRM.<Type>AttributeMetadata``, ``$expand=OptionSet``/``GlobalOptionSet``, ``Keys``,
``OneToManyRelationships``/``ManyToOneRelationships``/``ManyToManyRelationships``), "EntityMetadata EntityType"
(its ``Privileges``, read with ``$select=Privileges`` or ``$expand=Privileges``), "SecurityPrivilegeMetadata
ComplexType", "AttributeMetadata EntityType" and "Label ComplexType".
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from ..httpcore import Response, json_response
from ..odata import ODataError, compile_filter, parse_expand, parse_key, parse_select
from .core import DataverseBase, DVError, bad, not_supported
from .csdl import csdl
from .schema import MANY_TO_MANY, Col, Table, stable_id, table_schema_name
from .security import privilege_name, table_privilege_types


def label(text: str) -> dict[str, Any]:
    lbl = {"Label": text, "LanguageCode": 1033, "IsManaged": True,
           "MetadataId": str(uuid.uuid5(uuid.NAMESPACE_OID, "label:" + text)), "HasChanged": None}
    return {"LocalizedLabels": [lbl], "UserLocalizedLabel": lbl}


def meta_select(item: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    """Apply ``$select`` to one metadata item, keeping what ``$expand`` names (``Attributes``, ``Keys``,
    ``OptionSet``, ``GlobalOptionSet`` ...) and applying an expansion's own ``$select``
    (``$expand=OptionSet($select=Options)``)."""
    try:
        expands = dict(parse_expand(query.get("$expand")))
    except ODataError as e:
        raise bad(str(e)) from None
    for nav, opts in expands.items():
        sub = item.get(nav)
        if isinstance(sub, dict) and opts.get("$select"):
            item = {**item, nav: meta_select(sub, opts)}
    sel = parse_select(query.get("$select"))
    if sel is None:
        return item
    keep = set(sel) | {"MetadataId", "@odata.type"} | {k for k in item if k in expands}
    return {k: v for k, v in item.items() if k in keep}


def privileges_metadata(t: Table) -> list[dict[str, Any]]:
    """A table's ``EntityMetadata.Privileges`` (Microsoft Learn: "SecurityPrivilegeMetadata ComplexType"): one
    entry per privilege type, named as the emulator's privilege checks name it (``prvReadAccount``); user-owned
    tables have Assign and Share and every depth, organization-owned tables the Global depth only."""
    user_owned = t.ownership == "UserOwned"
    out = []
    for verb in table_privilege_types(t.ownership):
        name = privilege_name(verb, t)
        out.append({"CanBeBasic": user_owned, "CanBeLocal": user_owned, "CanBeDeep": user_owned,
                    "CanBeGlobal": True, "CanBeEntityReference": False, "CanBeParentEntityReference": False,
                    "CanBeRecordFilter": False, "Name": name, "PrivilegeId": stable_id("privilege", name),
                    "PrivilegeType": verb})
    return out


class MetadataMixin(DataverseBase):
    """``$metadata`` and ``EntityDefinitions``."""

    def entity_metadata(self, t: Table) -> dict[str, Any]:
        lbl = label(t.display)
        return {"MetadataId": t.metadata_id, "LogicalName": t.logical, "SchemaName": table_schema_name(t),
                "EntitySetName": t.entity_set, "LogicalCollectionName": t.entity_set,
                "CollectionSchemaName": table_schema_name(t) + "s",
                "PrimaryIdAttribute": t.primary_id, "PrimaryNameAttribute": t.primary_name,
                "PrimaryImageAttribute": None, "ObjectTypeCode": t.object_type_code,
                "OwnershipType": {"UserOwned": "UserOwned", "OrganizationOwned": "OrganizationOwned",
                                  "BusinessOwned": "BusinessOwned"}.get(t.ownership, "None"),
                "ChangeTrackingEnabled": t.change_tracking,
                "CanChangeTrackingBeEnabled": {"Value": True, "CanBeChanged": True,
                                               "ManagedPropertyLogicalName": "canchangetrackingbeenabled"},
                "IsCustomEntity": t.solution is not None, "IsManaged": t.solution is not None,
                "IsActivity": False, "IsIntersect": False, "IsValidForAdvancedFind": True,
                "IsOptimisticConcurrencyEnabled": True, "HasActivities": False, "HasNotes": True,
                "DisplayName": lbl, "DisplayCollectionName": label(t.display + "s"),
                "Description": label(""), "IsLogicalEntity": False, "Privileges": privileges_metadata(t)}

    def attribute_metadata(self, t: Table, c: Col, with_options: bool = False) -> dict[str, Any]:
        odata_type = {"String": "String", "Memo": "Memo", "Integer": "Integer", "BigInt": "BigInt",
                      "Decimal": "Decimal", "Money": "Money", "Double": "Double", "Boolean": "Boolean",
                      "DateTime": "DateTime", "Picklist": "Picklist", "State": "State", "Status": "Status",
                      "Uniqueidentifier": "UniqueIdentifier", "Lookup": "Lookup", "Customer": "Lookup",
                      "Owner": "Lookup", "EntityName": "EntityName"}[c.type]
        d: dict[str, Any] = {
            "@odata.type": f"#Microsoft.Dynamics.CRM.{odata_type}AttributeMetadata",
            "MetadataId": stable_id("attr", t.logical, c.name), "LogicalName": c.name,
            "SchemaName": c.name, "EntityLogicalName": t.logical, "AttributeType": c.type,
            "AttributeTypeName": {"Value": ("UniqueidentifierType" if c.type == "Uniqueidentifier" else
                                            c.type + "Type")},
            "IsPrimaryId": c.name == t.primary_id, "IsPrimaryName": c.name == t.primary_name,
            "IsValidForCreate": c.create and not c.read_only, "IsValidForUpdate": c.update and not c.read_only,
            "IsValidForRead": True, "IsCustomAttribute": c.solution is not None, "AttributeOf": None,
            "IsLogical": False, "IsValidODataAttribute": True,
            "RequiredLevel": {"Value": c.required, "CanBeChanged": c.required != "SystemRequired",
                              "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings"},
            "DisplayName": label(c.name.replace("_", " ").title()), "Description": label(""),
        }
        if c.max_length is not None:
            d["MaxLength"] = c.max_length
        if c.is_lookup:
            d["Targets"] = list(c.targets)
        if c.type == "DateTime":
            d["Format"] = "DateOnly" if c.date_only else "DateAndTime"
            d["DateTimeBehavior"] = {"Value": "DateOnly" if c.date_only else "UserLocal"}
        if c.minimum is not None:
            d["MinValue"] = c.minimum
            d["MaxValue"] = c.maximum
        if with_options and c.options:
            opts = []
            for v, lbl in sorted(self.options_of(t, c).items()) if c.type == "Picklist" else c.options.items():
                o: dict[str, Any] = {"Value": v, "Label": label(lbl)}
                if c.type == "Status":
                    o["State"] = next((s for s, x in t.states.items() if v in x[1]), None)
                if c.type == "State":
                    o["DefaultStatus"] = t.states[v][0]
                opts.append(o)
            d["OptionSet"] = {"MetadataId": stable_id("os", t.logical, c.name), "Name": f"{t.logical}_{c.name}",
                              "IsGlobal": False, "OptionSetType": c.type if c.type != "Picklist" else "Picklist",
                              "Options": opts}
            if c.type == "Picklist":
                d["GlobalOptionSet"] = None  # the integration's picklists use local option sets
        return d

    def relationships(self, t: Table, kind: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if kind == "ManyToManyRelationships":
            for name, (e1, e2) in MANY_TO_MANY.items():
                if t.logical in (e1, e2):
                    out.append({"MetadataId": stable_id("rel", name), "SchemaName": name,
                                "RelationshipType": "ManyToManyRelationship", "Entity1LogicalName": e1,
                                "Entity2LogicalName": e2, "IntersectEntityName": name.split("_")[0],
                                "Entity1NavigationPropertyName": name, "Entity2NavigationPropertyName": name,
                                "Entity1IntersectAttribute": e1 + "id", "Entity2IntersectAttribute": e2 + "id"})
            return out
        pairs: list[tuple[Table, Col, str]] = []
        if kind == "OneToManyRelationships":
            for child, col in self.refs.get(t.logical, []):
                pairs.append((self.tables[child], col, t.logical))
        else:
            for c in t.columns.values():
                for target in c.targets:
                    if target in self.tables:
                        pairs.append((t, c, target))
        for child, col, target in pairs:
            rel = col.rels.get(target, f"{target}_{child.logical}_{col.name}")
            out.append({"MetadataId": stable_id("rel", rel), "SchemaName": rel,
                        "RelationshipType": "OneToManyRelationship",
                        "ReferencedEntity": target, "ReferencedAttribute": target + "id",
                        "ReferencingEntity": child.logical, "ReferencingAttribute": col.name,
                        "ReferencedEntityNavigationPropertyName": rel,
                        "ReferencingEntityNavigationPropertyName": col.navs.get(target, col.name),
                        "IsCustomRelationship": False, "IsValidForAdvancedFind": True,
                        "CascadeConfiguration": {"Assign": "NoCascade", "Share": "NoCascade", "Unshare": "NoCascade",
                                                 "Reparent": "NoCascade", "Merge": "NoCascade",
                                                 "Delete": {"cascade": "Cascade", "restrict": "Restrict"}.get(
                                                     col.on_delete, "RemoveLink")}})
        return out

    # ------------------------------------------------------------------ EntityDefinitions endpoints
    @property
    def _definitions_context(self) -> str:
        return self.base + "$metadata#EntityDefinitions"

    def _visible_tables(self) -> list[Table]:
        return list(self.tables.values())

    def definition_table(self, key: str) -> Table:
        """The table named by an ``EntityDefinitions(<key>)`` segment (MetadataId or ``LogicalName='x'``)."""
        return self._find_entity(self._visible_tables(), parse_key(key, f"EntityDefinitions({key})"))

    def entity_definitions(self, method: str, query: dict[str, str]) -> Response:
        """``GET EntityDefinitions``."""
        if method != "GET":
            raise not_supported()
        visible = self._visible_tables()
        items = [self.entity_metadata(t) for t in visible]
        return self._meta_collection(items, query, self._definitions_context, visible, expand_ok=True)

    def entity_definition(self, method: str, t: Table, query: dict[str, str]) -> Response:
        """``GET EntityDefinitions(<key>)``."""
        if method != "GET":
            raise not_supported()
        item = self._meta_expand(t, self.entity_metadata(t), query)
        return json_response(200, {"@odata.context": self._definitions_context + "/$entity",
                                   **meta_select(item, query)})

    def attribute_definitions(self, t: Table, query: dict[str, str], attribute: str | None, cast: str | None
                              ) -> Response:
        """``EntityDefinitions(<key>)/Attributes[(<key>)][/Microsoft.Dynamics.CRM.<Type>AttributeMetadata]``."""
        with_options = "OptionSet" in (query.get("$expand") or "") or (cast is not None and (
            "Picklist" in cast or "State" in cast or "Status" in cast))
        cols = list(t.columns.values())
        if cast is not None and cast.startswith("Microsoft.Dynamics.CRM."):
            wanted = cast.split(".")[-1].replace("AttributeMetadata", "")
            cols = [c for c in cols if self.attribute_metadata(t, c)["@odata.type"].endswith(
                "." + wanted + "AttributeMetadata")]
        base_ctx = self._definitions_context + f"('{t.metadata_id}')/Attributes"
        if attribute is not None:
            subkey = parse_key(attribute, f"Attributes({attribute})")
            lname = subkey.get("LogicalName") if isinstance(subkey, dict) else None
            match = [c for c in cols if (lname and c.name == lname) or
                     (isinstance(subkey, str) and stable_id("attr", t.logical, c.name) == subkey)]
            if not match:
                raise DVError(404, "0x80040217", f"Could not find attribute {subkey} on entity {t.logical}.")
            item = self.attribute_metadata(t, match[0], with_options)
            return json_response(200, {"@odata.context": base_ctx + "/$entity", **meta_select(item, query)})
        items = [self.attribute_metadata(t, c, with_options) for c in cols]
        return self._meta_collection(items, query, base_ctx, self._visible_tables())

    def key_definitions(self, method: str, t: Table, query: dict[str, str], body: bytes) -> Response:
        """``GET`` (list) or ``POST`` (create) ``EntityDefinitions(<key>)/Keys``."""
        if method == "POST":
            data = self._json(body)
            schema = data.get("SchemaName") if isinstance(data, dict) else None
            attrs = data.get("KeyAttributes") if isinstance(data, dict) else None
            if not schema or not isinstance(attrs, list) or not attrs:
                raise bad("SchemaName and KeyAttributes are required to create an entity key.", "0x80040203")
            k = self.add_key(t, schema, [str(a).lower() for a in attrs])
            url = f"{self.base}EntityDefinitions({t.metadata_id})/Keys({k['MetadataId']})"
            return Response(204, headers=[("OData-Version", "4.0"), ("OData-EntityId", url)])
        items = [dict(k) for k in self.state.keys.get(t.logical, [])]
        return self._meta_collection(items, query, self._definitions_context + f"('{t.metadata_id}')/Keys",
                                     self._visible_tables())

    def relationship_definitions(self, t: Table, kind: str, query: dict[str, str]) -> Response:
        """``EntityDefinitions(<key>)/{OneToMany|ManyToOne|ManyToMany}Relationships``."""
        return self._meta_collection(self.relationships(t, kind), query,
                                     self._definitions_context + f"('{t.metadata_id}')/{kind}", self._visible_tables())

    def _find_entity(self, visible: list[Table], key: Any) -> Table:
        for t in visible:
            if (isinstance(key, dict) and key.get("LogicalName") == t.logical) or \
                    (isinstance(key, str) and key.lower() == t.metadata_id):
                return t
        raise DVError(404, "0x80040217", f"Could not find an entity with key {key}.")

    def _meta_expand(self, t: Table, item: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        for nav, _opts in parse_expand(query.get("$expand")):
            if nav == "Attributes":
                item["Attributes"] = [meta_select(self.attribute_metadata(t, c), _opts)
                                      for c in t.columns.values()]
            elif nav == "Keys":
                item["Keys"] = [dict(k) for k in self.state.keys.get(t.logical, [])]
            elif nav in ("OneToManyRelationships", "ManyToOneRelationships", "ManyToManyRelationships"):
                item[nav] = self.relationships(t, nav)
        return item

    def _meta_collection(self, items: list[dict[str, Any]], query: dict[str, str], context: str,
                         visible: list[Table], expand_ok: bool = False) -> Response:
        aliases = {k: v for k, v in query.items() if k.startswith("@")}
        filt = query.get("$filter")
        if filt:
            def resolve(name: str) -> tuple[Callable[[dict[str, Any]], Any], str]:
                path = name.split("/")

                def g(r: dict[str, Any]) -> Any:
                    v: Any = r
                    for p in path:
                        v = v.get(p) if isinstance(v, dict) else None
                    return v
                return g, "any"
            try:
                pred = compile_filter(filt, resolve, aliases)
            except ODataError as e:
                raise bad(str(e)) from None
            items = [i for i in items if pred(i)]
        if expand_ok and query.get("$expand"):
            by_name = {t.logical: t for t in visible}
            items = [self._meta_expand(by_name[i["LogicalName"]], i, query) for i in items]
        return json_response(200, {"@odata.context": context, "value": [meta_select(i, query) for i in items]})

    def metadata(self, query: dict[str, str]) -> Response:
        annotations = query.get("annotations") == "true"
        ck = (annotations,)
        body = self._metadata_cache.get(ck)
        if body is None:
            body = csdl(list(self.tables.values()), self, annotations).encode("utf-8")
            self._metadata_cache[ck] = body
        return Response(200, body, [("Content-Type", "application/xml"), ("OData-Version", "4.0")])
