"""JSON ``$batch`` in the Business Central emulator.

Sources: OASIS "OData JSON Format Version 4.01", section "Batch Requests and Responses" (``{"requests": [{"id",
"method", "url", "headers", "body"}]}`` answered with ``{"responses": [{"id", "status", "headers", "body"}]}``) and
Microsoft Learn "Using OData transactional $batch requests" and "Working with API limits in Dynamics 365 Business
Central" (at most 100 operations; ``Isolation: snapshot`` makes the batch one transaction: after a failure the
remaining operations answer 424 and nothing is kept).
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from ..httpcore import Headers, Request, Response, json_response, parse_query
from .core import BusinessCentralBase
from .schema import CUSTOM_API
from .state import BCError, clone_state


class BatchMixin(BusinessCentralBase):
    """``POST $batch`` (JSON)."""

    def batch(self, req: Request, api: str, principal: Any) -> Response:
        data = self._json(req.body)
        requests = data.get("requests")
        if not isinstance(requests, list):
            raise BCError(400, "BadRequest", "Invalid Request Body: 'requests' array expected.")
        if len(requests) > self.settings.bc_max_batch:
            raise BCError(400, "BadRequest", f"The batch contains {len(requests)} operations; the maximum is "
                          f"{self.settings.bc_max_batch}.")
        atomic = (req.headers.get("isolation") or "").lower() == "snapshot"
        snapshot = clone_state(self.state) if atomic else None
        env = self.state.environment
        base = self.base_url(env, api)
        responses: list[dict[str, Any]] = []
        failed = False
        for item in requests:
            rid = str(item.get("id", len(responses)))
            if failed and atomic:
                responses.append({"id": rid, "status": 424, "headers": {}, "body": {"error": {
                    "code": "BadRequest", "message": "The request was not executed because an earlier request in "
                    "the snapshot batch failed."}}})
                continue
            url = str(item.get("url", ""))
            if "://" in url:
                url = urllib.parse.urlsplit(url).path + ("?" + urllib.parse.urlsplit(url).query
                                                         if urllib.parse.urlsplit(url).query else "")
            path, _, raw_q = url.partition("?")
            if path.startswith("/"):
                marker = "/api/v2.0/" if api == "v2.0" else "/api/" + "/".join(CUSTOM_API) + "/"
                path = path.split(marker, 1)[-1]
            hdrs = Headers(list((item.get("headers") or {}).items()))
            q = parse_query(raw_q)
            if hdrs.get("company") and "company" not in q:
                q["company"] = hdrs.get("company") or ""
            if hdrs.get("prefer"):
                q["__prefer__"] = hdrs.get("prefer") or ""
            body = json.dumps(item["body"]).encode() if item.get("body") is not None else b""
            try:
                resp = self.execute(str(item.get("method", "GET")).upper(),
                                    [urllib.parse.unquote(s) for s in path.split("/") if s], q, hdrs, body, api, base)
            except BCError as e:
                resp = self.err(e)
            entry: dict[str, Any] = {"id": rid, "status": resp.status,
                                     "headers": {k.lower(): v for k, v in resp.headers if k.lower() in
                                                 ("etag", "location", "content-type", "odata-version")}}
            if resp.body:
                entry["body"] = json.loads(resp.body)
            responses.append(entry)
            if resp.status >= 400:
                failed = True
        if failed and atomic and snapshot is not None:
            self.state.companies = snapshot.companies
            self.state.counters = snapshot.counters
        return json_response(200, {"responses": responses}, [("OData-Version", "4.0")])
