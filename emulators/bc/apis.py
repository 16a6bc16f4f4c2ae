"""What each API route of the Business Central emulator serves: API v2.0 (:data:`.schema.ENTITIES`) and the
companion extension's custom route (:data:`.custom.CUSTOM`, built from its AL pages), their service documents and
``$metadata`` (Microsoft Learn "Business Central API (v2.0)", "Developing a custom API"; OData CSDL).
"""

from __future__ import annotations

from dataclasses import replace

from .custom import CUSTOM
from .schema import BOOL, DATE, DATETIME, DEC, ENTITIES, GUID, INT, STR, Entity


def _storage(name: str) -> Entity:
    """The fields a stored row of ``name`` carries: those of its v2.0 page and of its custom page together."""
    std, ext = ENTITIES.get(name), CUSTOM.get(name)
    if std is None:
        assert ext is not None
        return ext
    if ext is None:
        return std
    return replace(std, fields={**std.fields, **ext.fields}, defaults={**ext.defaults, **std.defaults})


#: Entity set -> the union of its pages (for seeding and for rows written through either route).
STORAGE: dict[str, Entity] = {n: _storage(n) for n in {*ENTITIES, *CUSTOM}}


def routable(api: str, name: str) -> Entity | None:
    """The entity set ``name`` as served on ``api`` ("v2.0" or "custom"), or ``None`` when that route lacks it (on the
    custom route: when no AL page of the extension declares it)."""
    if api == "custom":
        return CUSTOM.get(name)
    ent = ENTITIES.get(name)
    return ent if ent is not None and name != "companies" else None


def entity_for(api: str, name: str) -> Entity:
    """Like :func:`routable` but falls back to the standard page (for expansions of related records)."""
    return routable(api, name) or ENTITIES[name]


def service_sets(api: str) -> list[Entity]:
    """Entity sets served on ``api`` (the service document lists ``companies`` first)."""
    names = list(CUSTOM) if api == "custom" else [n for n in ENTITIES if n != "companies"]
    return [ENTITIES["companies"], *(e for e in (routable(api, n) for n in names) if e is not None)]


def csdl(api: str) -> str:
    """The CSDL ``$metadata`` document of the entity sets served on ``api`` (bound actions included)."""
    edm = {STR: "Edm.String", INT: "Edm.Int32", DEC: "Edm.Decimal", BOOL: "Edm.Boolean", DATE: "Edm.Date",
           DATETIME: "Edm.DateTimeOffset", GUID: "Edm.Guid"}
    returns = {"integer": "Edm.Int32", "text": "Edm.String", "boolean": "Edm.Boolean", "decimal": "Edm.Decimal"}
    out = ['<?xml version="1.0" encoding="utf-8"?><edmx:Edmx Version="4.0" '
           'xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>'
           '<Schema Namespace="Microsoft.NAV" xmlns="http://docs.oasis-open.org/odata/ns/edm">']
    sets = service_sets(api)
    for e in sets:
        out.append(f'<EntityType Name="{e.entity_type}"><Key><PropertyRef Name="id"/></Key>')
        for f, t in e.fields.items():
            out.append(f'<Property Name="{f}" Type="{edm[t]}"' + (' Nullable="false"' if f == "id" else "") + "/>")
        for nav, target in e.parts.items():
            lt = entity_for(api, target).entity_type
            out.append(f'<NavigationProperty Name="{nav}" Type="Collection(Microsoft.NAV.{lt})" '
                       'ContainsTarget="true"/>')
        if e.name == "companies":
            for other in sets:
                if other.name != "companies":
                    out.append(f'<NavigationProperty Name="{other.name}" '
                               f'Type="Collection(Microsoft.NAV.{other.entity_type})" ContainsTarget="true"/>')
        out.append("</EntityType>")
        for action, result in e.actions.items():
            out.append(f'<Action Name="{action}" IsBound="true"><Parameter Name="bindingParameter" '
                       f'Type="Microsoft.NAV.{e.entity_type}"/>'
                       + (f'<ReturnType Type="{returns.get(result.lower(), "Edm.String")}"/>' if result else "")
                       + "</Action>")
    out.append('<EntityContainer Name="NAV">')
    for e in sets:
        out.append(f'<EntitySet Name="{e.name}" EntityType="Microsoft.NAV.{e.entity_type}"/>')
    out.append("</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>")
    return "".join(out)
