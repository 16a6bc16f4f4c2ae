"""Reading in the Business Central emulator: rendering, ``$select``, ``$filter``, ``$orderby``, ``$top``/``$skip``,
``$count``, single-level ``$expand`` and server-driven paging.

Sources: Microsoft Learn "Business Central API (v2.0)", "Using Filter Expressions in OData URIs" and "Server-Driven
Paging in OData Web Services" (at most 20,000 rows a page, ``@odata.nextLink`` with a ``$skiptoken``,
``Prefer: odata.maxpagesize``); OData Version 4.01 Part 2 "URL Conventions" (``/$count`` answers the plain
number).

``$filter`` is evaluated by the evaluator shared with the Dataverse emulator, plus BC's own limitation (Microsoft
Learn "Known limitations with Business Central OData", section "Filters"): ``or`` may combine filters on ONE field
(``city eq 'A' or city eq 'B'``) but not on two (``city eq 'A' or country eq 'B'``), which BC refuses with HTTP 501
``BadRequest_MethodNotImplemented`` "The 'OR' operator is not supported on distinct fields on an OData filter.".
Learn quotes the message; "Troubleshooting OData/API calls" gives the code of ``ODataNotImplementedException``; the
status 501 is not on Learn but is what integrators report from the online service (RFC 9110 section 15.6.2: the
server does not support the functionality). A filter that names an unknown property or does not parse is refused
first (400 ``BadRequest_NotFound``): the query is read before its AL filters are built.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Callable
from typing import Any

from ..httpcore import Response, json_response
from ..odata import ODataError, compile_filter, or_on_distinct_fields, parse_expand, parse_orderby, parse_select
from .al import app_manifest
from .apis import entity_for
from .core import BusinessCentralBase
from .financials import customer_financial_details, customer_statistics
from .schema import BOOL, DATE, DATETIME, DEC, GUID, INT, NAV_SINGLE, STR, Entity
from .state import BC_JSON, BCError, etag

#: Entity sets whose rows are computed from other tables when read (not stored).
DERIVED_SETS = ("integrationInfo", "customerFinancialDetails", "customerStatistics")
#: BC's message for ``or`` across two fields in ``$filter`` (501 ``BadRequest_MethodNotImplemented``; see above).
DISTINCT_FIELDS_OR = "The 'OR' operator is not supported on distinct fields on an OData filter."


def sortable(v: Any) -> tuple[int, Any]:
    return (0, "") if v is None else (1, v)


def prefer_pagesize(text: str | None) -> int | None:
    for part in (text or "").split(","):
        part = part.strip().lower()
        if part.startswith("odata.maxpagesize="):
            try:
                return max(1, int(part.split("=", 1)[1]))
            except ValueError:
                return None
    return None


class QueryMixin(BusinessCentralBase):
    """Rows as the API pages render them."""

    def render(self, ent: Entity, row: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
        out: dict[str, Any] = {"@odata.etag": etag(row["@v"])}
        names = select if select is not None else list(ent.fields)
        const = ent.constants
        for n in names:
            out[n] = const[n] if n in const else row.get(n)
        return out

    def _select(self, ent: Entity, query: dict[str, str]) -> list[str] | None:
        sel = parse_select(query.get("$select"))
        if sel is None:
            return None
        for s in sel:
            if s not in ent.fields:
                raise BCError(400, "BadRequest_NotFound", f"Could not find a property named '{s}' on type "
                              f"'Microsoft.NAV.{ent.entity_type}'.")
        return sel

    def _expand(self, ent: Entity, row: dict[str, Any], company: str | None, query: dict[str, str],
                out: dict[str, Any]) -> None:
        try:
            expands = parse_expand(query.get("$expand"))
        except ODataError as e:
            raise BCError(400, "BadRequest_NotFound", str(e)) from None
        for nav, opts in expands:
            if company is None:
                raise BCError(400, "BadRequest_NotFound", f"Could not find a property named '{nav}'.")
            if nav in ent.parts:
                lent = entity_for(ent.api, ent.parts[nav])
                lines = [r for r in self.table(company, lent.name).values() if r.get("documentId") == row["id"]]
                pred = self._filter(lent, opts.get("$filter"))
                if pred:
                    lines = [r for r in lines if pred(r)]
                lines.sort(key=lambda r: r.get("sequence") or 0)
                out[nav] = [self.render(lent, r, self._select(lent, opts)) for r in lines]
            elif nav in NAV_SINGLE and NAV_SINGLE[nav][0] in ent.fields:
                fk, target = NAV_SINGLE[nav]
                other = self.table(company, target).get(row.get(fk) or "")
                tent = entity_for(ent.api, target)
                out[nav] = None if other is None else self.render(tent, other, self._select(tent, opts))
            else:
                raise BCError(400, "BadRequest_NotFound", f"Could not find a property named '{nav}' on type "
                              f"'Microsoft.NAV.{ent.entity_type}'.")

    def _single(self, ent: Entity, row: dict[str, Any], query: dict[str, str], context: str, company: str | None,
                status: int = 200) -> Response:
        payload = {"@odata.context": context, **self.render(ent, row, self._select(ent, query))}
        self._expand(ent, row, company, query, payload)
        return json_response(status, payload, [("OData-Version", "4.0"), ("ETag", etag(row["@v"]))],
                             content_type=BC_JSON)

    def _filter(self, ent: Entity, text: str | None) -> Callable[[dict[str, Any]], bool] | None:
        if not text:
            return None

        def resolve(name: str) -> tuple[Callable[[dict[str, Any]], Any], str]:
            if name not in ent.fields:
                raise ODataError(f"Could not find a property named '{name}' on type 'Microsoft.NAV.{ent.entity_type}'.")
            kind = {STR: "str", INT: "num", DEC: "num", BOOL: "bool", DATE: "datetime", DATETIME: "datetime",
                    GUID: "guid"}[ent.fields[name]]
            if name in ent.constants:
                value = ent.constants[name]
                return (lambda r: value), kind
            return (lambda r: r.get(name)), kind
        try:
            predicate = compile_filter(text, resolve)
        except ODataError as e:
            raise BCError(400, "BadRequest_NotFound", str(e)) from None
        if or_on_distinct_fields(text):
            raise BCError(501, "BadRequest_MethodNotImplemented", DISTINCT_FIELDS_OR)
        return predicate

    def _rows(self, company: str, ent: Entity) -> list[dict[str, Any]]:
        """The rows behind an entity set. ``customerFinancialDetails`` and the extension's ``customerStatistics`` are
        derived from the documents (:mod:`.financials`). ``integrationInfo`` (the extension's page on table "Company
        Information") is derived: the company information row's SystemId and timestamp, the extension's identity and
        version from its ``app.json`` (AL: NavApp.GetCurrentModuleInfo) and the number of unit groups."""
        if ent.name not in DERIVED_SETS:
            return list(self.table(company, ent.name).values())
        if ent.name == "customerFinancialDetails":
            return customer_financial_details(self, company)
        if ent.name == "customerStatistics":
            return customer_statistics(self, company)
        app = app_manifest()
        groups = len(self.table(company, "unitGroups"))
        return [{"id": r["id"], "companyName": self.state.companies[company]["row"]["name"],
                 "extensionId": app["id"], "extensionName": app["name"], "extensionPublisher": app["publisher"],
                 "extensionVersion": app["version"], "unitGroupCount": groups,
                 "lastModifiedDateTime": r.get("lastModifiedDateTime"), "@v": r["@v"]}
                for r in self.table(company, "companyInformation").values()]

    def _count(self, ent: Entity, rows: list[dict[str, Any]], query: dict[str, str]) -> Response:
        """``{set}/$count``: the number of rows matching ``$filter`` as plain text (OData v4 ``$count`` segment)."""
        pred = self._filter(ent, query.get("$filter"))
        n = sum(1 for r in rows if pred(r)) if pred else len(rows)
        return Response(200, str(n).encode(), [("Content-Type", "text/plain; charset=utf-8"), ("OData-Version", "4.0")])

    def _list(self, ent: Entity, rows: list[dict[str, Any]], query: dict[str, str], context: str, base: str,
              company: str | None) -> Response:
        pred = self._filter(ent, query.get("$filter"))
        if pred:
            rows = [r for r in rows if pred(r)]
        try:
            order = parse_orderby(query.get("$orderby"))
        except ODataError as e:
            raise BCError(400, "BadRequest_NotFound", str(e)) from None
        for o, _d in order:
            if o not in ent.fields:
                raise BCError(400, "BadRequest_NotFound", f"Could not find a property named '{o}'.")
        natural = ent.key_field or ("sequence" if ent.parent else None)
        if natural:
            rows.sort(key=lambda r: ((r.get("documentId") or "") if ent.parent else "", sortable(r.get(natural)),
                                     r["id"]))
        else:
            rows.sort(key=lambda r: r["id"])
        for o, desc in reversed(order):
            rows.sort(key=lambda r, o=o: sortable(r.get(o)), reverse=desc)
        total = len(rows)
        skip = int(query.get("$skip") or 0)
        st = query.get("$skiptoken")
        if st:
            try:
                skip = int(json.loads(base64.urlsafe_b64decode(st.strip("'") + "==")))
            except (ValueError, TypeError):
                raise BCError(400, "BadRequest_InvalidToken", "The skip token is not valid.") from None
        rows = rows[skip:]
        if query.get("$top"):
            rows = rows[: int(query["$top"])]
        prefer = prefer_pagesize(query.get("__prefer__"))
        page = min(prefer or self.settings.bc_max_page_size, self.settings.bc_max_page_size)
        more = len(rows) > page
        rows = rows[:page]
        select = self._select(ent, query)
        value = []
        for r in rows:
            item = self.render(ent, r, select)
            if query.get("$expand"):
                self._expand(ent, r, company, query, item)
            value.append(item)
        payload: dict[str, Any] = {"@odata.context": context}
        if query.get("$count") == "true":
            payload["@odata.count"] = total
        payload["value"] = value
        hdrs = [("OData-Version", "4.0")]
        if prefer:
            hdrs.append(("Preference-Applied", f"odata.maxpagesize={page}"))
        if more:
            tok = base64.urlsafe_b64encode(json.dumps(skip + page).encode()).decode().rstrip("=")
            q = {k: v for k, v in query.items() if k not in ("$skiptoken", "$skip", "__prefer__")}
            if "$top" in q:
                q["$top"] = str(int(q["$top"]) - page)
            q["$skiptoken"] = tok
            url = context.split("$metadata#", 1)[1]
            if url.endswith("/$entity"):
                url = url[:-8]
            payload["@odata.nextLink"] = base + url + "?" + urllib.parse.urlencode(q, quote_via=urllib.parse.quote,
                                                                                   safe="$,'")
        return json_response(200, payload, hdrs,
                             content_type=BC_JSON)
