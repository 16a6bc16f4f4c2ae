"""``$batch`` in the Dataverse emulator (the multipart body is read and written by :mod:`base.multipart`).

Source: Microsoft Learn "Execute batch operations using the Web API": at most 1,000 requests per batch; a change set
is one transaction (all or nothing) whose requests may refer to earlier ones as ``$<Content-ID>`` (in the URL or an
``@odata.bind`` value); GET is not allowed in a change set; the batch stops at the first failing request unless
``Prefer: odata.continue-on-error``; the answer is 200 with one part per request (a failed change set answers only
its failing request, with that request's own status).
"""

from __future__ import annotations

import json
import urllib.parse
import uuid

from base import multipart

from ..httpcore import Headers, Request, Response, parse_query
from .core import API_PREFIX, Ctx, DataverseBase, Prefer, as_dv_error, bad
from .store import Txn


def _inner_request(part: multipart.RequestPart) -> Request:
    path, _, raw_query = part.url.partition("?")
    return Request(part.method, path, parse_query(raw_query), Headers(list(part.headers.items())), part.body,
                   raw_query)


def _answer(resp: Response, content_id: str | None) -> multipart.ResponsePart:
    return multipart.ResponsePart(resp.status, dict(resp.headers), resp.body, content_id)


class BatchMixin(DataverseBase):
    """``POST $batch``."""

    def batch(self, req: Request, ctx: Ctx) -> Response:
        ctype = req.headers.get("content-type") or ""
        boundary = multipart.boundary_of(ctype)
        if "multipart/mixed" not in ctype.lower() or not boundary:
            raise bad("The batch request must be multipart/mixed with a boundary.", "0x80040203")
        try:
            items = multipart.read_requests(req.body, boundary)
        except multipart.MultipartError as e:
            raise bad(str(e), "0x80040203") from None
        for item in items:
            if isinstance(item, multipart.ChangeSet) and any(p.method == "GET" for p in item.parts):
                raise bad("GET requests are not allowed inside a change set.", "0x80040203")
        total = sum(len(i.parts) if isinstance(i, multipart.ChangeSet) else 1 for i in items)
        if total > self.settings.dv_max_batch:
            raise bad(f"The number of requests in the batch ({total}) exceeds the limit of "
                      f"{self.settings.dv_max_batch}.", "0x80040203")
        answers: list[multipart.ResponsePart | multipart.ChangeSet] = []
        content_ids: dict[str, str] = {}
        for item in items:
            if isinstance(item, multipart.ChangeSet):
                txn = Txn()
                responses: list[tuple[str | None, Response]] = []
                failed: Response | None = None
                for part in item.parts:
                    inner = _inner_request(part)
                    sub = Ctx(ctx.caller_id, ctx.real_caller_id, txn, Prefer.parse(inner.headers.get("prefer")),
                              inner.headers, content_ids)
                    resp = self._run_inner(inner, sub)
                    if resp.status >= 400:
                        failed = resp
                        break
                    if part.content_id:
                        loc = resp.header("OData-EntityId") or resp.header("Location")
                        if loc:
                            content_ids[part.content_id] = loc
                    responses.append((part.content_id, resp))
                if failed is not None:
                    self.store.rollback(txn)
                    self._qcache.clear()
                    answers.append(_answer(failed, None))
                    if not ctx.prefer.continue_on_error:
                        break
                    continue
                answers.append(multipart.ChangeSet(f"changesetresponse_{uuid.uuid4()}",
                                                   [_answer(r, cid) for cid, r in responses]))
            else:
                inner = _inner_request(item)
                sub = Ctx(ctx.caller_id, ctx.real_caller_id, Txn(), Prefer.parse(inner.headers.get("prefer")),
                          inner.headers, content_ids)
                resp = self._run_inner(inner, sub)
                answers.append(_answer(resp, None))
                if resp.status >= 400:
                    self.store.rollback(sub.txn)
                    if not ctx.prefer.continue_on_error:
                        break
        out_boundary = f"batchresponse_{uuid.uuid4()}"
        return Response(200, multipart.encode_responses(out_boundary, answers),
                        [("Content-Type", f"multipart/mixed; boundary={out_boundary}"), ("OData-Version", "4.0")])

    def _run_inner(self, inner: Request, ctx: Ctx) -> Response:
        path = inner.path
        if "://" in path:
            path = urllib.parse.urlsplit(path).path
        rel = path[len(API_PREFIX):] if path.startswith(API_PREFIX) else path.lstrip("/")
        if rel.startswith("$") and rel != "$batch":
            num, _, rest = rel[1:].partition("/")
            if num in ctx.content_ids:
                target = urllib.parse.urlsplit(ctx.content_ids[num]).path
                rel = target[len(API_PREFIX):] + ("/" + rest if rest else "")
        body = inner.body
        if ctx.content_ids and body and b'"$' in body:
            text = body.decode("utf-8")
            for num, url in sorted(ctx.content_ids.items(), key=lambda kv: -len(kv[0])):
                text = text.replace(f'"${num}"', json.dumps(url))
            body = text.encode("utf-8")
        try:
            return self.dispatch(inner.method, rel, inner.query, inner.raw_query, inner.headers, body, ctx)
        except Exception as exc:  # noqa: BLE001 - every failure becomes this part's error response (rolled back)
            return self.error_response(as_dv_error(exc))
