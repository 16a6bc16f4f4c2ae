"""The CSDL ``$metadata`` document of the Dataverse emulator.

Sources: OASIS "OData Common Schema Definition Language (CSDL) XML Representation Version 4.01" and Microsoft Learn
"Web API service documents" / "Web API EntityType reference" (namespace ``Microsoft.Dynamics.CRM``, alias ``mscrm``,
``crmbaseentity``, ``_<lookup>_value`` properties, navigation properties, the ``System`` entity container) and the
Org.OData.Capabilities.V1 ``ChangeTracking`` annotation.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import quoteattr as qa

from .core import OPTION_ACTIONS
from .schema import MANY_TO_MANY, Table

_EDM = {"String": "Edm.String", "Memo": "Edm.String", "EntityName": "Edm.String", "Integer": "Edm.Int32",
        "Picklist": "Edm.Int32", "State": "Edm.Int32", "Status": "Edm.Int32", "BigInt": "Edm.Int64",
        "Decimal": "Edm.Decimal", "Money": "Edm.Decimal", "Double": "Edm.Double", "Boolean": "Edm.Boolean",
        "DateTime": "Edm.DateTimeOffset", "Uniqueidentifier": "Edm.Guid"}


def csdl(tables: list[Table], dv: Any, annotations: bool) -> str:
    """The CSDL XML of ``tables`` as ``dv`` shows them (visible columns, its ``refs``); ``annotations`` adds the
    change-tracking capability annotations (``$metadata?annotations=true``)."""
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">',
           '<edmx:Reference Uri="http://vocabularies.odata.org/OData.Community.Keys.V1.xml">'
           '<edmx:Include Namespace="OData.Community.Keys.V1" Alias="Keys"/></edmx:Reference>',
           '<edmx:Reference Uri="http://docs.oasis-open.org/odata/odata/v4.0/os/vocabularies/'
           'Org.OData.Capabilities.V1.xml"><edmx:Include Namespace="Org.OData.Capabilities.V1" '
           'Alias="Capabilities"/></edmx:Reference>',
           '<edmx:DataServices><Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" '
           'xmlns="http://docs.oasis-open.org/odata/ns/edm">',
           '<EntityType Name="crmbaseentity" Abstract="true"/>']
    names = {t.logical for t in tables}
    for t in tables:
        out.append(f'<EntityType Name="{t.logical}" BaseType="mscrm.crmbaseentity">'
                   f'<Key><PropertyRef Name="{t.primary_id}"/></Key>')
        for c in t.columns.values():
            if c.is_lookup:
                out.append(f'<Property Name="_{c.name}_value" Type="Edm.Guid"/>')
            else:
                typ = "Edm.Date" if c.date_only else _EDM[c.type]
                extra = ' Scale="Variable"' if typ == "Edm.Decimal" else ""
                extra += ' Unicode="false"' if typ == "Edm.String" else ""
                out.append(f'<Property Name="{c.name}" Type="{typ}"{extra}/>')
        for c in t.columns.values():
            for target in c.targets:
                if target not in names:
                    continue
                nav = c.navs.get(target, c.name)
                if c.type == "Owner" and target == "team":
                    continue
                rel = c.rels.get(target, f"{target}_{t.logical}_{c.name}")
                tt = "principal" if c.type == "Owner" else target
                out.append(f'<NavigationProperty Name="{nav}" Type="mscrm.{tt if tt in names else target}" '
                           f'Nullable="false" Partner="{rel}"><ReferentialConstraint Property="_{c.name}_value" '
                           f'ReferencedProperty="{target}id"/></NavigationProperty>')
        for child, col in dv.refs.get(t.logical, []):
            if child in names:
                rel = col.rels.get(t.logical, f"{t.logical}_{child}_{col.name}")
                out.append(f'<NavigationProperty Name="{rel}" Type="Collection(mscrm.{child})" '
                           f'Partner="{col.navs.get(t.logical, col.name)}"/>')
        for rel, (e1, e2) in MANY_TO_MANY.items():
            if t.logical in (e1, e2):
                other = e2 if t.logical == e1 else e1
                out.append(f'<NavigationProperty Name="{rel}" Type="Collection(mscrm.{other})" Partner="{rel}"/>')
        out.append("</EntityType>")
    out.append('<EntityType Name="principal" BaseType="mscrm.crmbaseentity" Abstract="true">'
               '<Property Name="ownerid" Type="Edm.Guid"/></EntityType>')
    out.append('<ComplexType Name="WhoAmIResponse"><Property Name="BusinessUnitId" Type="Edm.Guid" Nullable="false"/>'
               '<Property Name="UserId" Type="Edm.Guid" Nullable="false"/>'
               '<Property Name="OrganizationId" Type="Edm.Guid" Nullable="false"/></ComplexType>')
    out.append('<ComplexType Name="RetrieveVersionResponse">'
               '<Property Name="Version" Type="Edm.String" Unicode="false"/>'
               '</ComplexType>')
    out.append('<ComplexType Name="CreateMultipleResponse"><Property Name="Ids" Type="Collection(Edm.Guid)" '
               'Nullable="false"/></ComplexType>')
    out.append('<ComplexType Name="ImportSolutionAsyncResponse"><Property Name="AsyncOperationId" Type="Edm.Guid"/>'
               '<Property Name="ImportJobKey" Type="Edm.String" Unicode="false"/></ComplexType>')
    out.append('<Function Name="WhoAmI"><ReturnType Type="mscrm.WhoAmIResponse" Nullable="false"/></Function>')
    out.append('<Function Name="RetrieveVersion"><ReturnType Type="mscrm.RetrieveVersionResponse" Nullable="false"/>'
               '</Function>')
    import_params = ('<Parameter Name="OverwriteUnmanagedCustomizations" Type="Edm.Boolean" Nullable="false"/>'
                     '<Parameter Name="PublishWorkflows" Type="Edm.Boolean" Nullable="false"/>'
                     '<Parameter Name="CustomizationFile" Type="Edm.Binary" Nullable="false"/>'
                     '<Parameter Name="ImportJobId" Type="Edm.Guid" Nullable="false"/>')
    out.append(f'<Action Name="ImportSolution">{import_params}</Action>')
    out.append(f'<Action Name="ImportSolutionAsync">{import_params}'
               '<ReturnType Type="mscrm.ImportSolutionAsyncResponse" Nullable="false"/></Action>')
    out.append('<ComplexType Name="LocalizedLabel"><Property Name="Label" Type="Edm.String"/>'
               '<Property Name="LanguageCode" Type="Edm.Int32" Nullable="false"/></ComplexType>'
               '<ComplexType Name="Label"><Property Name="LocalizedLabels" Type="Collection(mscrm.LocalizedLabel)"/>'
               '<Property Name="UserLocalizedLabel" Type="mscrm.LocalizedLabel"/></ComplexType>'
               '<ComplexType Name="InsertOptionValueResponse"><Property Name="NewOptionValue" Type="Edm.Int32" '
               'Nullable="false"/></ComplexType>')
    option_params = ('<Parameter Name="OptionSetName" Type="Edm.String" Unicode="false"/>'
                     '<Parameter Name="AttributeLogicalName" Type="Edm.String" Unicode="false"/>'
                     '<Parameter Name="EntityLogicalName" Type="Edm.String" Unicode="false"/>'
                     '<Parameter Name="Value" Type="Edm.Int32"/>'
                     '<Parameter Name="SolutionUniqueName" Type="Edm.String" Unicode="false"/>')
    label_param = '<Parameter Name="Label" Type="mscrm.Label"/><Parameter Name="Description" Type="mscrm.Label"/>'
    out.append(f'<Action Name="InsertOptionValue">{option_params}{label_param}'
               '<ReturnType Type="mscrm.InsertOptionValueResponse" Nullable="false"/></Action>')
    out.append(f'<Action Name="UpdateOptionValue">{option_params}{label_param}'
               '<Parameter Name="MergeLabels" Type="Edm.Boolean" Nullable="false"/></Action>')
    out.append(f'<Action Name="DeleteOptionValue">{option_params}</Action>')
    for msg in ("CreateMultiple", "UpdateMultiple", "UpsertMultiple"):
        ret = '<ReturnType Type="mscrm.CreateMultipleResponse" Nullable="false"/>' if msg == "CreateMultiple" else ""
        out.append(f'<Action Name="{msg}" IsBound="true"><Parameter Name="entityset" '
                   'Type="Collection(mscrm.crmbaseentity)" Nullable="false"/><Parameter Name="Targets" '
                   f'Type="Collection(mscrm.crmbaseentity)" Nullable="false"/>{ret}</Action>')
    out.append('<EntityContainer Name="System">')
    for t in tables:
        out.append(f"<EntitySet Name={qa(t.entity_set)} EntityType={qa('Microsoft.Dynamics.CRM.' + t.logical)}>")
        for c in t.columns.values():
            for target in c.targets:
                if target in names and not (c.type == "Owner" and target == "team"):
                    out.append(f'<NavigationPropertyBinding Path="{c.navs.get(target, c.name)}" '
                               f'Target="{dv.tables[target].entity_set}"/>')
        if annotations and t.change_tracking:
            out.append('<Annotation Term="Org.OData.Capabilities.V1.ChangeTracking"><Record>'
                       '<PropertyValue Property="Supported" Bool="true"/></Record></Annotation>')
        out.append("</EntitySet>")
    out.append('<FunctionImport Name="WhoAmI" Function="Microsoft.Dynamics.CRM.WhoAmI"/>')
    out.append('<FunctionImport Name="RetrieveVersion" Function="Microsoft.Dynamics.CRM.RetrieveVersion"/>')
    out.append('<ActionImport Name="ImportSolution" Action="Microsoft.Dynamics.CRM.ImportSolution"/>')
    out.append('<ActionImport Name="ImportSolutionAsync" Action="Microsoft.Dynamics.CRM.ImportSolutionAsync"/>')
    for action in OPTION_ACTIONS:
        out.append(f'<ActionImport Name="{action}" Action="Microsoft.Dynamics.CRM.{action}"/>')
    out.append("</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>")
    return "".join(out)
